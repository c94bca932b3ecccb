//! Behavioural tests of the random forest surrogate.

use ndarray::{array, Array1, Array2};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smac_surrogate::{
    FeatureType, RandomForest, RandomForestConfig, Splitter, Surrogate, SurrogateError, VARIANCE_FLOOR,
};

fn assert_send_clone<T: Send + Clone>() {}

#[test]
fn forest_is_send_and_clone() {
    assert_send_clone::<RandomForest>();
}

fn rmse(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

fn plain(seed: u64) -> RandomForestConfig {
    RandomForestConfig { log_y: false, seed, ..RandomForestConfig::hpo() }
}

#[test]
fn fits_sine_in_one_dimension() {
    let f = |x: f64| (6.0 * x).sin();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = Array2::from_shape_fn((200, 1), |_| rng.random::<f64>());
    let y = x.column(0).mapv(f);
    let xt = Array2::from_shape_fn((50, 1), |(i, _)| (i as f64 + 0.5) / 50.0);
    let yt = xt.column(0).mapv(f);
    let mut rf = RandomForest::new(plain(0), vec![FeatureType::Continuous]);
    rf.fit(x.view(), y.view()).unwrap();
    let (mean, var) = rf.predict(xt.view()).unwrap();
    assert!(rmse(&mean, &yt) < 0.05, "rmse {}", rmse(&mean, &yt));
    assert!(var.iter().all(|&v| v >= VARIANCE_FLOOR));
}

#[test]
fn fits_two_dimensional_function_with_class_defaults() {
    let f = |a: f64, b: f64| (6.0 * a).sin() + 2.0 * (b - 0.5).powi(2);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = Array2::from_shape_fn((500, 2), |_| rng.random::<f64>());
    let y: Array1<f64> = x.rows().into_iter().map(|r| f(r[0], r[1])).collect();
    let xt = Array2::from_shape_fn((100, 2), |_| rng.random::<f64>());
    let yt: Array1<f64> = xt.rows().into_iter().map(|r| f(r[0], r[1])).collect();
    let mut rf = RandomForest::new(RandomForestConfig::default(), vec![FeatureType::Continuous; 2]);
    rf.fit(x.view(), y.view()).unwrap();
    let (mean, _) = rf.predict(xt.view()).unwrap();
    // The targets have a standard deviation of about 0.7.
    assert!(rmse(&mean, &yt) < 0.1, "rmse {}", rmse(&mean, &yt));
}

#[test]
fn variance_is_larger_far_from_the_data() {
    // Flat around 0.2, sloped at the border of the training range: bootstrapped trees agree
    // near 0.2 but extrapolate to 0.9 from different border points.
    let x = Array2::from_shape_fn((40, 1), |(i, _)| 0.4 * i as f64 / 39.0);
    let y = x.column(0).mapv(|v| (v - 0.2).powi(2));
    for seed in 0..5 {
        let mut rf = RandomForest::new(plain(seed), vec![FeatureType::Continuous]);
        rf.fit(x.view(), y.view()).unwrap();
        let (_, var) = rf.predict(array![[0.2], [0.9]].view()).unwrap();
        assert!(var[1] > 10.0 * var[0], "seed {seed}: {var}");
    }
}

#[test]
fn same_seed_reproduces_and_other_seed_differs() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = Array2::from_shape_fn((100, 3), |_| rng.random::<f64>());
    let y: Array1<f64> = x.rows().into_iter().map(|r| r[0] + r[1] * r[2]).collect();
    let xt = Array2::from_shape_fn((200, 3), |_| rng.random::<f64>());
    let predict = |seed| {
        let mut rf = RandomForest::new(
            RandomForestConfig { seed, ..Default::default() },
            vec![FeatureType::Continuous; 3],
        );
        rf.fit(x.view(), y.view()).unwrap();
        rf.predict(xt.view()).unwrap()
    };
    let (m1, v1) = predict(7);
    let (m2, v2) = predict(7);
    let (m3, _) = predict(8);
    assert_eq!(m1, m2);
    assert_eq!(v1, v2);
    assert_ne!(m1, m3);
}

#[test]
fn log_y_leaf_averages_in_original_scale() {
    let config = RandomForestConfig {
        n_trees: 1,
        bootstrapping: false,
        min_samples_split: 100,
        log_y: true,
        ..RandomForestConfig::hpo()
    };
    let x = array![[0.1], [0.5], [0.9]];
    let y = array![1.0f64.ln(), 2.0f64.ln(), 6.0f64.ln()];
    let mut rf = RandomForest::new(config.clone(), vec![FeatureType::Continuous]);
    rf.fit(x.view(), y.view()).unwrap();
    let (mean, var) = rf.predict(array![[0.3]].view()).unwrap();
    assert!((mean[0] - (3.0f64 + 1e-10).ln()).abs() < 1e-12, "{mean}");
    assert_eq!(var[0], VARIANCE_FLOOR);

    // Tiny costs: the 1e-10 offset matters.
    let y = array![-30.0, -30.0, -30.0];
    rf.fit(x.view(), y.view()).unwrap();
    let (mean, _) = rf.predict(array![[0.3]].view()).unwrap();
    assert!((mean[0] - ((-30.0f64).exp() + 1e-10).ln()).abs() < 1e-9, "{mean}");

    // Without log_y the leaf is the plain mean.
    let mut rf =
        RandomForest::new(RandomForestConfig { log_y: false, ..config }, vec![FeatureType::Continuous]);
    rf.fit(x.view(), array![1.0, 2.0, 6.0].view()).unwrap();
    let (mean, _) = rf.predict(array![[0.3]].view()).unwrap();
    assert!((mean[0] - 3.0).abs() < 1e-12);
}

#[test]
fn inactive_values_are_imputed() {
    // c0 ∈ {0, 1} selects a branch; c1 (continuous) is active iff c0 = 0 and c2 (categorical,
    // 3 choices) is active iff c0 = 1.
    let nan = f64::NAN;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for _ in 0..300 {
        if rng.random::<bool>() {
            let v: f64 = rng.random();
            rows.extend([0.0, v, nan]);
            y.push(v);
        } else {
            let c = rng.random_range(0..3) as f64;
            rows.extend([1.0, nan, c]);
            y.push(10.0 + 2.0 * c);
        }
    }
    let x = Array2::from_shape_vec((300, 3), rows).unwrap();
    let types = vec![FeatureType::Categorical(2), FeatureType::Continuous, FeatureType::Categorical(3)];
    let mut rf = RandomForest::new(plain(0), types);
    rf.fit(x.view(), Array1::from(y).view()).unwrap();
    let xt = array![[0.0, 0.25, nan], [0.0, 0.75, nan], [1.0, nan, 0.0], [1.0, nan, 2.0]];
    let (mean, _) = rf.predict(xt.view()).unwrap();
    let expected = [0.25, 0.75, 10.0, 14.0];
    for (m, e) in mean.iter().zip(expected) {
        assert!((m - e).abs() < 0.1, "{mean} vs {expected:?}");
    }
}

#[test]
fn categorical_split_finds_a_category_subset() {
    // y depends on c ∈ {0, 2} vs {1, 3}: no threshold on the index separates them in one split.
    let x = Array2::from_shape_fn((40, 1), |(i, _)| (i % 4) as f64);
    let y = x.column(0).mapv(|c| if c == 0.0 || c == 2.0 { 1.0 } else { 0.0 });
    let config = RandomForestConfig { n_trees: 1, bootstrapping: false, max_depth: 1, ..plain(0) };
    let mut rf = RandomForest::new(config, vec![FeatureType::Categorical(4)]);
    rf.fit(x.view(), y.view()).unwrap();
    let (mean, _) = rf.predict(array![[0.0], [1.0], [2.0], [3.0]].view()).unwrap();
    assert_eq!(mean, array![1.0, 0.0, 1.0, 0.0]);
    // Inactive (never seen) category still gets a finite prediction.
    let (mean, _) = rf.predict(array![[f64::NAN]].view()).unwrap();
    assert!(mean[0] == 0.0 || mean[0] == 1.0);
}

#[test]
fn errors_are_reported() {
    let types = vec![FeatureType::Continuous, FeatureType::Categorical(3)];
    let mut rf = RandomForest::new(RandomForestConfig::default(), types);
    let x = array![[0.1, 0.0], [0.5, 1.0], [0.9, 2.0]];
    assert!(!rf.is_fitted());
    assert_eq!(rf.predict(x.view()).unwrap_err(), SurrogateError::NotFitted);
    assert_eq!(rf.fit(Array2::zeros((0, 2)).view(), Array1::zeros(0).view()), Err(SurrogateError::EmptyData));
    assert_eq!(
        rf.fit(x.view(), array![1.0, f64::NAN, 2.0].view()),
        Err(SurrogateError::NonFiniteTarget { index: 1 })
    );
    assert_eq!(
        rf.fit(x.view(), array![1.0, 2.0, f64::INFINITY].view()),
        Err(SurrogateError::NonFiniteTarget { index: 2 })
    );
    assert!(matches!(
        rf.fit(x.view(), array![1.0, 2.0].view()),
        Err(SurrogateError::ShapeMismatch { expected: 3, found: 2, .. })
    ));
    assert!(matches!(
        rf.fit(array![[0.1, 3.0]].view(), array![1.0].view()),
        Err(SurrogateError::InvalidFeature { row: 0, column: 1, .. })
    ));
    assert!(!rf.is_fitted());
    rf.fit(x.view(), array![1.0, 2.0, 3.0].view()).unwrap();
    assert!(rf.is_fitted());
    assert!(matches!(
        rf.predict(array![[0.1, 0.0, 0.3]].view()),
        Err(SurrogateError::ShapeMismatch { expected: 2, found: 3, .. })
    ));
    let mut empty = RandomForest::new(
        RandomForestConfig { n_trees: 0, ..Default::default() },
        vec![FeatureType::Continuous],
    );
    assert!(matches!(
        empty.fit(array![[0.1]].view(), array![1.0].view()),
        Err(SurrogateError::InvalidConfig(_))
    ));
    let message = SurrogateError::NonFiniteTarget { index: 4 }.to_string();
    assert!(message.contains("index 4"), "{message}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn predictions_stay_within_target_range(
        data in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0, -5.0f64..5.0), 1..60),
        seed in any::<u64>(),
    ) {
        let n = data.len();
        let x = Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { data[i].0 } else { data[i].1 });
        let y: Array1<f64> = data.iter().map(|d| d.2).collect();
        let mut rf = RandomForest::new(
            RandomForestConfig { seed, ..RandomForestConfig::default() },
            vec![FeatureType::Continuous; 2],
        );
        rf.fit(x.view(), y.view()).unwrap();
        let (mean, var) = rf.predict(x.view()).unwrap();
        let (lo, hi) = y.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        for (&m, &v) in mean.iter().zip(&var) {
            prop_assert!(m >= lo - 1e-9 && m <= hi + 1e-9);
            prop_assert!(v >= VARIANCE_FLOOR && v.is_finite());
        }
    }
}

#[test]
fn random_splits_make_the_trees_disagree_between_observations_and_best_splits_do_not() {
    // Two points, no bootstrapping: every tree has one split, somewhere between them.
    let x = array![[0.0], [1.0]];
    let y = array![0.0, 1.0];
    let fit = |splitter| {
        let cfg = RandomForestConfig { bootstrapping: false, splitter, seed: 5, ..plain(5) };
        let mut rf = RandomForest::new(cfg, vec![FeatureType::Continuous]);
        rf.fit(x.view(), y.view()).unwrap();
        rf.predict(array![[0.0], [0.3], [0.5], [0.7], [1.0]].view()).unwrap()
    };
    let (mean_b, var_b) = fit(Splitter::Best);
    let (mean_r, var_r) = fit(Splitter::Random);
    // Both reproduce the observations.
    for (m, v) in [(&mean_b, &var_b), (&mean_r, &var_r)] {
        assert_eq!((m[0], m[4]), (0.0, 1.0));
        assert!(v[0] <= VARIANCE_FLOOR && v[4] <= VARIANCE_FLOOR);
    }
    // Best splits all cut at the midpoint: no disagreement anywhere.
    assert!(var_b.iter().all(|v| *v <= VARIANCE_FLOOR), "{var_b:?}");
    assert_eq!((mean_b[1], mean_b[3]), (0.0, 1.0));
    // Random thresholds spread over (0, 1): the trees disagree in between, most in the middle.
    assert!(var_r[2] > 0.1, "{var_r:?}");
    assert!(var_r[1] > VARIANCE_FLOOR && var_r[3] > VARIANCE_FLOOR, "{var_r:?}");
    assert!(mean_r[1] < mean_r[2] && mean_r[2] < mean_r[3], "{mean_r:?}");
}

#[test]
fn fits_and_predictions_are_the_same_bits_on_one_thread_and_on_several() {
    // Enough rows that the trees are grown in parallel and the prediction is split in ranges,
    // with a categorical column and inactive values on the way.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = Array2::from_shape_fn((600, 3), |(_, j)| match j {
        0 => rng.random::<f64>(),
        1 => f64::from(rng.random_range(0u8..3)),
        _ => {
            if rng.random::<f64>() < 0.2 {
                f64::NAN
            } else {
                rng.random()
            }
        }
    });
    let y = Array1::from_shape_fn(600, |i| x[[i, 0]].sin() + x[[i, 1]] + x[[i, 2]].max(0.0));
    let queries =
        Array2::from_shape_fn(
            (3_000, 3),
            |(i, j)| if j == 1 { (i % 3) as f64 } else { (i as f64 * 0.37).fract() },
        );
    let types = vec![FeatureType::Continuous, FeatureType::Categorical(3), FeatureType::Continuous];
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut rf = RandomForest::new(plain(7), types.clone());
            rf.fit(x.view(), y.view()).unwrap();
            let (m, v) = rf.predict(queries.view()).unwrap();
            m.iter().chain(v.iter()).map(|f| f.to_bits()).collect::<Vec<_>>()
        })
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_eq!(one, run(4));
}
