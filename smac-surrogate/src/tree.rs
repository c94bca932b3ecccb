//! A focused regression-tree learner for the random forest.
//!
//! * Training data are imputed once per forest fit into column-major storage, and every column is
//!   sorted once ([`TrainData`]). A tree's per-feature sample orders are then derived from these
//!   global orders in O(n) by keeping the rows drawn into its bootstrap sample, so no sorting
//!   happens while growing a tree. A bootstrap multiplicity is a row weight (identical to
//!   repeating the row, but about 37% fewer entries to scan and partition).
//! * A node is a contiguous range `[start, end)` in every per-feature order array. After a split
//!   each order array is stably partitioned (left rows first), which keeps every range sorted.
//!   Growing a tree therefore costs O(d · n) per tree level, i.e. O(d · n log n) for a balanced
//!   tree.
//! * Continuous splits minimise the residual sum of squares (equivalently maximise
//!   `S_L²/n_L + S_R²/n_R`) over midpoints between consecutive distinct values; categorical
//!   splits sort the categories present in the node by mean target and scan the prefixes
//!   (Breiman's exact result for squared loss). Categories absent from a node are sent to a
//!   random side, as pyrfr does.
//! * Nodes live in a flat `Vec` of 16-byte nodes; the right child always follows the left one
//!   and categorical left-sets are bitsets in a side table. Prediction pushes a block of rows
//!   through a tree level by level, at most `depth` steps and until no row moves: a leaf points
//!   to itself and tests a sentinel `-inf` column, so the loop needs no leaf test, has no
//!   unpredictable branches and the independent rows of a block overlap their memory latencies.

use rand::Rng;

use crate::{FeatureType, SurrogateError};

/// Nodes whose targets span less than this are not split (pyrfr's `epsilon_purity`).
const EPS_PURITY: f64 = 1e-8;
/// Bit set in [`Node::feature`] for categorical (subset) splits.
const CAT_BIT: u32 = 1 << 31;
/// Added to the mean of `exp(y)` before taking the log in log-y leaves (SMAC3).
const LOG_Y_EPS: f64 = 1e-10;

/// Imputed training data shared by all trees of one forest fit.
#[derive(Debug)]
pub(crate) struct TrainData {
    n: usize,
    d: usize,
    /// Column-major imputed features: `cols[f * n + row]`.
    cols: Vec<f64>,
    /// Raw targets (used for leaf values).
    y: Vec<f64>,
    /// Targets centred at their mean (used for split criteria, limits cancellation).
    yc: Vec<f64>,
    /// Number of categories including the inactive one, or 0 for continuous columns.
    n_cats: Vec<u32>,
    /// Per feature, the rows sorted by value: `sorted[f * n ..(f + 1) * n]`.
    sorted: Vec<u32>,
}

impl TrainData {
    /// Imputes `x`, validates categorical indices and presorts every column.
    pub(crate) fn new(
        x: &ndarray::ArrayView2<f64>,
        y: &ndarray::ArrayView1<f64>,
        types: &[FeatureType],
    ) -> Result<Self, SurrogateError> {
        let (n, d) = x.dim();
        if n > u32::MAX as usize / 2 {
            return Err(SurrogateError::Numerical("too many training rows".into()));
        }
        let mut cols = vec![0.0; n * d];
        for (f, &ty) in types.iter().enumerate() {
            let col = &mut cols[f * n..(f + 1) * n];
            for (row, (c, &v)) in col.iter_mut().zip(x.column(f)).enumerate() {
                *c = crate::impute(v, ty, row, f)?;
            }
        }
        let y: Vec<f64> = y.to_vec();
        let mean = y.iter().sum::<f64>() / n as f64;
        let yc = y.iter().map(|v| v - mean).collect();
        let n_cats = types
            .iter()
            .map(|t| match t {
                FeatureType::Continuous => 0,
                FeatureType::Categorical(k) => *k as u32 + 1,
            })
            .collect();
        let mut sorted = Vec::with_capacity(n * d);
        for f in 0..d {
            let col = &cols[f * n..(f + 1) * n];
            let start = sorted.len();
            sorted.extend(0..n as u32);
            // Stable sort: ties stay in row order, which keeps fits deterministic.
            sorted[start..].sort_by(|&a, &b| col[a as usize].total_cmp(&col[b as usize]));
        }
        Ok(Self { n, d, cols, y, yc, n_cats, sorted })
    }

    /// Number of training rows.
    pub(crate) fn n_rows(&self) -> usize {
        self.n
    }

    #[inline]
    fn col(&self, f: usize) -> &[f64] {
        &self.cols[f * self.n..(f + 1) * self.n]
    }
}

/// Hyperparameters of a single tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TreeParams {
    /// Features examined per split (at least; more if none of them can split the node).
    pub max_features: usize,
    /// Nodes with fewer samples are not split.
    pub min_samples_split: usize,
    /// Each child holds at least this many samples.
    pub min_samples_leaf: usize,
    /// Nodes at this depth (root = 0) become leaves.
    pub max_depth: usize,
    /// Leaf value `ln(mean(exp(y)) + 1e-10)` instead of `mean(y)`.
    pub log_y: bool,
    /// Continuous thresholds drawn at random ([`crate::Splitter::Random`]).
    pub random_splits: bool,
}

/// One node of the flat tree array (16 bytes; the right child is always `left + 1`).
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Split feature (with [`CAT_BIT`] set for categorical splits); `d` (the sentinel column)
    /// for leaves.
    feature: u32,
    /// Index of the left child (the right child follows it); a leaf's own index.
    left: u32,
    /// Leaf: the prediction. Numeric split: the threshold (go left if `x <= value`).
    /// Categorical split: the offset of the left-category bitset in [`Tree::cat_sets`].
    value: f64,
}

/// A read-only view of one tree node; the right child of a split is always `left + 1`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeView<'a> {
    /// A leaf and its prediction.
    Leaf(f64),
    /// Rows with `x[feature] <= threshold` go to `left`, the others to `left + 1`.
    Numeric { feature: usize, threshold: f64, left: usize },
    /// Categories whose bit is set in `left_set` (bit `c % 64` of word `c / 64`) go to `left`.
    Categorical { feature: usize, left_set: &'a [u64], left: usize },
}

/// A fitted regression tree.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    cat_sets: Vec<u64>,
    /// Depth of the deepest leaf (root = 0).
    depth: usize,
}

/// Reusable buffers for growing trees.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    /// Per feature, the distinct rows of the sample in sorted order: `order[f * u..(f + 1) * u]`.
    order: Vec<u32>,
    scratch: Vec<u32>,
    goes_left: Vec<bool>,
    /// Row weights (bootstrap multiplicities).
    weight: Vec<u32>,
    /// Per row: (weight × centred target, weight), packed for the split scan.
    stats: Vec<(f64, f64)>,
    cats: CatScratch,
    features: Vec<usize>,
    stack: Vec<Task>,
}

/// Per-category accumulators for categorical splits (all zero between uses).
#[derive(Debug, Default)]
struct CatScratch {
    sum: Vec<f64>,
    cnt: Vec<u32>,
    touched: Vec<u32>,
    best: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Task {
    node: u32,
    start: usize,
    end: usize,
    depth: usize,
}

/// The best split found so far in a node.
#[derive(Debug, Clone, Copy)]
struct Best {
    score: f64,
    feature: usize,
    /// Threshold for continuous splits (unused for categorical ones).
    threshold: f64,
}

/// Node-level view of the data handed to the split finders.
struct NodeCtx<'a> {
    data: &'a TrainData,
    weight: &'a [u32],
    /// Per row: (weight × centred target, weight).
    stats: &'a [(f64, f64)],
    /// Weighted sample count and weighted centred target sum of the node.
    count: u32,
    sum: f64,
    min_leaf: u32,
}

impl Tree {
    /// Grows a tree on the rows of `data`, row `r` weighted by `counts[r]` (0 = not sampled).
    pub(crate) fn fit<R: Rng>(
        data: &TrainData,
        counts: &[u32],
        params: &TreeParams,
        rng: &mut R,
        ws: &mut Workspace,
    ) -> Tree {
        let (n, d) = (data.n, data.d);
        ws.order.clear();
        for f in 0..d {
            let sorted = &data.sorted[f * n..(f + 1) * n];
            ws.order.extend(sorted.iter().filter(|&&r| counts[r as usize] > 0));
        }
        let u = counts.iter().filter(|&&c| c > 0).count();
        ws.scratch.resize(u, 0);
        ws.goes_left.resize(n, false);
        ws.weight.clear();
        ws.weight.extend_from_slice(counts);
        ws.stats.clear();
        ws.stats.extend(counts.iter().zip(&data.yc).map(|(&c, &y)| (c as f64 * y, c as f64)));
        let max_k = data.n_cats.iter().copied().max().unwrap_or(0) as usize;
        ws.cats.sum.clear();
        ws.cats.sum.resize(max_k, 0.0);
        ws.cats.cnt.clear();
        ws.cats.cnt.resize(max_k, 0);
        ws.features.clear();
        ws.features.extend(0..d);

        let mut tree = Tree {
            nodes: Vec::with_capacity(2 * u / params.min_samples_leaf.max(1) + 1),
            cat_sets: Vec::new(),
            depth: 0,
        };
        tree.nodes.push(tree.leaf(0, d, 0.0));
        ws.stack.clear();
        ws.stack.push(Task { node: 0, start: 0, end: u, depth: 0 });
        while let Some(task) = ws.stack.pop() {
            tree.grow(data, u, params, rng, ws, task);
        }
        tree
    }

    fn leaf(&self, index: u32, d: usize, value: f64) -> Node {
        Node { feature: d as u32, left: index, value }
    }

    /// Processes one node: turns it into a leaf or splits it and schedules both children.
    fn grow<R: Rng>(
        &mut self,
        data: &TrainData,
        u: usize,
        params: &TreeParams,
        rng: &mut R,
        ws: &mut Workspace,
        task: Task,
    ) {
        let Task { node, start, end, depth } = task;
        // Node statistics from any feature's order (all hold the same rows).
        let rows = &ws.order[start..end];
        let (mut count, mut sum, mut lo, mut hi) = (0u32, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        for &r in rows {
            let v = data.y[r as usize];
            count += ws.weight[r as usize];
            sum += ws.stats[r as usize].0;
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let min_leaf = params.min_samples_leaf.max(1);
        let splittable = count as usize >= params.min_samples_split
            && count as usize >= 2 * min_leaf
            && depth < params.max_depth
            && hi - lo >= EPS_PURITY;
        let best = if splittable {
            let ctx =
                NodeCtx { data, weight: &ws.weight, stats: &ws.stats, count, sum, min_leaf: min_leaf as u32 };
            find_split(&ctx, &ws.order, u, start, end, params, rng, &mut ws.features, &mut ws.cats)
        } else {
            None
        };
        let Some(best) = best else {
            let value = leaf_value(data, &ws.weight, &ws.order[start..end], params.log_y);
            self.nodes[node as usize] = self.leaf(node, data.d, value);
            self.depth = self.depth.max(depth);
            return;
        };

        // Mark the rows going left.
        let f = best.feature;
        let categorical = data.n_cats[f] > 0;
        let col = data.col(f);
        let split_order = &ws.order[f * u + start..f * u + end];
        let value = if categorical {
            let offset = self.cat_sets.len();
            let k = data.n_cats[f] as usize;
            self.cat_sets.resize(offset + k.div_ceil(64), 0);
            let set = &mut self.cat_sets[offset..];
            for &c in &ws.cats.best {
                set[c as usize / 64] |= 1 << (c % 64);
            }
            // Categories absent from this node go to a random side.
            for &r in split_order {
                ws.cats.cnt[col[r as usize] as usize] = 1;
            }
            for c in 0..k {
                if ws.cats.cnt[c] == 0 && rng.random::<bool>() {
                    set[c / 64] |= 1 << (c % 64);
                }
            }
            for &r in split_order {
                let c = col[r as usize] as usize;
                ws.cats.cnt[c] = 0;
                ws.goes_left[r as usize] = set[c / 64] >> (c % 64) & 1 == 1;
            }
            offset as f64
        } else {
            for &r in split_order {
                ws.goes_left[r as usize] = col[r as usize] <= best.threshold;
            }
            best.threshold
        };

        // Stable partition of every feature's order (the split feature's continuous order is
        // already partitioned because it is sorted by the split value).
        let mut mid = start;
        for g in 0..data.d {
            let seg = &mut ws.order[g * u + start..g * u + end];
            if g == f && !categorical {
                mid = start + seg.partition_point(|&r| ws.goes_left[r as usize]);
                continue;
            }
            let mut n_left = 0;
            let mut n_right = 0;
            // Branch-free: the side of a row is unpredictable.
            for i in 0..seg.len() {
                let r = seg[i];
                let left = ws.goes_left[r as usize];
                seg[n_left] = r;
                ws.scratch[n_right] = r;
                n_left += left as usize;
                n_right += !left as usize;
            }
            seg[n_left..].copy_from_slice(&ws.scratch[..n_right]);
            mid = start + n_left;
        }

        let left = self.nodes.len() as u32;
        self.nodes.push(self.leaf(left, data.d, 0.0));
        self.nodes.push(self.leaf(left + 1, data.d, 0.0));
        self.nodes[node as usize] =
            Node { feature: f as u32 | if categorical { CAT_BIT } else { 0 }, left, value };
        ws.stack.push(Task { node: left + 1, start: mid, end, depth: depth + 1 });
        ws.stack.push(Task { node: left, start, end: mid, depth: depth + 1 });
    }

    /// Index of the root node (for walks over the tree's partition, e.g. fANOVA).
    pub(crate) const ROOT: usize = 0;

    /// What node `i` is: a leaf with its prediction, or a split with its two children.
    pub(crate) fn node(&self, i: usize) -> NodeView<'_> {
        let node = self.nodes[i];
        let left = node.left as usize;
        if left == i {
            return NodeView::Leaf(node.value);
        }
        let feature = (node.feature & !CAT_BIT) as usize;
        if node.feature & CAT_BIT == 0 {
            NodeView::Numeric { feature, threshold: node.value, left }
        } else {
            let start = node.value as usize;
            NodeView::Categorical { feature, left_set: &self.cat_sets[start..], left }
        }
    }

    /// Predicts a block of imputed rows stored with stride `d + 1` in `rows`, where column `d`
    /// of every row holds `-inf`. `idx` is scratch space of the same length as `out`.
    #[inline]
    pub(crate) fn predict_block(&self, rows: &[f64], idx: &mut [u32], out: &mut [f64]) {
        // A tree without categorical splits (every tree of an all-numeric space) takes a loop
        // without the per-node split-kind test.
        if self.cat_sets.is_empty() {
            self.descend::<false>(rows, idx);
        } else {
            self.descend::<true>(rows, idx);
        }
        for (o, &i) in out.iter_mut().zip(idx.iter()) {
            *o = self.nodes[i as usize].value;
        }
    }

    /// Moves every row of the block from the root to its leaf, leaving the leaf indices in `idx`.
    #[inline(always)]
    fn descend<const CATEGORICAL: bool>(&self, rows: &[f64], idx: &mut [u32]) {
        let stride = rows.len() / idx.len().max(1);
        idx.fill(0);
        for _ in 0..self.depth {
            // Stays zero once every row of the block sits in its leaf (a leaf points to itself):
            // random rows rarely follow the deep, densely sampled branches, so most blocks stop
            // well before `depth`. (Compacting the list of descending rows instead was slower.)
            let mut moved = 0u32;
            for (i, row) in idx.iter_mut().zip(rows.chunks_exact(stride)) {
                debug_assert!((*i as usize) < self.nodes.len());
                // SAFETY: `i` starts at the root and only takes `left` or `left + 1` of a split
                // node, which `fit` always creates, or stays at a leaf.
                let node = unsafe { *self.nodes.get_unchecked(*i as usize) };
                let go_right = if !CATEGORICAL || node.feature & CAT_BIT == 0 {
                    debug_assert!((node.feature as usize) < row.len());
                    // SAFETY: split features are < d and a leaf's sentinel is d; rows hold d + 1.
                    unsafe { *row.get_unchecked(node.feature as usize) > node.value }
                } else {
                    let c = row[(node.feature & !CAT_BIT) as usize] as usize;
                    self.cat_sets[node.value as usize + c / 64] >> (c % 64) & 1 == 0
                };
                let next = node.left + go_right as u32;
                moved |= next ^ *i;
                *i = next;
            }
            if moved == 0 {
                break;
            }
        }
    }
}

/// Weighted mean target, or `ln(mean(exp(y)) + 1e-10)` computed stably for log-scaled targets.
fn leaf_value(data: &TrainData, weight: &[u32], rows: &[u32], log_y: bool) -> f64 {
    let w = |r: u32| weight[r as usize] as f64;
    let total: f64 = rows.iter().map(|&r| w(r)).sum();
    if !log_y {
        return rows.iter().map(|&r| w(r) * data.y[r as usize]).sum::<f64>() / total;
    }
    let max = rows.iter().map(|&r| data.y[r as usize]).fold(f64::NEG_INFINITY, f64::max);
    let mean_scaled = rows.iter().map(|&r| w(r) * (data.y[r as usize] - max).exp()).sum::<f64>() / total;
    // ln(exp(a) + exp(b)) with a = ln(mean(exp(y))), b = ln(1e-10).
    let a = max + mean_scaled.ln();
    let b = LOG_Y_EPS.ln();
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// Finds the best split of the node `[start, end)`, examining features in random order until
/// `max_features` have been examined and a valid split exists.
#[allow(clippy::too_many_arguments)]
fn find_split<R: Rng>(
    ctx: &NodeCtx<'_>,
    order: &[u32],
    u: usize,
    start: usize,
    end: usize,
    params: &TreeParams,
    rng: &mut R,
    features: &mut [usize],
    cats: &mut CatScratch,
) -> Option<Best> {
    let d = features.len();
    let mut best: Option<Best> = None;
    for i in 0..d {
        if i >= params.max_features && best.is_some() {
            break;
        }
        let j = rng.random_range(i..d);
        features.swap(i, j);
        let f = features[i];
        let rows = &order[f * u + start..f * u + end];
        let current = best.map_or(f64::NEG_INFINITY, |b| b.score);
        let found = if ctx.data.n_cats[f] > 0 {
            best_categorical_split(ctx, ctx.data.col(f), rows, current, cats)
        } else if params.random_splits {
            random_numeric_split(ctx, ctx.data.col(f), rows, current, rng)
        } else {
            best_numeric_split(ctx, ctx.data.col(f), rows, current)
        };
        if let Some((score, threshold)) = found {
            best = Some(Best { score, feature: f, threshold });
        }
    }
    best
}

/// Best threshold split of one sorted feature that beats `current`: `(score, threshold)`.
///
/// The score `S_L²/n_L + S_R²/n_R` is handled as the fraction `(S_L²·n_R + S_R²·n_L) / (n_L·n_R)`
/// and compared by cross-multiplication, so the loop needs no division and no branch.
fn best_numeric_split(ctx: &NodeCtx<'_>, col: &[f64], rows: &[u32], current: f64) -> Option<(f64, f64)> {
    // The best score is kept as a fraction `best_num / best_den` and updated with selects:
    // improvements are frequent and unpredictable when y trends with x.
    let (mut best_num, mut best_den) = (current, 1.0);
    let mut best_i = usize::MAX;
    let (mut left_sum, mut n_left) = (0.0, 0.0);
    let min_leaf = ctx.min_leaf as f64;
    let count = ctx.count as f64;
    let mut v = col[rows[0] as usize];
    for (i, pair) in rows.windows(2).enumerate() {
        let (wy, w) = ctx.stats[pair[0] as usize];
        left_sum += wy;
        n_left += w;
        let next = col[pair[1] as usize];
        let n_right = count - n_left;
        let right_sum = ctx.sum - left_sum;
        let num = left_sum * left_sum * n_right + right_sum * right_sum * n_left;
        let den = n_left * n_right;
        let valid = (next > v) & (n_left >= min_leaf) & (n_right >= min_leaf);
        let better = valid & (num * best_den > best_num * den);
        best_num = if better { num } else { best_num };
        best_den = if better { den } else { best_den };
        best_i = if better { i } else { best_i };
        v = next;
    }
    let best_score = best_num / best_den;
    if best_i == usize::MAX {
        return None;
    }
    let lo = col[rows[best_i] as usize];
    let hi = col[rows[best_i + 1] as usize];
    let mut threshold = 0.5 * (lo + hi);
    if threshold >= hi || threshold < lo {
        threshold = lo;
    }
    Some((best_score, threshold))
}

/// Extremely randomized split of one sorted feature (scikit-learn's `splitter="random"`): a
/// threshold drawn uniformly in `[min, max)` of the node's values, kept if both children hold
/// `min_leaf` samples and it beats `current`. The trees then disagree between observations far
/// more than with best splits, which widens the forest's variance away from the data.
fn random_numeric_split<R: Rng>(
    ctx: &NodeCtx<'_>,
    col: &[f64],
    rows: &[u32],
    current: f64,
    rng: &mut R,
) -> Option<(f64, f64)> {
    let lo = col[rows[0] as usize];
    let hi = col[rows[rows.len() - 1] as usize];
    // scikit-learn's FEATURE_THRESHOLD: a feature this flat in the node is constant.
    if hi - lo <= 1e-7 {
        return None;
    }
    let mut threshold = lo + rng.random::<f64>() * (hi - lo);
    if threshold >= hi {
        threshold = lo;
    }
    let (mut left_sum, mut n_left) = (0.0, 0.0);
    for &r in rows {
        if col[r as usize] > threshold {
            break;
        }
        let (wy, w) = ctx.stats[r as usize];
        left_sum += wy;
        n_left += w;
    }
    let min_leaf = ctx.min_leaf as f64;
    let n_right = ctx.count as f64 - n_left;
    if n_left < min_leaf || n_right < min_leaf {
        return None;
    }
    let right_sum = ctx.sum - left_sum;
    let score = left_sum * left_sum / n_left + right_sum * right_sum / n_right;
    (score > current).then_some((score, threshold))
}

/// Best category-subset split of one categorical feature that beats `current`; on success the
/// left categories are stored in `ws.best`. Returns `(score, NaN)`.
fn best_categorical_split(
    ctx: &NodeCtx<'_>,
    col: &[f64],
    rows: &[u32],
    current: f64,
    ws: &mut CatScratch,
) -> Option<(f64, f64)> {
    ws.touched.clear();
    for &r in rows {
        let c = col[r as usize] as usize;
        if ws.cnt[c] == 0 {
            ws.touched.push(c as u32);
        }
        ws.cnt[c] += ctx.weight[r as usize];
        ws.sum[c] += ctx.stats[r as usize].0;
    }
    let mut result = None;
    if ws.touched.len() >= 2 {
        let (cnt, sums) = (&ws.cnt, &ws.sum);
        let mean = |c: u32| sums[c as usize] / cnt[c as usize] as f64;
        ws.touched.sort_by(|&a, &b| mean(a).total_cmp(&mean(b)).then(a.cmp(&b)));
        let (mut left_sum, mut n_left) = (0.0, 0u32);
        let mut best_score = current;
        let mut best_prefix = 0;
        for (p, &c) in ws.touched[..ws.touched.len() - 1].iter().enumerate() {
            left_sum += sums[c as usize];
            n_left += cnt[c as usize];
            let n_right = ctx.count - n_left;
            if n_left < ctx.min_leaf || n_right < ctx.min_leaf {
                continue;
            }
            let right_sum = ctx.sum - left_sum;
            let score = left_sum * left_sum / n_left as f64 + right_sum * right_sum / n_right as f64;
            if score > best_score {
                best_score = score;
                best_prefix = p + 1;
            }
        }
        if best_prefix > 0 {
            ws.best.clear();
            ws.best.extend_from_slice(&ws.touched[..best_prefix]);
            result = Some((best_score, f64::NAN));
        }
    }
    for &c in &ws.touched {
        ws.cnt[c as usize] = 0;
        ws.sum[c as usize] = 0.0;
    }
    result
}
