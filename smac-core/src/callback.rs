//! Callbacks: hooks into the optimization loop (logging, progress bars, custom stopping).

use crate::configspace::Configuration;
use crate::run_directory::TrajectoryEntry;
use crate::runhistory::RunHistory;
use crate::scenario::Scenario;
use crate::trial::{TrialInfo, TrialValue};

/// A read-only view of the run that callbacks receive.
pub struct RunState<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Every trial so far.
    pub runhistory: &'a RunHistory,
    /// The current incumbents (one for single-objective runs, the Pareto front otherwise).
    pub incumbents: &'a [Configuration],
    /// Wall-clock seconds used by this run (including earlier sessions of a restarted run).
    pub elapsed: f64,
    /// Workers connected to the runner right now (1 for in-process runs).
    pub n_workers: usize,
    /// The incumbent changes so far (SMAC3's `intensifier.trajectory`).
    pub trajectory: &'a [TrajectoryEntry],
}

/// Hooks called by the SMBO loop; every method has a no-op default.
pub trait Callback: Send {
    /// Before the first trial.
    fn on_start(&mut self, _state: &RunState<'_>) {}
    /// Before the intensifier is asked for a trial (SMAC3's `on_ask_start`).
    fn on_ask_start(&mut self, _state: &RunState<'_>) {}
    /// After a trial was asked for.
    fn on_ask(&mut self, _state: &RunState<'_>, _trial: &TrialInfo) {}
    /// Before the config selector looks for a new configuration: before the surrogate is
    /// trained and the acquisition maximized, when it comes to that (SMAC3's
    /// `on_next_configurations_start`). Called during an ask, only when the intensifier needs a
    /// configuration it has not run yet.
    fn on_next_configurations_start(&mut self) {}
    /// The config selector chose `config` (from the initial design, the model or at random;
    /// SMAC3's `on_next_configurations_end`).
    fn on_next_configurations_end(&mut self, _config: &Configuration) {}
    /// Before a result is recorded (SMAC3's `on_tell_start`).
    fn on_tell_start(&mut self, _state: &RunState<'_>, _trial: &TrialInfo, _value: &TrialValue) {}
    /// After a result was recorded; return `false` to stop the optimization.
    fn on_tell(&mut self, _state: &RunState<'_>, _trial: &TrialInfo, _value: &TrialValue) -> bool {
        true
    }
    /// After the optimization ended.
    fn on_end(&mut self, _state: &RunState<'_>) {}
}
