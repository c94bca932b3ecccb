//! Tree-structured Parzen estimator proposals (Bergstra et al. 2011), as Optuna's default
//! univariate `TPESampler` makes them, on the space's vector representation.
//!
//! The observed configurations are split by cost into the best `γ(n) = min(⌈n/10⌉, 25)` and the
//! rest; each hyperparameter gets a Parzen density over the good values, `l(x)`, and one over the
//! others, `g(x)` (both with a uniform prior component); a proposal takes, per hyperparameter,
//! the best of 24 draws from `l` by `l(x)/g(x)`. Numeric hyperparameters are modelled on their
//! unit axis (log-scaled ones on the log axis) with truncated normals whose widths are the
//! distances to their neighbours, clipped to `[1/min(100, 1 + n), 1]` (Optuna's "magic clip");
//! categorical ones with counts plus the prior's weight. Inactive values are left out of a
//! hyperparameter's densities; conditions and forbidden clauses are applied to the result.
//!
//! Why it is here: on continuous problems whose costs span orders of magnitude and whose good
//! region is a narrow basin (goldstein_price, levy5 in `bench_suite`), TPE's densities around
//! the best points keep proposing in every good basin, while a forest's piecewise-constant
//! surrogate commits to one (docs/benchmarks.md).

use crate::acquisition::norm_cdf;
use crate::configspace::{ColumnType, ConfigSpace, Configuration};
use crate::runhistory::RunHistory;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use smac_surrogate::exp_nonpositive;
use std::sync::Arc;

/// Draws from `l(x)` per hyperparameter, of which the best by `l/g` is kept (Optuna: 24).
pub const TPE_CANDIDATES: usize = 24;
/// Weight of the uniform prior component in each density (Optuna: 1.0).
pub const TPE_PRIOR_WEIGHT: f64 = 1.0;
/// Observations below which TPE has nothing to model (fewer than this: no proposal).
const MIN_OBSERVATIONS: usize = 2;
/// Observations from which a proposal scores its hyperparameters on several threads.
const PARALLEL_OBSERVATIONS: usize = 256;

/// The finished configurations of `rh` with their average cost at their highest budget
/// (normalized, for several objectives), in the order they were first seen; non-finite costs
/// count as the worst.
pub fn observations(rh: &RunHistory) -> Vec<(Vec<f64>, f64)> {
    let multi = rh.n_objectives() > 1;
    rh.configs()
        .iter()
        .enumerate()
        .filter_map(|(index, config)| {
            let cost = rh.average_cost(index + 1)?; // ids start at 1
            let y = if multi { rh.normalized_cost(&cost) } else { cost[0] };
            Some((config.vector().to_vec(), if y.is_finite() { y } else { f64::INFINITY }))
        })
        .collect()
}

/// A fitted TPE: per-hyperparameter densities of the good (`l`) and the other (`g`)
/// observations. Proposals from one fit are independent draws, so a caller keeps the fit while
/// no result arrives (the config selector does, as the forest's fit is kept).
pub struct Tpe {
    dims: Vec<(Density, Density)>,
    n_observations: usize,
}

enum Density {
    Numeric(Box<Parzen>),
    Categorical(Categorical),
}

impl Density {
    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            Density::Numeric(p) => p.sample(rng),
            Density::Categorical(c) => c.sample(rng),
        }
    }

    fn ln_pdf(&self, x: f64) -> f64 {
        match self {
            Density::Numeric(p) => p.ln_pdf(x),
            Density::Categorical(c) => c.ln_pdf(x),
        }
    }
}

impl Tpe {
    /// The densities of `observations` (vectors and costs), or `None` with fewer than two.
    pub fn fit(space: &ConfigSpace, observations: &[(Vec<f64>, f64)]) -> Option<Self> {
        let n = observations.len();
        if n < MIN_OBSERVATIONS {
            return None;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| observations[*a].1.total_cmp(&observations[*b].1).then(a.cmp(b)));
        let n_below = n.div_ceil(10).clamp(1, 25);
        let (below, above) = order.split_at(n_below);
        // Optuna's weights: the 25 most recent "above" observations count fully, older ones ramp
        // down (by the order configurations were first seen, which is the trial order).
        let older = n.saturating_sub(25);
        let above_weight = |idx: usize| -> f64 {
            if idx >= older {
                1.0
            } else {
                1.0 / n as f64 + (1.0 - 1.0 / n as f64) * idx as f64 / older as f64
            }
        };
        let dims = space
            .hyperparameters()
            .iter()
            .enumerate()
            .map(|(i, hp)| {
                let values = |set: &[usize], weight: &dyn Fn(usize) -> f64| -> (Vec<f64>, Vec<f64>) {
                    set.iter()
                        .filter(|&&k| !observations[k].0[i].is_nan())
                        .map(|&k| (observations[k].0[i], weight(k)))
                        .unzip()
                };
                let (l_x, l_w) = values(below, &|_| 1.0);
                let (g_x, g_w) = values(above, &above_weight);
                match hp.column_type() {
                    ColumnType::Categorical(k) => (
                        Density::Categorical(Categorical::new(k, &l_x, &l_w)),
                        Density::Categorical(Categorical::new(k, &g_x, &g_w)),
                    ),
                    ColumnType::Continuous => (
                        Density::Numeric(Box::new(Parzen::new(&l_x, &l_w))),
                        Density::Numeric(Box::new(Parzen::new(&g_x, &g_w))),
                    ),
                }
            })
            .collect();
        Some(Tpe { dims, n_observations: n })
    }

    /// A TPE proposal: per hyperparameter the best of [`TPE_CANDIDATES`] draws from `l` by
    /// `l/g`; `None` when it violates a forbidden clause.
    ///
    /// All draws are made first, in the order of the hyperparameters, and then scored; with
    /// many observations the hyperparameters are scored on rayon's threads (scoring `g` is
    /// the cost of a proposal then), which leaves the result as one thread would make it.
    pub fn propose(&self, space: &Arc<ConfigSpace>, rng: &mut ChaCha8Rng) -> Option<Configuration> {
        let draws: Vec<Vec<f64>> =
            self.dims.iter().map(|(l, _)| (0..TPE_CANDIDATES).map(|_| l.sample(rng)).collect()).collect();
        let best =
            |((l, g), xs): (&(Density, Density), &Vec<f64>)| best_of(xs, |x| l.ln_pdf(x) - g.ln_pdf(x));
        let vector: Vec<f64> = if self.n_observations >= PARALLEL_OBSERVATIONS {
            smac_surrogate::parallel::install(|| self.dims.par_iter().zip(&draws).map(best).collect())
        } else {
            self.dims.iter().zip(&draws).map(best).collect()
        };
        finish(space, vector).map(|v| Configuration::from_canonical_vector(space, v))
    }
}

/// Snaps a drawn point onto the space: canonical values, inactive entries NaN, `None` when a
/// forbidden clause is violated.
fn finish(space: &ConfigSpace, mut vector: Vec<f64>) -> Option<Vec<f64>> {
    for (x, hp) in vector.iter_mut().zip(space.hyperparameters()) {
        if matches!(hp.column_type(), ColumnType::Continuous) {
            *x = hp.canonical_vector(*x);
        }
    }
    // Every entry holds a value, so activation only blanks the inactive ones.
    space.activate(&mut vector, |hp| hp.canonical_vector(0.5));
    space.violated_forbidden(&vector).is_none().then_some(vector)
}

/// A TPE proposal from `observations` (vectors and costs), or `None` with fewer than two or when
/// the proposal violates a forbidden clause. Fits anew on every call: see [`Tpe`] to keep a fit.
pub fn propose(
    space: &Arc<ConfigSpace>,
    observations: &[(Vec<f64>, f64)],
    rng: &mut ChaCha8Rng,
) -> Option<Configuration> {
    Tpe::fit(space, observations)?.propose(space, rng)
}

/// The draw with the highest score (the first of equals).
fn best_of(draws: &[f64], score: impl Fn(f64) -> f64) -> f64 {
    let mut best = (f64::NEG_INFINITY, f64::NAN);
    for &x in draws {
        let s = score(x);
        if s > best.0 || best.1.is_nan() {
            best = (s, x);
        }
    }
    best.1
}

/// Components per block of [`Parzen`]'s sorted terms, the unit of skipping far-away components.
const TERM_BLOCK: usize = 16;
/// Standard deviations beyond which a block of components is left out of a density: their share
/// is below `128 · n · exp(−72)` of the density (the prior alone contributes `0.92 / W` and no
/// component more than `118 / W`, with `σ ≥ 0.01`), under 1e-27 for a million observations, so
/// far below an f64's resolution that the sum does not change.
const TERM_REACH: f64 = 12.0;

/// One normal component truncated to `[0, 1]`, with its weight and truncation folded into `coef`.
#[derive(Clone, Copy)]
struct Term {
    mu: f64,
    sigma: f64,
    coef: f64,
}

/// Components in structure-of-arrays form, padded with zero-weight ones to whole blocks.
#[derive(Default)]
struct Blocks {
    mu: Vec<f64>,
    inv_sigma: Vec<f64>,
    coef: Vec<f64>,
}

impl Blocks {
    /// `terms` in this form, in their order.
    fn new(terms: &[Term]) -> Self {
        let padding = Term { mu: 0.5, sigma: 1.0, coef: 0.0 };
        let padded = terms.len().next_multiple_of(TERM_BLOCK);
        let mut blocks = Blocks::default();
        for t in terms.iter().chain(std::iter::repeat(&padding)).take(padded) {
            blocks.mu.push(t.mu);
            blocks.inv_sigma.push(1.0 / t.sigma);
            blocks.coef.push(t.coef);
        }
        blocks
    }

    /// The summed densities of block `b` at `x`.
    fn density(&self, b: usize, x: f64) -> f64 {
        let range = b * TERM_BLOCK..(b + 1) * TERM_BLOCK;
        let (mu, inv_sigma, coef) =
            (&self.mu[range.clone()], &self.inv_sigma[range.clone()], &self.coef[range]);
        let mut each = [0.0; TERM_BLOCK];
        for j in 0..TERM_BLOCK {
            let z = (x - mu[j]) * inv_sigma[j];
            each[j] = coef[j] * exp_nonpositive(-0.5 * z * z);
        }
        each.iter().sum()
    }
}

/// A mixture of normals truncated to `[0, 1]`, one per value, plus the prior `N(0.5, 1)`.
///
/// Evaluating `g` over every observation for each of 24 draws per hyperparameter is the whole
/// cost of a proposal at thousands of trials (it cost the 256-worker benchmark a third of its
/// busy time), so the density keeps its components sorted by mean in blocks, skips the blocks
/// farther than [`TERM_REACH`] of their widest component's `σ` from the point, and evaluates a
/// block's components in one vectorized pass (the GP kernel's branch-free `exp_nonpositive`,
/// where a libm call per component would keep the loop scalar).
struct Parzen {
    /// Means, widths and normalized weights in the order of the values, for sampling.
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    weights: Vec<f64>,
    /// The components but the prior, sorted by mean.
    blocks: Blocks,
    /// Per block of [`TERM_BLOCK`] sorted components: the lowest and highest point it reaches.
    reach: Vec<(f64, f64)>,
    /// The prior `N(0.5, 1)`, as one block.
    prior: Blocks,
}

impl Parzen {
    fn new(values: &[f64], weights: &[f64]) -> Self {
        let mut mus: Vec<f64> = values.to_vec();
        let mut ws: Vec<f64> = weights.to_vec();
        mus.push(0.5);
        ws.push(TPE_PRIOR_WEIGHT);
        // Width of each value: the larger distance to its sorted neighbours (the prior included).
        let mut sorted: Vec<usize> = (0..mus.len()).collect();
        sorted.sort_by(|a, b| mus[*a].total_cmp(&mus[*b]));
        let m = mus.len();
        let min_sigma = 1.0 / (100.0f64).min(1.0 + m as f64);
        let mut sigmas = vec![1.0; m];
        for (pos, &k) in sorted.iter().enumerate() {
            let left = if pos > 0 { mus[k] - mus[sorted[pos - 1]] } else { 0.0 };
            let right = if pos + 1 < m { mus[sorted[pos + 1]] - mus[k] } else { 0.0 };
            sigmas[k] = left.max(right).clamp(min_sigma, 1.0);
        }
        sigmas[m - 1] = 1.0; // the prior
        let total: f64 = ws.iter().sum();
        ws.iter_mut().for_each(|w| *w /= total);
        let term = |k: usize| {
            let (mu, sigma) = (mus[k], sigmas[k]);
            let mass = (norm_cdf((1.0 - mu) / sigma) - norm_cdf(-mu / sigma)).max(1e-300);
            Term { mu, sigma, coef: ws[k] / (sigma * (2.0 * std::f64::consts::PI).sqrt() * mass) }
        };
        let terms: Vec<Term> = sorted.iter().filter(|&&k| k != m - 1).map(|&k| term(k)).collect();
        let reach = terms
            .chunks(TERM_BLOCK)
            .map(|block| {
                let widest = block.iter().map(|t| t.sigma).fold(0.0, f64::max) * TERM_REACH;
                (block[0].mu - widest, block[block.len() - 1].mu + widest)
            })
            .collect();
        let blocks = Blocks::new(&terms);
        // The prior's `σ` is 1, so `(x − μ)·(1/σ)` is `(x − μ)/σ` to the bit: one formula serves
        // both, as a block of one component (the zero-weight padding adds exact zeros).
        let prior = Blocks::new(&[term(m - 1)]);
        Parzen { mus, sigmas, weights: ws, blocks, reach, prior }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        let k = pick(&self.weights, rng);
        let (mu, s) = (self.mus[k], self.sigmas[k]);
        for _ in 0..100 {
            let x = mu + s * rng.sample::<f64, _>(StandardNormal);
            if (0.0..=1.0).contains(&x) {
                return x;
            }
        }
        rng.random::<f64>()
    }

    fn ln_pdf(&self, x: f64) -> f64 {
        let mut p = self.prior.density(0, x);
        for (b, &(low, high)) in self.reach.iter().enumerate() {
            if (low..=high).contains(&x) {
                p += self.blocks.density(b, x);
            }
        }
        p.max(1e-300).ln()
    }
}

/// Counts per category plus the prior's weight spread evenly.
struct Categorical {
    probabilities: Vec<f64>,
}

impl Categorical {
    fn new(k: usize, values: &[f64], weights: &[f64]) -> Self {
        let mut p = vec![TPE_PRIOR_WEIGHT / k as f64; k];
        for (v, w) in values.iter().zip(weights) {
            if let Some(slot) = p.get_mut(*v as usize) {
                *slot += w;
            }
        }
        let total: f64 = p.iter().sum();
        p.iter_mut().for_each(|x| *x /= total);
        Categorical { probabilities: p }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        pick(&self.probabilities, rng) as f64
    }

    fn ln_pdf(&self, x: f64) -> f64 {
        self.probabilities.get(x as usize).copied().unwrap_or(0.0).max(1e-300).ln()
    }
}

/// An index drawn with probability proportional to `weights`.
fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (k, w) in weights.iter().enumerate() {
        if u < *w {
            return k;
        }
        u -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{Condition, Forbidden, Hyperparameter};
    use crate::trial::{unix_now, TrialInfo, TrialValue};
    use rand::SeedableRng;

    /// A run history of `n` random configurations of `space`, each scored by `cost`.
    fn history(space: &Arc<ConfigSpace>, n: usize, cost: impl Fn(&Configuration) -> f64) -> RunHistory {
        let mut rh = RunHistory::new(1);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for c in space.sample(n, &mut rng).unwrap() {
            let value = TrialValue::success(vec![cost(&c)], unix_now());
            rh.add(&TrialInfo::new(c, Some(0)), value);
        }
        rh
    }

    fn proposals(space: &Arc<ConfigSpace>, rh: &RunHistory, n: usize, seed: u64) -> Vec<Configuration> {
        let observations = observations(rh);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).filter_map(|_| propose(space, &observations, &mut rng)).collect()
    }

    #[test]
    fn observations_pair_each_configuration_with_its_own_cost() {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0)]).unwrap();
        let space = Arc::new(cs);
        let rh = history(&space, 20, |c| 10.0 * c.get_f64("x").unwrap());
        let observations = observations(&rh);
        assert_eq!(observations.len(), 20);
        for (vector, cost) in observations {
            assert!((cost - 10.0 * vector[0]).abs() < 1e-9, "{vector:?} scored {cost}");
        }
    }

    #[test]
    fn numeric_proposals_gather_where_the_good_observations_are() {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 10.0), Hyperparameter::float("y", 0.0, 10.0)]).unwrap();
        let space = Arc::new(cs);
        let distance = |c: &Configuration| {
            ((c.get_f64("x").unwrap() - 8.0).powi(2) + (c.get_f64("y").unwrap() - 2.0).powi(2)).sqrt()
        };
        let rh = history(&space, 60, distance);
        let mut tpe: Vec<f64> = proposals(&space, &rh, 200, 1).iter().map(distance).collect();
        let mut uniform: Vec<f64> =
            space.sample(200, &mut ChaCha8Rng::seed_from_u64(1)).unwrap().iter().map(distance).collect();
        assert_eq!(tpe.len(), 200, "an unconstrained space always gets a proposal");
        tpe.sort_by(f64::total_cmp);
        uniform.sort_by(f64::total_cmp);
        assert!(
            tpe[100] < 0.4 * uniform[100],
            "median distance {} against {} uniform",
            tpe[100],
            uniform[100]
        );
    }

    #[test]
    fn categorical_proposals_favour_the_good_category() {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([
            Hyperparameter::categorical("k", ["a", "b", "c", "d"]),
            Hyperparameter::float("x", 0.0, 1.0),
        ])
        .unwrap();
        let space = Arc::new(cs);
        let rh = history(
            &space,
            60,
            |c| if c.get_str("k") == Some("c") { 0.0 } else { 1.0 } + c.get_f64("x").unwrap(),
        );
        let picked = proposals(&space, &rh, 200, 2).iter().filter(|c| c.get_str("k") == Some("c")).count();
        assert!(picked > 120, "the good category in {picked} of 200 proposals (uniform: about 50)");
    }

    #[test]
    fn proposals_respect_conditions_and_forbidden_clauses() {
        let mut cs = ConfigSpace::new("svm");
        cs.add_all([
            Hyperparameter::categorical("kernel", ["linear", "poly", "rbf"]),
            Hyperparameter::integer("degree", 1, 5),
            Hyperparameter::float("gamma", 1e-4, 10.0).log(),
        ])
        .unwrap();
        cs.add_condition(Condition::equals("degree", "kernel", "poly")).unwrap();
        cs.add_condition(Condition::is_in("gamma", "kernel", ["rbf", "poly"])).unwrap();
        cs.add_forbidden(Forbidden::and([
            Forbidden::equals("kernel", "poly"),
            Forbidden::equals("degree", 5),
        ]))
        .unwrap();
        let space = Arc::new(cs);
        // The best configurations are poly with degree 5, which is forbidden: TPE leans there.
        let rh = history(&space, 50, |c| {
            let degree = c.get_i64("degree").map_or(3.0, |d| (5 - d) as f64);
            if c.get_str("kernel") == Some("poly") {
                degree
            } else {
                5.0
            }
        });
        let all = proposals(&space, &rh, 300, 3);
        assert!(all.len() > 100, "most proposals are allowed ({} of 300)", all.len());
        for c in &all {
            space.check_vector(c.vector()).unwrap();
        }
    }

    #[test]
    fn skipping_far_components_leaves_the_density_as_the_full_mixture_gives_it() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // Clustered values (narrow widths, many skipped blocks) and a few isolated ones.
        let mut values: Vec<f64> = (0..3000).map(|_| 0.3 + 0.05 * rng.random::<f64>()).collect();
        values.extend((0..200).map(|_| rng.random::<f64>()));
        values.extend([0.0, 1.0, 0.999, 0.5]);
        let weights: Vec<f64> = (0..values.len()).map(|k| 0.1 + (k % 7) as f64).collect();
        let parzen = Parzen::new(&values, &weights);
        let full = |x: f64| -> f64 {
            let p: f64 = (0..parzen.mus.len())
                .map(|k| {
                    let (mu, s) = (parzen.mus[k], parzen.sigmas[k]);
                    let mass = norm_cdf((1.0 - mu) / s) - norm_cdf(-mu / s);
                    let z = (x - mu) / s;
                    parzen.weights[k] * (-0.5 * z * z).exp()
                        / (s * (2.0 * std::f64::consts::PI).sqrt() * mass)
                })
                .sum();
            p.ln()
        };
        let skipped = parzen.reach.iter().filter(|(low, high)| !(low..=high).contains(&&0.9)).count();
        assert!(skipped > parzen.reach.len() / 2, "far from the cluster most blocks are skipped");
        for i in 0..=1000 {
            let x = i as f64 / 1000.0;
            let (fast, slow) = (parzen.ln_pdf(x), full(x));
            assert!((fast - slow).abs() <= 1e-12 * slow.abs().max(1.0), "at {x}: {fast} against {slow}");
        }
    }

    #[test]
    fn a_kept_fit_proposes_what_fresh_fits_would() {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0), Hyperparameter::categorical("k", ["a", "b"])])
            .unwrap();
        let space = Arc::new(cs);
        let rh = history(&space, 40, |c| c.get_f64("x").unwrap());
        let tpe = Tpe::fit(&space, &observations(&rh)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let kept: Vec<_> = (0..20).filter_map(|_| tpe.propose(&space, &mut rng)).collect();
        assert_eq!(kept.len(), 20);
        assert_eq!(kept, proposals(&space, &rh, 20, 9));
    }

    #[test]
    fn no_proposal_from_fewer_than_two_observations_and_the_same_seed_repeats() {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0)]).unwrap();
        let space = Arc::new(cs);
        let one = history(&space, 1, |c| c.get_f64("x").unwrap());
        assert!(proposals(&space, &one, 5, 0).is_empty());
        let rh = history(&space, 30, |c| c.get_f64("x").unwrap());
        assert_eq!(proposals(&space, &rh, 10, 4), proposals(&space, &rh, 10, 4));
        assert_ne!(proposals(&space, &rh, 10, 4), proposals(&space, &rh, 10, 5));
    }
}
