//! Behavioural tests of the Gaussian-process surrogate.

use ndarray::{array, s, Array1, Array2};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smac_surrogate::{
    FeatureType, GaussianProcess, GaussianProcessConfig, Surrogate, SurrogateError, VARIANCE_FLOOR,
};

fn assert_send_clone<T: Send + Clone>() {}

#[test]
fn gp_is_send_and_clone() {
    assert_send_clone::<GaussianProcess>();
}

fn smooth(r: ndarray::ArrayView1<f64>) -> f64 {
    (6.0 * r[0]).sin() + (4.0 * r[1]).cos()
}

fn sample(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |_| rng.random::<f64>())
}

#[test]
fn interpolates_a_smooth_function() {
    let x = sample(40, 2, 1);
    let y: Array1<f64> = x.rows().into_iter().map(smooth).collect();
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), vec![FeatureType::Continuous; 2]);
    gp.fit(x.view(), y.view()).unwrap();
    let y_var = y.var(0.0);

    let (mean, var) = gp.predict(x.view()).unwrap();
    for i in 0..y.len() {
        assert!((mean[i] - y[i]).abs() < 1e-2, "row {i}: {} vs {}", mean[i], y[i]);
        assert!(var[i] < 1e-3 * y_var, "row {i}: variance {}", var[i]);
    }
    let xt = sample(100, 2, 2);
    let yt: Array1<f64> = xt.rows().into_iter().map(smooth).collect();
    let (mt, vt) = gp.predict(xt.view()).unwrap();
    let rmse = ((&mt - &yt).mapv(|v| v * v).mean().unwrap()).sqrt();
    assert!(rmse < 0.1, "held-out rmse {rmse}");
    assert!(vt.iter().all(|&v| v >= VARIANCE_FLOOR && v.is_finite()));
}

#[test]
fn variance_grows_away_from_the_data() {
    let x = Array2::from_shape_fn((10, 1), |(i, _)| 0.4 * i as f64 / 9.0);
    let y = x.column(0).mapv(|v| (6.0 * v).sin());
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), vec![FeatureType::Continuous]);
    gp.fit(x.view(), y.view()).unwrap();
    let (_, var) = gp.predict(array![[0.2], [0.5], [0.9]].view()).unwrap();
    assert!(var[1] > 10.0 * var[0], "{var}");
    assert!(var[2] > var[1], "{var}");
}

#[test]
fn irrelevant_dimension_gets_a_longer_length_scale() {
    let x = sample(40, 2, 3);
    let y = x.column(0).mapv(|v| (6.0 * v).sin());
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), vec![FeatureType::Continuous; 2]);
    assert!(gp.length_scales().is_none());
    gp.fit(x.view(), y.view()).unwrap();
    let ls = gp.length_scales().unwrap();
    assert!(ls[1] > 2.0 * ls[0], "length-scales {ls:?}");
    assert!(gp.amplitude().unwrap() > 0.0 && gp.noise().unwrap() > 0.0);
    assert!(gp.objective().unwrap().is_finite());
}

#[test]
fn same_seed_reproduces() {
    let x = sample(30, 3, 4);
    let y: Array1<f64> = x.rows().into_iter().map(|r| r[0] * r[1] - r[2]).collect();
    let xt = sample(50, 3, 5);
    let run = |seed| {
        let config = GaussianProcessConfig { seed, ..Default::default() };
        let mut gp = GaussianProcess::new(config, vec![FeatureType::Continuous; 3]);
        // Two fits, so the warm start and the random restarts both matter.
        gp.fit(x.slice(s![..20, ..]), y.slice(s![..20])).unwrap();
        gp.fit(x.view(), y.view()).unwrap();
        (gp.predict(xt.view()).unwrap(), gp.length_scales().unwrap())
    };
    assert_eq!(run(11), run(11));
}

#[test]
fn clone_predicts_like_the_original() {
    let x = sample(20, 2, 6);
    let y: Array1<f64> = x.rows().into_iter().map(smooth).collect();
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), vec![FeatureType::Continuous; 2]);
    gp.fit(x.view(), y.view()).unwrap();
    let copy = gp.clone();
    assert_eq!(gp.predict(x.view()).unwrap(), copy.predict(x.view()).unwrap());
}

#[test]
fn handles_categorical_and_inactive_columns() {
    // Column 0: categorical with 3 choices; column 1 is active only for choice 0.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for _ in 0..45 {
        let c = rng.random_range(0..3);
        if c == 0 {
            let v: f64 = rng.random();
            rows.extend([0.0, v]);
            y.push(v);
        } else {
            rows.extend([c as f64, f64::NAN]);
            y.push(3.0 * c as f64);
        }
    }
    let x = Array2::from_shape_vec((45, 2), rows).unwrap();
    let types = vec![FeatureType::Categorical(3), FeatureType::Continuous];
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), types);
    gp.fit(x.view(), Array1::from(y).view()).unwrap();
    let (mean, _) = gp.predict(array![[0.0, 0.5], [1.0, f64::NAN], [2.0, f64::NAN]].view()).unwrap();
    for (m, e) in mean.iter().zip([0.5, 3.0, 6.0]) {
        assert!((m - e).abs() < 0.1, "{mean}");
    }
}

#[test]
fn degenerate_data_is_handled() {
    let types = vec![FeatureType::Continuous];
    // Constant targets.
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), types.clone());
    gp.fit(array![[0.1], [0.5], [0.9]].view(), array![2.0, 2.0, 2.0].view()).unwrap();
    let (mean, var) = gp.predict(array![[0.3]].view()).unwrap();
    assert!((mean[0] - 2.0).abs() < 1e-9 && var[0] >= VARIANCE_FLOOR);
    // Duplicated inputs with different targets, and a single point.
    gp.fit(array![[0.5], [0.5], [0.2]].view(), array![1.0, 2.0, 0.0].view()).unwrap();
    let (mean, _) = gp.predict(array![[0.5]].view()).unwrap();
    assert!((mean[0] - 1.5).abs() < 0.2, "{mean}");
    gp.fit(array![[0.5]].view(), array![4.0].view()).unwrap();
    let (mean, _) = gp.predict(array![[0.5]].view()).unwrap();
    assert!((mean[0] - 4.0).abs() < 1e-6, "{mean}");
}

#[test]
fn errors_are_reported() {
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), vec![FeatureType::Continuous; 2]);
    let x = array![[0.1, 0.2], [0.5, 0.5], [0.9, 0.1]];
    assert_eq!(gp.predict(x.view()).unwrap_err(), SurrogateError::NotFitted);
    assert!(!gp.is_fitted());
    assert_eq!(gp.fit(Array2::zeros((0, 2)).view(), Array1::zeros(0).view()), Err(SurrogateError::EmptyData));
    assert_eq!(
        gp.fit(x.view(), array![0.0, f64::NEG_INFINITY, 1.0].view()),
        Err(SurrogateError::NonFiniteTarget { index: 1 })
    );
    assert!(matches!(
        gp.fit(array![[0.1, 0.2, 0.3]].view(), array![1.0].view()),
        Err(SurrogateError::ShapeMismatch { expected: 2, found: 3, .. })
    ));
    gp.fit(x.view(), array![0.0, 1.0, 2.0].view()).unwrap();
    assert!(gp.is_fitted());
    assert!(matches!(
        gp.predict(array![[0.1]].view()),
        Err(SurrogateError::ShapeMismatch { expected: 2, found: 1, .. })
    ));
    assert!(matches!(
        gp.predict(array![[0.1, f64::INFINITY]].view()),
        Err(SurrogateError::InvalidFeature { row: 0, column: 1, .. })
    ));
    let inverted = GaussianProcessConfig { length_scale_bounds: (1.0, 0.5), ..Default::default() };
    let mut gp = GaussianProcess::new(inverted, vec![FeatureType::Continuous; 2]);
    assert!(matches!(gp.fit(x.view(), array![0.0, 1.0, 2.0].view()), Err(SurrogateError::InvalidConfig(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn predictions_are_finite_on_arbitrary_data(
        data in prop::collection::vec((0u8..5, 0.0f64..1.0, -1e3f64..1e3), 1..15),
        seed in any::<u64>(),
    ) {
        // Coarse inputs produce duplicates; targets span several orders of magnitude.
        let n = data.len();
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 { data[i].0 as f64 / 4.0 } else { data[i].1 }
        });
        let y: Array1<f64> = data.iter().map(|d| d.2).collect();
        let config = GaussianProcessConfig { seed, ..Default::default() };
        let mut gp = GaussianProcess::new(config, vec![FeatureType::Continuous; 2]);
        gp.fit(x.view(), y.view()).unwrap();
        let (mean, var) = gp.predict(sample(20, 2, seed).view()).unwrap();
        prop_assert!(mean.iter().all(|m| m.is_finite()));
        prop_assert!(var.iter().all(|&v| v.is_finite() && v >= VARIANCE_FLOOR));
    }
}
