//! SMAC3's random forest surrogate (`smac/model/random_forest/random_forest.py`).
//!
//! SMAC3 2.4 grows scikit-learn trees with `splitter="random"` (extremely randomized splits:
//! one uniformly drawn threshold per examined feature, the best feature kept); earlier versions
//! used pyrfr's best splits. Both are here ([`Splitter`]); the presets use the random one. On
//! this project's benchmark (HPO facade, 100 trials, seeds 0–9, docs/benchmarks.md) it lowered
//! the median regret on 14 of 19 functions and mixed problems (e.g. hartmann3 0.015 → 0.003,
//! trid6 232 → 109), raised it on 5 (six_hump_camel 0.0008 → 0.0056, branin_mixed, model_choice,
//! powell8; ackley20 even), and was neutral for the AlgorithmConfiguration facade (better on 6
//! of 16 functions, worse on 4).
//!
//! Semantics:
//! * each tree is grown on a bootstrap sample of size n (or on all rows without bootstrapping),
//!   examining `max(1, round(ratio_features · d))` random features per split (more only if none
//!   of those can split the node); rows drawn several times count with their multiplicity in
//!   split criteria, `min_samples_*` and leaf values;
//! * inactive (NaN) values are imputed (−1 for continuous, `n_choices` for categorical columns);
//! * a leaf predicts the mean of its targets, or `ln(mean(exp(y)) + 1e-10)` with `log_y` (the
//!   targets are then already log costs, as in SMAC3);
//! * the forest predicts the mean over trees and the population variance over trees, floored at
//!   [`VARIANCE_FLOOR`].
//!
//! # Why a dedicated tree learner instead of smartcore
//! smartcore's `RandomForestRegressor` hides its per-tree predictions (needed for the variance)
//! and has no categorical splits or imputation, so it could only be used as ten single-tree
//! forests with different seeds. Measured on the 2-core development machine (release build,
//! d = 6, SMAC3 HPO settings: 10 trees, min_samples_leaf 1, ratio_features 1; medians;
//! `cargo bench -p smac-surrogate --bench rf_fit` and `--bench smartcore_baseline`):
//!
//! | n      | fit (this crate) | predict 10k (this crate) | fit (smartcore) | predict 10k (smartcore) |
//! |--------|------------------|--------------------------|-----------------|-------------------------|
//! | 100    | 0.2 ms           | 1.7 ms                   | 0.9 ms          | 13.5 ms                 |
//! | 1,000  | 3.4 ms           | 2.7 ms                   | 49 ms           | 23 ms                   |
//! | 10,000 | 45 ms            | 4.3 ms                   | 4,870 ms        | 44 ms                   |
//!
//! smartcore re-sorts at every node and its fit grows roughly quadratically; the dedicated
//! learner (see module `tree`) presorts each column once per forest, grows trees in
//! O(d · n log n) and predicts with a branch-free, block-wise traversal. Sorting per node
//! instead of partitioning presorted orders was also measured: 0.7 / 10 / 136 ms to fit
//! n = 100 / 1,000 / 10,000, about 3× slower, so presorting was kept.
//!
//! # Both cores
//! Trees are grown in parallel, and large predictions are split into row ranges over threads
//! (one rayon pool per process, [`crate::parallel`]: as many threads as cores,
//! `RAYON_NUM_THREADS` to change it). Each tree draws
//! from its own seeded stream and each row's prediction depends only on that row, so the
//! results are bit-identical to a sequential run whatever the number of threads. Small
//! inputs stay on the calling thread, where handing work to the pool would cost more than it
//! saves. With 256 workers the optimizer's main thread is the bottleneck
//! (`bench_throughput`), and before this the second core sat idle.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::tree::{TrainData, Tree, TreeParams, Workspace};
use crate::{FeatureType, Surrogate, SurrogateError, VARIANCE_FLOOR};

/// Number of query rows pushed through one tree at a time in `predict`.
const PREDICT_BLOCK: usize = 64;
/// Rows from which a prediction is split over threads (a range is then at least this long).
const PARALLEL_ROWS: usize = 128;
/// Training rows from which trees are grown in parallel.
const PARALLEL_FIT_ROWS: usize = 128;

/// Hyperparameters of [`RandomForest`] (names follow SMAC3's `RandomForest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForestConfig {
    /// Number of trees.
    pub n_trees: usize,
    /// Fraction of the features examined at each split.
    pub ratio_features: f64,
    /// Nodes with fewer samples are not split.
    pub min_samples_split: usize,
    /// Minimum number of samples in each leaf.
    pub min_samples_leaf: usize,
    /// Maximum tree depth.
    pub max_depth: usize,
    /// Grow each tree on a bootstrap sample.
    pub bootstrapping: bool,
    /// Targets are log-scaled costs; leaves average in the original scale.
    pub log_y: bool,
    /// How a continuous feature's threshold is chosen.
    #[serde(default)]
    pub splitter: Splitter,
    /// Seed of the random number generator.
    pub seed: u64,
}

/// How trees choose the threshold of a continuous split (the feature is always the best one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Splitter {
    /// The threshold with the smallest squared error, over midpoints between neighbouring
    /// values (pyrfr, which SMAC3 used before its scikit-learn forest).
    #[default]
    Best,
    /// One threshold per feature drawn uniformly between the node's smallest and largest value
    /// (extremely randomized trees; scikit-learn's `splitter="random"`, SMAC3 2.4's forest).
    Random,
}

impl RandomForestConfig {
    /// The configuration used by SMAC3's hyperparameter-optimization facade.
    pub fn hpo() -> Self {
        Self {
            n_trees: 10,
            ratio_features: 1.0,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_depth: 1 << 20,
            bootstrapping: true,
            log_y: true,
            splitter: Splitter::Random,
            seed: 0,
        }
    }
}

impl Default for RandomForestConfig {
    /// SMAC3's `RandomForest` class defaults.
    fn default() -> Self {
        Self {
            n_trees: 10,
            ratio_features: 5.0 / 6.0,
            min_samples_split: 3,
            min_samples_leaf: 3,
            max_depth: 1 << 20,
            bootstrapping: true,
            log_y: false,
            splitter: Splitter::Random,
            seed: 0,
        }
    }
}

/// A random forest regressor with predictive variance across trees.
#[derive(Debug, Clone)]
pub struct RandomForest {
    config: RandomForestConfig,
    types: Vec<FeatureType>,
    trees: Vec<Tree>,
}

impl RandomForest {
    /// Creates an unfitted forest for columns of the given types.
    pub fn new(config: RandomForestConfig, types: Vec<FeatureType>) -> Self {
        Self { config, types, trees: Vec::new() }
    }

    /// The forest's configuration.
    pub fn config(&self) -> &RandomForestConfig {
        &self.config
    }

    /// The column types the forest was created with.
    pub fn types(&self) -> &[FeatureType] {
        &self.types
    }

    /// The fitted trees (empty before `fit`).
    pub(crate) fn trees(&self) -> &[Tree] {
        &self.trees
    }

    fn tree_params(&self) -> TreeParams {
        let d = self.types.len();
        let max_features = ((self.config.ratio_features * d as f64).round() as usize).clamp(1, d.max(1));
        TreeParams {
            max_features,
            min_samples_split: self.config.min_samples_split,
            min_samples_leaf: self.config.min_samples_leaf.max(1),
            max_depth: self.config.max_depth,
            log_y: self.config.log_y,
            random_splits: self.config.splitter == Splitter::Random,
        }
    }
}

impl RandomForest {
    /// Predicts the rows `first..first + mean.len()` of `x` into `mean` and `var`.
    fn predict_rows(
        &self,
        x: &ArrayView2<f64>,
        first: usize,
        mean: &mut [f64],
        var: &mut [f64],
    ) -> Result<(), SurrogateError> {
        let (n, d) = (mean.len(), x.ncols());
        let n_trees = self.trees.len();
        // Rows are processed in blocks, trees in the outer loop, so that each tree's nodes stay
        // in L1 while a block is pushed through it.
        let stride = d + 1;
        let block = PREDICT_BLOCK.min(n.max(1));
        let mut rows = vec![f64::NEG_INFINITY; block * stride];
        let mut idx = vec![0u32; block];
        let mut values = vec![0.0; block * n_trees];
        for block_start in (0..n).step_by(block) {
            let len = block.min(n - block_start);
            for (b, row) in rows.chunks_exact_mut(stride).take(len).enumerate() {
                crate::impute_row(x, first + block_start + b, &self.types, &mut row[..d])?;
            }
            for (t, tree) in self.trees.iter().enumerate() {
                tree.predict_block(
                    &rows[..len * stride],
                    &mut idx[..len],
                    &mut values[t * block..t * block + len],
                );
            }
            for b in 0..len {
                let per_tree = (0..n_trees).map(|t| values[t * block + b]);
                let m = per_tree.clone().sum::<f64>() / n_trees as f64;
                let v = per_tree.map(|v| (v - m) * (v - m)).sum::<f64>() / n_trees as f64;
                mean[block_start + b] = m;
                var[block_start + b] = v.max(VARIANCE_FLOOR);
            }
        }
        Ok(())
    }
}

impl Surrogate for RandomForest {
    fn fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<(), SurrogateError> {
        crate::check_fit_input(&x, &y, &self.types)?;
        if self.config.n_trees == 0 {
            return Err(SurrogateError::InvalidConfig("a random forest needs at least one tree".into()));
        }
        let data = TrainData::new(&x, &y, &self.types)?;
        let params = self.tree_params();
        let n = data.n_rows();
        let grow = |(ws, counts): &mut (Workspace, Vec<u32>), t: usize| {
            let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
            rng.set_stream(t as u64);
            if self.config.bootstrapping {
                counts.fill(0);
                for _ in 0..n {
                    counts[rng.random_range(0..n)] += 1;
                }
            } else {
                counts.fill(1);
            }
            Tree::fit(&data, counts, &params, &mut rng, ws)
        };
        let buffers = || (Workspace::default(), vec![0u32; n]);
        let trees: Vec<Tree> = if n >= PARALLEL_FIT_ROWS {
            crate::parallel::install(|| {
                (0..self.config.n_trees).into_par_iter().map_init(buffers, grow).collect()
            })
        } else {
            let mut own = buffers();
            (0..self.config.n_trees).map(|t| grow(&mut own, t)).collect()
        };
        self.trees = trees;
        tracing::debug!(n_rows = n, n_trees = self.trees.len(), "fitted random forest");
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<(Array1<f64>, Array1<f64>), SurrogateError> {
        if self.trees.is_empty() {
            return Err(SurrogateError::NotFitted);
        }
        crate::check_columns(&x, &self.types)?;
        let n = x.nrows();
        let mut mean = Array1::zeros(n);
        let mut var = Array1::zeros(n);
        let means = mean.as_slice_mut().expect("contiguous");
        let vars = var.as_slice_mut().expect("contiguous");
        if n < 2 * PARALLEL_ROWS {
            self.predict_rows(&x, 0, means, vars)?;
        } else {
            crate::parallel::install(|| {
                let range = crate::parallel::range_len(n, PARALLEL_ROWS).next_multiple_of(PREDICT_BLOCK);
                means
                    .par_chunks_mut(range)
                    .zip(vars.par_chunks_mut(range))
                    .enumerate()
                    .try_for_each(|(k, (m, v))| self.predict_rows(&x, k * range, m, v))
            })?;
        }
        Ok((mean, var))
    }

    fn is_fitted(&self) -> bool {
        !self.trees.is_empty()
    }
}
