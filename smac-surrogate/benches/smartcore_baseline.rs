//! Baseline for the design decision in `forest.rs`: smartcore's random forest used as one
//! single-tree forest per seed (the only way to obtain per-tree predictions), with the same
//! data and sizes as `rf_fit` (`cargo bench -p smac-surrogate --bench smartcore_baseline`).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

const D: usize = 6;
const TREES: u64 = 10;

type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

fn data(n: usize, rng: &mut ChaCha8Rng) -> (Vec<Vec<f64>>, Vec<f64>) {
    let x: Vec<Vec<f64>> = (0..n).map(|_| (0..D).map(|_| rng.random::<f64>()).collect()).collect();
    let y = x.iter().map(|r| (6.0 * r[0]).sin() + r[1] * r[2] + 0.5 * (r[3] - 0.3).powi(2)).collect();
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
    let xq = DenseMatrix::from_2d_vec(&xq).expect("matrix");
    for n in [100, 1_000, 10_000] {
        let (x, y) = data(n, &mut rng);
        let x = DenseMatrix::from_2d_vec(&x).expect("matrix");
        let reps = if n >= 10_000 { 5 } else { 11 };
        let fit = || -> Vec<Forest> {
            (0..TREES)
                .map(|seed| {
                    let params = RandomForestRegressorParameters::default()
                        .with_n_trees(1)
                        .with_m(D)
                        .with_min_samples_leaf(1)
                        .with_min_samples_split(2)
                        .with_seed(seed);
                    Forest::fit(&x, &y, params).expect("fit")
                })
                .collect()
        };
        let fit_ms = median_ms(
            || {
                std::hint::black_box(fit());
            },
            reps,
        );
        let forests = fit();
        let predict_ms = median_ms(
            || {
                for f in &forests {
                    std::hint::black_box(f.predict(&xq).expect("predict"));
                }
            },
            reps,
        );
        println!(
            "{{\"n\":{n},\"smartcore_fit_ms\":{fit_ms:.3},\"smartcore_predict_10k_ms\":{predict_ms:.3}}}"
        );
    }
}
