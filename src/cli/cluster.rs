//! Clusters: `smac scheduler` starts a scheduler that writes a scheduler file, `smac worker`
//! joins one (on any machine that sees the file and the target program), and
//! `smac optimize --scheduler-file` runs its trials on that cluster's workers.

use super::args::{SchedulerCommandArgs, WorkerArgs};
use super::error::CliError;
use smac_runner::scheduler::standalone::run_standalone_with as standalone_scheduler;
use smac_runner::worker::standalone::run_standalone as standalone_worker;
use smac_runner::worker::Worker;
use std::process::ExitCode;

/// Runs `smac worker`: serves command trials until the scheduler shuts down (the same program
/// as `smac-worker`).
pub fn worker(args: &WorkerArgs) -> Result<ExitCode, CliError> {
    let code = standalone_worker(Worker::new(), args).map_err(CliError::Cluster)?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// Runs `smac scheduler`: listens, writes the scheduler file, serves until SIGINT/SIGTERM (the
/// same program as `smac-scheduler`).
pub fn scheduler(args: &SchedulerCommandArgs) -> Result<(), CliError> {
    super::output::notice(&format!(
        "scheduler starting; workers join with `smac worker --scheduler-file {0}`, runs with \
         `smac optimize --scheduler-file {0} ...`; Ctrl-C stops it",
        args.scheduler.scheduler_file.display()
    ));
    let dashboard = |client: &smac_runner::Client| match &args.dashboard {
        None => Ok(None),
        Some(address) => {
            let d = super::dashboard::spawn(args.dashboard_runs.clone(), address, Some(client.clone()))
                .map_err(|e| e.to_string())?;
            eprintln!("smac: dashboard at {}", d.url);
            Ok(Some(d))
        }
    };
    standalone_scheduler(&args.scheduler, dashboard).map_err(CliError::Cluster)
}
