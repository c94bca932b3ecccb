//! A standalone scheduler process: what `smac-scheduler` and `smac scheduler` run, with one
//! set of flags ([`SchedulerArgs`], clap) and one way of handling signals (the termination
//! signals are blocked and taken synchronously, [`crate::launch::SignalSet`]).

use crate::client::local::LocalCluster;
use crate::scheduler::SchedulerConfig;
use crate::worker::launch::{signal_name, SignalSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// Flags of a standalone scheduler.
#[derive(Clone, Debug, clap::Args)]
pub struct SchedulerArgs {
    /// Where to write the address and token (JSON, owner-readable only).
    #[arg(long, value_name = "FILE")]
    pub scheduler_file: PathBuf,
    /// Interface to listen on (0.0.0.0 for all; the default accepts local workers only).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0: any free port; the scheduler file tells which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Host name written to the file (default: the bound address, or this machine's host name
    /// when listening on all interfaces).
    #[arg(long, value_name = "HOST")]
    pub contact_address: Option<String>,
    /// How often heartbeats are exchanged, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    pub heartbeat_interval: f64,
    /// Silence after which a worker is declared dead, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub heartbeat_timeout: f64,
    /// Leave the scheduler file in place when shutting down (by default it is removed, so that
    /// no later worker or optimizer trusts a file whose scheduler is gone).
    #[arg(long)]
    pub keep_scheduler_file: bool,
    /// Encrypt every connection with TLS (a fresh self-signed certificate, written into the
    /// scheduler file and accepted by workers and clients as the only valid one).
    #[arg(long)]
    pub tls: bool,
}

/// Runs a scheduler until SIGTERM, SIGINT or SIGHUP, then tells its workers to exit. Call it
/// before any other thread starts (the signals are blocked for the whole process).
pub fn run_standalone(args: &SchedulerArgs) -> Result<(), String> {
    run_standalone_with(args, |_| Ok(()))
}

/// [`run_standalone`] with something started beside the scheduler once it is ready (`smac
/// scheduler --dashboard` serves its cluster view): `beside` gets the scheduler's client, and
/// what it returns is dropped before the scheduler shuts down. Threads it starts inherit the
/// blocked termination signals, so the signals still reach the scheduler's own wait.
pub fn run_standalone_with<G>(
    args: &SchedulerArgs,
    beside: impl FnOnce(&crate::Client) -> Result<G, String>,
) -> Result<(), String> {
    let seconds = |v: f64, name: &str| {
        (v.is_finite() && v > 0.0)
            .then(|| Duration::from_secs_f64(v))
            .ok_or_else(|| format!("--{name}: `{v}` is not a positive number of seconds"))
    };
    let cfg = SchedulerConfig {
        heartbeat_interval: seconds(args.heartbeat_interval, "heartbeat-interval")?,
        heartbeat_timeout: seconds(args.heartbeat_timeout, "heartbeat-timeout")?,
        tls: args.tls,
        ..Default::default()
    };
    if cfg.heartbeat_timeout <= cfg.heartbeat_interval {
        return Err("--heartbeat-timeout must exceed --heartbeat-interval".into());
    }
    let listen: SocketAddr = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .map_err(|e| format!("--host {}: {e}", args.host))?
        .next()
        .ok_or_else(|| format!("--host {}: no address", args.host))?;
    // Scattered blobs must not stay in this long-lived process's memory once freed.
    crate::scheduler::release_large_blocks_eagerly();
    // Before any thread starts, so that the signals are taken here and nowhere else.
    let signals = SignalSet::block_termination().map_err(|e| format!("cannot block signals: {e}"))?;
    let mut builder =
        LocalCluster::builder().listen(listen).scheduler_file(&args.scheduler_file).scheduler_config(cfg);
    if let Some(c) = &args.contact_address {
        builder = builder.contact_address(c);
    }
    let mut cluster = builder.start().map_err(|e| format!("cannot start: {e}"))?;
    let client = cluster.client();
    let address = client.scheduler_file().map(|f| f.address).unwrap_or_default();
    if !listen.ip().is_loopback() && !args.tls {
        tracing::warn!(
            "listening on {}: whoever can reach it and holds the token can run trials on the workers; \
             the traffic is not encrypted (add --tls between machines on untrusted networks)",
            listen.ip()
        );
    }
    tracing::info!(%address, file = %args.scheduler_file.display(), pid = std::process::id(), "scheduler ready");
    let guard = match beside(&client) {
        Ok(g) => g,
        Err(e) => {
            cluster.close();
            let _ = std::fs::remove_file(&args.scheduler_file);
            return Err(e);
        }
    };
    let sig = signals.wait(None).unwrap_or(libc::SIGTERM);
    tracing::info!(workers = client.n_workers(), "{}: shutting down", signal_name(sig));
    drop(guard);
    cluster.close();
    if !args.keep_scheduler_file {
        if let Err(e) = std::fs::remove_file(&args.scheduler_file) {
            tracing::warn!("cannot remove {}: {e}", args.scheduler_file.display());
        }
    }
    Ok(())
}
