//! Hundreds of workers: the SMBO loop itself keeps 256 workers busy and never stops early
//! (SMAC3 users report its loop starving or stopping with hundreds of workers).

use smac::{ConfigSpace, Hyperparameter, RandomFacade, Scenario, StatusType, TrialInfo};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn smbo_loop_keeps_256_workers_busy_over_2000_trials() {
    const WORKERS: usize = 256;
    const TRIALS: usize = 2000;
    let mut cs = ConfigSpace::new("many");
    cs.add_all([Hyperparameter::float("x", 0.0, 1.0), Hyperparameter::float("y", 0.0, 1.0)]).unwrap();
    let scenario = Scenario::builder(Arc::new(cs))
        .n_trials(TRIALS)
        .n_workers(WORKERS)
        .deterministic(true)
        .build()
        .unwrap();
    let mut smac = RandomFacade::builder(scenario)
        .target_fn(|t: &TrialInfo| {
            std::thread::sleep(Duration::from_millis(50));
            Ok::<_, String>(t.config.get_f64("x").unwrap() + t.config.get_f64("y").unwrap())
        })
        .persist(false)
        .build()
        .unwrap();
    smac.optimize().unwrap();
    let rh = smac.runhistory();
    assert_eq!(rh.len(), TRIALS, "the run stopped early");
    assert!(rh.iter().all(|(_, v)| v.status == StatusType::Success));
    // Busy time of all workers while trials were still being started, over its capacity.
    let start = rh.iter().map(|(_, v)| v.starttime).fold(f64::INFINITY, f64::min);
    let last_start = rh.iter().map(|(_, v)| v.starttime).fold(f64::NEG_INFINITY, f64::max);
    let busy: f64 =
        rh.iter().map(|(_, v)| (v.endtime.min(last_start) - v.starttime.max(start)).max(0.0)).sum();
    let fraction = busy / (WORKERS as f64 * (last_start - start));
    eprintln!("busy fraction {fraction:.3} over {:.3} s", last_start - start);
    assert!(fraction >= 0.9, "workers were only {:.1} % busy", 100.0 * fraction);
}
