//! Acquisition functions: how promising a point is, from the surrogate's predictive mean and
//! variance. Every function here returns scores where higher is better, as SMAC3's do.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// What an acquisition function needs to know about the current state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AcquisitionContext {
    /// Best (lowest) value of the incumbent in the model's output space.
    pub eta: f64,
    /// Number of observations the model was trained on.
    pub n_data: usize,
    /// Number of input dimensions.
    pub dim: usize,
}

/// Scores points from predictive means and variances; higher is better.
pub trait AcquisitionFunction: Send {
    /// Informs the function of the incumbent value and data size.
    fn update(&mut self, ctx: AcquisitionContext);
    /// Scores one point per (mean, variance) pair into `out`.
    fn score(&mut self, mean: &[f64], var: &[f64], out: &mut [f64]);
    /// A short name for logs.
    fn name(&self) -> &'static str;
}

/// Standard normal density.
pub fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal distribution function (via erfc, accurate in both tails).
pub fn norm_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Expected improvement over `eta − xi`. With `log`, the model predicts log-costs and EI is
/// computed for the cost itself, as SMAC3's HPO facade does on log-scaled costs.
#[derive(Clone, Debug)]
pub struct ExpectedImprovement {
    /// Exploration margin ξ.
    pub xi: f64,
    /// Whether the model's outputs are logarithms of costs.
    pub log: bool,
    eta: f64,
}

impl ExpectedImprovement {
    /// EI with margin `xi` (SMAC3 default 0.0).
    pub fn new(xi: f64) -> Self {
        ExpectedImprovement { xi, log: false, eta: f64::INFINITY }
    }
    /// EI on log-transformed predictions (SMAC3's HPO facade).
    pub fn log(xi: f64) -> Self {
        ExpectedImprovement { xi, log: true, eta: f64::INFINITY }
    }
}

impl AcquisitionFunction for ExpectedImprovement {
    fn update(&mut self, ctx: AcquisitionContext) {
        self.eta = ctx.eta;
    }
    fn score(&mut self, mean: &[f64], var: &[f64], out: &mut [f64]) {
        let f_min = self.eta - self.xi;
        let f_min_cost = f_min.exp();
        for ((o, m), v) in out.iter_mut().zip(mean).zip(var) {
            let s = v.max(0.0).sqrt();
            *o = if s == 0.0 {
                // No uncertainty: only a certain improvement counts.
                if self.log {
                    (f_min_cost - m.exp()).max(0.0)
                } else {
                    (f_min - m).max(0.0)
                }
            } else if self.log {
                let z = (f_min - m) / s;
                (f_min_cost * norm_cdf(z) - (0.5 * v + m).exp() * norm_cdf(z - s)).max(0.0)
            } else {
                let z = (f_min - m) / s;
                ((f_min - m) * norm_cdf(z) + s * norm_pdf(z)).max(0.0)
            };
        }
    }
    fn name(&self) -> &'static str {
        if self.log {
            "log-EI"
        } else {
            "EI"
        }
    }
}

/// Probability of improving on `eta − xi`.
#[derive(Clone, Debug)]
pub struct ProbabilityOfImprovement {
    /// Exploration margin ξ.
    pub xi: f64,
    eta: f64,
}

impl ProbabilityOfImprovement {
    /// PI with margin `xi`.
    pub fn new(xi: f64) -> Self {
        ProbabilityOfImprovement { xi, eta: f64::INFINITY }
    }
}

impl AcquisitionFunction for ProbabilityOfImprovement {
    fn update(&mut self, ctx: AcquisitionContext) {
        self.eta = ctx.eta;
    }
    fn score(&mut self, mean: &[f64], var: &[f64], out: &mut [f64]) {
        for ((o, m), v) in out.iter_mut().zip(mean).zip(var) {
            let s = v.max(0.0).sqrt();
            let gap = self.eta - self.xi - m;
            *o = if s == 0.0 { f64::from(gap > 0.0) } else { norm_cdf(gap / s) };
        }
    }
    fn name(&self) -> &'static str {
        "PI"
    }
}

/// Lower confidence bound, negated so that higher is better: `−(μ − √(ν β_t) σ)` with SMAC3's
/// schedule `β_t = 2 log(d n² / β)` (or a fixed β).
#[derive(Clone, Debug)]
pub struct LowerConfidenceBound {
    /// β (SMAC3 default 1.0).
    pub beta: f64,
    /// ν (SMAC3 default 1.0).
    pub nu: f64,
    /// Whether β grows with the data as SMAC3's default does.
    pub update_beta: bool,
    beta_t: f64,
}

impl LowerConfidenceBound {
    /// LCB with SMAC3's defaults.
    pub fn new() -> Self {
        LowerConfidenceBound { beta: 1.0, nu: 1.0, update_beta: true, beta_t: 1.0 }
    }
}

impl Default for LowerConfidenceBound {
    fn default() -> Self {
        Self::new()
    }
}

impl AcquisitionFunction for LowerConfidenceBound {
    fn update(&mut self, ctx: AcquisitionContext) {
        self.beta_t = if self.update_beta {
            (2.0 * ((ctx.dim.max(1) * ctx.n_data.max(1).pow(2)) as f64 / self.beta).ln()).max(0.0)
        } else {
            self.beta
        };
    }
    fn score(&mut self, mean: &[f64], var: &[f64], out: &mut [f64]) {
        let k = (self.nu * self.beta_t).sqrt();
        for ((o, m), v) in out.iter_mut().zip(mean).zip(var) {
            *o = -(m - k * v.max(0.0).sqrt());
        }
    }
    fn name(&self) -> &'static str {
        "LCB"
    }
}

/// Thompson sampling: the negated draw from each point's predictive distribution.
#[derive(Clone, Debug)]
pub struct ThompsonSampling {
    rng: ChaCha8Rng,
}

impl ThompsonSampling {
    /// Thompson sampling seeded for reproducibility.
    pub fn new(seed: u64) -> Self {
        ThompsonSampling { rng: ChaCha8Rng::seed_from_u64(seed) }
    }
}

impl AcquisitionFunction for ThompsonSampling {
    fn update(&mut self, _ctx: AcquisitionContext) {}
    fn score(&mut self, mean: &[f64], var: &[f64], out: &mut [f64]) {
        for ((o, m), v) in out.iter_mut().zip(mean).zip(var) {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            *o = -(m + v.max(0.0).sqrt() * z);
        }
    }
    fn name(&self) -> &'static str {
        "TS"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(eta: f64) -> AcquisitionContext {
        AcquisitionContext { eta, n_data: 10, dim: 2 }
    }

    fn score(f: &mut dyn AcquisitionFunction, m: f64, v: f64) -> f64 {
        let mut out = [0.0];
        f.score(&[m], &[v], &mut out);
        out[0]
    }

    #[test]
    fn normal_helpers_match_tables() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((norm_cdf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
        assert!((norm_cdf(-3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-14);
        assert!((norm_pdf(1.0) - 0.241_970_724_519_143_37).abs() < 1e-15);
    }

    #[test]
    fn ei_matches_hand_computation() {
        // eta = 1, m = 0.5, s = 0.5: z = 1, EI = 0.5·Φ(1) + 0.5·φ(1).
        let mut ei = ExpectedImprovement::new(0.0);
        ei.update(ctx(1.0));
        let expected = 0.5 * 0.841_344_746_068_542_9 + 0.5 * 0.241_970_724_519_143_37;
        assert!((score(&mut ei, 0.5, 0.25) - expected).abs() < 1e-12);
        // With ξ = 0.5 the gap closes: EI = s·φ(0) = 0.5 · 0.39894.
        let mut ei = ExpectedImprovement::new(0.5);
        ei.update(ctx(1.0));
        assert!((score(&mut ei, 0.5, 0.25) - 0.5 * 0.398_942_280_401_432_7).abs() < 1e-12);
        // No variance: EI is the certain improvement.
        let mut ei = ExpectedImprovement::new(0.0);
        ei.update(ctx(1.0));
        assert_eq!(score(&mut ei, 0.25, 0.0), 0.75);
        assert_eq!(score(&mut ei, 2.0, 0.0), 0.0);
    }

    #[test]
    fn log_ei_matches_the_lognormal_formula() {
        // Log-space f_min = 0 (cost 1), m = 0, s = 1: exp(0)Φ(0) − exp(0.5)Φ(−1).
        let mut ei = ExpectedImprovement::log(0.0);
        ei.update(ctx(0.0));
        let expected = 0.5 - 0.5f64.exp() * (1.0 - 0.841_344_746_068_542_9);
        assert!((score(&mut ei, 0.0, 1.0) - expected).abs() < 1e-12);
        // Monte Carlo check of E[max(1 − exp(Y), 0)], Y ~ N(−0.3, 0.4²).
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let n = 400_000;
        let mc: f64 = (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (1.0 - (-0.3 + 0.4 * z).exp()).max(0.0)
            })
            .sum::<f64>()
            / n as f64;
        assert!((score(&mut ei, -0.3, 0.16) - mc).abs() < 2e-3, "{mc}");
    }

    #[test]
    fn pi_lcb_and_ts() {
        let mut pi = ProbabilityOfImprovement::new(0.0);
        pi.update(ctx(1.0));
        assert!((score(&mut pi, 0.0, 1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
        let mut lcb = LowerConfidenceBound::new();
        lcb.update(ctx(0.0));
        // β_t = 2 ln(2·100/1) = 10.5966; −(1 − √β_t · 0.5).
        let beta_t = 2.0 * 200f64.ln();
        assert!((score(&mut lcb, 1.0, 0.25) - -(1.0 - beta_t.sqrt() * 0.5)).abs() < 1e-12);
        let mut ts = ThompsonSampling::new(1);
        let draws: Vec<f64> = (0..20_000).map(|_| score(&mut ts, 2.0, 4.0)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!((mean + 2.0).abs() < 0.05 && (var - 4.0).abs() < 0.2, "{mean} {var}");
    }

    #[test]
    fn higher_uncertainty_raises_ei_for_equal_means() {
        let mut ei = ExpectedImprovement::new(0.0);
        ei.update(ctx(0.0));
        assert!(score(&mut ei, 0.5, 1.0) > score(&mut ei, 0.5, 0.01));
    }
}
