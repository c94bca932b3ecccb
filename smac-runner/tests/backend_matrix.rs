//! Every feature of the runner core on every backend, with real processes over loopback.
//!
//! Backends (columns):
//! - **threads**: `DaskStyleParallelRunner::threads`, worker threads of this process;
//! - **processes**: local `smac-test-worker` processes under an in-process scheduler
//!   (`LocalCluster` + `::on_cluster`, or `::attach` to its client when the test adds or kills
//!   workers);
//! - **scheduler**: a standalone `smac-scheduler` process and test-worker processes that join
//!   it through its scheduler file, as remote workers do (`::attach`);
//! - **dask**: a real `dask scheduler` + `dask worker` cluster (`::dask`), all Dask cases in
//!   one test sharing one cluster.
//!
//! Features (rows), one check function each, run on every backend that can do them; where a
//! backend cannot, its test asserts the refusal and says why in a comment:
//!
//! | feature | threads | processes | scheduler | dask |
//! |---|---|---|---|---|
//! | patience: expiry, first worker arriving late | n/a (threads exist from the start) | yes | yes | yes |
//! | worker killed mid-trial → retried, then crashed | n/a (a panic → crashed, no retry) | yes | yes | crashed (see test) |
//! | scatter sent once per worker | yes | yes | yes | seen once per trial |
//! | resource claims | threads offer the claims | yes | yes | yes |
//! | GPU assignment (`single_node_with_gpus`) | refused (Config) | yes | yes | yes |
//! | walltime limit | yes | yes | yes | yes |
//! | memory limit | refused (Config) | yes | yes | yes |
//! | reproducible order | yes | yes | yes | yes |
//! | `count_available_workers` follows joins/leaves | n/a (fixed threads) | yes | yes | yes |
//! | a user's client/cluster never closed | n/a (threads are the runner's) | yes | yes | yes |
//!
//! Dask cases need a Python with `distributed` (`SMAC_DASK_PYTHON`, else
//! `<workspace>/.venv-dask/bin/python`): without one they skip loudly, unless `CI=true`, where
//! they fail.

mod common;

use common::procs::{Proc, Scheduler};
use common::*;
use smac_core::{Runner, RunnerError, StatusType, TrialValue};
use smac_runner::dask::{DaskCluster, DaskOptions};
use smac_runner::{Client, DaskStyleParallelRunner, ParallelOptions};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------------------------------
// Feature checks, backend-independent: each takes runners built by a backend's test.
// ------------------------------------------------------------------------------------------

fn opts(f: impl FnOnce(&mut ParallelOptions)) -> ParallelOptions {
    let mut o = ParallelOptions::with_patience(Duration::from_secs(20));
    f(&mut o);
    o
}

fn info_u64(v: &TrialValue, key: &str) -> u64 {
    let x = &v.additional_info[key];
    x.as_u64().or_else(|| x.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("{key}: {v:?}"))
}

fn info_str(v: &TrialValue, key: &str) -> String {
    v.additional_info[key].as_str().unwrap_or_else(|| panic!("{key}: {v:?}")).to_string()
}

/// With no worker at all, a submit waits for its patience, then fails naming the reason.
fn check_patience_expires(r: &mut DaskStyleParallelRunner, patience: Duration) {
    assert_eq!(r.count_available_workers(), 0);
    let started = Instant::now();
    let err = r.submit_trial(trial(0.5, 0)).unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, RunnerError::NoWorkerAvailable { .. }), "{err}");
    assert!(waited >= patience && waited < patience + Duration::from_secs(5), "waited {waited:?}");
}

/// How late the first worker is started after the submit began.
const LATE: Duration = Duration::from_millis(300);

/// No worker yet: a submit waits within its patience for the first worker, which arrives
/// late (started by `arrive` only after the submit began waiting), and the trial runs.
fn check_late_first_worker(r: &mut DaskStyleParallelRunner, arrive: impl FnOnce() + Send) {
    assert_eq!(r.count_available_workers(), 0, "no worker yet");
    let (go, ready) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            // The worker is late on purpose: started LATE after the main thread began its
            // submit (a delay that is the scenario, not a synchronization).
            ready.recv().unwrap();
            std::thread::sleep(LATE);
            arrive();
        });
        go.send(()).unwrap();
        let started = Instant::now();
        r.submit_trial(trial(0.5, 0)).unwrap();
        let waited = started.elapsed();
        assert!(waited >= LATE, "the submit returned after {waited:?}, before any worker existed");
        let (_, v) = collect(r, 1, Duration::from_secs(30)).pop().unwrap();
        assert_eq!(v.status, StatusType::Success, "{v:?}");
        eprintln!("late first worker: the submit waited {waited:?}");
    });
}

/// A target that kills its worker process every time: run once more elsewhere, then
/// reported crashed with the reason; nothing is lost or delivered twice.
fn check_killed_worker(r: &mut DaskStyleParallelRunner) -> TrialValue {
    r.submit_trial(trial(0.5, 7)).unwrap();
    let res = collect(r, 1, Duration::from_secs(40));
    let (t, v) = res.into_iter().next().unwrap();
    assert_eq!(t.seed, Some(7));
    assert_eq!(v.status, StatusType::Crashed, "{v:?}");
    assert!(v.cost.is_empty(), "the crash cost is the SMBO loop's, not the runner's: {v:?}");
    v
}

/// A blob scattered once reaches every worker that runs trials exactly once (which workers
/// run them is the scheduler's choice; the hygiene test below makes both run some).
fn check_scatter_once_per_worker(r: &mut DaskStyleParallelRunner, n_trials: u64) -> HashSet<u64> {
    r.scatter("blob", vec![3u8; 4321]).unwrap();
    for k in 0..n_trials {
        r.submit_trial(trial(0.5, k)).unwrap();
    }
    let res = collect(r, n_trials as usize, Duration::from_secs(40));
    for (_, v) in &res {
        assert_eq!((v.status, v.cost.first().copied()), (StatusType::Success, Some(4321.0)), "{v:?}");
        assert_eq!(info_u64(v, "receipts"), 1, "each worker received the blob once: {v:?}");
    }
    res.iter().map(|(_, v)| info_u64(v, "pid")).collect()
}

/// `single_node_with_gpus` with the fake devices 0 and 1: two trials at once get "0,1" and
/// "1,0" (least-loaded first); once they are done, the next pair gets the same again.
fn check_gpu_assignment(r: &mut DaskStyleParallelRunner) {
    for round in 0..2 {
        for k in 0..2 {
            r.submit_trial(trial(0.5, round * 2 + k)).unwrap();
        }
        let mut res = collect(r, 2, Duration::from_secs(30));
        res.sort_by_key(|(t, _)| t.seed);
        let seen: Vec<String> = res.iter().map(|(_, v)| info_str(v, "env")).collect();
        assert_eq!(seen, ["0,1", "1,0"], "round {round}: {res:?}");
    }
}

/// Trials claiming `GPU=1` only run where `MATRIX_WORKER` says `gpu` (the worker that offers
/// a GPU); the target reports that variable.
fn check_claims(r: &mut DaskStyleParallelRunner, n_trials: u64) {
    for k in 0..n_trials {
        r.submit_trial(trial(0.5, k)).unwrap();
    }
    for (_, v) in collect(r, n_trials as usize, Duration::from_secs(30)) {
        assert_eq!((v.status, info_str(&v, "env").as_str()), (StatusType::Success, "gpu"), "{v:?}");
    }
}

/// A trial past its walltime comes back `Timeout` soon after the limit.
fn check_walltime(r: &mut DaskStyleParallelRunner) {
    let started = Instant::now();
    r.submit_trial(trial(0.5, 1)).unwrap();
    let (_, v) = collect(r, 1, Duration::from_secs(30)).pop().unwrap();
    assert_eq!(v.status, StatusType::Timeout, "{v:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// A trial allocating 600 MB under a 100 MB limit comes back `MemoryOut`.
fn check_memory(r: &mut DaskStyleParallelRunner) {
    r.submit_trial(trial(0.5, 1)).unwrap();
    let (_, v) = collect(r, 1, Duration::from_secs(30)).pop().unwrap();
    assert_eq!(v.status, StatusType::MemoryOut, "{v:?}");
}

/// The order of results in reproducible mode: always the submission order.
fn reproducible_order(mut r: DaskStyleParallelRunner, n: u64) -> Vec<(u64, f64)> {
    let (mut submitted, mut out) = (0u64, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < n as usize {
        assert!(Instant::now() < deadline, "only {} results", out.len());
        while submitted < n && r.count_available_workers() > 0 {
            // x varies so that trials take different times (Jitter: 0-29 ms by x).
            r.submit_trial(trial((submitted * 7 % 10) as f64 / 10.0 + 0.013, submitted)).unwrap();
            submitted += 1;
        }
        r.wait(Some(Duration::from_millis(200))).unwrap();
        out.extend(r.iter_results().into_iter().map(|(t, v)| (t.seed.unwrap(), v.cost[0])));
    }
    out
}

fn check_reproducible(mut make: impl FnMut() -> DaskStyleParallelRunner) {
    let n = 10;
    let first = reproducible_order(make(), n);
    let second = reproducible_order(make(), n);
    assert_eq!(first, second, "the same results in the same order twice");
    assert_eq!(first.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
}

/// Waits until `r.count_available_workers()` is `n`, pumping results meanwhile.
fn wait_count(r: &mut DaskStyleParallelRunner, n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while r.count_available_workers() != n {
        assert!(
            Instant::now() < deadline,
            "{what}: count_available_workers stayed {} (expected {n})",
            r.count_available_workers()
        );
        // `wait` with nothing in flight returns at once; the backend's events are applied by
        // `iter_results` and the count itself.
        let _ = r.iter_results();
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------------------------------
// Backends: threads, local processes, a standalone scheduler with remote-style workers.
// ------------------------------------------------------------------------------------------

/// A standalone scheduler's test-worker process (joins through the scheduler file, as a
/// remote worker would), with extra environment.
fn remote_worker(s: &Scheduler, name: &str, env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(WORKER);
    cmd.env("SMAC_WORKER_SCHEDULER_FILE", &s.file).envs(env.iter().copied());
    Proc::spawn(cmd, &s.dir.path().join(format!("{name}.log")))
}

fn attach(client: &Client, mode: Mode, o: ParallelOptions) -> DaskStyleParallelRunner {
    DaskStyleParallelRunner::attach(single(mode), client.clone(), o).unwrap()
}

fn env_mode(var: &str, ms: u64) -> Mode {
    Mode::Env { var: var.into(), ms }
}

fn gpu_opts() -> ParallelOptions {
    opts(|o| {
        o.single_node_with_gpus = true;
        o.gpu_devices = Some(vec!["0".into(), "1".into()]);
    })
}

#[test]
fn threads_column() {
    logs();
    let threads = |mode: Mode, n, o| DaskStyleParallelRunner::threads(single(mode), n, o);

    // Patience, a late first worker, joins and leaves: n/a. A thread backend has its threads
    // from construction to close; nothing joins or leaves (a thread stuck past its walltime is
    // retired, see below).

    // Worker killed mid-trial: n/a, a thread cannot be killed without the process. A target
    // that panics is the closest: crashed with the message, not retried, the thread serves on.
    let mut r = threads(Mode::Panic, 1, opts(|_| ())).unwrap();
    let v = check_killed_worker(&mut r);
    assert!(
        v.error_message().unwrap().contains("panicked on purpose")
            && !v.additional_info.contains_key("retries")
    );
    assert_eq!(r.count_available_workers(), 1);

    // Scatter: once per thread that runs trials.
    let mut r = threads(Mode::Scattered { name: "blob".into() }, 2, opts(|_| ())).unwrap();
    check_scatter_once_per_worker(&mut r, 6);

    // Resource claims: the threads offer exactly what the runner claims, so claims always fit.
    let claims = opts(|o| o.resources = "GPU=1".parse().unwrap());
    let mut r = threads(Mode::Quadratic, 2, claims).unwrap();
    assert_eq!(r.count_available_workers(), 2);
    r.submit_trial(trial(0.3, 0)).unwrap();
    assert_eq!(collect(&mut r, 1, Duration::from_secs(10))[0].1.status, StatusType::Success);

    // GPU assignment and memory limits: refused, threads share one environment and one
    // address space.
    let err = threads(env_mode("CUDA_VISIBLE_DEVICES", 0), 2, gpu_opts()).unwrap_err();
    assert!(matches!(&err, RunnerError::Config { field, .. } if field == "single_node_with_gpus"), "{err}");
    let err = threads(Mode::Quadratic, 2, opts(|o| o.trial_memory_limit = Some(100))).unwrap_err();
    assert!(matches!(&err, RunnerError::Config { field, .. } if field == "trial_memory_limit"), "{err}");

    // Walltime: reported at the limit; the stuck thread is retired.
    let mut r = threads(Mode::Hang, 2, opts(|o| o.trial_walltime_limit = Some(0.3))).unwrap();
    check_walltime(&mut r);
    assert_eq!(r.count_available_workers(), 1, "the stuck thread no longer counts");

    // Reproducible order.
    check_reproducible(|| threads(Mode::Jitter, 3, opts(|o| o.reproducible = true)).unwrap());
}

#[test]
fn processes_column() {
    // Patience: a cluster without workers (listening, so workers can join later).
    let cluster = processes(0).listen("127.0.0.1:0".parse().unwrap()).respawn(false).start().unwrap();
    let client = cluster.client();
    let mut r = attach(&client, Mode::Quadratic, ParallelOptions::with_patience(Duration::from_secs(1)));
    check_patience_expires(&mut r, Duration::from_secs(1));
    drop(r);
    let mut r = attach(&client, Mode::Quadratic, ParallelOptions::with_patience(Duration::from_secs(20)));
    check_late_first_worker(&mut r, || {
        cluster.spawn_worker().unwrap();
    });

    // Joins and leaves.
    assert_eq!(r.count_available_workers(), 1);
    let second = cluster.spawn_worker().unwrap();
    wait_count(&mut r, 2, "a worker joined");
    // SAFETY: kills a worker process this test started (respawn is off).
    unsafe { libc::kill(second as i32, libc::SIGKILL) };
    wait_count(&mut r, 1, "a worker left");
    drop(r);

    // A user's cluster is never closed: the runner detached, the workers and client stay.
    assert!(!client.is_closed() && client.n_workers() == 1);
    let mut r = attach(&client, Mode::Quadratic, opts(|_| ()));
    r.submit_trial(trial(0.3, 1)).unwrap();
    assert_eq!(collect(&mut r, 1, Duration::from_secs(10))[0].1.status, StatusType::Success);
    drop((r, cluster));

    // Killed mid-trial: retried once on a replacement, then crashed.
    let two = || processes(2).start().unwrap();
    let mut r = DaskStyleParallelRunner::on_cluster(single(Mode::Suicide), two(), opts(|_| ())).unwrap();
    let v = check_killed_worker(&mut r);
    assert_eq!(info_u64(&v, "retries"), 1, "{v:?}");

    // Scatter once per worker process.
    let scat = Mode::Scattered { name: "blob".into() };
    let mut r = DaskStyleParallelRunner::on_cluster(single(scat), two(), opts(|_| ())).unwrap();
    check_scatter_once_per_worker(&mut r, 8);

    // Resource claims: workers offering no GPU never get GPU=1 trials (patience expires);
    // workers offering one do.
    let claims = opts(|o| {
        o.resources = "GPU=1".parse().unwrap();
        o.patience = Duration::from_secs(1);
    });
    let no_gpu = processes(1).resources("GPU=0".parse().unwrap()).start().unwrap();
    let mut r = DaskStyleParallelRunner::on_cluster(single(Mode::Quadratic), no_gpu, claims.clone()).unwrap();
    check_patience_expires(&mut r, Duration::from_secs(1));
    let gpu = processes(1).resources("GPU=1".parse().unwrap()).env("MATRIX_WORKER", "gpu").start().unwrap();
    let mut r =
        DaskStyleParallelRunner::on_cluster(single(env_mode("MATRIX_WORKER", 0)), gpu, claims).unwrap();
    check_claims(&mut r, 3);

    // GPU assignment.
    let mode = env_mode("CUDA_VISIBLE_DEVICES", 400);
    let mut r = DaskStyleParallelRunner::on_cluster(single(mode), two(), gpu_opts()).unwrap();
    check_gpu_assignment(&mut r);

    // Walltime and memory limits: the worker reports and exits; a replacement serves on.
    let wall = opts(|o| o.trial_walltime_limit = Some(0.5));
    let mut r = DaskStyleParallelRunner::on_cluster(single(Mode::Hang), two(), wall).unwrap();
    check_walltime(&mut r);
    let mem = opts(|o| o.trial_memory_limit = Some(100));
    let mut r = DaskStyleParallelRunner::on_cluster(single(Mode::Alloc { mb: 600 }), two(), mem).unwrap();
    check_memory(&mut r);

    // Reproducible order.
    let rep = || opts(|o| o.reproducible = true);
    check_reproducible(|| DaskStyleParallelRunner::on_cluster(single(Mode::Jitter), two(), rep()).unwrap());
}

#[test]
fn scheduler_column() {
    let mut s = Scheduler::start(&[]);
    let client = s.client();

    // Patience: no worker at all, then a first worker arriving late.
    let mut r = attach(&client, Mode::Quadratic, ParallelOptions::with_patience(Duration::from_secs(1)));
    check_patience_expires(&mut r, Duration::from_secs(1));
    drop(r);
    let mut workers = Vec::new();
    let mut r = attach(&client, Mode::Quadratic, opts(|_| ()));
    check_late_first_worker(&mut r, || workers.push(remote_worker(&s, "w0", &[])));

    // Joins and leaves.
    workers.push(remote_worker(&s, "w1", &[]));
    wait_count(&mut r, 2, "a worker joined");
    workers.pop().unwrap().signal(libc::SIGKILL);
    wait_count(&mut r, 1, "a worker left");
    drop(r);
    workers.push(remote_worker(&s, "w2", &[]));
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();

    // Scatter once per worker.
    let mut r = attach(&client, Mode::Scattered { name: "blob".into() }, opts(|_| ()));
    check_scatter_once_per_worker(&mut r, 8);
    drop(r);

    // GPU assignment.
    let mut r = attach(&client, env_mode("CUDA_VISIBLE_DEVICES", 400), gpu_opts());
    check_gpu_assignment(&mut r);
    drop(r);

    // Reproducible order.
    check_reproducible(|| attach(&client, Mode::Jitter, opts(|o| o.reproducible = true)));

    // Resource claims: one more worker, the only one offering a GPU.
    let gpu_env = [("SMAC_WORKER_RESOURCES", "GPU=1"), ("MATRIX_WORKER", "gpu")];
    workers.push(remote_worker(&s, "gpu", &gpu_env));
    client.wait_for_workers(3, Duration::from_secs(20)).unwrap();
    let claims = opts(|o| o.resources = "GPU=1".parse().unwrap());
    let mut r = attach(&client, env_mode("MATRIX_WORKER", 50), claims);
    assert_eq!(r.count_available_workers(), 1, "only the GPU worker can take these trials");
    check_claims(&mut r, 4);
    drop(r);

    // Walltime and memory limits (the worker exits after reporting; a supervisor would
    // replace it, so start workers in a supervisor here: `SMAC_WORKER_NWORKERS`).
    workers.push(remote_worker(&s, "sup", &[("SMAC_WORKER_NWORKERS", "2")]));
    client.wait_for_workers(5, Duration::from_secs(20)).unwrap();
    let mut r = attach(&client, Mode::Hang, opts(|o| o.trial_walltime_limit = Some(0.5)));
    check_walltime(&mut r);
    drop(r);
    let mut r = attach(&client, Mode::Alloc { mb: 600 }, opts(|o| o.trial_memory_limit = Some(100)));
    check_memory(&mut r);
    drop(r);

    // Killed mid-trial: retried once on another worker, then crashed.
    let mut r = attach(&client, Mode::Suicide, opts(|_| ()));
    let v = check_killed_worker(&mut r);
    assert_eq!(info_u64(&v, "retries"), 1, "{v:?}");
    drop(r);

    // The user's client and cluster were never closed by any of the runners.
    assert!(!client.is_closed() && s.proc.running());
    // Workers killed above may still be being replaced by the supervisor.
    client.wait_for_workers(1, Duration::from_secs(20)).unwrap();
    let mut r = attach(&client, Mode::Quadratic, opts(|_| ()));
    r.submit_trial(trial(0.3, 1)).unwrap();
    assert_eq!(collect(&mut r, 1, Duration::from_secs(10))[0].1.status, StatusType::Success);
}

// ------------------------------------------------------------------------------------------
// Scheduler hygiene: scattered data belongs to the runner that scattered it.
// ------------------------------------------------------------------------------------------

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn scattered_data_is_freed_when_its_runner_detaches() {
    let mut s = Scheduler::start(&[]);
    let _workers: Vec<Proc> = (0..2).map(|k| remote_worker(&s, &format!("w{k}"), &[])).collect();
    let client = s.client();
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let probe = || Mode::ScatterProbe { name: "big".into(), ms: 300 };
    // Two trials at a time on the two idle workers, until both have run one of `r`'s trials.
    let both = |r: &mut DaskStyleParallelRunner, seed: u64, check: &dyn Fn(&TrialValue)| {
        let mut pids = HashSet::new();
        for round in 0..10 {
            for k in 0..2 {
                r.submit_trial(trial(0.5, seed + round * 2 + k)).unwrap();
            }
            for (_, v) in collect(r, 2, Duration::from_secs(20)) {
                check(&v);
                pids.insert(info_u64(&v, "pid"));
            }
            if pids.len() == 2 {
                return;
            }
        }
        panic!("the trials never reached both workers: {pids:?}");
    };
    // Both workers run a trial first (so their baseline is measured too).
    let mut r = attach(&client, probe(), opts(|_| ()));
    both(&mut r, 0, &|v| assert_eq!(v.cost[0], 0.0, "{v:?}"));
    drop(r);
    let scheduler_before = rss_kb(s.proc.pid());

    // The first runner scatters 20 MB, every worker receives it, then the runner detaches.
    const MB20: usize = 20 << 20;
    let mut first = attach(&client, probe(), opts(|_| ()));
    first.scatter("big", vec![5u8; MB20]).unwrap();
    both(&mut first, 50, &|v| {
        assert_eq!(v.cost[0], 1.0, "the scattering runner sees its blob: {v:?}");
        assert!(info_u64(v, "bytes") >= MB20 as u64, "{v:?}");
    });
    let scheduler_holding = rss_kb(s.proc.pid());
    assert!(scheduler_holding > scheduler_before + 15 * 1024, "the scheduler holds the blob meanwhile");
    drop(first);

    // A second, unrelated runner on the same cluster: neither it nor the workers keep the blob.
    let mut second = attach(&client, probe(), opts(|_| ()));
    both(&mut second, 100, &|v| {
        assert_eq!(v.cost[0], 0.0, "the second runner must not see the first one's blob: {v:?}");
        assert!(info_u64(v, "bytes") < 1 << 20, "the worker still holds the first runner's 20 MB: {v:?}");
    });

    // The scheduler's memory does not keep it either (generous margin: allocator slack).
    let after = eventually(Duration::from_secs(10), || rss_kb(s.proc.pid()) < scheduler_before + 10 * 1024);
    let now = rss_kb(s.proc.pid());
    eprintln!("scheduler RSS: {scheduler_before} kB before, {scheduler_holding} kB holding, {now} kB after");
    assert!(after, "scheduler RSS {now} kB after detaching, {scheduler_before} kB before the 20 MB scatter");
    assert!(s.proc.running());
}

// ------------------------------------------------------------------------------------------
// Dask: one real cluster (`dask scheduler` + `dask worker` processes) for every case.
// ------------------------------------------------------------------------------------------

/// The Python with `distributed`, or `None` after a loud message (a failure when `CI=true`).
fn dask_python(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidate = std::env::var_os("SMAC_DASK_PYTHON")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() && !p.exists() { root.join(p) } else { p })
        .or_else(|| Some(root.join(".venv-dask/bin/python")).filter(|p| p.exists()));
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(python) = candidate else {
        assert!(!ci, "{test}: CI=true but no Python with `distributed` (set SMAC_DASK_PYTHON)");
        eprintln!(
            "\n*** SKIPPED {test}: no Python with `distributed`; set SMAC_DASK_PYTHON (see .ci/run) ***\n"
        );
        return None;
    };
    let ok = Command::new(&python).args(["-c", "import distributed"]).status().is_ok_and(|s| s.success());
    assert!(ok, "{test}: {} cannot import distributed", python.display());
    Some(python)
}

/// A Dask scheduler and workers on 127.0.0.1, each in its own process group, killed on drop.
struct Dask {
    python: PathBuf,
    dir: tempfile::TempDir,
    file: PathBuf,
    procs: Vec<(String, Proc)>,
}

impl Dask {
    fn start(python: PathBuf) -> Dask {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dask.json");
        let mut d = Dask { python, dir, file, procs: Vec::new() };
        let f = d.file.display().to_string();
        d.spawn(
            "scheduler",
            &["scheduler", "--scheduler-file", &f, "--host", "127.0.0.1", "--port", "0"],
            &[],
        );
        let up = eventually(Duration::from_secs(30), || {
            std::fs::read_to_string(&d.file).is_ok_and(|t| t.contains("tcp://"))
        });
        assert!(up, "the Dask scheduler did not start:\n{}", d.log("scheduler"));
        d
    }

    fn spawn(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "dask"]).args(args).args(["--no-dashboard"]).envs(env.iter().copied());
        let proc = Proc::spawn(cmd, &self.dir.path().join(format!("{name}.log")));
        self.procs.push((name.into(), proc));
    }

    /// `dask worker --nthreads 1 --no-nanny` named `name`, with extra args and environment.
    fn worker(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) {
        let (f, local) = (self.file.display().to_string(), self.dir.path().join(name).display().to_string());
        #[rustfmt::skip]
        let mut all = vec!["worker", "--scheduler-file", &f, "--nthreads", "1", "--no-nanny", "--host",
            "127.0.0.1", "--name", name, "--local-directory", &local, "--memory-limit", "0"];
        all.extend_from_slice(args);
        self.spawn(name, &all, env);
    }

    fn kill(&mut self, name: &str) {
        let i = self.procs.iter().position(|(n, _)| n == name).unwrap();
        drop(self.procs.remove(i));
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default()
    }

    fn runner(&self, mode: Mode, o: ParallelOptions) -> DaskStyleParallelRunner {
        let dask = DaskOptions {
            python: self.python.clone(),
            worker_program: Some(WORKER.into()),
            ..Default::default()
        };
        DaskStyleParallelRunner::dask(single(mode), DaskCluster::scheduler_file(&self.file), dask, o)
            .unwrap_or_else(|e| panic!("attaching to Dask: {e}\n{}", self.log("scheduler")))
    }
}

impl Drop for Dask {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, _) in &self.procs {
                let log = self.log(name);
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                eprintln!("--- {name}.log\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
    }
}

#[test]
fn dask_column() {
    let Some(python) = dask_python("dask_column") else { return };
    logs();
    let started = Instant::now();
    let mut d = Dask::start(python);

    // Patience: no Dask worker at all, then a first worker arriving late.
    let mut r = d.runner(Mode::Quadratic, ParallelOptions::with_patience(Duration::from_secs(1)));
    check_patience_expires(&mut r, Duration::from_secs(1));
    drop(r);
    let mut r = d.runner(Mode::Quadratic, opts(|_| ()));
    check_late_first_worker(&mut r, || d.worker("w0", &[], &[]));

    // Joins and leaves (Dask: worker threads, counted by the scheduler's view).
    d.worker("w1", &[], &[]);
    wait_count(&mut r, 2, "a Dask worker joined");
    d.kill("w1");
    wait_count(&mut r, 1, "a Dask worker left");
    drop(r);
    d.worker("w2", &[], &[]);

    // Scatter: Dask broadcasts the blob once; here each trial must see it exactly once (how
    // often `client.scatter` ran is the backend's counter, checked in dask_attach.rs, not
    // part of the public API used here).
    let mut r = d.runner(Mode::Scattered { name: "blob".into() }, opts(|_| ()));
    wait_count(&mut r, 2, "two Dask workers");
    check_scatter_once_per_worker(&mut r, 6);
    drop(r);

    // GPU assignment: the core's environment reaches the trial.
    let mut r = d.runner(env_mode("CUDA_VISIBLE_DEVICES", 400), gpu_opts());
    wait_count(&mut r, 2, "two Dask workers");
    check_gpu_assignment(&mut r);
    drop(r);

    // Reproducible order.
    check_reproducible(|| {
        let mut r = d.runner(Mode::Jitter, opts(|o| o.reproducible = true));
        wait_count(&mut r, 2, "two Dask workers");
        r
    });

    // Walltime and memory limits.
    let mut r = d.runner(Mode::Hang, opts(|o| o.trial_walltime_limit = Some(0.5)));
    check_walltime(&mut r);
    drop(r);
    let mut r = d.runner(Mode::Alloc { mb: 600 }, opts(|o| o.trial_memory_limit = Some(100)));
    check_memory(&mut r);
    drop(r);

    // Resource claims: Dask `resources=`; only the worker started with `--resources GPU=1`.
    d.worker("gpu", &["--resources", "GPU=1"], &[("MATRIX_WORKER", "gpu")]);
    let claims = opts(|o| o.resources = "GPU=1".parse().unwrap());
    let mut r = d.runner(env_mode("MATRIX_WORKER", 50), claims);
    wait_count(&mut r, 1, "only the GPU worker can take GPU=1 trials");
    check_claims(&mut r, 4);
    drop(r);

    // Killed mid-trial. Dask reschedules a task whose worker dies and gives up on it after its
    // own `allowed-failures`; what comes back is a crashed trial, with or without a retry by
    // the core depending on whether the trial's process or the Dask worker died. Assert only
    // that: crashed, exactly once, not lost.
    let mut r = d.runner(Mode::Suicide, opts(|_| ()));
    let v = check_killed_worker(&mut r);
    eprintln!("dask: a trial killing its process came back as {v:?}");
    drop(r);

    // The user's cluster was never closed: the scheduler and its remaining workers run on.
    let scheduler = &mut d.procs.iter_mut().find(|(n, _)| n == "scheduler").unwrap().1;
    assert!(scheduler.running(), "the Dask scheduler was closed");
    let mut r = d.runner(Mode::Quadratic, opts(|_| ()));
    r.submit_trial(trial(0.3, 1)).unwrap();
    let (_, v) = collect(&mut r, 1, Duration::from_secs(30)).pop().unwrap();
    assert_eq!(v.status, StatusType::Success, "{v:?}");
    eprintln!("dask_column: {:?}", started.elapsed());
}
