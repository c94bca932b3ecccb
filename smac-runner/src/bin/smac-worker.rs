//! `smac-worker`: a generic worker for command targets ([`smac_runner::CommandRunner`]).
//!
//! Joins a scheduler given by `--scheduler-file PATH`, by `--scheduler HOST:PORT` with the
//! token in `SMAC_WORKER_TOKEN`, or by the environment a local cluster sets, and serves until
//! the scheduler goes away.

use smac_runner::protocol::Token;
use smac_runner::worker::{Worker, WorkerConfig, ENV_TOKEN};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: smac-worker (--scheduler-file PATH | --scheduler HOST:PORT)\n\
    The token is read from the scheduler file or from SMAC_WORKER_TOKEN.";

fn config() -> Result<WorkerConfig, String> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scheduler-file" => {
                let path = PathBuf::from(args.next().ok_or(USAGE)?);
                config = Some(WorkerConfig::from_scheduler_file(&path).map_err(|e| e.to_string())?);
            }
            "--scheduler" => {
                let address = args.next().ok_or(USAGE)?;
                let token = std::env::var(ENV_TOKEN)
                    .ok()
                    .and_then(|t| Token::from_hex(&t))
                    .ok_or_else(|| format!("{ENV_TOKEN} must hold the scheduler's token (64 hex digits)"))?;
                config = Some(WorkerConfig::new(address, token));
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    match config {
        Some(c) => Ok(c),
        None => WorkerConfig::from_env().ok_or_else(|| USAGE.to_string())?.map_err(|e| e.to_string()),
    }
}

fn main() -> ExitCode {
    let config = match config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match Worker::new().run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smac-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
