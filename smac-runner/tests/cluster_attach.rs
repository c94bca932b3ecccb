//! An external cluster — a standalone `smac-scheduler` process and `smac-worker` processes
//! joining through its scheduler file — attached to by optimizers with
//! `Client::from_scheduler_file`: joins and leaves during a run, authentication, liveness.

mod common;

use common::procs::{nap, worker_of, Proc, Scheduler};
use common::*;
use smac_core::{ConfigSpace, Runner, Scenario, SmboBuilder, StatusType};
use smac_runner::protocol::{Token, CLIENT_HANDSHAKE_MAGIC, PROTOCOL_VERSION};
use smac_runner::worker::SchedulerFile;
use smac_runner::{Client, ConnectError, DaskStyleParallelRunner, ParallelOptions};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn an_external_cluster_follows_joins_and_leaves_and_outlives_its_optimizers() {
    let mut s = Scheduler::start(&[]);
    let w1 = s.worker(&[]);
    let client = s.client();
    assert!(client.is_remote());
    client.wait_for_workers(1, Duration::from_secs(20)).unwrap();
    let mut r = DaskStyleParallelRunner::attach(
        nap(),
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(10)),
    )
    .unwrap();
    assert_eq!(r.count_available_workers(), 1);

    // An optimizer loop (as the SMBO loop): submit while workers are free, then wait.
    let n = 24u64;
    let (mut submitted, mut results) = (0u64, Vec::new());
    let (mut joined, mut left): (Vec<Proc>, Option<u32>) = (Vec::new(), None);
    let (mut seen, mut max_in_flight) = (Vec::new(), 0usize);
    let deadline = Instant::now() + Duration::from_secs(40);
    while results.len() < n as usize {
        assert!(Instant::now() < deadline, "only {} results: {results:?}", results.len());
        while submitted < n && r.count_available_workers() > 0 {
            r.submit_trial(trial(0.5, submitted)).unwrap();
            submitted += 1;
        }
        // Results that arrived while submitting are not in flight any more.
        results.extend(r.iter_results());
        max_in_flight = max_in_flight.max(submitted as usize - results.len());
        r.wait(Some(Duration::from_millis(50))).unwrap();
        results.extend(r.iter_results());
        let workers = r.n_workers();
        if seen.last() != Some(&workers) {
            seen.push(workers);
        }
        if results.len() >= 3 && joined.is_empty() {
            joined.push(s.worker(&[]));
            joined.push(s.worker(&[]));
        }
        if workers == 3 && left.is_none() && results.len() >= 10 {
            // One of the new workers leaves mid-run (killed, possibly mid-trial).
            joined[0].signal(libc::SIGKILL);
            left = Some(joined[0].pid());
        }
    }
    // count_available_workers followed the cluster: 1 worker, then 3 (the two may join one
    // after the other), then 2 once one left.
    let three = seen.iter().position(|&w| w == 3).unwrap_or_else(|| panic!("never saw 3 workers: {seen:?}"));
    assert!(seen[0] == 1 && seen[three..].last() == Some(&2) && seen.iter().all(|&w| w <= 3), "{seen:?}");
    assert_eq!(max_in_flight, 3, "the optimizer used the workers that joined");
    let seeds: HashSet<u64> = results.iter().map(|(t, _)| t.seed.unwrap()).collect();
    assert_eq!(seeds, (0..n).collect(), "every trial is reported exactly once");
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    let pids: HashSet<u32> = results.iter().map(|(_, v)| worker_of(v)).collect();
    assert!(pids.contains(&w1.pid()) && pids.contains(&joined[1].pid()) && pids.len() == 3, "{pids:?}");
    assert!(client.stats().workers_lost >= 1);
    drop(r);

    // The optimizer is gone; the cluster is not.
    assert!(s.proc.running() && eventually(Duration::from_secs(5), || client.n_workers() == 2));
    drop(client);

    // A second optimizer, in the real SMBO loop, shares the same cluster afterwards.
    let second = s.client();
    assert_eq!(second.n_workers(), 2);
    let runner = DaskStyleParallelRunner::attach(
        nap(),
        second.clone(),
        ParallelOptions::with_patience(Duration::from_secs(10)),
    )
    .unwrap();
    let cs: Arc<ConfigSpace> = space();
    let scenario =
        Scenario::builder(cs).n_trials(6).n_workers(2).seed(3).deterministic(true).build().unwrap();
    let mut smbo = SmboBuilder::random(scenario).persist(false).build(runner).unwrap();
    smbo.optimize().unwrap();
    assert_eq!(smbo.runhistory().len(), 6);
    assert!(smbo.runhistory().iter().all(|(_, v)| v.status == StatusType::Success));
    drop(smbo);
    assert!(s.proc.running(), "optimizers never shut the cluster down");
    assert_eq!(second.n_workers(), 2);

    // SIGTERM stops the scheduler cleanly; its workers leave with it; its file goes too, so that
    // no later worker or optimizer trusts it.
    s.proc.signal(libc::SIGTERM);
    assert!(s.proc.wait_exit(Duration::from_secs(10)).is_some_and(|st| st.success()));
    let mut w1 = w1;
    assert!(w1.wait_exit(Duration::from_secs(10)).is_some_and(|st| st.success()), "workers exit cleanly");
    assert!(eventually(Duration::from_secs(5), || second.is_closed()));
    assert!(!s.file.exists(), "the scheduler file is removed at a clean shutdown");
}

#[test]
fn a_wrong_or_missing_token_is_refused_and_logged() {
    let s = Scheduler::start(&[]);
    assert_eq!(std::fs::metadata(&s.file).unwrap().permissions().mode() & 0o777, 0o600);
    let file = SchedulerFile::read(&s.file).unwrap();
    assert_eq!(file.protocol, PROTOCOL_VERSION);
    assert!(file.address.starts_with("127.0.0.1:"), "loopback unless asked: {}", file.address);
    assert!(Token::from_hex(&file.token).is_some());

    let err = Client::connect(&file.address, Token::random()).unwrap_err();
    assert!(matches!(err, ConnectError::Refused { .. }), "{err}");
    {
        // A client hello without a nonce.
        let mut raw = std::net::TcpStream::connect(&file.address).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut frame = vec![0, 0, 0, 9, PROTOCOL_VERSION];
        frame.extend_from_slice(CLIENT_HANDSHAKE_MAGIC);
        raw.write_all(&frame).unwrap();
        assert_eq!(raw.read(&mut [0u8; 64]).unwrap_or(0), 0, "closed without an answer");
    }
    let refused = Command::new(common::procs::SMAC_WORKER)
        .args(["--scheduler", &file.address])
        .env("SMAC_WORKER_TOKEN", "ab".repeat(32))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("wrong token"), "{refused:?}");

    let good = s.client();
    assert!(
        eventually(Duration::from_secs(5), || good.stats().handshakes_rejected == 3),
        "{:?}",
        good.stats()
    );
    let log = s.log();
    // The client and the worker with another token found the scheduler's proof wrong and left.
    assert_eq!(log.matches("before proving the token").count(), 2, "{log}");
    assert_eq!(log.matches("handshake rejected: missing nonce").count(), 1, "{log}");
    assert_eq!(good.n_workers(), 0, "nothing joined");
}

#[test]
fn a_frozen_worker_is_declared_dead_its_trial_rerun_elsewhere_and_it_rejoins_as_new() {
    let mut s = Scheduler::start(&["--heartbeat-timeout", "1"]);
    let (frozen, other) = (s.worker(&[]), s.worker(&[]));
    let client = s.client();
    client.wait_for_workers(2, Duration::from_secs(20)).unwrap();
    let mut r = DaskStyleParallelRunner::attach(
        nap(),
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(10)),
    )
    .unwrap();
    r.submit_trial(trial(1.0, 1)).unwrap();
    r.submit_trial(trial(1.0, 2)).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    frozen.signal(libc::SIGSTOP); // both workers are busy: the frozen one holds a trial
    let started = Instant::now();
    let results = collect(&mut r, 2, Duration::from_secs(15));
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    assert!(results.iter().all(|(_, v)| worker_of(v) == other.pid()), "re-run on the live worker");
    let retried: Vec<_> = results.iter().filter(|(_, v)| v.additional_info.contains_key("retries")).collect();
    assert_eq!(retried.len(), 1, "{results:?}");
    assert!(retried[0].1.additional_info["retry_reason"].as_str().unwrap().contains("no heartbeat"));
    assert!(started.elapsed() < Duration::from_secs(5), "declared dead after the 1 s timeout");
    assert!(
        eventually(Duration::from_secs(2), || client.stats().workers_lost == 1 && client.n_workers() == 1)
    );

    // Thawed, it finds its connection closed and joins again as a new worker.
    frozen.signal(libc::SIGCONT);
    assert!(
        eventually(Duration::from_secs(10), || client.n_workers() == 2 && client.stats().workers_joined == 3)
    );
    for k in 0..4 {
        r.submit_trial(trial(1.0, 10 + k)).unwrap();
    }
    let pids: HashSet<u32> =
        collect(&mut r, 4, Duration::from_secs(15)).iter().map(|(_, v)| worker_of(v)).collect();
    assert!(pids.contains(&frozen.pid()), "the rejoined worker serves trials again: {pids:?}");
}
