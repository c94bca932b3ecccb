//! Runner benchmark: `cargo run --release -p smac-runner --example bench_runner`.
//!
//! Prints one JSON object: `roundtrip_us`, the mean time from `submit_trial` to the result of
//! one trivial trial with 2 local worker processes, and `throughput_per_s`, trivial trials per
//! second with both workers kept busy (`roundtrip_p50_us` is the median round trip, less
//! sensitive to other load on the machine). `efficiency_4w` and `efficiency_16w` are ideal /
//! actual wall time of a whole HPO-facade optimization (4 workers × 40 trials, 16 × 160, each
//! trial sleeping 0.5 s, worker start-up included). This executable is its own worker program.

use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use smac_core::{
    ConfigSpace, Hyperparameter, Runner, Scenario, SmboBuilder, TargetFunction, TargetOutput, TrialInfo,
};
use smac_runner::{DaskStyleParallelRunner, LocalCluster, ParallelOptions, ShippableTarget};
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

impl ShippableTarget for Trivial {
    const NAME: &'static str = "bench.trivial";
}

/// A trial that takes half a second, as in the efficiency benchmark.
#[derive(Serialize, Deserialize)]
struct Sleepy;

impl TargetFunction for Sleepy {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        std::thread::sleep(Duration::from_millis(500));
        let x = t.config.get_f64("x").unwrap_or(0.0);
        Ok(((x - 0.3).powi(2) + t.config.get_i64("n").unwrap_or(0) as f64 / 100.0).into())
    }
}

impl ShippableTarget for Sleepy {
    const NAME: &'static str = "bench.sleepy";
}

/// Ideal / actual wall time of an HPO-facade run of `n_trials` half-second trials on
/// `n_workers` local worker processes, start-up included.
fn efficiency(
    cs: &Arc<ConfigSpace>,
    n_workers: usize,
    n_trials: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let scenario = Scenario::builder(cs.clone())
        .n_trials(n_trials)
        .n_workers(n_workers)
        .deterministic(true)
        .seed(0)
        .build()?;
    let runner = DaskStyleParallelRunner::from_scenario(Sleepy, &scenario)?;
    let mut smbo = SmboBuilder::hpo(scenario).persist(false).build(runner)?;
    smbo.optimize()?;
    assert_eq!(smbo.runhistory().len(), n_trials, "every trial finished");
    drop(smbo);
    let ideal = n_trials as f64 * 0.5 / n_workers as f64;
    Ok(ideal / start.elapsed().as_secs_f64())
}

const ROUNDTRIPS: usize = 2_000;
const THROUGHPUT_TRIALS: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smac_runner::worker::Worker::new().serve::<Trivial>().serve::<Sleepy>().run_if_worker();

    let mut cs = ConfigSpace::new("bench");
    cs.add(Hyperparameter::float("x", 0.0, 1.0))?;
    cs.add(Hyperparameter::integer("n", 1, 100))?;
    cs.add(Hyperparameter::categorical("kind", ["a", "b", "c"]))?;
    let cs = Arc::new(cs);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let configs = cs.sample(1000, &mut rng)?;
    let trial = |k: usize| TrialInfo::new(configs[k % configs.len()].clone(), Some(k as u64));

    let cluster = LocalCluster::processes(2)?;
    let mut runner = DaskStyleParallelRunner::attach(
        Trivial,
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )?;

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
    let efficiency_4w = efficiency(&cs, 4, 40)?;
    let efficiency_16w = efficiency(&cs, 16, 160)?;
    println!(
        "{}",
        serde_json::json!({
            "roundtrip_us": (roundtrip_us * 10.0).round() / 10.0,
            "roundtrip_p50_us": (roundtrip_p50_us * 10.0).round() / 10.0,
            "throughput_per_s": throughput_per_s.round(),
            "efficiency_4w": (efficiency_4w * 1000.0).round() / 1000.0,
            "efficiency_16w": (efficiency_16w * 1000.0).round() / 1000.0,
            "workers": 2,
            "roundtrip_trials": ROUNDTRIPS,
            "throughput_trials": THROUGHPUT_TRIALS,
        })
    );
    Ok(())
}
