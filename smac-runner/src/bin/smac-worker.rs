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
//! processes and supervises them.

#[path = "shared/cli.rs"]
mod cli;

use smac_runner::protocol::Token;
use smac_runner::worker::{Worker, WorkerConfig, ENV_TOKEN};
use smac_runner::Resources;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: smac-worker (--scheduler-file PATH | --scheduler HOST:PORT) [options]

  --scheduler-file PATH   join the scheduler described there (waits for the file)
  --scheduler HOST:PORT   join this scheduler; the token is read from SMAC_WORKER_TOKEN
  --resources SPEC        resources offered to trials, per worker process: GPU=1,MEMORY=10e9
  --nworkers N            start N worker processes (each with SPEC) and supervise them
  --timeout SECS          how long to wait for the file and the connection (default 60)
  --reconnect SECS        how long to try rejoining a lost scheduler (default 60 with a
                          scheduler file, 0 otherwise; 0 exits at once)

Each worker process runs one trial at a time. Logs go to stderr (RUST_LOG=debug for more).";

struct Options {
    config: WorkerConfig,
    nworkers: usize,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut file, mut address, mut resources, mut nworkers) = (None, None, None, 1usize);
    let (mut timeout, mut reconnect) = (Duration::from_secs(60), None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scheduler-file" => file = Some(PathBuf::from(cli::value(&mut args, &a)?)),
            "--scheduler" => address = Some(cli::value(&mut args, &a)?),
            "--resources" => {
                let spec = cli::value(&mut args, &a)?;
                resources = Some(spec.parse::<Resources>().map_err(|e| format!("--resources: {e}"))?);
            }
            "--nworkers" => {
                let v = cli::value(&mut args, &a)?;
                nworkers = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--nworkers: `{v}` is not a positive count"))?;
            }
            "--timeout" => timeout = cli::seconds(&cli::value(&mut args, &a)?, &a)?,
            "--reconnect" => reconnect = Some(cli::seconds(&cli::value(&mut args, &a)?, &a)?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n\n{USAGE}")),
        }
    }
    let mut config = match (file, address) {
        (Some(path), None) => {
            WorkerConfig::from_scheduler_file_wait(&path, timeout).map_err(|e| e.to_string())?
        }
        (None, Some(address)) => {
            let token = std::env::var(ENV_TOKEN)
                .ok()
                .and_then(|t| Token::from_hex(&t))
                .ok_or_else(|| format!("{ENV_TOKEN} must hold the scheduler's token (64 hex digits)"))?;
            WorkerConfig::new(address, token)
        }
        (Some(_), Some(_)) => {
            return Err(format!("give --scheduler-file or --scheduler, not both\n\n{USAGE}"))
        }
        (None, None) => {
            WorkerConfig::from_env().ok_or_else(|| USAGE.to_string())?.map_err(|e| e.to_string())?
        }
    };
    config.connect_timeout = timeout;
    if let Some(r) = resources {
        config.resources = r;
    }
    if let Some(r) = reconnect {
        config.reconnect = (!r.is_zero()).then_some(r);
    }
    Ok(Options { config, nworkers })
}

/// This command's arguments without `--nworkers N`, for the worker processes it starts.
fn worker_args() -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--nworkers" {
            args.next();
        } else {
            out.push(a);
        }
    }
    out
}

fn main() -> ExitCode {
    smac_runner::dask::serve_trial_if_requested(Worker::new()); // one trial of a Dask task, then exit
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    cli::init_logging();
    if opts.nworkers > 1 {
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("smac-worker: {e}");
                return ExitCode::FAILURE;
            }
        };
        let code = smac_runner::launch::supervise(&exe, &worker_args(), &[], opts.nworkers);
        return ExitCode::from(code as u8);
    }
    match Worker::new().run(&opts.config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smac-worker: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
