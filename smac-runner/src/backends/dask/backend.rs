//! [`DaskBackend`]: trials as tasks on a Dask cluster, through the sidecar.

use super::sidecar::{Incoming, Sidecar};
use super::wire::{Event, LocalSpec, Request};
use super::{ClusterInfo, DaskCluster, DaskError, DaskOptions, DaskStats};
use crate::core::{Backend, BackendEvent, ParallelOptions, ShippableTarget, TrialEnv};
use crate::worker::dask_entry::TrialRequest;
use smac_core::{RunnerError, StatusType, TrialInfo, TrialValue};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Name under which the serialized target is scattered.
const TARGET_BLOB: &str = "__smac_target__";
/// Extra time for Python to start and import `distributed` before the connection timeout runs.
const IMPORT_GRACE: Duration = Duration::from_secs(30);
/// How long `close` waits for the sidecar to close its client (and a cluster it started).
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// Runs trials as tasks on a Dask cluster (SMAC3's `DaskParallelRunner` with a user client).
///
/// Hand it to [`crate::DaskStyleParallelRunner::new`] like any backend. Closing it closes our
/// client connection only, and a cluster only if it was a [`DaskCluster::Local`] we started.
pub struct DaskBackend {
    sidecar: Sidecar,
    options: DaskOptions,
    exe: String,
    tag: String,
    walltime_limit: Option<f64>,
    memory_limit: Option<u64>,
    resources: BTreeMap<String, f64>,
    info: ClusterInfo,
    scatter_names: Vec<String>,
    stats: DaskStats,
    /// Trials submitted and not yet reported (for the sidecar-exit accounting).
    in_flight: HashMap<u64, f64>,
    /// Events decoded while waiting for a control message.
    queued: VecDeque<BackendEvent>,
    /// Dask workers at the last report.
    last_workers: usize,
    /// Why the sidecar is gone, once it is.
    dead: Option<String>,
    closed: bool,
}

impl std::fmt::Debug for DaskBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaskBackend")
            .field("target", &self.tag)
            .field("scheduler", &self.info.scheduler)
            .field("threads", &self.sidecar.live.threads.load(Ordering::Relaxed))
            .finish()
    }
}

impl DaskBackend {
    /// Connects to `cluster` and ships `target` (scattered once); fails with a clear
    /// [`DaskError`] when Python, `distributed` or the scheduler cannot be reached. The run's
    /// per-trial limits and resource claims come from `parallel`.
    pub fn connect<T: ShippableTarget>(
        target: &T,
        cluster: DaskCluster,
        options: DaskOptions,
        parallel: &ParallelOptions,
    ) -> Result<Self, DaskError> {
        let payload = bincode::serialize(target)
            .map_err(|e| DaskError::Config(format!("cannot serialize the target '{}': {e}", T::NAME)))?;
        let exe = match &options.worker_program {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let exe = exe
            .to_str()
            .ok_or_else(|| DaskError::Config(format!("worker program path {} is not UTF-8", exe.display())))?
            .to_string();
        let sidecar = Sidecar::spawn(&options.python)?;
        let mut backend = DaskBackend {
            sidecar,
            exe,
            tag: T::NAME.to_string(),
            walltime_limit: parallel.trial_walltime_limit,
            memory_limit: parallel.trial_memory_limit,
            resources: parallel.resources.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            info: ClusterInfo::default(),
            scatter_names: Vec::new(),
            stats: DaskStats::default(),
            in_flight: HashMap::new(),
            queued: VecDeque::new(),
            last_workers: 0,
            dead: None,
            closed: false,
            options,
        };
        backend.handshake(cluster)?;
        backend.scatter_blob(TARGET_BLOB, &payload)?;
        Ok(backend)
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
            claims: self.resources.clone(),
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

    fn scatter_blob(&mut self, name: &str, data: &[u8]) -> Result<(), DaskError> {
        self.check_alive()?;
        let request = Request::Scatter {
            name: name.to_string(),
            broadcast: self.options.broadcast_scatter,
            target: name == TARGET_BLOB,
            exe: (name == TARGET_BLOB).then(|| self.exe.clone()),
            env: if name == TARGET_BLOB { self.options.env.clone() } else { BTreeMap::new() },
        };
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

    /// The cluster we are attached to.
    pub fn cluster_info(&self) -> &ClusterInfo {
        &self.info
    }

    /// The runner's counters.
    pub fn stats(&self) -> DaskStats {
        self.stats.clone()
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

    /// Turns a sidecar message into a backend event (queued), or returns a control message.
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
                self.queued.push_back(BackendEvent::Workers);
            }
            Event::Done { seq, worker, materialized } => {
                for name in materialized {
                    *self.stats.materializations.entry(name).or_default() += 1;
                }
                self.stats.completed += 1;
                let value = blobs
                    .first()
                    .ok_or_else(|| "no value".to_string())
                    .and_then(|b| bincode::deserialize::<TrialValue>(b).map_err(|e| e.to_string()));
                let start = self.in_flight.get(&seq).copied().unwrap_or_else(smac_core::trial::unix_now);
                let value = value.unwrap_or_else(|e| {
                    TrialValue::failure(StatusType::Crashed, format!("undecodable trial value: {e}"), start)
                });
                self.finish(seq, worker, value);
            }
            Event::Failed { seq, kind, error, returncode, stderr, worker } => {
                self.stats.failed += 1;
                let at = worker.as_deref().map(|w| format!(" on Dask worker {w}")).unwrap_or_default();
                let (status, message) = self.classify(&kind, &error, returncode, stderr.as_deref(), &at);
                let start = self.in_flight.get(&seq).copied().unwrap_or_else(smac_core::trial::unix_now);
                self.finish(seq, worker, TrialValue::failure(status, message, start));
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

    fn finish(&mut self, seq: u64, worker: Option<String>, mut value: TrialValue) {
        if self.in_flight.remove(&seq).is_none() {
            tracing::warn!(seq, "result for an unknown trial; ignored");
            return;
        }
        if let Some(w) = worker {
            // The Dask worker's address, as our scheduler names its workers, for the dashboard's
            // Gantt chart (a target's own key wins).
            value.additional_info.entry("worker").or_insert_with(|| w.clone().into());
            *self.stats.trials_per_worker.entry(w).or_default() += 1;
        }
        self.queued.push_back(BackendEvent::Finished { seq, value });
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
                let limit = self.walltime_limit.unwrap_or(0.0);
                (StatusType::Timeout, format!("the trial exceeded its walltime limit of {limit} s{at}"))
            }
            "exit" => {
                let how = match returncode {
                    Some(c) if c < 0 => format!("was killed by signal {}", -c),
                    Some(c) => format!("exited with status {c}"),
                    None => "ended".to_string(),
                };
                // Rust's allocator reports a refused allocation like this (RLIMIT_AS).
                let memory = tail.contains("memory allocation of") || tail.contains("out of memory");
                match self.memory_limit {
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

    /// The sidecar is gone: every trial in flight is lost (not the target's failure).
    fn sidecar_exited(&mut self, why: String) {
        if self.closed && self.in_flight.is_empty() {
            return;
        }
        tracing::error!("the Dask sidecar exited: {why}");
        for (seq, _) in std::mem::take(&mut self.in_flight) {
            let reason = format!("the Dask sidecar exited before the trial finished: {why}");
            self.queued.push_back(BackendEvent::Lost { seq, reason });
        }
        self.dead = Some(why);
    }
}

impl Backend for DaskBackend {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn describe(&self) -> String {
        format!("Dask scheduler {} running '{}'", self.info.scheduler, self.tag)
    }

    fn capacity(&self) -> usize {
        if self.dead.is_some() || self.closed {
            return 0;
        }
        self.sidecar.live.threads.load(Ordering::Acquire)
    }

    fn n_workers(&self) -> usize {
        self.sidecar.live.workers.load(Ordering::Acquire)
    }

    fn submit(&mut self, seq: u64, trial: &TrialInfo, env: &TrialEnv) -> Result<(), RunnerError> {
        self.check_alive()?;
        let request =
            TrialRequest { tag: self.tag.clone(), trial: trial.clone(), memory_mb: self.memory_limit };
        let bytes = bincode::serialize(&request)
            .map_err(|e| RunnerError::Other(format!("cannot serialize the trial: {e}")))?;
        let mut trial_env = self.options.env.clone();
        trial_env.extend(env.iter().cloned());
        let submit = Request::Submit {
            seq,
            exe: self.exe.clone(),
            runner: TARGET_BLOB.to_string(),
            scatter: self.scatter_names.clone(),
            // A little slack over the limit for the process start; the target is killed after.
            timeout_s: self.walltime_limit.map(|s| s + 1.0),
            env: trial_env,
            retries: self.options.retries,
            resources: self.resources.clone(),
        };
        self.sidecar.send(&submit, &[&bytes])?;
        self.stats.submitted += 1;
        self.in_flight.insert(seq, smac_core::trial::unix_now());
        tracing::debug!(seq, "submitted a trial to Dask");
        Ok(())
    }

    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<BackendEvent>, RunnerError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(e) = self.queued.pop_front() {
                return Ok(Some(e));
            }
            let incoming = match deadline {
                Some(d) => {
                    match self.sidecar.events.recv_timeout(d.saturating_duration_since(Instant::now())) {
                        Ok(i) => i,
                        Err(RecvTimeoutError::Timeout) => return Ok(None),
                        Err(RecvTimeoutError::Disconnected) => {
                            self.sidecar_exited(self.sidecar.last_words());
                            return Ok(self.queued.pop_front());
                        }
                    }
                }
                None => match self.sidecar.events.recv() {
                    Ok(i) => i,
                    Err(_) => {
                        self.sidecar_exited(self.sidecar.last_words());
                        return self.queued.pop_front().map(Some).ok_or(RunnerError::Closed);
                    }
                },
            };
            if let Some(event) = self.handle(incoming) {
                tracing::warn!("unexpected message from the Dask sidecar: {event:?}");
            }
        }
    }

    fn scatter(&mut self, name: &str, data: Arc<[u8]>) -> Result<(), RunnerError> {
        self.scatter_blob(name, &data)?;
        if !self.scatter_names.iter().any(|n| n == name) {
            self.scatter_names.push(name.to_string());
        }
        Ok(())
    }

    fn is_alive(&self) -> bool {
        self.dead.is_none() && !self.closed
    }

    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if !self.in_flight.is_empty() {
            tracing::warn!(
                n = self.in_flight.len(),
                "closing the Dask backend with trials in flight; they are cancelled"
            );
        }
        // Closes our client only; a cluster we did not start keeps running.
        self.sidecar.shutdown(CLOSE_GRACE);
        tracing::info!(
            submitted = self.stats.submitted,
            completed = self.stats.completed,
            failed = self.stats.failed,
            resubmitted = self.stats.resubmitted,
            "closed the Dask backend"
        );
    }
}

impl Drop for DaskBackend {
    fn drop(&mut self) {
        self.close();
    }
}
