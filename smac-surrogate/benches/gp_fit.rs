//! Gaussian-process timings (`cargo bench -p smac-surrogate --bench gp_fit`), d = 6.
//!
//! Prints JSON lines: a cold fit (fresh model) and a warm refit (after a fit on n − 1 rows, as
//! the optimizer does) for several n, predicting 10,000 points, and the total time of the
//! BlackBox-style loop that refits after every new point from n = 5 to 100.
//!
//! Large n (250, 500, 1,000): hyperparameters optimized on the first 100 rows, then the factor
//! extended to n rows (`extend_ms`, as between scheduled refits); predicting 10,000 points in
//! one call on one thread and on two, and in calls of 24 points (a local-search step of a
//! six-dimensional space) on one thread and on two.

use std::time::Instant;

use ndarray::s;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smac_surrogate::{FeatureType, GaussianProcess, GaussianProcessConfig, RefitSchedule, Surrogate};

mod common;

use common::{data, median, D};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (x, y) = data(1_000, &mut rng);
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
    let mut gp = GaussianProcess::new(GaussianProcessConfig::default(), types.clone());
    let t = Instant::now();
    for n in 5..=100 {
        gp.fit(x.slice(s![..n, ..]), y.slice(s![..n])).expect("fit");
    }
    println!("{{\"refit_loop_5_to_100_ms\":{:.1}}}", ms(t));

    for n in [250, 500, 1_000] {
        let refit = RefitSchedule { every_fit_until: 100, growth: f64::INFINITY };
        let mut extend = Vec::new();
        let mut predict = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for rep in 0..3 {
            for (k, threads) in [1, 2].into_iter().enumerate() {
                let config = GaussianProcessConfig {
                    seed: rep,
                    refit: refit.clone(),
                    predict_threads: threads,
                    ..Default::default()
                };
                let mut gp = GaussianProcess::new(config, types.clone());
                gp.fit(x.slice(s![..100, ..]), y.slice(s![..100])).expect("fit");
                let t = Instant::now();
                gp.fit(x.slice(s![..n, ..]), y.slice(s![..n])).expect("fit");
                extend.push(ms(t));
                let t = Instant::now();
                std::hint::black_box(gp.predict(xq.view()).expect("predict"));
                predict[k].push(ms(t));
                let t = Instant::now();
                for start in (0..xq.nrows()).step_by(24) {
                    let end = (start + 24).min(xq.nrows());
                    std::hint::black_box(gp.predict(xq.slice(s![start..end, ..])).expect("predict"));
                }
                predict[2 + k].push(ms(t));
            }
        }
        let [p1, p2, b1, b2] = predict;
        println!(
            "{{\"n\":{n},\"extend_from_100_ms\":{:.2},\"predict_10k_1t_ms\":{:.1},\"predict_10k_2t_ms\":{:.1},\"predict_10k_by_24_1t_ms\":{:.1},\"predict_10k_by_24_2t_ms\":{:.1}}}",
            median(extend),
            median(p1),
            median(p2),
            median(b1),
            median(b2)
        );
    }
}
