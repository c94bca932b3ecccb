//! Attach to an existing Dask cluster (dask-jobqueue, dask-mpi, `dask scheduler` + `dask
//! worker`): [`DaskBackend`] drives a real `distributed.Client`, each trial one Dask task run by
//! a long-lived executor process on the Dask worker, as a backend of the runner core
//! ([`crate::DaskStyleParallelRunner`]).
//!
//! # Shape
//!
//! ```text
//!  optimizer (Rust) ──pipes──▶ sidecar (python, distributed.Client) ──▶ Dask scheduler ──▶ Dask workers
//!     DaskBackend    frames      registers the ExecutorPool plugin                  │ task: run_trial
//!                                                                                    ▼ pipe
//!                              per worker thread: worker program, SMAC_DASK_EXECUTOR=1 (long-lived)
//! ```
//!
//! - The **sidecar** is a small Python script shipped inside this crate
//!   (`python/smac_dask_sidecar.py`), written to a private temp file and run with the user's
//!   Python (`$SMAC_DASK_PYTHON`, else `python3`), which needs `pip install distributed`. We
//!   talk to it over stdin/stdout with length-prefixed frames (JSON header + raw blobs).
//! - The **task** is a function of the sidecar's `__main__`, which Dask pickles by value: the
//!   scheduler and workers need nothing of ours installed, only their own `distributed`.
//! - The **executor pool** is a Dask `WorkerPlugin` the sidecar registers once per session
//!   (`smac-rs-executors-<session>`) with the serialized target, which thus reaches every worker
//!   once (joining ones too) without being a dependency of each task. On each Dask worker it keeps
//!   idle **executors**: processes of the worker program — the user's binary (which calls
//!   [`crate::worker::serve_if_worker`] first thing in `main`) or `smac-worker`, at a path that
//!   exists on the workers — started with `SMAC_DASK_EXECUTOR=1`, one per worker thread as soon as
//!   the worker receives the plugin. The task takes an idle one (or starts one), sends the trial
//!   and waits for the bincode `TrialValue` under the walltime limit (protocol:
//!   [`crate::worker::dask_entry`]). An executor that timed out or died is killed with its process
//!   group, its failure reported as before (`timeout`, or `exit` with the status and stderr tail,
//!   which [`DaskBackend`] classifies), and never reused. Executors exit when the session's plugin
//!   is unregistered (our `close`), when their worker closes or dies, or after an idle timeout (an
//!   optimizer killed with `kill -9`).
//! - Scattered data goes through `client.scatter` once (broadcast), each task receives the
//!   future; the task writes the blob to the Dask worker's local directory once and each
//!   executor reads it once; targets get it by name with [`crate::worker::scattered`].
//!
//! # Why long-lived executors
//!
//! A process per trial costs a process start, decoding the target and reading the scattered
//! data for every trial: 62–81 trivial trials/s where plain Dask tasks reach ~110/s, and 0.82–0.85
//! efficiency with 4 workers and 0.5 s trials. A Dask actor or a plugin holding the *target*
//! would need the Rust target inside the Python worker (PyO3 or a C ABI, and a crash of the
//! target would take the Dask worker down); an actor also pins trials to workers chosen up front
//! and bypasses Dask's `resources=` and rescheduling of lost workers. A plugin holding
//! *processes* keeps every trial an ordinary Dask task, decodes the target once per executor,
//! and isolates Rust from Python. Its cost is one pipe round trip per trial.
//!
//! # Why a sidecar rather than PyO3
//!
//! PyO3 would link libpython into every smac-rs binary (a build-time Python, ABI coupling,
//! and the GIL inside our optimizer), and `distributed` runs its own event loop thread that
//! we would host in-process. A child process keeps the Rust build free of Python, works with
//! whatever Python environment the cluster uses (it must match the cluster's versions anyway),
//! and fails in isolation: a crash in Python ends the sidecar, not the optimizer, and every
//! trial in flight comes back as `Crashed` with the reason.
//!
//! # One runner core
//!
//! Pending trials, patience, free slots, retries of lost trials, GPU assignment and the
//! reproducible order are the runner core's ([`crate::core`]), the same as on our own
//! scheduler; this backend only submits tasks and turns the sidecar's reports into
//! [`crate::core::BackendEvent`]s. Per-trial resource claims are passed to Dask as the task's
//! `resources=`, and the usable threads are counted against them.

mod backend;
mod sidecar;
mod wire;

pub use crate::worker::dask_entry::{is_trial_process, ENV_TRIAL};
pub use crate::worker::serve_trial_if_requested;
pub use backend::DaskBackend;
pub use sidecar::SIDECAR_SCRIPT;

use smac_core::RunnerError;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Env var naming the Python interpreter that runs the sidecar (default `python3`).
pub const ENV_PYTHON: &str = "SMAC_DASK_PYTHON";

/// Which Dask cluster to use.
#[derive(Clone, Debug, PartialEq)]
pub enum DaskCluster {
    /// A running scheduler, `tcp://host:8786`; left running when we are done.
    Address(String),
    /// The JSON file `dask scheduler --scheduler-file` / dask-mpi write; waited for if absent,
    /// and the cluster is left running when we are done.
    SchedulerFile(PathBuf),
    /// A `distributed.LocalCluster` we start on this machine and close at the end.
    Local {
        /// Worker processes.
        n_workers: usize,
        /// Threads per worker process (each thread runs one trial at a time).
        threads_per_worker: usize,
    },
}

impl DaskCluster {
    /// A running scheduler at `address`.
    pub fn address(address: impl Into<String>) -> Self {
        DaskCluster::Address(address.into())
    }

    /// The cluster described by a scheduler file.
    pub fn scheduler_file(path: impl Into<PathBuf>) -> Self {
        DaskCluster::SchedulerFile(path.into())
    }

    /// A local cluster of `n_workers` single-threaded worker processes.
    pub fn local(n_workers: usize) -> Self {
        DaskCluster::Local { n_workers, threads_per_worker: 1 }
    }
}

/// How to reach and use a Dask cluster; the run's own settings (patience, limits, resource
/// claims) are the [`crate::ParallelOptions`] shared by every backend.
#[derive(Clone, Debug)]
pub struct DaskOptions {
    /// The Python that runs the sidecar: `$SMAC_DASK_PYTHON`, else `python3`.
    pub python: PathBuf,
    /// The worker program the Dask workers run, as a path on *their* filesystem (default: this
    /// executable, which must then call `serve_if_worker` first thing in `main`).
    pub worker_program: Option<PathBuf>,
    /// How long to wait for the sidecar's Python, the scheduler (file) and scatters.
    pub connect_timeout: Duration,
    /// Dask `retries` of a trial task that raised (e.g. the program is missing on one node).
    /// Tasks on workers that die are rescheduled by Dask regardless.
    pub retries: u32,
    /// Replicate scattered data to every worker at scatter time (survives worker loss).
    pub broadcast_scatter: bool,
    /// How often the sidecar asks the scheduler for its workers.
    pub poll_interval: Duration,
    /// Extra environment for the trial processes (e.g. `RUST_LOG`).
    pub env: BTreeMap<String, String>,
}

impl Default for DaskOptions {
    fn default() -> Self {
        DaskOptions {
            python: std::env::var_os(ENV_PYTHON).map_or_else(|| PathBuf::from("python3"), PathBuf::from),
            worker_program: None,
            connect_timeout: Duration::from_secs(30),
            retries: 1,
            broadcast_scatter: true,
            poll_interval: Duration::from_millis(250),
            env: BTreeMap::new(),
        }
    }
}

/// The cluster we are attached to, as the sidecar reported it.
#[derive(Clone, Debug, Default)]
pub struct ClusterInfo {
    /// The scheduler's address.
    pub scheduler: String,
    /// The dashboard URL, when the scheduler serves one.
    pub dashboard: Option<String>,
    /// The `distributed` version of the sidecar's Python.
    pub distributed: String,
    /// The sidecar's Python version.
    pub python: String,
    /// Whether we started this cluster (and close it at the end).
    pub owned_cluster: bool,
}

/// Counters of a [`DaskBackend`].
#[derive(Clone, Debug, Default)]
pub struct DaskStats {
    /// Trials submitted.
    pub submitted: u64,
    /// Trials that came back with a value from the worker program.
    pub completed: u64,
    /// Trials that came back without one (task error, timeout, crash of the program).
    pub failed: u64,
    /// Trials submitted again because Dask cancelled their task under us.
    pub resubmitted: u64,
    /// `client.scatter` calls per name (1 per scatter, plus rescatters); the target itself
    /// counts as `__smac_target__`, sent once with the executor-pool plugin.
    pub scatter_calls: HashMap<String, u64>,
    /// Blobs scattered again because every worker holding them died.
    pub rescatters: HashMap<String, u64>,
    /// Per name, how many times a Dask worker process wrote the blob to its local directory
    /// (at most once per worker process, whatever the number of trials).
    pub materializations: HashMap<String, u64>,
    /// Finished trials per Dask worker address.
    pub trials_per_worker: HashMap<String, u64>,
    /// The most Dask workers seen at once.
    pub max_workers: usize,
}

/// Why the Dask backend failed.
#[derive(Debug, Error)]
pub enum DaskError {
    /// The Python interpreter could not be started.
    #[error(
        "cannot start Python '{python}': {source}. Install Python 3 with `pip install distributed`, \
         or point SMAC_DASK_PYTHON (or DaskOptions::python) at the interpreter of your Dask environment"
    )]
    PythonNotFound {
        /// The interpreter tried.
        python: String,
        /// The spawn error.
        source: std::io::Error,
    },
    /// Python runs but cannot import `distributed`.
    #[error(
        "Python '{python}' cannot import distributed ({error}); run `{python} -m pip install distributed`"
    )]
    MissingDistributed {
        /// The interpreter.
        python: String,
        /// The import error.
        error: String,
    },
    /// The Dask client could not connect.
    #[error("cannot connect to the Dask cluster: {0}")]
    Connect(String),
    /// The sidecar did not answer in time.
    #[error("no answer from the Dask sidecar within {0:?} while {1}")]
    Timeout(Duration, &'static str),
    /// The sidecar exited.
    #[error("the Dask sidecar exited: {0}")]
    SidecarExited(String),
    /// The sidecar sent something unexpected.
    #[error("Dask sidecar protocol error: {0}")]
    Protocol(String),
    /// A scatter failed.
    #[error("scattering '{name}' failed: {error}")]
    Scatter {
        /// The blob's name.
        name: String,
        /// Why.
        error: String,
    },
    /// Invalid options.
    #[error("invalid Dask configuration: {0}")]
    Config(String),
    /// Pipe or file failure.
    #[error("Dask backend I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<DaskError> for RunnerError {
    fn from(e: DaskError) -> Self {
        match e {
            DaskError::Io(io) => RunnerError::Io(io),
            other => RunnerError::Other(other.to_string()),
        }
    }
}
