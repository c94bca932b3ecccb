//! fANOVA on forests fitted to functions whose variance decomposition is known.

use super::*;
use crate::{RandomForestConfig, Splitter, Surrogate};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A forest with SMAC3's HPO settings but plain (not log-scaled) targets.
fn forest(types: Vec<FeatureType>) -> RandomForest {
    RandomForest::new(RandomForestConfig { log_y: false, seed: 1, ..RandomForestConfig::hpo() }, types)
}

/// `n` random rows of `types` and the targets `f(row)`.
fn sample(types: &[FeatureType], n: usize, f: impl Fn(&[f64]) -> f64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut x = Array2::zeros((n, types.len()));
    for i in 0..n {
        for (j, t) in types.iter().enumerate() {
            x[[i, j]] = match t {
                FeatureType::Continuous => rng.random::<f64>(),
                FeatureType::Categorical(k) => rng.random_range(0..*k) as f64,
            };
        }
    }
    let y = x.rows().into_iter().map(|r| f(r.as_slice().unwrap())).collect();
    (x, y)
}

fn fanova_of(types: Vec<FeatureType>, n: usize, f: impl Fn(&[f64]) -> f64) -> FanovaResult {
    let (x, y) = sample(&types, n, f);
    let mut rf = forest(types);
    rf.fit(x.view(), y.view()).unwrap();
    rf.fanova().unwrap()
}

#[test]
fn exact_on_a_single_tree_over_a_grid() {
    // One tree without bootstrapping splits at 0.5 in both columns: four quadrants with values
    // x' + 2y' (x', y' in {0, 1}). μ = 1.5, V = 1.25, V_x = 0.25, V_y = 1.
    let cfg = RandomForestConfig {
        n_trees: 1,
        bootstrapping: false,
        log_y: false,
        splitter: Splitter::Best,
        ..RandomForestConfig::hpo()
    };
    let mut rf = RandomForest::new(cfg, vec![FeatureType::Continuous; 2]);
    let x = ndarray::arr2(&[[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]);
    let y =
        x.rows().into_iter().map(|r| (r[0] > 0.5) as u8 as f64 + 2.0 * (r[1] > 0.5) as u8 as f64).collect();
    let y: Array1<f64> = y;
    rf.fit(x.view(), y.view()).unwrap();
    let r = rf.fanova().unwrap();
    assert_eq!((r.n_trees, r.n_trees_total), (1, 1));
    assert!((r.importance[0].mean - 0.2).abs() < 1e-12, "{r:?}");
    assert!((r.importance[1].mean - 0.8).abs() < 1e-12, "{r:?}");
    assert!((r.main_effects_total.mean - 1.0).abs() < 1e-12);
    assert_eq!(r.importance[0].std, 0.0);
}

#[test]
fn an_irrelevant_column_has_no_importance() {
    let r = fanova_of(vec![FeatureType::Continuous; 2], 200, |v| v[0]);
    assert!(r.importance[0].mean > 0.97, "{r:?}");
    assert!(r.importance[1].mean < 0.02, "{r:?}");
    assert_eq!(r.n_trees, 10);
}

#[test]
fn an_additive_function_splits_the_variance_evenly() {
    let r = fanova_of(vec![FeatureType::Continuous; 2], 400, |v| v[0] + v[1]);
    for imp in &r.importance {
        assert!((imp.mean - 0.5).abs() < 0.08, "{r:?}");
    }
    // Additive: the main effects explain (nearly) everything.
    assert!(r.main_effects_total.mean > 0.9, "{r:?}");
}

#[test]
fn a_categorical_effect_is_found() {
    let types = vec![FeatureType::Continuous, FeatureType::Categorical(3)];
    let r = fanova_of(types, 200, |v| [0.0, 1.0, 5.0][v[1] as usize]);
    assert!(r.importance[1].mean > 0.97, "{r:?}");
    assert!(r.importance[0].mean < 0.02, "{r:?}");
}

#[test]
fn a_pure_interaction_has_small_main_effects() {
    let r = fanova_of(vec![FeatureType::Continuous; 2], 400, |v| (v[0] - 0.5) * (v[1] - 0.5));
    assert!(r.main_effects_total.mean < 0.3, "{r:?}");
}

#[test]
fn bounds_set_the_domain_and_inactive_values_are_outside_it() {
    // Column 1 is inactive (NaN, imputed as -1) in half of the rows; it only matters there, so on
    // the domain (where it is active) nothing depends on it.
    let types = vec![FeatureType::Continuous; 2];
    let (mut x, _) = sample(&types, 200, |_| 0.0);
    for i in (0..200).step_by(2) {
        x[[i, 1]] = f64::NAN;
    }
    let y: Array1<f64> = x.rows().into_iter().map(|r| r[0] + if r[1].is_nan() { 3.0 } else { 0.0 }).collect();
    let mut rf = forest(types);
    rf.fit(x.view(), y.view()).unwrap();
    let r = rf.fanova().unwrap();
    assert!(r.importance[0].mean > 0.95, "{r:?}");
    assert!(r.importance[1].mean < 0.03, "{r:?}");
    // Bounds must match the columns and be intervals.
    assert!(rf.fanova_in(&[(0.0, 1.0)]).is_err());
    assert!(rf.fanova_in(&[(1.0, 0.0), (0.0, 1.0)]).is_err());
}

#[test]
fn an_unfitted_forest_is_an_error() {
    let rf = forest(vec![FeatureType::Continuous]);
    assert_eq!(rf.fanova(), Err(SurrogateError::NotFitted));
}

#[test]
fn a_constant_forest_has_no_trees_to_average() {
    let types = vec![FeatureType::Continuous];
    let (x, y) = sample(&types, 20, |_| 2.0);
    let mut rf = forest(types);
    rf.fit(x.view(), y.view()).unwrap();
    let r = rf.fanova().unwrap();
    assert_eq!((r.n_trees, r.n_trees_total), (0, 10));
}
