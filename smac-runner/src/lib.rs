//! Runners for smac-rs: one runner core over several backends, the scheduler/worker protocol,
//! local clusters and command targets.
//!
//! - [`DaskStyleParallelRunner`] — SMAC3's `DaskParallelRunner`: the runner core ([`core`]),
//!   over any [`Backend`]: in-process threads, local worker processes or remote workers through
//!   our own scheduler ([`ClusterBackend`]), or a Dask cluster ([`dask::DaskBackend`]).
//! - [`ShippableTarget`] — a serializable target with a declared name, which worker processes
//!   and Dask workers rebuild and run.
//! - [`LocalCluster`] — a scheduler with local worker processes (this executable, or another
//!   worker program) and/or in-process worker threads; [`Client`] is a handle to it.
//! - A cluster elsewhere — the standalone `smac-scheduler` with `smac-worker`s (or the user's
//!   binary) joining from any machine: attach with [`Client::from_scheduler_file`].
//!   [`Resources`] claims and [`gpu`] spreading apply to every backend. Recipes for SLURM,
//!   PBS, mpirun and ssh: `docs/cluster.md` and `utils/`.
//! - [`worker`] — the worker side: [`worker::serve_if_worker`] at the top of `main` turns the
//!   user's own binary into a worker; [`worker::scattered`] reads scattered data.
//! - [`CommandTarget`] — runs an external program per trial with walltime and memory limits.
//! - [`protocol`] — the wire format (length-prefixed, versioned bincode frames).
//!
//! ```no_run
//! use smac_core::{TargetFunction, TargetOutput, TrialInfo};
//! use smac_runner::{ClusterBackend, DaskStyleParallelRunner, ParallelOptions, ShippableTarget};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Quadratic;
//! impl TargetFunction for Quadratic {
//!     fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
//!         Ok(t.config.get_f64("x").unwrap().powi(2).into())
//!     }
//! }
//! impl ShippableTarget for Quadratic {
//!     const NAME: &'static str = "quadratic";
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smac_runner::worker::serve_if_worker::<Quadratic>(); // worker processes stop here
//!     let options = ParallelOptions::default();
//!     let backend = ClusterBackend::processes(&Quadratic, 4, &options)?;
//!     let mut runner = DaskStyleParallelRunner::new(backend, options)?;
//!     // ... submit_trial / wait / iter_results, or hand `runner` to the SMBO loop.
//!     smac_core::Runner::close(&mut runner)?;
//!     Ok(())
//! }
//! ```

#![warn(missing_docs)]

// One folder per role: the runner core, its backends, the scheduler side, the worker side,
// the client side (handles to a scheduler and local clusters) and the wire protocol.
pub mod backends;
pub mod client;
pub mod command;
pub mod core;
#[cfg(feature = "cli")]
pub mod logging;
pub mod protocol;
pub mod resources;
pub mod scheduler;
pub mod worker;

pub use backends::dask;
pub use backends::{ClusterBackend, ClusterConfig, Placement};
pub use client::{local, remote, Client};
pub use command::CommandTarget;
pub use core::gpu;
pub use core::{Backend, BackendEvent, DaskStyleParallelRunner, ParallelOptions, ShippableTarget};
pub use local::{LocalCluster, LocalClusterBuilder};
pub use remote::ConnectError;
pub use resources::Resources;
pub use scheduler::stats::SchedulerStats;
pub use scheduler::SchedulerConfig;
pub use smac_core::{Runner, RunnerError};
pub use worker::launch;
