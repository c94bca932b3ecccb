//! Shortcuts that build a [`DaskStyleParallelRunner`] with one of our backends, for the
//! common cases; [`DaskStyleParallelRunner::new`] takes any backend.

use super::ClusterBackend;
use crate::backends::dask::{DaskBackend, DaskCluster, DaskOptions};
use crate::client::local::LocalCluster;
use crate::client::Client;
use crate::core::{DaskStyleParallelRunner, ParallelOptions, ShippableTarget};
use smac_core::{RunnerError, Scenario, TargetFunction};
use std::sync::Arc;

impl DaskStyleParallelRunner {
    /// Runs `target` on the cluster of a user's `client` (never closed by us), like SMAC3's
    /// `DaskParallelRunner(single_worker, dask_client=client)`.
    pub fn attach<T: ShippableTarget>(
        target: T,
        client: Client,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let backend = ClusterBackend::attach(&target, client, &options)?;
        Self::new(backend, options)
    }

    /// Runs `target` on `cluster`, which the runner owns and closes at the end.
    pub fn on_cluster<T: ShippableTarget>(
        target: T,
        cluster: LocalCluster,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let backend = ClusterBackend::on_cluster(&target, cluster, &options)?;
        Self::new(backend, options)
    }

    /// Runs `target` on `n` local worker processes (this executable, which must call
    /// [`crate::worker::serve_if_worker`] first thing in `main`), stopped at the end.
    pub fn processes<T: ShippableTarget>(
        target: T,
        n: usize,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let backend = ClusterBackend::processes(&target, n, &options)?;
        Self::new(backend, options)
    }

    /// Runs any target (a closure too) on `n` worker threads of this process.
    pub fn threads(
        target: impl TargetFunction + 'static,
        n: usize,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        Self::threads_shared(Arc::new(target), n, options)
    }

    /// Like [`DaskStyleParallelRunner::threads`] for a target shared with other runners.
    pub fn threads_shared(
        target: Arc<dyn TargetFunction>,
        n: usize,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let backend = ClusterBackend::threads(target, n, &options)?;
        Self::new(backend, options)
    }

    /// Runs `target` on `scenario.n_workers` local worker processes with the scenario's
    /// per-trial limits.
    pub fn from_scenario<T: ShippableTarget>(target: T, scenario: &Scenario) -> Result<Self, RunnerError> {
        Self::processes(target, scenario.n_workers, ParallelOptions::from_scenario(scenario))
    }

    /// Runs `target` as tasks on a Dask cluster (a user's scheduler, never closed by us, or a
    /// local Dask cluster we start and close).
    pub fn dask<T: ShippableTarget>(
        target: T,
        cluster: DaskCluster,
        dask: DaskOptions,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let backend = DaskBackend::connect(&target, cluster, dask, &options)?;
        Self::new(backend, options)
    }
}
