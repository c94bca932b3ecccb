//! The `smac` command-line tool: optimize a target command from a scenario file, inspect and
//! plot run directories. The binary (`src/bin/smac.rs`) only calls [`main`].
//!
//! - `smac optimize --scenario scenario.toml` — run or resume an optimization ([`optimize`]);
//! - `smac show RUN_DIR` — incumbent, best configurations, trial status counts ([`show`]);
//! - `smac plot RUN_DIR -o convergence.svg` — convergence or scatter plots ([`plot`]);
//! - `smac scheduler` / `smac worker` — a cluster that runs trials anywhere ([`cluster`]);
//! - `smac dashboard RUN_DIR...` — a live web page of runs ([`dashboard`]).
//!
//! The user guide is `docs/cli.md`.

pub mod args;
pub mod cluster;
pub mod condition;
pub mod dashboard;
pub mod error;
#[cfg(test)]
mod fuzz_tests;
pub mod interrupt;
pub mod logging;
pub mod optimize;
pub mod output;
pub mod plot;
pub mod progress;
pub mod rundir;
pub mod scenario_file;
pub mod show;
pub mod space;
pub mod worker;

pub use error::CliError;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

/// Runs the `smac` command line; worker processes of a parallel run serve trials instead.
pub fn main() -> ExitCode {
    worker::serve_if_worker();
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.quiet);
    let result = match &cli.command {
        Command::Optimize(a) => optimize::run(a, cli.quiet),
        Command::Show(a) => show::run(a).map(|_| ExitCode::SUCCESS),
        Command::Plot(a) => plot::run(a).map(|_| ExitCode::SUCCESS),
        Command::Scheduler(a) => cluster::scheduler(a).map(|_| ExitCode::SUCCESS),
        Command::Worker(a) => cluster::worker(a),
        Command::Dashboard(a) => dashboard::run(a).map(|_| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("smac: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
