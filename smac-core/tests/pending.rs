//! Pending-aware proposals: trials running at proposal time change what the model proposes,
//! moving the next proposals away from them, for the forest (HPO, variance collapse) and the GP
//! (BlackBox, constant liar).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use smac_core::acquisition::{ExpectedImprovement, LocalAndSortedRandomSearch};
use smac_core::configspace::{ConfigSpace, Configuration, Hyperparameter};
use smac_core::encoder::RunHistoryEncoder;
use smac_core::pending::PendingStrategy;
use smac_core::smbo_builder::feature_types;
use smac_core::{ConfigGenerator, Fantasy, ModelBasedGenerator, RunHistory, Scenario, TrialInfo, TrialValue};
use smac_surrogate::{GaussianProcess, GaussianProcessConfig, RandomForest, RandomForestConfig};
use std::sync::Arc;

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("bowl");
    cs.add_all([Hyperparameter::float("x", -5.0, 5.0), Hyperparameter::float("y", -5.0, 5.0)]).unwrap();
    Arc::new(cs)
}

fn bowl(c: &Configuration) -> f64 {
    let (x, y) = (c.get_f64("x").unwrap(), c.get_f64("y").unwrap());
    (x - 1.0).powi(2) + 2.0 * (y + 0.5).powi(2)
}

/// 20 random finished trials.
fn history(space: &Arc<ConfigSpace>) -> RunHistory {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut rh = RunHistory::new(1);
    for c in space.sample(20, &mut rng).unwrap() {
        let value = bowl(&c);
        rh.add(&TrialInfo::new(c, Some(0)), TrialValue::success(vec![value], 0.0));
    }
    rh
}

fn generator(kind: &str, scenario: &Scenario, strategy: PendingStrategy) -> ModelBasedGenerator {
    let (model, log_scaled): (Box<dyn smac_surrogate::Surrogate>, bool) = match kind {
        "forest" => {
            let rf = RandomForestConfig { seed: 3, ..RandomForestConfig::hpo() };
            (Box::new(RandomForest::new(rf, feature_types(scenario))), true)
        }
        _ => {
            let gp = GaussianProcessConfig { seed: 3, ..GaussianProcessConfig::default() };
            (Box::new(GaussianProcess::new(gp, feature_types(scenario))), false)
        }
    };
    ModelBasedGenerator::new(
        scenario.configspace.clone(),
        model,
        Box::new(ExpectedImprovement::new(0.0)),
        LocalAndSortedRandomSearch { challengers: 1_000, ..Default::default() },
        RunHistoryEncoder::new(scenario, log_scaled),
    )
    .pending(strategy)
}

/// Each surrogate's default strategy (the facades' choice).
fn aware(kind: &str) -> PendingStrategy {
    if kind == "forest" {
        PendingStrategy::default()
    } else {
        PendingStrategy::ConstantLiar(Fantasy::Mean)
    }
}

fn challengers(g: &mut ModelBasedGenerator, rh: &RunHistory) -> Vec<Configuration> {
    g.challengers(rh, &[], &mut ChaCha8Rng::seed_from_u64(5)).unwrap()
}

/// Mean over `proposals` of the distance to the nearest running configuration.
fn mean_distance_to(proposals: &[Configuration], running: &[Configuration]) -> f64 {
    let dist = |a: &Configuration, b: &Configuration| {
        a.vector().iter().zip(b.vector()).map(|(u, v)| (u - v).powi(2)).sum::<f64>().sqrt()
    };
    proposals.iter().map(|p| running.iter().map(|r| dist(p, r)).fold(f64::INFINITY, f64::min)).sum::<f64>()
        / proposals.len() as f64
}

/// The 20-trial history with the four best proposals of a sequential run marked running, and
/// the next proposals with `strategy` and without any.
fn proposals_while_four_run(
    kind: &str,
    strategy: PendingStrategy,
) -> (Vec<Configuration>, Vec<Configuration>, Vec<Configuration>, usize) {
    let space = space();
    let scenario = Scenario::builder(space.clone()).n_trials(100).seed(1).build().unwrap();
    let rh = history(&space);
    let sequential = challengers(&mut generator(kind, &scenario, strategy), &rh);
    let running: Vec<Configuration> = sequential[..4].to_vec();
    let mut busy = rh.clone();
    for c in &running {
        busy.add_running(&TrialInfo::new(c.clone(), Some(0)));
    }
    let mut pending_aware = generator(kind, &scenario, strategy);
    let with = challengers(&mut pending_aware, &busy);
    let without = challengers(&mut generator(kind, &scenario, PendingStrategy::Ignore), &busy);
    (running, with, without, pending_aware.n_fantasies())
}

#[test]
fn running_trials_push_the_next_proposals_away() {
    // The mechanisms at a visible strength: the GP's constant-liar rows, and the forest's
    // variance collapse with a wide radius (the facade default is narrower, see the next test).
    // The forest's random splits already spread its variance between observations, so its
    // proposals keep some distance without the collapse (1.5× further with it here, 1.1× with
    // half this radius).
    for (kind, strategy) in [("gp", aware("gp")), ("forest", PendingStrategy::CollapseVariance(1.0))] {
        let (running, with, without, n_fantasies) = proposals_while_four_run(kind, strategy);
        // The GP refits with one fantasy row per running trial; the forest keeps its fit.
        assert_eq!(n_fantasies, if kind == "gp" { 4 } else { 0 }, "{kind}");
        let (d_aware, d_blind) =
            (mean_distance_to(&with[..4], &running), mean_distance_to(&without[..4], &running));
        assert!(
            d_aware > 1.3 * d_blind,
            "{kind}: proposals keep further from running trials ({d_aware:.4} vs {d_blind:.4} without)"
        );
    }
}

#[test]
fn the_facade_defaults_change_the_proposals_while_trials_run() {
    for kind in ["forest", "gp"] {
        let (_, with, without, _) = proposals_while_four_run(kind, aware(kind));
        assert_ne!(with[..4], without[..4], "{kind}: running trials change the proposals");
    }
}

#[test]
fn one_fit_serves_proposals_until_results_or_the_running_set_change() {
    let space = space();
    let scenario = Scenario::builder(space.clone()).n_trials(100).seed(1).build().unwrap();
    let rh = history(&space);
    let mut g = generator("gp", &scenario, aware("gp"));
    let first = challengers(&mut g, &rh);
    // Same data, same running set: the same fit (so with the same random numbers the same list).
    assert_eq!(challengers(&mut g, &rh), first);
    let mut busy = rh.clone();
    busy.add_running(&TrialInfo::new(first[0].clone(), Some(0)));
    let refitted = challengers(&mut g, &busy);
    assert_eq!(g.n_fantasies(), 1);
    assert_ne!(refitted[..4], first[1..5], "a new running trial refits the model with its fantasy");
}

#[test]
fn fantasies_are_added_in_a_fixed_order() {
    // The running set is a hash map inside the run history, with its own random hasher per
    // history: two histories built alike iterate it in different orders, the model must not see
    // a difference.
    let space = space();
    let scenario = Scenario::builder(space.clone()).n_trials(100).seed(1).build().unwrap();
    let running = space.sample(6, &mut ChaCha8Rng::seed_from_u64(8)).unwrap();
    let busy = || {
        let mut rh = history(&space);
        for c in &running {
            rh.add_running(&TrialInfo::new(c.clone(), Some(0)));
        }
        rh
    };
    let (first, second) = (busy(), busy());
    let order = |rh: &RunHistory| {
        smac_core::pending::running_at_budget(rh, None)
            .iter()
            .map(|(_, t)| t.config.vector().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&first), order(&second));
    assert_eq!(order(&first), running.iter().map(|c| c.vector().to_vec()).collect::<Vec<_>>());
    let a = challengers(&mut generator("gp", &scenario, aware("gp")), &first);
    let b = challengers(&mut generator("gp", &scenario, aware("gp")), &second);
    assert_eq!(a, b);
}
