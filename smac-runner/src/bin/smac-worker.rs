//! `smac-worker`: a generic worker for command targets ([`smac_runner::CommandTarget`]).
//!
//! ```text
//! smac-worker --scheduler-file sched.json [--resources GPU=1,MEMORY=10e9] [--nworkers N]
//! ```
//!
//! Joins a scheduler given by `--scheduler-file PATH` (waiting for the file to appear), by
//! `--scheduler HOST:PORT` with the token in `SMAC_WORKER_TOKEN`, or by the environment a
//! local cluster sets, and serves until the scheduler shuts down. With a scheduler file it
//! rejoins a lost scheduler for a while (`--reconnect`). `--nworkers N` starts N worker
//! processes and supervises them. `smac worker` is the same program.

use clap::Parser;
use smac_runner::worker::standalone::{run_standalone, WorkerArgs};
use smac_runner::worker::Worker;
use std::process::ExitCode;

/// A worker for command targets; each worker process runs one trial at a time. Logs go to
/// stderr (RUST_LOG=debug for more).
#[derive(Parser)]
#[command(name = "smac-worker", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    args: WorkerArgs,
}

fn main() -> ExitCode {
    smac_runner::dask::serve_trial_if_requested(Worker::new()); // one trial of a Dask task, then exit
    let cli = Cli::parse();
    smac_runner::logging::init_stderr();
    match run_standalone(Worker::new(), &cli.args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("smac-worker: {e}");
            ExitCode::from(2)
        }
    }
}
