//! The parallel runner with real worker processes over loopback.

mod common;

use common::*;
use smac_core::{Runner, RunnerError, StatusType};
use smac_runner::{ClusterBackend, CommandTarget, DaskStyleParallelRunner, ParallelOptions};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn opts() -> ParallelOptions {
    ParallelOptions { patience: Duration::from_secs(5), ..Default::default() }
}

#[test]
fn trials_run_on_worker_processes_and_failures_become_statuses() {
    let cluster = processes(2).start().unwrap();
    let client = cluster.client();
    let mut ok = DaskStyleParallelRunner::attach(
        single(Mode::Sleep { ms: 50 }),
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    assert_eq!(ok.count_available_workers(), 2);
    for k in 0..10 {
        // Blocks for a free worker from the third trial on, as SMAC3's runner does.
        ok.submit_trial(trial(k as f64 / 10.0, k)).unwrap();
    }
    let results = collect(&mut ok, 10, Duration::from_secs(10));
    let mut pids = HashSet::new();
    for (t, v) in &results {
        assert_eq!((v.status, v.cost[0]), (StatusType::Success, t.config.get_f64("x").unwrap()));
        pids.insert(v.additional_info["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 2, "both worker processes ran trials");
    assert!(!ok.is_running());
    assert_eq!(ok.count_available_workers(), 2);
    assert_eq!(client.stats().runner_transfers, 2, "the runner is shipped once per worker");
    assert_eq!(client.stats().space_transfers, 2, "the space is shipped once per worker");
    drop(ok);

    for (mode, needle) in
        [(Mode::Panic, "panicked on purpose"), (Mode::Error, "failed on purpose"), (Mode::Nan, "non-finite")]
    {
        let mut r = DaskStyleParallelRunner::attach(
            single(mode),
            client.clone(),
            ParallelOptions::with_patience(Duration::from_secs(5)),
        )
        .unwrap();
        r.submit_trial(trial(0.5, 1)).unwrap();
        let (_, v) = collect(&mut r, 1, Duration::from_secs(10)).pop().unwrap();
        // Failures carry no cost: the SMBO loop gives them the scenario's crash cost.
        assert_eq!((v.status, v.cost.len()), (StatusType::Crashed, 0));
        assert!(v.error_message().unwrap().contains(needle), "{v:?}");
    }
    assert_eq!(client.n_workers(), 2, "failing targets do not take workers down");
}

#[test]
fn walltime_and_memory_limits_on_rust_targets_end_the_worker_which_is_replaced() {
    let cluster = processes(2).start().unwrap();
    let limited =
        ParallelOptions { trial_walltime_limit: Some(0.5), trial_memory_limit: Some(100), ..opts() };
    let mut hang =
        DaskStyleParallelRunner::attach(single(Mode::Hang), cluster.client(), limited.clone()).unwrap();
    let started = Instant::now();
    hang.submit_trial(trial(0.1, 1)).unwrap();
    let (_, v) = collect(&mut hang, 1, Duration::from_secs(10)).pop().unwrap();
    assert_eq!(v.status, StatusType::Timeout, "{v:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let mut alloc =
        DaskStyleParallelRunner::attach(single(Mode::Alloc { mb: 600 }), cluster.client(), limited).unwrap();
    alloc.submit_trial(trial(0.2, 1)).unwrap();
    let (_, v) = collect(&mut alloc, 1, Duration::from_secs(10)).pop().unwrap();
    assert_eq!(v.status, StatusType::MemoryOut, "{v:?}");
    assert!(v.error_message().unwrap().contains("memory limit of 100 MB"));

    // Both workers ended themselves; the cluster replaced them.
    let client = cluster.client();
    assert!(eventually(Duration::from_secs(10), || client.n_workers() == 2));
    let mut ok = DaskStyleParallelRunner::attach(
        single(Mode::Quadratic),
        client,
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    ok.submit_trial(trial(0.3, 1)).unwrap();
    assert_eq!(collect(&mut ok, 1, Duration::from_secs(10))[0].1.status, StatusType::Success);
}

#[test]
fn command_targets_run_on_workers_with_limits() {
    let cluster = processes(2).start().unwrap();
    let cmd = |mode: &str| CommandTarget::new(WORKER).args(["cmd", mode]);
    let cases = [
        (cmd("json"), StatusType::Success, ""),
        (cmd("fail"), StatusType::Crashed, "something went badly wrong"),
        (cmd("sleep").trial_walltime_limit(0.5), StatusType::Timeout, "walltime limit of 0.5 s"),
        (cmd("alloc").trial_memory_limit(200), StatusType::MemoryOut, "memory"),
    ];
    let mut runners: Vec<_> = cases
        .iter()
        .map(|(r, _, _)| {
            DaskStyleParallelRunner::attach(
                r.clone(),
                cluster.client(),
                ParallelOptions::with_patience(Duration::from_secs(5)),
            )
            .unwrap()
        })
        .collect();
    for r in runners.iter_mut() {
        r.submit_trial(trial(0.25, 4)).unwrap();
    }
    for (r, (_, status, needle)) in runners.iter_mut().zip(cases.iter()) {
        let (_, v) = collect(r, 1, Duration::from_secs(15)).pop().unwrap();
        assert_eq!(v.status, *status, "{v:?}");
        if *status == StatusType::Success {
            assert_eq!(v.cost, vec![0.25, 4.0]);
            assert_eq!(v.additional_info.get("mode"), Some(&serde_json::json!("json")));
        } else {
            assert!(v.cost.is_empty(), "{v:?}");
            assert!(v.error_message().unwrap().contains(needle), "{v:?}");
        }
    }
    assert_eq!(cluster.client().n_workers(), 2, "command failures never take a worker down");
}

#[test]
fn a_worker_killed_mid_trial_loses_nothing() {
    let cluster = processes(2).respawn(false).start().unwrap();
    let pids = cluster.worker_pids();
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Sleep { ms: 600 }),
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    for k in 0..4 {
        r.submit_trial(trial(k as f64 / 4.0, k)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(250));
    // SAFETY: kills a worker process we started.
    unsafe { libc::kill(pids[0] as i32, libc::SIGKILL) };
    let results = collect(&mut r, 4, Duration::from_secs(15));
    let seeds: HashSet<u64> = results.iter().map(|(t, _)| t.seed.unwrap()).collect();
    assert_eq!(seeds, (0..4).collect(), "every trial is reported exactly once");
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    let retried: Vec<_> = results.iter().filter(|(_, v)| v.additional_info.contains_key("retries")).collect();
    assert_eq!(retried.len(), 1, "the killed worker's trial was retried once: {results:?}");
    assert_eq!(retried[0].1.additional_info["pid"], serde_json::json!(pids[1]));
    assert_eq!(r.backend_as::<ClusterBackend>().unwrap().stats().trials_retried, 1);
    assert_eq!(r.count_available_workers(), 1, "the run goes on with the remaining worker");
}

#[test]
fn a_trial_that_kills_every_worker_it_touches_is_crashed_after_one_retry() {
    let cluster = processes(2).start().unwrap();
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Suicide),
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    r.submit_trial(trial(0.5, 1)).unwrap();
    let (_, v) = collect(&mut r, 1, Duration::from_secs(15)).pop().unwrap();
    assert_eq!(v.status, StatusType::Crashed);
    let msg = v.error_message().unwrap();
    assert!(msg.contains("died while running this trial") && msg.contains("run again 1 time"), "{msg}");
    assert_eq!(r.retried(), 1, "the runner core ran it again once");
    // Replacements keep the cluster usable.
    let client = cluster.client();
    assert!(eventually(Duration::from_secs(10), || client.n_workers() == 2));
}

#[test]
fn patience_expires_with_a_clear_error_when_all_workers_are_gone() {
    let cluster = processes(1).respawn(false).start().unwrap();
    let pid = cluster.worker_pids()[0];
    let options = ParallelOptions { patience: Duration::from_millis(700), ..Default::default() };
    let mut r =
        DaskStyleParallelRunner::attach(single(Mode::Sleep { ms: 2000 }), cluster.client(), options).unwrap();
    r.submit_trial(trial(0.5, 1)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kills the worker process we started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    // The running trial cannot be retried anywhere: it comes back crashed after the patience.
    let (_, v) = collect(&mut r, 1, Duration::from_secs(10)).pop().unwrap();
    assert_eq!(v.status, StatusType::Crashed);
    assert!(v.error_message().unwrap().contains("no worker could run this trial"), "{v:?}");
    assert_eq!(r.count_available_workers(), 0);
    let started = Instant::now();
    let err = r.submit_trial(trial(0.1, 2)).unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, RunnerError::NoWorkerAvailable { .. }), "{err}");
    assert!(err.to_string().contains("0.7 s") && err.to_string().contains("died"), "{err}");
    assert!(waited >= Duration::from_millis(650) && waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn scattered_data_is_sent_once_per_worker_including_late_joiners() {
    let cluster = processes(2).respawn(false).start().unwrap();
    let name = "dataset";
    let blob: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Scattered { name: name.into() }),
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    r.scatter(name, blob.clone()).unwrap();
    let run = |r: &mut DaskStyleParallelRunner, n: u64| {
        for k in 0..n {
            r.submit_trial(trial(0.5, k)).unwrap();
        }
        collect(r, n as usize, Duration::from_secs(10))
    };
    let results = run(&mut r, 20);
    for (_, v) in &results {
        assert_eq!((v.status, v.cost[0]), (StatusType::Success, 1e6), "{v:?}");
        assert_eq!(v.additional_info["receipts"], serde_json::json!(1), "one delivery per worker");
    }
    assert_eq!(
        r.backend_as::<ClusterBackend>().unwrap().stats().scatter_transfers,
        2,
        "20 trials, 2 workers, 2 transfers"
    );

    let late = cluster.spawn_worker().unwrap();
    let client = cluster.client();
    assert!(eventually(Duration::from_secs(10), || client.n_workers() == 3));
    assert_eq!(
        r.backend_as::<ClusterBackend>().unwrap().stats().scatter_transfers,
        2,
        "a joining worker gets the data before its first trial of this runner, not before"
    );
    // Leave only the late worker, so every further trial runs there.
    for pid in cluster.worker_pids().into_iter().filter(|&p| p != late) {
        // SAFETY: kills worker processes we started (respawn is off).
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    assert!(eventually(Duration::from_secs(10), || client.n_workers() == 1));
    for (_, v) in run(&mut r, 5) {
        assert_eq!((v.status, v.cost[0]), (StatusType::Success, 1e6), "{v:?}");
        assert_eq!(v.additional_info["pid"], serde_json::json!(late));
        assert_eq!(v.additional_info["receipts"], serde_json::json!(1));
    }
    assert_eq!(client.stats().scatter_transfers, 3);
}

#[test]
fn a_user_client_outlives_runners_and_an_owned_cluster_does_not() {
    let cluster = processes(2).start().unwrap();
    let client = cluster.client();
    let pids = cluster.worker_pids();
    {
        let mut r = DaskStyleParallelRunner::attach(
            single(Mode::Quadratic),
            client.clone(),
            ParallelOptions::with_patience(Duration::from_secs(5)),
        )
        .unwrap();
        r.submit_trial(trial(0.5, 1)).unwrap();
        collect(&mut r, 1, Duration::from_secs(10));
    }
    assert!(!client.is_closed());
    assert_eq!(client.n_workers(), 2);
    assert!(pids.iter().all(|&p| alive(p)), "dropping the runner leaves the user's workers running");
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Quadratic),
        client,
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    r.submit_trial(trial(0.5, 2)).unwrap();
    assert_eq!(collect(&mut r, 1, Duration::from_secs(10))[0].1.status, StatusType::Success);

    let owned = processes(2).start().unwrap();
    let owned_pids = owned.worker_pids();
    let owned_client = owned.client();
    let mut r = DaskStyleParallelRunner::on_cluster(single(Mode::Quadratic), owned, opts()).unwrap();
    r.submit_trial(trial(0.5, 3)).unwrap();
    collect(&mut r, 1, Duration::from_secs(10));
    drop(r);
    assert!(owned_client.is_closed(), "a runner closes the cluster it owns");
    assert!(owned_pids.iter().all(|&p| !alive(p)), "and its worker processes are gone");
}

/// A tiny optimization loop whose choices depend on the order results are told.
fn reproducible_run(seed: u64) -> Vec<(u64, f64, f64)> {
    let cluster = processes(3).start().unwrap();
    let options = ParallelOptions { reproducible: true, ..opts() };
    let mut r = DaskStyleParallelRunner::on_cluster(single(Mode::Jitter), cluster, options).unwrap();
    let mut state = seed;
    let mut next = |best: f64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407 ^ best.to_bits());
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut best, mut submitted, mut history) = (f64::INFINITY, 0u64, Vec::new());
    while history.len() < 30 {
        while submitted < 30 && r.count_available_workers() > 0 {
            r.submit_trial(trial(next(best), submitted)).unwrap();
            submitted += 1;
        }
        r.wait(Some(Duration::from_secs(5))).unwrap();
        for (t, v) in r.iter_results() {
            best = best.min(v.cost[0]);
            history.push((t.seed.unwrap(), t.config.get_f64("x").unwrap(), v.cost[0]));
        }
    }
    history
}

#[test]
fn reproducible_mode_gives_identical_histories() {
    let a = reproducible_run(42);
    let b = reproducible_run(42);
    assert_eq!(a, b);
    assert_eq!(a.iter().map(|h| h.0).collect::<Vec<_>>(), (0..30).collect::<Vec<_>>(), "submission order");
}

#[test]
fn a_frozen_worker_is_noticed_by_heartbeats_and_its_trial_retried() {
    let cluster = processes(2)
        .respawn(false)
        .heartbeat(Duration::from_millis(50), Duration::from_millis(600))
        .start()
        .unwrap();
    let pids = cluster.worker_pids();
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Sleep { ms: 400 }),
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    r.submit_trial(trial(0.1, 1)).unwrap();
    r.submit_trial(trial(0.2, 2)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: freezes a worker we started; it is killed when the cluster closes.
    unsafe { libc::kill(pids[0] as i32, libc::SIGSTOP) };
    let results = collect(&mut r, 2, Duration::from_secs(10));
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    assert_eq!(r.backend_as::<ClusterBackend>().unwrap().stats().workers_lost, 1);
    assert_eq!(r.backend_as::<ClusterBackend>().unwrap().stats().trials_retried, 1);
    drop(r);
    drop(cluster);
    assert!(eventually(Duration::from_secs(2), || !alive(pids[0])));
}
