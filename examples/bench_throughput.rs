//! Can the optimizer feed many workers? The HPO facade with 256 worker threads and 0.5 s trials.
//!
//! `cargo run --release --example bench_throughput -- --workers 256 --trial-ms 500 --trials 2000`
//!
//! Prints one JSON line: `busy` is the workers' busy time while trials were still being started
//! (from the first start to the last), over the capacity `workers × that span`; 1.0 means no
//! worker ever waited for the optimizer. `ideal_s` is the wall time with an instant optimizer.
//! The space is hartmann6's; the target sleeps and returns hartmann6's value, so the model
//! has real structure to fit. Run directory writing is on, as in a real run.

use clap::Parser;
use smac::runner::{DaskStyleParallelRunner, ParallelOptions};
use smac::{HyperparameterOptimizationFacade, Interleaved, Scenario, TrialInfo};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Worker threads.
    #[arg(long, default_value_t = 256)]
    workers: usize,
    /// Sleep per trial, in milliseconds.
    #[arg(long, default_value_t = 500)]
    trial_ms: u64,
    /// Trials.
    #[arg(long, default_value_t = 2000)]
    trials: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Do not write the run directory (to see what writing it costs).
    #[arg(long)]
    no_persist: bool,
    /// Ignore running trials in the proposals (to see what pending-awareness costs).
    #[arg(long)]
    ignore_pending: bool,
    /// The interleaved configurations, `tpe` (the facade's default) or `random` (to see what
    /// the TPE proposals cost).
    #[arg(long, value_parser = ["tpe", "random"], default_value = "tpe")]
    interleaved: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let f = smac::benchmarks::by_name("hartmann6").ok_or("hartmann6 missing")?;
    let out_dir = tempfile::tempdir()?;
    let scenario = Scenario::builder(f.configspace())
        .name("throughput")
        .output_directory(out_dir.path())
        .n_trials(args.trials)
        .n_workers(args.workers)
        .deterministic(true)
        .seed(args.seed)
        .build()?;
    let sleep = Duration::from_millis(args.trial_ms);
    let target = move |t: &TrialInfo| {
        std::thread::sleep(sleep);
        Ok::<_, String>(f.eval_config(&t.config))
    };
    let runner =
        DaskStyleParallelRunner::threads(target, args.workers, ParallelOptions::from_scenario(&scenario))?;
    let start = Instant::now();
    let mut smac = HyperparameterOptimizationFacade::builder(scenario)
        .runner(runner)
        .overwrite(true)
        .persist(!args.no_persist)
        .map(|b| {
            b.interleaved(if args.interleaved == "random" { Interleaved::Random } else { Interleaved::Tpe })
        })
        .map(|b| {
            if args.ignore_pending {
                b.pending_strategy(smac::core::pending::PendingStrategy::Ignore)
            } else {
                b
            }
        })
        .build()?;
    smac.optimize()?;
    let wall_s = start.elapsed().as_secs_f64();
    let rh = smac.runhistory();
    let first = rh.iter().map(|(_, v)| v.starttime).fold(f64::INFINITY, f64::min);
    let last = rh.iter().map(|(_, v)| v.starttime).fold(f64::NEG_INFINITY, f64::max);
    let busy: f64 = rh.iter().map(|(_, v)| (v.endtime.min(last) - v.starttime.max(first)).max(0.0)).sum();
    let fraction = busy / (args.workers as f64 * (last - first));
    let ideal_s = (args.trials as f64 / args.workers as f64).ceil() * args.trial_ms as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "facade": "hpo",
            "persist": !args.no_persist,
            "pending": if args.ignore_pending { "ignore" } else { "default" },
            "interleaved": args.interleaved,
            "workers": args.workers,
            "trial_ms": args.trial_ms,
            "trials": rh.len(),
            "busy": (fraction * 1000.0).round() / 1000.0,
            "wall_s": wall_s,
            "ideal_s": ideal_s,
            "parallel_efficiency": ideal_s / wall_s,
        })
    );
    Ok(())
}
