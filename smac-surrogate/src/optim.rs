//! A compact box-constrained quasi-Newton minimizer (projected L-BFGS).
//!
//! Written by hand rather than taken from `argmin`: argmin's L-BFGS has no box constraints,
//! while the GP hyperparameters live in a box (as with SciPy's `fmin_l_bfgs_b` used by SMAC3),
//! and the whole algorithm needed here fits in ~150 lines:
//! * variables at a bound whose gradient points outwards are frozen for the iteration;
//! * the search direction is the L-BFGS two-loop recursion on the free variables (falling back
//!   to steepest descent when it is not a descent direction);
//! * a backtracking line search on the projected path `P(x + t·d)` enforces the Armijo
//!   condition; a non-finite objective (e.g. a failed Cholesky) counts as a rejected step.
//!
//! Stops when the projected gradient's largest entry is below `pgtol`, when the relative
//! decrease falls below `ftol`, or when the iteration/evaluation budget is spent.

/// Stopping rules and memory size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Maximum number of iterations.
    pub max_iter: usize,
    /// Maximum number of objective evaluations.
    pub max_evals: usize,
    /// Number of stored correction pairs.
    pub memory: usize,
    /// Tolerance on the infinity norm of the projected gradient.
    pub pgtol: f64,
    /// Tolerance on the relative decrease of the objective.
    pub ftol: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self { max_iter: 60, max_evals: 120, memory: 10, pgtol: 1e-5, ftol: 1e-9 }
    }
}

/// Result of a minimization.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    /// The best point found.
    pub x: Vec<f64>,
    /// Objective value at `x` (infinite if no finite value was found).
    pub f: f64,
    /// Number of objective evaluations used.
    pub evals: usize,
}

/// Minimizes `f` over the box `[lower, upper]` starting from `x0` (projected into the box).
/// `f(x, grad)` returns the objective and writes its gradient.
pub(crate) fn minimize<F>(mut f: F, x0: &[f64], lower: &[f64], upper: &[f64], opts: &Options) -> Minimum
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let project = |x: &mut [f64]| {
        for ((v, &lo), &hi) in x.iter_mut().zip(lower).zip(upper) {
            *v = v.clamp(lo, hi);
        }
    };
    let mut x = x0.to_vec();
    project(&mut x);
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut evals = 1;
    if !fx.is_finite() {
        return Minimum { x, f: fx, evals };
    }
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut d = vec![0.0; n];
    let mut free = vec![true; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory];

    for _ in 0..opts.max_iter {
        // Freeze variables pushed against their bound; check the projected gradient.
        let mut pg_max = 0.0f64;
        for i in 0..n {
            let at_lower = x[i] <= lower[i] && g[i] > 0.0;
            let at_upper = x[i] >= upper[i] && g[i] < 0.0;
            free[i] = !(at_lower || at_upper);
            if free[i] {
                pg_max = pg_max.max(g[i].abs());
            }
        }
        if pg_max < opts.pgtol {
            break;
        }

        // Two-loop recursion on the free variables.
        for i in 0..n {
            d[i] = if free[i] { -g[i] } else { 0.0 };
        }
        let masked_dot =
            |a: &[f64], b: &[f64]| -> f64 { (0..n).filter(|&i| free[i]).map(|i| a[i] * b[i]).sum() };
        let k = s_hist.len();
        for j in (0..k).rev() {
            alpha[j] = rho[j] * masked_dot(&s_hist[j], &d);
            for i in 0..n {
                if free[i] {
                    d[i] -= alpha[j] * y_hist[j][i];
                }
            }
        }
        if k > 0 {
            let (s, y) = (&s_hist[k - 1], &y_hist[k - 1]);
            let yy = masked_dot(y, y);
            let sy = masked_dot(s, y);
            if yy > 0.0 && sy > 0.0 {
                d.iter_mut().for_each(|v| *v *= sy / yy);
            }
        }
        for j in 0..k {
            let beta = rho[j] * masked_dot(&y_hist[j], &d);
            for i in 0..n {
                if free[i] {
                    d[i] += (alpha[j] - beta) * s_hist[j][i];
                }
            }
        }
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope.is_nan() || slope >= 0.0 {
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            for i in 0..n {
                d[i] = if free[i] { -g[i] } else { 0.0 };
            }
            slope = -d.iter().map(|v| v * v).sum::<f64>();
        }

        // Backtracking line search along the projected path.
        let d_norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut step = if k == 0 { (1.0 / d_norm).min(1.0) } else { 1.0 };
        let mut accepted = false;
        let mut f_new = f64::INFINITY;
        while evals < opts.max_evals {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            project(&mut x_new);
            f_new = f(&x_new, &mut g_new);
            evals += 1;
            let decrease: f64 = x_new.iter().zip(&x).zip(&g).map(|((a, b), gi)| (a - b) * gi).sum();
            if f_new.is_finite() && f_new <= fx + 1e-4 * decrease.min(0.0) {
                accepted = true;
                break;
            }
            step *= if f_new.is_finite() { 0.5 } else { 0.1 };
            if step * d_norm < 1e-12 {
                break;
            }
        }
        if !accepted {
            break;
        }

        // Update the correction pairs.
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        if sy
            > 1e-10
                * s.iter().map(|v| v * v).sum::<f64>().sqrt()
                * y.iter().map(|v| v * v).sum::<f64>().sqrt()
        {
            if s_hist.len() == opts.memory {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
            rho.push(1.0 / sy);
        }
        let rel = (fx - f_new) / fx.abs().max(f_new.abs()).max(1.0);
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        fx = f_new;
        if rel < opts.ftol || evals >= opts.max_evals {
            break;
        }
    }
    Minimum { x, f: fx, evals }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_rosenbrock() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let opts = Options { max_iter: 500, max_evals: 2000, ..Options::default() };
        let m = minimize(rosen, &[-1.2, 1.0], &[-5.0, -5.0], &[5.0, 5.0], &opts);
        assert!((m.x[0] - 1.0).abs() < 1e-3 && (m.x[1] - 1.0).abs() < 1e-3, "{m:?}");
    }

    #[test]
    fn respects_bounds() {
        // Unconstrained minimum at (3, -2); the box cuts it off at x0 = 1.
        let quad = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 3.0);
            g[1] = 2.0 * (x[1] + 2.0);
            (x[0] - 3.0).powi(2) + (x[1] + 2.0).powi(2)
        };
        let m = minimize(quad, &[0.0, 0.0], &[-1.0, -5.0], &[1.0, 5.0], &Options::default());
        assert_eq!(m.x[0], 1.0);
        assert!((m.x[1] + 2.0).abs() < 1e-6, "{m:?}");
    }
}
