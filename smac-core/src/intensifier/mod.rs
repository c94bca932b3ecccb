//! Intensifiers decide which trials to run (configuration × instance × seed × budget) and which
//! configurations are the incumbents.
//!
//! The SMBO loop asks the intensifier for trials whenever a worker is free, and the intensifier
//! pulls new configurations from the [`ConfigSelector`] when it has nothing else to run.

mod full_evaluation;
pub mod hyperband;
pub mod incumbents;
pub mod racing;
pub mod successive_halving;

pub use full_evaluation::FullEvaluationIntensifier;
pub use hyperband::{Hyperband, Schedule};
pub use incumbents::{IncumbentSelection, IncumbentTracker, Pair};
pub use racing::Intensifier as RacingIntensifier;
pub use successive_halving::{InstanceOrder, SuccessiveHalving, SuccessiveHalvingOptions};

use crate::config_selector::ConfigSelector;
use crate::configspace::Configuration;
use crate::error::SmacError;
use crate::runhistory::{dominates, ConfigId, RunHistory};
use crate::trial::{TrialInfo, TrialValue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What an intensifier offers when asked for the next trial.
#[derive(Clone, Debug, PartialEq)]
pub enum NextTrial {
    /// Run this trial.
    Run(TrialInfo),
    /// Nothing can start until running trials report; ask again after the next result.
    Wait,
    /// The space is exhausted: every configuration was tried, nothing is left to race.
    Exhausted,
}

impl NextTrial {
    /// `Wait` while trials are running, `Exhausted` otherwise: what "no trial found" means.
    pub fn none_found(runhistory: &RunHistory) -> Self {
        if runhistory.n_running() > 0 {
            NextTrial::Wait
        } else {
            NextTrial::Exhausted
        }
    }
}

/// Chooses trials and maintains incumbents.
pub trait Intensifier: Send {
    /// The next trial to run, or whether to wait for results or stop (see [`NextTrial`]).
    fn next_trial(
        &mut self,
        runhistory: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<NextTrial, SmacError>;

    /// Takes note of a finished trial (already recorded in `runhistory`).
    fn on_result(&mut self, runhistory: &RunHistory, trial: &TrialInfo, value: &TrialValue);

    /// The current incumbents: one configuration for a single objective, the Pareto front of
    /// the fully evaluated configurations for several.
    fn incumbents(&self) -> &[Configuration];

    /// Rebuilds the state from a run history (after a restart).
    fn restore(&mut self, runhistory: &RunHistory);

    /// Extra state for `intensifier.json`.
    fn state_json(&self) -> serde_json::Value {
        serde_json::Value::Object(Default::default())
    }
}

/// The seeds of a run: drawn from the scenario seed so a restarted run uses the same ones.
pub fn trial_seeds(scenario_seed: u64, n: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(scenario_seed ^ 0x5eed_5eed);
    (0..n).map(|_| rng.random_range(0..i32::MAX as u64)).collect()
}

/// The best configurations among `candidates` by average cost: the single best for one
/// objective (ties to the earlier id), the non-dominated set for several.
pub fn best_of(runhistory: &RunHistory, candidates: &[ConfigId]) -> Vec<ConfigId> {
    let costs: Vec<(ConfigId, Vec<f64>)> =
        candidates.iter().filter_map(|id| runhistory.average_cost(*id).map(|c| (*id, c))).collect();
    if runhistory.n_objectives() == 1 {
        costs
            .iter()
            .min_by(|a, b| a.1[0].total_cmp(&b.1[0]).then(a.0.cmp(&b.0)))
            .map(|(id, _)| vec![*id])
            .unwrap_or_default()
    } else {
        costs.iter().filter(|(_, c)| !costs.iter().any(|(_, o)| dominates(o, c))).map(|(id, _)| *id).collect()
    }
}
