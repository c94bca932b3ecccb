//! `smac-scheduler`: a standalone scheduler that workers and optimizers join from anywhere.
//!
//! ```text
//! smac-scheduler --scheduler-file sched.json [--host H] [--port P]
//! ```
//!
//! It listens (on loopback unless `--host` says otherwise), writes the scheduler file — JSON
//! with the address, the protocol version and a freshly generated token, owner-readable only —
//! and runs until `SIGTERM`/`SIGINT`/`SIGHUP`, when it tells its workers to exit and stops.
//! Workers join with `smac-worker --scheduler-file sched.json` (or the user's binary with
//! `SMAC_WORKER_SCHEDULER_FILE=sched.json`); optimizers attach with
//! `Client::from_scheduler_file("sched.json")` or `smac optimize --scheduler-file sched.json`.
//! `smac scheduler` is the same program.

use clap::Parser;
use smac_runner::scheduler::standalone::{run_standalone, SchedulerArgs};
use std::process::ExitCode;

/// A standalone smac-rs scheduler. Runs until SIGTERM/SIGINT; then its workers exit. Logs go to
/// stderr (RUST_LOG=debug for more).
#[derive(Parser)]
#[command(name = "smac-scheduler", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    args: SchedulerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    smac_runner::logging::init_stderr();
    match run_standalone(&cli.args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smac-scheduler: {e}");
            ExitCode::FAILURE
        }
    }
}
