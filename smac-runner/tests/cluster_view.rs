//! The scheduler's cluster view (for dashboards) with real worker processes over loopback:
//! running trials with their configuration, finished ones, workers joining and leaving.

mod common;

use common::*;
use smac_core::Runner;
use smac_runner::scheduler::view::ClusterView;
use smac_runner::{Client, DaskStyleParallelRunner, LocalCluster, ParallelOptions};
use std::collections::BTreeSet;
use std::time::Duration;

fn view(client: &Client) -> Option<ClusterView> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(client.cluster_view())
}

#[test]
fn the_view_shows_running_trials_finished_ones_and_a_worker_that_left() {
    let cluster = processes(2).respawn(false).start().unwrap();
    let pids = cluster.worker_pids();
    let client = cluster.client();
    let v0 = view(&client).expect("a local scheduler answers");
    assert_eq!(v0.workers.len(), 2, "{v0:?}");
    for pid in &pids {
        assert!(v0.workers.iter().any(|w| w.name.ends_with(&format!(":{pid}"))), "{pid} in {v0:?}");
    }
    let joined = v0.events.iter().filter(|e| e.kind == "joined").count();
    assert_eq!(joined, 2, "{:?}", v0.events);
    assert!(v0.workers.iter().all(|w| w.running.is_none() && w.trials == 0));

    let options = ParallelOptions::with_patience(Duration::from_secs(5));
    let mut r =
        DaskStyleParallelRunner::attach(single(Mode::Sleep { ms: 400 }), client.clone(), options).unwrap();
    r.submit_trial(trial(0.25, 0)).unwrap();
    r.submit_trial(trial(0.75, 1)).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || view(&client)
            .is_some_and(|v| v.workers.iter().all(|w| w.running.is_some()))),
        "both workers show a running trial: {:?}",
        view(&client)
    );
    let v = view(&client).unwrap();
    let running: Vec<_> = v.workers.iter().filter_map(|w| w.running.as_ref()).collect();
    let xs: BTreeSet<String> = running.iter().map(|t| t.config["x"].to_string()).collect();
    assert_eq!(xs, ["0.25".to_string(), "0.75".to_string()].into(), "{running:?}");
    let seeds: BTreeSet<u64> = running.iter().filter_map(|t| t.seed).collect();
    assert_eq!(seeds, [0, 1].into());
    assert!(running.iter().all(|t| t.started_at <= v.taken_at && t.started_at >= v.started_at));

    let results = collect(&mut r, 2, Duration::from_secs(15));
    assert_eq!(results.len(), 2);
    let v = view(&client).unwrap();
    assert_eq!(v.finished.len(), 2, "{:?}", v.finished);
    assert!(
        v.finished.iter().all(|f| f.status == "SUCCESS" && f.ended_at >= f.started_at),
        "{:?}",
        v.finished
    );
    assert!(v.workers.iter().all(|w| w.running.is_none() && w.trials == 1), "{:?}", v.workers);
    // Each trial slept 400 ms after it was sent, so each worker was busy at least that long.
    assert!(v.workers.iter().all(|w| w.busy_seconds >= 0.4), "{:?}", v.workers);

    // SAFETY: kills a worker process we started (respawn is off).
    unsafe { libc::kill(pids[0] as i32, libc::SIGKILL) };
    let gone = format!(":{}", pids[0]);
    assert!(
        eventually(Duration::from_secs(10), || view(&client).is_some_and(|v| v.workers.len() == 1
            && v.events.iter().any(|e| e.kind == "left" && e.worker.ends_with(&gone)))),
        "the killed worker left: {:?}",
        view(&client)
    );
    r.close().unwrap();
}

#[test]
fn a_client_attached_from_elsewhere_has_no_view_and_says_so_with_none() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scheduler.json");
    let cluster =
        LocalCluster::builder().listen("127.0.0.1:0".parse().unwrap()).scheduler_file(&file).start().unwrap();
    assert!(view(&cluster.client()).is_some());
    let remote = Client::from_scheduler_file(&file).unwrap();
    assert!(remote.is_remote());
    assert!(view(&remote).is_none());
}
