//! Unit tests of the catalogue: optima at the known minimizers, hand-checked values, random
//! points never below the optimum, and the ConfigSpace versions agreeing with `eval`.

use super::*;
use functions::PI_CONFIGSPACE;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use smac_core::Value;
use std::f64::consts::PI;
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
fn catalogue_has_the_spec_names_dims_and_bounds() {
    let got: Vec<_> = functions().iter().map(|b| (b.name, b.dim, b.bounds[0], b.optimum)).collect();
    let want = [
        ("branin", 2, (-5.0, 10.0), 0.397887357729738),
        ("six_hump_camel", 2, (-3.0, 3.0), -1.031628453489877),
        ("goldstein_price", 2, (-2.0, 2.0), 3.0),
        ("hartmann3", 3, (0.0, 1.0), -3.862779787332663),
        ("rosenbrock4", 4, (-5.0, 10.0), 0.0),
        ("ackley5", 5, (-32.768, 32.768), 0.0),
        ("levy5", 5, (-10.0, 10.0), 0.0),
        ("michalewicz5", 5, (0.0, PI_CONFIGSPACE), -4.6876581790881495),
        ("hartmann6", 6, (0.0, 1.0), -3.32236801141551),
        ("trid6", 6, (-36.0, 36.0), -50.0),
        ("powell8", 8, (-4.0, 5.0), 0.0),
        ("rastrigin8", 8, (-5.12, 5.12), 0.0),
        ("dixon_price10", 10, (-10.0, 10.0), 0.0),
        ("styblinski_tang10", 10, (-5.0, 5.0), -391.6616570377142),
        ("zakharov10", 10, (-5.0, 10.0), 0.0),
        ("ackley20", 20, (-32.768, 32.768), 0.0),
    ];
    assert_eq!(got, want);
    assert_eq!(functions()[1].bounds, [(-3.0, 3.0), (-2.0, 2.0)]);
    assert_eq!(f("branin").bounds, [(-5.0, 10.0), (0.0, 15.0)]);
    for b in functions() {
        assert_eq!(b.bounds.len(), b.dim);
        assert_eq!(b.minimizer.len(), b.dim, "{}", b.name);
        // Every function but the first bound of six_hump_camel and branin has equal bounds per input.
        if !matches!(b.name, "six_hump_camel" | "branin") {
            assert!(b.bounds.iter().all(|bd| *bd == b.bounds[0]), "{}", b.name);
        }
        for (x, (lo, hi)) in b.minimizer.iter().zip(&b.bounds) {
            assert!(lo <= x && x <= hi, "{}: minimizer {x} outside [{lo}, {hi}]", b.name);
        }
    }
}

#[test]
fn every_function_equals_its_optimum_at_its_minimizer() {
    for b in functions() {
        let v = b.eval(&b.minimizer);
        let tol = 1e-12 * b.optimum.abs().max(1.0);
        assert!(
            (v - b.optimum).abs() <= tol,
            "{} at {:?} = {v:e}, optimum {:e}",
            b.name,
            b.minimizer,
            b.optimum
        );
    }
    // The other minimizers of branin and six_hump_camel.
    let tight = |b: &BenchFunction, x: &[f64]| {
        let v = b.eval(x);
        assert!((v - b.optimum).abs() < 1e-12, "{} at {x:?} = {v:e}", b.name);
    };
    tight(&f("branin"), &[-PI, 12.275]);
    tight(&f("branin"), &[3.0 * PI, 2.475]);
    let camel = f("six_hump_camel");
    tight(&camel, &camel.minimizer.iter().map(|v| -v).collect::<Vec<_>>());
    // Exact optima: integer or closed-form minimizers give the optimum to the last bit or so.
    assert_eq!(f("goldstein_price").eval(&[0.0, -1.0]), 3.0);
    assert_eq!(f("trid6").eval(&[6.0, 10.0, 12.0, 12.0, 10.0, 6.0]), -50.0);
    assert_eq!(f("powell8").eval(&[0.0; 8]), 0.0);
    assert_eq!(f("rastrigin8").eval(&[0.0; 8]), 0.0);
    assert_eq!(f("zakharov10").eval(&[0.0; 10]), 0.0);
    assert!(f("dixon_price10").eval(&f("dixon_price10").minimizer) < 1e-28);
    assert!(f("levy5").eval(&[1.0; 5]) < 1e-30);
    assert!(f("ackley20").eval(&[0.0; 20]).abs() < 1e-14);
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
    assert!((f("ackley20").eval(&[1.0; 20]) - a1).abs() < 1e-12);
    let exact = |name: &str, x: &[f64], want: f64| {
        let v = f(name).eval(x);
        assert!((v - want).abs() <= 1e-12 * want.abs().max(1.0), "{name} at {x:?} = {v}, want {want}");
    };
    exact("six_hump_camel", &[0.0, 0.0], 0.0);
    // (1 + 1·19)(30 + 1·18) = 20 · 48 at the origin.
    exact("goldstein_price", &[0.0, 0.0], 600.0);
    // Σ (0 − 1)² − 0 = 6.
    exact("trid6", &[0.0; 6], 6.0);
    // Per block (1 + 10)² + 0 + (1 − 2)⁴ + 0 = 122, two blocks.
    exact("powell8", &[1.0; 8], 244.0);
    // 80 + Σ (1 − 10 cos 2π) = 80 + 8 · (−9).
    exact("rastrigin8", &[1.0; 8], 8.0);
    // (1 − 1)² + Σ_{i=2..10} i (2 − 1)² = 54.
    exact("dixon_price10", &[1.0; 10], 54.0);
    exact("styblinski_tang10", &[0.0; 10], 0.0);
    exact("styblinski_tang10", &[1.0; 10], 10.0 * 0.5 * (1.0 - 16.0 + 5.0));
    // Σ 1 + s² + s⁴ with s = ½ · 55.
    exact("zakharov10", &[1.0; 10], 10.0 + 27.5f64.powi(2) + 27.5f64.powi(4));
    exact("michalewicz5", &[0.0; 5], 0.0);
    // At x = π/2 in every coordinate: −Σ sin²⁰(i π/4), i.e. −(2⁻¹⁰ + 1 + 2⁻¹⁰ + 0 + 2⁻¹⁰).
    exact("michalewicz5", &[PI / 2.0; 5], -(1.0 + 3.0 / 1024.0));
    // Levy at x = −3 (w = 0): sin²(0) + 4 · 1 · (1 + 10 sin²(1)) + 1 · (1 + sin²(0)).
    exact("levy5", &[-3.0; 5], 4.0 * (1.0 + 10.0 * 1f64.sin().powi(2)) + 1.0);
}

#[test]
fn random_points_are_not_below_the_optimum() {
    let mut rng = StdRng::seed_from_u64(7);
    for b in functions() {
        let mut best = f64::INFINITY;
        for _ in 0..10_000 {
            let x: Vec<f64> = b.bounds.iter().map(|&(lo, hi)| rng.random_range(lo..=hi)).collect();
            let v = b.eval(&x);
            assert!(v.is_finite());
            assert!(v >= b.optimum - 1e-12, "{} at {x:?} = {v} < optimum {}", b.name, b.optimum);
            best = best.min(v);
        }
        assert!(regret(best, b.optimum) >= 0.0);
    }
}

#[test]
fn configspace_versions_agree_with_eval() {
    let mut rng = StdRng::seed_from_u64(11);
    for b in functions() {
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
        let pairs: Vec<(String, f64)> = mid.iter().enumerate().map(|(i, v)| (format!("x{i}"), *v)).collect();
        let c = Configuration::new(&cs, pairs).unwrap();
        // Values are normalized through the unit vector, which may move them by an ulp (π/2).
        let v = b.eval_config(&c);
        assert!((v - b.eval(&mid)).abs() <= 1e-12 * v.abs().max(1.0), "{}: {v}", b.name);
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

fn eval_pairs(p: &MixedProblem, pairs: &[(&str, Value)]) -> f64 {
    let cs = Arc::new(p.configspace());
    p.eval(&Configuration::new(&cs, pairs.iter().cloned()).unwrap())
}

#[test]
fn mixed_problems_equal_their_optimum_at_their_minimizer() {
    let names: Vec<_> = mixed_problems().iter().map(|p| p.name).collect();
    assert_eq!(names, ["mixed_conditional", "branin_mixed", "model_choice"]);
    for p in mixed_problems() {
        let v = eval_pairs(&p, &p.minimizer());
        assert!((v - p.optimum).abs() < 1e-12, "{} at its minimizer = {v:e}, optimum {}", p.name, p.optimum);
        assert_eq!(p.configspace().name(), Some(p.name));
        assert_eq!(mixed_by_name(p.name).unwrap().name, p.name);
        // No default configuration sits at the optimum: a design that contains it must still search.
        let d = Arc::new(p.configspace()).default_configuration();
        assert!(p.eval(&d) > p.optimum + 0.01, "{}: default {d:?} is near the optimum", p.name);
    }
    assert!(mixed_by_name("branin").is_none());
}

#[test]
fn mixed_random_configs_never_beat_the_optimum_and_reach_every_branch() {
    let mut rng = StdRng::seed_from_u64(5);
    for p in mixed_problems() {
        let cs = Arc::new(p.configspace());
        let mut best = f64::INFINITY;
        for c in cs.sample(20_000, &mut rng).unwrap() {
            let v = p.eval(&c);
            assert!(v.is_finite() && v >= p.optimum - 1e-12, "{}: {c:?} = {v}", p.name);
            best = best.min(v);
        }
        assert!(best < p.optimum + 1.0, "{}: random search never came close ({best})", p.name);
    }
}

#[test]
fn branin_mixed_values() {
    let p = mixed_by_name("branin_mixed").unwrap();
    let b = |x0: f64, x1: i64, s: &str| {
        eval_pairs(&p, &[("x0", x0.into()), ("x1", x1.into()), ("shift", s.into())])
    };
    let br = |x0: f64, x1: f64| f("branin").eval(&[x0, x1]);
    assert_eq!(b(0.0, 0, "s0"), br(0.0, 0.0));
    assert_eq!(b(1.5, 7, "s1"), br(1.5, 7.275));
    assert_eq!(b(1.5, 7, "s2"), br(1.5, 7.475) + 0.1);
    // s1 also reaches the minimizer (−π, 12.275); s2 the third one, (3π, 2.475), plus 0.1.
    assert!((b(-PI, 12, "s1") - p.optimum).abs() < 1e-12);
    assert!((b(3.0 * PI, 2, "s2") - p.optimum - 0.1).abs() < 1e-12);
    // At x0 = π Branin's quadratic term is (x1 − 2.275)², so s0's best is 0.275² above the optimum.
    assert!((b(PI, 2, "s0") - p.optimum - 0.275f64.powi(2)).abs() < 1e-12);
}

#[test]
fn model_choice_values_and_conditions() {
    let p = mixed_by_name("model_choice").unwrap();
    let lin = eval_pairs(
        &p,
        &[
            ("family", "linear".into()),
            ("alpha", 1e-4.into()),
            ("penalty", "elasticnet".into()),
            ("l1_ratio", 0.3.into()),
        ],
    );
    assert!((lin - 0.3).abs() < 1e-12);
    let l1 = eval_pairs(&p, &[("family", "linear".into()), ("alpha", 1e-2.into()), ("penalty", "l1".into())]);
    assert!((l1 - (0.3 + 0.4 + 0.05)).abs() < 1e-12);
    let tree = eval_pairs(
        &p,
        &[
            ("family", "tree".into()),
            ("n_estimators", 300i64.into()),
            ("max_depth", 8i64.into()),
            ("criterion", "entropy".into()),
        ],
    );
    assert!((tree - 0.1).abs() < 1e-12);
    let tree2 = eval_pairs(
        &p,
        &[
            ("family", "tree".into()),
            ("n_estimators", 30i64.into()),
            ("max_depth", 18i64.into()),
            ("criterion", "gini".into()),
        ],
    );
    assert!((tree2 - (0.1 + 0.25 + 1.0 + 0.02)).abs() < 1e-12);
    let net = eval_pairs(
        &p,
        &[
            ("family", "net".into()),
            ("n_layers", 4i64.into()),
            ("width", 64i64.into()),
            ("activation", "tanh".into()),
            ("lr", 1e-4.into()),
        ],
    );
    assert!((net - (0.2 + 0.03 + 0.05 + 0.5)).abs() < 1e-12);
    // Default: a tree with n_estimators = 100, max_depth = 10, gini.
    let d = Arc::new(p.configspace()).default_configuration();
    let want = 0.1 + (1f64 / 3.0).log10().powi(2) / 4.0 + 0.04 + 0.02;
    assert!((p.eval(&d) - want).abs() < 1e-12);
    // Activity follows the family, and l1_ratio needs the linear family and elasticnet.
    let cs = Arc::new(p.configspace());
    let mut rng = StdRng::seed_from_u64(9);
    let mut seen = std::collections::HashSet::new();
    for c in cs.sample(5_000, &mut rng).unwrap() {
        let fam = c.get_str("family").unwrap().to_string();
        assert_eq!(c.is_active("alpha"), fam == "linear");
        assert_eq!(c.is_active("n_estimators"), fam == "tree");
        assert_eq!(c.is_active("width"), fam == "net");
        assert_eq!(c.is_active("l1_ratio"), fam == "linear" && c.get_str("penalty") == Some("elasticnet"));
        seen.insert((fam, c.is_active("l1_ratio")));
    }
    assert_eq!(seen.len(), 4);
}

#[test]
fn mixed_spaces_survive_the_configspace_json_round_trip() {
    for p in mixed_problems()
        .into_iter()
        .map(|p| p.configspace())
        .chain(functions().iter().map(|b| b.configspace()))
    {
        let back = ConfigSpace::from_configspace_json(&p.to_configspace_json()).unwrap();
        assert_eq!(back.len(), p.len());
        for (a, b) in p.hyperparameters().iter().zip(back.hyperparameters()) {
            assert!(a.same_definition(b), "{a:?} vs {b:?}");
        }
        assert_eq!(back.conditions().len(), p.conditions().len());
    }
}
