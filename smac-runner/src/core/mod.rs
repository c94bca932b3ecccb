//! The runner core: one asynchronous [`DaskStyleParallelRunner`] over a small [`Backend`]
//! trait.
//!
//! Everything a parallel run needs that does not depend on *where* trials run lives here, once:
//! the pending trials, the result queue, the patience for a worker, the slot accounting,
//! retries of trials lost with their worker, scatter bookkeeping, GPU assignment and the
//! reproducible ordering. A backend only starts trials and reports what happened to them
//! ([`BackendEvent`]): in-process threads and worker processes through our own scheduler
//! ([`crate::backends::ClusterBackend`]), or a Dask cluster ([`crate::backends::dask::DaskBackend`]).
//!
//! Why a trait object and not a generic: the facades and the CLI choose the backend at run
//! time, and one virtual call per submit or event costs nanoseconds against a round trip of
//! tens of microseconds.

mod backend;
pub mod gpu;
mod options;
mod runner;
mod shipping;

pub use backend::{Backend, BackendEvent, TrialEnv};
pub use options::ParallelOptions;
pub use runner::DaskStyleParallelRunner;
pub(crate) use shipping::TargetSpec;
pub use shipping::{decoder, ShippableTarget, TargetDecoder};
