//! SMAC3's `Intensifier`: challengers race against the incumbents on the incumbents'
//! instance-seed pairs.
//!
//! A queue holds `(configuration, N)`. A challenger first runs on one pair the incumbents were
//! evaluated on; while it is not worse, it goes back into the queue with `2·N` pairs, until it
//! has run on every pair of the incumbents (or `max_config_calls` pairs) and the incumbents are
//! recomputed with it. It is rejected as soon as it is no better than an incumbent on the pairs
//! they share. Whenever the queue is empty or all its configurations have trials running, one
//! incumbent gets one more pair (so incumbents grow more certain over time) and a new challenger
//! from the config selector joins the queue — which is why the intensifier never has to wait:
//! while one race waits for results, other challengers start.
//!
//! The pairs of interest are every instance (or none) with one seed for deterministic targets,
//! and with as many seeds as needed otherwise, cut to `max_config_calls` pairs (instances first).

use super::incumbents::{IncumbentSelection, IncumbentTracker, Pair};
use super::{trial_seeds, Intensifier as IntensifierTrait, NextTrial};
use crate::config_selector::ConfigSelector;
use crate::configspace::Configuration;
use crate::error::SmacError;
use crate::runhistory::{ConfigId, RunHistory};
use crate::scenario::Scenario;
use crate::trial::{TrialInfo, TrialValue};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeSet, HashSet, VecDeque};
use tracing::{debug, warn};

/// Iterations without any new trial after which the intensifier gives up (SMAC3's `retries`).
const RETRIES: usize = 16;

/// Racing intensifier (SMAC3's `Intensifier`; re-exported as
/// [`RacingIntensifier`](crate::intensifier::RacingIntensifier) beside the trait of that name).
pub struct Intensifier {
    max_config_calls: usize,
    deterministic: bool,
    instances: Vec<Option<String>>,
    scenario_seed: u64,
    pairs: Vec<Pair>,
    seeds: Vec<u64>,
    queue: Vec<(Configuration, usize)>,
    /// The queue as (config id, N) for `intensifier.json`, refreshed whenever the run history
    /// is at hand.
    queue_ids: Vec<(ConfigId, usize)>,
    pending: VecDeque<TrialInfo>,
    tracker: IncumbentTracker,
    incumbents: Vec<Configuration>,
}

impl Intensifier {
    /// A racing intensifier with SMAC3's defaults: `max_config_calls = 3`, `max_incumbents = 10`.
    pub fn new(scenario: &Scenario) -> Self {
        Self::with_limits(scenario, 3, 10)
    }

    /// A racing intensifier evaluating a configuration on at most `max_config_calls` pairs and
    /// keeping at most `max_incumbents` incumbents (several objectives).
    pub fn with_limits(scenario: &Scenario, max_config_calls: usize, max_incumbents: usize) -> Self {
        let instances: Vec<Option<String>> = match &scenario.instances {
            Some(list) => list.iter().cloned().map(Some).collect(),
            None => vec![None],
        };
        let mut me = Intensifier {
            max_config_calls: max_config_calls.max(1),
            deterministic: scenario.deterministic,
            instances,
            scenario_seed: scenario.seed,
            pairs: Vec::new(),
            seeds: Vec::new(),
            queue: Vec::new(),
            queue_ids: Vec::new(),
            pending: VecDeque::new(),
            tracker: IncumbentTracker::new(
                max_incumbents,
                true,
                IncumbentSelection::HighestObservedBudget,
                None,
            ),
            incumbents: Vec::new(),
        };
        me.build_pairs(&[]);
        me
    }

    /// The instance-seed pairs a configuration may be evaluated on.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Ids of rejected configurations.
    pub fn rejected_config_ids(&self) -> &[ConfigId] {
        self.tracker.rejected()
    }

    /// The queue of challengers with the number of pairs they are to run on next.
    pub fn queue(&self) -> &[(Configuration, usize)] {
        &self.queue
    }

    /// Seeds found in a run history come first (so a continued run reuses them), then seeds
    /// drawn from the scenario seed; instances are kept in the scenario's order.
    fn build_pairs(&mut self, known_seeds: &[u64]) {
        let per_seed = self.instances.len();
        let n_seeds = if self.deterministic { 1 } else { self.max_config_calls.div_ceil(per_seed).max(1) };
        let mut seeds: Vec<u64> = known_seeds.iter().copied().take(n_seeds).collect();
        for s in trial_seeds(self.scenario_seed, n_seeds + known_seeds.len()) {
            if seeds.len() >= n_seeds {
                break;
            }
            if !seeds.contains(&s) {
                seeds.push(s);
            }
        }
        self.pairs = seeds
            .iter()
            .flat_map(|s| self.instances.iter().map(move |i| Pair { instance: i.clone(), seed: Some(*s) }))
            .take(self.max_config_calls)
            .collect();
        self.seeds = seeds;
    }

    fn refresh(&mut self, rh: &RunHistory) {
        self.incumbents = self.tracker.incumbents().iter().filter_map(|id| rh.config(*id).cloned()).collect();
    }

    /// Pairs of interest for `config` that are neither finished nor running: restricted to
    /// `from`, shuffled within each seed when `shuffle`, and at most `n − (finished + running)`.
    fn next_trials(
        &self,
        rh: &RunHistory,
        config: &Configuration,
        n: Option<usize>,
        from: Option<&BTreeSet<Pair>>,
        shuffle: bool,
        rng: &mut ChaCha8Rng,
    ) -> Vec<TrialInfo> {
        let mut counter = 0;
        let mut open: Vec<Pair> = Vec::new();
        for p in self.pairs.iter().filter(|p| from.is_none_or(|f| f.contains(p))) {
            let t = self.trial(config, p);
            if rh.contains(&t) {
                counter += 1;
            } else {
                open.push(p.clone());
            }
        }
        if shuffle {
            let mut grouped = Vec::with_capacity(open.len());
            for s in &self.seeds {
                let mut group: Vec<Pair> = open.iter().filter(|p| p.seed == Some(*s)).cloned().collect();
                group.shuffle(rng);
                grouped.extend(group);
            }
            open = grouped;
        }
        if let Some(n) = n {
            open.truncate(n.saturating_sub(counter));
        }
        open.iter().map(|p| self.trial(config, p)).collect()
    }

    fn snapshot_queue(&mut self, rh: &RunHistory) {
        self.queue_ids = self.queue.iter().filter_map(|(c, n)| rh.config_id(c).map(|id| (id, *n))).collect();
    }

    fn trial(&self, config: &Configuration, p: &Pair) -> TrialInfo {
        TrialInfo { config: config.clone(), instance: p.instance.clone(), seed: p.seed, budget: None }
    }

    /// One pass of SMAC3's intensification loop. Returns whether something happened (trials
    /// queued for running, or the queue changed), or `None` when the space is exhausted.
    fn step(
        &mut self,
        rh: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<bool>, SmacError> {
        let running: HashSet<ConfigId> =
            rh.running_trials().filter_map(|t| rh.config_id(&t.config)).collect();
        let is_running = |c: &Configuration| rh.config_id(c).is_some_and(|id| running.contains(&id));
        let common = self.tracker.incumbent_pairs();
        let mut incumbents: Vec<ConfigId> = self.tracker.incumbents().to_vec();
        incumbents.sort_by_key(|id| rh.n_trials_of(*id));

        if self.queue.is_empty() || self.queue.iter().all(|(c, _)| is_running(c)) {
            for id in incumbents {
                if running.contains(&id) || self.tracker.is_rejected(id) {
                    continue;
                }
                let config = rh.config(id).expect("incumbents are in the run history").clone();
                let mut from = common.clone();
                from.extend(self.tracker.incumbent_pair_differences());
                let mut trials = self.next_trials(rh, &config, None, Some(&from), false, rng);
                if trials.is_empty() {
                    trials = self.next_trials(rh, &config, None, None, true, rng);
                }
                if let Some(t) = trials.into_iter().next() {
                    debug!(config = id, pairs = rh.n_trials_of(id) + 1, "intensifying an incumbent");
                    self.pending.push_back(t);
                    break;
                }
            }
            let Some(config) = selector.next(rh, &self.incumbents, rng)? else {
                return Ok(if self.pending.is_empty() { None } else { Some(true) });
            };
            self.queue.push((config, 1));
            return Ok(Some(true));
        }

        let incumbent_ids: Vec<ConfigId> = self.tracker.incumbents().to_vec();
        let mut k = 0;
        while k < self.queue.len() {
            let (config, n) = self.queue[k].clone();
            if is_running(&config) {
                k += 1;
                continue;
            }
            let id = rh.config_id(&config);
            if id.is_some_and(|id| self.tracker.is_rejected(id) || incumbent_ids.contains(&id)) {
                self.queue.remove(k);
                continue;
            }
            let from = (!common.is_empty()).then_some(&common);
            let trials = self.next_trials(rh, &config, Some(n), from, true, rng);
            debug!(n, trials = trials.len(), "racing a challenger");
            self.pending.extend(trials);
            self.queue.remove(k);
            let doubled = (config, n * 2);
            if n < self.max_config_calls && !self.queue.contains(&doubled) {
                self.queue.push(doubled);
            }
            return Ok(Some(true));
        }
        Ok(Some(false))
    }
}

impl IntensifierTrait for Intensifier {
    fn next_trial(
        &mut self,
        rh: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<NextTrial, SmacError> {
        let mut idle = 0;
        let next = loop {
            if let Some(t) = std::iter::from_fn(|| self.pending.pop_front()).find(|t| !rh.contains(t)) {
                break NextTrial::Run(t);
            }
            match self.step(rh, selector, rng)? {
                None => break NextTrial::Exhausted,
                Some(true) => idle = 0,
                Some(false) => idle += 1,
            }
            if idle > RETRIES {
                let next = NextTrial::none_found(rh);
                if next == NextTrial::Exhausted {
                    warn!("the intensifier could not find any new trial");
                }
                break next;
            }
        };
        self.snapshot_queue(rh);
        Ok(next)
    }

    fn on_result(&mut self, rh: &RunHistory, trial: &TrialInfo, value: &TrialValue) {
        let Some(id) = rh.config_id(&trial.config) else { return };
        self.tracker.record(id, trial, &value.cost);
        if self.tracker.update(id) {
            self.refresh(rh);
        }
        self.snapshot_queue(rh);
    }

    fn incumbents(&self) -> &[Configuration] {
        &self.incumbents
    }

    fn restore(&mut self, rh: &RunHistory) {
        let mut seeds: Vec<u64> = Vec::new();
        for (key, _) in rh.iter() {
            if let Some(s) = key.seed {
                if !seeds.contains(&s) {
                    seeds.push(s);
                }
            }
        }
        self.build_pairs(&seeds);
        self.tracker.clear();
        self.pending.clear();
        // Replaying the results in their order reproduces incumbents and rejections.
        for (key, value) in rh.iter() {
            let trial = TrialInfo {
                config: rh.config(key.config_id).expect("ids are dense").clone(),
                instance: key.instance.clone(),
                seed: key.seed,
                budget: None,
            };
            self.tracker.record(key.config_id, &trial, &value.cost);
            self.tracker.update(key.config_id);
        }
        self.refresh(rh);
        // As SMAC3 does on a restart, every known configuration races again from N = 1
        // (incumbents and rejected ones leave the queue on their turn).
        self.queue = rh.configs().iter().map(|c| (c.clone(), 1)).collect();
        self.snapshot_queue(rh);
    }

    fn state_json(&self) -> serde_json::Value {
        serde_json::json!({
            "queue": self.queue_ids,
            "rejected_config_ids": self.tracker.rejected(),
        })
    }
}
