//! [`ClusterBackend`]: trials on the workers of our own scheduler.
//!
//! The scheduler runs on its own thread (a [`LocalCluster`]'s) or in another process
//! (`smac-scheduler`, reached through a [`Client`]); either way a submit is one channel send
//! and results come back on a channel of [`Notice`]s, so the core's round trip stays at tens of
//! microseconds.

use crate::client::local::LocalCluster;
use crate::client::{Attachment, Client};
use crate::core::{Backend, BackendEvent, ParallelOptions, ShippableTarget, TargetSpec, TrialEnv};
use crate::protocol::TrialLimits;
use crate::scheduler::stats::SchedulerStats;
use crate::scheduler::{Msg, Notice};
use smac_core::{RunnerError, TargetFunction, TrialInfo};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the optimizer's thread polls for a result before it sleeps: fast trials come back
/// within tens of microseconds, and a sleeping thread takes about as long again to wake up.
const SPIN: Duration = Duration::from_micros(50);
/// How long attaching waits for the scheduler's first answer.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs trials through our own scheduler (local threads, local processes or a remote cluster).
pub struct ClusterBackend {
    client: Client,
    /// The cluster this backend started (and closes); `None` for a user's client.
    cluster: Option<LocalCluster>,
    runner_id: u64,
    label: String,
    notices: Receiver<Notice>,
    slots: Arc<AtomicUsize>,
    closed: bool,
}

impl ClusterBackend {
    /// A shippable target on `cluster`, which the backend then owns and closes at the end.
    pub fn on_cluster<T: ShippableTarget>(
        target: &T,
        cluster: LocalCluster,
        options: &ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let spec = shipped(target, options)?;
        Self::attach_spec(spec, cluster.client(), Some(cluster), options)
    }

    /// A shippable target on the cluster of a user's `client` (never closed by us).
    pub fn attach<T: ShippableTarget>(
        target: &T,
        client: Client,
        options: &ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let spec = shipped(target, options)?;
        Self::attach_spec(spec, client, None, options)
    }

    /// A shippable target on `n` local worker processes (this executable, which must call
    /// [`crate::worker::serve_if_worker`] first thing in `main`).
    pub fn processes<T: ShippableTarget>(
        target: &T,
        n: usize,
        options: &ParallelOptions,
    ) -> Result<Self, RunnerError> {
        Self::on_cluster(target, LocalCluster::builder().processes(n).start()?, options)
    }

    /// Any target (a closure too) on `n` worker threads of this process. Memory limits and
    /// per-trial environments need processes: they are refused here.
    pub fn threads(
        target: Arc<dyn TargetFunction>,
        n: usize,
        options: &ParallelOptions,
    ) -> Result<Self, RunnerError> {
        if options.trial_memory_limit.is_some() {
            return Err(RunnerError::Config {
                field: "trial_memory_limit".into(),
                message:
                    "cannot be enforced on worker threads, which share one process; use worker processes"
                        .into(),
            });
        }
        if options.single_node_with_gpus {
            return Err(RunnerError::Config {
                field: "single_node_with_gpus".into(),
                message: "worker threads share one environment; use worker processes".into(),
            });
        }
        let cluster = LocalCluster::builder().threads(n).resources(options.resources.clone()).start()?;
        let spec = TargetSpec::in_process(target, limits(options), options.resources.clone());
        Self::attach_spec(spec, cluster.client(), Some(cluster), options)
    }

    fn attach_spec(
        mut spec: TargetSpec,
        client: Client,
        cluster: Option<LocalCluster>,
        options: &ParallelOptions,
    ) -> Result<Self, RunnerError> {
        spec.id = client.next_runner_id();
        let mut label = match (&cluster, client.address()) {
            (Some(_), _) => format!("local cluster running {}", spec.label()),
            (None, Some(a)) => format!("scheduler {a} running {}", spec.label()),
            (None, None) => format!("scheduler running {}", spec.label()),
        };
        if !spec.resources.is_empty() {
            label = format!("{label} with resources {}", spec.resources);
        }
        let Attachment { runner_id, notices, slots } = client.attach(spec, options.patience)?;
        let backend = ClusterBackend { client, cluster, runner_id, label, notices, slots, closed: false };
        // The scheduler answers an attach with the number of usable workers; wait for it so
        // that the capacity is right from the first call.
        match backend.notices.recv_timeout(ATTACH_TIMEOUT) {
            Ok(_) => Ok(backend),
            Err(_) => Err(RunnerError::Closed),
        }
    }

    /// The client this backend submits through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The scheduler's counters.
    pub fn stats(&self) -> SchedulerStats {
        self.client.stats()
    }

    fn event(n: Notice) -> BackendEvent {
        match n {
            Notice::Done { seq, value } => BackendEvent::Finished { seq, value },
            Notice::Lost { seq, reason } => BackendEvent::Lost { seq, reason },
            Notice::Workers => BackendEvent::Workers,
        }
    }
}

impl Backend for ClusterBackend {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn capacity(&self) -> usize {
        if self.closed {
            return 0;
        }
        self.slots.load(Ordering::Acquire)
    }

    fn n_workers(&self) -> usize {
        self.client.n_workers()
    }

    fn submit(&mut self, seq: u64, trial: &TrialInfo, env: &TrialEnv) -> Result<(), RunnerError> {
        self.client.submit(self.runner_id, seq, trial.clone(), env.clone())
    }

    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<BackendEvent>, RunnerError> {
        if let Ok(n) = self.notices.try_recv() {
            return Ok(Some(Self::event(n)));
        }
        if timeout == Some(Duration::ZERO) {
            return Ok(None);
        }
        let spin_until = Instant::now() + SPIN.min(timeout.unwrap_or(SPIN));
        while Instant::now() < spin_until {
            if let Ok(n) = self.notices.try_recv() {
                return Ok(Some(Self::event(n)));
            }
            // Yield rather than spin: on a small machine the scheduler thread that will deliver
            // the result may need this very core.
            std::thread::yield_now();
        }
        let n = match timeout {
            Some(t) => match self.notices.recv_timeout(t) {
                Ok(n) => n,
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => return Err(RunnerError::Closed),
            },
            None => self.notices.recv().map_err(|_| RunnerError::Closed)?,
        };
        Ok(Some(Self::event(n)))
    }

    fn scatter(&mut self, name: &str, data: Arc<[u8]>) -> Result<(), RunnerError> {
        self.client.scatter(self.runner_id, name, data)
    }

    fn is_alive(&self) -> bool {
        !self.closed && !self.client.is_closed()
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = self.client.send(Msg::Detach { runner_id: self.runner_id });
            if let Some(mut cluster) = self.cluster.take() {
                cluster.close();
            }
        }
    }
}

impl Drop for ClusterBackend {
    fn drop(&mut self) {
        self.close();
    }
}

fn limits(options: &ParallelOptions) -> TrialLimits {
    TrialLimits { walltime_s: options.trial_walltime_limit, memory_mb: options.trial_memory_limit }
}

fn shipped<T: ShippableTarget>(target: &T, options: &ParallelOptions) -> Result<TargetSpec, RunnerError> {
    TargetSpec::shipped(target, limits(options), options.resources.clone()).map_err(RunnerError::Other)
}
