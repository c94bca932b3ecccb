//! Runner benchmark: `cargo run --release -p smac-runner --example bench_runner`.
//!
//! Prints one JSON object: `roundtrip_us`, the mean time from `submit_trial` to the result of
//! one trivial trial with 2 local worker processes, and `throughput_per_s`, trivial trials per
//! second with both workers kept busy (`roundtrip_p50_us` is the median round trip, less
//! sensitive to other load on the machine). This executable is its own worker program.

use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use smac_core::{
    ConfigSpace, Hyperparameter, Runner, TargetFunction, TargetFunctionRunner, TargetOutput, TrialInfo,
};
use smac_runner::{DaskStyleParallelRunner, LocalCluster};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A trial that costs nothing: what is measured is the runner.
#[derive(Serialize, Deserialize)]
struct Trivial;

impl TargetFunction for Trivial {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        Ok(t.config.get_f64("x").unwrap_or(0.0).into())
    }
}

const ROUNDTRIPS: usize = 2_000;
const THROUGHPUT_TRIALS: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smac_runner::worker::serve_if_worker::<Trivial>();

    let mut cs = ConfigSpace::new("bench");
    cs.add(Hyperparameter::float("x", 0.0, 1.0))?;
    cs.add(Hyperparameter::integer("n", 1, 100))?;
    cs.add(Hyperparameter::categorical("kind", ["a", "b", "c"]))?;
    let cs = Arc::new(cs);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let configs = cs.sample(1000, &mut rng)?;
    let trial = |k: usize| TrialInfo::new(configs[k % configs.len()].clone(), Some(k as u64));

    let cluster = LocalCluster::processes(2)?;
    let single = TargetFunctionRunner::new(Trivial, vec![f64::INFINITY]);
    let mut runner = DaskStyleParallelRunner::new(single, Duration::from_secs(5), Some(cluster.client()))?;

    // Warm up: connections, runner and space transfers, allocator, CPU frequency.
    for k in 0..500 {
        runner.submit_trial(trial(k))?;
        runner.wait(None)?;
        runner.iter_results();
    }

    let mut each = Vec::with_capacity(ROUNDTRIPS);
    let start = Instant::now();
    for k in 0..ROUNDTRIPS {
        let t = Instant::now();
        runner.submit_trial(trial(k))?;
        let mut got = 0;
        while got == 0 {
            runner.wait(None)?;
            got = runner.iter_results().len();
        }
        each.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let roundtrip_us = start.elapsed().as_secs_f64() * 1e6 / ROUNDTRIPS as f64;
    each.sort_by(f64::total_cmp);
    let roundtrip_p50_us = each[ROUNDTRIPS / 2];

    let start = Instant::now();
    let (mut submitted, mut done) = (0, 0);
    while done < THROUGHPUT_TRIALS {
        while submitted < THROUGHPUT_TRIALS && runner.count_available_workers() > 0 {
            runner.submit_trial(trial(submitted))?;
            submitted += 1;
        }
        runner.wait(None)?;
        done += runner.iter_results().len();
    }
    let throughput_per_s = THROUGHPUT_TRIALS as f64 / start.elapsed().as_secs_f64();

    runner.close()?;
    drop(cluster);
    println!(
        "{}",
        serde_json::json!({
            "roundtrip_us": (roundtrip_us * 10.0).round() / 10.0,
            "roundtrip_p50_us": (roundtrip_p50_us * 10.0).round() / 10.0,
            "throughput_per_s": throughput_per_s.round(),
            "workers": 2,
            "roundtrip_trials": ROUNDTRIPS,
            "throughput_trials": THROUGHPUT_TRIALS,
        })
    );
    Ok(())
}
