//! The cluster scripts of `utils/` run for real on loopback: a local cluster, ssh (with a
//! stand-in `ssh` that runs the command here), mpirun ranks, a SLURM batch script (with a
//! stand-in `srun`) and a PBS script. Each starts `smac-scheduler` and workers; an optimizer
//! attaches with the scheduler file, every worker runs a trial, and stopping the launch leaves
//! no process behind.

mod common;

use common::procs::{nap, worker_of, Proc, SMAC_WORKER};
use common::*;
use smac_core::{Runner, StatusType};
use smac_runner::{Client, DaskStyleParallelRunner, ParallelOptions};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const UTILS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../utils");
const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support");
/// An optimizer stand-in that runs until the test creates `DONE`.
const UNTIL_DONE: &str = "while [ ! -e DONE ]; do sleep 0.05; done";

/// `bash utils/NAME args...` in `dir`, with the binaries of this build.
fn script(dir: &Path, name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(format!("{UTILS}/{name}")).args(args).current_dir(dir);
    cmd.env("SMAC_BIN_DIR", Path::new(SMAC_WORKER).parent().unwrap()).env("SMAC_WAIT", "20");
    cmd.env_remove("SMAC_WORKER_PROGRAM").env_remove("SMAC_SCHEDULER_FILE");
    cmd
}

fn start(dir: &Path, cmd: Command, log: &str) -> Proc {
    logs();
    Proc::spawn(cmd, &dir.join(log))
}

/// Attaches through `file`, waits for `n` workers and has each run a trial.
fn exercise(file: &Path, n: usize, runner: impl FnOnce(Client) -> DaskStyleParallelRunner) -> Client {
    let client = Client::from_scheduler_file_timeout(file, Duration::from_secs(20)).unwrap();
    client.wait_for_workers(n, Duration::from_secs(20)).unwrap();
    let mut r = runner(client.clone());
    assert_eq!(r.count_available_workers(), n);
    for k in 0..n as u64 {
        r.submit_trial(trial(1.0, k)).unwrap();
    }
    let results = collect(&mut r, n, Duration::from_secs(20));
    assert!(results.iter().all(|(_, v)| v.status == StatusType::Success), "{results:?}");
    client
}

fn nap_runner(client: Client) -> DaskStyleParallelRunner {
    DaskStyleParallelRunner::attach(nap(), client, ParallelOptions::with_patience(Duration::from_secs(10)))
        .unwrap()
}

/// Checks that every worker ran one trial, by the pids the trials report.
fn exercise_nap(file: &Path, n: usize) -> Client {
    let client = Client::from_scheduler_file_timeout(file, Duration::from_secs(20)).unwrap();
    client.wait_for_workers(n, Duration::from_secs(20)).unwrap();
    let mut r = nap_runner(client.clone());
    for k in 0..n as u64 {
        r.submit_trial(trial(1.0, k)).unwrap();
    }
    let pids: HashSet<u32> =
        collect(&mut r, n, Duration::from_secs(20)).iter().map(|(_, v)| worker_of(v)).collect();
    assert_eq!(pids.len(), n, "every worker ran a trial: {pids:?}");
    client
}

/// Live (not zombie) processes of process group `pgid`.
fn live_in_group(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the parenthesized command: state, ppid, pgrp, ...
        let rest: Vec<&str> =
            stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        if rest.len() > 2 && rest[0] != "Z" && rest[2] == pgid.to_string() {
            out.push(pid);
        }
    }
    out
}

/// The launch ends cleanly and leaves nothing running; the optimizer's client sees it go.
fn ends_cleanly(launch: &mut Proc, client: &Client) {
    let status = launch.wait_exit(Duration::from_secs(15)).expect("the launch ends");
    assert!(status.success(), "{status}");
    assert!(eventually(Duration::from_secs(5), || live_in_group(launch.pid()).is_empty()), "leftovers");
    assert!(eventually(Duration::from_secs(5), || client.is_closed()));
}

#[test]
fn local_cluster_script_runs_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sched.json");
    let cmd = script(dir.path(), "smac-local-cluster.sh", &["-n", "2", "-f", "sched.json"]);
    let mut launch = start(dir.path(), cmd, "launch.log");
    let client = exercise_nap(&file, 2);
    launch.signal(libc::SIGTERM);
    ends_cleanly(&mut launch, &client);
}

#[test]
fn local_cluster_script_with_the_users_own_worker_binary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sched.json");
    let args = ["-f", "sched.json", "-n", "2", "-r", "GPU=1", "--", "bash", "-c", UNTIL_DONE];
    let mut cmd = script(dir.path(), "smac-local-cluster.sh", &args);
    // Workers are the test binary in worker mode: SMAC_WORKER_SCHEDULER_FILE, _NWORKERS and
    // _RESOURCES make it join, start two processes and advertise a GPU each.
    cmd.env("SMAC_WORKER_PROGRAM", WORKER);
    let mut launch = start(dir.path(), cmd, "launch.log");
    let claims = smac_runner::ParallelOptions { resources: "GPU=1".parse().unwrap(), ..Default::default() };
    let client =
        exercise(&file, 2, |c| DaskStyleParallelRunner::attach(single(Mode::Quadratic), c, claims).unwrap());
    std::fs::write(dir.path().join("DONE"), "").unwrap();
    ends_cleanly(&mut launch, &client);
}

#[test]
fn ssh_cluster_script_starts_a_worker_per_host() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sched.json");
    let args =
        ["-H", "localhost localhost", "-S", "127.0.0.1", "-f", "sched.json", "--", "bash", "-c", UNTIL_DONE];
    let mut cmd = script(dir.path(), "smac-ssh-cluster.sh", &args);
    cmd.env("SMAC_SSH", format!("bash {SUPPORT}/fake-ssh"));
    let mut launch = start(dir.path(), cmd, "launch.log");
    let client = exercise_nap(&file, 2);
    std::fs::write(dir.path().join("DONE"), "").unwrap();
    ends_cleanly(&mut launch, &client);
}

#[test]
fn mpi_ranks_become_scheduler_and_workers_even_over_a_stale_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sched.json");
    // A scheduler file left by an earlier run: workers must not give up on it.
    let stale = format!(r#"{{"address": "127.0.0.1:1", "token": "{}", "protocol": 2}}"#, "00".repeat(32));
    std::fs::write(&file, stale).unwrap();
    let mut ranks: Vec<Proc> = (0..3)
        .rev()
        .map(|rank| {
            let mut cmd = script(dir.path(), "smac-mpi-cluster.sh", &["-f", "sched.json"]);
            if rank == 0 {
                cmd.args(["--", "bash", "-c", UNTIL_DONE]);
            }
            cmd.env("OMPI_COMM_WORLD_RANK", rank.to_string()).env("SMAC_SCHEDULER_HOST", "127.0.0.1");
            start(dir.path(), cmd, &format!("rank-{rank}.log"))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300)); // workers first read the stale file
    let client = exercise_nap(&file, 2);
    std::fs::write(dir.path().join("DONE"), "").unwrap();
    for rank in ranks.iter_mut() {
        ends_cleanly(rank, &client);
    }
}

#[test]
fn slurm_batch_script_starts_workers_with_srun() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = script(dir.path(), "smac-slurm.sbatch", &["bash", "-c", UNTIL_DONE]);
    // The stand-in srun, executable whatever the checkout did to file modes.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(format!("{SUPPORT}/fake-bin/srun"), bin.join("srun")).unwrap();
    std::fs::set_permissions(bin.join("srun"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path).env("SLURM_NTASKS", "2").env("SLURM_CPUS_PER_TASK", "1").env("SLURM_JOB_ID", "7");
    cmd.env("SLURM_SUBMIT_DIR", dir.path()).env("SMAC_UTILS", UTILS).env("SMAC_SCHEDULER_HOST", "127.0.0.1");
    let mut launch = start(dir.path(), cmd, "slurm-7.log");
    let client = exercise_nap(&dir.path().join("smac-scheduler-7.json"), 2);
    std::fs::write(dir.path().join("DONE"), "").unwrap();
    ends_cleanly(&mut launch, &client);
}

#[test]
fn pbs_script_starts_a_worker_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: PathBuf = dir.path().join("nodes");
    std::fs::write(&nodes, "localhost\nlocalhost\n127.0.0.1\n").unwrap(); // two nodes, three slots
    let mut cmd = script(dir.path(), "smac-pbs.sh", &[]);
    cmd.env("PBS_NODEFILE", &nodes).env("PBS_O_WORKDIR", dir.path()).env("PBS_JOBID", "9");
    cmd.env("SMAC_SSH", format!("bash {SUPPORT}/fake-ssh")).env("SMAC_WORKERS_PER_NODE", "1");
    cmd.env("SMAC_UTILS", UTILS).env("SMAC_SCHEDULER_HOST", "127.0.0.1").env("SMAC_OPTIMIZER", UNTIL_DONE);
    let mut launch = start(dir.path(), cmd, "pbs.log");
    let client = exercise_nap(&dir.path().join("smac-scheduler-9.json"), 2);
    std::fs::write(dir.path().join("DONE"), "").unwrap();
    ends_cleanly(&mut launch, &client);
}
