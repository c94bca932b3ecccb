//! Hyperband (Li et al., 2018): successive halving over several brackets that trade the number
//! of configurations against the budget they start on, with SMAC3's exact schedule and rounding.
//!
//! For `min_budget = 1`, `max_budget = 81`, `eta = 3` the brackets are
//! `s = 4: 81×1, 27×3, 9×9, 3×27, 1×81`; `s = 3: 34×3, 11×9, 3×27, 1×81`; `s = 2: 15×9, 5×27,
//! 1×81`; `s = 1: 8×27, 2×81`; `s = 0: 5×81` (configurations × budget per stage). New batches
//! cycle through the brackets; all the rest is [`SuccessiveHalving`].

use super::successive_halving::{SuccessiveHalving, SuccessiveHalvingOptions};
use super::{Intensifier, NextTrial};
use crate::config_selector::ConfigSelector;
use crate::configspace::Configuration;
use crate::error::SmacError;
use crate::runhistory::RunHistory;
use crate::scenario::Scenario;
use crate::trial::{TrialInfo, TrialValue};
use rand_chacha::ChaCha8Rng;

/// Stages of every bracket: budget and number of configurations per stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Per bracket, the budget of each stage (increasing).
    pub budgets: Vec<Vec<f64>>,
    /// Per bracket, the number of configurations of each stage (decreasing).
    pub n_configs: Vec<Vec<usize>>,
}

/// `⌊log_eta(max/min)⌋`, SMAC3's `_get_max_iterations`.
pub fn max_iterations(eta: usize, max_budget: f64, min_budget: f64) -> usize {
    ((max_budget / min_budget).ln() / (eta as f64).ln()).floor().max(0.0) as usize
}

/// Budgets and sizes of the `max_iter + 1` stages of one bracket, SMAC3's
/// `_compute_configs_and_budgets_for_stages`.
pub fn stages(eta: usize, max_budget: f64, max_iter: usize, s_max: usize) -> (Vec<f64>, Vec<usize>) {
    let eta_f = eta as f64;
    let n_initial = ((eta as f64).powi(max_iter as i32) * (s_max + 1) as f64 / (max_iter + 1) as f64).ceil();
    let n_configs = (0..=max_iter).map(|k| (n_initial * eta_f.powf(-(k as f64))).floor() as usize).collect();
    let budgets = (0..=max_iter).rev().map(|k| max_budget * eta_f.powf(-(k as f64))).collect();
    (budgets, n_configs)
}

impl Schedule {
    /// Successive halving: one bracket from `min_budget` to `max_budget`.
    pub fn successive_halving(eta: usize, min_budget: f64, max_budget: f64) -> Self {
        let max_iter = max_iterations(eta, max_budget, min_budget);
        let (b, n) = stages(eta, max_budget, max_iter, max_iter);
        Schedule { budgets: vec![b], n_configs: vec![n] }
    }

    /// Hyperband: brackets `s = s_max, …, 0` (index 0 is the most aggressive one).
    pub fn hyperband(eta: usize, min_budget: f64, max_budget: f64) -> Self {
        let s_max = max_iterations(eta, max_budget, min_budget);
        let (budgets, n_configs) = (0..=s_max).map(|i| stages(eta, max_budget, s_max - i, s_max)).unzip();
        Schedule { budgets, n_configs }
    }

    /// Number of brackets.
    pub fn n_brackets(&self) -> usize {
        self.budgets.len()
    }

    /// Trials of one round through all brackets.
    pub fn trials_per_round(&self) -> usize {
        self.n_configs.iter().flatten().sum()
    }
}

/// SMAC3's `Hyperband` intensifier: [`SuccessiveHalving`] with a bracket per `s`.
pub struct Hyperband(SuccessiveHalving);

impl Hyperband {
    /// Hyperband with SMAC3's defaults (`eta = 3`, one seed, instance order shuffled once,
    /// incumbents on the highest observed budget).
    pub fn new(scenario: &Scenario) -> Self {
        Self::with_options(scenario, SuccessiveHalvingOptions::default())
    }

    /// Hyperband with the given options.
    pub fn with_options(scenario: &Scenario, options: SuccessiveHalvingOptions) -> Self {
        Hyperband(SuccessiveHalving::build(scenario, options, true))
    }

    /// The underlying successive-halving machinery.
    pub fn inner(&self) -> &SuccessiveHalving {
        &self.0
    }
}

impl Intensifier for Hyperband {
    fn next_trial(
        &mut self,
        rh: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<NextTrial, SmacError> {
        self.0.next_trial(rh, selector, rng)
    }
    fn on_result(&mut self, rh: &RunHistory, trial: &TrialInfo, value: &TrialValue) {
        self.0.on_result(rh, trial, value)
    }
    fn incumbents(&self) -> &[Configuration] {
        self.0.incumbents()
    }
    fn restore(&mut self, rh: &RunHistory) {
        self.0.restore(rh)
    }
    fn state_json(&self) -> serde_json::Value {
        self.0.state_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_li_et_al() {
        let s = Schedule::hyperband(3, 1.0, 81.0);
        assert_eq!(
            s.n_configs,
            vec![vec![81, 27, 9, 3, 1], vec![34, 11, 3, 1], vec![15, 5, 1], vec![8, 2], vec![5]]
        );
        assert_eq!(s.budgets[0], vec![1.0, 3.0, 9.0, 27.0, 81.0]);
        assert_eq!(s.budgets[1], vec![3.0, 9.0, 27.0, 81.0]);
        assert_eq!(s.budgets[4], vec![81.0]);
        assert_eq!(s.trials_per_round(), 206);
    }

    #[test]
    fn schedule_rounds_like_smac3() {
        // Values printed by SMAC3's formulas in Python.
        let s = Schedule::hyperband(3, 1.0, 100.0);
        assert_eq!(
            s.budgets[0],
            vec![1.2345679012345678, 3.7037037037037033, 11.11111111111111, 33.33333333333333, 100.0]
        );
        let s = Schedule::hyperband(2, 0.1, 1.0);
        assert_eq!(s.n_configs, vec![vec![8, 4, 2, 1], vec![6, 3, 1], vec![4, 2], vec![4]]);
        assert_eq!(s.budgets[0], vec![0.125, 0.25, 0.5, 1.0]);
        let sh = Schedule::successive_halving(3, 1.0, 9.0);
        assert_eq!((sh.n_configs, sh.budgets), (vec![vec![9, 3, 1]], vec![vec![1.0, 3.0, 9.0]]));
    }
}
