//! [`DaskStyleParallelRunner`]: SMAC3's `DaskParallelRunner` for Rust, over any [`Backend`].
//!
//! All methods run on the optimizer's thread and never block except where the `Runner`
//! contract says so (`wait`, and `submit_trial` when no worker is free). Reproducible mode
//! (opt-in) delivers results in submission order, one per `iter_results` call, and counts free
//! workers against the cluster's size at the start rather than live completions: a loop of the
//! form "submit while `count_available_workers() > 0`, then `wait` + `iter_results`" then sees
//! the same sequence of events whatever the timing, so two runs with the same seed produce
//! identical histories.

use super::backend::{Backend, BackendEvent, TrialEnv};
use super::options::ParallelOptions;
use crate::core::gpu::{GpuBalancer, CUDA_VISIBLE_DEVICES};
use smac_core::trial::unix_now;
use smac_core::{Runner, RunnerError, StatusType, TrialInfo, TrialValue};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest single blocking wait for a worker when an interrupt flag is installed, so Ctrl-C
/// is seen at once.
const INTERRUPT_SLICE: Duration = Duration::from_millis(50);
/// Scattered names starting with this are the backends' own.
const RESERVED_PREFIX: &str = "__smac";

/// A submitted trial whose outcome has not been delivered yet.
struct Pending {
    trial: TrialInfo,
    env: TrialEnv,
    attempts: u32,
    last_loss: Option<String>,
}

/// Runs trials on a backend's workers, several at a time (SMAC3's `DaskParallelRunner`).
pub struct DaskStyleParallelRunner {
    backend: Box<dyn Backend>,
    options: ParallelOptions,
    pending: HashMap<u64, Pending>,
    next_seq: u64,
    ready: VecDeque<(TrialInfo, TrialValue)>,
    reorder: BTreeMap<u64, (TrialInfo, TrialValue)>,
    next_release: u64,
    nominal_workers: usize,
    gpus: Option<GpuBalancer>,
    scattered: Vec<String>,
    retried: u64,
    /// Why the backend itself (scheduler, cluster) was lost, once it was: the trials then in
    /// flight are abandoned, not reported, so that a resumed run runs them again.
    cluster_lost: Option<String>,
    /// Trials abandoned with the backend and not yet reported in an error.
    abandoned: usize,
    /// The environment of trials without one (shared, so a submit allocates nothing for it).
    no_env: TrialEnv,
    closed: bool,
}

impl std::fmt::Debug for DaskStyleParallelRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaskStyleParallelRunner")
            .field("backend", &self.backend.describe())
            .field("in_flight", &self.pending.len())
            .field("capacity", &self.backend.capacity())
            .finish()
    }
}

impl DaskStyleParallelRunner {
    /// Runs trials on `backend` with `options`; fails when a GPU list names no device.
    pub fn new(backend: impl Backend + 'static, options: ParallelOptions) -> Result<Self, RunnerError> {
        let gpus = if options.single_node_with_gpus {
            Some(GpuBalancer::new(options.gpu_devices.clone()).map_err(|e| RunnerError::Config {
                field: "single_node_with_gpus".into(),
                message: e.to_string(),
            })?)
        } else {
            None
        };
        let nominal_workers = backend.capacity().max(1);
        Ok(DaskStyleParallelRunner {
            backend: Box::new(backend),
            options,
            pending: HashMap::new(),
            next_seq: 0,
            ready: VecDeque::new(),
            reorder: BTreeMap::new(),
            next_release: 0,
            nominal_workers,
            gpus,
            scattered: Vec::new(),
            retried: 0,
            cluster_lost: None,
            abandoned: 0,
            no_env: Arc::from(Vec::new()),
            closed: false,
        })
    }

    /// Sends a named blob once to every worker (and to workers joining later); targets read it
    /// with [`crate::worker::scattered`]. Scattering a name again replaces the blob.
    pub fn scatter(
        &mut self,
        name: impl Into<String>,
        data: impl Into<Arc<[u8]>>,
    ) -> Result<(), RunnerError> {
        let name = name.into();
        if name.is_empty() || name.starts_with(RESERVED_PREFIX) {
            return Err(RunnerError::Config {
                field: "scatter name".into(),
                message: format!("'{name}' is empty or starts with the reserved '{RESERVED_PREFIX}'"),
            });
        }
        self.backend.scatter(&name, data.into())?;
        if !self.scattered.contains(&name) {
            self.scattered.push(name);
        }
        Ok(())
    }

    /// The names scattered so far.
    pub fn scattered_names(&self) -> &[String] {
        &self.scattered
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The backend as its concrete type (e.g. `ClusterBackend` for its scheduler counters).
    pub fn backend_as<B: Backend>(&self) -> Option<&B> {
        self.backend.as_any().downcast_ref::<B>()
    }

    /// Trials that can run at once on workers able to run this runner's trials.
    pub fn capacity(&self) -> usize {
        self.backend.capacity()
    }

    /// Trials run again because their worker was lost.
    pub fn retried(&self) -> u64 {
        self.retried
    }

    /// Blocks until `n` workers are connected, at most `timeout`.
    pub fn wait_for_workers(&mut self, n: usize, timeout: Duration) -> Result<(), RunnerError> {
        let deadline = Instant::now() + timeout;
        while self.backend.n_workers() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RunnerError::NoWorkerAvailable {
                    patience_s: timeout.as_secs_f64(),
                    detail: format!(
                        "only {} of {n} workers of {} connected",
                        self.backend.n_workers(),
                        self.backend.describe()
                    ),
                });
            }
            self.receive(Some(left.min(Duration::from_millis(100))), true)?;
        }
        Ok(())
    }

    /// Reports a lost backend once, with the number of trials abandoned since the last report.
    fn check_cluster(&mut self) -> Result<(), RunnerError> {
        match &self.cluster_lost {
            Some(reason) if self.abandoned > 0 || self.pending.is_empty() => {
                let in_flight = std::mem::take(&mut self.abandoned);
                Err(RunnerError::ClusterLost { reason: reason.clone(), in_flight })
            }
            _ => Ok(()),
        }
    }

    fn check_interrupt(&self) -> Result<(), RunnerError> {
        match &self.options.interrupt {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(RunnerError::Interrupted),
            _ => Ok(()),
        }
    }

    /// Waits for one event (at most `timeout`) and applies it; `Ok(false)` when none came.
    /// A wait for a worker is `interruptible`: it ends at once when the interrupt flag is set,
    /// while waits for results of running trials go on (they finish and are recorded).
    fn receive(&mut self, timeout: Option<Duration>, interruptible: bool) -> Result<bool, RunnerError> {
        let timeout = match (&self.options.interrupt, interruptible) {
            (Some(_), true) => {
                self.check_interrupt()?;
                Some(timeout.map_or(INTERRUPT_SLICE, |t| t.min(INTERRUPT_SLICE)))
            }
            _ => timeout,
        };
        match self.backend.next_event(timeout)? {
            Some(event) => {
                self.apply(event);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Applies every event already queued, without blocking.
    fn pump(&mut self) {
        loop {
            match self.backend.next_event(Some(Duration::ZERO)) {
                Ok(Some(event)) => self.apply(event),
                Ok(None) => return,
                Err(e) => {
                    // The backend is gone: every trial in flight comes back as lost.
                    self.lose_all(&e.to_string());
                    return;
                }
            }
        }
    }

    fn apply(&mut self, event: BackendEvent) {
        match event {
            BackendEvent::Finished { seq, value } => match self.pending.remove(&seq) {
                Some(p) => self.deliver(seq, p, value),
                None => tracing::warn!(seq, "result for an unknown trial; ignored"),
            },
            BackendEvent::Lost { seq, reason } => self.lost(seq, reason),
            BackendEvent::Workers => {}
        }
    }

    /// A trial lost with its worker: run it again, or report it crashed after its retries.
    /// Lost with the backend itself (the scheduler died): abandoned without a result, because
    /// an infrastructure failure is not the target's — the run stops with
    /// [`RunnerError::ClusterLost`] and the trial runs again when the run is resumed.
    fn lost(&mut self, seq: u64, reason: String) {
        if !self.backend.is_alive() {
            // Every trial in flight went with the backend, whether or not its notice came yet.
            if self.pending.contains_key(&seq) {
                let n = self.pending.len();
                tracing::warn!(
                    n,
                    "{reason}; the trials in flight are not recorded and run again when the run is resumed"
                );
                for seq in std::mem::take(&mut self.pending).into_keys() {
                    if let Some(g) = &mut self.gpus {
                        g.release(seq);
                    }
                }
                self.cluster_lost.get_or_insert(reason);
                self.abandoned += n;
            }
            return;
        }
        let Some(mut p) = self.pending.remove(&seq) else { return };
        if p.attempts < self.options.max_retries && self.backend.is_alive() {
            p.attempts += 1;
            self.retried += 1;
            tracing::warn!(seq, attempt = p.attempts, "{reason}; running the trial again");
            match self.backend.submit(seq, &p.trial, &p.env) {
                Ok(()) => {
                    p.last_loss = Some(reason);
                    self.pending.insert(seq, p);
                    return;
                }
                Err(e) => tracing::warn!(seq, "cannot run the trial again: {e}"),
            }
        }
        let message = if p.attempts > 0 {
            format!("{reason}; it was already run again {} time(s)", p.attempts)
        } else {
            reason
        };
        let value = TrialValue::failure(StatusType::Crashed, message, unix_now());
        self.deliver(seq, p, value);
    }

    fn lose_all(&mut self, reason: &str) {
        let seqs: Vec<u64> = self.pending.keys().copied().collect();
        for seq in seqs {
            self.lost(seq, format!("the backend failed: {reason}"));
        }
    }

    fn deliver(&mut self, seq: u64, p: Pending, mut value: TrialValue) {
        if let Some(g) = &mut self.gpus {
            g.release(seq);
        }
        if p.attempts > 0 {
            value.additional_info.insert("retries".into(), p.attempts.into());
            if let Some(why) = p.last_loss {
                value.additional_info.insert("retry_reason".into(), why.into());
            }
        }
        if self.options.reproducible {
            self.reorder.insert(seq, (p.trial, value));
        } else {
            self.ready.push_back((p.trial, value));
        }
    }

    fn has_deliverable(&self) -> bool {
        if self.options.reproducible {
            self.reorder.contains_key(&self.next_release)
        } else {
            !self.ready.is_empty()
        }
    }

    /// Waits until a worker can take a trial: for a completion while all are busy (like
    /// SMAC3, without limit), for a worker to appear for at most the patience otherwise.
    fn wait_for_worker(&mut self) -> Result<(), RunnerError> {
        let start = Instant::now();
        let mut announced = false;
        loop {
            if !self.backend.is_alive() {
                return Err(RunnerError::Closed);
            }
            let capacity = self.backend.capacity();
            let busy = if self.options.reproducible { 0 } else { self.pending.len() };
            if capacity > busy {
                return Ok(());
            }
            if capacity > 0 {
                // All workers busy: wait for a completion, as SMAC3 does, without limit.
                self.receive(None, false)?;
                continue;
            }
            let waited = start.elapsed();
            if !announced {
                announced = true;
                tracing::info!(
                    patience_s = self.options.patience.as_secs_f64(),
                    "no worker of {} can take a trial; waiting for one",
                    self.backend.describe()
                );
            }
            if waited >= self.options.patience {
                return Err(RunnerError::NoWorkerAvailable {
                    patience_s: self.options.patience.as_secs_f64(),
                    detail: format!(
                        "{} worker(s) connected to {}, none able to run this target{}; {} trial(s) in flight. \
                         All workers may have died, none serves this target type, or none has the \
                         resources it claims",
                        self.backend.n_workers(),
                        self.backend.describe(),
                        if self.options.resources.is_empty() {
                            String::new()
                        } else {
                            format!(" with resources {}", self.options.resources)
                        },
                        self.pending.len()
                    ),
                });
            }
            self.receive(Some(self.options.patience - waited), true)?;
        }
    }
}

impl Runner for DaskStyleParallelRunner {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        if self.closed {
            return Err(RunnerError::Closed);
        }
        self.pump();
        self.check_cluster()?;
        self.wait_for_worker()?;
        let seq = self.next_seq;
        let env: TrialEnv = match &mut self.gpus {
            Some(g) => Arc::from(vec![(CUDA_VISIBLE_DEVICES.to_string(), g.assign(seq))]),
            None => self.no_env.clone(),
        };
        if let Err(e) = self.backend.submit(seq, &trial, &env) {
            if let Some(g) = &mut self.gpus {
                g.release(seq);
            }
            return Err(e);
        }
        self.next_seq += 1;
        self.pending.insert(seq, Pending { trial, env, attempts: 0, last_loss: None });
        Ok(())
    }

    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        self.pump();
        if self.options.reproducible && self.cluster_lost.is_some() {
            // Abandoned trials leave gaps in the order: release what finished, in order.
            let mut out: Vec<_> = std::mem::take(&mut self.reorder).into_values().collect();
            out.extend(self.ready.drain(..));
            return out;
        }
        if self.options.reproducible {
            match self.reorder.remove(&self.next_release) {
                Some(r) => {
                    self.next_release += 1;
                    vec![r]
                }
                None => Vec::new(),
            }
        } else {
            self.ready.drain(..).collect()
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), RunnerError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            self.pump();
            if !self.has_deliverable() {
                self.check_cluster()?;
            }
            if self.has_deliverable() || self.pending.is_empty() {
                return Ok(());
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Ok(());
            }
            if let Err(e) = self.receive(remaining, false) {
                self.lose_all(&e.to_string());
            }
            self.check_cluster()?;
        }
    }

    fn is_running(&self) -> bool {
        !self.pending.is_empty() || !self.ready.is_empty() || !self.reorder.is_empty()
    }

    fn count_available_workers(&self) -> usize {
        if self.closed || !self.backend.is_alive() {
            return 0;
        }
        if self.options.reproducible {
            let unreleased = (self.next_seq - self.next_release) as usize;
            self.nominal_workers.saturating_sub(unreleased)
        } else {
            self.backend.capacity().saturating_sub(self.pending.len())
        }
    }

    fn n_workers(&self) -> usize {
        self.backend.n_workers()
    }

    fn close(&mut self) -> Result<(), RunnerError> {
        if !self.closed {
            self.closed = true;
            if !self.pending.is_empty() {
                tracing::warn!(n = self.pending.len(), "closing the parallel runner with trials in flight");
            }
            self.backend.close();
        }
        Ok(())
    }
}

impl Drop for DaskStyleParallelRunner {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
