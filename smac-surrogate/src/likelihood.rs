//! Negative log marginal likelihood of the GP hyperparameters (plus SMAC3-style log-priors) and
//! its analytic gradient, on standardized targets.
//!
//! For `K = σ² C + (σ_n² + ε) I` (ε = [`BASE_JITTER`]) with Cholesky factor `L`,
//! `α = K⁻¹ y` and `W = K⁻¹`:
//! `−log p(y | θ) = ½ yᵀα + Σ ln L_ii + (n/2) ln 2π` and
//! `∂ log p / ∂θ_j = ½ tr((ααᵀ − W) ∂K/∂θ_j)`.
//! One evaluation costs about n³/2 multiply-adds (factorization, triangular inverse, `W`) plus
//! O(n² d) for the kernel and the gradient sums.
//!
//! Priors (as in SMAC3's BlackBox facade, in log space): a standard normal on `ln σ²`
//! (SMAC3: log-normal prior on σ²) and a horseshoe prior with scale 0.1 on σ_n²,
//! `ln p = ln ln(1 + 3 (0.1 / σ_n²)²)`.

use crate::kernel::{Hyper, Layout, Pairs};
use crate::linalg;

/// Jitter always added to the diagonal (standardized units) for numerical stability.
pub(crate) const BASE_JITTER: f64 = 1e-10;
const HORSESHOE_SCALE: f64 = 0.1;
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A Cholesky factorization of the training covariance.
#[derive(Debug, Clone)]
pub(crate) struct Factor {
    /// Lower Cholesky factor (row-major `n × n`).
    pub l: Vec<f64>,
    /// `K⁻¹ y`.
    pub alpha: Vec<f64>,
    /// Jitter added to the diagonal beyond `σ_n² + BASE_JITTER` to make `K` positive definite.
    pub jitter: f64,
}

/// The objective with its reusable buffers.
#[derive(Debug)]
pub(crate) struct Likelihood<'a> {
    layout: &'a Layout,
    pairs: &'a Pairs,
    y: &'a [f64],
    use_priors: bool,
    k: Vec<f64>,
    u: Vec<f64>,
    w: Vec<f64>,
    alpha: Vec<f64>,
    corr: Vec<f64>,
    gfac: Vec<f64>,
}

impl<'a> Likelihood<'a> {
    /// Prepares the objective for standardized targets `y`.
    pub(crate) fn new(layout: &'a Layout, pairs: &'a Pairs, y: &'a [f64], use_priors: bool) -> Self {
        let n = pairs.n;
        let n_pairs = n * n.saturating_sub(1) / 2;
        Self {
            layout,
            pairs,
            y,
            use_priors,
            k: vec![0.0; n * n],
            u: vec![0.0; n * n],
            w: vec![0.0; n * n],
            alpha: vec![0.0; n],
            corr: vec![0.0; n_pairs],
            gfac: vec![0.0; n_pairs],
        }
    }

    /// Fills the lower triangle of `K` (plus `extra` on the diagonal) and the per-pair
    /// correlation and derivative factors.
    #[inline(always)]
    fn build(&mut self, hyper: &Hyper, extra: f64) {
        let n = self.pairs.n;
        let (nc, nk) = (self.layout.cont.len(), self.layout.cat.len());
        // Distances first, then the (vectorizable) elementwise correlation.
        for (r2, sq) in self.corr.iter_mut().zip(self.pairs.sq.chunks_exact(nc.max(1))) {
            *r2 = sq.iter().zip(&hyper.inv_ls2_cont).map(|(a, b)| a * b).sum();
        }
        if nc == 0 {
            self.corr.fill(0.0);
        }
        self.gfac.fill(0.0);
        if nk > 0 {
            for (h, neq) in self.gfac.iter_mut().zip(self.pairs.neq.chunks_exact(nk)) {
                *h = neq.iter().zip(&hyper.half_inv_ls2_cat).map(|(a, b)| a * b).sum();
            }
        }
        for (c, g) in self.corr.iter_mut().zip(self.gfac.iter_mut()) {
            (*c, *g) = Hyper::correlation(*c, *g);
        }
        let mut p = 0;
        for i in 0..n {
            let row = &mut self.k[i * n..(i + 1) * n];
            for (kij, &c) in row[..i].iter_mut().zip(&self.corr[p..p + i]) {
                *kij = hyper.amp * c;
            }
            p += i;
            row[i] = hyper.amp + hyper.noise + BASE_JITTER + extra;
        }
    }

    /// Factorizes `K` in `self.k` and computes `α`; returns `½ yᵀα + ½ ln|K| + (n/2) ln 2π`.
    #[inline(always)]
    fn factorize(&mut self) -> Option<f64> {
        let n = self.pairs.n;
        linalg::cholesky(&mut self.k, n).ok()?;
        self.alpha.copy_from_slice(self.y);
        linalg::solve_lower(&self.k, n, &mut self.alpha);
        let data_fit: f64 = self.alpha.iter().map(|v| v * v).sum();
        linalg::solve_lower_transposed(&self.k, n, &mut self.alpha);
        let half_logdet: f64 = (0..n).map(|i| self.k[i * n + i].ln()).sum();
        Some(0.5 * data_fit + half_logdet + 0.5 * n as f64 * LN_2PI)
    }

    /// Negative log-prior of `θ` and its gradient (added into `grad`).
    fn neg_log_prior(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        neg_log_prior(theta, self.layout.d, self.use_priors, grad)
    }

    /// The objective at `θ` with its gradient, or `+∞` if `K` is not positive definite.
    pub(crate) fn eval(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if crate::has_avx512() {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            return unsafe { self.eval_avx512(theta, grad) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::has_avx2() {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { self.eval_avx2(theta, grad) };
        }
        self.eval_generic(theta, grad)
    }

    /// [`Self::eval`] compiled with AVX-512 (same results, wider vectors).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn eval_avx512(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        self.eval_generic(theta, grad)
    }

    /// [`Self::eval`] compiled with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn eval_avx2(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        self.eval_generic(theta, grad)
    }

    #[inline(always)]
    fn eval_generic(&mut self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let hyper = Hyper::new(theta, self.layout);
        self.build(&hyper, 0.0);
        let Some(nll) = self.factorize() else {
            return f64::INFINITY;
        };
        let n = self.pairs.n;
        linalg::inverse_factor_transposed(&self.k, n, &mut self.u);
        linalg::inverse_from_factor(&self.u, n, &mut self.w);

        let (nc, nk) = (self.layout.cont.len(), self.layout.cat.len());
        let mut g_cont = vec![0.0; nc];
        let mut g_cat = vec![0.0; nk];
        let mut off_amp = 0.0;
        let mut p = 0;
        for i in 0..n {
            let ai = self.alpha[i];
            let w_row = &self.w[i * n..i * n + i];
            for (j, &wij) in w_row.iter().enumerate() {
                let a = ai * self.alpha[j] - wij;
                off_amp += a * self.corr[p];
                let ag = a * self.gfac[p];
                for (g, &s) in g_cont.iter_mut().zip(&self.pairs.sq[p * nc..(p + 1) * nc]) {
                    *g += ag * s;
                }
                if nk > 0 {
                    let ac = a * self.corr[p];
                    for (g, &e) in g_cat.iter_mut().zip(&self.pairs.neq[p * nk..(p + 1) * nk]) {
                        *g += ac * e;
                    }
                }
                p += 1;
            }
        }
        let diag: f64 = (0..n).map(|i| self.alpha[i] * self.alpha[i] - self.w[i * n + i]).sum();
        grad.fill(0.0);
        grad[0] = -0.5 * hyper.amp * (diag + 2.0 * off_amp);
        for (k, &c) in self.layout.cont.iter().enumerate() {
            grad[1 + c] = -hyper.amp * hyper.inv_ls2_cont[k] * g_cont[k];
        }
        for (k, &c) in self.layout.cat.iter().enumerate() {
            grad[1 + c] = -hyper.amp * 2.0 * hyper.half_inv_ls2_cat[k] * g_cat[k];
        }
        grad[self.layout.d + 1] = -0.5 * hyper.noise * diag;
        nll + self.neg_log_prior(theta, grad)
    }

    /// The objective at `θ` without gradient (one factorization only).
    pub(crate) fn value(&mut self, theta: &[f64]) -> f64 {
        let hyper = Hyper::new(theta, self.layout);
        self.build(&hyper, 0.0);
        match self.factorize() {
            Some(nll) => {
                let mut scratch = vec![0.0; theta.len()];
                nll + self.neg_log_prior(theta, &mut scratch)
            }
            None => f64::INFINITY,
        }
    }

    /// Factorizes `K(θ)` for prediction, escalating the diagonal jitter on failure.
    pub(crate) fn factor(&mut self, theta: &[f64]) -> Option<Factor> {
        let hyper = Hyper::new(theta, self.layout);
        let scale = hyper.amp + hyper.noise;
        for jitter in [0.0, 1e-8, 1e-6, 1e-4, 1e-2].map(|j| j * scale) {
            self.build(&hyper, jitter);
            if self.factorize().is_some() {
                if jitter > 0.0 {
                    tracing::warn!(jitter, "GP covariance needed extra jitter");
                }
                return Some(Factor { l: self.k.clone(), alpha: self.alpha.clone(), jitter });
            }
        }
        None
    }
}

/// Negative log-prior of the log-space hyperparameters `θ` of a `d`-column GP (0 without
/// priors); its gradient is added into `grad`.
pub(crate) fn neg_log_prior(theta: &[f64], d: usize, use_priors: bool, grad: &mut [f64]) -> f64 {
    if !use_priors {
        return 0.0;
    }
    let amp = theta[0];
    let noise = theta[d + 1];
    let u = 3.0 * HORSESHOE_SCALE * HORSESHOE_SCALE * (-2.0 * noise).exp();
    let l = u.ln_1p();
    grad[0] += amp;
    grad[d + 1] -= (-2.0 * u / (1.0 + u)) / l;
    0.5 * amp * amp - l.ln()
}

/// `(n/2) ln 2π`, the constant of the Gaussian log-likelihood of `n` observations.
pub(crate) fn half_n_ln_2pi(n: usize) -> f64 {
    0.5 * n as f64 * LN_2PI
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FeatureType;

    #[test]
    fn gradient_matches_finite_differences() {
        let types = [FeatureType::Continuous, FeatureType::Categorical(3), FeatureType::Continuous];
        let layout = Layout::new(&types);
        let n = 12;
        let x: Vec<f64> = (0..n)
            .flat_map(|i| {
                let t = i as f64 / n as f64;
                [t, (i % 3) as f64, (7.0 * t).sin().abs()]
            })
            .collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 5 % 7) as f64 - 3.0) / 2.0).collect();
        let pairs = Pairs::new(&x, n, &layout);
        for use_priors in [false, true] {
            let mut lik = Likelihood::new(&layout, &pairs, &y, use_priors);
            let theta = [0.3, -1.0, -0.2, -0.7, -3.0];
            let mut grad = [0.0; 5];
            let f = lik.eval(&theta, &mut grad);
            assert!((f - lik.value(&theta)).abs() < 1e-12);
            for k in 0..theta.len() {
                let eps = 1e-6;
                let (mut lo, mut hi) = (theta, theta);
                lo[k] -= eps;
                hi[k] += eps;
                let numeric = (lik.value(&hi) - lik.value(&lo)) / (2.0 * eps);
                assert!(
                    (numeric - grad[k]).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "priors {use_priors}, θ_{k}: analytic {} vs numeric {numeric}",
                    grad[k]
                );
            }
        }
    }
}
