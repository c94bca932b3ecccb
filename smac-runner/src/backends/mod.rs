//! Backends of the runner core ([`crate::core::Backend`]).
//!
//! - [`ClusterBackend`]: our own scheduler, with in-process worker threads, local worker
//!   processes, or workers on other machines (`smac-scheduler` + `smac-worker`).
//! - [`crate::backends::dask::DaskBackend`]: a Dask cluster, through a Python sidecar.

mod cluster;
mod constructors;
pub mod dask;
mod placement;
mod scheduler_file;

pub use cluster::ClusterBackend;
pub use placement::{ClusterConfig, Placement, ENV_SCHEDULER_FILE};
pub use scheduler_file::{classify, read_scheduler_file, SchedulerFileKind};
