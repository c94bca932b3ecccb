//! The GP covariance, as in SMAC3's BlackBox facade:
//! `k(x, x') = σ² · Matérn₅/₂(continuous columns) · Hamming(categorical columns) + σ_n² δ(x, x')`.
//!
//! * Matérn 5/2 with ARD: `r² = Σ_k (x_k − x'_k)² / ℓ_k²`, `M(r) = (1 + √5 r + 5r²/3) e^{−√5 r}`.
//! * Hamming (SMAC3's `HammingKernel`): `H = exp(−Σ_k [x_k ≠ x'_k] / (2 ℓ_k²))`. Categorical
//!   columns are thus compared by identity, not as numbers; the inactive value is one more
//!   category.
//!
//! Hyperparameters are handled in log space, `θ = [ln σ², ln ℓ_0, …, ln ℓ_{d−1}, ln σ_n²]`
//! (length-scales in column order). With `s = √5 r`, the derivatives used by the likelihood are
//! `∂M/∂ln ℓ_k = (5/3)(1 + s) e^{−s} · (x_k − x'_k)² / ℓ_k²` and
//! `∂H/∂ln ℓ_k = H · [x_k ≠ x'_k] / ℓ_k²`.

use crate::FeatureType;

const SQRT5: f64 = 2.236_067_977_499_79;

/// `eˣ` for `x ≤ 0` (relative error below 1e-15; 0 below −708).
///
/// The kernel evaluates one exponential per pair of points (10⁶ per 10,000 predictions at
/// n = 100); libm's `exp` made it the GP's hot spot. This branch-free version (range reduction
/// `x = k ln 2 + r`, degree-12 Taylor polynomial (Estrin's scheme) on `|r| ≤ ln 2 / 2`, exponent bits for `2ᵏ`)
/// is several times faster and vectorizable.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split as in fdlibm: LN2_HI has trailing zero bits, so k · LN2_HI is exact.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Adding 1.5·2⁵² rounds to the nearest integer and leaves it in the low mantissa bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let xc = x.max(-708.0);
    let t = xc * LOG2E + SHIFTER;
    let k = t - SHIFTER;
    let r = (xc - k * LN2_HI) - k * LN2_LO;
    // Taylor series of e^r up to r¹², evaluated with Estrin's scheme (short dependency chains).
    const C: [f64; 13] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
    ];
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q0 = (C[0] + C[1] * r) + (C[2] + C[3] * r) * r2;
    let q4 = (C[4] + C[5] * r) + (C[6] + C[7] * r) * r2;
    let q8 = (C[8] + C[9] * r) + (C[10] + C[11] * r) * r2;
    let p = (q0 + q4 * r4) + (q8 + C[12] * r4) * r8;
    // 2^k from the integer in the low bits of t (k ∈ [−1022, 0], so k + 1023 ∈ [1, 1023]).
    let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
    if x < -708.0 {
        0.0
    } else {
        p * scale
    }
}

/// Which columns are continuous (Matérn) and which categorical (Hamming).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Continuous column indices.
    pub cont: Vec<usize>,
    /// Categorical column indices.
    pub cat: Vec<usize>,
    /// Total number of columns.
    pub d: usize,
}

impl Layout {
    /// Splits the columns by type.
    pub(crate) fn new(types: &[FeatureType]) -> Self {
        let (mut cont, mut cat) = (Vec::new(), Vec::new());
        for (i, t) in types.iter().enumerate() {
            match t {
                FeatureType::Continuous => cont.push(i),
                FeatureType::Categorical(_) => cat.push(i),
            }
        }
        Self { cont, cat, d: types.len() }
    }
}

/// Hyperparameters decoded from `θ` into the quantities the kernel loops need.
#[derive(Debug, Clone)]
pub(crate) struct Hyper {
    /// Signal variance σ².
    pub amp: f64,
    /// Noise variance σ_n².
    pub noise: f64,
    /// `1 / ℓ_k²` for the continuous columns (layout order).
    pub inv_ls2_cont: Vec<f64>,
    /// `1 / (2 ℓ_k²)` for the categorical columns (layout order).
    pub half_inv_ls2_cat: Vec<f64>,
}

impl Hyper {
    /// Decodes a log-space hyperparameter vector.
    pub(crate) fn new(theta: &[f64], layout: &Layout) -> Self {
        let inv_ls2 = |c: usize| (-2.0 * theta[1 + c]).exp();
        Self {
            amp: theta[0].exp(),
            noise: theta[layout.d + 1].exp(),
            inv_ls2_cont: layout.cont.iter().map(|&c| inv_ls2(c)).collect(),
            half_inv_ls2_cat: layout.cat.iter().map(|&c| 0.5 * inv_ls2(c)).collect(),
        }
    }

    /// Correlation `M · H` from the squared continuous distance `r²` and the weighted Hamming
    /// distance `h = Σ [x_k ≠ x'_k] / (2ℓ_k²)`, together with `(5/3)(1 + s) e^{−s} · H`, the
    /// common factor of the continuous length-scale derivatives.
    #[inline(always)]
    pub(crate) fn correlation(r2: f64, h: f64) -> (f64, f64) {
        let s = SQRT5 * r2.sqrt();
        let e = exp_nonpositive(-s - h);
        ((1.0 + s + s * s / 3.0) * e, 5.0 / 3.0 * (1.0 + s) * e)
    }
}

/// Pairwise differences between training rows, independent of the hyperparameters.
///
/// Pairs `(i, j)` with `j < i` are stored in row order: `p = i(i−1)/2 + j`.
#[derive(Debug, Clone)]
pub(crate) struct Pairs {
    /// Number of training rows.
    pub n: usize,
    /// `(x_ik − x_jk)²` for each pair and continuous column: `sq[p · n_cont + k]`.
    pub sq: Vec<f64>,
    /// `[x_ik ≠ x_jk]` for each pair and categorical column: `neq[p · n_cat + k]`.
    pub neq: Vec<f64>,
}

impl Pairs {
    /// Precomputes the pairwise differences of the row-major `n × d` matrix `x`.
    pub(crate) fn new(x: &[f64], n: usize, layout: &Layout) -> Self {
        let d = layout.d;
        let n_pairs = n * n.saturating_sub(1) / 2;
        let mut sq = Vec::with_capacity(n_pairs * layout.cont.len());
        let mut neq = Vec::with_capacity(n_pairs * layout.cat.len());
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            for j in 0..i {
                let xj = &x[j * d..(j + 1) * d];
                sq.extend(layout.cont.iter().map(|&c| (xi[c] - xj[c]).powi(2)));
                neq.extend(layout.cat.iter().map(|&c| if xi[c] == xj[c] { 0.0 } else { 1.0 }));
            }
        }
        Self { n, sq, neq }
    }
}

/// Training rows transformed for fast cross-covariances: continuous columns divided by their
/// length-scale, categorical columns kept as category indices; both stored column-major so that
/// the distance loops run over contiguous training values.
#[derive(Debug, Clone)]
pub(crate) struct ScaledRows {
    n: usize,
    /// Column-major `n_cont × n` scaled continuous values.
    cont: Vec<f64>,
    /// Column-major `n_cat × n` category indices.
    cat: Vec<f64>,
}

impl ScaledRows {
    /// Scales the row-major `n × d` matrix `x`.
    pub(crate) fn new(x: &[f64], n: usize, layout: &Layout, hyper: &Hyper) -> Self {
        let d = layout.d;
        let mut cont = Vec::with_capacity(n * layout.cont.len());
        for (&c, inv2) in layout.cont.iter().zip(&hyper.inv_ls2_cont) {
            let s = inv2.sqrt();
            cont.extend((0..n).map(|i| x[i * d + c] * s));
        }
        let mut cat = Vec::with_capacity(n * layout.cat.len());
        for &c in &layout.cat {
            cat.extend((0..n).map(|i| x[i * d + c]));
        }
        Self { n, cont, cat }
    }

    /// Cross-covariances `σ² · M · H` of a block of queries with every training row, written
    /// transposed: `kt[i · stride + p]` for training row `i` and query `p < width`. Query `p`'s
    /// continuous values, scaled like the rows, are `qc[k · stride + p]` and its categories
    /// `qk[k · stride + p]`; `ht` is scratch of the size of `kt`. The inner loops run over
    /// contiguous queries (vectorized, no scatter), and each entry is summed over the columns in
    /// the same order as for a single query.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn cross_block(
        &self,
        qc: &[f64],
        qk: &[f64],
        stride: usize,
        width: usize,
        hyper: &Hyper,
        kt: &mut [f64],
        ht: &mut [f64],
    ) {
        let n = self.n;
        let nc = self.cont.len().checked_div(n).unwrap_or(0);
        let nk = self.cat.len().checked_div(n).unwrap_or(0);
        for i in 0..n {
            kt[i * stride..i * stride + width].fill(0.0);
            ht[i * stride..i * stride + width].fill(0.0);
        }
        for k in 0..nc {
            let q = &qc[k * stride..k * stride + width];
            for (i, &x) in self.cont[k * n..(k + 1) * n].iter().enumerate() {
                for (o, &qp) in kt[i * stride..i * stride + width].iter_mut().zip(q) {
                    *o += (qp - x) * (qp - x);
                }
            }
        }
        for (k, &w) in hyper.half_inv_ls2_cat.iter().enumerate().take(nk) {
            let q = &qk[k * stride..k * stride + width];
            for (i, &x) in self.cat[k * n..(k + 1) * n].iter().enumerate() {
                for (h, &qp) in ht[i * stride..i * stride + width].iter_mut().zip(q) {
                    *h += if qp == x { 0.0 } else { w };
                }
            }
        }
        for i in 0..n {
            let row = &mut kt[i * stride..i * stride + width];
            for (o, &h) in row.iter_mut().zip(&ht[i * stride..i * stride + width]) {
                *o = hyper.amp * Hyper::correlation(*o, h).0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut x = 0.0;
        while x > -745.0 {
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            if x >= -708.0 {
                assert!((fast - exact).abs() <= 2e-15 * exact, "x = {x}: {fast} vs {exact}");
            } else {
                assert!(fast == 0.0 && exact < 1e-307);
            }
            x -= 0.0137;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn matern_derivative_matches_finite_differences() {
        // One continuous column: M as a function of ln ℓ.
        let d2: f64 = 0.3f64.powi(2);
        let m = |log_l: f64| Hyper::correlation(d2 * (-2.0 * log_l).exp(), 0.0).0;
        for log_l in [-2.0, -0.5, 0.0] {
            let l2 = (2.0f64 * log_l).exp();
            let analytic = Hyper::correlation(d2 / l2, 0.0).1 * d2 / l2;
            let eps = 1e-6;
            let numeric = (m(log_l + eps) - m(log_l - eps)) / (2.0 * eps);
            assert!((analytic - numeric).abs() < 1e-7, "{analytic} vs {numeric}");
        }
        assert_eq!(Hyper::correlation(0.0, 0.0).0, 1.0);
    }
}
