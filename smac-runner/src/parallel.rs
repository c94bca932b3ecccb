//! [`DaskStyleParallelRunner`]: SMAC3's `DaskParallelRunner` for Rust.
//!
//! It wraps a single-worker runner, serializes it once (serde + bincode) and has the
//! scheduler ship it to each worker; then every `submit_trial` is one channel send of a
//! `TrialInfo` and results come back as `(TrialInfo, TrialValue)` on a channel that
//! `iter_results` drains. All methods run on the optimizer's thread and never block except
//! where the `Runner` contract says so (`wait`, and `submit_trial` when no worker is free).
//!
//! With a [`Client`] attached to a scheduler elsewhere ([`Client::from_scheduler_file`]) the
//! runner works the same: the single-worker runner travels to the workers through the
//! scheduler as opaque bytes, and `count_available_workers` follows workers joining and
//! leaving. Trials may claim resources ([`ParallelOptions::resources`]) and, on one node with
//! GPUs, be spread over the devices by least load ([`ParallelOptions::single_node_with_gpus`]).
//!
//! Reproducible mode (opt-in) delivers results in submission order, one per `iter_results`
//! call, and counts free workers against the cluster's nominal size rather than live
//! completions: a loop of the form "submit while `count_available_workers() > 0`, then
//! `wait` + `iter_results`" then sees the same sequence of events whatever the timing, so two
//! runs with the same seed produce identical histories.

use crate::client::{Attachment, Client};
use crate::executor::{decoder, runner_tag, RunnerSpec, ShippableRunner, TrialExecutor};
use crate::gpu::{GpuBalancer, CUDA_VISIBLE_DEVICES};
use crate::local::LocalCluster;
use crate::protocol::TrialLimits;
use crate::resources::Resources;
use crate::scheduler::{Msg, Notice, TrialEnv};
use crate::stats::SchedulerStats;
use smac_core::{Runner, RunnerError, Scenario, TrialInfo, TrialValue};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the optimizer's thread polls for a result before it sleeps: fast trials come back
/// within tens of microseconds, and a sleeping thread takes about as long again to wake up.
const SPIN: Duration = Duration::from_micros(50);

/// Options of a [`DaskStyleParallelRunner`].
#[derive(Clone, Debug)]
pub struct ParallelOptions {
    /// How long `submit_trial` waits for a worker when none is alive (SMAC3's `patience`).
    pub patience: Duration,
    /// Deliver results in submission order for reproducible runs (default: as they finish).
    pub reproducible: bool,
    /// Walltime limit per trial in seconds, enforced on in-process Rust targets by workers.
    pub trial_walltime_limit: Option<f64>,
    /// Memory limit per trial in MB, enforced (best effort) on in-process Rust targets.
    pub trial_memory_limit: Option<u64>,
    /// Resources each trial claims (Dask's `resources=`, e.g. `GPU=1`): trials only go to
    /// workers that advertise at least that much (`smac-worker --resources GPU=1`).
    pub resources: Resources,
    /// DEHB's `single_node_with_gpus`: give each trial `CUDA_VISIBLE_DEVICES` listing first
    /// the device with the fewest active trials of this run ([`crate::gpu`]).
    pub single_node_with_gpus: bool,
    /// The devices for `single_node_with_gpus` (default: discovered from
    /// `CUDA_VISIBLE_DEVICES` or `nvidia-smi -L`).
    pub gpu_devices: Option<Vec<String>>,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        ParallelOptions {
            patience: Duration::from_secs(5),
            reproducible: false,
            trial_walltime_limit: None,
            trial_memory_limit: None,
            resources: Resources::new(),
            single_node_with_gpus: false,
            gpu_devices: None,
        }
    }
}

impl ParallelOptions {
    /// Default options with the scenario's per-trial limits.
    pub fn from_scenario(scenario: &Scenario) -> Self {
        ParallelOptions {
            trial_walltime_limit: scenario.trial_walltime_limit,
            trial_memory_limit: scenario.trial_memory_limit,
            ..Default::default()
        }
    }
}

/// Runs trials on the workers of a [`Client`]'s cluster, several at a time.
pub struct DaskStyleParallelRunner {
    client: Client,
    /// The cluster this runner created (and closes); `None` when the user passed a client.
    cluster: Option<LocalCluster>,
    runner_id: u64,
    tag: String,
    notices: std::sync::mpsc::Receiver<Notice>,
    slots: Arc<std::sync::atomic::AtomicUsize>,
    patience: Duration,
    reproducible: bool,
    nominal_workers: usize,
    next_seq: u64,
    /// Submitted trials whose result has not arrived yet.
    in_flight: usize,
    ready: VecDeque<(TrialInfo, TrialValue)>,
    reorder: BTreeMap<u64, (TrialInfo, TrialValue)>,
    next_release: u64,
    gpus: Option<GpuBalancer>,
    /// The environment of trials without one (shared, so a submit allocates nothing for it).
    no_env: TrialEnv,
    closed: bool,
}

impl std::fmt::Debug for DaskStyleParallelRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaskStyleParallelRunner")
            .field("runner", &self.tag)
            .field("in_flight", &self.in_flight)
            .field("workers", &self.slots.load(Ordering::Relaxed))
            .finish()
    }
}

impl DaskStyleParallelRunner {
    /// Wraps `single_worker`; with `client: None` a local cluster of one worker process per
    /// core (this executable) is started and closed with the runner.
    pub fn new<R: ShippableRunner>(
        single_worker: R,
        patience: Duration,
        client: Option<Client>,
    ) -> Result<Self, RunnerError> {
        Self::with_options(single_worker, client, ParallelOptions { patience, ..Default::default() })
    }

    /// Like [`DaskStyleParallelRunner::new`] with all options.
    pub fn with_options<R: ShippableRunner>(
        single_worker: R,
        client: Option<Client>,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        match client {
            Some(client) => Self::attach(shippable(&single_worker, &options)?, client, None, options),
            None => {
                let n = std::thread::available_parallelism().map_or(2, |n| n.get());
                Self::with_cluster(single_worker, LocalCluster::processes(n)?, options)
            }
        }
    }

    /// Runs on a cluster of `scenario.n_workers` local worker processes (this executable),
    /// with the scenario's per-trial limits.
    pub fn from_scenario<R: ShippableRunner>(
        single_worker: R,
        scenario: &Scenario,
    ) -> Result<Self, RunnerError> {
        Self::with_cluster(
            single_worker,
            LocalCluster::from_scenario(scenario)?,
            ParallelOptions::from_scenario(scenario),
        )
    }

    /// Runs on `cluster`, which the runner then owns and closes.
    pub fn with_cluster<R: ShippableRunner>(
        single_worker: R,
        cluster: LocalCluster,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        let spec = shippable(&single_worker, &options)?;
        Self::attach(spec, cluster.client(), Some(cluster), options)
    }

    /// Runs a non-serializable runner (e.g. a closure target) on `n_threads` in-process
    /// worker threads.
    pub fn in_process(
        single_worker: Arc<dyn TrialExecutor>,
        n_threads: usize,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        if options.trial_memory_limit.is_some() {
            tracing::warn!("trial_memory_limit cannot be enforced on in-process worker threads; ignored");
        }
        if options.single_node_with_gpus {
            tracing::warn!(
                "threads share one environment: single_node_with_gpus needs worker processes; ignored"
            );
        }
        let cluster = LocalCluster::threads(n_threads)?;
        let spec = RunnerSpec {
            id: 0,
            tag: None,
            payload: None,
            decoder: None,
            crash_cost: single_worker.crash_cost(),
            local: Some(single_worker),
            limits: limits(&options),
            resources: options.resources.clone(),
        };
        Self::attach(spec, cluster.client(), Some(cluster), options)
    }

    fn attach(
        mut spec: RunnerSpec,
        client: Client,
        cluster: Option<LocalCluster>,
        options: ParallelOptions,
    ) -> Result<Self, RunnerError> {
        spec.id = client.next_runner_id();
        let gpus = if options.single_node_with_gpus {
            Some(
                GpuBalancer::new(options.gpu_devices.clone())
                    .map_err(|e| RunnerError::Other(e.to_string()))?,
            )
        } else {
            None
        };
        let mut tag = spec.tag.clone().unwrap_or_else(|| "in-process runner".into());
        if !spec.resources.is_empty() {
            tag = format!("{tag} with resources {}", spec.resources);
        }
        let Attachment { runner_id, notices, slots } = client.attach(spec, options.patience)?;
        let mut runner = DaskStyleParallelRunner {
            nominal_workers: 0,
            client,
            cluster,
            runner_id,
            tag,
            notices,
            slots,
            patience: options.patience,
            reproducible: options.reproducible,
            next_seq: 0,
            in_flight: 0,
            ready: VecDeque::new(),
            reorder: BTreeMap::new(),
            next_release: 0,
            gpus,
            no_env: Arc::from(Vec::new()),
            closed: false,
        };
        // The scheduler answers an attach with the number of usable workers; wait for it so
        // that `count_available_workers` is right from the first call.
        match runner.notices.recv_timeout(Duration::from_secs(10)) {
            Ok(n) => runner.process(n),
            Err(_) => return Err(RunnerError::Closed),
        }
        runner.nominal_workers = runner.slots.load(Ordering::Acquire).max(1);
        Ok(runner)
    }

    /// Sends a named blob once to every worker (and to workers joining later).
    pub fn scatter(&self, name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Result<(), RunnerError> {
        self.client.scatter(name, data)
    }

    /// The client this runner submits through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The scheduler's counters.
    pub fn stats(&self) -> SchedulerStats {
        self.client.stats()
    }

    /// Workers that can run this runner's trials right now.
    pub fn n_workers(&self) -> usize {
        self.slots.load(Ordering::Acquire)
    }

    fn process(&mut self, n: Notice) {
        if let Notice::Done { seq, trial, value } = n {
            self.in_flight = self.in_flight.saturating_sub(1);
            if let Some(g) = &mut self.gpus {
                g.release(seq);
            }
            if self.reproducible {
                self.reorder.insert(seq, (trial, value));
            } else {
                self.ready.push_back((trial, value));
            }
        }
    }

    /// Takes every notice already queued, without blocking.
    fn pump(&mut self) {
        while let Ok(n) = self.notices.try_recv() {
            self.process(n);
        }
    }

    /// Blocks for one notice, at most `timeout`; `Ok(false)` on timeout.
    fn recv_one(&mut self, timeout: Option<Duration>) -> Result<bool, RunnerError> {
        let spin_until = Instant::now() + SPIN;
        while Instant::now() < spin_until {
            if let Ok(n) = self.notices.try_recv() {
                self.process(n);
                return Ok(true);
            }
            // Yield rather than spin: on a small machine the scheduler thread that will deliver
            // the result may need this very core.
            std::thread::yield_now();
        }
        let n = match timeout {
            Some(t) => match self.notices.recv_timeout(t) {
                Ok(n) => n,
                Err(RecvTimeoutError::Timeout) => return Ok(false),
                Err(RecvTimeoutError::Disconnected) => return Err(RunnerError::Closed),
            },
            None => self.notices.recv().map_err(|_| RunnerError::Closed)?,
        };
        self.process(n);
        Ok(true)
    }

    fn has_deliverable(&self) -> bool {
        if self.reproducible {
            self.reorder.contains_key(&self.next_release)
        } else {
            !self.ready.is_empty()
        }
    }

    /// Waits until a worker can take a trial: for a completion while all are busy (like
    /// SMAC3, without limit), for a worker to appear for at most the patience otherwise.
    fn wait_for_worker(&mut self) -> Result<(), RunnerError> {
        let start = Instant::now();
        loop {
            if self.client.is_closed() {
                return Err(RunnerError::Closed);
            }
            let slots = self.slots.load(Ordering::Acquire);
            let busy = if self.reproducible { 0 } else { self.in_flight };
            if slots > busy {
                return Ok(());
            }
            if slots > 0 {
                self.recv_one(None)?;
                continue;
            }
            let waited = start.elapsed();
            if waited >= self.patience {
                return Err(RunnerError::NoWorkerAvailable {
                    patience_s: self.patience.as_secs_f64(),
                    detail: format!(
                        "{} worker(s) connected, none able to run {}; {} trial(s) in flight. All workers may \
                         have died, or none serves this runner type or has the resources it claims",
                        self.client.n_workers(),
                        self.tag,
                        self.in_flight
                    ),
                });
            }
            self.recv_one(Some(self.patience - waited))?;
        }
    }
}

impl Runner for DaskStyleParallelRunner {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        if self.closed {
            return Err(RunnerError::Closed);
        }
        self.pump();
        self.wait_for_worker()?;
        let seq = self.next_seq;
        let env: TrialEnv = match &mut self.gpus {
            Some(g) => Arc::from(vec![(CUDA_VISIBLE_DEVICES.to_string(), g.assign(seq))]),
            None => self.no_env.clone(),
        };
        if let Err(e) = self.client.submit(self.runner_id, seq, trial, env) {
            if let Some(g) = &mut self.gpus {
                g.release(seq);
            }
            return Err(e);
        }
        self.next_seq += 1;
        self.in_flight += 1;
        Ok(())
    }

    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        self.pump();
        if self.reproducible {
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
            if self.has_deliverable() || self.in_flight == 0 {
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
        self.in_flight > 0 || !self.ready.is_empty() || !self.reorder.is_empty()
    }

    fn count_available_workers(&self) -> usize {
        if self.reproducible {
            let unreleased = (self.next_seq - self.next_release) as usize;
            self.nominal_workers.saturating_sub(unreleased)
        } else {
            self.slots.load(Ordering::Acquire).saturating_sub(self.in_flight)
        }
    }

    fn close(&mut self) -> Result<(), RunnerError> {
        if !self.closed {
            self.closed = true;
            let _ = self.client.send(Msg::Detach { runner_id: self.runner_id });
            if let Some(mut cluster) = self.cluster.take() {
                cluster.close();
            }
        }
        Ok(())
    }
}

impl Drop for DaskStyleParallelRunner {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn limits(options: &ParallelOptions) -> TrialLimits {
    TrialLimits { walltime_s: options.trial_walltime_limit, memory_mb: options.trial_memory_limit }
}

/// Serializes the single-worker runner once; the scheduler sends these bytes to each worker.
fn shippable<R: ShippableRunner>(
    single_worker: &R,
    options: &ParallelOptions,
) -> Result<RunnerSpec, RunnerError> {
    let payload = bincode::serialize(single_worker)
        .map_err(|e| RunnerError::Other(format!("cannot serialize the single-worker runner: {e}")))?;
    Ok(RunnerSpec {
        id: 0,
        tag: Some(runner_tag::<R>()),
        payload: Some(Arc::from(payload)),
        decoder: Some(decoder::<R>()),
        local: None,
        crash_cost: single_worker.crash_cost(),
        limits: limits(options),
        resources: options.resources.clone(),
    })
}
