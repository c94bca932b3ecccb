//! A standalone `smac-scheduler` and a worker at separate network addresses: the worker runs in
//! its own Linux network namespace, joined to the root namespace by a veth pair, and reaches
//! the scheduler only through the address written in the scheduler file.
//!
//! Needs root and `ip netns`; without them the test prints a loud skip message and passes.

mod common;

use common::procs::{Proc, Scheduler};
use common::*;
use smac_core::{Runner, StatusType};
use smac_runner::worker::SchedulerFile;
use smac_runner::{DaskStyleParallelRunner, ParallelOptions};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `ip args...`, with its output captured.
fn ip(args: &[&str]) -> std::io::Result<Output> {
    Command::new("ip").args(args).stdin(Stdio::null()).output()
}

/// Runs `ip args...` and fails the test unless it succeeds.
fn ip_ok(args: &[&str]) {
    let out = ip(args).unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn skip(reason: &str) {
    eprintln!("*** SKIPPED netns test: {reason} ***");
}

/// A network namespace and the host side of its veth pair, deleted on drop (also on panic).
struct Netns {
    name: String,
    veth: String,
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace destroys its end of the pair, and with it the host end; the
        // explicit delete covers a namespace still held by a process that outlived its guard.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.veth]);
    }
}

/// A /24 of 10.213.0.0/16 that no address or route of the root namespace uses yet.
fn free_subnet() -> Option<u32> {
    let text = |args: &[&str]| ip(args).map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let (addrs, routes) = (text(&["-o", "-4", "addr", "show"]).ok()?, text(&["-4", "route", "show"]).ok()?);
    let pid = std::process::id();
    (0..200).map(|k| (pid + k) % 200 + 1).find(|x| {
        let prefix = format!("10.213.{x}.");
        !addrs.contains(&prefix) && !routes.contains(&prefix)
    })
}

/// Whether the root namespace holds an established TCP connection from `local` (the
/// scheduler's listening address) to a peer at `remote_ip` (as `/proc/net/tcp` shows it).
fn established(local: (Ipv4Addr, u16), remote_ip: Ipv4Addr) -> bool {
    let hex = |a: Ipv4Addr| format!("{:08X}", u32::from_ne_bytes(a.octets()));
    let local = format!("{}:{:04X}", hex(local.0), local.1);
    let remote = format!("{}:", hex(remote_ip));
    let table = std::fs::read_to_string("/proc/self/net/tcp").unwrap_or_default();
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 3 && f[1] == local && f[2].starts_with(&remote) && f[3] == "01"
    })
}

#[test]
fn a_worker_in_another_network_namespace_joins_through_the_scheduler_file() {
    let started = Instant::now();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip("not running as root");
    }
    match ip(&["-V"]) {
        Ok(o) if o.status.success() => {}
        _ => return skip("the `ip` command (iproute2) is not available"),
    }
    let pid = std::process::id();
    let name = format!("smac-test-{pid}");
    match ip(&["netns", "add", &name]) {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return skip(&format!("`ip netns add` failed: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
        Err(e) => return skip(&format!("`ip netns add` failed: {e}")),
    }
    // Interface names have at most 15 characters.
    let (veth, peer) = (format!("smh{pid}"), format!("smn{pid}"));
    // Declared first, so dropped last: after the processes inside it are killed.
    let ns = Netns { name, veth };
    let Some(x) = free_subnet() else {
        return skip("no free /24 in 10.213.0.0/16");
    };
    let (host, inner) = (Ipv4Addr::new(10, 213, x as u8, 1), Ipv4Addr::new(10, 213, x as u8, 2));
    match ip(&["link", "add", &ns.veth, "type", "veth", "peer", "name", &peer]) {
        Ok(o) if o.status.success() => {}
        Ok(o) => return skip(&format!("no veth pair: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => return skip(&format!("no veth pair: {e}")),
    }
    ip_ok(&["link", "set", &peer, "netns", &ns.name]);
    ip_ok(&["addr", "add", &format!("{host}/24"), "dev", &ns.veth]);
    ip_ok(&["link", "set", &ns.veth, "up"]);
    let in_ns = |args: &[&str]| ip_ok(&[&["-n", ns.name.as_str()][..], args].concat());
    in_ns(&["addr", "add", &format!("{inner}/24"), "dev", &peer]);
    in_ns(&["link", "set", &peer, "up"]);
    in_ns(&["link", "set", "lo", "up"]);

    // The scheduler, in the root namespace, listens on the host side of the pair only.
    let host_s = host.to_string();
    let s = Scheduler::start(&["--host", &host_s]);
    let file = SchedulerFile::read(&s.file).unwrap();
    let port: u16 = match file.address.strip_prefix(&format!("{host}:")) {
        Some(p) => p.parse().unwrap(),
        None => panic!("the file holds the bound address: {}", file.address),
    };

    // The worker (the test binary in worker mode, serving Rust targets) inside the namespace,
    // where only the scheduler file tells it where to go.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, WORKER]).env("SMAC_WORKER_SCHEDULER_FILE", &s.file);
    let mut worker: Proc = Proc::spawn(cmd, &s.dir.path().join("worker.log"));
    let worker_log = || std::fs::read_to_string(s.dir.path().join("worker.log")).unwrap_or_default();

    let client = s.client();
    if let Err(e) = client.wait_for_workers(1, Duration::from_secs(10)) {
        panic!("the worker did not join: {e}\nworker log:\n{}\nscheduler log:\n{}", worker_log(), s.log());
    }
    assert!(worker.running(), "{}", worker_log());

    let single = single(Mode::Sleep { ms: 50 });
    let mut r = DaskStyleParallelRunner::attach(
        single,
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(10)),
    )
    .unwrap();
    let n = 6;
    for seed in 0..n {
        r.submit_trial(trial(seed as f64 / 10.0, seed)).unwrap();
    }
    let results = collect(&mut r, n as usize, Duration::from_secs(10));
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    let seeds: HashSet<u64> = results.iter().map(|(t, _)| t.seed.unwrap()).collect();
    assert_eq!(seeds, (0..n).collect(), "every trial is reported exactly once");

    // Every trial ran in a process of the namespace: the worker itself (`ip netns exec`
    // replaces itself with the worker program).
    let pids: HashSet<u32> =
        results.iter().map(|(_, v)| v.additional_info["pid"].as_u64().expect("a pid") as u32).collect();
    let out = ip(&["netns", "pids", &ns.name]).unwrap();
    let in_namespace: HashSet<u32> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect();
    assert!(in_namespace.contains(&worker.pid()), "worker {} not in {in_namespace:?}", worker.pid());
    assert!(pids.is_subset(&in_namespace), "trials ran in {pids:?}, namespace holds {in_namespace:?}");

    // The stats API does not name a worker's peer address, but the kernel does: the scheduler's
    // listening socket holds a connection from the namespace address.
    assert!(
        eventually(Duration::from_secs(2), || established((host, port), inner)),
        "no connection from {inner} to {host}:{port}:\n{}",
        std::fs::read_to_string("/proc/self/net/tcp").unwrap_or_default()
    );
    eprintln!(
        "netns test: {n} trials on a worker at {inner} (namespace {}) via scheduler {host}:{port} in {:?}",
        ns.name,
        started.elapsed()
    );

    drop(r);
    drop(client);
    drop(worker);
    drop(s);
    drop(ns);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}
