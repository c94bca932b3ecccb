//! [`ParallelOptions`]: the settings of a parallel run, the same for every backend.

use crate::resources::Resources;
use smac_core::Scenario;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Options of a [`crate::DaskStyleParallelRunner`], whatever its backend.
#[derive(Clone, Debug)]
pub struct ParallelOptions {
    /// How long a submit waits for a worker when none is connected (SMAC3's `patience`).
    pub patience: Duration,
    /// Deliver results in submission order for reproducible runs (default: as they finish).
    pub reproducible: bool,
    /// How often a trial lost with its worker is run again before it is reported as crashed.
    pub max_retries: u32,
    /// Walltime limit per trial in seconds (status `Timeout`).
    pub trial_walltime_limit: Option<f64>,
    /// Memory limit per trial in MB (status `MemoryOut`).
    pub trial_memory_limit: Option<u64>,
    /// Resources each trial claims (Dask's `resources=`, e.g. `GPU=1`): trials only go to
    /// workers that advertise at least that much.
    pub resources: Resources,
    /// DEHB's `single_node_with_gpus`: give each trial `CUDA_VISIBLE_DEVICES` listing first
    /// the device with the fewest active trials of this run ([`crate::core::gpu`]).
    pub single_node_with_gpus: bool,
    /// The devices for `single_node_with_gpus` (default: discovered from
    /// `CUDA_VISIBLE_DEVICES` or `nvidia-smi -L`).
    pub gpu_devices: Option<Vec<String>>,
    /// Set (e.g. by a Ctrl-C handler) to end a wait for a worker at once with
    /// `RunnerError::Interrupted`; running trials still finish and are collectable.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        ParallelOptions {
            patience: Duration::from_secs(5),
            reproducible: false,
            max_retries: 1,
            trial_walltime_limit: None,
            trial_memory_limit: None,
            resources: Resources::new(),
            single_node_with_gpus: false,
            gpu_devices: None,
            interrupt: None,
        }
    }
}

impl ParallelOptions {
    /// Default options with `patience`.
    pub fn with_patience(patience: Duration) -> Self {
        ParallelOptions { patience, ..Default::default() }
    }

    /// Default options with the scenario's per-trial limits.
    pub fn from_scenario(scenario: &Scenario) -> Self {
        ParallelOptions {
            trial_walltime_limit: scenario.trial_walltime_limit,
            trial_memory_limit: scenario.trial_memory_limit,
            ..Default::default()
        }
    }
}
