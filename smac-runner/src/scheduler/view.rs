//! The cluster view: what a scheduler's workers are doing right now, for dashboards.
//!
//! The scheduler keeps, besides its scheduling state, a bounded log of worker joins and leaves
//! and of recently finished trials. A [`ClusterView`] is built on request (a message to the
//! scheduler task, answered through a oneshot channel), so watching a cluster costs the hot
//! path nothing but two timestamps per trial and one deque push per result.

use super::Scheduler;
use crate::core::gpu::CUDA_VISIBLE_DEVICES;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Worker joins and leaves kept for the view (the oldest are dropped first).
pub const MAX_WORKER_EVENTS: usize = 1_000;
/// Finished trials kept for the view's Gantt chart.
pub const MAX_FINISHED: usize = 5_000;

/// A snapshot of a scheduler's workers and trials (times are Unix seconds).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClusterView {
    /// When the snapshot was taken.
    pub taken_at: f64,
    /// When the scheduler started.
    pub started_at: f64,
    /// Workers connected now.
    pub workers: Vec<WorkerView>,
    /// Joins and leaves, oldest first (at most [`MAX_WORKER_EVENTS`]).
    pub events: Vec<WorkerEvent>,
    /// Recently finished trials, oldest first (at most [`MAX_FINISHED`]).
    pub finished: Vec<FinishedTrial>,
    /// Trials waiting for a worker.
    pub queued: usize,
    /// Runners (optimizations) attached.
    pub runners: usize,
    /// The scheduler's counters.
    pub stats: super::stats::SchedulerStats,
}

/// One connected worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerView {
    /// `host:pid` (the name recorded in trials' `additional_info["worker"]`).
    pub name: String,
    /// An in-process worker thread rather than a worker process.
    pub thread: bool,
    /// When it joined.
    pub joined_at: f64,
    /// The resources it advertises (`GPU`, `MEMORY`, …).
    pub resources: BTreeMap<String, f64>,
    /// Trials it finished.
    pub trials: u64,
    /// Seconds it spent running trials.
    pub busy_seconds: f64,
    /// The trial it runs now.
    pub running: Option<RunningTrial>,
}

/// A trial being run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunningTrial {
    /// The attached runner it belongs to.
    pub runner_id: u64,
    /// When it was sent to the worker.
    pub started_at: f64,
    /// Its configuration (hyperparameter name → value).
    pub config: serde_json::Value,
    /// Its instance, seed and budget, when set.
    pub instance: Option<String>,
    /// The seed passed to the target.
    pub seed: Option<u64>,
    /// The budget, for multi-fidelity runs.
    pub budget: Option<f64>,
    /// The `CUDA_VISIBLE_DEVICES` it was given (GPU spreading), if any.
    pub gpus: Option<String>,
}

/// A worker joining or leaving.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerEvent {
    /// When it happened.
    pub at: f64,
    /// The worker's name.
    pub worker: String,
    /// `joined` or `left`.
    pub kind: String,
    /// Why it left (death, silence, shutdown), empty for joins.
    pub reason: String,
}

/// A trial that finished (or was lost with its worker).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinishedTrial {
    /// The worker that ran it.
    pub worker: String,
    /// When it was sent to the worker.
    pub started_at: f64,
    /// When its result (or the worker's loss) arrived.
    pub ended_at: f64,
    /// SMAC3's status name (`SUCCESS`, `CRASHED`, …; `LOST` when the worker died).
    pub status: String,
}

/// The bounded logs behind the view.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    pub started_at: f64,
    pub events: VecDeque<WorkerEvent>,
    pub finished: VecDeque<FinishedTrial>,
}

impl ActivityLog {
    pub fn new() -> Self {
        ActivityLog { started_at: smac_core::trial::unix_now(), ..Default::default() }
    }

    pub fn worker_event(&mut self, worker: &str, kind: &str, reason: &str) {
        let at = smac_core::trial::unix_now();
        let event = WorkerEvent { at, worker: worker.into(), kind: kind.into(), reason: reason.into() };
        push_bounded(&mut self.events, event, MAX_WORKER_EVENTS);
    }

    pub fn finished(&mut self, worker: &str, started_at: f64, status: &str) {
        let ended_at = smac_core::trial::unix_now();
        let trial = FinishedTrial { worker: worker.into(), started_at, ended_at, status: status.into() };
        push_bounded(&mut self.finished, trial, MAX_FINISHED);
    }
}

/// Appends `item`, dropping the oldest entry once `log` holds `max`.
fn push_bounded<T>(log: &mut VecDeque<T>, item: T, max: usize) {
    if log.len() == max {
        log.pop_front();
    }
    log.push_back(item);
}

impl Scheduler {
    /// Builds the view from the current state.
    pub(super) fn view(&self) -> ClusterView {
        let mut workers: Vec<WorkerView> = self
            .workers
            .values()
            .map(|w| {
                let running = w.busy.and_then(|key| self.running.get(&key)).map(|r| {
                    let t = &r.pending.trial;
                    RunningTrial {
                        runner_id: r.pending.runner_id,
                        started_at: r.started_at,
                        config: t.config.to_json(),
                        instance: t.instance.clone(),
                        seed: t.seed,
                        budget: t.budget,
                        gpus: r
                            .pending
                            .env
                            .iter()
                            .find(|(k, _)| k == CUDA_VISIBLE_DEVICES)
                            .map(|(_, v)| v.clone()),
                    }
                });
                WorkerView {
                    name: w.name.clone(),
                    thread: w.thread,
                    joined_at: w.joined_at,
                    resources: w.resources.iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    trials: w.trials,
                    busy_seconds: w.busy_seconds,
                    running,
                }
            })
            .collect();
        workers.sort_by(|a, b| a.joined_at.total_cmp(&b.joined_at).then_with(|| a.name.cmp(&b.name)));
        ClusterView {
            taken_at: smac_core::trial::unix_now(),
            started_at: self.log.started_at,
            workers,
            events: self.log.events.iter().cloned().collect(),
            finished: self.log.finished.iter().cloned().collect(),
            queued: self.pending.len(),
            runners: self.runners.len(),
            stats: self.shared.stats.snapshot(),
        }
    }
}
