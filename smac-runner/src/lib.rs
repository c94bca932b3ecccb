//! Runners for smac-rs: the parallel runner, its scheduler/worker protocol, local clusters and
//! the command-target runner.
//!
//! - [`DaskStyleParallelRunner`] — SMAC3's `DaskParallelRunner`: wraps a serializable
//!   single-worker runner, ships it once to each worker and evaluates trials in parallel.
//! - [`LocalCluster`] — a scheduler with local worker processes (this executable, or another
//!   worker program) and/or in-process worker threads; [`Client`] is a handle to it.
//! - A cluster elsewhere — the standalone `smac-scheduler` with `smac-worker`s (or the user's
//!   binary) joining from any machine: attach with [`Client::from_scheduler_file`] and hand the
//!   client to the runner; [`Resources`] claims and [`gpu`] spreading apply to any cluster.
//!   Recipes for SLURM, PBS, mpirun and ssh: `docs/cluster.md` and `utils/`.
//! - [`worker`] — the worker side: [`worker::serve_if_worker`] at the top of `main` turns the
//!   user's own binary into a worker; [`worker::scattered`] reads scattered data.
//! - [`CommandRunner`] — runs an external program per trial with walltime and memory limits.
//! - [`protocol`] — the wire format (length-prefixed, versioned bincode frames).
//!
//! ```no_run
//! use smac_core::{Runner, TargetFunctionRunner, TargetFunction, TargetOutput, TrialInfo};
//! use smac_runner::{DaskStyleParallelRunner, LocalCluster};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Quadratic;
//! impl TargetFunction for Quadratic {
//!     fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
//!         Ok(t.config.get_f64("x").unwrap().powi(2).into())
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smac_runner::worker::serve_if_worker::<Quadratic>(); // worker processes stop here
//!     let single = TargetFunctionRunner::new(Quadratic, vec![f64::INFINITY]);
//!     let cluster = LocalCluster::processes(4)?;
//!     let mut runner = DaskStyleParallelRunner::new(single, std::time::Duration::from_secs(5), Some(cluster.client()))?;
//!     // ... submit_trial / wait / iter_results, or hand `runner` to the SMBO loop.
//!     runner.close()?;
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]

pub mod client;
mod client_conn;
pub mod command;
mod connection;
pub mod dask;
pub mod executor;
pub mod gpu;
pub mod launch;
pub mod local;
pub mod parallel;
pub mod protocol;
pub mod remote;
pub mod resources;
mod scatter;
pub mod scheduler;
mod stats;
mod watchdog;
pub mod worker;
mod worker_config;

pub use client::Client;
pub use command::CommandRunner;
pub use executor::{ShippableRunner, ShippableTarget, TrialExecutor};
pub use local::{LocalCluster, LocalClusterBuilder};
pub use parallel::{DaskStyleParallelRunner, ParallelOptions};
pub use remote::ConnectError;
pub use resources::Resources;
pub use scheduler::SchedulerConfig;
pub use smac_core::{Runner, RunnerError};
pub use stats::SchedulerStats;
