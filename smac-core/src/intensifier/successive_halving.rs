//! SMAC3's `SuccessiveHalving`: configurations start in groups on a small budget and the best
//! `1/eta` of each group moves on to `eta` times the budget, until the maximal budget.
//!
//! The budget is either the scenario's `min_budget..max_budget` (one instance-seed pair, the
//! budget goes into `TrialInfo.budget`), or — with instances — the number of instance-seed pairs
//! (`min_budget`/`max_budget` default to 1 and all pairs).
//!
//! A tracker maps (bracket, stage) to groups of configurations. Whenever a worker asks for a
//! trial, the tracker is scanned in insertion order: trials of tracked configurations that are
//! neither finished nor running are handed out, and every group whose results are all in is
//! promoted (the best by Pareto fronts, cut by crowding distance). Only when nothing else can
//! run does a new group of configurations enter the first stage of the next bracket — so free
//! workers never wait for a stage to finish, and several brackets and stages run at once.

use super::hyperband::Schedule;
use super::incumbents::{IncumbentSelection, IncumbentTracker, Pair};
use super::{trial_seeds, Intensifier, NextTrial};
use crate::config_selector::ConfigSelector;
use crate::configspace::Configuration;
use crate::error::SmacError;
use crate::multi_objective::{crowding_distance_order, pareto_front};
use crate::runhistory::{RunHistory, TrialKey};
use crate::scenario::{Scenario, ScenarioError};
use crate::trial::{TrialInfo, TrialValue};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use tracing::{debug, info};

/// How instance-seed pairs are ordered before a stage takes its first `N` (instances only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceOrder {
    /// The scenario's order.
    Keep,
    /// One shuffled order for every group (SMAC3's default `shuffle_once`).
    ShuffleOnce,
    /// A new shuffled order for each group.
    Shuffle,
}

/// Settings of successive halving and Hyperband (SMAC3's defaults).
#[derive(Clone, Copy, Debug)]
pub struct SuccessiveHalvingOptions {
    /// Only the best `1/eta` of a stage is promoted (3).
    pub eta: usize,
    /// Seeds per instance for non-deterministic targets (1).
    pub n_seeds: usize,
    /// Order of the instance-seed pairs (shuffled once).
    pub instance_order: InstanceOrder,
    /// Incumbents kept for several objectives (10).
    pub max_incumbents: usize,
    /// Which budget incumbents are chosen on (the highest observed).
    pub incumbent_selection: IncumbentSelection,
}

impl Default for SuccessiveHalvingOptions {
    fn default() -> Self {
        SuccessiveHalvingOptions {
            eta: 3,
            n_seeds: 1,
            instance_order: InstanceOrder::ShuffleOnce,
            max_incumbents: 10,
            incumbent_selection: IncumbentSelection::HighestObservedBudget,
        }
    }
}

/// What a budget means.
#[derive(Clone, Debug)]
enum Mode {
    /// Real-valued budgets on the single pair `(None, seed)`.
    Budgets { seed: u64 },
    /// The budget is a number of instance-seed pairs.
    Instances { pairs: Vec<Pair>, seeds: Vec<u64> },
}

/// Configurations that go through the stages of a bracket together.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    order_seed: Option<u64>,
    configs: Vec<Configuration>,
}

type Stage = (usize, usize);

/// SMAC3's successive halving (one bracket); [`Hyperband`](super::Hyperband) adds brackets.
pub struct SuccessiveHalving {
    setup: Result<(Schedule, Mode), (&'static str, String)>,
    options: SuccessiveHalvingOptions,
    round_robin: bool,
    tracker: Vec<(Stage, Vec<Group>)>,
    next_bracket: usize,
    pending: VecDeque<TrialInfo>,
    top_up: bool,
    order_rng: ChaCha8Rng,
    incumbent_tracker: IncumbentTracker,
    incumbents: Vec<Configuration>,
}

impl SuccessiveHalving {
    /// Successive halving with SMAC3's defaults.
    pub fn new(scenario: &Scenario) -> Self {
        Self::with_options(scenario, SuccessiveHalvingOptions::default())
    }

    /// Successive halving with the given options.
    pub fn with_options(scenario: &Scenario, options: SuccessiveHalvingOptions) -> Self {
        Self::build(scenario, options, false)
    }

    /// Successive halving with one bracket, or with Hyperband's brackets (`hyperband`).
    pub(super) fn build(scenario: &Scenario, options: SuccessiveHalvingOptions, hyperband: bool) -> Self {
        let setup = Self::plan(scenario, &options, hyperband);
        if let Ok((schedule, _)) = &setup {
            info!(n_configs = ?schedule.n_configs, budgets = ?schedule.budgets, "successive halving stages");
        }
        let uses_budgets = matches!(setup, Ok((_, Mode::Budgets { .. })));
        SuccessiveHalving {
            setup,
            options,
            round_robin: hyperband,
            tracker: Vec::new(),
            next_bracket: 0,
            pending: VecDeque::new(),
            top_up: false,
            order_rng: ChaCha8Rng::seed_from_u64(scenario.seed ^ 0x0bde_5eed),
            incumbent_tracker: IncumbentTracker::new(
                options.max_incumbents,
                !uses_budgets,
                options.incumbent_selection,
                scenario.max_budget,
            ),
            incumbents: Vec::new(),
        }
    }

    fn plan(
        scenario: &Scenario,
        o: &SuccessiveHalvingOptions,
        hyperband: bool,
    ) -> Result<(Schedule, Mode), (&'static str, String)> {
        if o.eta < 2 {
            return Err(("eta", format!("successive halving needs eta >= 2, got {}", o.eta)));
        }
        let n_seeds = if scenario.deterministic { 1 } else { o.n_seeds.max(1) };
        let seeds = trial_seeds(scenario.seed, n_seeds);
        let (min, max, mode) = match &scenario.instances {
            Some(instances) => {
                let pairs: Vec<Pair> = seeds
                    .iter()
                    .flat_map(|s| {
                        instances.iter().map(|i| Pair { instance: Some(i.clone()), seed: Some(*s) })
                    })
                    .collect();
                let min = scenario.min_budget.unwrap_or(1.0);
                let max = scenario.max_budget.unwrap_or(pairs.len() as f64);
                if min.fract() != 0.0 || max.fract() != 0.0 {
                    return Err((
                        "min_budget",
                        "with instances, budgets count instance-seed pairs and must be integers".into(),
                    ));
                }
                if max > pairs.len() as f64 {
                    return Err((
                        "max_budget",
                        format!("{max} exceeds the {} instance-seed pairs", pairs.len()),
                    ));
                }
                (min, max, Mode::Instances { pairs, seeds })
            }
            None => {
                let (Some(min), Some(max)) = (scenario.min_budget, scenario.max_budget) else {
                    return Err(("min_budget", "successive halving needs min_budget and max_budget".into()));
                };
                if n_seeds != 1 {
                    return Err((
                        "deterministic",
                        "successive halving supports one seed with budgets".into(),
                    ));
                }
                (min, max, Mode::Budgets { seed: seeds[0] })
            }
        };
        if !(min > 0.0 && max >= min) {
            return Err(("min_budget", format!("need 0 < min_budget <= max_budget, got {min} and {max}")));
        }
        let schedule = if hyperband {
            Schedule::hyperband(o.eta, min, max)
        } else {
            Schedule::successive_halving(o.eta, min, max)
        };
        Ok((schedule, mode))
    }

    /// The stage schedule, or why the scenario does not allow one.
    pub fn schedule(&self) -> Result<&Schedule, SmacError> {
        self.setup.as_ref().map(|(s, _)| s).map_err(|(field, reason)| {
            SmacError::Scenario(ScenarioError::InvalidField { field, reason: reason.clone() })
        })
    }

    /// Ids of configurations rejected when compared with the incumbents.
    pub fn rejected_config_ids(&self) -> &[usize] {
        self.incumbent_tracker.rejected()
    }

    /// Number of configurations tracked per (bracket, stage).
    pub fn tracked(&self) -> Vec<((usize, usize), usize)> {
        self.tracker.iter().map(|(k, g)| (*k, g.iter().map(|g| g.configs.len()).sum())).collect()
    }

    fn stage_trials(&self, (bracket, stage): Stage, group: &Group) -> Vec<Vec<TrialInfo>> {
        let Ok((schedule, mode)) = &self.setup else { return Vec::new() };
        let budget = schedule.budgets[bracket][stage];
        let pairs: Vec<(Pair, Option<f64>)> = match mode {
            Mode::Budgets { seed } => vec![(Pair { instance: None, seed: Some(*seed) }, Some(budget))],
            Mode::Instances { pairs, seeds } => {
                let mut ordered = Vec::with_capacity(pairs.len());
                for s in seeds {
                    let mut g: Vec<&Pair> = pairs.iter().filter(|p| p.seed == Some(*s)).collect();
                    if let Some(order_seed) = group.order_seed {
                        g.shuffle(&mut ChaCha8Rng::seed_from_u64(order_seed));
                    }
                    ordered.extend(g);
                }
                ordered.into_iter().take(budget as usize).map(|p| (p.clone(), None)).collect()
            }
        };
        group
            .configs
            .iter()
            .map(|c| {
                pairs
                    .iter()
                    .map(|(p, b)| TrialInfo {
                        config: c.clone(),
                        instance: p.instance.clone(),
                        seed: p.seed,
                        budget: *b,
                    })
                    .collect()
            })
            .collect()
    }

    /// The configurations promoted from a finished group, or `None` while results are missing.
    fn promote(
        &self,
        rh: &RunHistory,
        (bracket, stage): Stage,
        trials: &[Vec<TrialInfo>],
    ) -> Option<Vec<usize>> {
        let (schedule, _) = self.setup.as_ref().ok()?;
        let Some(&n) = schedule.n_configs[bracket].get(stage + 1) else { return Some(Vec::new()) };
        let mut costs = Vec::with_capacity(trials.len());
        for config_trials in trials {
            let mut sum: Vec<f64> = Vec::new();
            for t in config_trials {
                let key = TrialKey {
                    config_id: rh.config_id(&t.config)?,
                    instance: t.instance.clone(),
                    seed: t.seed,
                    budget: t.budget,
                };
                let cost = &rh.get(&key)?.cost;
                sum.resize(cost.len(), 0.0);
                sum.iter_mut().zip(cost).for_each(|(s, c)| *s += c);
            }
            costs.push(sum.into_iter().map(|s| s / config_trials.len().max(1) as f64).collect::<Vec<f64>>());
        }
        let mut remaining: Vec<usize> = (0..costs.len()).collect();
        let mut selected = Vec::new();
        while selected.len() < n && !remaining.is_empty() {
            let sub: Vec<Vec<f64>> = remaining.iter().map(|i| costs[*i].clone()).collect();
            let front = pareto_front(&sub);
            selected.extend(front.iter().map(|k| remaining[*k]));
            remaining =
                remaining.iter().enumerate().filter(|(k, _)| !front.contains(k)).map(|(_, i)| *i).collect();
        }
        if selected.len() > n {
            let sub: Vec<Vec<f64>> = selected.iter().map(|i| costs[*i].clone()).collect();
            selected = crowding_distance_order(&sub).into_iter().take(n).map(|k| selected[k]).collect();
        }
        Some(selected)
    }

    /// One pass over the tracker: queue runnable trials and promote finished groups.
    fn scan(&mut self, rh: &RunHistory) {
        let n_stages: Vec<usize> =
            self.setup.as_ref().map_or(Vec::new(), |(s, _)| s.budgets.iter().map(Vec::len).collect());
        // Stages created by a promotion during this pass are visited in the same pass (SMAC3
        // iterates over a snapshot of its keys and would start a new group first).
        let mut index = 0;
        while index < self.tracker.len() {
            let (key, groups) = self.tracker[index].clone();
            index += 1;
            for group in groups {
                let trials = self.stage_trials(key, &group);
                self.pending.extend(trials.iter().flatten().filter(|t| !rh.contains(t)).cloned());
                let Some(best) = self.promote(rh, key, &trials) else { continue };
                if let Some((_, gs)) = self.tracker.iter_mut().find(|(k, _)| *k == key) {
                    gs.retain(|g| *g != group);
                }
                if key.1 + 1 < n_stages[key.0] {
                    let promoted = Group {
                        order_seed: group.order_seed,
                        configs: best.iter().map(|i| group.configs[*i].clone()).collect(),
                    };
                    debug!(bracket = key.0, stage = key.1 + 1, n = promoted.configs.len(), "promoted");
                    self.stage_mut((key.0, key.1 + 1)).push(promoted);
                }
            }
        }
    }

    fn stage_mut(&mut self, key: Stage) -> &mut Vec<Group> {
        let pos = match self.tracker.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                self.tracker.push((key, Vec::new()));
                self.tracker.len() - 1
            }
        };
        &mut self.tracker[pos].1
    }

    fn order_seed(&mut self) -> Option<u64> {
        match self.options.instance_order {
            InstanceOrder::Keep => None,
            InstanceOrder::ShuffleOnce => Some(0),
            InstanceOrder::Shuffle => Some(self.order_rng.random()),
        }
    }

    /// Up to `n` new configurations, distinct from each other and from `taken`.
    fn draw(
        &self,
        n: usize,
        taken: &[Configuration],
        rh: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Configuration>, SmacError> {
        let mut out: Vec<Configuration> = Vec::with_capacity(n);
        let mut misses = 0;
        while out.len() < n && misses < 16 {
            match selector.next(rh, &self.incumbents, rng)? {
                None => break,
                Some(c) if out.contains(&c) || taken.contains(&c) => misses += 1,
                Some(c) => out.push(c),
            }
        }
        Ok(out)
    }

    /// Fills first-stage groups left short by a restore.
    fn top_up(
        &mut self,
        rh: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<(), SmacError> {
        self.top_up = false;
        let Ok((schedule, _)) = &self.setup else { return Ok(()) };
        let schedule = schedule.clone();
        for t in 0..self.tracker.len() {
            let ((bracket, stage), _) = self.tracker[t];
            if stage != 0 {
                continue;
            }
            for g in 0..self.tracker[t].1.len() {
                let have = self.tracker[t].1[g].configs.clone();
                let missing = schedule.n_configs[bracket][0].saturating_sub(have.len());
                let more = self.draw(missing, &have, rh, selector, rng)?;
                self.tracker[t].1[g].configs.extend(more);
            }
        }
        Ok(())
    }
}

impl Intensifier for SuccessiveHalving {
    fn next_trial(
        &mut self,
        rh: &RunHistory,
        selector: &mut ConfigSelector,
        rng: &mut ChaCha8Rng,
    ) -> Result<NextTrial, SmacError> {
        let n_first = self.schedule()?.n_configs.iter().map(|n| n[0]).collect::<Vec<_>>();
        if self.top_up {
            self.top_up(rh, selector, rng)?;
        }
        for _ in 0..3 {
            if let Some(t) = std::iter::from_fn(|| self.pending.pop_front()).find(|t| !rh.contains(t)) {
                return Ok(NextTrial::Run(t));
            }
            self.scan(rh);
            if !self.pending.is_empty() {
                continue;
            }
            // Nothing can run until results arrive: start a new group in the next bracket.
            let bracket = self.next_bracket;
            if self.round_robin {
                self.next_bracket = (bracket + 1) % n_first.len();
            }
            let configs = self.draw(n_first[bracket], &[], rh, selector, rng)?;
            if configs.is_empty() {
                // No new configuration: the brackets still running may yet promote some.
                return Ok(NextTrial::none_found(rh));
            }
            debug!(bracket, n = configs.len(), "new group in the first stage");
            let order_seed = self.order_seed();
            self.stage_mut((bracket, 0)).push(Group { order_seed, configs });
        }
        Ok(match std::iter::from_fn(|| self.pending.pop_front()).find(|t| !rh.contains(t)) {
            Some(t) => NextTrial::Run(t),
            None => NextTrial::none_found(rh),
        })
    }

    fn on_result(&mut self, rh: &RunHistory, trial: &TrialInfo, value: &TrialValue) {
        let Some(id) = rh.config_id(&trial.config) else { return };
        self.incumbent_tracker.record(id, trial, &value.cost);
        if self.incumbent_tracker.update(id) {
            self.incumbents =
                self.incumbent_tracker.incumbents().iter().filter_map(|i| rh.config(*i).cloned()).collect();
        }
    }

    fn incumbents(&self) -> &[Configuration] {
        &self.incumbents
    }

    fn restore(&mut self, rh: &RunHistory) {
        self.tracker.clear();
        self.pending.clear();
        self.incumbent_tracker.clear();
        let mut lowest: Vec<Option<f64>> = vec![None; rh.configs().len()];
        for (key, value) in rh.iter() {
            let trial = TrialInfo {
                config: rh.config(key.config_id).expect("ids are dense").clone(),
                instance: key.instance.clone(),
                seed: key.seed,
                budget: key.budget,
            };
            self.incumbent_tracker.record(key.config_id, &trial, &value.cost);
            self.incumbent_tracker.update(key.config_id);
            let low = &mut lowest[key.config_id - 1];
            *low = Some(low.map_or(key.budget.unwrap_or(0.0), |l| l.min(key.budget.unwrap_or(0.0))));
        }
        self.incumbents =
            self.incumbent_tracker.incumbents().iter().filter_map(|i| rh.config(*i).cloned()).collect();
        let Ok((schedule, mode)) = &self.setup else { return };
        let (schedule, by_budget) = (schedule.clone(), matches!(mode, Mode::Budgets { .. }));
        // Each configuration re-enters the first stage of the bracket it started in (known by its
        // lowest budget; with instances, bracket 0), groups refilled to full size on the next ask;
        // the scans then replay the promotions from the recorded results. With
        // `InstanceOrder::Shuffle` the per-group instance orders are not recovered.
        let mut last_bracket = None;
        for (k, low) in lowest.iter().enumerate() {
            let Some(low) = low else { continue };
            let bracket = if by_budget {
                let close = |b: f64| (b - low).abs() <= 1e-9 * b.abs().max(1.0);
                match schedule.budgets.iter().position(|b| close(b[0])) {
                    Some(b) => b,
                    None => continue,
                }
            } else {
                0
            };
            let n = schedule.n_configs[bracket][0];
            let order_seed = self.order_seed();
            let config = rh.config(k + 1).expect("ids are dense").clone();
            let groups = self.stage_mut((bracket, 0));
            match groups.last_mut() {
                Some(g) if g.configs.len() < n => g.configs.push(config),
                _ => groups.push(Group { order_seed, configs: vec![config] }),
            }
            last_bracket = Some(bracket);
        }
        if let (true, Some(b)) = (self.round_robin, last_bracket) {
            self.next_bracket = (b + 1) % schedule.n_brackets();
        }
        self.top_up = true;
    }

    fn state_json(&self) -> serde_json::Value {
        let tracker: serde_json::Map<String, serde_json::Value> = self
            .tracker
            .iter()
            .map(|((b, s), groups)| {
                let groups: Vec<serde_json::Value> = groups
                    .iter()
                    .map(|g| {
                        serde_json::json!([
                            g.order_seed,
                            g.configs.iter().map(|c| c.to_json()).collect::<Vec<_>>()
                        ])
                    })
                    .collect();
                (format!("{b},{s}"), serde_json::Value::Array(groups))
            })
            .collect();
        serde_json::json!({
            "tracker": tracker,
            "next_bracket": self.next_bracket,
            "rejected_config_ids": self.incumbent_tracker.rejected(),
        })
    }
}
