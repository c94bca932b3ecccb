//! Parallel regret: the same facade and problems with 1, 8 and 32 worker threads.
//!
//! `cargo run --release --example bench_parallel -- --optimizer hpo --workers 1,8,32 --seeds 0..10`
//!
//! Every trial sleeps `--trial-ms` (default 10 ms) before returning the function's value, so with
//! many workers proposals are made while others run, as on a cluster. One JSON line per run
//! (the benchmark format of docs/benchmarks.md): regret after 100 trials and at 10/25/50/100,
//! `n_workers`. `--pending ignore` proposes as SMAC3 does (running trials ignored), for the
//! comparison with the facades' pending-aware default; lines of a non-default `--pending` name
//! the optimizer `hpo-pending-ignore` (`hpo-pending-collapse:0.2`, …) so tables keep them apart. The default
//! configuration is left out of the HPO facade's design (as SMAC3 does), so the 1-worker lines
//! equal `bench_suite --no-default-config`'s.

use clap::Parser;
use smac::benchmarks::{self, BenchFunction};
use smac::core::pending::PendingStrategy;
use smac::runner::{DaskStyleParallelRunner, ParallelOptions};
use smac::{
    BlackBoxFacade, DesignKind, HyperparameterOptimizationFacade, InitialDesign, Scenario, TrialInfo,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// hpo or bb.
    #[arg(long, default_value = "hpo")]
    optimizer: String,
    /// Worker counts, comma-separated (1 = sequential, in-process).
    #[arg(long, default_value = "1,8,32", value_delimiter = ',')]
    workers: Vec<usize>,
    /// Functions of the catalogue (docs/benchmarks.md), comma-separated, or `all` (all 16).
    #[arg(long, default_value = "all")]
    func: String,
    /// Seeds as a half-open range, e.g. `0..10`.
    #[arg(long, default_value = "0..10", value_parser = smac::benchmarks::parse_seed_range)]
    seeds: Range<u64>,
    /// Trials per run.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Sleep per trial, in milliseconds.
    #[arg(long, default_value_t = 10)]
    trial_ms: u64,
    /// `default` (the facade's pending-aware proposals), `ignore` (as SMAC3), `collapse:F`
    /// (variance collapse with radius fraction F) or `liar` / `liar:min` / `liar:max` (constant-liar
    /// fantasies at the mean, best or worst observed value).
    #[arg(long, default_value = "default")]
    pending: String,
    /// Append the JSON lines to this file too.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

fn functions(spec: &str) -> Result<Vec<BenchFunction>, String> {
    if spec == "all" {
        return Ok(benchmarks::functions());
    }
    spec.split(',').map(|n| benchmarks::by_name(n.trim()).ok_or(format!("unknown function '{n}'"))).collect()
}

fn run(
    args: &Args,
    f: &BenchFunction,
    n_workers: usize,
    seed: u64,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let out_dir = tempfile::tempdir()?;
    let scenario = Scenario::builder(f.configspace())
        .name(format!("{}_{}_{}", args.optimizer, f.name, n_workers))
        .output_directory(out_dir.path())
        .n_trials(args.trials)
        .n_workers(n_workers)
        .deterministic(true)
        .seed(seed)
        .build()?;
    let sleep = Duration::from_millis(args.trial_ms);
    let target = {
        let f = f.clone();
        move |t: &TrialInfo| {
            std::thread::sleep(sleep);
            Ok::<_, String>(f.eval_config(&t.config))
        }
    };
    let builder = match args.optimizer.as_str() {
        "hpo" => HyperparameterOptimizationFacade::builder(scenario.clone())
            .initial_design(InitialDesign::new(DesignKind::Sobol)),
        "bb" => BlackBoxFacade::builder(scenario.clone()),
        other => return Err(format!("unknown optimizer '{other}' (hpo, bb)").into()),
    };
    let strategy = match args.pending.as_str() {
        "default" => None,
        "ignore" => Some(PendingStrategy::Ignore),
        "liar" => Some(PendingStrategy::ConstantLiar(smac::core::Fantasy::Mean)),
        "liar:min" => Some(PendingStrategy::ConstantLiar(smac::core::Fantasy::Min)),
        "liar:max" => Some(PendingStrategy::ConstantLiar(smac::core::Fantasy::Max)),
        other => match other.strip_prefix("collapse:").and_then(|f| f.parse().ok()) {
            Some(f) => Some(PendingStrategy::CollapseVariance(f)),
            None => {
                return Err(format!(
                    "unknown --pending '{other}' (default, ignore, liar, liar:min, liar:max, collapse:F)"
                )
                .into())
            }
        },
    };
    let builder = match strategy {
        Some(s) => builder.map(move |b| b.pending_strategy(s)),
        None => builder,
    };
    let builder = if n_workers > 1 {
        let options = ParallelOptions::from_scenario(&scenario);
        builder.runner(DaskStyleParallelRunner::threads(target, n_workers, options)?)
    } else {
        builder.target_fn(target)
    };
    let start = Instant::now();
    let mut smac = builder.overwrite(true).build()?;
    smac.optimize()?;
    let wall_s = start.elapsed().as_secs_f64();
    // Regret after the first k results, in the order they were told.
    let mut best = f64::INFINITY;
    let mut regret_at = BTreeMap::new();
    for (k, (_, value)) in smac.runhistory().iter().enumerate() {
        best = best.min(value.cost[0]);
        if [10, 25, 50, 100, 200, 500].contains(&(k + 1)) {
            regret_at.insert((k + 1).to_string(), benchmarks::regret(best, f.optimum));
        }
    }
    Ok(serde_json::json!({
        "optimizer": if args.pending == "default" { args.optimizer.clone() } else { format!("{}-pending-{}", args.optimizer, args.pending) },
        "problem": f.name,
        "seed": seed,
        "n_trials": smac.runhistory().len(),
        "best": best,
        "regret": benchmarks::regret(best, f.optimum),
        "regret_at": regret_at,
        "wall_s": wall_s,
        "default_in_design": false,
        "n_workers": n_workers,
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut out = match &args.out {
        Some(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    for f in functions(&args.func)? {
        for &n_workers in &args.workers {
            for seed in args.seeds.clone() {
                let line = run(&args, &f, n_workers, seed)?.to_string();
                println!("{line}");
                if let Some(o) = out.as_mut() {
                    writeln!(o, "{line}")?;
                }
            }
        }
    }
    Ok(())
}
