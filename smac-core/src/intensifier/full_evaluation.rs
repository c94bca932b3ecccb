//! An intensifier without racing: every configuration runs on the same fixed set of
//! instance-seed pairs, and the incumbent is the best fully evaluated configuration.
//!
//! This is the right choice for deterministic targets without instances (then it is exactly
//! what SMAC3's racing intensifier degenerates to: one trial per configuration) and for random
//! search. Racing, which stops bad challengers after a few pairs, belongs to the SMAC3-style
//! intensifier.

use super::{best_of, trial_seeds, Intensifier, NextTrial};
use crate::config_selector::ConfigSelector;
use crate::configspace::Configuration;
use crate::error::SmacError;
use crate::runhistory::dominates;
use crate::runhistory::{ConfigId, RunHistory};
use crate::scenario::Scenario;
use crate::trial::{TrialInfo, TrialValue};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeSet, VecDeque};

/// Evaluates each configuration on all instance-seed pairs; no racing.
pub struct FullEvaluationIntensifier {
    pairs: Vec<(Option<String>, u64)>,
    budget: Option<f64>,
    queue: VecDeque<TrialInfo>,
    /// Fully evaluated configurations, ordered by id so that incumbent order is deterministic.
    complete: BTreeSet<ConfigId>,
    incumbents: Vec<Configuration>,
    incumbent_ids: Vec<ConfigId>,
}

impl FullEvaluationIntensifier {
    /// Pairs from the scenario: every instance (or none) × one seed when deterministic, else
    /// `n_seeds` seeds.
    pub fn new(scenario: &Scenario, n_seeds: usize) -> Self {
        let n_seeds = if scenario.deterministic { 1 } else { n_seeds.max(1) };
        let seeds = trial_seeds(scenario.seed, n_seeds);
        let instances: Vec<Option<String>> = match &scenario.instances {
            Some(list) => list.iter().cloned().map(Some).collect(),
            None => vec![None],
        };
        let pairs = instances.iter().flat_map(|i| seeds.iter().map(move |s| (i.clone(), *s))).collect();
        FullEvaluationIntensifier {
            pairs,
            budget: scenario.max_budget,
            queue: VecDeque::new(),
            complete: BTreeSet::new(),
            incumbents: Vec::new(),
            incumbent_ids: Vec::new(),
        }
    }

    /// The instance-seed pairs every configuration runs on.
    pub fn pairs(&self) -> &[(Option<String>, u64)] {
        &self.pairs
    }

    fn refresh(&mut self, runhistory: &RunHistory) {
        let complete: Vec<ConfigId> = self.complete.iter().copied().collect();
        self.incumbent_ids = best_of(runhistory, &complete);
        self.sync_configs(runhistory);
    }

    fn sync_configs(&mut self, runhistory: &RunHistory) {
        self.incumbents =
            self.incumbent_ids.iter().filter_map(|id| runhistory.config(*id).cloned()).collect();
    }

    /// Folds a newly complete configuration into the incumbents in O(incumbents), so a long run
    /// does not rescan every configuration after each result.
    fn admit(&mut self, runhistory: &RunHistory, id: ConfigId) {
        let Some(cost) = runhistory.average_cost(id) else { return };
        let costs: Vec<Vec<f64>> =
            self.incumbent_ids.iter().map(|i| runhistory.average_cost(*i).unwrap_or_default()).collect();
        if runhistory.n_objectives() == 1 {
            // Ties keep the older incumbent, as a full rescan would.
            if costs.first().is_none_or(|best| cost[0] < best[0]) {
                self.incumbent_ids = vec![id];
                self.sync_configs(runhistory);
            }
        } else if !costs.iter().any(|c| dominates(c, &cost)) {
            let keep: Vec<ConfigId> = self
                .incumbent_ids
                .iter()
                .zip(&costs)
                .filter(|(_, c)| !dominates(&cost, c))
                .map(|(i, _)| *i)
                .collect();
            self.incumbent_ids = keep;
            self.incumbent_ids.push(id);
            self.incumbent_ids.sort_unstable();
            self.sync_configs(runhistory);
        }
    }
}

impl Intensifier for FullEvaluationIntensifier {
    fn next_trial(
        &mut self,
        runhistory: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<NextTrial, SmacError> {
        if self.queue.is_empty() {
            let Some(config) = selector.next(runhistory, &self.incumbents, rng)? else {
                return Ok(NextTrial::Exhausted);
            };
            for (instance, seed) in &self.pairs {
                self.queue.push_back(TrialInfo {
                    config: config.clone(),
                    instance: instance.clone(),
                    seed: Some(*seed),
                    budget: self.budget,
                });
            }
        }
        Ok(self.queue.pop_front().map_or(NextTrial::Exhausted, NextTrial::Run))
    }

    fn on_result(&mut self, runhistory: &RunHistory, trial: &TrialInfo, _value: &TrialValue) {
        let Some(id) = runhistory.config_id(&trial.config) else { return };
        if !self.complete.contains(&id) && runhistory.n_trials_of(id) >= self.pairs.len() {
            self.complete.insert(id);
            self.admit(runhistory, id);
        } else if self.incumbent_ids.contains(&id) {
            // An incumbent's cost changed (a re-told trial): only a full rescan is exact.
            self.refresh(runhistory);
        }
    }

    fn incumbents(&self) -> &[Configuration] {
        &self.incumbents
    }

    fn restore(&mut self, runhistory: &RunHistory) {
        self.queue.clear();
        self.complete = (1..=runhistory.configs().len())
            .filter(|id| runhistory.n_trials_of(*id) >= self.pairs.len())
            .collect();
        // Configurations cut short by a stop are finished first, so no evaluation is wasted.
        for id in 1..=runhistory.configs().len() {
            if self.complete.contains(&id) {
                continue;
            }
            let config = runhistory.config(id).expect("ids are dense");
            for (instance, seed) in &self.pairs {
                let t = TrialInfo {
                    config: config.clone(),
                    instance: instance.clone(),
                    seed: Some(*seed),
                    budget: self.budget,
                };
                if !runhistory.contains(&t) {
                    self.queue.push_back(t);
                }
            }
        }
        self.refresh(runhistory);
    }
}
