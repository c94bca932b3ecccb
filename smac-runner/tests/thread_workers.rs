//! The parallel runner on in-process worker threads: same API, cheap trials, many workers.

mod common;

use common::*;
use rand::SeedableRng;
use smac_core::{Runner, StatusType, TrialInfo};
use smac_runner::{DaskStyleParallelRunner, LocalCluster, ParallelOptions};
use std::time::{Duration, Instant};

#[test]
fn shippable_targets_closures_and_scatter_work_on_threads() {
    let cluster = LocalCluster::threads(3).unwrap();
    let client = cluster.client();
    // A serializable runner is decoded by each thread, as a process would.
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Scattered { name: "blob".into() }),
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    assert_eq!(r.count_available_workers(), 3);
    r.scatter("blob", vec![7u8; 1234]).unwrap();
    for k in 0..9 {
        r.submit_trial(trial(0.5, k)).unwrap();
    }
    for (_, v) in collect(&mut r, 9, Duration::from_secs(10)) {
        assert_eq!((v.status, v.cost[0]), (StatusType::Success, 1234.0), "{v:?}");
        assert_eq!(v.additional_info["receipts"], serde_json::json!(1));
    }
    // Each thread that ran trials of this runner got its target and its blob exactly once.
    let stats = client.stats();
    assert!((1..=3).contains(&stats.runner_transfers), "{stats:?}");
    assert_eq!(stats.scatter_transfers, stats.runner_transfers, "{stats:?}");

    // A closure (not serializable) runs in process; panics become crashed trials.
    let f = |t: &TrialInfo| {
        let x = t.config.get_f64("x").unwrap();
        if x > 0.9 {
            panic!("x too large");
        }
        Ok::<_, String>(x * 2.0)
    };
    let mut r = DaskStyleParallelRunner::threads(f, 2, ParallelOptions::default()).unwrap();
    r.submit_trial(trial(0.25, 1)).unwrap();
    r.submit_trial(trial(0.95, 2)).unwrap();
    let mut res = collect(&mut r, 2, Duration::from_secs(10));
    res.sort_by_key(|(t, _)| t.seed);
    assert_eq!((res[0].1.status, res[0].1.cost[0]), (StatusType::Success, 0.5));
    assert_eq!((res[1].1.status, res[1].1.cost.len()), (StatusType::Crashed, 0));
    assert!(res[1].1.error_message().unwrap().contains("x too large"));
}

#[test]
fn a_thread_stuck_past_its_walltime_is_reported_and_retired() {
    let slow = |_: &TrialInfo| {
        std::thread::sleep(Duration::from_secs(2));
        Ok::<_, String>(1.0)
    };
    let options = ParallelOptions { trial_walltime_limit: Some(0.2), ..Default::default() };
    let mut r = DaskStyleParallelRunner::threads(slow, 2, options).unwrap();
    let started = Instant::now();
    r.submit_trial(trial(0.5, 1)).unwrap();
    let (_, v) = collect(&mut r, 1, Duration::from_secs(5)).pop().unwrap();
    assert_eq!(v.status, StatusType::Timeout);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "reported at the limit, not when the trial ends"
    );
    assert_eq!(r.count_available_workers(), 1, "the stuck thread no longer counts as a worker");
}

/// 256 simulated workers, 50 ms trials: while trials remain to be submitted, every worker gets
/// one — after each refill at least 256 trials are uncollected (running or finished), so the
/// runner never under-reports free workers and idles them. (How busy they are kept in time is a
/// benchmark figure: `busy_256_threads` of `cargo run --release -p smac-runner --example
/// bench_runner`.)
#[test]
fn many_workers_are_kept_busy() {
    const WORKERS: usize = 256;
    const TRIALS: u64 = 2000;
    let sleepy = |t: &TrialInfo| {
        std::thread::sleep(Duration::from_millis(50));
        Ok::<_, String>(t.config.get_f64("x").unwrap())
    };
    let mut r = DaskStyleParallelRunner::threads(sleepy, WORKERS, ParallelOptions::default()).unwrap();
    let space = space();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let (mut submitted, mut done) = (0u64, Vec::new());
    let mut refills = 0;
    while done.len() < TRIALS as usize {
        while submitted < TRIALS && r.count_available_workers() > 0 {
            let config = space.sample(1, &mut rng).unwrap().pop().unwrap();
            r.submit_trial(TrialInfo::new(config, Some(submitted))).unwrap();
            submitted += 1;
        }
        if submitted < TRIALS {
            refills += 1;
            // Running, or finished and not yet collected: never fewer than the workers.
            assert!(submitted as usize - done.len() >= WORKERS, "a worker was left idle after a refill");
        }
        r.wait(Some(Duration::from_secs(5))).unwrap();
        done.extend(r.iter_results());
    }
    assert!(refills > 1, "the workers were refilled as trials finished");
    assert!(done.iter().all(|(_, v)| v.status == StatusType::Success));
    let mut keys: Vec<u64> = done.iter().map(|(t, _)| t.seed.unwrap()).collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..TRIALS).collect::<Vec<_>>(), "every trial came back once");
}
