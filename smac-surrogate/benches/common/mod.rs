//! Data and timing shared by the surrogate benchmarks, so that every bench (ours and the
//! smartcore baseline) times the same problem the same way.

// Each bench uses a subset of these helpers.
#![allow(dead_code)]

use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Input dimension of the benchmark problem.
pub const D: usize = 6;

/// `n` uniform points in [0, 1]^D and a smooth response.
pub fn data(n: usize, rng: &mut ChaCha8Rng) -> (Array2<f64>, Array1<f64>) {
    let x = Array2::from_shape_fn((n, D), |_| rng.random::<f64>());
    let y =
        x.rows().into_iter().map(|r| (6.0 * r[0]).sin() + r[1] * r[2] + 0.5 * (r[3] - 0.3).powi(2)).collect();
    (x, y)
}

/// The median of some values (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median wall time of `reps` runs of `f`, in milliseconds.
pub fn median_ms(mut f: impl FnMut(), reps: usize) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}
