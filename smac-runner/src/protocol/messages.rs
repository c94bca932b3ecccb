//! Scheduler ↔ worker messages.

use super::Blob;
use crate::resources::Resources;
use serde::{Deserialize, Serialize};
use smac_core::{ConfigSpace, Configuration, TrialInfo, TrialValue, Value};
use std::sync::Arc;

/// Per-trial limits a worker enforces on in-process Rust targets (command targets enforce
/// their own on the child process).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialLimits {
    /// Wall-clock seconds one trial may take.
    pub walltime_s: Option<f64>,
    /// Megabytes the worker's resident memory may grow by during one trial.
    pub memory_mb: Option<u64>,
}

/// A trial on the wire: the configuration's values refer to a space sent earlier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireTrial {
    /// Id of a space previously sent on this connection.
    pub space_id: u32,
    /// One entry per hyperparameter of the space, `None` when inactive.
    pub values: Vec<Option<Value>>,
    /// Where the configuration came from (informational).
    pub origin: Option<String>,
    /// The instance.
    pub instance: Option<String>,
    /// The seed.
    pub seed: Option<u64>,
    /// The budget.
    pub budget: Option<f64>,
}

impl WireTrial {
    /// The wire form of `trial`, whose space is known to the peer as `space_id`.
    pub fn from_trial(trial: &TrialInfo, space_id: u32) -> WireTrial {
        let config = &trial.config;
        let values =
            config.space().hyperparameters().iter().map(|hp| config.get(&hp.name).cloned()).collect();
        WireTrial {
            space_id,
            values,
            origin: config.origin().map(str::to_string),
            instance: trial.instance.clone(),
            seed: trial.seed,
            budget: trial.budget,
        }
    }

    /// Rebuilds (and validates) the trial against its space.
    pub fn into_trial(self, space: &Arc<ConfigSpace>) -> Result<TrialInfo, String> {
        if self.values.len() != space.len() {
            return Err(format!(
                "trial has {} values for the {} hyperparameters of its space",
                self.values.len(),
                space.len()
            ));
        }
        let pairs =
            space.hyperparameters().iter().zip(self.values).filter_map(|(hp, v)| v.map(|v| (&hp.name, v)));
        let mut config = Configuration::new(space, pairs).map_err(|e| e.to_string())?;
        if let Some(origin) = self.origin {
            config.set_origin(origin);
        }
        Ok(TrialInfo { config, instance: self.instance, seed: self.seed, budget: self.budget })
    }
}

/// Messages from the scheduler to a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Accepts the handshake and tells the worker its id and heartbeat timing.
    Welcome {
        /// The scheduler's id for this worker.
        worker_id: u64,
        /// How often the worker sends heartbeats.
        heartbeat_interval_ms: u64,
        /// Silence after which the scheduler declares the worker dead.
        heartbeat_timeout_ms: u64,
    },
    /// Liveness signal; carries nothing.
    Heartbeat,
    /// The serialized target of one parallel runner, sent once per worker.
    SetRunner {
        /// The parallel runner's id, repeated in each [`ToWorker::Run`].
        runner_id: u64,
        /// The target type's declared name ([`crate::ShippableTarget::NAME`]).
        tag: String,
        /// The bincode-serialized target.
        payload: Blob,
        /// Limits to enforce on each trial.
        limits: TrialLimits,
    },
    /// The parallel runner is gone; the worker frees its target and scattered data.
    DropRunner {
        /// The parallel runner's id.
        runner_id: u64,
    },
    /// A configuration space later trials refer to by id.
    Space {
        /// Connection-local id of the space.
        space_id: u32,
        /// The space.
        space: ConfigSpace,
    },
    /// A named blob of one runner, which its targets read with [`crate::worker::scattered`];
    /// sent before the runner's first trial on this worker, freed with [`ToWorker::DropRunner`].
    Scatter {
        /// The runner the blob belongs to.
        runner_id: u64,
        /// The name targets look the blob up by.
        name: String,
        /// The blob.
        data: Blob,
    },
    /// Runs one trial with the runner `runner_id` and answers with [`ToScheduler::Result`].
    Run {
        /// Identifies this dispatch; the result carries it back.
        key: u64,
        /// Which runner evaluates the trial.
        runner_id: u64,
        /// The trial.
        trial: WireTrial,
        /// Environment variables set in the worker process while this trial runs (e.g. the
        /// `CUDA_VISIBLE_DEVICES` of `single_node_with_gpus`).
        env: Vec<(String, String)>,
    },
    /// Asks the worker to exit.
    Shutdown,
}

/// Messages from a worker to the scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToScheduler {
    /// Sent once after the handshake: what the worker can run and who it is.
    Hello {
        /// Declared names of the target types the worker can decode.
        tags: Vec<String>,
        /// The worker's process id.
        pid: u32,
        /// The worker's host name.
        host: String,
        /// What the worker offers to trials that claim resources.
        resources: Resources,
    },
    /// Liveness signal; carries nothing.
    Heartbeat,
    /// The outcome of [`ToWorker::Run`] `key`.
    Result {
        /// The `key` of the [`ToWorker::Run`].
        key: u64,
        /// The trial's value.
        value: TrialValue,
    },
    /// The worker cannot run this runner's target (unknown type or undecodable payload).
    RunnerRejected {
        /// The runner's id.
        runner_id: u64,
        /// Why.
        message: String,
    },
}
