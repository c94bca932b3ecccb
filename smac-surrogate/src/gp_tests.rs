//! Tests of the Gaussian process: incremental updates, the refit schedule, predictions.
use super::*;
use ndarray::{s, Array1, Array2};

fn data(n: usize, types: &[FeatureType], seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, types.len()), |(_, j)| match types[j] {
        FeatureType::Continuous => {
            if j > 0 && rng.random::<f64>() < 0.2 {
                f64::NAN
            } else {
                rng.random::<f64>()
            }
        }
        FeatureType::Categorical(k) => rng.random_range(0..k) as f64,
    });
    let y = x
        .rows()
        .into_iter()
        .map(|r| r.iter().enumerate().map(|(j, v)| (v.max(0.0) * (j + 2) as f64).sin()).sum::<f64>())
        .collect();
    (x, y)
}

/// Mean and variance agree to `tol`, relative to the target scale.
fn assert_close(a: &(Array1<f64>, Array1<f64>), b: &(Array1<f64>, Array1<f64>), scale: f64, tol: f64) {
    for i in 0..a.0.len() {
        assert!((a.0[i] - b.0[i]).abs() <= tol * scale, "mean {i}: {} vs {}", a.0[i], b.0[i]);
        assert!((a.1[i] - b.1[i]).abs() <= tol * scale * scale, "var {i}: {} vs {}", a.1[i], b.1[i]);
    }
}

#[test]
fn extended_factor_gives_the_from_scratch_posterior() {
    for types in [
        vec![FeatureType::Continuous; 3],
        vec![FeatureType::Continuous, FeatureType::Categorical(3), FeatureType::Continuous],
    ] {
        let (x, y) = data(80, &types, 1);
        let (xq, _) = data(300, &types, 2);
        let refit = RefitSchedule { every_fit_until: 20, growth: 100.0 };
        let config = GaussianProcessConfig { refit, ..Default::default() };
        let mut gp = GaussianProcess::new(config, types.clone());
        gp.fit(x.slice(s![..20, ..]), y.slice(s![..20])).unwrap();
        assert_eq!(gp.last_fit(), Some(FitKind::Optimized));
        let theta = gp.theta.clone();
        // One row, then a block of rows, then many (the targets' mean and scale change).
        for n in [21, 30, 80] {
            gp.fit(x.slice(s![..n, ..]), y.slice(s![..n])).unwrap();
            assert_eq!(gp.last_fit(), Some(FitKind::Extended));
            assert_eq!(gp.theta, theta, "hyperparameters are kept");
            let model = gp.model.as_ref().unwrap();
            let xs = impute_matrix(&x.slice(s![..n, ..]), &types).unwrap();
            let scratch = gp.refactor(xs, n, &standardized(&y.slice(s![..n])), (model.y_mean, model.y_std));
            let scratch = scratch.unwrap();
            assert_eq!(scratch.diag, model.diag);
            let mut reference = gp.clone();
            reference.model = Some(scratch);
            let scale = y.std(0.0);
            assert_close(
                &gp.predict(xq.view()).unwrap(),
                &reference.predict(xq.view()).unwrap(),
                scale,
                1e-8,
            );
            let (a, b) = (gp.objective().unwrap(), reference.objective().unwrap());
            assert!((a - b).abs() <= 1e-8 * a.abs().max(1.0), "objective {a} vs {b}");
        }
    }
}

fn standardized(y: &ndarray::ArrayView1<f64>) -> Vec<f64> {
    let n = y.len() as f64;
    let mean = y.sum() / n;
    let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    y.iter().map(|v| (v - mean) / std).collect()
}

#[test]
fn refit_schedule_fires_as_specified() {
    let schedule = RefitSchedule { every_fit_until: 10, growth: 1.5 };
    let types = vec![FeatureType::Continuous; 2];
    let (x, y) = data(60, &types, 3);
    let config = GaussianProcessConfig { refit: schedule.clone(), ..Default::default() };
    let mut gp = GaussianProcess::new(config, types);
    let mut optimized = Vec::new();
    for n in 3..=60 {
        gp.fit(x.slice(s![..n, ..]), y.slice(s![..n])).unwrap();
        match gp.last_fit().unwrap() {
            FitKind::Optimized => optimized.push(n),
            FitKind::Extended => {}
            FitKind::Refactored => panic!("no jitter needed at n = {n}"),
        }
    }
    // Every fit up to 10 rows, then at ⌈1.5 × previous⌉: 15, 23 (≥ 22.5), 35 (≥ 34.5), 53.
    let expected: Vec<usize> = (3..=10).chain([15, 23, 35, 53]).collect();
    assert_eq!(optimized, expected);
    assert!(RefitSchedule::every_fit().is_due(1000, Some(999)));
    assert!(schedule.is_due(5, None));
}

#[test]
fn changed_rows_are_reoptimized() {
    let types = vec![FeatureType::Continuous; 2];
    let (x, y) = data(40, &types, 4);
    let refit = RefitSchedule { every_fit_until: 5, growth: 100.0 };
    let mut gp = GaussianProcess::new(GaussianProcessConfig { refit, ..Default::default() }, types);
    gp.fit(x.slice(s![..30, ..]), y.slice(s![..30])).unwrap();
    gp.fit(x.slice(s![..31, ..]), y.slice(s![..31])).unwrap();
    assert_eq!(gp.last_fit(), Some(FitKind::Extended));
    // Rows 1..32 do not start with the previous rows.
    gp.fit(x.slice(s![1..32, ..]), y.slice(s![1..32])).unwrap();
    assert_eq!(gp.last_fit(), Some(FitKind::Optimized));
}

#[test]
fn replaced_trailing_rows_are_cut_off_and_the_rest_extended() {
    // The SMBO loop fits on results plus fantasy rows for running trials, then on results only.
    let types = vec![FeatureType::Continuous; 3];
    let (x, y) = data(50, &types, 5);
    let (fantasies, _) = data(4, &types, 6);
    let (xq, _) = data(100, &types, 9);
    let refit = RefitSchedule { every_fit_until: 10, growth: 100.0 };
    let config = GaussianProcessConfig { refit, ..Default::default() };
    let mut with_fantasies = GaussianProcess::new(config.clone(), types.clone());
    with_fantasies.fit(x.slice(s![..30, ..]), y.slice(s![..30])).unwrap();
    let mut plain = with_fantasies.clone();
    let x_lied = ndarray::concatenate(ndarray::Axis(0), &[x.slice(s![..30, ..]), fantasies.view()]).unwrap();
    let y_lied =
        ndarray::concatenate(ndarray::Axis(0), &[y.slice(s![..30]), Array1::from_elem(4, 0.5).view()])
            .unwrap();
    with_fantasies.fit(x_lied.view(), y_lied.view()).unwrap();
    assert_eq!(with_fantasies.last_fit(), Some(FitKind::Extended));
    with_fantasies.fit(x.slice(s![..40, ..]), y.slice(s![..40])).unwrap();
    assert_eq!(with_fantasies.last_fit(), Some(FitKind::Extended), "cut to 30 rows, extended by 10");
    plain.fit(x.slice(s![..40, ..]), y.slice(s![..40])).unwrap();
    assert_eq!(with_fantasies.theta, plain.theta);
    let scale = y.std(0.0);
    assert_close(
        &with_fantasies.predict(xq.view()).unwrap(),
        &plain.predict(xq.view()).unwrap(),
        scale,
        1e-9,
    );
}

#[test]
fn kernel_variants_agree_bit_for_bit() {
    let types = vec![FeatureType::Continuous; 3];
    let (x, y) = data(150, &types, 7);
    let (xq, _) = data(77, &types, 8);
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), types);
    gp.fit(x.view(), y.view()).unwrap();
    let model = gp.model.as_ref().unwrap();
    let run = |f: &dyn Fn(&mut [f64], &mut [f64])| {
        let (mut m, mut v) = (vec![0.0; 77], vec![0.0; 77]);
        f(&mut m, &mut v);
        (m, v)
    };
    let best = run(&|m, v| gp.predict_rows(model, &xq.view(), 0, m, v).unwrap());
    let plain = run(&|m, v| gp.predict_generic::<LANES, 1, 1>(model, &xq.view(), 0, m, v).unwrap());
    let wide = run(&|m, v| gp.predict_generic::<32, 3, 5>(model, &xq.view(), 0, m, v).unwrap());
    assert_eq!(best, plain);
    assert_eq!(best, wide);
}

#[test]
fn threads_do_not_change_predictions() {
    let types = vec![FeatureType::Continuous; 4];
    let (x, y) = data(200, &types, 5);
    let (xq, _) = data(2_000, &types, 6);
    let run = |threads| {
        let config = GaussianProcessConfig { predict_threads: threads, ..Default::default() };
        let mut gp = GaussianProcess::new(config, types.clone());
        gp.fit(x.view(), y.view()).unwrap();
        assert_eq!(gp.threads_for(xq.nrows(), 200), threads);
        gp.predict(xq.view()).unwrap()
    };
    assert_eq!(run(1), run(2));
    assert_eq!(run(1), run(3));
}
