//! Benchmark harness over the shared suite (`../shared/bench/suite.json`): one JSON line per run.
//!
//! `cargo run --release --example bench_suite -- --optimizer hpo --func all --seeds 0..5 --trials 100`
//!
//! regret = best value found − the function's optimum; `regret_at[k]` is the regret after the
//! first k evaluations. The targets are instant, so `wall_s` is the optimizer's own cost
//! (including writing the run directory after every trial, as a real run does).
//!
//! Multi-fidelity (`--optimizer mf`: MultiFidelityFacade, `--optimizer hb`: HyperbandFacade):
//! budgets b in [1, 100]; a trial at budget b returns the true value plus Gaussian noise of
//! standard deviation `(1 − b/100)·σ`, with σ = 10% of the function's range over 1,000 random
//! points of its space (fixed per function), drawn from a hash of (configuration, budget) so a
//! repeated trial gives the same value. Full-budget trials are exact. `regret` is the true value
//! of the best configuration evaluated at the full budget, `n_full` the number of full-budget
//! trials, `budget_used` the sum of budgets in full-evaluation units, and `regret_at_full[k]` the
//! regret after the first k full-budget trials — compare it with the `hpo` runs' `regret_at[k]`,
//! where every trial is a full evaluation.
//!
//! Instances (`--instances N`, default 10 for `--optimizer ac`): instance `iK` shifts the input
//! by an offset of up to ±5% of each range (fixed per function; the offsets are the instance
//! features), `f_K(x) = f(clip(x + δ_K))`. The objective is the mean over all instances;
//! `regret` is that true mean for the final incumbent minus the function's optimum (so it has
//! a small positive floor), `regret_at[k]` the same for the incumbent after k trials. `ac` is
//! the AlgorithmConfigurationFacade (racing); `hpo`/`random` with `--instances` evaluate every
//! configuration on all instances.

use clap::Parser;
use rand::{Rng, SeedableRng};
use smac::benchmarks::{self, BenchFunction};
use smac::facade::{AlgorithmConfigurationFacade, HyperbandFacade, MultiFidelityFacade};
use smac::{
    BlackBoxFacade, Configuration, DesignKind, HyperparameterOptimizationFacade, InitialDesign, RandomFacade,
    Scenario, TrialInfo,
};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// hpo, bb, random, mf (multi-fidelity), hb (Hyperband) or ac (algorithm configuration).
    #[arg(long, default_value = "hpo")]
    optimizer: String,
    /// Number of instances (input offsets); 0 = none. Default 10 for `ac`.
    #[arg(long)]
    instances: Option<usize>,
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
    bench: Option<BenchFunction>,
}

/// Largest budget of the multi-fidelity variant.
const MAX_BUDGET: f64 = 100.0;

/// σ of the multi-fidelity noise: 10% of the range of `f` over 1,000 random configurations.
fn noise_scale(p: &Problem) -> f64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12_345);
    let values: Vec<f64> = std::sync::Arc::new(p.space.clone())
        .sample(1_000, &mut rng)
        .expect("sampling")
        .iter()
        .map(|c| (p.f)(c))
        .collect();
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    0.1 * (hi - lo)
}

/// A standard normal draw fixed by (configuration, budget).
fn fixed_normal(config: &Configuration, budget: f64) -> f64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.stable_hash() ^ budget.to_bits().rotate_left(17));
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Input offsets per instance: up to ±5% of each range, fixed per function.
fn instance_offsets(b: &BenchFunction, n: usize) -> BTreeMap<String, Vec<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(54_321);
    (0..n)
        .map(|k| {
            let d = b.bounds.iter().map(|(lo, hi)| (rng.random::<f64>() - 0.5) * 0.1 * (hi - lo)).collect();
            (format!("i{k}"), d)
        })
        .collect()
}

/// `f(clip(x + δ))` for one instance offset.
fn shifted(b: &BenchFunction, c: &Configuration, delta: &[f64]) -> f64 {
    let x: Vec<f64> = (0..b.dim)
        .map(|i| {
            let (lo, hi) = b.bounds[i];
            (c.get_f64(&BenchFunction::input_name(i)).expect("numeric input") + delta[i]).clamp(lo, hi)
        })
        .collect();
    b.eval(&x)
}

fn problems(func: &str) -> Vec<Problem> {
    let from_bench = |b: BenchFunction| Problem {
        name: b.name.to_string(),
        space: b.configspace(),
        optimum: b.optimum,
        bench: Some(b.clone()),
        f: Box::new(move |c| b.eval_config(c)),
    };
    let mixed = || Problem {
        name: benchmarks::MIXED_NAME.to_string(),
        space: benchmarks::mixed_conditional_space(),
        optimum: benchmarks::MIXED_OPTIMUM,
        bench: None,
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
    let n_instances = args.instances.unwrap_or(if args.optimizer == "ac" { 10 } else { 0 });
    let multi_fidelity = matches!(args.optimizer.as_str(), "mf" | "hb");
    let out_dir = tempfile::tempdir()?;
    let mut per_func: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for problem in problems(&args.func) {
        let sigma = noise_scale(&problem);
        let offsets = match (&problem.bench, n_instances) {
            (_, 0) => None,
            (Some(b), n) => Some(instance_offsets(b, n)),
            (None, _) => {
                eprintln!("skipping {}: instances need a suite function", problem.name);
                continue;
            }
        };
        let f = std::sync::Arc::new(problem.f);
        for seed in args.seeds.clone() {
            let mut builder = Scenario::builder(problem.space.clone())
                .name(format!("{}_{}", args.optimizer, problem.name))
                .output_directory(out_dir.path())
                .n_trials(args.trials)
                .deterministic(true)
                .seed(seed);
            if multi_fidelity {
                builder = builder.budgets(1.0, MAX_BUDGET);
            }
            if let Some(offsets) = &offsets {
                builder = builder.instances(offsets.keys().cloned()).instance_features(offsets.clone());
            }
            let scenario = builder.build()?;
            let target = {
                let (f, bench, offsets) = (f.clone(), problem.bench.clone(), offsets.clone());
                move |t: &TrialInfo| {
                    let value = match (&offsets, &bench, &t.instance) {
                        (Some(o), Some(b), Some(i)) => shifted(b, &t.config, &o[i]),
                        _ => f(&t.config),
                    };
                    let noise =
                        t.budget.map_or(0.0, |b| (1.0 - b / MAX_BUDGET) * sigma * fixed_normal(&t.config, b));
                    Ok::<_, String>(value + noise)
                }
            };
            let start = Instant::now();
            let mut smac = match args.optimizer.as_str() {
                "hpo" => HyperparameterOptimizationFacade::builder(scenario),
                "bb" => BlackBoxFacade::builder(scenario),
                "random" => RandomFacade::builder(scenario),
                "mf" => MultiFidelityFacade::builder(scenario),
                "hb" => HyperbandFacade::builder(scenario),
                "ac" => AlgorithmConfigurationFacade::builder(scenario),
                other => {
                    return Err(format!("unknown optimizer '{other}' (hpo, bb, random, mf, hb, ac)").into())
                }
            }
            .target_fn(target)
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
            let rh = smac.runhistory();
            let mut line = serde_json::json!({
                "opt": args.optimizer,
                "func": problem.name,
                "seed": seed,
                "n": args.trials,
                "n_evals": rh.len(),
                "wall_s": wall_s,
                "peak_rss_mb": peak_rss_mb(),
                "default_in_design": args.optimizer == "hpo" && !args.no_default_config,
            });
            let extra = if multi_fidelity {
                // Full-budget trials are exact, so their observed cost is the true value.
                let (mut best, mut n_full, mut used) = (f64::INFINITY, 0usize, 0.0);
                let mut regret_at_full = BTreeMap::new();
                for (k, _) in rh.iter() {
                    let b = k.budget.unwrap_or(MAX_BUDGET);
                    used += b / MAX_BUDGET;
                    if b == MAX_BUDGET {
                        n_full += 1;
                        best = best.min(f(rh.config(k.config_id).expect("valid id")));
                        if [1, 2, 5, 10, 25, 50, 100, 200].contains(&n_full) {
                            regret_at_full
                                .insert(n_full.to_string(), benchmarks::regret(best, problem.optimum));
                        }
                    }
                }
                serde_json::json!({
                    "regret": benchmarks::regret(best, problem.optimum),
                    "n_full": n_full,
                    "budget_used": used,
                    "sigma": sigma,
                    "regret_at_full": regret_at_full,
                })
            } else if let (Some(offsets), Some(b)) = (&offsets, &problem.bench) {
                let true_mean = |id: usize| {
                    let c = rh.config(id).expect("valid id");
                    offsets.values().map(|d| shifted(b, c, d)).sum::<f64>() / offsets.len() as f64
                };
                let mut regret_at = BTreeMap::new();
                let mut current = None;
                let mut changes = smac.trajectory().iter().peekable();
                for k in 1..=rh.len() {
                    while let Some(e) = changes.next_if(|e| e.trial <= k) {
                        current = e.config_ids.first().copied();
                    }
                    if [10, 25, 50, 100, 200, 500, 1000, 2000].contains(&k) {
                        if let Some(id) = current {
                            regret_at
                                .insert(k.to_string(), benchmarks::regret(true_mean(id), problem.optimum));
                        }
                    }
                }
                let inc = smac.incumbent().and_then(|c| rh.config_id(&c));
                serde_json::json!({
                    "regret": inc.map(|id| benchmarks::regret(true_mean(id), problem.optimum)),
                    "n_instances": offsets.len(),
                    "incumbent_trials": inc.map(|id| rh.trials_of(id).count()),
                    "n_configs": rh.configs().len(),
                    "regret_at": regret_at,
                })
            } else {
                let costs: Vec<f64> = rh.iter().map(|(_, v)| v.single_cost()).collect();
                let mut best = f64::INFINITY;
                let mut regret_at = BTreeMap::new();
                for (i, c) in costs.iter().enumerate() {
                    best = best.min(*c);
                    if [10, 25, 50, 100, 200, 500, 1000, 2000].contains(&(i + 1)) {
                        regret_at.insert((i + 1).to_string(), benchmarks::regret(best, problem.optimum));
                    }
                }
                serde_json::json!({ "regret": benchmarks::regret(best, problem.optimum), "regret_at": regret_at })
            };
            for (k, v) in extra.as_object().expect("object") {
                line[k] = v.clone();
            }
            println!("{line}");
            let entry = per_func.entry(problem.name.clone()).or_default();
            entry.0.push(line["regret"].as_f64().unwrap_or(f64::NAN));
            entry.1.push(wall_s);
        }
    }
    if args.summary {
        let funcs: serde_json::Map<String, serde_json::Value> = per_func
            .into_iter()
            .map(|(name, (regrets, walls))| {
                let runs = regrets.len();
                let v = serde_json::json!({
                    "median_regret": median(regrets),
                    "median_wall_s": median(walls),
                    "runs": runs,
                });
                (name, v)
            })
            .collect();
        println!("{}", serde_json::json!({ "summary": args.optimizer, "per_func": funcs }));
    }
    Ok(())
}
