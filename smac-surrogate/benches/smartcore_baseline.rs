//! Baseline for the design decision in `forest.rs`: smartcore's random forest used as one
//! single-tree forest per seed (the only way to obtain per-tree predictions), with the same
//! data and sizes as `rf_fit` (`cargo bench -p smac-surrogate --bench smartcore_baseline`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_regressor::{RandomForestRegressor, RandomForestRegressorParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

mod common;

use common::{median_ms, D};
const TREES: u64 = 10;

/// The shared benchmark data as smartcore's row vectors.
fn data(n: usize, rng: &mut ChaCha8Rng) -> (Vec<Vec<f64>>, Vec<f64>) {
    let (x, y) = common::data(n, rng);
    (x.rows().into_iter().map(|r| r.to_vec()).collect(), y.to_vec())
}

type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

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
