//! Attacks and accidents from the hardening issue, each reproduced against real processes on
//! loopback: a port taken over after the scheduler died, a scheduler killed mid-run, process
//! trees that outgrow a trial's limits or outlive their worker.

mod common;

use common::procs::Scheduler;
use common::*;
use smac_core::Runner;
use smac_runner::command::CommandTarget;
use smac_runner::worker::SchedulerFile;
use smac_runner::{DaskStyleParallelRunner, ParallelOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Forwards every connection made to `listener` to `target`, both ways, counting them and
/// recording what the connecting side sent (what an eavesdropping relay learns).
fn relay(listener: TcpListener, target: String, relayed: Arc<AtomicUsize>, heard: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        for mut inbound in listener.incoming().flatten() {
            let Ok(mut outbound) = TcpStream::connect(&target) else { continue };
            relayed.fetch_add(1, Ordering::SeqCst);
            let (mut back_from, mut back_to) = (outbound.try_clone().unwrap(), inbound.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut back_from, &mut back_to);
                let _ = back_to.shutdown(std::net::Shutdown::Both);
            });
            let heard = heard.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = inbound.read(&mut buf) {
                    heard.lock().unwrap().extend_from_slice(&buf[..n]);
                    if outbound.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = outbound.shutdown(std::net::Shutdown::Both);
            });
        }
    });
}

/// Issue 13, failure 1: after our scheduler dies, another user binds its port and relays the
/// worker to a scheduler of their own (their own token), whose client submits a command. The
/// worker, still rejoining through the stale scheduler file, refuses the peer because it cannot
/// prove our token, and the command never runs.
#[test]
fn a_worker_runs_nothing_for_a_peer_that_took_over_its_schedulers_port() {
    let mut ours = Scheduler::start(&[]);
    let file = SchedulerFile::read(&ours.file).unwrap();
    let (address, token) = (file.address.clone(), file.checked_token().unwrap());
    let _worker = ours.worker(&[]);
    ours.client().wait_for_workers(1, Duration::from_secs(20)).unwrap();
    ours.proc.signal(libc::SIGKILL);
    assert!(ours.proc.wait_exit(Duration::from_secs(10)).is_some());
    assert!(ours.file.exists(), "kill -9 leaves the scheduler file behind");

    // The attacker's scheduler, and a relay from our port to it.
    let theirs = Scheduler::start(&[]);
    let their_address = SchedulerFile::read(&theirs.file).unwrap().address;
    let deadline = Instant::now() + Duration::from_secs(10);
    let listener = loop {
        match TcpListener::bind(&address) {
            Ok(l) => break l,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("binding the dead scheduler's port: {e}");
                std::thread::yield_now();
            }
            Err(e) => panic!("could not take over {address}: {e}"),
        }
    };
    let (relayed, heard) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
    relay(listener, their_address, relayed.clone(), heard.clone());

    let marker = theirs.dir.path().join("ran-as-the-worker");
    let command = CommandTarget::new("/bin/sh").args(["-c", &format!("touch '{}'", marker.display())]);
    let their_client = theirs.client();
    let mut runner = DaskStyleParallelRunner::attach(
        command,
        their_client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(60)),
    )
    .unwrap();
    // Submitting waits (up to the patience) for a worker able to take the trial.
    let submitted = std::thread::spawn(move || {
        let result = runner.submit_trial(trial(0.5, 1));
        (result, runner.iter_results().len())
    });

    let worker_log = ours.dir.path().join("worker-1.log");
    let refused =
        || std::fs::read_to_string(&worker_log).unwrap_or_default().contains("is not our scheduler");
    assert!(
        eventually(Duration::from_secs(30), || relayed.load(Ordering::SeqCst) >= 2 && refused()),
        "the worker did not reach the relay and refuse it: relayed {}, log:\n{}",
        relayed.load(Ordering::SeqCst),
        std::fs::read_to_string(&worker_log).unwrap_or_default()
    );
    assert!(
        eventually(Duration::from_secs(10), || their_client.stats().handshakes_rejected >= 2),
        "{:?}",
        their_client.stats()
    );
    assert_eq!(their_client.n_workers(), 0, "the worker never joined their scheduler");
    assert!(!marker.exists(), "the attacker's command ran");
    assert!(!submitted.is_finished(), "their trial is still waiting for a worker");
    // What the relay overheard cannot be replayed (fresh nonces) and holds no token to steal.
    let heard = heard.lock().unwrap();
    assert!(heard.len() >= 2 * 45, "the relay heard the worker's hellos");
    assert!(!heard.windows(token.0.len()).any(|w| w == token.0), "the token crossed the wire");
}

/// Whether `pid` is a live process (a zombie waiting to be reaped is not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// A shell script as a command target, with `DIR` set to `dir`.
fn script(dir: &std::path::Path, body: &str) -> CommandTarget {
    CommandTarget::new("/bin/sh")
        .args(["-c", body, "target"])
        .env("DIR", dir.display().to_string())
        .env("W", WORKER)
}

/// Issue 13, failure 5: four children of 150 MB each under a 200 MB trial limit. Each one is
/// under the limit (and under its address-space cap), the trial is not: `MemoryOut`.
#[test]
fn the_memory_limit_holds_for_the_trials_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let target =
        script(dir.path(), r#"for i in 1 2 3 4; do "$W" cmd hold --mb 150 & done; wait; echo cost=0"#)
            .trial_memory_limit(200)
            .trial_walltime_limit(50.0);
    let v = target.run(&trial(0.5, 1));
    assert_eq!(v.status, smac_core::StatusType::MemoryOut, "{v:?}");
    let error = v.additional_info["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("child processes used") && error.contains("200 MB"), "{error}");
}

/// Reads the pids a target wrote (`main.pid` and `child.pid` in `dir`), once both exist.
fn target_pids(dir: &std::path::Path) -> Vec<u32> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok()?.trim().parse::<u32>().ok();
    let mut pids = Vec::new();
    assert!(
        eventually(Duration::from_secs(30), || {
            pids = [read("main.pid"), read("child.pid")].into_iter().flatten().collect();
            pids.len() == 2
        }),
        "the target did not start"
    );
    pids
}

/// A target that starts a background child and waits for it, writing both pids.
const TREE: &str = r#"sleep 600 & echo $! > "$DIR/child.pid"; echo $$ > "$DIR/main.pid"; wait"#;

/// Issue 13, failure 5: kill -9 of a worker (and, separately, of a `--nworkers` supervisor)
/// while its trial runs a process tree: no process of the trial is left.
#[test]
fn a_trials_processes_die_with_a_killed_worker_or_supervisor() {
    for supervisor in [false, true] {
        let mut s = Scheduler::start(&[]);
        let dir = tempfile::tempdir().unwrap();
        let mut worker = if supervisor { s.worker(&["--nworkers", "1"]) } else { s.worker(&[]) };
        let client = s.client();
        client.wait_for_workers(1, Duration::from_secs(20)).unwrap();
        let mut runner = DaskStyleParallelRunner::attach(
            script(dir.path(), TREE),
            client.clone(),
            ParallelOptions::with_patience(Duration::from_secs(20)),
        )
        .unwrap();
        runner.submit_trial(trial(0.5, 1)).unwrap();
        let pids = target_pids(dir.path());
        assert!(pids.iter().all(|&p| running(p)));
        worker.signal(libc::SIGKILL);
        assert!(worker.wait_exit(Duration::from_secs(10)).is_some());
        assert!(
            eventually(Duration::from_secs(10), || pids.iter().all(|&p| !running(p))),
            "supervisor killed: {supervisor}; still running: {:?}",
            pids.iter().filter(|&&p| running(p)).collect::<Vec<_>>()
        );
    }
}

/// A scheduler file whose scheduler is gone (nothing listens at its address) is refused by a
/// worker with a message that says the file is stale and what to do, after `--timeout`.
#[test]
fn a_worker_refuses_a_stale_scheduler_file_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sched.json");
    // A port that was free a moment ago: nothing listens there now.
    let address = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let stale = SchedulerFile {
        address: address.clone(),
        token: smac_runner::protocol::Token::random().to_hex(),
        protocol: smac_runner::protocol::PROTOCOL_VERSION,
        tls_certificate: None,
    };
    stale.write(&file).unwrap();
    let out = std::process::Command::new(common::procs::SMAC_WORKER)
        .args(["--timeout", "1", "--scheduler-file"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(smac_runner::worker::EXIT_NO_SCHEDULER), "{stderr}");
    for needed in ["is stale", &address, "smac scheduler --scheduler-file", "remove the file"] {
        assert!(stderr.contains(needed), "`{needed}` missing from: {stderr}");
    }
}

/// `--tls`: the scheduler file carries the scheduler's certificate; a worker and a client that
/// join through it run a trial over TLS, and a relay between them hears neither the protocol's
/// magic bytes nor the configuration; a client pinned to another certificate, or speaking
/// plain TCP, is refused.
#[test]
fn with_tls_the_traffic_is_encrypted_and_only_the_pinned_certificate_is_accepted() {
    let mut s = Scheduler::start(&["--tls"]);
    let file = SchedulerFile::read(&s.file).unwrap();
    let certificate = file.tls_certificate.clone().expect("the scheduler file holds the certificate");
    assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"), "{certificate}");

    // The worker joins through a relay that records what it hears.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let relayed_file = s.dir.path().join("relayed.json");
    SchedulerFile { address: listener.local_addr().unwrap().to_string(), ..file.clone() }
        .write(&relayed_file)
        .unwrap();
    let (relayed, heard) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
    relay(listener, file.address.clone(), relayed.clone(), heard.clone());
    let mut worker = std::process::Command::new(common::procs::SMAC_WORKER);
    worker.arg("--scheduler-file").arg(&relayed_file);
    let _worker = common::procs::Proc::spawn(worker, &s.dir.path().join("tls-worker.log"));

    let client = s.client();
    client.wait_for_workers(1, Duration::from_secs(20)).unwrap();
    let mut runner = DaskStyleParallelRunner::attach(
        common::procs::nap(),
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(20)),
    )
    .unwrap();
    runner.submit_trial(trial(0.25, 1)).unwrap();
    let (_, v) = collect(&mut runner, 1, Duration::from_secs(20)).pop().unwrap();
    assert_eq!(v.status, smac_core::StatusType::Success, "{v:?}");
    let heard = heard.lock().unwrap().clone();
    assert!(heard.len() > 200, "the relay carried the worker's traffic ({} bytes)", heard.len());
    for plain in [&b"SMACWRK1"[..], b"nap", b"0.25"] {
        assert!(
            !heard.windows(plain.len()).any(|w| w == plain),
            "{:?} crossed the wire in clear",
            String::from_utf8_lossy(plain)
        );
    }

    // Pinned to another certificate: refused before any byte of the protocol.
    let other = smac_runner::protocol::tls::TlsIdentity::generate().unwrap();
    let wrong_file = s.dir.path().join("wrong.json");
    SchedulerFile { tls_certificate: Some(other.certificate_pem().to_string()), ..file.clone() }
        .write(&wrong_file)
        .unwrap();
    let err =
        smac_runner::Client::from_scheduler_file_timeout(&wrong_file, Duration::from_secs(5)).unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    // Plain TCP to a TLS scheduler: refused.
    let token = file.checked_token().unwrap();
    assert!(smac_runner::Client::connect(&file.address, token).is_err());
    assert!(
        eventually(Duration::from_secs(10), || client.stats().handshakes_rejected >= 2),
        "{:?}",
        client.stats()
    );
    let _second = s.worker(&[]); // the scheduler still serves workers that join normally
    assert!(eventually(Duration::from_secs(20), || client.n_workers() == 2));
}
