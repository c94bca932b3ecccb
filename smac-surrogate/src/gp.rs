//! Gaussian-process surrogate as configured by SMAC3's BlackBox facade.
//!
//! * Kernel: `σ² · Matérn₅/₂(continuous, ARD) · Hamming(categorical) + σ_n²` (module `kernel`).
//! * Inactive values are imputed like SMAC3 (−1 for continuous columns, an extra category for
//!   categorical ones); continuous inputs are otherwise used as given (normally in `[0, 1]`).
//! * Targets are standardized (mean 0, population std 1; a zero std is replaced by 1).
//! * Hyperparameters maximize the log marginal likelihood plus log-priors (module `likelihood`)
//!   with a projected L-BFGS (module `optim`) inside SMAC3's bounds, started from the previous
//!   optimum (warm start; SMAC3's kernel initialisation on the first fit) and from
//!   `n_restarts` random points (log length-scales and log noise uniform in their bounds, log
//!   amplitude standard normal as its prior).
//! * `predict` returns the mean and the variance of the latent function (noise excluded),
//!   de-standardized and floored at [`VARIANCE_FLOOR`].
//!
//! Bounds: SMAC3's BlackBox facade uses `σ² ∈ [e⁻¹⁰, e²]`, `ℓ ∈ [e^−6.754, e^0.0859] ≈
//! [0.0012, 1.09]` and `σ_n² ∈ [e⁻²⁵, e²]`; these are the defaults (all configurable).
//!
//! # Refit schedule and incremental updates
//! Re-optimizing the hyperparameters costs O(n³) per likelihood evaluation and 100–300
//! evaluations; at n = 400 that is seconds per trial. [`RefitSchedule`] (default: every fit up
//! to 100 rows, then whenever the data has grown by half: 150, 225, 338, 507, 761, … rows)
//! decides when `fit` re-optimizes. In between, `fit` keeps the hyperparameters and, when the
//! new rows are appended to the previous ones, extends the factor by one bordered Cholesky
//! step per row: with `l = L⁻¹ k(X, x)` and `l_* = √(k(x, x) − ‖l‖²)`, the new row of `L⁻¹` is
//! `[−l_*⁻¹ lᵀ L⁻¹, l_*⁻¹]` (O(n²) per row). `α = L⁻ᵀ L⁻¹ y` is then recomputed in O(n²), so
//! the targets (and their standardization) may change freely. A non-positive pivot falls
//! back to a full factorization with the usual jitter escalation ([`FitKind::Refactored`]).
//! Rows that changed since the last fit (the fantasies of running trials, replaced by results)
//! are cut off first — the leading block of `L⁻¹` is exact for the leading rows — and only a
//! changed first row forces a re-optimization. [`GaussianProcess::last_fit`] tells which
//! happened. `RefitSchedule::every_fit()` restores re-optimizing after every trial.
//!
//! # Performance
//! One likelihood evaluation at n = 100 costs about 0.15 ms (three n³/6 triangular kernels:
//! Cholesky in Crout order, triangular inverse, `K⁻¹`), and a fit needs 40–120 evaluations for
//! the warm start plus 2 random restarts. The hot loops are compiled a second and a third time
//! with AVX2 and AVX-512 and selected at run time (`crate::has_avx2`, `crate::has_avx512`);
//! without fused multiply-adds every variant computes bit-identical results.
//!
//! Prediction is dominated by the variance `σ² − ‖L⁻¹ k*‖²` (n²/2 multiply-adds per point).
//! `L⁻¹` is stored packed (row `i` at `i(i+1)/2`), the cross-covariances of 32 points are
//! computed query-contiguous and stored transposed, and the micro-kernel keeps the
//! accumulators of 4 rows × 24 points (AVX-512; 2 rows × 16 points with AVX2) in registers, so
//! each load of the cross-covariances serves several rows. The last points of a block go
//! through 16- and 8-point kernels: a local-search step of a six-dimensional space scores 24
//! points per running search, which a 32-wide kernel would pad by a third. Large calls are
//! split over up to `predict_threads` threads of the model's pool (each point's arithmetic is
//! unchanged); a split pays off for a few hundred points (the local searches of one
//! maximization scored together), not for one search's 24 (`gp_fit` on 2026-12-07, idle
//! machine: 10,000 points at n = 1,000 in 480 ms with one thread, 279 ms with two; in calls of
//! 24, 477 and 379 ms).
//!
//! Measured on the 2-core development machine (shared with other builds, so ±30%), d = 6
//! (`cargo bench -p smac-surrogate --bench gp_fit`):
//!
//! | n   | cold fit | warm refit (after n − 1 points) | predict 10,000 points |
//! |-----|----------|----------------------------------|-----------------------|
//! | 25  | 0.8 ms   | 0.6 ms                           | 1.6 ms                |
//! | 50  | 5.7 ms   | 3.6 ms                           | 1.7 ms                |
//! | 100 | 32 ms    | 34 ms                            | 6.2 ms                |
//!
//! | n     | extend the factor from 100 rows | predict 10,000 points, 1 thread | in calls of 24 points |
//! |-------|---------------------------------|---------------------------------|-----------------------|
//! | 250   | 1.4 ms                          | 35 ms                           | 30 ms                 |
//! | 500   | 13 ms                           | 95 ms                           | 92 ms                 |
//! | 1,000 | 118 ms                          | 333 ms                          | 288 ms                |
//!
//! Before the packed, row-blocked kernel, 10,000 predictions in calls of 24 points took
//! 757–916 ms at n = 1,000 and 209–264 ms at n = 500.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::gp_variance::block_sq;
use crate::kernel::{Hyper, Layout, Pairs, ScaledRows};
use crate::likelihood::{self, Factor, Likelihood, BASE_JITTER};
use crate::linalg::{self, packed_row};
use crate::optim::{self, Options};
use crate::{FeatureType, Surrogate, SurrogateError, VARIANCE_FLOOR};

/// Query rows are processed in blocks of this many points in `predict`.
pub(crate) const BLOCK: usize = 32;
/// Points handled together by the variance micro-kernel (accumulators kept in registers): four
/// vectors per row with AVX2 (and in the baseline build)…
const LANES: usize = 16;
/// …and three with AVX-512.
#[cfg(target_arch = "x86_64")]
const LANES_AVX512: usize = 24;
/// The narrowest kernel, for the last points of a block (a local-search step scores a few
/// dozen points, so padding them to a full kernel width would waste up to half the work).
pub(crate) const MIN_LANES: usize = 8;
/// `predict` splits its rows over threads once it needs about this many multiply-adds
/// (`rows · n² / 2`, about 0.1 ms); below that, spawning costs more than it saves. Measured on
/// whole BlackBox runs (hartmann6, 400 trials, seeds 0–2): 8.5–9.3 s at 1e6 against
/// 9.0–9.8 s at 4e5 and 9.3–11.1 s at 4e6.
const PARALLEL_WORK: f64 = 1e6;

/// When [`GaussianProcess::fit`] re-optimizes the hyperparameters (marginal likelihood with
/// restarts). Between re-optimizations the previous hyperparameters are kept and the Cholesky
/// factor is extended by the new rows (`O(n²)` per row instead of `O(n³)` per likelihood
/// evaluation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefitSchedule {
    /// Re-optimize at every fit while the data has at most this many rows.
    pub every_fit_until: usize,
    /// Beyond `every_fit_until` rows, re-optimize once the data has grown to `growth` times
    /// the number of rows of the last optimization (geometric spacing); `1.0` = every fit.
    pub growth: f64,
}

impl RefitSchedule {
    /// Re-optimize at every fit (the behaviour before the schedule existed).
    pub fn every_fit() -> Self {
        Self { every_fit_until: usize::MAX, growth: 1.0 }
    }

    /// Whether a fit on `n` rows re-optimizes when the last optimization saw `last` rows
    /// (`None`: never optimized).
    pub fn is_due(&self, n: usize, last: Option<usize>) -> bool {
        match last {
            None => true,
            Some(last) => n <= self.every_fit_until || n as f64 >= last as f64 * self.growth,
        }
    }
}

impl Default for RefitSchedule {
    /// Every fit up to 100 rows (so runs of up to 100 trials are exactly as before the
    /// schedule), then whenever the data has grown by half: at 150, 225, 338, 507, 761, … rows.
    fn default() -> Self {
        Self { every_fit_until: 100, growth: 1.5 }
    }
}

/// How the last [`GaussianProcess::fit`] obtained its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FitKind {
    /// Hyperparameters re-optimized, covariance factorized from scratch.
    Optimized,
    /// Previous hyperparameters kept, factor extended by the appended rows.
    Extended,
    /// Previous hyperparameters kept, factor recomputed from scratch (the extension hit a
    /// non-positive pivot, so the jitter escalation of a full factorization was needed).
    Refactored,
}

/// Hyperparameters of [`GaussianProcess`] fitting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianProcessConfig {
    /// Seed for the random restarts.
    pub seed: u64,
    /// Random restarts of the optimizer in addition to the warm start.
    pub n_restarts: usize,
    /// Maximum L-BFGS iterations per start.
    pub max_iter: usize,
    /// Bounds of the signal variance σ².
    pub amplitude_bounds: (f64, f64),
    /// Bounds of every length-scale.
    pub length_scale_bounds: (f64, f64),
    /// Bounds of the noise variance σ_n² (standardized units).
    pub noise_bounds: (f64, f64),
    /// Add SMAC3's log-normal (amplitude) and horseshoe (noise) priors to the likelihood.
    pub use_priors: bool,
    /// When the hyperparameters are re-optimized.
    #[serde(default)]
    pub refit: RefitSchedule,
    /// Threads `predict` may use for large batches (0: the number of available cores).
    /// Results do not depend on it. Default 1, so a GP used on its own does not take cores it
    /// was not given; the BlackBox facade uses all cores when the scenario has one worker
    /// (`SmboBuilder::blackbox_gp`), where its local searches score their neighbourhoods in one
    /// batch: 1,000 trials of hartmann6 took 78–85 s with two threads against 122–132 s with one.
    #[serde(default = "one")]
    pub predict_threads: usize,
}

impl Default for GaussianProcessConfig {
    /// SMAC3 BlackBox-facade bounds and priors, 2 random restarts, 50 iterations per start,
    /// the default [`RefitSchedule`].
    fn default() -> Self {
        Self {
            seed: 0,
            n_restarts: 2,
            max_iter: 50,
            amplitude_bounds: ((-10.0f64).exp(), 2.0f64.exp()),
            length_scale_bounds: ((-6.754_111_155_189_306f64).exp(), 0.085_863_798_877_197_6f64.exp()),
            noise_bounds: ((-25.0f64).exp(), 2.0f64.exp()),
            use_priors: true,
            refit: RefitSchedule::default(),
            predict_threads: 1,
        }
    }
}

fn one() -> usize {
    1
}

/// A Gaussian-process regressor with marginal-likelihood hyperparameter fitting.
#[derive(Debug, Clone)]
pub struct GaussianProcess {
    config: GaussianProcessConfig,
    types: Vec<FeatureType>,
    layout: Layout,
    rng: ChaCha8Rng,
    /// Log-space hyperparameters of the last fit (warm start of the next one).
    theta: Option<Vec<f64>>,
    /// Rows of the last hyperparameter optimization.
    optimized_on: Option<usize>,
    last_fit: Option<FitKind>,
    model: Option<Fitted>,
}

/// Everything `predict` and the incremental update need.
#[derive(Debug, Clone)]
struct Fitted {
    hyper: Hyper,
    /// Imputed training rows, row-major `n × d`.
    xs: Vec<f64>,
    rows: ScaledRows,
    n: usize,
    /// `L⁻¹`, packed row-major lower triangular (row `i` at `i(i+1)/2`, `i + 1` entries).
    l_inv: Vec<f64>,
    /// Diagonal of the factorized covariance: `σ² + σ_n² + BASE_JITTER + extra jitter`.
    diag: f64,
    alpha: Vec<f64>,
    y_mean: f64,
    y_std: f64,
    nll: f64,
}

impl Fitted {
    /// Keeps the first `n` rows: the leading block of `L⁻¹` is the inverse factor of the leading
    /// block of the covariance, so the factor stays exact (α is recomputed by the caller).
    fn truncate(&mut self, n: usize, d: usize) {
        if n < self.n {
            self.n = n;
            self.xs.truncate(n * d);
            self.l_inv.truncate(packed_row(n));
        }
    }
}

impl GaussianProcess {
    /// Creates an unfitted GP for columns of the given types.
    pub fn new(config: GaussianProcessConfig, types: Vec<FeatureType>) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            layout: Layout::new(&types),
            config,
            types,
            theta: None,
            optimized_on: None,
            last_fit: None,
            model: None,
        }
    }

    /// The GP's configuration.
    pub fn config(&self) -> &GaussianProcessConfig {
        &self.config
    }

    /// How the last successful fit obtained its model, if fitted.
    pub fn last_fit(&self) -> Option<FitKind> {
        self.last_fit.filter(|_| self.model.is_some())
    }

    /// Fitted length-scales in column order, if fitted.
    pub fn length_scales(&self) -> Option<Vec<f64>> {
        let theta = self.theta.as_ref().filter(|_| self.model.is_some())?;
        Some(theta[1..=self.layout.d].iter().map(|v| v.exp()).collect())
    }

    /// Fitted signal variance σ² (standardized units), if fitted.
    pub fn amplitude(&self) -> Option<f64> {
        self.model.as_ref().map(|m| m.hyper.amp)
    }

    /// Fitted noise variance σ_n² (standardized units), if fitted.
    pub fn noise(&self) -> Option<f64> {
        self.model.as_ref().map(|m| m.hyper.noise)
    }

    /// Negative log marginal likelihood plus negative log-prior at the fitted hyperparameters.
    pub fn objective(&self) -> Option<f64> {
        self.model.as_ref().map(|m| m.nll)
    }

    /// Lower and upper bounds of the log-space hyperparameters.
    fn bounds(&self) -> Result<(Vec<f64>, Vec<f64>), SurrogateError> {
        let c = &self.config;
        for (name, (lo, hi)) in [
            ("amplitude_bounds", c.amplitude_bounds),
            ("length_scale_bounds", c.length_scale_bounds),
            ("noise_bounds", c.noise_bounds),
        ] {
            if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
                return Err(SurrogateError::InvalidConfig(format!(
                    "{name} must satisfy 0 < lower <= upper < inf, got ({lo}, {hi})"
                )));
            }
        }
        let d = self.layout.d;
        let mut lower = vec![c.length_scale_bounds.0.ln(); d + 2];
        let mut upper = vec![c.length_scale_bounds.1.ln(); d + 2];
        (lower[0], upper[0]) = (c.amplitude_bounds.0.ln(), c.amplitude_bounds.1.ln());
        (lower[d + 1], upper[d + 1]) = (c.noise_bounds.0.ln(), c.noise_bounds.1.ln());
        Ok((lower, upper))
    }

    /// SMAC3's kernel initialisation: σ² = 2, ℓ = 1, σ_n² = 1e-8 (clamped into the bounds).
    fn initial_theta(&self, lower: &[f64], upper: &[f64]) -> Vec<f64> {
        let d = self.layout.d;
        let mut theta = vec![0.0; d + 2];
        theta[0] = 2.0f64.ln();
        theta[d + 1] = 1e-8f64.ln();
        for ((t, lo), hi) in theta.iter_mut().zip(lower).zip(upper) {
            *t = t.clamp(*lo, *hi);
        }
        theta
    }

    fn random_theta(&mut self, lower: &[f64], upper: &[f64]) -> Vec<f64> {
        let mut theta: Vec<f64> =
            lower.iter().zip(upper).map(|(&lo, &hi)| lo + (hi - lo) * self.rng.random::<f64>()).collect();
        // Standard normal on ln σ² (its prior), by Box–Muller.
        let (u1, u2): (f64, f64) = (self.rng.random(), self.rng.random());
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        theta[0] = z.clamp(lower[0], upper[0]);
        theta
    }

    /// Maximizes the marginal likelihood (warm start plus random restarts) and factorizes.
    fn optimize(
        &mut self,
        xs: &[f64],
        n: usize,
        ys: &[f64],
    ) -> Result<(Vec<f64>, Factor, f64), SurrogateError> {
        let (lower, upper) = self.bounds()?;
        let pairs = Pairs::new(xs, n, &self.layout);
        let layout = self.layout.clone();
        let mut lik = Likelihood::new(&layout, &pairs, ys, self.config.use_priors);
        let mut starts = vec![match &self.theta {
            Some(t) => t.clone(),
            None => self.initial_theta(&lower, &upper),
        }];
        for _ in 0..self.config.n_restarts {
            starts.push(self.random_theta(&lower, &upper));
        }
        let opts = Options {
            max_iter: self.config.max_iter,
            max_evals: 2 * self.config.max_iter + 20,
            ..Options::default()
        };
        let mut best: Option<optim::Minimum> = None;
        let mut evals = 0;
        for start in &starts {
            let m = optim::minimize(|t, g| lik.eval(t, g), start, &lower, &upper, &opts);
            evals += m.evals;
            if m.f.is_finite() && best.as_ref().is_none_or(|b| m.f < b.f) {
                best = Some(m);
            }
        }
        let theta = match best {
            Some(m) => m.x,
            None => starts[0].clone(),
        };
        let factor = factorize(&mut lik, &theta)?;
        let nll = lik.value(&theta);
        tracing::debug!(n, evals, nll, ?theta, "optimized the Gaussian process hyperparameters");
        Ok((theta, factor, nll))
    }

    /// A model from a from-scratch factorization.
    fn model_from_factor(
        &self,
        theta: &[f64],
        factor: Factor,
        xs: Vec<f64>,
        n: usize,
        stats: (f64, f64, f64),
    ) -> Fitted {
        let (y_mean, y_std, nll) = stats;
        let mut u = vec![0.0; n * n];
        linalg::inverse_factor_transposed(&factor.l, n, &mut u);
        // Row i of L⁻¹ is column i of U = (L⁻¹)ᵀ.
        let mut l_inv = Vec::with_capacity(packed_row(n));
        for i in 0..n {
            l_inv.extend((0..=i).map(|k| u[k * n + i]));
        }
        let hyper = Hyper::new(theta, &self.layout);
        Fitted {
            rows: ScaledRows::new(&xs, n, &self.layout, &hyper),
            diag: hyper.amp + hyper.noise + BASE_JITTER + factor.jitter,
            hyper,
            xs,
            n,
            l_inv,
            alpha: factor.alpha,
            y_mean,
            y_std,
            nll,
        }
    }

    /// Extends `model` (same hyperparameters) by the rows `model.n..n` of `xs`, one bordered
    /// Cholesky step per row, then recomputes `α` and the objective for the targets `ys`.
    /// Returns `None` when a pivot is not positive (the caller refactorizes with jitter).
    fn extend(
        &self,
        mut model: Fitted,
        xs: Vec<f64>,
        n: usize,
        ys: &[f64],
        y_stats: (f64, f64),
    ) -> Option<Fitted> {
        let d = self.layout.d;
        let hyper = model.hyper.clone();
        let mut b = vec![0.0; n];
        let mut l = vec![0.0; n];
        let mut t = vec![0.0; n];
        model.l_inv.reserve(packed_row(n) - packed_row(model.n));
        for j in model.n..n {
            // Covariances of row j with rows 0..j, computed as `Likelihood::build` does.
            let xj = &xs[j * d..(j + 1) * d];
            for (i, bi) in b[..j].iter_mut().enumerate() {
                let xi = &xs[i * d..(i + 1) * d];
                let r2: f64 = self
                    .layout
                    .cont
                    .iter()
                    .zip(&hyper.inv_ls2_cont)
                    .map(|(&c, w)| (xi[c] - xj[c]).powi(2) * w)
                    .sum();
                let h: f64 = self
                    .layout
                    .cat
                    .iter()
                    .zip(&hyper.half_inv_ls2_cat)
                    .map(|(&c, w)| if xi[c] == xj[c] { 0.0 } else { *w })
                    .sum();
                *bi = hyper.amp * Hyper::correlation(r2, h).0;
            }
            // New row of L: l = L⁻¹ b, l_jj = √(k_jj − ‖l‖²).
            linalg::packed_lower_matvec(&model.l_inv, j, &b, &mut l);
            let pivot = model.diag - linalg::dot(&l[..j], &l[..j]);
            if !(pivot > 0.0 && pivot.is_finite()) {
                return None;
            }
            let inv = 1.0 / pivot.sqrt();
            // New row of L⁻¹: [−l_jj⁻¹ lᵀ L⁻¹, l_jj⁻¹].
            linalg::packed_lower_t_matvec(&model.l_inv, j, &l, &mut t);
            model.l_inv.extend(t[..j].iter().map(|v| -v * inv));
            model.l_inv.push(inv);
        }
        model.n = n;
        model.rows = ScaledRows::new(&xs, n, &self.layout, &hyper);
        model.xs = xs;
        // α = L⁻ᵀ L⁻¹ y and the objective at the kept hyperparameters.
        let mut z = vec![0.0; n];
        linalg::packed_lower_matvec(&model.l_inv, n, ys, &mut z);
        let data_fit: f64 = z.iter().map(|v| v * v).sum();
        let half_logdet: f64 = -(0..n).map(|i| model.l_inv[packed_row(i) + i].ln()).sum::<f64>();
        let mut alpha = vec![0.0; n];
        linalg::packed_lower_t_matvec(&model.l_inv, n, &z, &mut alpha);
        model.alpha = alpha;
        let theta = self.theta.as_ref().expect("a model has hyperparameters");
        let mut scratch = vec![0.0; theta.len()];
        let prior = likelihood::neg_log_prior(theta, d, self.config.use_priors, &mut scratch);
        model.nll = 0.5 * data_fit + half_logdet + likelihood::half_n_ln_2pi(n) + prior;
        (model.y_mean, model.y_std) = y_stats;
        Some(model)
    }

    /// A model with the current hyperparameters, factorized from scratch.
    fn refactor(
        &self,
        xs: Vec<f64>,
        n: usize,
        ys: &[f64],
        y_stats: (f64, f64),
    ) -> Result<Fitted, SurrogateError> {
        let theta = self.theta.as_ref().expect("a model has hyperparameters");
        let pairs = Pairs::new(&xs, n, &self.layout);
        let mut lik = Likelihood::new(&self.layout, &pairs, ys, self.config.use_priors);
        let factor = factorize(&mut lik, theta)?;
        let nll = lik.value(theta);
        Ok(self.model_from_factor(theta, factor, xs, n, (y_stats.0, y_stats.1, nll)))
    }

    /// [`Self::predict_rows`] compiled with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn predict_avx2(
        &self,
        model: &Fitted,
        x: &ArrayView2<f64>,
        first: usize,
        mean: &mut [f64],
        var: &mut [f64],
    ) -> Result<(), SurrogateError> {
        self.predict_generic::<LANES, 2, 4>(model, x, first, mean, var)
    }

    /// [`Self::predict_rows`] compiled with AVX-512 (twice the lanes per instruction).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn predict_avx512(
        &self,
        model: &Fitted,
        x: &ArrayView2<f64>,
        first: usize,
        mean: &mut [f64],
        var: &mut [f64],
    ) -> Result<(), SurrogateError> {
        self.predict_generic::<LANES_AVX512, 4, 8>(model, x, first, mean, var)
    }

    /// Mean and variance of rows `first..first + mean.len()` of `x`, with the best kernel.
    fn predict_rows(
        &self,
        model: &Fitted,
        x: &ArrayView2<f64>,
        first: usize,
        mean: &mut [f64],
        var: &mut [f64],
    ) -> Result<(), SurrogateError> {
        #[cfg(target_arch = "x86_64")]
        if crate::has_avx512() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { self.predict_avx512(model, x, first, mean, var) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::has_avx2() {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { self.predict_avx2(model, x, first, mean, var) };
        }
        self.predict_generic::<LANES, 2, 4>(model, x, first, mean, var)
    }

    /// Writes the predictive mean and variance of rows `first..first + mean.len()` of `x`.
    ///
    /// The cross-covariances of a block of points are stored transposed (`kt[i · BLOCK + p]`),
    /// so `‖L⁻¹ k*‖²` of the block is one pass over the packed `L⁻¹` with `L` points'
    /// accumulators in registers. Every point's arithmetic is independent of its block,
    /// its lane, `L` and the thread it runs on.
    #[inline(always)]
    fn predict_generic<const L: usize, const R: usize, const RN: usize>(
        &self,
        model: &Fitted,
        x: &ArrayView2<f64>,
        first: usize,
        mean: &mut [f64],
        var: &mut [f64],
    ) -> Result<(), SurrogateError> {
        let m = mean.len();
        let d = x.ncols();
        let n = model.n;
        let (nc, nk) = (self.layout.cont.len(), self.layout.cat.len());
        let scale: Vec<f64> = model.hyper.inv_ls2_cont.iter().map(|v| v.sqrt()).collect();
        let mut row = vec![0.0; d];
        // Scaled queries of a block, column-major: qc[k · BLOCK + p], qk[k · BLOCK + p].
        let (mut qc, mut qk) = (vec![0.0; nc * BLOCK], vec![0.0; nk * BLOCK]);
        let mut sq = [0.0; BLOCK];
        let mut sum = [[0.0; BLOCK]; 8];
        // Reused between calls (taken out of the thread-local rather than borrowed in a closure,
        // which would not be compiled with this function's target features).
        let (mut kt, mut ht) = SCRATCH.take();
        {
            // Reused between calls: at n = 1,000 these are 256 KB each, which the allocator
            // would map and unmap (and the kernel zero) on every call.
            kt.resize(n * BLOCK, 0.0);
            ht.resize(n * BLOCK, 0.0);
            for start in (0..m).step_by(BLOCK) {
                let len = BLOCK.min(m - start);
                // Lanes actually computed: `len` rounded up to a multiple of the narrowest kernel
                // (padding lanes are queries at the origin, computed and ignored).
                let width = len.div_ceil(MIN_LANES) * MIN_LANES;
                for p in 0..width {
                    if p < len {
                        crate::impute_row(x, first + start + p, &self.types, &mut row)?;
                    } else {
                        row.fill(0.0);
                    }
                    for (k, (&c, s)) in self.layout.cont.iter().zip(&scale).enumerate() {
                        qc[k * BLOCK + p] = row[c] * s;
                    }
                    for (k, &c) in self.layout.cat.iter().enumerate() {
                        qk[k * BLOCK + p] = row[c];
                    }
                }
                model.rows.cross_block(&qc, &qk, BLOCK, width, &model.hyper, &mut kt, &mut ht);
                // Means k*ᵀα, summed in the order of `linalg::dot` (eight interleaved partial
                // sums, then the remainder).
                for s in &mut sum {
                    s[..width].fill(0.0);
                }
                let full = n / 8 * 8;
                for (i, &a) in model.alpha[..full].iter().enumerate() {
                    let s = &mut sum[i % 8];
                    for (o, &k) in s[..width].iter_mut().zip(&kt[i * BLOCK..i * BLOCK + width]) {
                        *o += k * a;
                    }
                }
                for p in 0..width {
                    let [s0, s1, s2, s3, s4, s5, s6, s7] = sum.map(|s| s[p]);
                    let mut total = ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7));
                    for i in full..n {
                        total += kt[i * BLOCK + p] * model.alpha[i];
                    }
                    if p < len {
                        mean[start + p] = total;
                    }
                }
                // ‖L⁻¹ k*‖² for every point of the block.
                block_sq::<L, R, RN>(&model.l_inv, n, &kt, width, &mut sq);
                for p in 0..len {
                    let latent = (model.hyper.amp - sq[p]).max(0.0);
                    mean[start + p] = mean[start + p] * model.y_std + model.y_mean;
                    var[start + p] = (latent * model.y_std * model.y_std).max(VARIANCE_FLOOR);
                }
            }
        }
        SCRATCH.set((kt, ht));
        Ok(())
    }

    /// Threads to use for `m` query rows against `n` training rows.
    fn threads_for(&self, m: usize, n: usize) -> usize {
        let available = match self.config.predict_threads {
            0 => std::thread::available_parallelism().map_or(1, |v| v.get()),
            t => t,
        };
        let work = m as f64 * (n * n) as f64 / 2.0;
        // Each thread gets at least one micro-kernel width of points and a worthwhile share
        // of the work.
        available.min(m.div_ceil(MIN_LANES)).min((work / PARALLEL_WORK) as usize).max(1)
    }
}

thread_local! {
    /// Per-thread buffers of `predict`: transposed cross-covariances and Hamming sums.
    static SCRATCH: std::cell::RefCell<(Vec<f64>, Vec<f64>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Factorizes `K(θ)` with jitter escalation.
fn factorize(lik: &mut Likelihood<'_>, theta: &[f64]) -> Result<Factor, SurrogateError> {
    lik.factor(theta).ok_or_else(|| {
        SurrogateError::Numerical("Cholesky factorization of the GP covariance failed despite jitter".into())
    })
}

/// Imputes `x` into a row-major buffer.
fn impute_matrix(x: &ArrayView2<f64>, types: &[FeatureType]) -> Result<Vec<f64>, SurrogateError> {
    let d = types.len();
    let mut out = vec![0.0; x.nrows() * d];
    for (i, row) in out.chunks_exact_mut(d.max(1)).take(x.nrows()).enumerate() {
        crate::impute_row(x, i, types, &mut row[..d])?;
    }
    Ok(out)
}

impl Surrogate for GaussianProcess {
    /// Fits on all rows. The hyperparameters are re-optimized when the [`RefitSchedule`] says
    /// so, or when the first row of `x` differs from the previous fit's; otherwise they are
    /// kept, the previous Cholesky factor is cut to the rows `x` starts with and extended by
    /// the rest (the targets may change freely: `α` is recomputed from the factor).
    fn fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<(), SurrogateError> {
        crate::check_fit_input(&x, &y, &self.types)?;
        self.bounds()?;
        let n = x.nrows();
        let d = self.layout.d;
        let xs = impute_matrix(&x, &self.types)?;
        let y_mean = y.sum() / n as f64;
        let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n as f64;
        let std = var.sqrt();
        // Constant targets (up to rounding) are only centred.
        let y_std = if std > 0.0 && std > 1e-12 * y_mean.abs() { std } else { 1.0 };
        let ys: Vec<f64> = y.iter().map(|v| (v - y_mean) / y_std).collect();

        // Rows shared with the previous fit. Rows after them may differ: the SMBO loop's
        // fantasies for running trials (crate users: `smac_core::pending`) come last and are
        // replaced by real results at the next fit.
        let shared = self.model.as_ref().map_or(0, |m| {
            (0..m.n.min(n)).take_while(|&i| m.xs[i * d..(i + 1) * d] == xs[i * d..(i + 1) * d]).count()
        });
        if shared > 0 && !self.config.refit.is_due(n, self.optimized_on) {
            let mut previous = self.model.take().expect("checked above");
            previous.truncate(shared, d);
            if let Some(model) = self.extend(previous, xs.clone(), n, &ys, (y_mean, y_std)) {
                tracing::debug!(n, nll = model.nll, "extended the Gaussian process factor");
                self.model = Some(model);
                self.last_fit = Some(FitKind::Extended);
                return Ok(());
            }
            // A pivot failed: refactorize with the kept hyperparameters and jitter escalation.
            self.model = Some(self.refactor(xs, n, &ys, (y_mean, y_std))?);
            self.last_fit = Some(FitKind::Refactored);
            return Ok(());
        }
        let (theta, factor, nll) = self.optimize(&xs, n, &ys)?;
        self.model = Some(self.model_from_factor(&theta, factor, xs, n, (y_mean, y_std, nll)));
        self.theta = Some(theta);
        self.optimized_on = Some(n);
        self.last_fit = Some(FitKind::Optimized);
        Ok(())
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<(Array1<f64>, Array1<f64>), SurrogateError> {
        let model = self.model.as_ref().ok_or(SurrogateError::NotFitted)?;
        crate::check_columns(&x, &self.types)?;
        let m = x.nrows();
        let mut mean = Array1::zeros(m);
        let mut var = Array1::zeros(m);
        let (ms, vs) = (mean.as_slice_mut(), var.as_slice_mut());
        let (ms, vs) = (ms.expect("contiguous"), vs.expect("contiguous"));
        let threads = self.threads_for(m, model.n);
        if threads <= 1 {
            self.predict_rows(model, &x, 0, ms, vs)?;
            return Ok((mean, var));
        }
        // Whole micro-kernel widths per thread (so even the few dozen neighbours of a local
        // search step are split); each point's result is independent of the split. The ranges
        // run on the model's pool (`crate::parallel`), whose threads live on between calls
        // with their scratch buffers, rather than on threads spawned per call.
        let chunk = m.div_ceil(threads).div_ceil(MIN_LANES) * MIN_LANES;
        crate::parallel::install(|| {
            ms.par_chunks_mut(chunk)
                .zip(vs.par_chunks_mut(chunk))
                .enumerate()
                .try_for_each(|(t, (mc, vc))| self.predict_rows(model, &x, t * chunk, mc, vc))
        })?;
        Ok((mean, var))
    }

    fn is_fitted(&self) -> bool {
        self.model.is_some()
    }
}

#[cfg(test)]
#[path = "gp_tests.rs"]
mod tests;
