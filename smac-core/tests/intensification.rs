//! Racing, successive halving, Hyperband and multi-objective incumbents, driven through the SMBO
//! loop with an in-process runner and with a simulated pool that returns results in random order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smac_core::configspace::{ConfigSpace, Configuration, Hyperparameter};
use smac_core::intensifier::{Hyperband, Intensifier, RacingIntensifier, Schedule, SuccessiveHalving};
use smac_core::{
    DesignKind, InitialDesign, RunHistory, Runner, RunnerError, Scenario, SerialRunner, SmboBuilder,
    TrialInfo, TrialValue,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

type CostFn = fn(&TrialInfo) -> Vec<f64>;

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("quad");
    cs.add_all([Hyperparameter::float("x", -5.0, 5.0), Hyperparameter::integer("k", 0, 10)]).unwrap();
    Arc::new(cs)
}

fn config(x: f64, k: i64) -> Configuration {
    Configuration::new(&space(), [("x", smac_core::Value::from(x)), ("k", smac_core::Value::from(k))])
        .unwrap()
}

/// A quadratic with a small seed- and instance-dependent perturbation (never reorders configs
/// that differ by more than 0.1).
fn quad(t: &TrialInfo) -> Vec<f64> {
    let x = t.config.get_f64("x").unwrap();
    let k = t.config.get_i64("k").unwrap() as f64;
    let seed_noise = (t.seed.unwrap_or(0) % 100) as f64 / 10_000.0;
    let inst = t.instance.as_deref().map_or(0.0, |i| i[1..].parse::<f64>().unwrap() * 0.01);
    vec![(x - 1.0).powi(2) + (k - 3.0).powi(2) + seed_noise + inst]
}

fn in_process(f: CostFn) -> SerialRunner {
    SerialRunner::new(move |t: &TrialInfo| Ok::<_, String>(f(t)))
}

/// A simulated pool of workers that finishes a random one of its running trials whenever full.
struct ShufflePool {
    capacity: usize,
    in_flight: Vec<TrialInfo>,
    max_in_flight: usize,
    rng: ChaCha8Rng,
    f: CostFn,
    /// Deliver random results at every collection instead of one when the pool is full.
    trickle: bool,
    done: Vec<(TrialInfo, TrialValue)>,
}

impl ShufflePool {
    fn new(capacity: usize, seed: u64, f: CostFn) -> Self {
        ShufflePool {
            capacity,
            in_flight: Vec::new(),
            max_in_flight: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            f,
            trickle: false,
            done: Vec::new(),
        }
    }
}

impl Runner for ShufflePool {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        assert!(self.in_flight.len() < self.capacity, "submitted to a full pool");
        assert!(!self.in_flight.contains(&trial), "the same trial submitted twice: {trial:?}");
        self.in_flight.push(trial);
        self.max_in_flight = self.max_in_flight.max(self.in_flight.len());
        Ok(())
    }
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        if self.trickle {
            return std::mem::take(&mut self.done);
        }
        if self.in_flight.len() < self.capacity {
            return Vec::new();
        }
        let t = self.in_flight.swap_remove(self.rng.random_range(0..self.in_flight.len()));
        let v = TrialValue::success((self.f)(&t), 0.0);
        vec![(t, v)]
    }
    fn wait(&mut self, _: Option<Duration>) -> Result<(), RunnerError> {
        if self.trickle {
            // A few results arrive during each wait, in random order, as on a real cluster.
            let mut k = 0;
            while k < self.in_flight.len() {
                if self.rng.random::<f64>() < 0.1 {
                    let t = self.in_flight.swap_remove(k);
                    let v = TrialValue::success((self.f)(&t), 0.0);
                    self.done.push((t, v));
                } else {
                    k += 1;
                }
            }
            return Ok(());
        }
        self.capacity = self.in_flight.len().max(1);
        Ok(())
    }
    fn is_running(&self) -> bool {
        !self.in_flight.is_empty() || !self.done.is_empty()
    }
    fn count_available_workers(&self) -> usize {
        self.capacity - self.in_flight.len()
    }
}

fn trials_per_config(rh: &RunHistory) -> BTreeMap<usize, usize> {
    let mut n = BTreeMap::new();
    for (k, _) in rh.iter() {
        *n.entry(k.config_id).or_insert(0) += 1;
    }
    n
}

fn rejected(state: &serde_json::Value) -> Vec<usize> {
    serde_json::from_value(state["rejected_config_ids"].clone()).unwrap()
}

fn design(configs: Vec<Configuration>) -> InitialDesign {
    InitialDesign::new(DesignKind::Random).n_configs(0).additional_configs(configs)
}

#[test]
fn worse_challenger_is_rejected_at_once_and_better_one_becomes_incumbent() {
    let s = Scenario::builder(space()).n_trials(12).seed(1).build().unwrap();
    let (mid, bad, good) = (config(3.0, 3), config(-5.0, 10), config(1.0, 3));
    let mut smbo = SmboBuilder::random(s.clone())
        .initial_design(design(vec![mid.clone(), bad.clone(), good.clone()]))
        .intensifier(Box::new(RacingIntensifier::new(&s)))
        .persist(false)
        .build(in_process(quad))
        .unwrap();
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    let id = |c: &Configuration| rh.config_id(c).unwrap();
    let n = trials_per_config(rh);
    assert_eq!(n[&id(&bad)], 1, "the bad challenger ran on one pair only");
    assert_eq!(n[&id(&good)], 3, "the good challenger raced up to max_config_calls");
    assert_eq!(smbo.incumbent(), Some(good.clone()));
    let pairs: BTreeSet<_> = rh.trials_of(id(&good)).map(|(k, _)| k.seed).collect();
    assert_eq!(pairs.len(), 3, "a non-deterministic target gets three seeds");
    let mut racing = RacingIntensifier::new(&s);
    racing.restore(rh);
    let rej = rejected(&racing.state_json());
    assert!(rej.contains(&id(&bad)) && rej.contains(&id(&mid)), "{rej:?}");
    assert!(!rej.contains(&id(&good)));
    assert_eq!(racing.incumbents(), &[good]);
    assert!(n.values().all(|n| *n <= 3));
}

/// Instances shift the cost; the instance name `iN` encodes the shift.
fn instance_scenario(n_trials: usize, deterministic: bool) -> Scenario {
    let instances: Vec<String> = (0..8).map(|i| format!("i{i}")).collect();
    let features = instances.iter().enumerate().map(|(k, i)| (i.clone(), vec![k as f64])).collect();
    Scenario::builder(space())
        .instances(instances)
        .instance_features(features)
        .deterministic(deterministic)
        .n_trials(n_trials)
        .n_workers(4)
        .seed(3)
        .build()
        .unwrap()
}

#[test]
fn racing_with_instances_and_shuffled_results_respects_max_config_calls() {
    let s = instance_scenario(200, true);
    let racing = RacingIntensifier::with_limits(&s, 5, 10);
    let pairs: BTreeSet<_> = racing.pairs().iter().map(|p| (p.instance.clone(), p.seed)).collect();
    assert_eq!(pairs.len(), 5, "cut to max_config_calls, instances first");
    assert_eq!(pairs.iter().map(|p| p.1).collect::<BTreeSet<_>>().len(), 1, "deterministic: one seed");
    let mut smbo = SmboBuilder::random(s)
        .intensifier(Box::new(racing))
        .persist(false)
        .build(ShufflePool::new(4, 11, quad))
        .unwrap();
    smbo.optimize().unwrap();
    assert_eq!(smbo.runner().max_in_flight, 4, "every worker was kept busy");
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 200);
    let n = trials_per_config(rh);
    assert!(n.values().all(|n| *n <= 5), "{n:?}");
    for (k, _) in rh.iter() {
        assert!(pairs.contains(&(k.instance.clone(), k.seed)), "trial outside the pairs: {k:?}");
    }
    let inc = smbo.incumbent().unwrap();
    let inc_id = rh.config_id(&inc).unwrap();
    assert_eq!(n[&inc_id], 5, "the incumbent was intensified to max_config_calls");
    let singles = n.values().filter(|n| **n == 1).count();
    assert!(singles * 2 > n.len(), "most challengers are stopped after one pair: {n:?}");
    let inc_pairs: BTreeSet<_> = rh.trials_of(inc_id).map(|(k, _)| k.instance.clone()).collect();
    let inc_cost = rh.average_cost(inc_id).unwrap()[0];
    for (id, count) in &n {
        let p: BTreeSet<_> = rh.trials_of(*id).map(|(k, _)| k.instance.clone()).collect();
        if *count == 5 && p == inc_pairs {
            assert!(rh.average_cost(*id).unwrap()[0] >= inc_cost, "config {id} beats the incumbent");
        }
    }
}

#[test]
fn racing_restores_from_the_run_history_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |n: usize| {
        Scenario::builder(space())
            .name("race")
            .output_directory(dir.path())
            .n_trials(n)
            .seed(5)
            .build()
            .unwrap()
    };
    let first_state = {
        let s = scenario(40);
        let mut smbo = SmboBuilder::random(s.clone())
            .intensifier(Box::new(RacingIntensifier::new(&s)))
            .build(in_process(quad))
            .unwrap();
        smbo.optimize().unwrap();
        let file = smbo.run_directory().unwrap().file("intensifier.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert!(doc["state"]["queue"].is_array());
        // As in SMAC3, the rejected configurations are at the top level, not in `state`.
        let mut fresh = RacingIntensifier::new(&s);
        fresh.restore(smbo.runhistory());
        assert_eq!(fresh.incumbents(), smbo.incumbents());
        assert_eq!(rejected(&fresh.state_json()), rejected(&doc));
        doc
    };
    assert!(!rejected(&first_state).is_empty());
    let s = scenario(70);
    let mut smbo = SmboBuilder::random(s.clone())
        .intensifier(Box::new(RacingIntensifier::new(&s)))
        .build(in_process(quad))
        .unwrap();
    assert_eq!(smbo.runhistory().len(), 40);
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 70);
    assert!(trials_per_config(rh).values().all(|n| *n <= 3));
    let seeds: BTreeSet<_> = rh.iter().map(|(k, _)| k.seed).collect();
    assert_eq!(seeds.len(), 3, "the continued run reuses the same three seeds");
}

/// Costs by x for the two-objective example; other configurations are dominated by all.
fn two_objectives(t: &TrialInfo) -> Vec<f64> {
    let x = t.config.get_f64("x").unwrap();
    let table =
        [(-4.0, [1.0, 5.0]), (-2.0, [2.0, 3.0]), (0.0, [3.0, 4.0]), (2.0, [4.0, 1.0]), (4.0, [2.5, 3.5])];
    table.iter().find(|(v, _)| *v == x).map_or(vec![10.0, 10.0], |(_, c)| c.to_vec())
}

#[test]
fn pareto_front_of_a_two_objective_example() {
    let s = Scenario::builder(space()).objectives(["a", "b"]).n_trials(40).seed(2).build().unwrap();
    let configs: Vec<Configuration> = [-4.0, -2.0, 0.0, 2.0, 4.0].iter().map(|x| config(*x, 0)).collect();
    let mut smbo = SmboBuilder::random(s.clone())
        .initial_design(design(configs.clone()))
        .intensifier(Box::new(RacingIntensifier::new(&s)))
        .persist(false)
        .build(in_process(two_objectives))
        .unwrap();
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    let ids: Vec<usize> = configs.iter().map(|c| rh.config_id(c).unwrap()).collect();
    let front: BTreeSet<usize> = [ids[0], ids[1], ids[3]].into();
    assert_eq!(rh.pareto_front().into_iter().collect::<BTreeSet<_>>(), front);
    let incumbents: BTreeSet<usize> = smbo.incumbents().iter().map(|c| rh.config_id(c).unwrap()).collect();
    assert_eq!(incumbents, front);
    let n = trials_per_config(rh);
    assert_eq!((n[&ids[2]], n[&ids[4]]), (1, 1), "dominated challengers stop after one pair");
    assert!(front.iter().all(|id| n[id] == 3), "{n:?}");
    let costs: Vec<Vec<f64>> = ids.iter().map(|id| rh.average_cost(*id).unwrap()).collect();
    assert_eq!(smac_core::multi_objective::pareto_front(&costs), vec![0, 1, 3]);
}

fn budget_cost(t: &TrialInfo) -> Vec<f64> {
    // Lower budgets are a noisy view of the true cost (the noise depends on the configuration).
    let b = t.budget.unwrap();
    let truth = quad(t)[0];
    let wiggle = ((t.config.get_f64("x").unwrap() * 7.3).sin() * 5.0) * (1.0 - b / 81.0);
    vec![truth + wiggle]
}

fn budget_counts(rh: &RunHistory) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for (k, _) in rh.iter() {
        *counts.entry(k.budget.unwrap() as u64).or_insert(0) += 1;
    }
    counts
}

#[test]
fn hyperband_runs_the_textbook_round() {
    let s = Scenario::builder(space()).budgets(1.0, 81.0).n_trials(206).seed(4).build().unwrap();
    let hb = Hyperband::new(&s);
    assert_eq!(hb.inner().schedule().unwrap(), &Schedule::hyperband(3, 1.0, 81.0));
    let mut smbo = SmboBuilder::hyperband(s).persist(false).build(in_process(budget_cost)).unwrap();
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    let expected: BTreeMap<u64, usize> = [(1, 81), (3, 61), (9, 35), (27, 19), (81, 10)].into();
    assert_eq!(budget_counts(rh), expected);
    let inc = rh.config_id(&smbo.incumbent().unwrap()).unwrap();
    assert_eq!(rh.highest_budget(inc), Some(81.0), "the incumbent is chosen on the highest budget");
    let best_full = rh
        .iter()
        .filter(|(k, _)| k.budget == Some(81.0))
        .min_by(|a, b| a.1.cost[0].total_cmp(&b.1.cost[0]))
        .unwrap();
    assert_eq!(best_full.0.config_id, inc);
}

#[test]
fn successive_halving_promotes_the_best_third_with_shuffled_results() {
    let s = Scenario::builder(space()).budgets(1.0, 9.0).n_trials(300).n_workers(4).seed(6).build().unwrap();
    let sh = SuccessiveHalving::new(&s);
    let mut smbo = SmboBuilder::random(s)
        .intensifier(Box::new(sh))
        .persist(false)
        .build(ShufflePool::new(4, 8, budget_cost))
        .unwrap();
    smbo.optimize().unwrap();
    assert_eq!(smbo.runner().max_in_flight, 4, "stages never leave workers idle");
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 300);
    let mut at: HashMap<(usize, u64), f64> = HashMap::new();
    for (k, v) in rh.iter() {
        assert!(at.insert((k.config_id, k.budget.unwrap() as u64), v.cost[0]).is_none(), "a repeated trial");
    }
    // Groups of nine new configurations enter the first stage one after the other, so the ids
    // of a group are consecutive.
    let n_configs = rh.configs().len();
    let mut complete_groups = 0;
    for start in (1..=n_configs).step_by(9) {
        let group: Vec<usize> = (start..start + 9).filter(|id| at.contains_key(&(*id, 1))).collect();
        let promoted: BTreeSet<usize> =
            group.iter().copied().filter(|id| at.contains_key(&(*id, 3))).collect();
        let finalist: Vec<usize> = group.iter().copied().filter(|id| at.contains_key(&(*id, 9))).collect();
        assert!(promoted.len() <= 3 && finalist.len() <= 1);
        if promoted.is_empty() {
            continue;
        }
        assert_eq!(group.len(), 9);
        let mut by_cost = group.clone();
        by_cost.sort_by(|a, b| at[&(*a, 1)].total_cmp(&at[&(*b, 1)]));
        assert_eq!(promoted, by_cost[..3].iter().copied().collect(), "group at {start}");
        if let Some(f) = finalist.first() {
            let best = promoted.iter().min_by(|a, b| at[&(**a, 3)].total_cmp(&at[&(**b, 3)])).unwrap();
            assert_eq!(f, best);
            complete_groups += 1;
        }
    }
    assert!(complete_groups >= 15, "only {complete_groups} groups finished");
}

#[test]
fn hyperband_restarts_from_the_run_history() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |n: usize| {
        Scenario::builder(space())
            .name("hb")
            .output_directory(dir.path())
            .budgets(1.0, 81.0)
            .n_trials(n)
            .seed(9)
            .build()
            .unwrap()
    };
    {
        let mut smbo = SmboBuilder::hyperband(scenario(100)).build(in_process(budget_cost)).unwrap();
        smbo.optimize().unwrap();
        let state = smbo.run_directory().unwrap().file("intensifier.json");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
        assert_eq!(doc["state"]["tracker"]["0,1"][0][1].as_array().unwrap().len(), 27);
    }
    let mut smbo = SmboBuilder::hyperband(scenario(206)).build(in_process(budget_cost)).unwrap();
    smbo.optimize().unwrap();
    let expected: BTreeMap<u64, usize> = [(1, 81), (3, 61), (9, 35), (27, 19), (81, 10)].into();
    assert_eq!(budget_counts(smbo.runhistory()), expected, "the restart continued the same round");
}

#[test]
fn multi_fidelity_facade_trains_on_budgets_and_keeps_workers_busy() {
    let s = Scenario::builder(space()).budgets(1.0, 27.0).n_trials(120).n_workers(3).seed(7).build().unwrap();
    let schedule = Schedule::hyperband(3, 1.0, 27.0);
    let budgets: BTreeSet<u64> = schedule.budgets.iter().flatten().map(|b| b.to_bits()).collect();
    let mut smbo =
        SmboBuilder::multi_fidelity(s).persist(false).build(ShufflePool::new(3, 1, budget_cost)).unwrap();
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 120);
    assert!(rh.iter().all(|(k, _)| budgets.contains(&k.budget.unwrap().to_bits())));
    let from_model = rh
        .configs()
        .iter()
        .filter(|c| c.origin().is_some_and(|o| o.starts_with("Acquisition Function Maximizer")))
        .count();
    assert!(from_model > 0, "the surrogate proposed configurations");
    assert_eq!(smbo.runner().max_in_flight, 3);
}

#[test]
fn algorithm_configuration_facade_races_over_instances() {
    let s = instance_scenario(80, false);
    let mut smbo =
        SmboBuilder::algorithm_configuration(s).persist(false).build(ShufflePool::new(4, 5, quad)).unwrap();
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 80);
    assert_eq!(rh.config(1).unwrap(), &space().default_configuration(), "the default configuration first");
    let inc = rh.config_id(&smbo.incumbent().unwrap()).unwrap();
    let n = trials_per_config(rh);
    assert!(n[&inc] >= 4, "the incumbent was intensified over instances: {n:?}");
    let instances: BTreeSet<_> = rh.trials_of(inc).map(|(k, _)| k.instance.clone()).collect();
    assert!(instances.len() >= 4);
    assert!(n.len() > 10, "challengers keep coming: {} configurations", n.len());
}

fn trade_off(t: &TrialInfo) -> Vec<f64> {
    let x = t.config.get_f64("x").unwrap();
    let k = t.config.get_i64("k").unwrap() as f64;
    vec![(x - 1.0).powi(2) + k, 100.0 * ((x + 2.0).powi(2) + (k - 10.0).powi(2))]
}

#[test]
fn model_based_facades_scalarize_several_objectives() {
    for preset in [SmboBuilder::hpo as fn(Scenario) -> SmboBuilder, SmboBuilder::algorithm_configuration] {
        let s = Scenario::builder(space()).objectives(["a", "b"]).n_trials(40).seed(3).build().unwrap();
        let mut smbo = preset(s).persist(false).build(in_process(trade_off)).unwrap();
        smbo.optimize().unwrap();
        let rh = smbo.runhistory();
        assert_eq!(rh.len(), 40);
        let incumbents: Vec<Vec<f64>> =
            smbo.incumbents().iter().map(|c| rh.average_cost(rh.config_id(c).unwrap()).unwrap()).collect();
        assert!(!incumbents.is_empty());
        for a in &incumbents {
            assert!(!incumbents.iter().any(|b| smac_core::runhistory::dominates(b, a)), "{incumbents:?}");
        }
        let from_model = rh
            .configs()
            .iter()
            .filter(|c| c.origin().is_some_and(|o| o.starts_with("Acquisition Function Maximizer")))
            .count();
        assert!(from_model > 0, "ParEGO-scalarized model proposed configurations");
    }
}

#[test]
fn racing_with_256_workers_and_a_noisy_target_never_ends_early() {
    // A non-deterministic scenario races every challenger against the incumbent; with far more
    // workers than configurations in the race, the intensifier often has nothing to start until
    // results arrive. The loop must wait then, not mistake it for an exhausted space.
    for seed in 0..3 {
        for ac in [false, true] {
            let mut s = instance_scenario(600, false);
            s.seed = seed;
            let builder = if ac { SmboBuilder::algorithm_configuration(s) } else { SmboBuilder::hpo(s) };
            let pool = ShufflePool { trickle: true, ..ShufflePool::new(256, seed, quad) };
            let mut smbo = builder.persist(false).build(pool).unwrap();
            smbo.optimize().unwrap();
            assert_eq!(smbo.runhistory().len(), 600, "seed {seed}, ac {ac}: the run ended early");
            assert!(smbo.runner().max_in_flight > 128, "seed {seed}: most workers were kept busy");
        }
    }
}
