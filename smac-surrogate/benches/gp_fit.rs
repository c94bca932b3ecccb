//! Gaussian-process timings (`cargo bench -p smac-surrogate --bench gp_fit`), d = 6.
//!
//! Prints JSON lines: a cold fit (fresh model) and a warm refit (after a fit on n − 1 rows, as
//! the optimizer does) for several n, predicting 10,000 points, and the total time of the
//! BlackBox-style loop that refits after every new point from n = 5 to 100.

use std::time::Instant;

use ndarray::s;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smac_surrogate::{FeatureType, GaussianProcess, GaussianProcessConfig, Surrogate};

mod common;

use common::{data, median, D};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (x, y) = data(100, &mut rng);
    let (xq, _) = data(10_000, &mut rng);
    let types = vec![FeatureType::Continuous; D];
    for n in [25, 50, 100] {
        let (xn, yn) = (x.slice(s![..n, ..]), y.slice(s![..n]));
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        let mut predict = Vec::new();
        for rep in 0..7 {
            let config = GaussianProcessConfig { seed: rep, ..Default::default() };
            let mut gp = GaussianProcess::new(config, types.clone());
            let t = Instant::now();
            gp.fit(xn, yn).expect("fit");
            cold.push(ms(t));
            gp.fit(x.slice(s![..n - 1, ..]), y.slice(s![..n - 1])).expect("fit");
            let t = Instant::now();
            gp.fit(xn, yn).expect("fit");
            warm.push(ms(t));
            let t = Instant::now();
            std::hint::black_box(gp.predict(xq.view()).expect("predict"));
            predict.push(ms(t));
        }
        println!(
            "{{\"n\":{n},\"cold_fit_ms\":{:.3},\"warm_fit_ms\":{:.3},\"predict_10k_ms\":{:.3}}}",
            median(cold),
            median(warm),
            median(predict)
        );
    }
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), types);
    let t = Instant::now();
    for n in 5..=100 {
        gp.fit(x.slice(s![..n, ..]), y.slice(s![..n])).expect("fit");
    }
    println!("{{\"refit_loop_5_to_100_ms\":{:.1}}}", ms(t));
}
