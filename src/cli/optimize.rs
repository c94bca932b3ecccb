//! `smac optimize`: run (or resume) an optimization of a target command.

use super::args::{FacadeKind, OptimizeArgs};
use super::cluster;
use super::error::CliError;
use super::interrupt::{Interrupt, Interruptible, StopOnInterrupt, INTERRUPTED};
use super::output::{fmt_costs, json_costs};
use super::progress::{JsonLines, ProgressReporter};
use super::scenario_file::{self, RunSpec};
use crate::facade::{FacadeBuilder, Optimizer};
use crate::{BlackBoxFacade, HyperparameterOptimizationFacade, RandomFacade};
use smac_core::{Runner, RunnerError, SmacError, SmboBuilder};
use smac_runner::{CommandRunner, DaskStyleParallelRunner, LocalCluster, ParallelOptions};
use std::process::ExitCode;
use std::time::Duration;
use tracing::info;

/// How long the parallel runner waits for a worker when none is alive.
const PATIENCE: Duration = Duration::from_secs(10);
/// The same on a cluster, where workers may still be queued by a batch system.
const CLUSTER_PATIENCE: Duration = Duration::from_secs(120);

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
    let runner = Interruptible::new(command_runner(&spec)?, interrupt.clone());
    let mut builder = facade_builder(&spec)
        .runner(runner)
        .callback(StopOnInterrupt(interrupt.clone()))
        .overwrite(args.overwrite);
    builder = match mode {
        Mode::Human => builder.callback(ProgressReporter::new(interrupt.clone())),
        Mode::Json => builder.callback(JsonLines),
        Mode::Quiet => builder,
    };
    let mut smac = builder.build()?;
    let dir = smac.run_directory().map(|d| d.path().display().to_string()).unwrap_or_default();
    let (done, total) = (smac.runhistory().len(), spec.scenario.n_trials);
    info!(run_directory = %dir, done, total, facade = %spec.facade, command = ?spec.command, "optimize");
    if mode == Mode::Human {
        eprintln!(
            "smac: {} trials of `{}` with {} worker(s), facade {}; run directory {dir}",
            total,
            spec.command.join(" "),
            spec.scenario.n_workers,
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
        Err(SmacError::Runner(RunnerError::Other(m))) if m == INTERRUPTED && interrupt.requested() => {}
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

/// The command runner: on the workers of a cluster given by a scheduler file; otherwise in the
/// optimizer's process for one worker, on local worker processes (this executable in worker
/// mode) for several. Per-trial limits are enforced by the command runner on the target's
/// process in every case.
fn command_runner(spec: &RunSpec) -> Result<Box<dyn Runner>, CliError> {
    let mut cmd = CommandRunner::from_scenario(&spec.command[0], &spec.scenario)
        .args(spec.command[1..].iter().cloned())
        .current_dir(&spec.working_directory);
    for (k, v) in &spec.env {
        cmd = cmd.env(k, v);
    }
    if let Some(path) = &spec.scheduler_file {
        let options = ParallelOptions { patience: CLUSTER_PATIENCE, ..Default::default() };
        return Ok(Box::new(DaskStyleParallelRunner::with_options(
            cmd,
            Some(cluster::client(path)?),
            options,
        )?));
    }
    let n = spec.scenario.n_workers;
    if n == 1 {
        return Ok(Box::new(cmd));
    }
    let cluster = LocalCluster::builder().processes(n).start()?;
    let options = ParallelOptions { patience: PATIENCE, ..Default::default() };
    Ok(Box::new(DaskStyleParallelRunner::with_cluster(cmd, cluster, options)?))
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
