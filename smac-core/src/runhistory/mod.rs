//! The run history: every trial and its result, the configurations by id, and per-configuration
//! aggregates that the intensifier and the surrogate read.
//!
//! Configuration ids start at 1 and are assigned in order of first appearance, as in SMAC3.
//! Aggregates are kept incrementally (running sums per configuration and budget), so `tell` and
//! cost look-ups are O(1) however long the run gets.

mod persist;

pub use persist::RunHistoryError;

use crate::configspace::Configuration;
use crate::trial::{StatusType, TrialInfo, TrialValue};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// Id of a configuration within a run history (1-based).
pub type ConfigId = usize;

/// Identifies one trial: a configuration on an instance with a seed and a budget.
#[derive(Clone, Debug)]
pub struct TrialKey {
    /// The configuration's id.
    pub config_id: ConfigId,
    /// The instance, if any.
    pub instance: Option<String>,
    /// The seed, if any.
    pub seed: Option<u64>,
    /// The budget, if any.
    pub budget: Option<f64>,
}

impl PartialEq for TrialKey {
    fn eq(&self, o: &Self) -> bool {
        self.config_id == o.config_id
            && self.instance == o.instance
            && self.seed == o.seed
            && self.budget.map(f64::to_bits) == o.budget.map(f64::to_bits)
    }
}
impl Eq for TrialKey {}
impl Hash for TrialKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.config_id.hash(h);
        self.instance.hash(h);
        self.seed.hash(h);
        self.budget.map(f64::to_bits).hash(h);
    }
}

/// Running aggregate of one configuration's finished trials at one budget.
#[derive(Clone, Debug, Default)]
struct Aggregate {
    budget: Option<f64>,
    n: usize,
    sum: Vec<f64>,
}

/// Every trial of a run with its result.
#[derive(Clone, Debug)]
pub struct RunHistory {
    n_objectives: usize,
    configs: Vec<Configuration>,
    ids: HashMap<Configuration, ConfigId>,
    data: Vec<(TrialKey, TrialValue)>,
    index: HashMap<TrialKey, usize>,
    running: HashMap<TrialKey, TrialInfo>,
    /// Per config (id − 1): aggregates per budget, in order of first appearance.
    aggregates: Vec<Vec<Aggregate>>,
    /// Observed (min, max) of successful costs per objective, for normalization.
    bounds: Vec<(f64, f64)>,
    submitted: usize,
    /// `data` and its configurations as `runhistory.json` renders them, filled in lazily when
    /// the file is written.
    rendered: persist::RenderCache,
}

impl RunHistory {
    /// An empty run history for `n_objectives` objectives.
    pub fn new(n_objectives: usize) -> Self {
        RunHistory {
            n_objectives,
            configs: Vec::new(),
            ids: HashMap::new(),
            data: Vec::new(),
            index: HashMap::new(),
            running: HashMap::new(),
            aggregates: Vec::new(),
            bounds: vec![(f64::INFINITY, f64::NEG_INFINITY); n_objectives],
            submitted: 0,
            rendered: persist::RenderCache::default(),
        }
    }

    /// Number of objectives.
    pub fn n_objectives(&self) -> usize {
        self.n_objectives
    }

    /// The id of a configuration, registering it if new.
    pub fn add_config(&mut self, config: &Configuration) -> ConfigId {
        if let Some(id) = self.ids.get(config) {
            return *id;
        }
        self.configs.push(config.clone());
        self.aggregates.push(Vec::new());
        let id = self.configs.len();
        self.ids.insert(config.clone(), id);
        id
    }

    /// The id of a known configuration.
    pub fn config_id(&self, config: &Configuration) -> Option<ConfigId> {
        self.ids.get(config).copied()
    }

    /// The configuration with an id.
    pub fn config(&self, id: ConfigId) -> Option<&Configuration> {
        id.checked_sub(1).and_then(|i| self.configs.get(i))
    }

    /// All configurations in id order.
    pub fn configs(&self) -> &[Configuration] {
        &self.configs
    }

    /// The key of a trial (registering its configuration).
    pub fn key_of(&mut self, trial: &TrialInfo) -> TrialKey {
        TrialKey {
            config_id: self.add_config(&trial.config),
            instance: trial.instance.clone(),
            seed: trial.seed,
            budget: trial.budget,
        }
    }

    /// Marks a trial as submitted and running.
    pub fn add_running(&mut self, trial: &TrialInfo) {
        let key = self.key_of(trial);
        self.submitted += 1;
        self.running.insert(key, trial.clone());
    }

    /// Forgets a running trial that could not be started.
    pub fn cancel_running(&mut self, trial: &TrialInfo) {
        let key = self.key_of(trial);
        if self.running.remove(&key).is_some() {
            self.submitted -= 1;
        }
    }

    /// Records a finished trial. A repeated key replaces the earlier result (as SMAC3 does).
    pub fn add(&mut self, trial: &TrialInfo, value: TrialValue) -> TrialKey {
        let key = self.key_of(trial);
        if self.running.remove(&key).is_none() {
            // Told without being asked through us (ask/tell users, restarts): count it as submitted.
            self.submitted += 1;
        }
        if value.status == StatusType::Success {
            for (b, c) in self.bounds.iter_mut().zip(&value.cost) {
                b.0 = b.0.min(*c);
                b.1 = b.1.max(*c);
            }
        }
        let aggs = &mut self.aggregates[key.config_id - 1];
        let bits = key.budget.map(f64::to_bits);
        let pos = match aggs.iter().position(|a| a.budget.map(f64::to_bits) == bits) {
            Some(p) => p,
            None => {
                aggs.push(Aggregate { budget: key.budget, n: 0, sum: vec![0.0; self.n_objectives] });
                aggs.len() - 1
            }
        };
        let agg = &mut aggs[pos];
        if let Some(&old) = self.index.get(&key) {
            for (s, c) in agg.sum.iter_mut().zip(&self.data[old].1.cost) {
                *s -= c;
            }
            for (s, c) in agg.sum.iter_mut().zip(&value.cost) {
                *s += c;
            }
            self.rendered.invalidate(old);
            self.data[old].1 = value;
        } else {
            agg.n += 1;
            for (s, c) in agg.sum.iter_mut().zip(&value.cost) {
                *s += c;
            }
            self.index.insert(key.clone(), self.data.len());
            self.data.push((key.clone(), value));
        }
        key
    }

    /// Number of finished trials.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no trial has finished.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of trials submitted (finished or running).
    pub fn submitted(&self) -> usize {
        self.submitted
    }

    /// Number of trials running.
    pub fn n_running(&self) -> usize {
        self.running.len()
    }

    /// The running trials.
    pub fn running_trials(&self) -> impl Iterator<Item = &TrialInfo> {
        self.running.values()
    }

    /// Whether a trial was submitted or finished already.
    pub fn contains(&self, trial: &TrialInfo) -> bool {
        let Some(config_id) = self.config_id(&trial.config) else { return false };
        let key =
            TrialKey { config_id, instance: trial.instance.clone(), seed: trial.seed, budget: trial.budget };
        self.index.contains_key(&key) || self.running.contains_key(&key)
    }

    /// The finished trials in the order they were told.
    pub fn iter(&self) -> impl Iterator<Item = (&TrialKey, &TrialValue)> {
        self.data.iter().map(|(k, v)| (k, v))
    }

    /// The result of one trial.
    pub fn get(&self, key: &TrialKey) -> Option<&TrialValue> {
        self.index.get(key).map(|i| &self.data[*i].1)
    }

    /// The finished trials of one configuration.
    pub fn trials_of(&self, id: ConfigId) -> impl Iterator<Item = (&TrialKey, &TrialValue)> {
        self.data.iter().filter(move |(k, _)| k.config_id == id).map(|(k, v)| (k, v))
    }

    /// The highest budget a configuration has finished trials on (`None` without budgets).
    pub fn highest_budget(&self, id: ConfigId) -> Option<f64> {
        self.aggregates
            .get(id.wrapping_sub(1))?
            .iter()
            .filter_map(|a| a.budget)
            .fold(None, |m, b| Some(m.map_or(b, |m: f64| m.max(b))))
    }

    /// Number of finished trials of a configuration at its highest budget.
    pub fn n_trials_of(&self, id: ConfigId) -> usize {
        self.top_aggregate(id).map_or(0, |a| a.n)
    }

    /// Mean cost per objective over a configuration's instance-seed pairs at its highest budget.
    pub fn average_cost(&self, id: ConfigId) -> Option<Vec<f64>> {
        self.top_aggregate(id).filter(|a| a.n > 0).map(|a| a.sum.iter().map(|s| s / a.n as f64).collect())
    }

    /// Mean cost of the first objective (single-objective convenience).
    pub fn cost(&self, config: &Configuration) -> Option<f64> {
        self.config_id(config).and_then(|id| self.average_cost(id)).map(|c| c[0])
    }

    /// Lowest cost per objective a configuration reached on any single trial.
    pub fn min_cost(&self, id: ConfigId) -> Option<Vec<f64>> {
        let mut out: Option<Vec<f64>> = None;
        for (_, v) in self.trials_of(id) {
            let o = out.get_or_insert_with(|| vec![f64::INFINITY; self.n_objectives]);
            for (m, c) in o.iter_mut().zip(&v.cost) {
                *m = m.min(*c);
            }
        }
        out
    }

    /// Observed (min, max) of successful costs per objective.
    pub fn objective_bounds(&self) -> &[(f64, f64)] {
        &self.bounds
    }

    /// Normalizes a cost vector by the observed bounds and averages it into one number, so that
    /// objectives on different scales weigh the same (SMAC3's default multi-objective rule).
    pub fn normalized_cost(&self, cost: &[f64]) -> f64 {
        if self.n_objectives == 1 {
            return cost[0];
        }
        let total: f64 = cost
            .iter()
            .zip(&self.bounds)
            .map(|(c, (lo, hi))| if hi > lo { (c - lo) / (hi - lo) } else { 0.0 })
            .sum();
        total / self.n_objectives as f64
    }

    /// The configuration with the lowest (normalized) average cost; ties go to the one with more
    /// trials, then the older one.
    pub fn best_config(&self) -> Option<(ConfigId, &Configuration)> {
        let mut best: Option<(ConfigId, f64, usize)> = None;
        for id in 1..=self.configs.len() {
            let Some(c) = self.average_cost(id) else { continue };
            let (cost, n) = (self.normalized_cost(&c), self.n_trials_of(id));
            if best.is_none_or(|(_, bc, bn)| cost < bc || (cost == bc && n > bn)) {
                best = Some((id, cost, n));
            }
        }
        best.map(|(id, _, _)| (id, &self.configs[id - 1]))
    }

    /// Ids of configurations on the Pareto front of average costs (non-dominated ones).
    pub fn pareto_front(&self) -> Vec<ConfigId> {
        let costs: Vec<(ConfigId, Vec<f64>)> =
            (1..=self.configs.len()).filter_map(|id| self.average_cost(id).map(|c| (id, c))).collect();
        costs.iter().filter(|(_, c)| !costs.iter().any(|(_, o)| dominates(o, c))).map(|(id, _)| *id).collect()
    }

    fn top_aggregate(&self, id: ConfigId) -> Option<&Aggregate> {
        let aggs = self.aggregates.get(id.wrapping_sub(1))?;
        aggs.iter().max_by(|a, b| {
            a.budget.unwrap_or(f64::NEG_INFINITY).total_cmp(&b.budget.unwrap_or(f64::NEG_INFINITY))
        })
    }
}

/// Whether cost vector `a` Pareto-dominates `b` (no worse everywhere, better somewhere).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

#[cfg(test)]
mod tests;
