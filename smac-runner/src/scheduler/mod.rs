//! The scheduler: one task that owns all scheduling state and reacts to messages.
//!
//! Runners (on the optimizer's thread), worker connections and in-process worker threads all
//! talk to it through one channel ([`Msg`]), so there are no locks on the hot path: a submit is
//! a channel send, dispatch pops an idle worker (O(1) while workers are compatible), and a
//! result is a map removal plus a send back to the runner. Worker liveness (heartbeats),
//! trials lost with their worker (reported to their runner, which decides on a retry), the walltime backstop and the patience for
//! trials waiting without any worker are checked on a periodic tick.
//!
//! A trial goes to an idle worker that can decode its runner's type and whose resources cover
//! the runner's claims ([`crate::resources`]); runners of remote clients reach the scheduler
//! through their connection ([`crate::scheduler::client_conn`]) and are handled exactly like local ones.

pub(crate) mod client_conn;
pub(crate) mod connection;
pub(crate) mod context;
mod messages;
#[cfg(feature = "cli")]
pub mod standalone;
pub mod stats;
pub mod view;

pub(crate) use messages::{Hello, Link, Msg, Notice, NoticeSink, Outgoing, TrialEnv};

use crate::core::TargetSpec;
use crate::protocol::{ToScheduler, DEFAULT_MAX_FRAME, RETAINED_BUFFER};
use crate::resources::Resources;
use crate::scheduler::stats::{bump, Counters};
use crate::scheduler::view::ActivityLog;
use smac_core::{StatusType, TrialInfo, TrialValue};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Timing and size settings of a scheduler.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// How often heartbeats are exchanged with worker processes.
    pub heartbeat_interval: Duration,
    /// Silence after which a worker process is declared dead (its trial is retried).
    pub heartbeat_timeout: Duration,
    /// Largest frame sent or accepted.
    pub max_frame: usize,
    /// Time a connecting worker has to complete the handshake.
    pub handshake_timeout: Duration,
    /// Connections allowed at once that have not completed the handshake; a newer one ends the
    /// oldest, so idle or hostile connections cannot starve real workers.
    pub max_pending_handshakes: usize,
    /// TLS on every connection (a fresh self-signed certificate, pinned through the scheduler
    /// file): for traffic between machines on networks that are not trusted.
    pub tls: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            heartbeat_interval: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_secs(10),
            max_frame: DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(5),
            max_pending_handshakes: 64,
            tls: false,
        }
    }
}

/// Counters shared between the scheduler task and its handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub n_workers: AtomicUsize,
    pub closed: AtomicBool,
    pub next_worker_id: AtomicU64,
    pub next_runner_id: AtomicU64,
    pub live_writers: AtomicUsize,
    pub stats: Counters,
}

struct RunnerEntry {
    spec: Arc<TargetSpec>,
    /// Blobs this runner scattered: they belong to it and are freed when it detaches.
    scattered: BTreeMap<String, Arc<[u8]>>,
    notices: NoticeSink,
    slots: Arc<AtomicUsize>,
    patience: Duration,
    /// Since when no worker can run this runner's trials.
    starved_since: Option<Instant>,
}

struct WorkerState {
    link: Link,
    tags: Vec<String>,
    resources: Resources,
    name: String,
    thread: bool,
    busy: Option<u64>,
    last_seen: Instant,
    /// For the cluster view: when it joined, trials finished and seconds spent on them.
    joined_at: f64,
    trials: u64,
    busy_seconds: f64,
    runners_sent: HashSet<u64>,
    /// Per runner, the scattered names this worker holds.
    blobs_sent: HashMap<u64, HashSet<String>>,
    rejected: HashSet<u64>,
    /// Dropping it stops the connection's reader task.
    _closer: Option<oneshot::Sender<()>>,
}

struct Pending {
    runner_id: u64,
    seq: u64,
    trial: Arc<TrialInfo>,
    env: TrialEnv,
}

struct Running {
    pending: Pending,
    worker: u64,
    started: Instant,
    /// `started` as Unix time, for the cluster view.
    started_at: f64,
}

/// The scheduler's state, driven by [`run`].
struct Scheduler {
    cfg: SchedulerConfig,
    shared: Arc<Shared>,
    workers: HashMap<u64, WorkerState>,
    idle: VecDeque<u64>,
    pending: VecDeque<Pending>,
    running: HashMap<u64, Running>,
    runners: HashMap<u64, RunnerEntry>,
    next_key: u64,
    last_heartbeat: Instant,
    last_tick: Instant,
    log: ActivityLog,
}

/// Runs the scheduler until a [`Msg::Shutdown`] or until every handle is gone.
pub(crate) async fn run(mut rx: mpsc::UnboundedReceiver<Msg>, cfg: SchedulerConfig, shared: Arc<Shared>) {
    let tick_every = (cfg.heartbeat_interval / 2).clamp(Duration::from_millis(5), Duration::from_millis(50));
    let mut s = Scheduler {
        cfg,
        shared,
        workers: HashMap::new(),
        idle: VecDeque::new(),
        pending: VecDeque::new(),
        running: HashMap::new(),
        runners: HashMap::new(),
        next_key: 0,
        last_heartbeat: Instant::now(),
        last_tick: Instant::now(),
        log: ActivityLog::new(),
    };
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'outer: loop {
        tokio::select! {
            // Messages first: a tick must not judge liveness while heartbeats wait unread.
            biased;
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                if !s.handle(msg) {
                    break;
                }
                // Take whatever else is queued before dispatching: one dispatch per batch.
                for _ in 0..1024 {
                    match rx.try_recv() {
                        Ok(msg) => {
                            if !s.handle(msg) {
                                break 'outer;
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            _ = tick.tick() => s.on_tick(),
        }
        s.dispatch();
    }
    s.shutdown();
    // Give writer tasks a moment to flush the shutdown frames before the runtime stops.
    let deadline = Instant::now() + Duration::from_millis(500);
    while s.shared.live_writers.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl Scheduler {
    /// Applies one message; `false` means shut down.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Attach { spec, notices, slots, patience } => {
                let id = spec.id;
                let tag = spec.tag.as_deref().unwrap_or("in-process runner");
                tracing::info!(runner_id = id, runner = tag, claims = %spec.resources, "runner attached");
                let entry = RunnerEntry {
                    spec,
                    scattered: BTreeMap::new(),
                    notices,
                    slots,
                    patience,
                    starved_since: None,
                };
                self.runners.insert(id, entry);
                self.refresh_slots();
            }
            Msg::Detach { runner_id } => self.detach(runner_id),
            Msg::Submit { runner_id, seq, trial, env } => {
                self.pending.push_back(Pending { runner_id, seq, trial: Arc::new(trial), env })
            }
            Msg::Scatter { runner_id, name, data } => self.scatter(runner_id, name, data),
            Msg::Joined { worker_id, link, hello, closer } => self.join(worker_id, link, hello, closer),
            Msg::FromWorker { worker_id, msg } => self.on_worker_message(worker_id, msg),
            Msg::Gone { worker_id, reason } => self.remove_worker(worker_id, &reason),
            Msg::View(reply) => {
                let _ = reply.send(self.view());
            }
            Msg::Shutdown => return false,
        }
        true
    }

    /// Stores a runner's blob; workers that already hold the runner's target get it now
    /// (again, when replaced), the others before their first trial of the runner.
    fn scatter(&mut self, runner_id: u64, name: String, data: Arc<[u8]>) {
        let Some(runner) = self.runners.get_mut(&runner_id) else {
            tracing::warn!(runner_id, name, "scatter for a runner that is not attached; dropped");
            return;
        };
        runner.scattered.insert(name.clone(), data.clone());
        for w in self.workers.values_mut() {
            if w.runners_sent.contains(&runner_id) {
                let out = Outgoing::Scatter { runner_id, name: name.clone(), data: data.clone() };
                if w.link.send(out) {
                    bump(&self.shared.stats.scatter_transfers);
                    w.blobs_sent.entry(runner_id).or_default().insert(name.clone());
                }
            }
        }
    }

    fn join(&mut self, worker_id: u64, link: Link, hello: Hello, closer: Option<oneshot::Sender<()>>) {
        let thread = matches!(link, Link::Thread(_));
        let name = format!("{}:{}", hello.host, hello.pid);
        tracing::info!(worker_id, worker = %name, resources = %hello.resources, "worker joined");
        self.log.worker_event(&name, "joined", "");
        self.workers.insert(
            worker_id,
            WorkerState {
                link,
                tags: hello.tags,
                resources: hello.resources,
                name,
                thread,
                busy: None,
                last_seen: Instant::now(),
                joined_at: smac_core::trial::unix_now(),
                trials: 0,
                busy_seconds: 0.0,
                runners_sent: HashSet::new(),
                blobs_sent: HashMap::new(),
                rejected: HashSet::new(),
                _closer: closer,
            },
        );
        self.idle.push_back(worker_id);
        self.shared.n_workers.store(self.workers.len(), Ordering::Release);
        bump(&self.shared.stats.workers_joined);
        self.refresh_slots();
    }

    fn detach(&mut self, runner_id: u64) {
        if let Some(runner) = self.runners.remove(&runner_id) {
            tracing::info!(runner_id, "runner detached");
            let scattered: usize = runner.scattered.values().map(|d| d.len()).sum();
            drop(runner);
            if scattered >= RETAINED_BUFFER {
                give_back_memory();
            }
        }
        self.pending.retain(|p| p.runner_id != runner_id);
        for w in self.workers.values_mut() {
            w.blobs_sent.remove(&runner_id);
            if w.runners_sent.remove(&runner_id) {
                w.link.send(Outgoing::DropRunner(runner_id));
            }
        }
    }

    fn on_worker_message(&mut self, worker_id: u64, msg: ToScheduler) {
        let Some(w) = self.workers.get_mut(&worker_id) else { return };
        w.last_seen = Instant::now();
        match msg {
            ToScheduler::Heartbeat | ToScheduler::Hello { .. } => {}
            ToScheduler::Result { key, mut value } => {
                // Which worker ran the trial, for `smac dashboard`'s Gantt chart (SMAC3 and
                // DeepCAVE keep `additional_info` as an opaque dict). A target's own key wins.
                value.additional_info.entry("worker").or_insert_with(|| w.name.clone().into());
                if w.busy == Some(key) {
                    w.busy = None;
                    // Most recently freed first: its process is warm (caches, CPU frequency)
                    // and idle workers beyond demand stay asleep.
                    self.idle.push_front(worker_id);
                }
                if let Some(r) = self.running.remove(&key) {
                    w.trials += 1;
                    w.busy_seconds += r.started.elapsed().as_secs_f64();
                    self.log.finished(&w.name, r.started_at, value.status.name());
                    self.deliver(r.pending, value);
                }
            }
            ToScheduler::RunnerRejected { runner_id, message } => {
                tracing::warn!(worker = %w.name, runner_id, "worker cannot run this runner: {message}");
                w.rejected.insert(runner_id);
                // Its trial goes back to the queue without counting as an attempt; the
                // worker's own answer for it will find no running entry and be ignored.
                if let Some(key) = w.busy {
                    if self.running.get(&key).is_some_and(|r| r.pending.runner_id == runner_id) {
                        let r = self.running.remove(&key).expect("checked");
                        self.pending.push_front(r.pending);
                    }
                }
                self.refresh_slots();
            }
        }
    }

    /// Forgets a worker; its running trial is reported lost to its runner.
    fn remove_worker(&mut self, worker_id: u64, reason: &str) {
        let Some(w) = self.workers.remove(&worker_id) else { return };
        tracing::warn!(worker_id, worker = %w.name, "worker lost: {reason}");
        self.log.worker_event(&w.name, "left", reason);
        bump(&self.shared.stats.workers_lost);
        self.shared.n_workers.store(self.workers.len(), Ordering::Release);
        if let Some(r) = w.busy.and_then(|key| self.running.remove(&key)) {
            self.log.finished(&w.name, r.started_at, "LOST");
            bump(&self.shared.stats.trials_retried);
            let why = format!("worker {} died while running this trial ({reason})", w.name);
            self.lose(r.pending, why);
        }
        self.refresh_slots();
    }

    /// Tells a trial's runner that the trial was lost (no value from the target).
    fn lose(&mut self, p: Pending, reason: String) {
        if let Some(runner) = self.runners.get(&p.runner_id) {
            runner.notices.send(Notice::Lost { seq: p.seq, reason });
        }
    }

    /// Hands a value from the target to the trial's runner.
    fn deliver(&mut self, p: Pending, value: TrialValue) {
        let Some(runner) = self.runners.get(&p.runner_id) else { return };
        bump(&self.shared.stats.trials_completed);
        runner.notices.send(Notice::Done { seq: p.seq, value });
    }

    fn compatible(w: &WorkerState, spec: &TargetSpec) -> bool {
        if w.rejected.contains(&spec.id) || !w.resources.satisfies(&spec.resources) {
            return false;
        }
        if w.thread {
            spec.local.is_some() || spec.decoder.is_some()
        } else {
            spec.payload.is_some() && spec.tag.as_ref().is_some_and(|t| w.tags.contains(t))
        }
    }

    /// Publishes each runner's number of usable workers and wakes runners when it changed.
    fn refresh_slots(&mut self) {
        let now = Instant::now();
        for r in self.runners.values_mut() {
            let n = self.workers.values().filter(|w| Self::compatible(w, &r.spec)).count();
            if r.slots.swap(n, Ordering::AcqRel) != n {
                r.notices.send(Notice::Workers);
            }
            r.starved_since = if n == 0 { r.starved_since.or(Some(now)) } else { None };
        }
    }

    /// Sends queued trials to idle workers, first come first served.
    fn dispatch(&mut self) {
        let mut skipped = Vec::new();
        while let Some(head) = self.pending.front() {
            let Some(runner) = self.runners.get(&head.runner_id) else {
                self.pending.pop_front();
                continue;
            };
            let spec = runner.spec.clone();
            let mut chosen = None;
            while let Some(wid) = self.idle.pop_front() {
                match self.workers.get(&wid) {
                    Some(w) if w.busy.is_none() => {
                        if Self::compatible(w, &spec) {
                            chosen = Some(wid);
                            break;
                        }
                        skipped.push(wid);
                    }
                    _ => {} // stale entry of a busy or removed worker
                }
            }
            let Some(wid) = chosen else { break };
            let p = self.pending.pop_front().expect("head exists");
            self.assign(wid, p, &spec);
        }
        for wid in skipped.into_iter().rev() {
            self.idle.push_front(wid);
        }
    }

    fn assign(&mut self, wid: u64, p: Pending, spec: &Arc<TargetSpec>) {
        let key = self.next_key;
        self.next_key += 1;
        let w = self.workers.get_mut(&wid).expect("idle worker exists");
        let mut ok = true;
        if !w.runners_sent.contains(&spec.id) {
            ok = w.link.send(Outgoing::SetRunner(spec.clone()));
            w.runners_sent.insert(spec.id);
            bump(&self.shared.stats.runner_transfers);
            // The runner's blobs go before its first trial: the link is FIFO, so no trial can
            // overtake the data it may need.
            if let Some(r) = self.runners.get(&spec.id) {
                let held = w.blobs_sent.entry(spec.id).or_default();
                for (name, data) in &r.scattered {
                    if held.insert(name.clone()) {
                        let out =
                            Outgoing::Scatter { runner_id: spec.id, name: name.clone(), data: data.clone() };
                        ok = ok && w.link.send(out);
                        bump(&self.shared.stats.scatter_transfers);
                    }
                }
            }
        }
        ok = ok
            && w.link.send(Outgoing::Run {
                key,
                runner_id: p.runner_id,
                trial: p.trial.clone(),
                env: p.env.clone(),
            });
        if !ok {
            self.pending.push_front(p);
            self.remove_worker(wid, "its link is closed");
            return;
        }
        w.busy = Some(key);
        bump(&self.shared.stats.trials_dispatched);
        let (started, started_at) = (Instant::now(), smac_core::trial::unix_now());
        self.running.insert(key, Running { pending: p, worker: wid, started, started_at });
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let gap = now.duration_since(self.last_tick);
        self.last_tick = now;
        if gap > self.cfg.heartbeat_timeout / 2 {
            // This thread was not scheduled for a while (overloaded machine, stopped process):
            // heartbeats may sit unread in socket buffers, so silence proves nothing yet.
            tracing::warn!("the scheduler was stalled for {gap:?}; postponing liveness checks");
            for w in self.workers.values_mut() {
                w.last_seen = now;
            }
        }
        if now.duration_since(self.last_heartbeat) >= self.cfg.heartbeat_interval {
            self.last_heartbeat = now;
            for w in self.workers.values().filter(|w| !w.thread) {
                w.link.send(Outgoing::Heartbeat);
            }
        }
        let silent: Vec<u64> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.thread && now.duration_since(w.last_seen) > self.cfg.heartbeat_timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in silent {
            let reason = format!("no heartbeat for {:?}", self.cfg.heartbeat_timeout);
            self.remove_worker(id, &reason);
        }
        self.walltime_backstop(now);
        self.expire_starved(now);
    }

    /// Trials far past their walltime limit: the worker did not stop them (an in-process
    /// thread cannot be stopped, a frozen process cannot report), so the scheduler reports a
    /// timeout and retires the worker.
    fn walltime_backstop(&mut self, now: Instant) {
        let mut late = Vec::new();
        for (key, r) in &self.running {
            let Some(limit) = self.runners.get(&r.pending.runner_id).and_then(|e| e.spec.limits.walltime_s)
            else {
                continue;
            };
            let thread = self.workers.get(&r.worker).is_some_and(|w| w.thread);
            // Worker processes report their own timeouts; allow them time to do so.
            let grace = if thread { 0.0 } else { 1.0 + 0.1 * limit };
            if now.duration_since(r.started).as_secs_f64() > limit + grace {
                late.push(*key);
            }
        }
        for key in late {
            let r = self.running.remove(&key).expect("listed");
            let limit =
                self.runners.get(&r.pending.runner_id).and_then(|e| e.spec.limits.walltime_s).unwrap_or(0.0);
            let start = smac_core::trial::unix_now() - now.duration_since(r.started).as_secs_f64();
            let msg = format!("the trial exceeded its walltime limit of {limit} s; its worker was retired");
            if let Some(w) = self.workers.get(&r.worker) {
                self.log.finished(&w.name, r.started_at, "TIMEOUT");
            }
            // Retire the worker first, so a runner that sees the timeout also sees one slot less.
            self.remove_worker(r.worker, "it kept running a trial past its walltime limit");
            self.deliver(r.pending, TrialValue::failure(StatusType::Timeout, msg, start));
        }
    }

    /// Fails queued trials of runners that had no usable worker for longer than the patience.
    fn expire_starved(&mut self, now: Instant) {
        let starved: Vec<(u64, Duration)> = self
            .runners
            .iter()
            .filter_map(|(id, r)| {
                r.starved_since.map(|t| (*id, now.duration_since(t))).filter(|(_, d)| *d >= r.patience)
            })
            .collect();
        for (runner_id, waited) in starved {
            let (expired, kept): (VecDeque<Pending>, VecDeque<Pending>) =
                std::mem::take(&mut self.pending).into_iter().partition(|p| p.runner_id == runner_id);
            self.pending = kept;
            for p in expired {
                let msg = format!(
                    "no worker could run this trial for {:.1} s (all workers died or none serves this target)",
                    waited.as_secs_f64()
                );
                self.lose(p, msg);
            }
        }
    }

    fn shutdown(&mut self) {
        tracing::debug!(workers = self.workers.len(), "scheduler shutting down");
        for w in self.workers.values() {
            w.link.send(Outgoing::Shutdown);
            self.log.worker_event(&w.name, "left", "the scheduler shut down");
        }
        let lost: Vec<Pending> =
            self.running.drain().map(|(_, r)| r.pending).chain(self.pending.drain(..)).collect();
        for p in lost {
            self.lose(p, "the cluster was shut down".into());
        }
        self.workers.clear();
        self.shared.n_workers.store(0, Ordering::Release);
        self.shared.closed.store(true, Ordering::Release);
        for r in self.runners.values() {
            r.slots.store(0, Ordering::Release);
            r.notices.send(Notice::Workers);
        }
    }
}

/// Asks the allocator to return freed memory to the system. glibc keeps large freed blocks in
/// its arenas (its mmap threshold rises after the first large free), so without this a
/// scheduler that carried a scattered blob would keep its size in resident memory.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// For a process whose main job is to be the scheduler (`smac-scheduler`, `smac scheduler`):
/// serve allocations of 1 MiB and more (scattered blobs, their frames) from their own
/// mappings, returned to the system when freed, instead of letting glibc's adaptive threshold
/// keep them in its heap after the first one. Call it first thing in `main`; a no-op
/// elsewhere than glibc.
pub fn release_large_blocks_eagerly() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tuning parameter; called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, RETAINED_BUFFER as libc::c_int);
    }
}
