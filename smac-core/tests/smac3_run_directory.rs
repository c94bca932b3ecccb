//! Run directories written by SMAC3 2.4 (see tests/fixtures/smac3_run/make_run.py) load with our
//! readers: config space, scenario (with Python's `Infinity` tokens) and run history.

use smac_core::configspace::ConfigSpace;
use smac_core::{RunHistory, Scenario, StatusType};
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/smac3_run").join(name).join("0")
}

fn load(name: &str) -> (Scenario, RunHistory) {
    let dir = fixture(name);
    let space = Arc::new(ConfigSpace::load_json(&dir.join("configspace.json")).unwrap());
    let text = std::fs::read_to_string(dir.join("scenario.json")).unwrap();
    let scenario = Scenario::from_json(&text, space.clone(), &dir.join("scenario.json")).unwrap();
    let rh = RunHistory::load(&dir.join("runhistory.json"), &space, scenario.n_objectives()).unwrap();
    (scenario, rh)
}

#[test]
fn hpo_run_loads_with_infinite_limits() {
    let (scenario, rh) = load("branin_smac3");
    assert_eq!(scenario.n_trials, 20);
    assert!(scenario.deterministic);
    assert_eq!(scenario.walltime_limit, f64::INFINITY);
    assert_eq!(scenario.crash_cost, vec![f64::INFINITY]);
    assert_eq!(rh.len(), 20);
    assert!(rh.iter().all(|(_, v)| v.status == StatusType::Success));
    let (_, best) = rh.best_config().unwrap();
    assert!(rh.cost(best).unwrap() < 5.0);
}

#[test]
fn instance_run_with_a_crash_loads() {
    let (scenario, rh) = load("branin_instances_smac3");
    assert_eq!(scenario.instances.as_ref().map(Vec::len), Some(3));
    assert_eq!(rh.len(), 12);
    let crashed: Vec<_> = rh.iter().filter(|(_, v)| v.status == StatusType::Crashed).collect();
    assert_eq!(crashed.len(), 1);
    assert_eq!(crashed[0].1.cost, vec![f64::INFINITY]);
    assert!(rh.iter().all(|(k, _)| k.instance.is_some()));
}
