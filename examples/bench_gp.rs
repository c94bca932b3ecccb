//! Scaling of the BlackBox facade's Gaussian process: wall time and regret of whole runs on
//! hartmann6 (the shared suite's function, `src/benchmarks.rs`), one JSON line per run.
//!
//! `cargo run --release --example bench_gp -- --trials 100,200,400,1000 --seeds 0..1`
//!
//! `--baseline` re-optimizes the GP hyperparameters after every trial (the behaviour before
//! the refit schedule); `--every-fit-until` and `--growth` set the schedule otherwise (defaults:
//! the facade's). The run directory is written after every trial, as in `bench_suite`.

use clap::Parser;
use smac::benchmarks;
use smac::core::SmboBuilder;
use smac::surrogate::{GaussianProcessConfig, RefitSchedule};
use smac::{BlackBoxFacade, Scenario, TrialInfo};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Comma-separated numbers of trials.
    #[arg(long, default_value = "100,200,400,1000", value_delimiter = ',')]
    trials: Vec<usize>,
    /// Seeds as a half-open range, e.g. `0..3`.
    #[arg(long, default_value = "0..1", value_parser = smac::benchmarks::parse_seed_range)]
    seeds: Range<u64>,
    /// Suite function.
    #[arg(long, default_value = "hartmann6")]
    func: String,
    /// Re-optimize the hyperparameters after every trial (previous behaviour).
    #[arg(long)]
    baseline: bool,
    /// Re-optimize at every fit up to this many data points.
    #[arg(long)]
    every_fit_until: Option<usize>,
    /// Then re-optimize when the data has grown by this factor.
    #[arg(long)]
    growth: Option<f64>,
    /// Prediction threads (0 = all cores; default: the facade's choice, all cores for a
    /// one-worker run).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bench = benchmarks::by_name(&args.func).ok_or_else(|| format!("unknown function '{}'", args.func))?;
    let mut refit = if args.baseline { RefitSchedule::every_fit() } else { RefitSchedule::default() };
    if let Some(n) = args.every_fit_until {
        refit.every_fit_until = n;
    }
    if let Some(g) = args.growth {
        refit.growth = g;
    }
    let out_dir = tempfile::tempdir()?;
    for &trials in &args.trials {
        for seed in args.seeds.clone() {
            let scenario = Scenario::builder(bench.configspace())
                .name(format!("bench_gp_{}", bench.name))
                .output_directory(out_dir.path())
                .n_trials(trials)
                .deterministic(true)
                .seed(seed)
                .build()?;
            let facade_gp = SmboBuilder::blackbox_gp(&scenario);
            let threads = args.threads.unwrap_or(facade_gp.predict_threads);
            let gp = GaussianProcessConfig { refit: refit.clone(), predict_threads: threads, ..facade_gp };
            let b = bench.clone();
            let start = Instant::now();
            let mut smac = BlackBoxFacade::builder(scenario.clone())
                .target_fn(move |t: &TrialInfo| Ok::<_, String>(b.eval_config(&t.config)))
                .map(|_| SmboBuilder::blackbox_with_gp(scenario, gp))
                .overwrite(true)
                .build()?;
            smac.optimize()?;
            let wall_s = start.elapsed().as_secs_f64();
            let mut best = f64::INFINITY;
            let mut regret_at = BTreeMap::new();
            for (i, (_, v)) in smac.runhistory().iter().enumerate() {
                best = best.min(v.single_cost());
                if [100, 200, 400, 1000, 2000].contains(&(i + 1)) {
                    regret_at.insert((i + 1).to_string(), benchmarks::regret(best, bench.optimum));
                }
            }
            let line = serde_json::json!({
                "func": bench.name,
                "trials": trials,
                "seed": seed,
                "schedule": if args.baseline { "every_fit".to_string() } else {
                    format!("every_fit_until={},growth={}", refit.every_fit_until, refit.growth)
                },
                "threads": threads,
                "wall_s": wall_s,
                "regret": benchmarks::regret(best, bench.optimum),
                "regret_at": regret_at,
            });
            println!("{line}");
        }
    }
    Ok(())
}
