//! Clusters: `smac scheduler` starts a scheduler that writes a scheduler file, `smac worker`
//! joins one (on any machine that sees the file and the target program), and
//! `smac optimize --scheduler-file` runs its trials on that cluster's workers.

use super::args::{SchedulerArgs, WorkerArgs};
use super::error::CliError;
use smac_runner::worker::{Worker, WorkerConfig};
use smac_runner::LocalCluster;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Runs `smac worker`: serves command trials until the scheduler shuts down.
pub fn worker(args: &WorkerArgs) -> Result<(), CliError> {
    let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
    let config = WorkerConfig::from_scheduler_file_wait(&args.scheduler_file, timeout)
        .map_err(|e| CliError::Cluster(e.to_string()))?;
    tracing::info!(address = %config.address, "joining the scheduler");
    Worker::new().run(&config).map_err(|e| CliError::Cluster(format!("worker stopped: {e}")))
}

/// Runs `smac scheduler`: listens, writes the scheduler file, serves until SIGINT/SIGTERM.
pub fn scheduler(args: &SchedulerArgs) -> Result<(), CliError> {
    // Scattered blobs must not stay in this long-lived process's memory once freed.
    smac_runner::scheduler::release_large_blocks_eagerly();
    let listen: SocketAddr = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .map_err(|e| CliError::Usage(format!("--host {}: {e}", args.host)))?
        .next()
        .ok_or_else(|| CliError::Usage(format!("--host {}: no address", args.host)))?;
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| CliError::Cluster(format!("cannot install the signal handler: {e}")))?;
    let mut cluster = LocalCluster::builder().listen(listen).scheduler_file(&args.scheduler_file).start()?;
    if !listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {listen}: whoever reaches it with the token can run trials on the workers; \
             the traffic is not encrypted, so use trusted networks only"
        );
    }
    super::output::notice(&format!(
        "scheduler ready; workers join with `smac worker --scheduler-file {0}`, runs with \
         `smac optimize --scheduler-file {0} ...`; Ctrl-C stops it",
        args.scheduler_file.display()
    ));
    let _ = rx.recv();
    tracing::info!(workers = cluster.client().n_workers(), "shutting down the scheduler");
    cluster.close();
    let _ = std::fs::remove_file(&args.scheduler_file);
    Ok(())
}
