//! Resource claims on an external cluster, and DEHB's `single_node_with_gpus` on local workers.

mod common;

use common::procs::{nap, worker_of, Scheduler};
use common::*;
use smac_core::{Runner, RunnerError, StatusType};
use smac_runner::{DaskStyleParallelRunner, ParallelOptions, Resources};
use std::collections::HashSet;
use std::time::Duration;

fn claiming(spec: &str, client: &smac_runner::Client) -> DaskStyleParallelRunner {
    let options = ParallelOptions {
        patience: Duration::from_millis(300),
        resources: spec.parse().unwrap(),
        ..Default::default()
    };
    DaskStyleParallelRunner::attach(nap(), client.clone(), options).unwrap()
}

#[test]
fn trials_only_run_on_workers_whose_resources_cover_their_claims() {
    let mut s = Scheduler::start(&[]);
    let big = s.worker(&["--resources", "GPU=1,MEMORY=10e9"]);
    let plain = s.worker(&[]);
    // Two worker processes under one supervisor, each with one GPU (resources are per process).
    let _pair = s.worker(&["--nworkers", "2", "--resources", "GPU=1"]);
    let client = s.client();
    client.wait_for_workers(4, Duration::from_secs(20)).unwrap();

    let mut gpu = claiming("GPU=1", &client);
    assert_eq!(gpu.count_available_workers(), 3);
    for k in 0..9 {
        gpu.submit_trial(trial(0.0, k)).unwrap();
    }
    let results = collect(&mut gpu, 9, Duration::from_secs(20));
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    let pids: HashSet<u32> = results.iter().map(|(_, v)| worker_of(v)).collect();
    assert!(!pids.contains(&plain.pid()), "never on the worker without a GPU: {pids:?}");
    assert_eq!(pids.len(), 3, "on all three GPU workers: {pids:?}");

    let mut memory = claiming("MEMORY=5e9", &client);
    assert_eq!(memory.count_available_workers(), 1);
    memory.submit_trial(trial(0.0, 1)).unwrap();
    let (_, v) = collect(&mut memory, 1, Duration::from_secs(10)).pop().unwrap();
    assert_eq!(worker_of(&v), big.pid());

    let mut two = claiming("GPU=2", &client);
    assert_eq!(two.count_available_workers(), 0, "no worker has two GPUs");
    let err = two.submit_trial(trial(0.0, 1)).unwrap_err();
    assert!(matches!(err, RunnerError::NoWorkerAvailable { .. }), "{err}");
    assert!(err.to_string().contains("GPU=2") && err.to_string().contains("resources"), "{err}");

    assert_eq!(claiming("", &client).count_available_workers(), 4, "claims nothing: every worker");
}

#[test]
fn single_node_with_gpus_spreads_trials_over_the_devices_by_least_load() {
    let cluster = processes(4).start().unwrap();
    let gpus = |devices: &[&str]| ParallelOptions {
        single_node_with_gpus: true,
        gpu_devices: Some(devices.iter().map(|d| d.to_string()).collect()),
        ..Default::default()
    };
    let env = Mode::Env { var: "CUDA_VISIBLE_DEVICES".into(), ms: 400 };
    let mut r = DaskStyleParallelRunner::attach(single(env), cluster.client(), gpus(&["0", "1"])).unwrap();
    let seen = |r: &mut DaskStyleParallelRunner, first: u64, n: u64| {
        for k in first..first + n {
            r.submit_trial(trial(0.5, k)).unwrap();
        }
        let mut res = collect(r, n as usize, Duration::from_secs(15));
        res.sort_by_key(|(t, _)| t.seed);
        res.iter().map(|(_, v)| v.additional_info["env"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    // Four concurrent trials on two devices: two each, the least-loaded device listed first.
    assert_eq!(seen(&mut r, 0, 4), ["0,1", "1,0", "0,1", "1,0"]);
    // All finished: the load is back to zero and the spreading starts over.
    assert_eq!(seen(&mut r, 10, 3), ["0,1", "1,0", "0,1"]);
    drop(r);

    // Command targets see the variable in their own process.
    let mut cmd = DaskStyleParallelRunner::attach(nap(), cluster.client(), gpus(&["a", "b", "c"])).unwrap();
    for k in 0..3 {
        cmd.submit_trial(trial(1.0, k)).unwrap();
    }
    let mut res = collect(&mut cmd, 3, Duration::from_secs(15));
    res.sort_by_key(|(t, _)| t.seed);
    let got: Vec<&str> = res.iter().map(|(_, v)| v.additional_info["gpu"].as_str().unwrap()).collect();
    assert_eq!(got, ["a,b,c", "b,a,c", "c,a,b"]);

    let none =
        ParallelOptions { single_node_with_gpus: true, gpu_devices: Some(vec![]), ..Default::default() };
    let err = DaskStyleParallelRunner::attach(nap(), cluster.client(), none).unwrap_err();
    assert!(err.to_string().contains("single_node_with_gpus"), "{err}");
    let _ = Resources::new(); // the type is public for users building claims
}
