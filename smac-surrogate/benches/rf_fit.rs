//! Random-forest fit/predict timings (`cargo bench -p smac-surrogate --bench rf_fit`).
//!
//! For n in 100, 1,000 and 10,000 training rows (d = 6, SMAC3 HPO forest: 10 trees,
//! min_samples_leaf 1) prints one JSON line `{"n":..,"fit_ms":..,"predict_10k_ms":..}` with the
//! median wall time of repeated runs.

use std::time::Instant;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smac_surrogate::{FeatureType, RandomForest, RandomForestConfig, Surrogate};

const D: usize = 6;

fn data(n: usize, rng: &mut ChaCha8Rng) -> (Array2<f64>, Array1<f64>) {
    let x = Array2::from_shape_fn((n, D), |_| rng.random::<f64>());
    let y =
        x.rows().into_iter().map(|r| (6.0 * r[0]).sin() + r[1] * r[2] + 0.5 * (r[3] - 0.3).powi(2)).collect();
    (x, y)
}

fn median_ms(mut f: impl FnMut(), reps: usize) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (xq, _) = data(10_000, &mut rng);
    for n in [100, 1_000, 10_000] {
        let (x, y) = data(n, &mut rng);
        let reps = if n >= 10_000 { 7 } else { 21 };
        let mut rf = RandomForest::new(RandomForestConfig::hpo(), vec![FeatureType::Continuous; D]);
        let fit_ms = median_ms(|| rf.fit(x.view(), y.view()).expect("fit"), reps);
        let predict_ms = median_ms(
            || {
                std::hint::black_box(rf.predict(xq.view()).expect("predict"));
            },
            reps,
        );
        println!("{{\"n\":{n},\"fit_ms\":{fit_ms:.3},\"predict_10k_ms\":{predict_ms:.3}}}");
    }
}
