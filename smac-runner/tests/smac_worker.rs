//! The generic `smac-worker` binary joining a cluster through a scheduler file.

mod common;

use common::*;
use smac_core::{Runner, RunnerError, StatusType};
use smac_runner::{CommandTarget, DaskStyleParallelRunner, LocalCluster, ParallelOptions};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

#[test]
fn smac_worker_joins_by_scheduler_file_and_serves_command_targets_only() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.json");
    let cluster = LocalCluster::builder().scheduler_file(&file).start().unwrap();
    let client = cluster.client();
    assert_eq!(client.n_workers(), 0);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "the token is private");

    // A worker with the wrong token is refused and says why.
    let refused = Command::new(env!("CARGO_BIN_EXE_smac-worker"))
        .args(["--scheduler", &client.address().unwrap().to_string()])
        .env("SMAC_WORKER_TOKEN", "ab".repeat(32))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("wrong token"), "{refused:?}");
    // The scheduler counts the rejection after sending it, so the worker may exit first.
    let counted = eventually(Duration::from_secs(5), || client.stats().handshakes_rejected == 1);
    assert!(counted, "rejections counted: {}", client.stats().handshakes_rejected);

    let mut worker =
        Command::new(env!("CARGO_BIN_EXE_smac-worker")).arg("--scheduler-file").arg(&file).spawn().unwrap();
    client.wait_for_workers(1, Duration::from_secs(10)).unwrap();

    let cmd = CommandTarget::new(WORKER).args(["cmd", "ok"]);
    let mut r = DaskStyleParallelRunner::attach(
        cmd,
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    r.submit_trial(trial(0.5, 1)).unwrap();
    let (_, v) = collect(&mut r, 1, Duration::from_secs(10)).pop().unwrap();
    assert_eq!(v.status, StatusType::Success, "{v:?}");
    assert!((v.cost[0] - 0.04).abs() < 1e-12);
    assert!(v.additional_info.contains_key("pid"), "key=value pairs on the cost line are kept");

    // It cannot run Rust targets: a runner of one finds no worker, and says so.
    let options = ParallelOptions { patience: Duration::from_millis(300), ..Default::default() };
    let mut rust = DaskStyleParallelRunner::attach(single(Mode::Quadratic), client.clone(), options).unwrap();
    assert_eq!(rust.count_available_workers(), 0);
    let err = rust.submit_trial(trial(0.5, 2)).unwrap_err();
    assert!(matches!(err, RunnerError::NoWorkerAvailable { .. }));
    assert!(err.to_string().contains("smac-test.target"), "{err}");

    drop((r, rust, cluster));
    let exited = eventually(Duration::from_secs(5), || worker.try_wait().unwrap().is_some());
    if !exited {
        let _ = worker.kill();
    }
    assert!(exited, "the worker leaves when the scheduler shuts down");
}
