//! [`DaskRunner`]: the `Runner` that submits each trial as a Dask task through the sidecar.

use super::entry::TrialRequest;
use super::sidecar::{Incoming, Sidecar};
use super::wire::{Event, LocalSpec, Request};
use super::{ClusterInfo, DaskCluster, DaskError, DaskOptions, DaskStats};
use crate::executor::{runner_tag, ShippableRunner};
use smac_core::trial::unix_now;
use smac_core::{Runner, RunnerError, StatusType, TrialInfo, TrialValue};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// Name under which the serialized single-worker runner is scattered.
const RUNNER_BLOB: &str = "__smac_runner__";
/// Extra time for Python to start and import `distributed` before the connection timeout runs.
const IMPORT_GRACE: Duration = Duration::from_secs(30);
/// How long `close` waits for the sidecar to close its client (and a cluster it started).
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// A submitted trial waiting for its result.
struct Pending {
    trial: TrialInfo,
    start: f64,
}

/// Runs trials as tasks on a Dask cluster (SMAC3's `DaskParallelRunner` with a user client).
///
/// Build it with a shippable single-worker runner, a [`DaskCluster`] and [`DaskOptions`]; hand
/// it to the SMBO loop like any `Runner`. Closing it closes our client connection only, and a
/// cluster only if it was a [`DaskCluster::Local`] we started.
pub struct DaskRunner {
    sidecar: Sidecar,
    options: DaskOptions,
    exe: String,
    tag: String,
    crash_cost: Vec<f64>,
    info: ClusterInfo,
    next_seq: u64,
    pending: HashMap<u64, Pending>,
    ready: VecDeque<(TrialInfo, TrialValue)>,
    scatter_names: Vec<String>,
    stats: DaskStats,
    /// Dask workers at the last report.
    last_workers: usize,
    /// Why the sidecar is gone, once it is.
    dead: Option<String>,
    closed: bool,
}

impl std::fmt::Debug for DaskRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaskRunner")
            .field("runner", &self.tag)
            .field("scheduler", &self.info.scheduler)
            .field("in_flight", &self.pending.len())
            .field("threads", &self.sidecar.live.threads.load(Ordering::Relaxed))
            .finish()
    }
}

impl DaskRunner {
    /// Connects to `cluster` and ships `single_worker` (scattered once); fails with a clear
    /// [`DaskError`] when Python, `distributed` or the scheduler cannot be reached.
    pub fn new<R: ShippableRunner>(
        single_worker: R,
        cluster: DaskCluster,
        options: DaskOptions,
    ) -> Result<Self, DaskError> {
        let payload = bincode::serialize(&single_worker)
            .map_err(|e| DaskError::Config(format!("cannot serialize the single-worker runner: {e}")))?;
        let exe = match &options.worker_program {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let exe = exe
            .to_str()
            .ok_or_else(|| DaskError::Config(format!("worker program path {} is not UTF-8", exe.display())))?
            .to_string();
        let sidecar = Sidecar::spawn(&options.python)?;
        let mut runner = DaskRunner {
            sidecar,
            exe,
            tag: runner_tag::<R>(),
            crash_cost: single_worker.crash_cost(),
            info: ClusterInfo::default(),
            next_seq: 0,
            pending: HashMap::new(),
            ready: VecDeque::new(),
            scatter_names: Vec::new(),
            stats: DaskStats::default(),
            last_workers: 0,
            dead: None,
            closed: false,
            options,
        };
        runner.handshake(cluster)?;
        runner.scatter_blob(RUNNER_BLOB, &payload)?;
        Ok(runner)
    }

    /// Like [`DaskRunner::new`] with the scenario's per-trial limits.
    pub fn from_scenario<R: ShippableRunner>(
        single_worker: R,
        scenario: &smac_core::Scenario,
        cluster: DaskCluster,
    ) -> Result<Self, DaskError> {
        Self::new(single_worker, cluster, DaskOptions::from_scenario(scenario))
    }

    fn handshake(&mut self, cluster: DaskCluster) -> Result<(), DaskError> {
        let python = self.options.python.display().to_string();
        match self.next_control(self.options.connect_timeout + IMPORT_GRACE, "starting Python")? {
            Event::Ready { distributed, python: version } => {
                self.info.python = version;
                self.info.distributed = distributed;
            }
            Event::Fatal { kind, error } if kind == "import" => {
                return Err(DaskError::MissingDistributed { python, error })
            }
            Event::Fatal { kind, error } => return Err(DaskError::Connect(format!("{kind}: {error}"))),
            other => return Err(DaskError::Protocol(format!("expected ready, got {other:?}"))),
        }
        let (mut address, mut scheduler_file, mut local) = (None, None, None);
        match cluster {
            DaskCluster::Address(a) => address = Some(a),
            DaskCluster::SchedulerFile(p) => scheduler_file = Some(p.display().to_string()),
            DaskCluster::Local { n_workers, threads_per_worker } => {
                local = Some(LocalSpec {
                    n_workers: n_workers.max(1),
                    threads_per_worker: threads_per_worker.max(1),
                })
            }
        }
        let connect = Request::Connect {
            address,
            scheduler_file,
            local,
            timeout_s: self.options.connect_timeout.as_secs_f64(),
            poll_interval_s: self.options.poll_interval.as_secs_f64(),
        };
        self.sidecar.send(&connect, &[])?;
        match self.next_control(self.options.connect_timeout * 2, "connecting to the scheduler")? {
            Event::Connected { scheduler, dashboard, distributed, owned_cluster, workers, threads } => {
                tracing::info!(
                    %scheduler, workers, threads, %distributed, owned_cluster,
                    dashboard = dashboard.as_deref().unwrap_or("-"), "attached to the Dask cluster"
                );
                self.stats.max_workers = workers;
                self.last_workers = workers;
                self.info =
                    ClusterInfo { scheduler, dashboard, distributed, owned_cluster, ..self.info.clone() };
                Ok(())
            }
            Event::Fatal { error, .. } => Err(DaskError::Connect(error)),
            other => Err(DaskError::Protocol(format!("expected connected, got {other:?}"))),
        }
    }

    /// Sends `data` once to the cluster (`client.scatter`, broadcast); every later trial gets
    /// it, readable on the worker as [`crate::worker::scattered`]`(name)`.
    pub fn scatter(&mut self, name: impl Into<String>, data: impl AsRef<[u8]>) -> Result<(), DaskError> {
        let name = name.into();
        if name == RUNNER_BLOB {
            return Err(DaskError::Config(format!("the name {RUNNER_BLOB} is reserved")));
        }
        self.scatter_blob(&name, data.as_ref())?;
        if !self.scatter_names.contains(&name) {
            self.scatter_names.push(name);
        }
        Ok(())
    }

    fn scatter_blob(&mut self, name: &str, data: &[u8]) -> Result<(), DaskError> {
        self.check_alive()?;
        let request = Request::Scatter { name: name.to_string(), broadcast: self.options.broadcast_scatter };
        self.sidecar.send(&request, &[data])?;
        let deadline = Instant::now() + self.options.connect_timeout * 2;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_control(left, "scattering data")? {
                Event::Stored { name: n, error: None, deferred } if n == name => {
                    if let Some(why) = deferred {
                        tracing::info!(name, "'{name}' is scattered when first used: {why}");
                    }
                    return Ok(());
                }
                Event::Stored { name: n, error: Some(error), .. } if n == name => {
                    return Err(DaskError::Scatter { name: n, error })
                }
                other => {
                    tracing::warn!("unexpected message from the Dask sidecar while scattering: {other:?}")
                }
            }
        }
    }

    /// Blocks until the cluster has at least `n` workers (a batch cluster's jobs may take a
    /// while to start); trials can be submitted before, `patience` then applies.
    pub fn wait_for_workers(&mut self, n: usize, timeout: Duration) -> Result<(), DaskError> {
        let deadline = Instant::now() + timeout;
        while self.n_workers() < n {
            self.check_alive()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DaskError::Timeout(timeout, "waiting for Dask workers"));
            }
            if let Ok(incoming) = self.sidecar.events.recv_timeout(left.min(Duration::from_millis(100))) {
                if let Some(event) = self.handle(incoming) {
                    tracing::warn!("unexpected message from the Dask sidecar: {event:?}");
                }
            }
        }
        Ok(())
    }

    /// The cluster we are attached to.
    pub fn cluster_info(&self) -> &ClusterInfo {
        &self.info
    }

    /// The runner's counters.
    pub fn stats(&self) -> DaskStats {
        self.stats.clone()
    }

    /// Dask workers connected to the scheduler right now.
    pub fn n_workers(&self) -> usize {
        self.sidecar.live.workers.load(Ordering::Acquire)
    }

    /// Trials submitted whose result has not reached the sidecar's pipe yet.
    fn in_flight(&self) -> usize {
        let finished = self.sidecar.live.finished.load(Ordering::Acquire);
        (self.stats.submitted.saturating_sub(finished)) as usize
    }

    fn check_alive(&self) -> Result<(), DaskError> {
        match &self.dead {
            Some(why) => Err(DaskError::SidecarExited(why.clone())),
            None if self.closed => Err(DaskError::SidecarExited("the runner is closed".into())),
            None => Ok(()),
        }
    }

    /// Waits for the next control message (ready, connected, scattered, ...), handling trial
    /// events that arrive meanwhile.
    fn next_control(&mut self, timeout: Duration, doing: &'static str) -> Result<Event, DaskError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            let left = deadline.saturating_duration_since(Instant::now());
            match self.sidecar.events.recv_timeout(left) {
                Ok(incoming) => {
                    if let Some(event) = self.handle(incoming) {
                        return Ok(event);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return Err(DaskError::Timeout(timeout, doing)),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(DaskError::SidecarExited(self.sidecar.last_words()))
                }
            }
        }
    }

    /// Applies a trial or cluster event; returns control messages to the caller.
    fn handle(&mut self, incoming: Incoming) -> Option<Event> {
        let (event, blobs) = match incoming {
            Incoming::Event(e, b) => (e, b),
            Incoming::Exited(why) => {
                self.sidecar_exited(why);
                return None;
            }
        };
        match event {
            Event::Workers { workers, threads, error } => {
                if workers < std::mem::replace(&mut self.last_workers, workers) {
                    tracing::warn!(
                        workers,
                        threads,
                        "the Dask cluster lost workers; Dask reschedules their trials"
                    );
                } else {
                    tracing::info!(workers, threads, "Dask cluster workers changed");
                }
                if let Some(e) = error {
                    tracing::warn!("cannot reach the Dask scheduler: {e}");
                }
                self.stats.max_workers = self.stats.max_workers.max(workers);
            }
            Event::Done { seq, worker, materialized } => {
                let value = blobs
                    .first()
                    .ok_or_else(|| "no value".to_string())
                    .and_then(|b| bincode::deserialize::<TrialValue>(b).map_err(|e| e.to_string()));
                for name in materialized {
                    *self.stats.materializations.entry(name).or_default() += 1;
                }
                self.stats.completed += 1;
                self.finish(seq, worker, |p, this| match value {
                    Ok(mut v) => {
                        if v.status != StatusType::Success && v.cost.len() != this.crash_cost.len() {
                            v.cost = this.crash_cost.clone();
                        }
                        v
                    }
                    Err(e) => {
                        this.failure(StatusType::Crashed, format!("undecodable trial value: {e}"), p.start)
                    }
                });
            }
            Event::Failed { seq, kind, error, returncode, stderr, worker } => {
                self.stats.failed += 1;
                let at = worker.as_deref().map(|w| format!(" on Dask worker {w}")).unwrap_or_default();
                self.finish(seq, worker.clone(), |p, this| {
                    let (status, message) = this.classify(&kind, &error, returncode, stderr.as_deref(), &at);
                    this.failure(status, message, p.start)
                });
            }
            Event::Resubmitted { seq, reason } => {
                self.stats.resubmitted += 1;
                tracing::warn!(seq, "{reason}; the trial was submitted again");
            }
            Event::Scattered { name, key, bytes, again } => {
                tracing::debug!(name, key, bytes, again, "client.scatter");
                *self.stats.scatter_calls.entry(name.clone()).or_default() += 1;
                if again {
                    *self.stats.rescatters.entry(name.clone()).or_default() += 1;
                    tracing::warn!("every worker holding '{name}' died; it was scattered again");
                }
            }
            Event::Error { error } => tracing::error!("the Dask sidecar reported: {error}"),
            other => return Some(other),
        }
        None
    }

    /// Moves a trial from pending to ready with the value `make` builds.
    fn finish(&mut self, seq: u64, worker: Option<String>, make: impl FnOnce(&Pending, &Self) -> TrialValue) {
        let Some(p) = self.pending.remove(&seq) else {
            tracing::warn!(seq, "result for an unknown trial; ignored");
            return;
        };
        let value = make(&p, self);
        if let Some(w) = worker {
            *self.stats.trials_per_worker.entry(w).or_default() += 1;
        }
        tracing::debug!(seq, status = ?value.status, cost = ?value.cost, "trial finished on Dask");
        self.ready.push_back((p.trial, value));
    }

    fn failure(&self, status: StatusType, message: String, start: f64) -> TrialValue {
        TrialValue::failure(status, self.crash_cost.clone(), message, start)
    }

    /// The status and message of a trial that came back without a value.
    fn classify(
        &self,
        kind: &str,
        error: &str,
        returncode: Option<i32>,
        stderr: Option<&str>,
        at: &str,
    ) -> (StatusType, String) {
        let tail = stderr.unwrap_or("").trim();
        match kind {
            "timeout" => {
                let limit = self.options.trial_walltime_limit.unwrap_or(0.0);
                (StatusType::Timeout, format!("the trial exceeded its walltime limit of {limit} s{at}"))
            }
            "exit" => {
                let how = match returncode {
                    Some(c) if c < 0 => format!("was killed by signal {}", -c),
                    Some(c) => format!("exited with status {c}"),
                    None => "ended".to_string(),
                };
                let memory = tail.contains("memory allocation of") || tail.contains("out of memory");
                match self.options.trial_memory_limit {
                    Some(mb) if memory => (
                        StatusType::MemoryOut,
                        format!("the trial ran out of memory under its limit of {mb} MB{at}; stderr: {tail}"),
                    ),
                    _ => (
                        StatusType::Crashed,
                        format!("the worker program {} {how}{at} without a result; stderr: {tail}", self.exe),
                    ),
                }
            }
            _ => (StatusType::Crashed, format!("Dask task failed ({kind}){at}: {error}")),
        }
    }

    /// The sidecar is gone: every trial in flight comes back crashed, never lost.
    fn sidecar_exited(&mut self, why: String) {
        if self.closed && self.pending.is_empty() {
            return;
        }
        tracing::error!("the Dask sidecar exited: {why}");
        let message = format!("the Dask sidecar exited before the trial finished: {why}");
        for (_, p) in std::mem::take(&mut self.pending) {
            let v = self.failure(StatusType::Crashed, message.clone(), p.start);
            self.ready.push_back((p.trial, v));
        }
        self.dead = Some(why);
    }

    /// Handles every event already queued, without blocking.
    fn pump(&mut self) {
        while let Ok(incoming) = self.sidecar.events.try_recv() {
            if let Some(event) = self.handle(incoming) {
                tracing::warn!("unexpected message from the Dask sidecar: {event:?}");
            }
        }
    }

    /// Blocks for one event, at most `timeout`; `false` on timeout.
    fn recv_one(&mut self, timeout: Option<Duration>) -> Result<bool, RunnerError> {
        let incoming = match timeout {
            Some(t) => match self.sidecar.events.recv_timeout(t) {
                Ok(i) => i,
                Err(RecvTimeoutError::Timeout) => return Ok(false),
                Err(RecvTimeoutError::Disconnected) => return Err(RunnerError::Closed),
            },
            None => self.sidecar.events.recv().map_err(|_| RunnerError::Closed)?,
        };
        if let Some(event) = self.handle(incoming) {
            tracing::warn!("unexpected message from the Dask sidecar: {event:?}");
        }
        Ok(true)
    }

    /// Waits for a free thread: for a completion while all are busy (like SMAC3, without
    /// limit), for a worker to join for at most the patience when the cluster has none.
    fn wait_for_worker(&mut self) -> Result<(), RunnerError> {
        let start = Instant::now();
        loop {
            self.check_alive()?;
            let threads = self.sidecar.live.threads.load(Ordering::Acquire);
            if threads > self.in_flight() {
                return Ok(());
            }
            if threads > 0 {
                self.recv_one(None)?;
                continue;
            }
            let waited = start.elapsed();
            if waited >= self.options.patience {
                return Err(RunnerError::NoWorkerAvailable {
                    patience_s: self.options.patience.as_secs_f64(),
                    detail: format!(
                        "the Dask scheduler {} has no workers; {} trial(s) in flight",
                        self.info.scheduler,
                        self.pending.len()
                    ),
                });
            }
            self.recv_one(Some(self.options.patience - waited))?;
        }
    }
}

impl Runner for DaskRunner {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        if self.closed {
            return Err(RunnerError::Closed);
        }
        self.pump();
        self.wait_for_worker()?;
        let request = TrialRequest {
            tag: self.tag.clone(),
            trial: trial.clone(),
            memory_mb: self.options.trial_memory_limit,
            crash_cost: self.crash_cost.clone(),
        };
        let bytes = bincode::serialize(&request)
            .map_err(|e| RunnerError::Other(format!("cannot serialize the trial: {e}")))?;
        let seq = self.next_seq;
        let submit = Request::Submit {
            seq,
            exe: self.exe.clone(),
            runner: RUNNER_BLOB.to_string(),
            scatter: self.scatter_names.clone(),
            // A little slack over the limit for the process start; the target is killed after.
            timeout_s: self.options.trial_walltime_limit.map(|s| s + 1.0),
            env: self.options.env.clone(),
            retries: self.options.retries,
        };
        self.sidecar.send(&submit, &[&bytes])?;
        self.next_seq += 1;
        self.stats.submitted += 1;
        self.pending.insert(seq, Pending { trial, start: unix_now() });
        tracing::debug!(seq, "submitted a trial to Dask");
        Ok(())
    }

    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        self.pump();
        self.ready.drain(..).collect()
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), RunnerError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            self.pump();
            if !self.ready.is_empty() || self.pending.is_empty() {
                return Ok(());
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Ok(());
            }
            self.recv_one(remaining)?;
        }
    }

    fn is_running(&self) -> bool {
        !self.pending.is_empty() || !self.ready.is_empty()
    }

    fn count_available_workers(&self) -> usize {
        if self.dead.is_some() || self.closed {
            return 0;
        }
        self.sidecar.live.threads.load(Ordering::Acquire).saturating_sub(self.in_flight())
    }

    fn close(&mut self) -> Result<(), RunnerError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if !self.pending.is_empty() {
            tracing::warn!(
                n = self.pending.len(),
                "closing the Dask runner with trials in flight; they are cancelled"
            );
        }
        // Closes our client only; a cluster we did not start keeps running.
        self.sidecar.shutdown(CLOSE_GRACE);
        tracing::info!(
            submitted = self.stats.submitted,
            completed = self.stats.completed,
            failed = self.stats.failed,
            resubmitted = self.stats.resubmitted,
            "closed the Dask runner"
        );
        Ok(())
    }
}

impl Drop for DaskRunner {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
