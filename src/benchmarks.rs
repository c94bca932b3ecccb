//! The benchmark suite of `shared/bench/suite.json`: five continuous test functions and one mixed,
//! conditional problem, defined exactly as the suite defines them so that regret numbers compare
//! with published SMAC3 and Optuna figures.
//!
//! All problems are minimised. `regret = best observed value − optimum`, with the optimum as the
//! suite states it (rounded to 6 significant digits). The true minima of these definitions lie
//! slightly above the stated values, so the smallest reachable regret is not exactly 0: about
//! 3.6e-7 for Branin, 2.1e-7 for Hartmann-3 (true minimum −3.8627798) and 2.0e-6 for Hartmann-6
//! (true minimum −3.3223680); 0 for Rosenbrock, Ackley and the mixed problem.

use smac_core::{Condition, ConfigSpace, Configuration, Hyperparameter, Value};
use std::f64::consts::{E, PI};
use std::fmt;

/// A continuous benchmark function on a box.
#[derive(Clone)]
pub struct BenchFunction {
    /// The suite's name (`branin`, `hartmann3`, …).
    pub name: &'static str,
    /// Number of input dimensions.
    pub dim: usize,
    /// Inclusive `(lower, upper)` bounds, one pair per dimension.
    pub bounds: Vec<(f64, f64)>,
    /// The global minimum as the suite states it.
    pub optimum: f64,
    f: fn(&[f64]) -> f64,
}

impl fmt::Debug for BenchFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BenchFunction")
            .field("name", &self.name)
            .field("dim", &self.dim)
            .field("bounds", &self.bounds)
            .field("optimum", &self.optimum)
            .finish_non_exhaustive()
    }
}

impl BenchFunction {
    /// Evaluates the function at `x` (one entry per dimension).
    ///
    /// # Panics
    /// When `x.len() != self.dim`.
    pub fn eval(&self, x: &[f64]) -> f64 {
        assert_eq!(x.len(), self.dim, "{} takes {} inputs, got {}", self.name, self.dim, x.len());
        (self.f)(x)
    }

    /// The name of input `i` in [`Self::configspace`]: `x0`, `x1`, ….
    pub fn input_name(i: usize) -> String {
        format!("x{i}")
    }

    /// The function's space: floats `x0..x{dim-1}` on the bounds, each defaulting to the
    /// midpoint of its interval (ConfigSpace's rule for a float without an explicit default).
    pub fn configspace(&self) -> ConfigSpace {
        let mut cs = ConfigSpace::new(self.name);
        for (i, &(lo, hi)) in self.bounds.iter().enumerate() {
            cs.add(Hyperparameter::float(Self::input_name(i), lo, hi)).expect("suite bounds are valid");
        }
        cs
    }

    /// Evaluates the function at a configuration of [`Self::configspace`].
    ///
    /// # Panics
    /// When the configuration lacks one of `x0..x{dim-1}` or it is not numeric.
    pub fn eval_config(&self, c: &Configuration) -> f64 {
        let x: Vec<f64> = (0..self.dim)
            .map(|i| {
                let name = Self::input_name(i);
                c.get_f64(&name)
                    .unwrap_or_else(|| panic!("{}: configuration has no numeric {name}", self.name))
            })
            .collect();
        self.eval(&x)
    }
}

/// Branin: a=1, b=5.1/(4π²), c=5/π, r=6, s=10, t=1/(8π);
/// f = a (x2 − b x1² + c x1 − r)² + s (1−t) cos(x1) + s.
fn branin(x: &[f64]) -> f64 {
    let (a, b, c, r, s, t) = (1.0, 5.1 / (4.0 * PI * PI), 5.0 / PI, 6.0, 10.0, 1.0 / (8.0 * PI));
    let (x1, x2) = (x[0], x[1]);
    a * (x2 - b * x1 * x1 + c * x1 - r).powi(2) + s * (1.0 - t) * x1.cos() + s
}

const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];

/// f = −Σ_i α_i exp(−Σ_j A_ij (x_j − P_ij)²), with P given in units of 1e-4.
fn hartmann<const D: usize>(x: &[f64], a: &[[f64; D]; 4], p: &[[f64; D]; 4]) -> f64 {
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..D).map(|j| a[i][j] * (x[j] - 1e-4 * p[i][j]).powi(2)).sum();
            HARTMANN_ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

fn hartmann3(x: &[f64]) -> f64 {
    const A: [[f64; 3]; 4] = [[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]];
    const P: [[f64; 3]; 4] = [
        [3689.0, 1170.0, 2673.0],
        [4699.0, 4387.0, 7470.0],
        [1091.0, 8732.0, 5547.0],
        [381.0, 5743.0, 8828.0],
    ];
    hartmann(x, &A, &P)
}

fn hartmann6(x: &[f64]) -> f64 {
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ];
    hartmann(x, &A, &P)
}

/// Σ_{i<d} 100 (x_{i+1} − x_i²)² + (1 − x_i)², summed over consecutive pairs.
fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2).map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2)).sum()
}

/// −20 exp(−0.2 √mean(x²)) − exp(mean(cos 2πx)) + 20 + e.
fn ackley(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let sq = x.iter().map(|v| v * v).sum::<f64>() / n;
    let cos = x.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / n;
    -20.0 * (-0.2 * sq.sqrt()).exp() - cos.exp() + 20.0 + E
}

/// The five continuous functions of the suite, in the suite's order.
pub fn suite() -> Vec<BenchFunction> {
    vec![
        BenchFunction {
            name: "branin",
            dim: 2,
            bounds: vec![(-5.0, 10.0), (0.0, 15.0)],
            optimum: 0.397887,
            f: branin,
        },
        BenchFunction {
            name: "hartmann3",
            dim: 3,
            bounds: vec![(0.0, 1.0); 3],
            optimum: -3.86278,
            f: hartmann3,
        },
        BenchFunction {
            name: "hartmann6",
            dim: 6,
            bounds: vec![(0.0, 1.0); 6],
            optimum: -3.32237,
            f: hartmann6,
        },
        BenchFunction {
            name: "rosenbrock4",
            dim: 4,
            bounds: vec![(-5.0, 10.0); 4],
            optimum: 0.0,
            f: rosenbrock,
        },
        BenchFunction {
            name: "ackley5",
            dim: 5,
            bounds: vec![(-32.768, 32.768); 5],
            optimum: 0.0,
            f: ackley,
        },
    ]
}

/// A continuous function of the suite by name (`None` for unknown names and for
/// `mixed_conditional`, which is not a box function: see [`mixed_conditional`]).
pub fn by_name(name: &str) -> Option<BenchFunction> {
    suite().into_iter().find(|f| f.name == name)
}

/// The suite's name of the mixed problem.
pub const MIXED_NAME: &str = "mixed_conditional";

/// The global minimum of [`mixed_conditional`] (kernel=rbf, gamma=0.1, C=10^1.5, shrinking=true).
pub const MIXED_OPTIMUM: f64 = 0.0;

/// The mixed, conditional space of the suite:
/// `kernel` ∈ {linear, poly, rbf} (default rbf); `degree` ∈ 1..=5 (default 2) active iff
/// kernel == poly; `gamma` ∈ [1e-4, 10] log (default 0.1) active iff kernel == rbf;
/// `C` ∈ [1e-3, 1e3] log (default 1.0); `shrinking` ∈ {true, false} (default true).
pub fn mixed_conditional_space() -> ConfigSpace {
    let mut cs = ConfigSpace::new(MIXED_NAME);
    cs.add(Hyperparameter::categorical("kernel", ["linear", "poly", "rbf"]).default_value("rbf"))
        .and_then(|cs| cs.add(Hyperparameter::integer("degree", 1, 5).default_value(2i64)))
        .and_then(|cs| cs.add(Hyperparameter::float("gamma", 1e-4, 10.0).log().default_value(0.1)))
        .and_then(|cs| cs.add(Hyperparameter::float("C", 1e-3, 1e3).log().default_value(1.0)))
        .and_then(|cs| cs.add(Hyperparameter::categorical("shrinking", [true, false]).default_value(true)))
        .and_then(|cs| cs.add_condition(Condition::equals("degree", "kernel", "poly")))
        .and_then(|cs| cs.add_condition(Condition::equals("gamma", "kernel", "rbf")))
        .expect("the mixed space is valid");
    cs
}

/// The mixed objective: u = log10(C); base = (u − 1.5)²/4 + (shrinking ? 0 : 0.3);
/// linear: base + 1; poly: base + 0.5 + 0.25 (degree − 3)²; rbf: base + (log10(gamma) + 1)²/2.
///
/// `shrinking` may be a boolean or the string "true"/"false" (either case), as spaces read from
/// JSON sometimes carry it.
///
/// # Panics
/// When a value the active kernel needs is missing or of the wrong type.
pub fn mixed_conditional(c: &Configuration) -> f64 {
    let need = |name: &str| -> &Value {
        c.get(name).unwrap_or_else(|| panic!("{MIXED_NAME}: configuration has no active {name}"))
    };
    let num = |name: &str| -> f64 {
        need(name).as_f64().unwrap_or_else(|| panic!("{MIXED_NAME}: {name} is not numeric"))
    };
    let shrinking = match need("shrinking") {
        Value::Bool(b) => *b,
        Value::Str(s) if s.eq_ignore_ascii_case("true") => true,
        Value::Str(s) if s.eq_ignore_ascii_case("false") => false,
        other => panic!("{MIXED_NAME}: shrinking must be true or false, got {other}"),
    };
    let u = num("C").log10();
    let base = (u - 1.5).powi(2) / 4.0 + if shrinking { 0.0 } else { 0.3 };
    match need("kernel").as_str() {
        Some("linear") => base + 1.0,
        Some("poly") => base + 0.5 + 0.25 * (num("degree") - 3.0).powi(2),
        Some("rbf") => base + (num("gamma").log10() + 1.0).powi(2) / 2.0,
        _ => panic!("{MIXED_NAME}: kernel must be linear, poly or rbf, got {}", need("kernel")),
    }
}

/// regret = best observed value − optimum, as suite.json defines it (not clamped at 0).
pub fn regret(best: f64, optimum: f64) -> f64 {
    best - optimum
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn f(name: &str) -> BenchFunction {
        by_name(name).unwrap()
    }

    fn assert_at_optimum(b: &BenchFunction, x: &[f64]) {
        let v = b.eval(x);
        assert!((v - b.optimum).abs() < 1e-4, "{} at {x:?} = {v}, optimum {}", b.name, b.optimum);
    }

    #[test]
    fn suite_matches_the_json_names_and_dims() {
        let names: Vec<_> = suite().iter().map(|b| (b.name, b.dim, b.bounds.len())).collect();
        assert_eq!(
            names,
            [
                ("branin", 2, 2),
                ("hartmann3", 3, 3),
                ("hartmann6", 6, 6),
                ("rosenbrock4", 4, 4),
                ("ackley5", 5, 5)
            ]
        );
        assert!(by_name("mixed_conditional").is_none());
        assert!(by_name("nope").is_none());
    }

    #[test]
    fn optima_at_known_minimizers() {
        let b = f("branin");
        for x in [[-PI, 12.275], [PI, 2.275], [9.42478, 2.475]] {
            assert_at_optimum(&b, &x);
        }
        assert_at_optimum(&f("hartmann3"), &[0.114614, 0.555649, 0.852547]);
        assert_at_optimum(&f("hartmann6"), &[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]);
        assert_at_optimum(&f("rosenbrock4"), &[1.0; 4]);
        assert_eq!(f("rosenbrock4").eval(&[1.0; 4]), 0.0);
        assert_at_optimum(&f("ackley5"), &[0.0; 5]);
        assert!(f("ackley5").eval(&[0.0; 5]).abs() < 1e-12);
    }

    #[test]
    fn known_values_off_the_optimum() {
        // Hand-checked values: branin at the origin, rosenbrock and ackley at simple points.
        let b0 = 36.0 + 10.0 * (1.0 - 1.0 / (8.0 * PI)) + 10.0;
        assert!((f("branin").eval(&[0.0, 0.0]) - b0).abs() < 1e-12);
        assert!((f("rosenbrock4").eval(&[0.0; 4]) - 3.0).abs() < 1e-12);
        // At x = 1 in every coordinate: cos(2π) = 1, so f = -20 e^{-0.2} - e + 20 + e.
        let a1 = -20.0 * (-0.2f64).exp() + 20.0;
        assert!((f("ackley5").eval(&[1.0; 5]) - a1).abs() < 1e-12);
    }

    #[test]
    fn random_points_are_not_below_the_optimum() {
        let mut rng = StdRng::seed_from_u64(7);
        for b in suite() {
            let mut best = f64::INFINITY;
            for _ in 0..10_000 {
                let x: Vec<f64> = b.bounds.iter().map(|&(lo, hi)| rng.random_range(lo..=hi)).collect();
                let v = b.eval(&x);
                assert!(v.is_finite());
                assert!(v >= b.optimum - 1e-6, "{} at {x:?} = {v} < optimum {}", b.name, b.optimum);
                best = best.min(v);
            }
            assert!(regret(best, b.optimum) >= -1e-6);
        }
    }

    #[test]
    fn configspace_versions_agree_with_eval() {
        let mut rng = StdRng::seed_from_u64(11);
        for b in suite() {
            let cs = Arc::new(b.configspace());
            assert_eq!(cs.len(), b.dim);
            assert_eq!(cs.name(), Some(b.name));
            // The default is the midpoint of every interval.
            let d = cs.default_configuration();
            for (i, &(lo, hi)) in b.bounds.iter().enumerate() {
                assert_eq!(d.get_f64(&format!("x{i}")), Some(0.5 * (lo + hi)));
            }
            let mid: Vec<f64> = b.bounds.iter().map(|&(lo, hi)| 0.5 * (lo + hi)).collect();
            assert_eq!(b.eval_config(&d), b.eval(&mid));
            for c in cs.sample(500, &mut rng).unwrap() {
                let x: Vec<f64> = (0..b.dim).map(|i| c.get_f64(&format!("x{i}")).unwrap()).collect();
                for (v, &(lo, hi)) in x.iter().zip(&b.bounds) {
                    assert!(*v >= lo && *v <= hi);
                }
                assert_eq!(b.eval_config(&c), b.eval(&x));
            }
            // An explicit configuration evaluates like the vector.
            let pairs: Vec<(String, f64)> =
                mid.iter().enumerate().map(|(i, v)| (format!("x{i}"), *v)).collect();
            let c = Configuration::new(&cs, pairs).unwrap();
            assert_eq!(b.eval_config(&c), b.eval(&mid));
        }
    }

    fn mixed(pairs: &[(&str, Value)]) -> f64 {
        let cs = Arc::new(mixed_conditional_space());
        mixed_conditional(&Configuration::new(&cs, pairs.iter().cloned()).unwrap())
    }

    #[test]
    fn mixed_space_shape_and_defaults() {
        let cs = Arc::new(mixed_conditional_space());
        assert_eq!(cs.len(), 5);
        assert_eq!(cs.conditions().len(), 2);
        let d = cs.default_configuration();
        assert_eq!(d.get_str("kernel"), Some("rbf"));
        assert_eq!(d.get_f64("gamma"), Some(0.1));
        assert_eq!(d.get_f64("C"), Some(1.0));
        assert_eq!(d.get_bool("shrinking"), Some(true));
        assert!(!d.is_active("degree"));
        // u = 0: base = 1.5² / 4; gamma = 0.1 adds nothing.
        assert!((mixed_conditional(&d) - 0.5625).abs() < 1e-12);
        assert_eq!(cs.get("degree").unwrap().default(), Value::Int(2));
    }

    #[test]
    fn mixed_optimum_and_branches() {
        let c_opt = 10f64.powf(1.5);
        let opt = mixed(&[
            ("kernel", "rbf".into()),
            ("gamma", 0.1.into()),
            ("C", c_opt.into()),
            ("shrinking", true.into()),
        ]);
        assert!((opt - MIXED_OPTIMUM).abs() < 1e-4, "{opt}");
        assert!(opt.abs() < 1e-12);
        let linear = mixed(&[("kernel", "linear".into()), ("C", c_opt.into()), ("shrinking", false.into())]);
        assert!((linear - 1.3).abs() < 1e-12);
        let poly = mixed(&[
            ("kernel", "poly".into()),
            ("degree", 5i64.into()),
            ("C", 1.0.into()),
            ("shrinking", true.into()),
        ]);
        assert!((poly - (0.5625 + 0.5 + 1.0)).abs() < 1e-12);
        let poly3 = mixed(&[
            ("kernel", "poly".into()),
            ("degree", 3i64.into()),
            ("C", c_opt.into()),
            ("shrinking", true.into()),
        ]);
        assert!((poly3 - 0.5).abs() < 1e-12);
    }

    #[test]
    fn mixed_random_configs_are_not_below_the_optimum() {
        let cs = Arc::new(mixed_conditional_space());
        let mut rng = StdRng::seed_from_u64(3);
        let mut kernels = std::collections::HashSet::new();
        for c in cs.sample(10_000, &mut rng).unwrap() {
            let v = mixed_conditional(&c);
            assert!(v.is_finite() && v >= MIXED_OPTIMUM - 1e-6, "{c:?} = {v}");
            let k = c.get_str("kernel").unwrap().to_string();
            assert_eq!(c.is_active("degree"), k == "poly");
            assert_eq!(c.is_active("gamma"), k == "rbf");
            kernels.insert(k);
        }
        assert_eq!(kernels.len(), 3);
    }

    #[test]
    fn regret_is_best_minus_optimum() {
        assert_eq!(regret(1.5, 0.5), 1.0);
        assert_eq!(regret(-3.0, -3.5), 0.5);
        assert_eq!(regret(0.0, 0.0), 0.0);
    }
}
