//! The table's filtering, sorting and paging on a synthetic run of 100,000 trials, checked
//! against the generated data.

use super::*;
use crate::cli::dashboard::model::RunData;
use crate::cli::rundir::Run;
use rand::SeedableRng;
use smac_core::{
    ConfigSpace, Configuration, RunDirectory, RunHistory, Scenario, StatusType, TrialInfo, TrialValue,
};
use std::sync::Arc;

const N: usize = 100_000;
const CONFIGS: usize = 2_000;

struct Synthetic {
    data: RunData,
    configs: Vec<Configuration>,
    _dir: tempfile::TempDir,
}

fn status_of(i: usize) -> StatusType {
    match i % 10 {
        0 => StatusType::Crashed,
        1 => StatusType::Timeout,
        _ => StatusType::Success,
    }
}

/// Trial `i` (0-based): config `i % CONFIGS`, budget 1, 3 or 9, seed `i`, cost `(i * 7919) % N`.
fn synthetic() -> Synthetic {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let space = Arc::new(
        ConfigSpace::load_json(&root.join("tests/fixtures/configspace/mixed_conditional.json")).unwrap(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let scenario = Scenario::builder(space.clone())
        .name("synthetic")
        .output_directory(tmp.path())
        .n_trials(N)
        .budgets(1.0, 9.0)
        .build()
        .unwrap();
    let (dir, _) = RunDirectory::open(&scenario, false, &serde_json::json!({})).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let configs = space.sample(CONFIGS, &mut rng).unwrap();
    let mut rh = RunHistory::new(1);
    for i in 0..N {
        let trial = TrialInfo {
            config: configs[i % CONFIGS].clone(),
            instance: None,
            seed: Some(i as u64),
            budget: Some([1.0, 3.0, 9.0][i % 3]),
        };
        let cost = ((i * 7919) % N) as f64;
        let mut v = match status_of(i) {
            StatusType::Success => TrialValue::success(vec![cost], 1000.0 + i as f64),
            s => {
                let mut v = TrialValue::failure(s, format!("trial {i} failed"), 1000.0 + i as f64);
                v.cost = vec![f64::INFINITY];
                v
            }
        };
        v.starttime = 1000.0 + i as f64;
        v.endtime = v.starttime + 0.5;
        rh.add(&trial, v);
    }
    dir.save_runhistory(&rh).unwrap();
    let run = Run::load(dir.path()).unwrap();
    Synthetic { data: RunData::new(run), configs, _dir: tmp }
}

fn q() -> TrialQuery {
    TrialQuery::default()
}

#[test]
fn filters_sorts_and_pages_100000_trials() {
    let s = synthetic();
    let d = &s.data;
    assert_eq!(d.rows.len(), N);

    // Unfiltered, default order: trials in file order, default page size.
    let p = query(d, &q()).unwrap();
    assert_eq!((p.total, p.all, p.rows.len()), (N, N, 50));
    assert_eq!(p.rows.iter().map(|r| r.trial).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>());

    // Status filter: every tenth trial crashed (trial numbers 1, 11, 21, ...).
    let p =
        query(d, &TrialQuery { status: Some("CRASHED".into()), offset: 20, limit: Some(5), ..q() }).unwrap();
    assert_eq!(p.total, N / 10);
    assert!(p.rows.iter().all(|r| r.status == "CRASHED"));
    assert_eq!(p.rows.iter().map(|r| r.trial).collect::<Vec<_>>(), vec![201, 211, 221, 231, 241]);
    let p = query(d, &TrialQuery { status: Some("crashed,TIMEOUT".into()), ..q() }).unwrap();
    assert_eq!(p.total, 2 * N / 10);

    // Sorting by cost, descending, over successes: the largest generated success costs.
    let mut success_costs: Vec<f64> =
        (0..N).filter(|i| status_of(*i) == StatusType::Success).map(|i| ((i * 7919) % N) as f64).collect();
    success_costs.sort_by(|a, b| b.total_cmp(a));
    let p = query(
        d,
        &TrialQuery {
            status: Some("SUCCESS".into()),
            sort: Some("cost".into()),
            desc: true,
            limit: Some(3),
            ..q()
        },
    )
    .unwrap();
    let got: Vec<f64> = p.rows.iter().map(|r| r.cost.as_f64().unwrap()).collect();
    assert_eq!(got, success_costs[..3].to_vec());
    // Ascending cost over everything: crash costs (not finite) come last.
    let p = query(d, &TrialQuery { sort: Some("cost".into()), offset: N - 1, ..q() }).unwrap();
    assert_eq!(p.rows.len(), 1);
    assert!(p.rows[0].cost.is_null());

    // Budget filter.
    let p = query(d, &TrialQuery { budget: Some(3.0), ..q() }).unwrap();
    assert_eq!(p.total, (0..N).filter(|i| i % 3 == 1).count());
    assert!(p.rows.iter().all(|r| r.budget == Some(3.0)));

    // Hyperparameter filters: a categorical value, an inactive conditional one, a range.
    let kernel_is = |i: usize, k: &str| s.configs[i % CONFIGS].get("kernel").unwrap().to_string() == k;
    let p = query(d, &TrialQuery { params: Some("kernel=poly".into()), ..q() }).unwrap();
    let poly = (0..N).filter(|i| kernel_is(*i, "poly")).count();
    assert!(poly > 0 && poly < N);
    assert_eq!(p.total, poly);
    let p = query(d, &TrialQuery { params: Some("degree=inactive".into()), ..q() }).unwrap();
    assert_eq!(p.total, N - poly);
    assert!(p.rows.iter().all(|r| r.values[3].is_none()));
    let in_range = |i: usize| s.configs[i % CONFIGS].get_f64("C").is_some_and(|c| (1.0..=10.0).contains(&c));
    let p = query(d, &TrialQuery { params: Some("C=1..10; kernel=rbf".into()), ..q() }).unwrap();
    assert_eq!(p.total, (0..N).filter(|i| in_range(*i) && kernel_is(*i, "rbf")).count());

    // Sorting by a conditional hyperparameter: inactive values last, active ones ascending.
    let p =
        query(d, &TrialQuery { sort: Some("param.degree".into()), offset: poly - 2, limit: Some(4), ..q() })
            .unwrap();
    assert!(p.rows[0].values[3].is_some() && p.rows[1].values[3].is_some());
    assert!(p.rows[2].values[3].is_none() && p.rows[3].values[3].is_none());

    // The last page is short; a page past the end is empty.
    let p = query(d, &TrialQuery { offset: N - 10, limit: Some(50), ..q() }).unwrap();
    assert_eq!(p.rows.len(), 10);
    assert_eq!(p.rows[9].trial, N);
    assert!(query(d, &TrialQuery { offset: N + 5, ..q() }).unwrap().rows.is_empty());
    assert_eq!(query(d, &TrialQuery { limit: Some(100_000), ..q() }).unwrap().rows.len(), MAX_PAGE);

    // Bad requests are errors naming what is wrong.
    let e = query(d, &TrialQuery { params: Some("nope=1".into()), ..q() }).unwrap_err();
    assert_eq!(e, QueryError::UnknownParameter("nope".into()));
    let e = query(d, &TrialQuery { status: Some("DONE".into()), ..q() }).unwrap_err();
    assert_eq!(e, QueryError::BadStatus("DONE".into()));
    assert!(query(d, &TrialQuery { sort: Some("colour".into()), ..q() }).is_err());
}
