//! The Dask backend against a real Dask cluster on loopback: `dask scheduler --scheduler-file`
//! and `dask worker --nthreads 1` processes started here, a `DaskStyleParallelRunner` with the Dask backend attached to
//! them.
//!
//! Needs a Python with `distributed`: `SMAC_DASK_PYTHON` (exported by `.ci/run`, which creates
//! `.venv-dask`), else `<workspace>/.venv-dask/bin/python`. With neither, the cluster tests skip
//! with a loud message; with `SMAC_DASK_PYTHON` set they must run, and fail if they cannot.

#[path = "support/test_worker.rs"]
#[allow(dead_code)]
mod test_worker;

#[path = "support/dask_cluster.rs"]
mod dask_cluster;

use dask_cluster::{kill_group, python, Cluster, Watchdog};
use smac_core::{
    ConfigSpace, Configuration, Hyperparameter, Runner, Scenario, SmboBuilder, StatusType, TrialInfo,
    TrialValue,
};
use smac_runner::dask::{DaskBackend, DaskCluster, DaskError, DaskOptions, DaskStats};
use smac_runner::{DaskStyleParallelRunner, ParallelOptions};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_worker::{Mode, TestTarget};

/// The worker program the Dask tasks run (serves `TestTarget`).
const WORKER: &str = env!("CARGO_BIN_EXE_smac-test-worker");
/// Each cluster test must finish within this.
const BUDGET: Duration = Duration::from_secs(60);

fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("dask-test");
    cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
    Arc::new(cs)
}

fn trial(space: &Arc<ConfigSpace>, x: f64, seed: u64) -> TrialInfo {
    TrialInfo::new(Configuration::new(space, [("x", x)]).unwrap(), Some(seed))
}

fn single(mode: Mode) -> TestTarget {
    TestTarget { mode }
}

fn options(python: &Path) -> DaskOptions {
    DaskOptions { python: python.to_path_buf(), worker_program: Some(WORKER.into()), ..Default::default() }
}

/// The run's options: 20 s patience unless `f` says otherwise.
fn run_options(f: impl FnOnce(&mut ParallelOptions)) -> ParallelOptions {
    let mut o = ParallelOptions::with_patience(Duration::from_secs(20));
    f(&mut o);
    o
}

/// A runner on the Dask `cluster`.
fn dask_runner(
    mode: Mode,
    cluster: DaskCluster,
    dask: DaskOptions,
    run: ParallelOptions,
) -> DaskStyleParallelRunner {
    DaskStyleParallelRunner::dask(single(mode), cluster, dask, run).unwrap()
}

fn dask_stats(r: &DaskStyleParallelRunner) -> DaskStats {
    r.backend_as::<DaskBackend>().unwrap().stats()
}

fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn collect(r: &mut impl Runner, n: usize, timeout: Duration) -> Vec<(TrialInfo, TrialValue)> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "only {} of {n} results within {timeout:?}: {out:?}", out.len());
        r.wait(Some(left.min(Duration::from_millis(200)))).unwrap();
        out.extend(r.iter_results());
    }
    out
}

/// Whether process `pid` has exited (a zombie counts as exited).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat[stat.rfind(')').map_or(0, |i| i + 1)..].trim_start().starts_with('Z'),
        Err(_) => true,
    }
}

/// An executor process (`smac-test-worker`) running under the Dask worker `pid`, if any.
fn trial_child(pid: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        let ppid: Option<u32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(pid) && stat.contains("(smac-test-worke") {
            return Some(child);
        }
    }
    None
}

#[test]
fn hpo_on_a_dask_cluster_survives_losing_a_worker_mid_run() {
    const TEST: &str = "hpo_on_a_dask_cluster_survives_losing_a_worker_mid_run";
    let Some(python) = python(TEST) else { return };
    logs();
    let started = Instant::now();
    let cluster = Cluster::start(&python, 2);
    let _watchdog = Watchdog::start(TEST, &cluster, BUDGET);
    let runner = dask_runner(
        Mode::Sleep { ms: 300 },
        DaskCluster::scheduler_file(&cluster.scheduler_file),
        options(&python),
        run_options(|_| {}),
    );
    assert!(eventually(Duration::from_secs(20), || runner.n_workers() == 2), "workers:\n{}", cluster.logs());
    assert_eq!(runner.count_available_workers(), 2, "one free slot per Dask worker thread");

    // Once both workers have run trials, kill one while it is running a trial (its process
    // group: the Dask worker and the trial process).
    let pids = [cluster.pid("w0"), cluster.pid("w1")];
    let killer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(40);
        let mut seen = [false; 2];
        let mut since: Option<Instant> = None;
        while Instant::now() < deadline {
            for (k, pid) in pids.iter().enumerate() {
                if let Some(child) = trial_child(*pid) {
                    seen[k] = true;
                    let first = *since.get_or_insert_with(Instant::now);
                    if seen == [true, true] && first.elapsed() > Duration::from_millis(1500) {
                        kill_group(*pid as i32);
                        return Some((k, child, smac_core::trial::unix_now()));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });

    let scenario = Scenario::builder(space())
        .n_trials(30)
        .n_workers(2)
        .seed(7)
        .deterministic(true)
        .output_directory(cluster.dir.path().join("smac3_output"))
        .build()
        .unwrap();
    let mut smbo = SmboBuilder::hpo(scenario).persist(true).build(runner).unwrap();
    let incumbent = smbo.optimize().unwrap().expect("an incumbent");
    let (killed, trial_pid, killed_at) = killer.join().unwrap().expect("a Dask worker was killed mid-trial");
    eprintln!("{TEST}: killed Dask worker w{killed} and with it its executor process {trial_pid}");
    // The executor is in its own process group (a timeout kills what the target started), so
    // the kill above missed it: it must notice that its Dask worker is gone and exit.
    assert!(
        eventually(Duration::from_secs(5), || gone(trial_pid)),
        "the executor {trial_pid} of the killed Dask worker exited"
    );

    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 30, "every trial is in the run history");
    assert_eq!(rh.n_running(), 0);
    let mut best = f64::INFINITY;
    for (_, v) in rh.iter() {
        assert_eq!(v.status, StatusType::Success, "the trial of the lost worker was rerun: {v:?}");
        if v.additional_info["pid"].as_u64() == Some(trial_pid as u64) {
            assert!(
                v.endtime < killed_at,
                "the executor of the killed worker reported after the kill: {v:?}"
            );
        }
        best = best.min(v.cost[0]);
    }
    assert_eq!(rh.cost(&incumbent), Some(best), "the incumbent is the best configuration found");
    assert_eq!(incumbent.get_f64("x"), Some(best), "cost = x for this target");
    let file = smbo.run_directory().unwrap().file("runhistory.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(json["data"].as_array().unwrap().len(), 30, "all 30 trials persisted");

    let runner = smbo.runner();
    let stats = dask_stats(runner);
    assert_eq!((stats.submitted, stats.completed, stats.failed), (30, 30, 0), "{stats:?}");
    assert_eq!(stats.max_workers, 2);
    assert_eq!(stats.trials_per_worker.len(), 2, "both workers ran trials: {stats:?}");
    // Each trial names the Dask worker that ran it (for the dashboard's Gantt chart).
    let named: HashSet<String> =
        rh.iter().map(|(_, v)| v.additional_info["worker"].as_str().expect("worker").to_string()).collect();
    let counted: HashSet<String> = stats.trials_per_worker.keys().cloned().collect();
    assert_eq!(named, counted, "the workers in additional_info are the Dask workers' addresses");
    assert!(named.iter().all(|w| w.starts_with("tcp://")), "{named:?}");
    assert!(eventually(Duration::from_secs(5), || runner.n_workers() == 1), "the lost worker is gone");
    assert_eq!(runner.count_available_workers(), 1, "free slots follow the cluster");
    drop(smbo);
    let elapsed = started.elapsed();
    eprintln!("{TEST}: 30 trials with a lost worker in {elapsed:.1?}");
    assert!(elapsed < BUDGET, "took {elapsed:?}");
}

#[test]
fn scattered_data_is_sent_once_and_failures_come_back_as_statuses() {
    const TEST: &str = "scattered_data_is_sent_once_and_failures_come_back_as_statuses";
    let Some(python) = python(TEST) else { return };
    logs();
    let started = Instant::now();
    let mut cluster = Cluster::start(&python, 2);
    let _watchdog = Watchdog::start(TEST, &cluster, BUDGET);
    let address = cluster.address().unwrap();
    let space = space();

    let mut runner = dask_runner(
        Mode::Scattered { name: "blob".into() },
        DaskCluster::address(&address),
        options(&python),
        run_options(|_| {}),
    );
    assert!(!runner.backend_as::<DaskBackend>().unwrap().cluster_info().owned_cluster);
    assert!(eventually(Duration::from_secs(20), || runner.n_workers() == 2), "workers:\n{}", cluster.logs());
    let blob = vec![7u8; 1 << 20];
    runner.scatter("blob", blob.clone()).unwrap();
    for k in 0..12 {
        runner.submit_trial(trial(&space, k as f64 / 12.0, k)).unwrap();
    }
    let results = collect(&mut runner, 12, Duration::from_secs(30));
    for (_, v) in &results {
        assert_eq!((v.status, v.cost[0]), (StatusType::Success, blob.len() as f64), "{v:?}");
    }
    let stats = dask_stats(&runner);
    assert_eq!(stats.scatter_calls["blob"], 1, "one client.scatter for 12 trials");
    let materialized = stats.materializations["blob"];
    let workers_used = stats.trials_per_worker.len() as u64;
    assert!(
        (1..=workers_used).contains(&materialized),
        "the blob is materialized once per Dask worker process ({materialized} times, {workers_used} workers)"
    );
    for k in 0..2 {
        let dir = cluster.dir.path().join(format!("w{k}"));
        let copies =
            walk(&dir).iter().filter(|p| p.parent().is_some_and(|d| d.ends_with("smac-scatter"))).count();
        assert!(copies <= 1, "worker w{k} holds {copies} copies of the blob");
    }
    runner.close().unwrap();
    assert!(
        cluster.alive("scheduler") && cluster.alive("w0") && cluster.alive("w1"),
        "the user's cluster runs on"
    );

    // Failures, on the same cluster (a new client attaches to it).
    let limited = run_options(|o| o.trial_walltime_limit = Some(1.0));
    let capped = run_options(|o| o.trial_memory_limit = Some(100));
    let missing = DaskOptions { worker_program: Some("/nonexistent/smac-worker".into()), ..options(&python) };
    let plain = || run_options(|_| {});
    let cases = [
        (Mode::Error, options(&python), plain(), StatusType::Crashed, "failed on purpose"),
        (Mode::Suicide, options(&python), plain(), StatusType::Crashed, "killed by signal 9"),
        (Mode::Sleep { ms: 20_000 }, options(&python), limited, StatusType::Timeout, "walltime limit of 1 s"),
        (
            Mode::Alloc { mb: 600 },
            options(&python),
            capped,
            StatusType::MemoryOut,
            "memory under its limit of 100 MB",
        ),
        (Mode::Quadratic, missing, plain(), StatusType::Crashed, "cannot start the smac worker entry point"),
    ];
    for (mode, dask, run, status, needle) in cases {
        let mut r = dask_runner(mode.clone(), DaskCluster::address(&address), dask, run);
        r.submit_trial(trial(&space, 0.5, 1)).unwrap();
        let (_, v) = collect(&mut r, 1, Duration::from_secs(20)).pop().unwrap();
        // The crash cost is the SMBO loop's to apply: a failure from the runner has none.
        assert_eq!((v.status, v.cost.is_empty()), (status, true), "{mode:?}: {v:?}");
        assert!(v.error_message().unwrap_or("").contains(needle), "{mode:?}: {v:?}");
    }
    assert!(cluster.alive("w0") && cluster.alive("w1"), "failing trials do not take Dask workers down");

    // No workers: `patience`, then a clear error; a worker joining later is used (the runner,
    // which could not be scattered without workers, is scattered on first use).
    for w in ["w0", "w1"] {
        kill_group(cluster.pid(w) as i32);
    }
    let patient = ParallelOptions::with_patience(Duration::from_secs(2));
    let mut r = dask_runner(Mode::Quadratic, DaskCluster::address(&address), options(&python), patient);
    assert!(eventually(Duration::from_secs(10), || r.n_workers() == 0));
    assert_eq!(r.count_available_workers(), 0);
    let t0 = Instant::now();
    let err = r.submit_trial(trial(&space, 0.5, 1)).unwrap_err();
    assert!(matches!(err, smac_core::RunnerError::NoWorkerAvailable { .. }), "{err}");
    assert!(t0.elapsed() >= Duration::from_secs(2), "waited the patience");
    cluster.add_worker(&python, "w2");
    r.wait_for_workers(1, Duration::from_secs(20)).unwrap();
    assert_eq!(r.count_available_workers(), 1, "the joining worker's thread is a free slot");
    r.submit_trial(trial(&space, 0.3, 1)).unwrap();
    let (_, v) = collect(&mut r, 1, Duration::from_secs(20)).pop().unwrap();
    assert_eq!((v.status, v.cost.clone()), (StatusType::Success, vec![0.0]), "{v:?}");
    assert_eq!(dask_stats(&r).scatter_calls["__smac_target__"], 1, "{:?}", dask_stats(&r));
    let elapsed = started.elapsed();
    eprintln!("{TEST}: done in {elapsed:.1?}");
    assert!(elapsed < BUDGET, "took {elapsed:?}");
}

#[test]
fn trials_reuse_long_lived_executors_which_belong_to_one_session() {
    const TEST: &str = "trials_reuse_long_lived_executors_which_belong_to_one_session";
    let Some(python) = python(TEST) else { return };
    logs();
    let started = Instant::now();
    let cluster = Cluster::start(&python, 2);
    let _watchdog = Watchdog::start(TEST, &cluster, BUDGET);
    let space = space();
    let pids_of = |runner: &mut DaskStyleParallelRunner, n: u64| {
        for k in 0..n {
            runner.submit_trial(trial(&space, k as f64 / n as f64, k)).unwrap();
        }
        let results = collect(runner, n as usize, Duration::from_secs(30));
        let mut pids = std::collections::BTreeSet::new();
        for (_, v) in &results {
            assert_eq!(v.status, StatusType::Success, "{v:?}");
            pids.insert(v.additional_info["pid"].as_u64().expect("the target reports its pid") as u32);
        }
        pids
    };
    let file = DaskCluster::scheduler_file(&cluster.scheduler_file);
    let mut first = dask_runner(Mode::Sleep { ms: 0 }, file.clone(), options(&python), run_options(|_| {}));
    first.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let pids = pids_of(&mut first, 60);
    // Two Dask workers with one thread each: at most two executors ran the 60 trials.
    assert!((1..=2).contains(&pids.len()), "60 trials ran in {} processes: {pids:?}", pids.len());
    for pid in &pids {
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid: Option<u32> = parent[parent.rfind(')').map_or(0, |i| i + 1)..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok());
        assert!(
            ppid == Some(cluster.pid("w0")) || ppid == Some(cluster.pid("w1")),
            "executor {pid} is a child of a Dask worker"
        );
    }

    // A second session on the same cluster (another target payload) starts its own executors.
    let mut second = dask_runner(Mode::Sleep { ms: 0 }, file, options(&python), run_options(|_| {}));
    second.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let others = pids_of(&mut second, 20);
    assert!(others.is_disjoint(&pids), "sessions never share executors: {pids:?} {others:?}");
    // Closing a session ends its executors (worker plugin teardown); the other's keep running.
    first.close().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || pids.iter().all(|p| gone(*p))),
        "the closed session's executors exited"
    );
    assert!(others.iter().all(|p| !gone(*p)), "the open session's executors are alive");
    second.close().unwrap();
    assert!(eventually(Duration::from_secs(10), || others.iter().all(|p| gone(*p))));
    let elapsed = started.elapsed();
    eprintln!("{TEST}: done in {elapsed:.1?}");
    assert!(elapsed < BUDGET, "took {elapsed:?}");
}

#[test]
fn a_local_cluster_we_start_is_closed_with_the_runner() {
    const TEST: &str = "a_local_cluster_we_start_is_closed_with_the_runner";
    let Some(python) = python(TEST) else { return };
    logs();
    let space = space();
    let mut r = dask_runner(Mode::Quadratic, DaskCluster::local(1), options(&python), run_options(|_| {}));
    let info = r.backend_as::<DaskBackend>().unwrap().cluster_info().clone();
    assert!(info.owned_cluster);
    r.wait_for_workers(1, Duration::from_secs(30)).unwrap();
    let scheduler = info.scheduler.clone();
    let port: u16 = scheduler.rsplit(':').next().unwrap().parse().unwrap();
    for k in 0..3 {
        r.submit_trial(trial(&space, 0.3, k)).unwrap();
    }
    let results = collect(&mut r, 3, Duration::from_secs(30));
    assert!(
        results.iter().all(|(_, v)| v.status == StatusType::Success && v.cost == vec![0.0]),
        "{results:?}"
    );
    r.close().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the scheduler of the cluster we started ({scheduler}) is closed with the runner"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn missing_python_or_distributed_is_a_clear_error() {
    let opts = DaskOptions { python: "/nonexistent/python3".into(), ..Default::default() };
    let err = DaskBackend::connect(
        &single(Mode::Quadratic),
        DaskCluster::local(1),
        opts,
        &ParallelOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DaskError::PythonNotFound { .. }), "{err}");
    assert!(err.to_string().contains("pip install distributed"), "{err}");

    // A Python that cannot see site-packages cannot import distributed.
    let Ok(system) = which("python3") else {
        eprintln!("*** SKIPPED the missing-distributed half: no python3 on PATH ***");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("python-without-site");
    std::fs::write(&fake, format!("#!/bin/sh\nexec {} -S -s \"$@\"\n", system.display())).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let opts = DaskOptions { python: fake, ..Default::default() };
    let err = DaskBackend::connect(
        &single(Mode::Quadratic),
        DaskCluster::local(1),
        opts,
        &ParallelOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DaskError::MissingDistributed { .. }), "{err}");
    assert!(err.to_string().contains("-m pip install distributed"), "{err}");
}

fn which(name: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).ok_or(())
}
