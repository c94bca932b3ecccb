//! Benchmark harness over the catalogue of issue 17 (`docs/benchmarks.md`): 16 standard test
//! functions, mixed/conditional problems and scikit-learn HPO tasks; one JSON line per run.
//!
//! `cargo run --release --example bench_suite -- --optimizer hpo --func all --seeds 0..10 --trials 100`
//!
//! `--func`: `all` (functions and mixed problems; add `--with-hpo-tasks` for the HPO tasks),
//! `functions`, `mixed`, `hpo` or one problem's name. The HPO tasks run in a persistent Python
//! evaluator (`benchmarks/hpo_tasks/sklearn_tasks.py --serve`, `--python`, default
//! `.venv-bench/bin/python`).
//!
//! Each line: `optimizer`, `problem`, `seed`, `n_trials`, `best` (best value found), `optimum`,
//! `regret` = best − optimum, `regret_at[k]` = the regret after the first k evaluations,
//! `wall_s`, `default_in_design`, `n_workers` (and `n_evals`, `peak_rss_mb`). For the HPO tasks
//! the optimum is unknown (`null`): `regret` and `regret_at` hold the best cost (1 − CV
//! accuracy) instead. The functions' targets are instant, so their `wall_s` is the optimizer's
//! own cost (including writing the run directory after every trial, as a real run does).
//! `--out FILE` appends the lines to FILE as well.
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
//! the AlgorithmConfigurationFacade (racing up to 2,000 instance-seed pairs per configuration);
//! `hpo`/`random` with `--instances` race with their facades' default intensifier (SMAC3's, up to
//! 3 pairs per configuration).

#[path = "bench_suite/hpo.rs"]
mod hpo;
#[path = "bench_suite/problems.rs"]
mod problems;

use clap::Parser;
use problems::{fixed_normal, instance_offsets, noise_scale, shifted, MAX_BUDGET};
use smac::benchmarks;
use smac::facade::{AlgorithmConfigurationFacade, HyperbandFacade, MultiFidelityFacade};
use smac::{
    BlackBoxFacade, DesignKind, HyperparameterOptimizationFacade, InitialDesign, Interleaved, RandomFacade,
    Scenario, TrialInfo,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// hpo, bb, random, mf (multi-fidelity), hb (Hyperband) or ac (algorithm configuration).
    #[arg(long, default_value = "hpo")]
    optimizer: String,
    /// Number of instances (input offsets); 0 = none. Default 10 for `ac`.
    #[arg(long)]
    instances: Option<usize>,
    /// `all`, `functions`, `mixed`, `hpo`, or one problem's name.
    #[arg(long, default_value = "all")]
    func: String,
    /// With `--func all`: the HPO tasks as well (they need `--python`).
    #[arg(long)]
    with_hpo_tasks: bool,
    /// The Python of the HPO tasks (scikit-learn and ConfigSpace 1.2.2).
    #[arg(long, default_value = ".venv-bench/bin/python")]
    python: PathBuf,
    /// Seeds as a half-open range, e.g. `0..10`.
    #[arg(long, default_value = "0..10", value_parser = smac::benchmarks::parse_seed_range)]
    seeds: Range<u64>,
    /// Trials per run.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Parallel workers (threads); HPO tasks share one evaluator process, so they gain nothing.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Leave the default configuration out of the HPO facade's initial design (as SMAC3 does), for
    /// comparisons on functions whose optimum is the centre of the box (ackley5).
    #[arg(long)]
    no_default_config: bool,
    /// Experiment knob: regenerate challengers after this many (the facade's default otherwise).
    #[arg(long)]
    retrain_after: Option<usize>,
    /// Experiment knob: fraction of interleaved random configurations.
    #[arg(long)]
    random_probability: Option<f64>,
    /// Experiment knob: the interleaved configurations, `random` or `tpe`.
    #[arg(long)]
    interleaved: Option<String>,
    /// Experiment knob: Sobol design of this many configurations per hyperparameter (HPO, BB).
    #[arg(long)]
    design_per_hp: Option<usize>,
    /// Experiment knob: the design's cap as a fraction of the trials (with `--design-per-hp`).
    #[arg(long, default_value_t = 0.25)]
    design_max_ratio: f64,
    /// Append every JSON line to this file too (JSONL).
    #[arg(long)]
    out: Option<PathBuf>,
    /// After the runs, print one more line: median regret and wall time per problem.
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

/// Trial counts at which `regret_at` records the regret.
const CHECKPOINTS: [usize; 8] = [10, 25, 50, 100, 200, 500, 1000, 2000];

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
    if !matches!(args.optimizer.as_str(), "hpo" | "bb" | "random" | "mf" | "hb" | "ac") {
        return Err(format!("unknown optimizer '{}' (hpo, bb, random, mf, hb, ac)", args.optimizer).into());
    }
    let interleaved = match args.interleaved.as_deref() {
        None => None,
        Some("tpe") => Some(Interleaved::Tpe),
        Some("random") => Some(Interleaved::Random),
        Some(other) => return Err(format!("unknown --interleaved '{other}' (random, tpe)").into()),
    };
    let n_instances = args.instances.unwrap_or(if args.optimizer == "ac" { 10 } else { 0 });
    let multi_fidelity = matches!(args.optimizer.as_str(), "mf" | "hb");
    let mut out_file = match &args.out {
        Some(path) => Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
        None => None,
    };
    // Which facades put the default configuration into their initial design: HPO (unless told
    // not to), and random, ac and hb, whose designs start from it; bb and mf do not.
    let default_in_design = match args.optimizer.as_str() {
        "hpo" => !args.no_default_config,
        "random" | "ac" | "hb" => true,
        _ => false,
    };
    let out_dir = tempfile::tempdir()?;
    let mut per_problem: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for problem in problems::select(&args.func, args.with_hpo_tasks, &args.python)? {
        if problem.kind == "hpo" && (multi_fidelity || n_instances > 0) {
            eprintln!(
                "skipping {}: budgets and instances are defined for the catalogue's functions",
                problem.name
            );
            continue;
        }
        let sigma = if multi_fidelity { noise_scale(&problem)? } else { 0.0 };
        let offsets = match (&problem.bench, n_instances) {
            (_, 0) => None,
            (Some(b), n) => Some(instance_offsets(b, n)),
            (None, _) => {
                eprintln!("skipping {}: instances need a box function", problem.name);
                continue;
            }
        };
        // Regret against the optimum; for tasks without a known one, the best cost itself.
        let optimum = problem.optimum.unwrap_or(0.0);
        for seed in args.seeds.clone() {
            let mut builder = Scenario::builder(problem.space.clone())
                .name(format!("{}_{}", args.optimizer, problem.name))
                .output_directory(out_dir.path())
                .n_trials(args.trials)
                .n_workers(args.workers)
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
                let (f, bench, offsets) = (problem.f.clone(), problem.bench.clone(), offsets.clone());
                move |t: &TrialInfo| {
                    let value = match (&offsets, &bench, &t.instance) {
                        (Some(o), Some(b), Some(i)) => shifted(b, &t.config, &o[i]),
                        _ => f(&t.config)?,
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
                _ => AlgorithmConfigurationFacade::builder(scenario),
            }
            .target_fn(target)
            .map(|b| {
                if args.no_default_config && args.optimizer == "hpo" {
                    b.initial_design(InitialDesign::new(DesignKind::Sobol))
                } else {
                    b
                }
            })
            .map(|mut b| {
                if let Some(n) = args.retrain_after {
                    b = b.retrain_after(n);
                }
                if let Some(p) = args.random_probability {
                    b = b.random_probability(p);
                }
                if let Some(kind) = interleaved {
                    b = b.interleaved(kind);
                }
                if let Some(n) = args.design_per_hp {
                    let design = InitialDesign::new(DesignKind::Sobol)
                        .n_configs_per_hyperparameter(n)
                        .max_ratio(args.design_max_ratio);
                    b = b.initial_design(design);
                }
                b
            })
            .overwrite(true)
            .build()?;
            smac.optimize()?;
            let wall_s = start.elapsed().as_secs_f64();
            let rh = smac.runhistory();
            let mut line = serde_json::json!({
                "optimizer": args.optimizer,
                "problem": problem.name,
                "seed": seed,
                "n_trials": args.trials,
                "optimum": problem.optimum,
                "wall_s": wall_s,
                "default_in_design": default_in_design,
                "n_workers": args.workers,
                "n_evals": rh.len(),
                "peak_rss_mb": peak_rss_mb(),
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
                        best = best.min((problem.f)(rh.config(k.config_id).expect("valid id"))?);
                        if [1, 2, 5, 10, 25, 50, 100, 200].contains(&n_full) {
                            regret_at_full.insert(n_full.to_string(), benchmarks::regret(best, optimum));
                        }
                    }
                }
                serde_json::json!({
                    "best": best,
                    "regret": benchmarks::regret(best, optimum),
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
                    if CHECKPOINTS.contains(&k) {
                        if let Some(id) = current {
                            regret_at.insert(k.to_string(), benchmarks::regret(true_mean(id), optimum));
                        }
                    }
                }
                let inc = smac.incumbent().and_then(|c| rh.config_id(&c));
                serde_json::json!({
                    "best": inc.map(true_mean),
                    "regret": inc.map(|id| benchmarks::regret(true_mean(id), optimum)),
                    "n_instances": offsets.len(),
                    "incumbent_trials": inc.map(|id| rh.trials_of(id).count()),
                    "n_configs": rh.configs().len(),
                    "regret_at": regret_at,
                })
            } else {
                let mut best = f64::INFINITY;
                let mut regret_at = BTreeMap::new();
                for (i, (_, v)) in rh.iter().enumerate() {
                    best = best.min(v.single_cost());
                    if CHECKPOINTS.contains(&(i + 1)) {
                        regret_at.insert((i + 1).to_string(), benchmarks::regret(best, optimum));
                    }
                }
                serde_json::json!({
                    "best": best,
                    "regret": benchmarks::regret(best, optimum),
                    "regret_at": regret_at,
                })
            };
            for (k, v) in extra.as_object().expect("object") {
                line[k] = v.clone();
            }
            println!("{line}");
            if let Some(file) = &mut out_file {
                writeln!(file, "{line}")?;
                file.flush()?;
            }
            let entry = per_problem.entry(problem.name.clone()).or_default();
            entry.0.push(line["regret"].as_f64().unwrap_or(f64::NAN));
            entry.1.push(wall_s);
        }
    }
    if args.summary {
        let problems: serde_json::Map<String, serde_json::Value> = per_problem
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
        println!("{}", serde_json::json!({ "summary": args.optimizer, "per_problem": problems }));
    }
    Ok(())
}
