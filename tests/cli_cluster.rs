//! `smac optimize` on clusters, end to end with real processes on loopback: a real Dask
//! cluster through its scheduler file, the workers of `utils/smac-local-cluster.sh`, our own
//! `smac scheduler` (the header's worker count, Ctrl-C while waiting for a worker), and bad
//! cluster settings refused before any worker starts without losing what a run directory
//! already holds.

use serde_json::Value as Json;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SMAC: &str = env!("CARGO_BIN_EXE_smac");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A target that reports its parent (the worker process) and grandparent pids.
const TARGET: &str = r#"#!/bin/sh
x=0
while [ $# -gt 0 ]; do case "$1" in --x) x=$2; shift ;; esac; shift; done
gp=$(awk '{print $4}' /proc/$PPID/stat)
awk -v x="$x" -v p="$PPID" -v g="$gp" 'BEGIN { printf "cost=%.12g; parent=%s; grandparent=%s\n", (x - 0.5)^2, p, g }'
"#;

/// A scenario of `n_trials` random trials of `target.sh` (one float `x`), plus `extra` TOML.
fn scenario(dir: &Path, n_trials: usize, n_workers: usize, extra: &str) {
    let target = dir.join("target.sh");
    std::fs::write(&target, TARGET).unwrap();
    let mut perm = std::fs::metadata(&target).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&target, perm).unwrap();
    let text = format!(
        "name = \"cl\"\noutput_directory = \"out\"\nfacade = \"random\"\nn_trials = {n_trials}\n\
         n_workers = {n_workers}\nseed = 1\ndeterministic = true\n\n[target]\ncommand = [\"./target.sh\"]\n\n\
         [space.x]\ntype = \"float\"\nlower = 0\nupper = 1\n{extra}"
    );
    std::fs::write(dir.join("scenario.toml"), text).unwrap();
}

fn smac(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(SMAC);
    c.args(args).current_dir(dir).env_remove("RUST_LOG").env_remove("SMAC_SCHEDULER_FILE");
    c
}

fn output(dir: &Path, args: &[&str]) -> Output {
    smac(dir, args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn run_ok(dir: &Path, args: &[&str]) -> Output {
    let out = output(dir, args);
    assert!(out.status.success(), "smac {args:?} failed:\n{}", text(&out));
    out
}

/// The run history's rows: (seed-independent key, cost, additional_info).
fn rows(dir: &Path) -> Vec<(String, f64, Json)> {
    let path = dir.join("out/cl/1/runhistory.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    let rh: Json = serde_json::from_str(&text).unwrap();
    let configs = rh["configs"].as_object().unwrap();
    rh["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = format!("{} {}", configs[&r["config_id"].to_string()], r["seed"]);
            (key, r["cost"].as_f64().unwrap_or(f64::NAN), r["additional_info"].clone())
        })
        .collect()
}

fn info_pid(info: &Json, key: &str) -> u32 {
    let v = &info[key];
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("{key}: {info}"))
        as u32
}

/// A child in its own process group, killed with everything it started on drop.
struct Proc(Child);

impl Proc {
    fn spawn(mut cmd: Command, log: &Path) -> Proc {
        let f = std::fs::File::create(log).unwrap();
        cmd.stdin(Stdio::null()).stdout(f.try_clone().unwrap()).stderr(f).process_group(0);
        Proc(cmd.spawn().unwrap())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signals the process group of a child we started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
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

/// `smac scheduler` writing `file` in `dir`; waits for the file it writes (a new one when a
/// stale file of a killed scheduler is there). Logs to `scheduler.log`, then `scheduler-2.log`.
fn our_scheduler(dir: &Path, file: &str) -> Proc {
    let before = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    let log = if dir.join("scheduler.log").exists() { "scheduler-2.log" } else { "scheduler.log" };
    let mut cmd = smac(dir, &["scheduler", "--scheduler-file", file]);
    cmd.env("RUST_LOG", "info");
    let p = Proc::spawn(cmd, &dir.join(log));
    let written =
        || std::fs::read_to_string(dir.join(file)).is_ok_and(|now| !now.is_empty() && now != before);
    assert!(eventually(Duration::from_secs(20), written), "no new scheduler file");
    p
}

#[test]
fn bad_cluster_settings_are_refused_before_any_worker_starts_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, 3, 1, "");
    run_ok(d, &["optimize", "--scenario", "scenario.toml", "--json"]);
    let before = rows(d);
    assert_eq!(before.len(), 3);

    std::fs::write(d.join("odd.json"), r#"{"host": "x", "port": 1}"#).unwrap();
    // A file whose scheduler is gone (nothing listens on port 9).
    let token = "ab".repeat(32);
    let stale = format!(
        r#"{{"address": "127.0.0.1:9", "token": "{token}", "protocol": {}}}"#,
        smac::runner::protocol::PROTOCOL_VERSION
    );
    std::fs::write(d.join("stale.json"), stale).unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--scheduler-file", "odd.json"], &["scheduler_file", "odd.json", "neither", "host"]),
        (&["--dask-address", "nonsense"], &["dask_address", "nonsense"]),
        (&["-n", "6", "--n-workers", "100000"], &["n_workers", "100000"]),
        (&["-n", "6", "--n-workers", "2", "--gpus", ""], &["gpus", "no device"]),
        (&["-n", "6", "--n-workers", "2", "--gpus", ",", "--single-node-with-gpus"], &["gpus"]),
        (
            &["-n", "6", "--n-workers", "2", "--resources", "GPU=1", "--worker-resources", "GPU=0"],
            &["resources", "GPU=1"],
        ),
    ];
    for (flags, words) in cases {
        let mut args = vec!["optimize", "--scenario", "scenario.toml"];
        args.extend_from_slice(flags);
        let started = Instant::now();
        let out = output(d, &args);
        let all = text(&out);
        assert!(!out.status.success(), "{flags:?} was accepted:\n{all}");
        assert!(started.elapsed() < Duration::from_secs(10), "{flags:?} took {:?}", started.elapsed());
        for w in *words {
            assert!(all.contains(w), "{flags:?}: the error does not say `{w}`:\n{all}");
        }
        assert!(!all.contains("worker(s) connected"), "{flags:?}: the run started:\n{all}");
        assert_eq!(rows(d), before, "{flags:?}: the run directory was changed");
    }

    // A missing scheduler file, with a short connect_timeout from the [cluster] table: the
    // message names the file once and says what to start.
    scenario(d, 3, 1, "\n[cluster]\nscheduler_file = \"missing.json\"\nconnect_timeout = 1\n");
    let started = Instant::now();
    let out = output(d, &["optimize", "--scenario", "scenario.toml", "-n", "6"]);
    let all = text(&out);
    assert!(!out.status.success() && started.elapsed() < Duration::from_secs(10), "{all}");
    assert_eq!(all.matches("missing.json").count(), 1, "named once:\n{all}");
    assert!(all.contains("scheduler_file") && all.contains("smac scheduler"), "{all}");
    assert_eq!(rows(d), before);

    // A stale file of ours (its scheduler gone): refused after connect_timeout, saying so.
    scenario(d, 3, 1, "\n[cluster]\nscheduler_file = \"stale.json\"\nconnect_timeout = 1\n");
    let out = output(d, &["optimize", "--scenario", "scenario.toml", "-n", "6"]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    for w in ["scheduler_file", "stale.json", "127.0.0.1:9", "stale"] {
        assert!(all.contains(w), "the error does not say `{w}`:\n{all}");
    }
    assert_eq!(rows(d), before);

    // The same run directory resumes with everything it held.
    scenario(d, 3, 1, "");
    run_ok(d, &["optimize", "--scenario", "scenario.toml", "-n", "5", "--json"]);
    let after = rows(d);
    assert_eq!(after.len(), 5);
    assert_eq!(after[..3], before[..], "the recorded trials are kept as they were");
}

#[test]
fn the_header_counts_connected_workers_and_ctrl_c_ends_the_wait_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, 2, 4, "");
    let _scheduler = our_scheduler(d, "sched.json");
    let mut worker_cmd = smac(d, &["worker", "--scheduler-file", "sched.json"]);
    worker_cmd.env("RUST_LOG", "info");
    let worker = Proc::spawn(worker_cmd, &d.join("worker.log"));

    // n_workers = 4 in the scenario, one worker connected: the header says 1.
    let client =
        smac::runner::Client::from_scheduler_file_timeout(d.join("sched.json"), Duration::from_secs(20))
            .unwrap();
    client.wait_for_workers(1, Duration::from_secs(20)).unwrap();
    let out = run_ok(d, &["optimize", "--scenario", "scenario.toml", "--scheduler-file", "sched.json"]);
    let all = text(&out);
    assert!(all.contains("(1 worker(s) connected)"), "{all}");
    let done = rows(d);
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|(_, _, info)| info_pid(info, "parent") != 0));
    drop(worker);
    assert!(eventually(Duration::from_secs(10), || client.n_workers() == 0));

    // No worker now: the resumed run waits (patience 60 s); Ctrl-C ends the wait at once,
    // exit code 130, the finished trials are kept.
    let mut child = smac(
        d,
        &["optimize", "--scenario", "scenario.toml", "--scheduler-file", "sched.json", "--patience", "60"],
    )
    .args(["-n", "4", "-v"])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("a header");
        seen.push(line.clone());
        if line.contains("worker(s) connected") {
            assert!(line.contains("(0 worker(s) connected)"), "{line}");
            break;
        }
    }
    // The first submit then waits up to its 60 s patience and says so (the point is to
    // interrupt that wait, not the start).
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the wait");
        seen.push(line.clone());
        if line.contains("waiting for one") {
            break;
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "smac ended without a worker: {seen:?}");
    let stopped = Instant::now();
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(stopped.elapsed() < Duration::from_secs(10), "smac still waits after Ctrl-C: {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(stopped.elapsed() < Duration::from_secs(5), "took {:?}", stopped.elapsed());
    seen.extend(rx.try_iter());
    assert_eq!(code, Some(130), "{seen:?}");
    assert_eq!(rows(d), done, "the finished trials are kept");
}

#[test]
fn the_local_cluster_script_runs_the_trials_on_its_own_workers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, 6, 4, "");
    // The script's binaries: `smac scheduler` as smac-scheduler, and `smac` as the worker
    // program (it serves command targets); the worker wrapper records its pid (kept by exec):
    // it supervises the two worker processes, the targets' grandparents.
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let wrap = |name: &str, body: String| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
        p
    };
    wrap("smac-scheduler", format!("exec {SMAC} scheduler \"$@\""));
    let pids = d.join("worker-pids");
    let worker = wrap("smac-as-worker", format!("echo $$ >> {}\nexec {SMAC} \"$@\"", pids.display()));
    let script = Path::new(ROOT).join("utils/smac-local-cluster.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).args([
        "-n",
        "2",
        "-f",
        "sched.json",
        "--",
        SMAC,
        "optimize",
        "--scenario",
        "scenario.toml",
    ]);
    cmd.current_dir(d).env("SMAC_BIN_DIR", &bin).env("SMAC_WORKER_PROGRAM", &worker);
    cmd.env_remove("SMAC_SCHEDULER_FILE").env_remove("RUST_LOG");
    let out = cmd.output().unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("on the smac scheduler of") && all.contains("sched.json"), "{all}");
    let supervisors: HashSet<u32> =
        std::fs::read_to_string(&pids).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    let done = rows(d);
    assert_eq!(done.len(), 6, "{all}");
    let parents: HashSet<u32> = done.iter().map(|(_, _, i)| info_pid(i, "parent")).collect();
    for (_, _, info) in &done {
        let gp = info_pid(info, "grandparent");
        assert!(supervisors.contains(&gp), "trial not run by the script's workers {supervisors:?}: {info}");
    }
    assert!(!parents.is_empty() && parents.len() <= 2, "the script's two workers: {parents:?}");
}

// ------------------------------------------------------------------------------------------
// Dask: `smac optimize --scheduler-file <dask scheduler file>`.
// ------------------------------------------------------------------------------------------

/// The Python with `distributed`, or `None` after a loud message (a failure when `CI=true`).
fn dask_python(test: &str) -> Option<PathBuf> {
    // Absolute: smac runs it from another directory.
    let candidate = std::env::var_os("SMAC_DASK_PYTHON")
        .map(|p| if Path::new(&p).components().count() > 1 { Path::new(ROOT).join(p) } else { p.into() })
        .or_else(|| Some(Path::new(ROOT).join(".venv-dask/bin/python")).filter(|p| p.exists()));
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

#[test]
fn an_unreachable_dask_address_is_refused_naming_the_field() {
    let test = "an_unreachable_dask_address_is_refused_naming_the_field";
    let Some(python) = dask_python(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, 3, 1, "\n[cluster]\ndask_address = \"tcp://127.0.0.1:1\"\nconnect_timeout = 2\n");
    let python = python.to_string_lossy().into_owned();
    let started = Instant::now();
    let out = output(d, &["optimize", "--scenario", "scenario.toml", "--dask-python", &python]);
    let all = text(&out);
    assert!(!out.status.success(), "an unreachable scheduler was accepted:\n{all}");
    assert!(all.contains("dask_address") && all.contains("127.0.0.1:1"), "{all}");
    assert!(started.elapsed() < Duration::from_secs(40), "took {:?}", started.elapsed());
    assert!(!all.contains("worker(s) connected"), "the run started:\n{all}");
}

#[test]
fn smac_optimize_runs_a_command_target_on_a_dask_cluster() {
    let Some(python) = dask_python("smac_optimize_runs_a_command_target_on_a_dask_cluster") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, 6, 2, "");
    let file = d.join("dask.json");
    let f = file.display().to_string();
    let mut cmd = Command::new(&python);
    #[rustfmt::skip]
    cmd.args(["-m", "dask", "scheduler", "--scheduler-file", &f, "--host", "127.0.0.1", "--port", "0",
        "--no-dashboard"]);
    let _scheduler = Proc::spawn(cmd, &d.join("dask-scheduler.log"));
    let up = eventually(Duration::from_secs(30), || {
        std::fs::read_to_string(&file).is_ok_and(|t| t.contains("tcp://"))
    });
    assert!(up, "the Dask scheduler did not start");
    let mut workers = Vec::new();
    let mut pids = HashSet::new();
    for k in 0..2 {
        let local = d.join(format!("w{k}")).display().to_string();
        let mut cmd = Command::new(&python);
        #[rustfmt::skip]
        cmd.args(["-m", "dask", "worker", "--scheduler-file", &f, "--nthreads", "1", "--no-nanny", "--host",
            "127.0.0.1", "--local-directory", &local, "--memory-limit", "0", "--no-dashboard"]);
        let w = Proc::spawn(cmd, &d.join(format!("w{k}.log")));
        pids.insert(w.0.id());
        workers.push(w);
    }
    let py = python.display().to_string();
    #[rustfmt::skip]
    let args = ["optimize", "--scenario", "scenario.toml", "--scheduler-file", "dask.json",
        "--worker-program", SMAC, "--dask-python", &py, "--patience", "60"];
    let out = run_ok(d, &args);
    let all = text(&out);
    assert!(
        all.contains("on the Dask scheduler of") && all.contains("dask.json"),
        "the header names the Dask cluster:\n{all}"
    );
    let done = rows(d);
    assert_eq!(done.len(), 6, "{all}");
    assert!(done.iter().all(|(_, c, _)| c.is_finite()), "{done:?}");
    // Every trial ran under one of the two Dask workers (the target's ancestry reaches one).
    for (_, _, info) in &done {
        let mut p = info_pid(info, "parent");
        let mut under_dask = false;
        for _ in 0..4 {
            if pids.contains(&p) {
                under_dask = true;
                break;
            }
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { break };
            let after = stat.rsplit_once(')').map(|(_, r)| r.to_string()).unwrap_or_default();
            p = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        }
        let gp = info_pid(info, "grandparent");
        assert!(under_dask || pids.contains(&gp), "trial not under a Dask worker {pids:?}: {info}");
    }
}

/// A target that records its start and then waits for a `gate` file (so that trials are
/// surely in flight when the scheduler is killed); prints `cost=` like `target.sh`.
const GATED_TARGET: &str = r#"#!/bin/sh
x=0
while [ $# -gt 0 ]; do case "$1" in --x) x=$2; shift ;; esac; shift; done
touch "started.$$"
while [ ! -e gate ]; do sleep 0.02; done
awk -v x="$x" 'BEGIN { printf "cost=%.12g\n", (x - 0.5)^2 }'
"#;

/// Issue 13, failure 4: kill -9 of the scheduler mid-run. The optimizer stops with an error
/// naming the lost cluster, the two trials in flight are not recorded (an infrastructure
/// failure is not the target's), and the run resumed on a new scheduler runs them: every trial
/// SUCCESS and exactly `n_trials` of them.
#[test]
fn a_scheduler_killed_mid_run_loses_no_trial_and_the_resumed_run_reruns_those_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    scenario(d, 5, 2, "");
    std::fs::write(d.join("target.sh"), GATED_TARGET).unwrap();
    let started = || {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("started."))
            .count()
    };
    let mut scheduler = our_scheduler(d, "sched.json");
    let mut worker_cmd = smac(d, &["worker", "--scheduler-file", "sched.json", "--nworkers", "2"]);
    worker_cmd.env("RUST_LOG", "info");
    let _workers = Proc::spawn(worker_cmd, &d.join("workers.log"));
    let client =
        smac::runner::Client::from_scheduler_file_timeout(d.join("sched.json"), Duration::from_secs(20))
            .unwrap();
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    drop(client);

    let run = smac(d, &["optimize", "--scenario", "scenario.toml", "--scheduler-file", "sched.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(30), || started() == 2), "two trials in flight");
    // SAFETY: kills the scheduler's process group (a child of this test).
    unsafe { libc::kill(-(scheduler.0.id() as i32), libc::SIGKILL) };
    let _ = scheduler.0.wait();
    let out = run.wait_with_output().unwrap();
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("the cluster was lost") && all.contains("2 trial(s) in flight were not recorded"),
        "{all}"
    );
    assert!(rows(d).is_empty(), "nothing was recorded as the target's failure: {:?}", rows(d));

    // A new scheduler on the same file; the workers rejoin through it; the run continues.
    std::fs::write(d.join("gate"), "").unwrap();
    let _scheduler = our_scheduler(d, "sched.json");
    let out = run_ok(
        d,
        &["optimize", "--scenario", "scenario.toml", "--scheduler-file", "sched.json", "--patience", "30"],
    );
    let done = rows(d);
    assert_eq!(done.len(), 5, "{}", text(&out));
    let rh: Json =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/cl/1/runhistory.json")).unwrap()).unwrap();
    let statuses: Vec<i64> =
        rh["data"].as_array().unwrap().iter().map(|r| r["status"].as_i64().unwrap()).collect();
    assert!(statuses.iter().all(|&s| s == 1), "every trial SUCCESS: {statuses:?}");
}
