//! Client ↔ scheduler messages: an optimizer process attached to a running scheduler
//! ([`crate::Client::connect`]).
//!
//! Runner ids and trial sequence numbers are the client's own; the scheduler maps them to its
//! global ids, so several clients never collide. The scheduler never decodes a runner payload:
//! it forwards the bytes to workers that announced the target's declared name.

use super::{Blob, TrialLimits, WireTrial};
use crate::resources::Resources;
use crate::scheduler::stats::SchedulerStats;
use serde::{Deserialize, Serialize};
use smac_core::{ConfigSpace, TrialValue};

/// Messages from a remote client to the scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromClient {
    /// Registers a parallel runner with its serialized target.
    Attach {
        /// The client's id for the runner.
        runner_id: u64,
        /// The target type's declared name ([`crate::ShippableTarget::NAME`]).
        tag: String,
        /// The bincode-serialized target, opaque to the scheduler.
        payload: Blob,
        /// Limits workers enforce per trial.
        limits: TrialLimits,
        /// Resources each trial claims on its worker.
        resources: Resources,
        /// How long queued trials wait for a usable worker before they fail.
        patience_ms: u64,
    },
    /// The runner is closed; its queued trials are dropped.
    Detach {
        /// The client's id for the runner.
        runner_id: u64,
    },
    /// A configuration space later trials refer to by id.
    Space {
        /// Connection-local id of the space.
        space_id: u32,
        /// The space.
        space: ConfigSpace,
    },
    /// Queues one trial.
    Submit {
        /// The client's id for the runner.
        runner_id: u64,
        /// The trial's sequence number within its runner; the result carries it back.
        seq: u64,
        /// The trial.
        trial: WireTrial,
        /// Environment variables the worker sets while the trial runs.
        env: Vec<(String, String)>,
    },
    /// A named blob for the workers that run this runner's trials; freed when it detaches.
    Scatter {
        /// The client's id for the runner the blob belongs to.
        runner_id: u64,
        /// The name targets look the blob up by.
        name: String,
        /// The blob.
        data: Blob,
    },
    /// Liveness signal; carries nothing.
    Heartbeat,
}

/// Messages from the scheduler to a remote client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToClient {
    /// Accepts the handshake and tells the heartbeat timing.
    Welcome {
        /// How often each side sends heartbeats.
        heartbeat_interval_ms: u64,
        /// Silence after which the scheduler declares a worker dead.
        heartbeat_timeout_ms: u64,
    },
    /// Liveness signal; carries nothing.
    Heartbeat,
    /// The cluster's state, sent when it changes.
    Status {
        /// Workers connected to the scheduler.
        n_workers: u64,
        /// The scheduler's counters.
        stats: SchedulerStats,
    },
    /// The number of workers able to run a runner's trials changed.
    Workers {
        /// The client's id for the runner.
        runner_id: u64,
        /// Usable workers now.
        n: u64,
    },
    /// The target reported a value for a trial (success or its own failure).
    Result {
        /// The client's id for the runner.
        runner_id: u64,
        /// The trial's sequence number.
        seq: u64,
        /// Its value.
        value: TrialValue,
    },
    /// A trial was lost with its worker (or found none); the client's runner decides what next.
    Lost {
        /// The client's id for the runner.
        runner_id: u64,
        /// The trial's sequence number.
        seq: u64,
        /// What happened.
        reason: String,
    },
}
