//! Facades with `n_workers > 1`: trials run concurrently on worker threads, none is lost or
//! repeated, and results arriving out of order are told correctly.

use smac::{
    ConfigSpace, Hyperparameter, HyperparameterOptimizationFacade, RandomFacade, Scenario, TrialInfo,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("par");
    cs.add_all([Hyperparameter::float("x", -5.0, 5.0), Hyperparameter::integer("k", 1, 20)]).unwrap();
    Arc::new(cs)
}

#[test]
fn hpo_facade_keeps_four_threads_busy_without_losing_trials() {
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (a, p) = (active.clone(), peak.clone());
    let scenario =
        Scenario::builder(space()).n_trials(40).n_workers(4).deterministic(true).seed(5).build().unwrap();
    let mut smac = HyperparameterOptimizationFacade::builder(scenario)
        .target_fn(move |t: &TrialInfo| {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            // Uneven durations make results arrive out of submission order.
            std::thread::sleep(Duration::from_millis(5 + (t.config.get_i64("k").unwrap() as u64 % 4) * 7));
            a.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(t.config.get_f64("x").unwrap().powi(2) + t.config.get_i64("k").unwrap() as f64)
        })
        .persist(false)
        .build()
        .unwrap();
    let incumbent = smac.optimize().unwrap().unwrap();
    let rh = smac.runhistory();
    assert_eq!(rh.len(), 40);
    assert_eq!(rh.n_running(), 0);
    let ids: std::collections::HashSet<_> = rh.iter().map(|(k, _)| k.config_id).collect();
    assert_eq!(ids.len(), 40, "a configuration ran twice");
    assert_eq!(peak.load(Ordering::SeqCst), 4, "four trials should have run at once");
    let best = rh.iter().map(|(_, v)| v.cost[0]).fold(f64::INFINITY, f64::min);
    assert_eq!(rh.cost(&incumbent), Some(best));
}

#[test]
fn failing_trials_on_worker_threads_become_crashes() {
    let scenario =
        Scenario::builder(space()).n_trials(12).n_workers(3).crash_cost(vec![1e6]).build().unwrap();
    let mut smac = RandomFacade::builder(scenario)
        .target_fn(|t: &TrialInfo| {
            if t.config.get_i64("k").unwrap() % 2 == 0 {
                panic!("even k");
            }
            Ok::<_, String>(1.0)
        })
        .persist(false)
        .build()
        .unwrap();
    smac.optimize().unwrap();
    let rh = smac.runhistory();
    assert_eq!(rh.len(), 12);
    for (k, v) in rh.iter() {
        let even = rh.config(k.config_id).unwrap().get_i64("k").unwrap() % 2 == 0;
        assert_eq!(v.status == smac::StatusType::Crashed, even);
        if even {
            assert_eq!(v.cost, vec![1e6]);
            assert!(v.error_message().unwrap().contains("even k"));
        }
    }
}

/// One HPO (or BlackBox) run on 4 worker threads whose trial durations vary randomly; returns
/// the sequence of (configuration, cost) in the order the run history recorded them. Proposals
/// after the initial design are made while 3 trials run, so they are pending-aware (the HPO
/// facade's variance collapse, the BlackBox facade's constant-liar fantasies).
fn parallel_run(reproducible: bool, jitter_seed: u64) -> Vec<(String, f64)> {
    facade_run(false, reproducible, jitter_seed)
}

fn facade_run(blackbox: bool, reproducible: bool, jitter_seed: u64) -> Vec<(String, f64)> {
    use smac::runner::{DaskStyleParallelRunner, ParallelOptions};
    let scenario =
        Scenario::builder(space()).n_trials(30).n_workers(4).deterministic(true).seed(11).build().unwrap();
    let counter = Arc::new(AtomicUsize::new(jitter_seed as usize));
    let target = move |t: &TrialInfo| {
        // Durations differ between the two runs, so completion order differs too.
        let n = counter.fetch_add(7, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1 + (n * 13 % 11) as u64));
        Ok::<_, String>(t.config.get_f64("x").unwrap().powi(2) + t.config.get_i64("k").unwrap() as f64)
    };
    let options = ParallelOptions { reproducible, ..ParallelOptions::from_scenario(&scenario) };
    let runner = DaskStyleParallelRunner::threads(target, 4, options).unwrap();
    let builder = if blackbox {
        smac::BlackBoxFacade::builder(scenario)
    } else {
        HyperparameterOptimizationFacade::builder(scenario)
    };
    let mut smac = builder.runner(runner).persist(false).build().unwrap();
    smac.optimize().unwrap();
    smac.runhistory()
        .iter()
        .map(|(k, v)| (smac.runhistory().config(k.config_id).unwrap().to_string(), v.cost[0]))
        .collect()
}

#[test]
fn reproducible_mode_gives_identical_histories_with_four_workers() {
    let a = parallel_run(true, 0);
    let b = parallel_run(true, 5);
    assert_eq!(a.len(), 30);
    assert_eq!(a, b, "reproducible parallel runs diverged");
}

#[test]
fn reproducible_mode_stays_reproducible_with_constant_liar_fantasies() {
    let a = facade_run(true, true, 0);
    let b = facade_run(true, true, 5);
    assert_eq!(a.len(), 30);
    assert_eq!(a, b, "reproducible BlackBox runs diverged");
}
