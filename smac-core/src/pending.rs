//! Pending-aware proposals: trials that are running when proposals are made are accounted for,
//! so the next proposals look elsewhere ([`PendingStrategy`]).
//!
//! Without this, every proposal made while trials run is computed from the finished trials
//! only: with many workers, a batch of proposals piles into the region the model currently
//! likes best, and a parallel run wastes trials a sequential one would not. A fantasy row says
//! "assume the running configuration scored the lie": the acquisition's expected improvement
//! there (and nearby) drops, and the maximizer looks elsewhere.
//!
//! Two mechanisms, because the two surrogates react differently to invented data:
//! - **Constant liar** (Ginsbourger et al. 2010, the GP's default): running trials enter the
//!   training data as fantasy rows with a lie (the mean of the observed targets). A GP's
//!   posterior then has a small variance and a mediocre mean there, so expected improvement
//!   drops around them. One fit serves the batch (a kriging believer would need two, and the
//!   GP fit is the costly part); the GP keeps its factor for the real rows and only extends it.
//! - **Variance collapse** (the forest's default): the fit is unchanged; predicted variances
//!   are multiplied by `Π_r (1 − exp(−‖x − r‖² / 2ℓ²))` over the running configurations `r`,
//!   which is what conditioning a GP on noise-free observations at its own mean does to its
//!   variance. Measured on a 2-d bowl (`smac-core/tests/pending.rs`), fantasy rows move the
//!   forest's proposals *towards* running trials, whatever the lie: the extra splits sharpen
//!   the trees around them and the disagreement between the lie and its neighbours raises the
//!   forest's variance there. The radius `ℓ` is a fraction ([`COLLAPSE_RADIUS`]) of the median
//!   nearest-neighbour distance of the evaluated configurations, so it shrinks as the data gets
//!   denser. A batch of proposals
//!   taken from one fit (many idle workers) is ordered greedily the same way
//!   ([`VarianceCollapse::batch_order`]), so one fit serves the batch without crowding it.
//!
//! With one worker no trial is running at proposal time, so sequential runs are unchanged.
//! Fantasies are added in a fixed order (by configuration id, instance, seed, budget), so a run
//! in reproducible mode, where the running set at every proposal is itself reproducible, stays
//! reproducible.

use crate::configspace::ConfigSpace;
use crate::runhistory::RunHistory;
use crate::trial::TrialInfo;
use ndarray::{concatenate, Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How proposals account for running trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PendingStrategy {
    /// Running trials are ignored (SMAC3's behaviour).
    Ignore,
    /// Refit with running trials as fantasy rows valued at the lie.
    ConstantLiar(Fantasy),
    /// Keep the fit; shrink predicted variances near running configurations, within a radius
    /// of this fraction of the median nearest-neighbour distance of the evaluated ones.
    CollapseVariance(f64),
}

/// The forest presets' radius fraction (see [`PendingStrategy::CollapseVariance`]). Tuned with
/// `bench_parallel` (HPO facade, 8 and 32 workers, 10 ms trials) on seeds 0–4 of branin,
/// six_hump_camel, hartmann3, levy5, hartmann6, powell8, styblinski_tang10 and zakharov10:
/// median over those functions of regret(k workers) / regret(sequential) at 100 trials was, for
/// 8 / 32 workers, 1.36 / 2.00 at 0.01, 0.99 / 1.63 at 0.02, 1.17 / 1.29 at 0.03, 1.32 / 1.81 at
/// 0.05, 1.66 / 2.17 at 0.15, 2.35 / 2.29 at 0.5, against 1.24 / 2.81 ignoring running trials
/// and 1.06 / 2.11 with constant-liar rows. Larger radii push proposals out of the incumbent's
/// region, where the sequential run keeps exploiting.
///
/// That was with pyrfr's best splits. With the random splits the presets use since 2026-12-07,
/// the same tuning runs gave 1.14 / 2.23 at 0.03, 1.19 / 2.33 at 0.1, 1.79 / 2.58 at 0.3 and
/// 2.63 / 2.72 at 1.0, against 1.12 / 1.86 ignoring running trials and 1.97 / 2.48 with
/// constant-liar rows. Larger radii still cost regret; 0.03 against ignoring is within the
/// run-to-run spread of these thread-timed runs (over all 16 functions and 10 seeds, three runs
/// ignoring running trials gave 1.06–1.12 / 1.30–1.52, two runs at 0.03 gave 1.06–1.18 / 1.33),
/// so the default was kept.
pub const COLLAPSE_RADIUS: f64 = 0.03;

impl Default for PendingStrategy {
    fn default() -> Self {
        PendingStrategy::CollapseVariance(COLLAPSE_RADIUS)
    }
}

/// The value a running trial is assumed to have scored (in the model's transformed targets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Fantasy {
    /// The mean of the observed targets (default).
    #[default]
    Mean,
    /// The best observed target: batches stay close to the incumbent.
    Min,
    /// The worst observed target: batches spread out the most.
    Max,
}

impl Fantasy {
    /// The lie for observed targets `y` (never empty when called).
    pub fn value(self, y: &Array1<f64>) -> f64 {
        match self {
            Fantasy::Mean => y.mean().unwrap_or(0.0),
            Fantasy::Min => y.iter().copied().fold(f64::INFINITY, f64::min),
            Fantasy::Max => y.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Identifies a running trial: configuration id, instance, seed.
pub type RunningKey = (usize, Option<String>, Option<u64>);

/// The running trials the model should account for, in a fixed order: those at `budget` (all of
/// them without budgets), as `(config id, trial)`.
pub fn running_at_budget(rh: &RunHistory, budget: Option<f64>) -> Vec<(usize, &TrialInfo)> {
    let mut sorted: BTreeMap<(RunningKey, Option<u64>), &TrialInfo> = BTreeMap::new();
    for t in rh.running_trials() {
        if budget.is_some_and(|b| t.budget.map(f64::to_bits) != Some(b.to_bits())) {
            continue;
        }
        let Some(id) = rh.config_id(&t.config) else { continue };
        sorted.insert(((id, t.instance.clone(), t.seed), t.budget.map(f64::to_bits)), t);
    }
    sorted.into_iter().map(|(((id, ..), _), t)| (id, t)).collect()
}

/// A fingerprint of the running set: a fit is reused only while it is unchanged.
pub fn running_fingerprint(running: &[(usize, &TrialInfo)]) -> Vec<RunningKey> {
    running.iter().map(|(id, t)| (*id, t.instance.clone(), t.seed)).collect()
}

/// Appends one fantasy row per running trial to the training data `(x, y)`; `features` maps an
/// instance to its feature vector (columns after the configuration's).
pub fn append_fantasies(
    x: &Array2<f64>,
    y: &Array1<f64>,
    running: &[(usize, &TrialInfo)],
    features: Option<&BTreeMap<String, Vec<f64>>>,
    fantasy: Fantasy,
) -> (Array2<f64>, Array1<f64>) {
    if running.is_empty() || y.is_empty() {
        return (x.clone(), y.clone());
    }
    let lie = fantasy.value(y);
    let mut rows = Array2::from_elem((running.len(), x.ncols()), f64::NAN);
    for (i, (_, trial)) in running.iter().enumerate() {
        let vector = trial.config.vector();
        for (j, v) in vector.iter().enumerate() {
            rows[[i, j]] = *v;
        }
        let instance_features = trial.instance.as_ref().and_then(|inst| features.and_then(|f| f.get(inst)));
        if let Some(f) = instance_features {
            for (j, v) in f.iter().enumerate() {
                rows[[i, vector.len() + j]] = *v;
            }
        }
    }
    let x = concatenate(Axis(0), &[x.view(), rows.view()]).expect("same number of columns");
    let y = concatenate(Axis(0), &[y.view(), Array1::from_elem(running.len(), lie).view()])
        .expect("one-dimensional");
    (x, y)
}

/// Shrinks predicted variances near running configurations (see the module docs).
#[derive(Debug, Clone)]
pub struct VarianceCollapse {
    running: Vec<Vec<f64>>,
    categorical: Vec<bool>,
    inv_two_l2: f64,
    /// The running configurations sorted along one numeric column, to skip the far ones.
    index: Option<ColumnIndex>,
}

/// Running configurations sorted by their value in one numeric column: a pair farther apart than
/// the cutoff in that column alone has a factor of exactly 1.0, so only a window is visited.
#[derive(Debug, Clone)]
struct ColumnIndex {
    column: usize,
    /// `(value, running index)` for the configurations active in the column, by value.
    sorted: Vec<(f64, usize)>,
    /// Running configurations inactive (NaN) in the column: always visited.
    inactive: Vec<usize>,
}

impl ColumnIndex {
    /// Sorts `running` along the numeric column with the largest spread (none without one).
    fn new(running: &[Vec<f64>], categorical: &[bool]) -> Option<Self> {
        let spread = |c: usize| {
            let values = running.iter().map(|r| r[c]).filter(|v| !v.is_nan());
            let (lo, hi) =
                values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            hi - lo
        };
        let (_, column) = (0..categorical.len())
            .filter(|c| !categorical[*c])
            .map(|c| (spread(c), c))
            .filter(|(w, _)| *w > 0.0)
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))?;
        let mut sorted: Vec<(f64, usize)> =
            running.iter().enumerate().map(|(i, r)| (r[column], i)).filter(|(v, _)| !v.is_nan()).collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let inactive =
            running.iter().enumerate().filter(|(_, r)| r[column].is_nan()).map(|(i, _)| i).collect();
        Some(ColumnIndex { column, sorted, inactive })
    }
}

/// Most evaluated configurations used to estimate the radius (every k-th beyond that).
const RADIUS_SAMPLE: usize = 256;
/// Vectors from which [`VarianceCollapse::apply`] splits its work over threads (a range is then
/// at least this long).
const PARALLEL_VECTORS: usize = 64;

impl VarianceCollapse {
    /// A collapse around the `running` configurations, with the radius taken from the
    /// `observed` ones; `None` when nothing runs or the radius cannot be estimated.
    pub fn new(
        space: &ConfigSpace,
        running: &[(usize, &TrialInfo)],
        observed: &[Vec<f64>],
        radius_fraction: f64,
    ) -> Option<Self> {
        if running.is_empty() || observed.len() < 2 {
            return None;
        }
        let categorical = space
            .column_types()
            .into_iter()
            .map(|t| matches!(t, crate::configspace::ColumnType::Categorical(_)))
            .collect::<Vec<_>>();
        let step = observed.len().div_ceil(RADIUS_SAMPLE);
        let sample: Vec<&Vec<f64>> = observed.iter().step_by(step).collect();
        let mut nearest: Vec<f64> = sample
            .iter()
            .enumerate()
            .map(|(i, a)| {
                sample
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, b)| distance2(a, b, &categorical))
                    .fold(f64::INFINITY, f64::min)
            })
            .filter(|d| d.is_finite())
            .collect();
        if nearest.is_empty() {
            return None;
        }
        nearest.sort_by(f64::total_cmp);
        let radius = radius_fraction * nearest[nearest.len() / 2].sqrt();
        if radius.is_nan() || radius <= 0.0 {
            return None;
        }
        let running: Vec<Vec<f64>> = running.iter().map(|(_, t)| t.config.vector().to_vec()).collect();
        let index = ColumnIndex::new(&running, &categorical);
        Some(VarianceCollapse { running, categorical, inv_two_l2: 1.0 / (2.0 * radius * radius), index })
    }

    /// Orders `vectors` (predicted `mean`, `var`, variances already collapsed around the
    /// running trials) for a batch taken from one fit: greedily the best acquisition value,
    /// then the variances of the rest are collapsed around that pick as if it were running,
    /// and so on. Without this, a batch from one sorted list piles into one region.
    pub fn batch_order(
        &self,
        vectors: &[Vec<f64>],
        mean: &[f64],
        var: &mut [f64],
        mut score: impl FnMut(&[f64], &[f64], &mut [f64]),
    ) -> Vec<usize> {
        let mut remaining: Vec<usize> = (0..vectors.len()).collect();
        let mut order = Vec::with_capacity(vectors.len());
        let (mut m, mut v, mut s) = (Vec::new(), Vec::new(), Vec::new());
        while !remaining.is_empty() {
            m.clear();
            v.clear();
            m.extend(remaining.iter().map(|&i| mean[i]));
            v.extend(remaining.iter().map(|&i| var[i]));
            s.resize(remaining.len(), 0.0);
            score(&m, &v, &mut s);
            let best = (0..remaining.len()).fold(0, |b, k| if s[k] > s[b] { k } else { b });
            let pick = remaining.swap_remove(best);
            order.push(pick);
            for &i in &remaining {
                var[i] *= self.factor(&vectors[i], &vectors[pick]);
            }
        }
        order
    }

    /// Multiplies each variance by the collapse factor of its configuration vector.
    ///
    /// Only running configurations within the cutoff along the index column are visited; the
    /// factors below 1.0 are then multiplied in running order, so the result is bit-identical
    /// to the product over all of them (a factor of exactly 1.0 changes nothing). With 256
    /// running trials this was a quarter of the optimizer's time (`bench_throughput`).
    pub fn apply(&self, vectors: &[Vec<f64>], variances: &mut [f64]) {
        // Each variance depends only on its own vector, so ranges of them go to rayon's threads
        // with the same result as one pass (with 256 running trials this is a sixth of the
        // main thread's work, `bench_throughput`).
        if vectors.len() < 2 * PARALLEL_VECTORS {
            return self.apply_range(vectors, variances);
        }
        smac_surrogate::parallel::install(|| {
            let range = smac_surrogate::parallel::range_len(vectors.len(), PARALLEL_VECTORS);
            vectors
                .par_chunks(range)
                .zip(variances.par_chunks_mut(range))
                .for_each(|(x, v)| self.apply_range(x, v));
        });
    }

    fn apply_range(&self, vectors: &[Vec<f64>], variances: &mut [f64]) {
        let Some(index) = &self.index else {
            for (x, v) in vectors.iter().zip(variances.iter_mut()) {
                self.collapse_all(x, v);
            }
            return;
        };
        // Widened a little against rounding in the square root: extra pairs only compute 1.0.
        let half_width = (40.0 / self.inv_two_l2).sqrt() * (1.0 + 1e-9) + f64::EPSILON;
        let mut near: Vec<(usize, f64)> = Vec::new();
        for (x, v) in vectors.iter().zip(variances.iter_mut()) {
            let centre = x[index.column];
            if centre.is_nan() {
                self.collapse_all(x, v);
                continue;
            }
            let start = index.sorted.partition_point(|(value, _)| *value < centre - half_width);
            let end = index.sorted.partition_point(|(value, _)| *value <= centre + half_width);
            near.clear();
            let window = index.sorted[start..end].iter().map(|(_, i)| *i);
            for i in window.chain(index.inactive.iter().copied()) {
                let f = self.factor(x, &self.running[i]);
                if f != 1.0 {
                    near.push((i, f));
                }
            }
            near.sort_unstable_by_key(|(i, _)| *i);
            for (_, f) in &near {
                *v *= f;
            }
        }
    }

    /// Multiplies `v` by the factor of every running configuration, in running order.
    fn collapse_all(&self, x: &[f64], v: &mut f64) {
        for r in &self.running {
            *v *= self.factor(x, r);
        }
    }

    /// `1 − exp(−‖x − r‖² / 2ℓ²)`. Beyond 40 · 2ℓ² the exponential is below 5e-18, so the
    /// factor is exactly 1.0 in f64: the distance stops accumulating there. With the narrow
    /// default radius almost every pair stops after a dimension or two, which is what lets
    /// 256 running trials be accounted for in every acquisition evaluation (measured with
    /// `bench_throughput`: the full sum made the optimizer the bottleneck).
    fn factor(&self, x: &[f64], r: &[f64]) -> f64 {
        let cutoff = 40.0 / self.inv_two_l2;
        match distance2_below(x, r, &self.categorical, cutoff) {
            Some(d2) => 1.0 - (-d2 * self.inv_two_l2).exp(),
            None => 1.0,
        }
    }
}

/// [`distance2`], or `None` as soon as the partial sum reaches `cutoff`.
fn distance2_below(a: &[f64], b: &[f64], categorical: &[bool], cutoff: f64) -> Option<f64> {
    let mut sum = 0.0;
    for ((u, v), cat) in a.iter().zip(b).zip(categorical) {
        sum += term(*u, *v, *cat);
        if sum >= cutoff {
            return None;
        }
    }
    Some(sum)
}

/// Squared distance of two configuration vectors: numeric values are in [0, 1]; a differing
/// category, or a value active in one and inactive (NaN) in the other, counts as 1.
fn distance2(a: &[f64], b: &[f64], categorical: &[bool]) -> f64 {
    a.iter().zip(b).zip(categorical).map(|((u, v), cat)| term(*u, *v, *cat)).sum()
}

/// One dimension's share of [`distance2`].
fn term(u: f64, v: f64, categorical: bool) -> f64 {
    match (u.is_nan(), v.is_nan()) {
        (true, true) => 0.0,
        (true, false) | (false, true) => 1.0,
        _ if categorical => f64::from(u8::from(u != v)),
        _ => (u - v).powi(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_from_one_fit_does_not_take_near_duplicates_first() {
        let collapse = VarianceCollapse {
            running: Vec::new(),
            categorical: vec![false, false],
            inv_two_l2: 50.0,
            index: None,
        };
        // 0 and 1 nearly coincide and score best; 2 is far away and scores a little lower.
        let vectors = vec![vec![0.5, 0.5], vec![0.51, 0.5], vec![0.1, 0.9]];
        let mean = [0.0; 3];
        let mut var = [1.0, 0.99, 0.9];
        // A stand-in acquisition: the variance.
        let order = collapse.batch_order(&vectors, &mean, &mut var, |_, v, s| s.copy_from_slice(v));
        assert_eq!(order, vec![0, 2, 1]);
        // Sorted by the acquisition alone, the near-duplicate would come second.
        let mut alone = [1.0, 0.99, 0.9];
        let sorted = VarianceCollapse { inv_two_l2: f64::INFINITY, ..collapse }.batch_order(
            &vectors,
            &mean,
            &mut alone,
            |_, v, s| s.copy_from_slice(v),
        );
        assert_eq!(sorted, vec![0, 1, 2]);
    }

    #[test]
    fn the_column_index_gives_the_same_variances_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // A numeric, a categorical and a conditional (sometimes inactive) column.
        let categorical = vec![false, true, false];
        let point = |rng: &mut rand_chacha::ChaCha8Rng| {
            let inactive = rng.random::<f64>() < 0.2;
            vec![
                rng.random::<f64>(),
                f64::from(rng.random_range(0u8..3)),
                if inactive { f64::NAN } else { rng.random() },
            ]
        };
        let running: Vec<Vec<f64>> = (0..200).map(|_| point(&mut rng)).collect();
        let mut queries: Vec<Vec<f64>> = (0..2_000).map(|_| point(&mut rng)).collect();
        // Some queries on top of running configurations, where the factors are far below 1.
        queries.extend(running.iter().take(50).map(|r| r.iter().map(|v| v + 1e-3).collect::<Vec<_>>()));
        for inv_two_l2 in [5.0, 500.0, 50_000.0] {
            let full = VarianceCollapse {
                running: running.clone(),
                categorical: categorical.clone(),
                inv_two_l2,
                index: None,
            };
            let indexed =
                VarianceCollapse { index: ColumnIndex::new(&running, &categorical), ..full.clone() };
            assert!(indexed.index.as_ref().is_some_and(|i| i.column != 1), "a numeric column is indexed");
            let (mut a, mut b) = (vec![1.0; queries.len()], vec![1.0; queries.len()]);
            full.apply(&queries, &mut a);
            indexed.apply(&queries, &mut b);
            assert!(a.iter().any(|v| *v < 0.5), "some variances collapse at 1/2ℓ² = {inv_two_l2}");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "1/2ℓ² = {inv_two_l2}");
            // Split over three threads, and one vector at a time: the same bits again.
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            let mut split = vec![1.0; queries.len()];
            pool.install(|| indexed.apply(&queries, &mut split));
            let mut single = vec![1.0; queries.len()];
            for (q, v) in queries.iter().zip(single.iter_mut()) {
                indexed.apply(std::slice::from_ref(q), std::slice::from_mut(v));
            }
            assert_eq!(bits(&a), bits(&split), "1/2ℓ² = {inv_two_l2}, three threads");
            assert_eq!(bits(&a), bits(&single), "1/2ℓ² = {inv_two_l2}, one at a time");
        }
    }

    #[test]
    fn lies_are_mean_min_and_max_of_the_observations() {
        let y = Array1::from(vec![1.0, 4.0, -2.0, 5.0]);
        assert_eq!(Fantasy::Mean.value(&y), 2.0);
        assert_eq!(Fantasy::Min.value(&y), -2.0);
        assert_eq!(Fantasy::Max.value(&y), 5.0);
    }
}
