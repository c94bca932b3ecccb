//! Benchmark harness over the shared suite (`../shared/bench/suite.json`): one JSON line per run.
//!
//! `cargo run --release --example bench_suite -- --optimizer hpo --func all --seeds 0..5 --trials 100`
//!
//! regret = best value found − the function's optimum; `regret_at[k]` is the regret after the
//! first k evaluations. The targets are instant, so `wall_s` is the optimizer's own cost
//! (including writing the run directory after every trial, as a real run does).

use clap::Parser;
use smac::benchmarks::{self, BenchFunction};
use smac::{
    BlackBoxFacade, Configuration, DesignKind, HyperparameterOptimizationFacade, InitialDesign, RandomFacade,
    Scenario, TrialInfo,
};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// hpo, bb or random.
    #[arg(long, default_value = "hpo")]
    optimizer: String,
    /// A suite function, `mixed_conditional`, or `all` (the five functions and the mixed problem).
    #[arg(long, default_value = "all")]
    func: String,
    /// Seeds as a half-open range, e.g. `0..5`.
    #[arg(long, default_value = "0..5", value_parser = parse_range)]
    seeds: Range<u64>,
    /// Trials per run.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Leave the default configuration out of the HPO facade's initial design (as SMAC3 does), for
    /// comparisons on functions whose optimum is the centre of the box (ackley5).
    #[arg(long)]
    no_default_config: bool,
    /// After the runs, print one more line: median regret and wall time per function.
    #[arg(long)]
    summary: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s.split_once("..").ok_or("expected START..END")?;
    Ok(a.trim().parse().map_err(|e| format!("{e}"))?..b.trim().parse().map_err(|e| format!("{e}"))?)
}

/// A problem: its space, its objective on a configuration, and its optimum.
struct Problem {
    name: String,
    space: smac::ConfigSpace,
    f: Box<dyn Fn(&Configuration) -> f64 + Send + Sync>,
    optimum: f64,
}

fn problems(func: &str) -> Vec<Problem> {
    let from_bench = |b: BenchFunction| Problem {
        name: b.name.to_string(),
        space: b.configspace(),
        optimum: b.optimum,
        f: Box::new(move |c| b.eval_config(c)),
    };
    let mixed = || Problem {
        name: benchmarks::MIXED_NAME.to_string(),
        space: benchmarks::mixed_conditional_space(),
        optimum: benchmarks::MIXED_OPTIMUM,
        f: Box::new(benchmarks::mixed_conditional),
    };
    match func {
        "all" => benchmarks::suite().into_iter().map(from_bench).chain(std::iter::once(mixed())).collect(),
        name if name == benchmarks::MIXED_NAME => vec![mixed()],
        name => {
            vec![from_bench(benchmarks::by_name(name).unwrap_or_else(|| panic!("unknown function '{name}'")))]
        }
    }
}

/// Peak resident memory of this process in MB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let out_dir = tempfile::tempdir()?;
    let mut summary: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    for problem in problems(&args.func) {
        summary.push((problem.name.clone(), Vec::new(), Vec::new()));
        let f = std::sync::Arc::new(problem.f);
        for seed in args.seeds.clone() {
            let scenario = Scenario::builder(problem.space.clone())
                .name(format!("{}_{}", args.optimizer, problem.name))
                .output_directory(out_dir.path())
                .n_trials(args.trials)
                .deterministic(true)
                .seed(seed)
                .build()?;
            let f = f.clone();
            let target = move |t: &TrialInfo| Ok::<_, String>(f(&t.config));
            let start = Instant::now();
            let mut smac = match args.optimizer.as_str() {
                "hpo" => HyperparameterOptimizationFacade::builder(scenario),
                "bb" => BlackBoxFacade::builder(scenario),
                "random" => RandomFacade::builder(scenario),
                other => return Err(format!("unknown optimizer '{other}' (hpo, bb, random)").into()),
            }
            .target_fn(target)?
            .map(|b| {
                if args.no_default_config && args.optimizer == "hpo" {
                    b.initial_design(InitialDesign::new(DesignKind::Sobol))
                } else {
                    b
                }
            })
            .overwrite(true)
            .build()?;
            smac.optimize()?;
            let wall_s = start.elapsed().as_secs_f64();
            let costs: Vec<f64> = smac.runhistory().iter().map(|(_, v)| v.single_cost()).collect();
            let mut best = f64::INFINITY;
            let mut regret_at = BTreeMap::new();
            for (i, c) in costs.iter().enumerate() {
                best = best.min(*c);
                if [10, 25, 50, 100, 200, 500, 1000, 2000].contains(&(i + 1)) {
                    regret_at.insert((i + 1).to_string(), benchmarks::regret(best, problem.optimum));
                }
            }
            let line = serde_json::json!({
                "opt": args.optimizer,
                "func": problem.name,
                "seed": seed,
                "n": args.trials,
                "n_evals": costs.len(),
                "regret": benchmarks::regret(best, problem.optimum),
                "wall_s": wall_s,
                "regret_at": regret_at,
                "peak_rss_mb": peak_rss_mb(),
                "default_in_design": args.optimizer == "hpo" && !args.no_default_config,
            });
            println!("{line}");
            let entry = summary.last_mut().expect("pushed above");
            entry.1.push(benchmarks::regret(best, problem.optimum));
            entry.2.push(wall_s);
        }
    }
    if args.summary {
        let medians: serde_json::Map<String, serde_json::Value> = summary
            .into_iter()
            .map(|(name, regrets, walls)| {
                let v = serde_json::json!({"median_regret": median(regrets), "median_wall_s": median(walls)});
                (name, v)
            })
            .collect();
        println!("{}", serde_json::json!({"opt": args.optimizer, "summary": medians}));
    }
    Ok(())
}
