//! Functional ANOVA on a fitted [`RandomForest`]: how much of the predicted cost's variance each
//! single input column explains (Hutter, Hoos & Leyton-Brown 2014, "An Efficient Approach for
//! Assessing Hyperparameter Importance", ICML).
//!
//! # Method
//! The input space Θ is the product of the columns' domains: `[lo, hi]` for a continuous column
//! (`[0, 1]` for hyperparameters in the configuration vector) and the choices `0..k` for a
//! categorical column, with the uniform distribution on each. A tree's splits partition Θ into
//! boxes, one per leaf, and the tree predicts the constant leaf value `v_l` on box `l`. With `p_l`
//! the probability of box `l` (product of its per-column fractions of the domain):
//! * the mean is `μ = Σ_l p_l v_l` and the total variance `V = Σ_l p_l (v_l − μ)²`;
//! * the marginal of column `j` at value `t`, the prediction averaged over all other columns, is
//!   `a_j(t) = Σ_{l : t ∈ l_j} v_l p_l / p_l,j` where `p_l,j` is box `l`'s fraction of column `j`.
//!   It is constant between consecutive split points of column `j` (or per category), so its
//!   variance `V_j = E_t[(a_j(t) − μ)²]` is a finite sum;
//! * the main-effect importance of column `j` is `V_j / V`, the fraction of the variance it
//!   explains alone. The fractions of all columns sum to at most 1; the rest is explained by
//!   interactions.
//!
//! Every tree is analysed on its own; the result reports the mean and the (population) standard
//! deviation over the trees. Trees that predict a constant on Θ (`V = 0`) have no fractions and
//! are left out.
//!
//! # Inactive values
//! The forest imputes inactive (NaN) values outside the domain: −1 for a continuous column and
//! the extra category `k` for a categorical one (see the crate documentation). The analysis
//! integrates over the domain only, where every column is active, so a conditional
//! hyperparameter's importance describes the forest's predictions as if it were always active.
//! Where its condition is unmet in the training data the forest never saw it active, and the
//! predictions there follow whatever the splits on other columns say; treat such importances as
//! indicative only.

use serde::{Deserialize, Serialize};

use crate::forest::RandomForest;
use crate::tree::{NodeView, Tree};
use crate::{FeatureType, SurrogateError};

/// Relative size below which a tree's total variance counts as zero.
const ZERO_VARIANCE: f64 = 1e-12;

/// The main-effect importance of one input column, over the trees of a forest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Mean over trees of the fraction of the variance the column explains alone.
    pub mean: f64,
    /// Population standard deviation of that fraction over trees.
    pub std: f64,
}

/// The result of [`RandomForest::fanova`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanovaResult {
    /// One entry per input column, in column order.
    pub importance: Vec<Importance>,
    /// The sum of all main-effect fractions (mean and std over trees); `1 − mean` is the share
    /// of the variance explained by interactions.
    pub main_effects_total: Importance,
    /// Trees with a non-zero variance on the domain (the ones averaged).
    pub n_trees: usize,
    /// Trees in the forest.
    pub n_trees_total: usize,
}

/// One leaf's box: per continuous column an interval, per categorical column a set of choices.
#[derive(Debug, Clone)]
struct LeafBox {
    value: f64,
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// Per column, the choices in the box (empty for continuous columns).
    cats: Vec<Vec<bool>>,
}

/// A column's domain.
#[derive(Debug, Clone, Copy)]
enum Domain {
    Interval(f64, f64),
    Choices(usize),
}

impl LeafBox {
    /// The box's fraction of column `j`'s domain.
    fn fraction(&self, j: usize, domain: Domain) -> f64 {
        match domain {
            Domain::Interval(a, b) => (self.hi[j] - self.lo[j]) / (b - a),
            Domain::Choices(k) => self.cats[j].iter().filter(|&&c| c).count() as f64 / k as f64,
        }
    }

    /// Whether the box has zero probability in column `j`.
    fn is_empty(&self, j: usize, domain: Domain) -> bool {
        match domain {
            Domain::Interval(..) => self.hi[j] <= self.lo[j],
            Domain::Choices(_) => !self.cats[j].iter().any(|&c| c),
        }
    }
}

impl RandomForest {
    /// fANOVA main effects of every column, with continuous columns ranging over `[0, 1]` (the
    /// configuration vector's encoding) and categorical ones over their choices.
    pub fn fanova(&self) -> Result<FanovaResult, SurrogateError> {
        self.fanova_in(&vec![(0.0, 1.0); self.types().len()])
    }

    /// fANOVA main effects with continuous column `j` ranging over `bounds[j]` (entries of
    /// categorical columns are ignored).
    pub fn fanova_in(&self, bounds: &[(f64, f64)]) -> Result<FanovaResult, SurrogateError> {
        let trees = self.trees();
        if trees.is_empty() {
            return Err(SurrogateError::NotFitted);
        }
        let types = self.types();
        if bounds.len() != types.len() {
            return Err(SurrogateError::ShapeMismatch {
                what: "fANOVA bounds vs feature types",
                expected: types.len(),
                found: bounds.len(),
            });
        }
        let mut domains = Vec::with_capacity(types.len());
        for (&ty, &(a, b)) in types.iter().zip(bounds) {
            domains.push(match ty {
                FeatureType::Categorical(k) if k > 0 => Domain::Choices(k),
                FeatureType::Categorical(_) => {
                    return Err(SurrogateError::InvalidConfig("a categorical column without choices".into()))
                }
                FeatureType::Continuous if a.is_finite() && b.is_finite() && a < b => Domain::Interval(a, b),
                FeatureType::Continuous => {
                    return Err(SurrogateError::InvalidConfig(format!(
                        "fANOVA bounds [{a}, {b}] are not an interval"
                    )))
                }
            });
        }
        let d = domains.len();
        let per_tree: Vec<Vec<f64>> = trees.iter().filter_map(|t| tree_fractions(t, &domains)).collect();
        let stats = |values: Vec<f64>| -> Importance {
            if values.is_empty() {
                return Importance { mean: 0.0, std: 0.0 };
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            Importance { mean, std: var.sqrt() }
        };
        let importance = (0..d).map(|j| stats(per_tree.iter().map(|f| f[j]).collect())).collect();
        let main_effects_total = stats(per_tree.iter().map(|f| f.iter().sum()).collect());
        tracing::debug!(n_trees = per_tree.len(), columns = d, "computed fANOVA main effects");
        Ok(FanovaResult {
            importance,
            main_effects_total,
            n_trees: per_tree.len(),
            n_trees_total: trees.len(),
        })
    }
}

/// The leaves of `tree` as boxes intersected with the domain; boxes of zero probability (e.g.
/// the imputed region of inactive values) are dropped.
fn leaf_boxes(tree: &Tree, domains: &[Domain]) -> Vec<LeafBox> {
    let root = LeafBox {
        value: 0.0,
        lo: domains.iter().map(|d| if let Domain::Interval(a, _) = d { *a } else { 0.0 }).collect(),
        hi: domains.iter().map(|d| if let Domain::Interval(_, b) = d { *b } else { 0.0 }).collect(),
        cats: domains
            .iter()
            .map(|d| if let Domain::Choices(k) = d { vec![true; *k] } else { vec![] })
            .collect(),
    };
    let mut leaves = Vec::new();
    let mut stack = vec![(Tree::ROOT, root)];
    while let Some((i, mut b)) = stack.pop() {
        match tree.node(i) {
            NodeView::Leaf(value) => {
                b.value = value;
                leaves.push(b);
            }
            NodeView::Numeric { feature, threshold, left } => {
                let mut l = b.clone();
                l.hi[feature] = l.hi[feature].min(threshold);
                b.lo[feature] = b.lo[feature].max(threshold);
                for (child, bx) in [(left, l), (left + 1, b)] {
                    if !bx.is_empty(feature, domains[feature]) {
                        stack.push((child, bx));
                    }
                }
            }
            NodeView::Categorical { feature, left_set, left } => {
                let mut l = b.clone();
                for (c, (in_l, in_r)) in
                    l.cats[feature].iter_mut().zip(b.cats[feature].iter_mut()).enumerate()
                {
                    let goes_left = left_set[c / 64] >> (c % 64) & 1 == 1;
                    *in_l &= goes_left;
                    *in_r &= !goes_left;
                }
                for (child, bx) in [(left, l), (left + 1, b)] {
                    if !bx.is_empty(feature, domains[feature]) {
                        stack.push((child, bx));
                    }
                }
            }
        }
    }
    leaves
}

/// The main-effect fractions `V_j / V` of one tree, or `None` when it is constant on the domain.
fn tree_fractions(tree: &Tree, domains: &[Domain]) -> Option<Vec<f64>> {
    let leaves = leaf_boxes(tree, domains);
    // Per leaf, its probability and its per-column fractions.
    let fractions: Vec<Vec<f64>> =
        leaves.iter().map(|l| (0..domains.len()).map(|j| l.fraction(j, domains[j])).collect()).collect();
    let prob: Vec<f64> = fractions.iter().map(|f| f.iter().product()).collect();
    let mean: f64 = leaves.iter().zip(&prob).map(|(l, p)| p * l.value).sum();
    let total: f64 = leaves.iter().zip(&prob).map(|(l, p)| p * (l.value - mean).powi(2)).sum();
    let second_moment: f64 = leaves.iter().zip(&prob).map(|(l, p)| p * l.value * l.value).sum();
    if total <= ZERO_VARIANCE * second_moment.max(f64::MIN_POSITIVE) {
        return None;
    }
    let out = domains
        .iter()
        .enumerate()
        .map(|(j, &domain)| {
            // Leaf l adds v_l · p_l / p_l,j to the marginal wherever column j lies in its box.
            let weight = |i: usize| leaves[i].value * prob[i] / fractions[i][j];
            let variance = match domain {
                Domain::Interval(a, b) => {
                    let mut cuts: Vec<f64> = leaves.iter().flat_map(|l| [l.lo[j], l.hi[j]]).collect();
                    cuts.sort_by(f64::total_cmp);
                    cuts.dedup();
                    // Difference array over the segments between consecutive cuts.
                    let mut diff = vec![0.0; cuts.len()];
                    for (i, l) in leaves.iter().enumerate() {
                        let w = weight(i);
                        diff[cuts.partition_point(|&c| c < l.lo[j])] += w;
                        diff[cuts.partition_point(|&c| c < l.hi[j])] -= w;
                    }
                    let mut marginal = 0.0;
                    let mut var = 0.0;
                    for s in 0..cuts.len() - 1 {
                        marginal += diff[s];
                        var += (cuts[s + 1] - cuts[s]) / (b - a) * (marginal - mean).powi(2);
                    }
                    var
                }
                Domain::Choices(k) => {
                    let mut marginal = vec![0.0; k];
                    for (i, l) in leaves.iter().enumerate() {
                        let w = weight(i);
                        for (m, _) in marginal.iter_mut().zip(&l.cats[j]).filter(|(_, &inside)| inside) {
                            *m += w;
                        }
                    }
                    marginal.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / k as f64
                }
            };
            variance / total
        })
        .collect();
    Some(out)
}

#[cfg(test)]
#[path = "fanova_tests.rs"]
mod tests;
