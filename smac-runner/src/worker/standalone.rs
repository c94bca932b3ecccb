//! A standalone worker process: what `smac-worker` and `smac worker` run, with one set of
//! flags ([`WorkerArgs`], clap). `--nworkers N` starts N worker processes under the
//! supervisor of [`crate::worker::launch`], which takes the termination signals synchronously.

use crate::protocol::Token;
use crate::resources::Resources;
use crate::worker::config::{WorkerConfig, ENV_TOKEN};
use crate::worker::Worker;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of a standalone worker.
#[derive(Clone, Debug, clap::Args)]
pub struct WorkerArgs {
    /// Join the scheduler described in this file (waits for it to appear).
    #[arg(long, value_name = "FILE", conflicts_with = "scheduler")]
    pub scheduler_file: Option<PathBuf>,
    /// Join the scheduler at HOST:PORT; the token is read from SMAC_WORKER_TOKEN.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: Option<String>,
    /// Resources offered to trials, per worker process, e.g. GPU=1,MEMORY=10e9.
    #[arg(long, value_name = "SPEC")]
    pub resources: Option<Resources>,
    /// Start N worker processes (each with the resources) and supervise them.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub nworkers: u32,
    /// Seconds to wait for the scheduler file and the connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Seconds to try rejoining a lost scheduler (default 60 with a scheduler file, 0
    /// otherwise; 0 exits at once).
    #[arg(long, value_name = "SECONDS")]
    pub reconnect: Option<f64>,
}

/// Serves trials of `worker`'s target types (with `nworkers == 1`) or supervises `nworkers`
/// copies of this executable started with the same arguments; returns the exit code.
pub fn run_standalone(worker: Worker, args: &WorkerArgs) -> Result<i32, String> {
    let seconds = |v: f64, name: &str| {
        (v.is_finite() && v >= 0.0)
            .then(|| Duration::from_secs_f64(v))
            .ok_or_else(|| format!("--{name}: `{v}` is not a number of seconds"))
    };
    let timeout = seconds(args.timeout, "timeout")?;
    if args.nworkers > 1 {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        return Ok(crate::worker::launch::supervise(&exe, &without_nworkers(), &[], args.nworkers as usize));
    }
    let mut config = match (&args.scheduler_file, &args.scheduler) {
        (Some(path), _) => {
            WorkerConfig::from_scheduler_file_wait(path, timeout).map_err(|e| e.to_string())?
        }
        (None, Some(address)) => {
            let token = std::env::var(ENV_TOKEN)
                .ok()
                .and_then(|t| Token::from_hex(&t))
                .ok_or_else(|| format!("{ENV_TOKEN} must hold the scheduler's token (64 hex digits)"))?;
            WorkerConfig::new(address.clone(), token)
        }
        (None, None) => WorkerConfig::from_env()
            .ok_or("give --scheduler-file FILE or --scheduler HOST:PORT")?
            .map_err(|e| e.to_string())?,
    };
    config.connect_timeout = timeout;
    if let Some(r) = &args.resources {
        config.resources = r.clone();
    }
    if let Some(r) = args.reconnect {
        let r = seconds(r, "reconnect")?;
        config.reconnect = (!r.is_zero()).then_some(r);
    }
    match worker.run(&config) {
        Ok(()) => Ok(0),
        Err(e) => {
            tracing::error!("worker stopped: {e}");
            eprintln!("worker stopped: {e}");
            Ok(e.exit_code())
        }
    }
}

/// This command's arguments without `--nworkers N`, for the worker processes it starts.
fn without_nworkers() -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--nworkers" {
            args.next();
        } else if !a.to_string_lossy().starts_with("--nworkers=") {
            out.push(a);
        }
    }
    out
}
