//! The model-based generator and the HPO/BlackBox presets: valid, never-evaluated challengers,
//! and better than random search on a smooth problem.

use rand::SeedableRng;
use smac_core::configspace::{Condition, ConfigSpace, Hyperparameter};
use smac_core::{ConfigGenerator, RunHistory, Scenario, SerialRunner, SmboBuilder, TrialInfo, TrialValue};
use std::collections::HashSet;
use std::sync::Arc;

/// A small mixed, conditional space with 28 points (a: 4, c: 4, b: 4 × 5), so collisions with
/// evaluated configurations are certain.
fn small_space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("small");
    cs.add_all([
        Hyperparameter::categorical("algo", ["a", "b", "c"]),
        Hyperparameter::integer("k", 0, 3),
        Hyperparameter::ordinal("level", ["lo", "mid", "hi", "max", "top"]),
    ])
    .unwrap();
    cs.add_condition(Condition::equals("level", "algo", "b")).unwrap();
    Arc::new(cs)
}

fn cost(t: &TrialInfo) -> Result<f64, String> {
    let c = &t.config;
    let base = match c.get_str("algo").unwrap() {
        "a" => 1.0,
        "b" => 0.5,
        _ => 2.0,
    };
    Ok(base
        + (c.get_i64("k").unwrap() as f64 - 2.0).abs()
        + if c.get_str("level") == Some("hi") { -0.4 } else { 0.0 })
}

#[test]
fn hpo_exhausts_a_tiny_space_without_repeats_or_invalid_configs() {
    let scenario = Scenario::builder(small_space()).n_trials(40).deterministic(true).seed(1).build().unwrap();
    let runner = SerialRunner::new(cost);
    let mut smbo = SmboBuilder::hpo(scenario).persist(false).build(runner).unwrap();
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    let ids: HashSet<_> = rh.iter().map(|(k, _)| k.config_id).collect();
    assert_eq!(ids.len(), rh.len(), "a configuration was evaluated twice");
    assert_eq!(rh.len(), 28, "every point of the space is tried once, then the run stops");
    for c in rh.configs() {
        small_space().check_vector(c.vector()).unwrap();
    }
    // The optimum (b, k=2, hi) costs 0.1.
    let best = rh.iter().map(|(_, v)| v.cost[0]).fold(f64::INFINITY, f64::min);
    assert!((best - 0.1).abs() < 1e-12, "best {best}");
}

#[test]
fn generator_challengers_are_valid_and_unevaluated() {
    let space = small_space();
    let scenario = Scenario::builder(space.clone()).n_trials(50).seed(2).build().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut rh = RunHistory::new(1);
    for c in space.sample(10, &mut rng).unwrap() {
        let t = TrialInfo::new(c, Some(0));
        if !rh.contains(&t) {
            let v = TrialValue::success(vec![cost(&t).unwrap()], 0.0);
            rh.add(&t, v);
        }
    }
    for preset in [SmboBuilder::hpo as fn(Scenario) -> SmboBuilder, SmboBuilder::blackbox] {
        let mut generator = preset_generator(preset, scenario.clone());
        let challengers = generator.challengers(&rh, &[], &mut rng).unwrap();
        assert!(!challengers.is_empty());
        for c in &challengers {
            space.check_vector(c.vector()).unwrap();
            assert!(rh.config_id(c).is_none(), "{c} was already evaluated");
            assert!(c.origin().unwrap().starts_with("Acquisition Function Maximizer"));
        }
    }
}

/// Builds the model-based generator the preset would use, by assembling the same parts.
fn preset_generator(preset: fn(Scenario) -> SmboBuilder, scenario: Scenario) -> Box<dyn ConfigGenerator> {
    let mut builder = preset(scenario);
    builder.take_generator().expect("model-based presets have a generator")
}

fn branin(t: &TrialInfo) -> Result<f64, String> {
    let (x1, x2) = (t.config.get_f64("x1").unwrap(), t.config.get_f64("x2").unwrap());
    let pi = std::f64::consts::PI;
    let (b, c, tt) = (5.1 / (4.0 * pi * pi), 5.0 / pi, 1.0 / (8.0 * pi));
    Ok((x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - tt) * x1.cos() + 10.0)
}

fn median_best(builder: fn(Scenario) -> SmboBuilder) -> f64 {
    let mut cs = ConfigSpace::new("branin");
    cs.add_all([Hyperparameter::float("x1", -5.0, 10.0), Hyperparameter::float("x2", 0.0, 15.0)]).unwrap();
    let cs = Arc::new(cs);
    let mut best: Vec<f64> = (0..5)
        .map(|seed| {
            let s =
                Scenario::builder(cs.clone()).n_trials(50).deterministic(true).seed(seed).build().unwrap();
            let mut smbo = builder(s).persist(false).build(SerialRunner::new(branin)).unwrap();
            let inc = smbo.optimize().unwrap().unwrap();
            smbo.runhistory().cost(&inc).unwrap()
        })
        .collect();
    best.sort_by(f64::total_cmp);
    best[2]
}

#[test]
fn model_based_facades_beat_random_search_on_branin() {
    // Regret, the optimum being 0.397887; medians over 5 seeds of 50 trials.
    let random = median_best(SmboBuilder::random) - 0.397887;
    let hpo = median_best(SmboBuilder::hpo) - 0.397887;
    let bb = median_best(SmboBuilder::blackbox) - 0.397887;
    assert!(hpo < random / 5.0, "hpo {hpo} vs random {random}");
    assert!(bb < random / 50.0, "bb {bb} vs random {random}");
}

#[test]
fn the_blackbox_gp_predicts_on_all_cores_only_when_the_scenario_has_one_worker() {
    let sequential = Scenario::builder(small_space()).seed(7).build().unwrap();
    let parallel = Scenario::builder(small_space()).seed(7).n_workers(4).build().unwrap();
    let (one, four) = (SmboBuilder::blackbox_gp(&sequential), SmboBuilder::blackbox_gp(&parallel));
    // 0 means "all available cores"; with several workers the cores run trials.
    assert_eq!((one.predict_threads, four.predict_threads), (0, 1));
    assert_eq!((one.seed, four.seed), (7, 7));
}
