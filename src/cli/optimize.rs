//! `smac optimize`: run (or resume) an optimization of a target command.

use super::args::{FacadeKind, OptimizeArgs};
use super::error::CliError;
use super::interrupt::{Interrupt, Interruptible, StopOnInterrupt};
use super::output::{fmt_costs, json_costs};
use super::progress::{JsonLines, ProgressReporter};
use super::scenario_file::{self, RunSpec};
use crate::facade::{FacadeBuilder, Optimizer};
use crate::{BlackBoxFacade, HyperparameterOptimizationFacade, RandomFacade};
use smac_core::{Runner, RunnerError, SmacError, SmboBuilder};
use smac_runner::CommandTarget;
use std::process::ExitCode;
use tracing::info;

/// What the user sees while the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Progress bar and summary.
    Human,
    /// JSON lines on stdout.
    Json,
    /// Errors only.
    Quiet,
}

/// Runs `smac optimize`; exit code 0 when the budget is used, 130 when interrupted.
pub fn run(args: &OptimizeArgs, quiet: bool) -> Result<ExitCode, CliError> {
    let mode = match (quiet, args.json) {
        (_, true) => Mode::Json,
        (true, false) => Mode::Quiet,
        _ => Mode::Human,
    };
    let spec = scenario_file::resolve(args)?;
    let interrupt = Interrupt::install()
        .map_err(|e| CliError::Usage(format!("cannot install the Ctrl-C handler: {e}")))?;
    let mut cluster = spec.cluster.clone();
    cluster.interrupt = Some(interrupt.flag());
    let placement = cluster.placement(spec.scenario.n_workers)?;
    let (runner, client) = command_runner(&spec, &cluster)?;
    let runner = Interruptible::new(runner, interrupt.clone());
    let workers = runner.n_workers();
    let mut builder = facade_builder(&spec);
    if let Some(mo) = spec.multi_objective.clone() {
        builder = builder.map(move |b| b.multi_objective(mo));
    }
    if let Some(n) = spec.retrain_after {
        builder = builder.map(move |b| b.retrain_after(n));
    }
    if let Some(interleaved) = spec.interleaved {
        builder = builder.map(move |b| b.interleaved(interleaved));
    }
    let mut builder =
        builder.runner(runner).callback(StopOnInterrupt(interrupt.clone())).overwrite(args.overwrite);
    builder = match mode {
        Mode::Human => builder.callback(ProgressReporter::new(interrupt.clone())),
        Mode::Json => builder.callback(JsonLines),
        Mode::Quiet => builder,
    };
    let mut smac = builder.build()?;
    let dir = smac.run_directory().map(|d| d.path().display().to_string()).unwrap_or_default();
    // Serves until the run ends (dropped with this function's locals).
    let _dashboard = match (&args.dashboard, smac.run_directory()) {
        (Some(addr), Some(d)) => {
            // A remote scheduler's client has no view (`Client::cluster_view`); the page says so.
            let dash = super::dashboard::spawn(vec![d.path().to_path_buf()], addr, client.clone())?;
            eprintln!("smac: dashboard at {}", dash.url);
            Some(dash)
        }
        _ => None,
    };
    let (done, total) = (smac.runhistory().len(), spec.scenario.n_trials);
    info!(run_directory = %dir, done, total, facade = %spec.facade, command = ?spec.command, %placement, workers, "optimize");
    if mode == Mode::Human {
        eprintln!(
            "smac: {} trials of `{}` on {placement} ({workers} worker(s) connected), facade {}; run directory {dir}",
            total,
            spec.command.join(" "),
            spec.facade
        );
        if done > 0 {
            eprintln!("smac: resuming: {done} of {total} trials already done");
        }
    }

    let result = smac.optimize();
    let interrupted = interrupt.requested() && smac.runhistory().len() < total;
    match result {
        Ok(_) => {}
        Err(SmacError::Runner(RunnerError::Interrupted)) if interrupt.requested() => {}
        Err(e) => return Err(e.into()),
    }
    summarize(&smac, mode, interrupted, &dir);
    Ok(if interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// The facade's builder for the scenario.
fn facade_builder(spec: &RunSpec) -> FacadeBuilder {
    let scenario = spec.scenario.clone();
    match spec.facade {
        FacadeKind::Hpo => HyperparameterOptimizationFacade::builder(scenario),
        FacadeKind::Bb => BlackBoxFacade::builder(scenario),
        FacadeKind::Random => RandomFacade::builder(scenario),
        FacadeKind::Ac => {
            RandomFacade::builder(scenario.clone()).map(|_| SmboBuilder::algorithm_configuration(scenario))
        }
        FacadeKind::Mf => {
            RandomFacade::builder(scenario.clone()).map(|_| SmboBuilder::multi_fidelity(scenario))
        }
        FacadeKind::Hb => RandomFacade::builder(scenario.clone()).map(|_| SmboBuilder::hyperband(scenario)),
    }
}

/// The command target's runner, wherever the cluster settings say (in-process for one local
/// worker, local worker processes — this executable in worker mode —, our scheduler or Dask).
/// Per-trial limits are enforced by the command target on the program's process in every case.
fn command_runner(
    spec: &RunSpec,
    cluster: &smac_runner::ClusterConfig,
) -> Result<(Box<dyn Runner>, Option<smac_runner::Client>), CliError> {
    let mut cmd = CommandTarget::from_scenario(&spec.command[0], &spec.scenario)
        .args(spec.command[1..].iter().cloned())
        .current_dir(&spec.working_directory);
    for (k, v) in &spec.env {
        cmd = cmd.env(k, v);
    }
    Ok(cluster.runner_and_client(cmd, &spec.scenario)?)
}

/// The final report: incumbent, cost, where the results are, how to resume.
fn summarize(smac: &Optimizer, mode: Mode, interrupted: bool, dir: &str) {
    let rh = smac.runhistory();
    let total = smac.scenario().n_trials;
    let inc = smac.incumbent();
    let inc_id = inc.as_ref().and_then(|c| rh.config_id(c));
    let cost = inc_id.and_then(|id| rh.average_cost(id));
    match mode {
        Mode::Quiet => {}
        Mode::Json => {
            let line = serde_json::json!({
                "event": "end",
                "status": if interrupted { "interrupted" } else { "finished" },
                "n": rh.len(),
                "n_trials": total,
                "incumbent_id": inc_id,
                "incumbent": inc.as_ref().map(|c| c.to_json()),
                "incumbent_cost": cost.as_deref().map(json_costs),
                "run_directory": dir,
            });
            println!("{line}");
        }
        Mode::Human => {
            if interrupted {
                println!(
                    "interrupted after {} of {total} trials; run the same command again to resume",
                    rh.len()
                );
            } else {
                println!("finished {} of {total} trials", rh.len());
            }
            if let (Some(c), Some(id), Some(cost)) = (&inc, inc_id, &cost) {
                println!("incumbent (config {id}): cost {}", fmt_costs(cost));
                for (name, v) in c.iter() {
                    println!("  {name} = {v}");
                }
            }
            println!("run directory: {dir}");
        }
    }
}
