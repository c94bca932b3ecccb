//! Hundreds of workers: the SMBO loop fills all 256 workers at once and never stops early
//! (SMAC3 users report its loop starving or stopping with hundreds of workers). How busy it
//! keeps them is a benchmark figure, not a test (`examples/bench_throughput.rs`,
//! `bench_runner`'s `busy_256_threads`): timings on a shared 2-core machine are noise.

use smac::{ConfigSpace, Hyperparameter, RandomFacade, Scenario, StatusType, TrialInfo};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const WORKERS: usize = 256;
const TRIALS: usize = 2000;

/// Counts trials in flight; the first wave waits until all workers hold one.
#[derive(Default)]
struct Gate {
    state: Mutex<(usize, usize, usize)>, // (started, active, peak)
    changed: Condvar,
}

impl Gate {
    fn enter(&self) {
        let mut s = self.state.lock().unwrap();
        s.0 += 1;
        s.1 += 1;
        s.2 = s.2.max(s.1);
        let first_wave = s.0 <= WORKERS;
        self.changed.notify_all();
        if first_wave {
            // Held until every worker is busy (or a generous deadline: then the test fails on
            // the peak below rather than hanging).
            let deadline = Instant::now() + Duration::from_secs(60);
            while s.2 < WORKERS && Instant::now() < deadline {
                s = self.changed.wait_timeout(s, Duration::from_millis(100)).unwrap().0;
            }
        }
    }

    fn leave(&self) {
        self.state.lock().unwrap().1 -= 1;
    }
}

#[test]
fn smbo_loop_fills_256_workers_and_runs_2000_trials() {
    let mut cs = ConfigSpace::new("many");
    cs.add_all([Hyperparameter::float("x", 0.0, 1.0), Hyperparameter::float("y", 0.0, 1.0)]).unwrap();
    let scenario = Scenario::builder(Arc::new(cs))
        .n_trials(TRIALS)
        .n_workers(WORKERS)
        .deterministic(true)
        .build()
        .unwrap();
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let mut smac = RandomFacade::builder(scenario)
        .target_fn(move |t: &TrialInfo| {
            g.enter();
            g.leave();
            Ok::<_, String>(t.config.get_f64("x").unwrap() + t.config.get_f64("y").unwrap())
        })
        .persist(false)
        .build()
        .unwrap();
    smac.optimize().unwrap();
    let rh = smac.runhistory();
    assert_eq!(rh.len(), TRIALS, "the run stopped early");
    assert!(rh.iter().all(|(_, v)| v.status == StatusType::Success));
    let peak = gate.state.lock().unwrap().2;
    assert_eq!(peak, WORKERS, "the loop never had all {WORKERS} workers busy at once");
}
