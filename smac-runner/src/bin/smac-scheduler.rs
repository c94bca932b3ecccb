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
//! `Client::from_scheduler_file("sched.json")`.

#[path = "shared/cli.rs"]
mod cli;

use smac_runner::launch::{signal_name, SignalSet};
use smac_runner::{LocalCluster, SchedulerConfig};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: smac-scheduler --scheduler-file PATH [options]

  --scheduler-file PATH      where to write the address and token (JSON, mode 0600)
  --host HOST                interface to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port PORT                port (default 0: any free port; the file tells which)
  --contact-address HOST     host name written to the file (default: the bound address, or
                             this machine's host name when listening on all interfaces)
  --heartbeat-interval SECS  how often heartbeats are exchanged (default 0.5)
  --heartbeat-timeout SECS   silence after which a worker is declared dead (default 10)
  --remove-scheduler-file    delete the scheduler file when shutting down

Runs until SIGTERM/SIGINT; then its workers exit. Logs go to stderr (RUST_LOG=debug for more).";

struct Options {
    file: PathBuf,
    listen: SocketAddr,
    contact: Option<String>,
    cfg: SchedulerConfig,
    remove_file: bool,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut file, mut host, mut port, mut contact, mut remove_file) =
        (None, "127.0.0.1".to_string(), 0u16, None, false);
    let mut cfg = SchedulerConfig::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scheduler-file" => file = Some(PathBuf::from(cli::value(&mut args, &a)?)),
            "--host" => host = cli::value(&mut args, &a)?,
            "--port" => {
                let v = cli::value(&mut args, &a)?;
                port = v.parse().map_err(|_| format!("--port: `{v}` is not a port number"))?;
            }
            "--contact-address" => contact = Some(cli::value(&mut args, &a)?),
            "--heartbeat-interval" => cfg.heartbeat_interval = cli::seconds(&cli::value(&mut args, &a)?, &a)?,
            "--heartbeat-timeout" => cfg.heartbeat_timeout = cli::seconds(&cli::value(&mut args, &a)?, &a)?,
            "--remove-scheduler-file" => remove_file = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n\n{USAGE}")),
        }
    }
    let file = file.ok_or_else(|| format!("--scheduler-file is required\n\n{USAGE}"))?;
    let listen = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("--host {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("--host {host}: no address"))?;
    if cfg.heartbeat_interval.is_zero() || cfg.heartbeat_timeout <= cfg.heartbeat_interval {
        return Err("the heartbeat timeout must exceed a non-zero heartbeat interval".into());
    }
    Ok(Options { file, listen, contact, cfg, remove_file })
}

fn main() -> ExitCode {
    // Scattered blobs must not stay in this long-lived process's memory once freed.
    smac_runner::scheduler::release_large_blocks_eagerly();
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    cli::init_logging();
    // Before any thread starts, so that the signals are taken here and nowhere else.
    let signals = match SignalSet::block_termination() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smac-scheduler: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut builder =
        LocalCluster::builder().listen(opts.listen).scheduler_file(&opts.file).scheduler_config(opts.cfg);
    if let Some(c) = &opts.contact {
        builder = builder.contact_address(c);
    }
    let mut cluster = match builder.start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smac-scheduler: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = cluster.client();
    let address = client.scheduler_file().map(|f| f.address).unwrap_or_default();
    if !opts.listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {}: whoever can reach it and holds the token can run trials on the workers; \
             the traffic is not encrypted, so use it on trusted networks only",
            opts.listen.ip()
        );
    }
    tracing::info!(%address, file = %opts.file.display(), pid = std::process::id(), "smac-scheduler ready");
    let sig = signals.wait(None).unwrap_or(libc::SIGTERM);
    tracing::info!(workers = client.n_workers(), "{}: shutting down", signal_name(sig));
    cluster.close();
    if opts.remove_file {
        if let Err(e) = std::fs::remove_file(&opts.file) {
            tracing::warn!("cannot remove {}: {e}", opts.file.display());
        }
    }
    ExitCode::SUCCESS
}
