//! Incumbent bookkeeping shared by the racing and the successive-halving intensifiers: SMAC3's
//! `AbstractIntensifier.update_incumbents`.
//!
//! Every finished trial is recorded under its configuration and instance-seed pair. After each
//! result the configuration is compared with the incumbents: on the pairs they have in common
//! when racing (a challenger no better than an incumbent anywhere on them is rejected), and for a
//! change of incumbents only once it covers the pairs all incumbents share; the new incumbents
//! are the Pareto front of the old ones plus the challenger, each on its own pairs, cut to
//! `max_incumbents` by crowding distance.
//!
//! With budgets, a configuration counts on its highest budget only, and incumbents are chosen on
//! the highest budget evaluated so far: a configuration that reaches a higher budget than the
//! incumbents replaces them, one on a lower budget cannot compete. (SMAC3's docs describe
//! `highest_observed_budget` this way; its code compares each configuration on its own highest
//! budget, which lets a lucky low-budget result beat a verified full-budget one.)

use crate::multi_objective::{crowding_distance_order, pareto_front};
use crate::runhistory::ConfigId;
use crate::trial::TrialInfo;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An instance-seed pair a configuration is evaluated on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    /// The instance, if any.
    pub instance: Option<String>,
    /// The seed, if any.
    pub seed: Option<u64>,
}

impl Pair {
    /// The pair of a trial.
    pub fn of(trial: &TrialInfo) -> Self {
        Pair { instance: trial.instance.clone(), seed: trial.seed }
    }
}

/// Which budgets incumbents are chosen on (multi-fidelity intensifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncumbentSelection {
    /// The highest budget evaluated so far (SMAC3's default `highest_observed_budget`).
    HighestObservedBudget,
    /// Only the scenario's `max_budget` (SMAC3's `highest_budget`).
    HighestBudget,
}

/// One configuration's costs per pair on its highest budget.
#[derive(Clone, Debug, Default)]
struct Record {
    level: f64,
    costs: BTreeMap<Pair, Vec<f64>>,
}

/// The incumbents and rejected configurations of a run.
#[derive(Clone, Debug)]
pub struct IncumbentTracker {
    max_incumbents: usize,
    racing: bool,
    selection: IncumbentSelection,
    max_budget: Option<f64>,
    records: HashMap<ConfigId, Record>,
    incumbents: Vec<ConfigId>,
    rejected: Vec<ConfigId>,
}

impl IncumbentTracker {
    /// A tracker; `racing` turns on the rejection of challengers on common pairs (SMAC3 does it
    /// whenever budgets are not used).
    pub fn new(
        max_incumbents: usize,
        racing: bool,
        selection: IncumbentSelection,
        max_budget: Option<f64>,
    ) -> Self {
        IncumbentTracker {
            max_incumbents: max_incumbents.max(1),
            racing,
            selection,
            max_budget,
            records: HashMap::new(),
            incumbents: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.records.clear();
        self.incumbents.clear();
        self.rejected.clear();
    }

    /// Records a finished trial's cost.
    pub fn record(&mut self, id: ConfigId, trial: &TrialInfo, cost: &[f64]) {
        if self.selection == IncumbentSelection::HighestBudget
            && trial.budget.is_some()
            && trial.budget.map(f64::to_bits) != self.max_budget.map(f64::to_bits)
        {
            return;
        }
        let level = trial.budget.unwrap_or(f64::NEG_INFINITY);
        let rec = self.records.entry(id).or_insert_with(|| Record { level, costs: BTreeMap::new() });
        if level > rec.level {
            rec.level = level;
            rec.costs.clear();
        }
        if level == rec.level {
            rec.costs.insert(Pair::of(trial), cost.to_vec());
        }
    }

    /// The incumbents, in SMAC3's order.
    pub fn incumbents(&self) -> &[ConfigId] {
        &self.incumbents
    }

    /// Configurations rejected by racing (or replaced as incumbents).
    pub fn rejected(&self) -> &[ConfigId] {
        &self.rejected
    }

    /// Whether a configuration is rejected.
    pub fn is_rejected(&self, id: ConfigId) -> bool {
        self.rejected.contains(&id)
    }

    /// The pairs a configuration was evaluated on (at its highest budget).
    pub fn pairs(&self, id: ConfigId) -> impl Iterator<Item = &Pair> {
        self.records.get(&id).into_iter().flat_map(|r| r.costs.keys())
    }

    /// Number of pairs a configuration was evaluated on.
    pub fn n_pairs(&self, id: ConfigId) -> usize {
        self.records.get(&id).map_or(0, |r| r.costs.len())
    }

    /// The pairs every incumbent was evaluated on.
    pub fn incumbent_pairs(&self) -> BTreeSet<Pair> {
        let mut sets = self.incumbents.iter().map(|id| self.pairs(*id).cloned().collect::<BTreeSet<_>>());
        let Some(first) = sets.next() else { return BTreeSet::new() };
        sets.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
    }

    /// Pairs some but not all incumbents were evaluated on.
    pub fn incumbent_pair_differences(&self) -> BTreeSet<Pair> {
        if self.incumbents.len() <= 1 {
            return BTreeSet::new();
        }
        let union: BTreeSet<Pair> = self.incumbents.iter().flat_map(|id| self.pairs(*id).cloned()).collect();
        let common = self.incumbent_pairs();
        union.difference(&common).cloned().collect()
    }

    /// Mean cost per objective of a configuration over some of its pairs.
    pub fn average_cost<'a>(
        &self,
        id: ConfigId,
        pairs: impl IntoIterator<Item = &'a Pair>,
    ) -> Option<Vec<f64>> {
        let rec = self.records.get(&id)?;
        let mut sum: Option<Vec<f64>> = None;
        let mut n = 0usize;
        for p in pairs {
            let c = rec.costs.get(p)?;
            let s = sum.get_or_insert_with(|| vec![0.0; c.len()]);
            for (a, b) in s.iter_mut().zip(c) {
                *a += b;
            }
            n += 1;
        }
        sum.map(|s| s.into_iter().map(|v| v / n as f64).collect())
    }

    fn own_cost(&self, id: ConfigId) -> Vec<f64> {
        let pairs: Vec<&Pair> = self.pairs(id).collect();
        self.average_cost(id, pairs).unwrap_or_default()
    }

    fn level(&self, id: ConfigId) -> f64 {
        self.records.get(&id).map_or(f64::NEG_INFINITY, |r| r.level)
    }

    fn reject(&mut self, id: ConfigId) {
        if !self.rejected.contains(&id) {
            self.rejected.push(id);
        }
    }

    fn unreject(&mut self, id: ConfigId) {
        self.rejected.retain(|r| *r != id);
    }

    /// Compares a configuration that just got a result with the incumbents; true when the
    /// incumbents changed.
    pub fn update(&mut self, id: ConfigId) -> bool {
        let pairs: BTreeSet<Pair> = self.pairs(id).cloned().collect();
        if pairs.is_empty() {
            return false;
        }
        if self.incumbents.is_empty() {
            self.incumbents = vec![id];
            return true;
        }
        let others_level = self
            .incumbents
            .iter()
            .filter(|i| **i != id)
            .map(|i| self.level(*i))
            .fold(f64::NEG_INFINITY, f64::max);
        let has_others = self.incumbents.iter().any(|i| *i != id);
        if has_others && self.level(id) < others_level {
            return false;
        }
        if has_others && self.level(id) > others_level {
            let changed = self.incumbents != [id];
            self.incumbents = vec![id];
            self.unreject(id);
            return changed;
        }
        let common = self.incumbent_pairs();
        if self.racing && pairs.is_subset(&common) {
            let challenger = self.average_cost(id, &pairs).unwrap_or_default();
            let incumbents = self.incumbents.clone();
            for inc in incumbents.into_iter().filter(|i| *i != id) {
                let Some(cost) = self.average_cost(inc, &pairs) else { continue };
                if !challenger.iter().zip(&cost).any(|(c, i)| c < i) {
                    self.reject(id);
                }
            }
        }
        if !common.is_subset(&pairs) {
            // Not yet evaluated on every pair the incumbents share: it races on.
            return false;
        }
        if self.incumbents.contains(&id) && pairs.len() > common.len() {
            return false;
        }
        let previous = self.incumbents.clone();
        let mut candidates = previous.clone();
        if !candidates.contains(&id) {
            candidates.push(id);
        }
        let costs: Vec<Vec<f64>> = candidates.iter().map(|c| self.own_cost(*c)).collect();
        let mut front: Vec<ConfigId> = pareto_front(&costs).into_iter().map(|k| candidates[k]).collect();
        if previous.len() == front.len() {
            if previous == front {
                if front.contains(&id) {
                    self.unreject(id);
                } else {
                    self.reject(id);
                }
                return false;
            }
            if let Some(removed) = previous.iter().find(|p| !front.contains(p)).copied() {
                self.reject(removed);
                if removed != id {
                    self.unreject(id);
                }
            }
        } else if previous.len() < front.len() {
            self.unreject(id);
        } else {
            for p in previous.iter().filter(|p| !front.contains(p)) {
                let p = *p;
                if !self.rejected.contains(&p) {
                    self.rejected.push(p);
                }
            }
        }
        if front.len() > self.max_incumbents {
            let costs: Vec<Vec<f64>> = front.iter().map(|c| self.own_cost(*c)).collect();
            let order = crowding_distance_order(&costs);
            front = order.into_iter().take(self.max_incumbents).map(|k| front[k]).collect();
        }
        let changed = front != previous;
        self.incumbents = front;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{ConfigSpace, Hyperparameter};
    use std::sync::Arc;

    fn trial(instance: &str, seed: u64, budget: Option<f64>) -> TrialInfo {
        let mut cs = ConfigSpace::new("t");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        let cs = Arc::new(cs);
        TrialInfo {
            config: cs.default_configuration(),
            instance: Some(instance.into()),
            seed: Some(seed),
            budget,
        }
    }

    #[test]
    fn racing_rejects_on_common_pairs_and_replaces_after_covering_them() {
        let mut t = IncumbentTracker::new(10, true, IncumbentSelection::HighestObservedBudget, None);
        for (inst, c) in [("a", 1.0), ("b", 1.0)] {
            t.record(1, &trial(inst, 0, None), &[c]);
            t.update(1);
        }
        assert_eq!(t.incumbents(), &[1]);
        // Worse on the first common pair: rejected at once.
        t.record(2, &trial("a", 0, None), &[2.0]);
        assert!(!t.update(2));
        assert!(t.is_rejected(2));
        // Better on one pair: not rejected, but not incumbent before covering both.
        t.record(3, &trial("a", 0, None), &[0.5]);
        assert!(!t.update(3) && !t.is_rejected(3));
        t.record(3, &trial("b", 0, None), &[0.5]);
        assert!(t.update(3));
        assert_eq!(t.incumbents(), &[3]);
        assert!(t.is_rejected(1));
    }

    #[test]
    fn highest_observed_budget_wins() {
        let mut t = IncumbentTracker::new(10, false, IncumbentSelection::HighestObservedBudget, Some(9.0));
        let at = |b: f64| TrialInfo { instance: None, ..trial("a", 0, Some(b)) };
        t.record(1, &at(1.0), &[0.1]);
        t.update(1);
        t.record(2, &at(3.0), &[5.0]);
        assert!(t.update(2), "a higher budget replaces the incumbent");
        t.record(3, &at(1.0), &[0.0]);
        assert!(!t.update(3), "a lower budget cannot compete");
        t.record(4, &at(3.0), &[4.0]);
        assert!(t.update(4));
        assert_eq!(t.incumbents(), &[4]);
        let mut strict = IncumbentTracker::new(10, false, IncumbentSelection::HighestBudget, Some(9.0));
        strict.record(1, &at(3.0), &[0.1]);
        assert!(!strict.update(1), "only the maximal budget counts");
        strict.record(1, &at(9.0), &[0.2]);
        assert!(strict.update(1));
    }
}
