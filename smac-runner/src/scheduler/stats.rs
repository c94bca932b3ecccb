//! Scheduler counters: what was sent, retried and lost, for monitoring and for tests that
//! check data is shipped once per worker.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic event counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub workers_joined: AtomicU64,
    pub workers_lost: AtomicU64,
    pub handshakes_rejected: AtomicU64,
    pub frames_rejected: AtomicU64,
    pub trials_dispatched: AtomicU64,
    pub trials_retried: AtomicU64,
    pub trials_completed: AtomicU64,
    pub runner_transfers: AtomicU64,
    pub scatter_transfers: AtomicU64,
    pub space_transfers: AtomicU64,
}

/// A snapshot of a scheduler's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerStats {
    /// Workers that completed the handshake (or in-process workers started).
    pub workers_joined: u64,
    /// Workers that died, went silent or were retired.
    pub workers_lost: u64,
    /// Connections refused at the handshake (wrong token, garbage, timeout).
    pub handshakes_rejected: u64,
    /// Connections closed because of an invalid frame after the handshake.
    pub frames_rejected: u64,
    /// Trials sent to workers (retries included).
    pub trials_dispatched: u64,
    /// Trials re-sent because their worker died.
    pub trials_retried: u64,
    /// Trials reported back to runners.
    pub trials_completed: u64,
    /// Single-worker runners sent to workers (once per worker and runner).
    pub runner_transfers: u64,
    /// Scattered blobs sent to workers (once per worker and name).
    pub scatter_transfers: u64,
    /// Configuration spaces sent to worker processes (once per connection and space).
    pub space_transfers: u64,
}

impl Counters {
    /// A consistent-enough copy of the counters (each is read atomically).
    pub fn snapshot(&self) -> SchedulerStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SchedulerStats {
            workers_joined: g(&self.workers_joined),
            workers_lost: g(&self.workers_lost),
            handshakes_rejected: g(&self.handshakes_rejected),
            frames_rejected: g(&self.frames_rejected),
            trials_dispatched: g(&self.trials_dispatched),
            trials_retried: g(&self.trials_retried),
            trials_completed: g(&self.trials_completed),
            runner_transfers: g(&self.runner_transfers),
            scatter_transfers: g(&self.scatter_transfers),
            space_transfers: g(&self.space_transfers),
        }
    }
}

impl Counters {
    /// Overwrites the counters with a snapshot (a remote client mirrors its scheduler's).
    pub fn store(&self, s: &SchedulerStats) {
        let p = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        p(&self.workers_joined, s.workers_joined);
        p(&self.workers_lost, s.workers_lost);
        p(&self.handshakes_rejected, s.handshakes_rejected);
        p(&self.frames_rejected, s.frames_rejected);
        p(&self.trials_dispatched, s.trials_dispatched);
        p(&self.trials_retried, s.trials_retried);
        p(&self.trials_completed, s.trials_completed);
        p(&self.runner_transfers, s.runner_transfers);
        p(&self.scatter_transfers, s.scatter_transfers);
        p(&self.space_transfers, s.space_transfers);
    }
}

/// Adds one to a counter.
pub(crate) fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}
