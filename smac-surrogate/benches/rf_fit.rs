//! Random-forest fit/predict timings (`cargo bench -p smac-surrogate --bench rf_fit`).
//!
//! For n in 100, 1,000 and 10,000 training rows (d = 6, SMAC3 HPO forest: 10 trees,
//! min_samples_leaf 1) prints one JSON line `{"n":..,"fit_ms":..,"predict_10k_ms":..}` with the
//! median wall time of repeated runs.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smac_surrogate::{FeatureType, RandomForest, RandomForestConfig, Surrogate};

mod common;

use common::{data, median_ms, D};

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
