use super::*;
use crate::configspace::{ConfigSpace, Hyperparameter};
use crate::trial::unix_now;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::sync::Arc;

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("rh");
    cs.add_all([Hyperparameter::float("x", -5.0, 5.0), Hyperparameter::categorical("c", ["a", "b"])])
        .unwrap();
    Arc::new(cs)
}

fn value(cost: f64) -> TrialValue {
    TrialValue::success(vec![cost], unix_now())
}

#[test]
fn aggregates_over_instance_seed_pairs() {
    let cs = space();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let configs = cs.sample(2, &mut rng).unwrap();
    let mut rh = RunHistory::new(1);
    for (seed, cost) in [(1, 1.0), (2, 3.0)] {
        rh.add(&TrialInfo::new(configs[0].clone(), Some(seed)), value(cost));
    }
    rh.add(&TrialInfo::new(configs[1].clone(), Some(1)), value(1.5));
    let (a, b) = (rh.config_id(&configs[0]).unwrap(), rh.config_id(&configs[1]).unwrap());
    assert_eq!((a, b), (1, 2));
    assert_eq!(rh.average_cost(a), Some(vec![2.0]));
    assert_eq!(rh.min_cost(a), Some(vec![1.0]));
    assert_eq!(rh.n_trials_of(a), 2);
    assert_eq!(rh.best_config().unwrap().0, b);
    // Re-telling a key replaces its result.
    rh.add(&TrialInfo::new(configs[0].clone(), Some(2)), value(1.0));
    assert_eq!(rh.average_cost(a), Some(vec![1.0]));
    assert_eq!(rh.len(), 3);
    assert_eq!(rh.best_config().unwrap().0, a, "tie on cost goes to more trials");
}

#[test]
fn highest_budget_drives_the_average() {
    let cs = space();
    let c = cs.default_configuration();
    let mut rh = RunHistory::new(1);
    for (budget, cost) in [(1.0, 5.0), (9.0, 2.0), (3.0, 4.0)] {
        let t = TrialInfo { budget: Some(budget), ..TrialInfo::new(c.clone(), Some(0)) };
        rh.add(&t, value(cost));
    }
    assert_eq!(rh.highest_budget(1), Some(9.0));
    assert_eq!(rh.average_cost(1), Some(vec![2.0]));
}

#[test]
fn json_round_trip_keeps_every_trial() {
    let cs = space();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut rh = RunHistory::new(1);
    for (k, c) in cs.sample(20, &mut rng).unwrap().into_iter().enumerate() {
        let c = c.with_origin("Random Search");
        let t = TrialInfo { instance: Some(format!("i{}", k % 3)), ..TrialInfo::new(c, Some(k as u64)) };
        let v = if k == 7 {
            TrialValue {
                cost: vec![f64::INFINITY],
                ..TrialValue::failure(StatusType::Crashed, "boom", unix_now())
            }
        } else {
            value(k as f64 * 0.5)
        };
        rh.add_running(&t);
        rh.add(&t, v);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runhistory.json");
    rh.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // Infinite costs are written as Python's `Infinity`, as SMAC3 writes them.
    assert!(text.contains("\"cost\":Infinity"), "{text}");
    let json = crate::json_compat::parse_lenient(&text).unwrap();
    assert_eq!(json["stats"]["finished"], 20);
    assert_eq!(json["data"][0]["status"], 1);
    assert_eq!(json["data"][7]["status"], 2);
    assert_eq!(json["config_origins"]["1"], "Random Search");
    let back = RunHistory::load(&path, &cs, 1).unwrap();
    assert_eq!(back.len(), 20);
    for ((k1, v1), (k2, v2)) in rh.iter().zip(back.iter()) {
        assert_eq!(k1, k2);
        assert_eq!(v1, v2);
    }
    assert_eq!(back.config(1).unwrap().origin(), Some("Random Search"));
}

#[test]
fn reads_smac3_list_rows_and_rejects_garbage() {
    let cs = space();
    let text = r#"{"stats": {}, "data": [[1, null, 3, 0.0, 0.25, 0.1, 1, 10.0, 10.1, {}]],
                   "configs": {"1": {"x": 1.0, "c": "a"}}, "config_origins": {"1": null}}"#;
    let rh = RunHistory::from_json(text, &cs, 1, Path::new("mem")).unwrap();
    assert_eq!(rh.average_cost(1), Some(vec![0.25]));
    let bad = r#"{"data": [], "configs": {"1": {"x": 99.0, "c": "a"}}}"#;
    let e = RunHistory::from_json(bad, &cs, 1, Path::new("mem")).unwrap_err();
    assert!(e.to_string().contains("configuration 1") && e.to_string().contains("'x'"), "{e}");
    let e = RunHistory::from_json("{not json", &cs, 1, Path::new("mem")).unwrap_err();
    assert!(matches!(e, RunHistoryError::File { .. }));
}

#[test]
fn pareto_front_on_two_objectives() {
    let cs = space();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let configs = cs.sample(5, &mut rng).unwrap();
    let mut rh = RunHistory::new(2);
    // (1,5) (2,2) (5,1) are non-dominated; (3,3) is dominated by (2,2); (5,5) by all.
    for (c, cost) in configs.iter().zip([[1.0, 5.0], [2.0, 2.0], [5.0, 1.0], [3.0, 3.0], [5.0, 5.0]]) {
        rh.add(&TrialInfo::new(c.clone(), Some(0)), TrialValue::success(cost.to_vec(), unix_now()));
    }
    assert_eq!(rh.pareto_front(), vec![1, 2, 3]);
}

#[test]
fn a_save_after_more_trials_renders_what_a_first_save_would() {
    // Rows and configurations rendered by an earlier save are reused; the text must be the
    // same as from a history that never saved, also after a result is replaced.
    let cs = space();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let configs = cs.sample(6, &mut rng).unwrap();
    let fixed = |cost: f64| TrialValue { starttime: 10.0, endtime: 11.0, time: 1.0, ..value(cost) };
    let fill = |rh: &mut RunHistory, range: std::ops::Range<usize>| {
        for k in range {
            let trial = TrialInfo::new(configs[k].clone().with_origin("Local Search"), Some(k as u64));
            rh.add(&trial, fixed(k as f64));
        }
    };
    let mut saved = RunHistory::new(1);
    fill(&mut saved, 0..3);
    let early = saved.to_json();
    assert!(early.contains("\"3\":") && !early.contains("\"4\":"), "{early}");
    fill(&mut saved, 3..6);
    saved.add(&TrialInfo::new(configs[0].clone(), Some(0)), fixed(-1.0));
    let mut fresh = RunHistory::new(1);
    fill(&mut fresh, 0..6);
    fresh.add(&TrialInfo::new(configs[0].clone(), Some(0)), fixed(-1.0));
    assert_eq!(saved.to_json(), fresh.to_json());
    assert!(saved.to_json().contains("\"6\": \"Local Search\""));
}
