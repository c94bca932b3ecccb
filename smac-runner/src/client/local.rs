//! [`LocalCluster`]: a scheduler plus workers on this machine, started for a run and stopped
//! at its end.
//!
//! Worker *processes* are the same executable as the optimizer (SPMD: its `main` starts with
//! [`crate::worker::serve_if_worker`]) or another worker program; they give isolation and
//! per-trial limits. In-process worker *threads* are for cheap Rust targets, where process
//! round trips would cost more than the trial. Both attach to the same scheduler, so runners
//! use them through one API. A cluster can also listen on a public address and write a
//! scheduler file so that workers and clients on other machines join it; with no local
//! workers at all that is a standalone scheduler (what `smac-scheduler` runs).

use crate::client::{Client, SchedulerThread};
use crate::resources::Resources;
use crate::scheduler::{Hello, Link, Msg, Outgoing, SchedulerConfig};
use crate::worker::scatter::{install_thread_store, with_runner, ScatterStore};
use crate::worker::{
    is_worker_process, ENV_ADDRESS, ENV_NWORKERS, ENV_RESOURCES, ENV_SCHEDULER_FILE, ENV_TOKEN,
};
use smac_core::{evaluate_trial, RunnerError, Scenario, StatusType, TrialValue};
use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Settings of a [`LocalCluster`]; start it with [`LocalClusterBuilder::start`].
#[derive(Clone, Debug)]
pub struct LocalClusterBuilder {
    processes: usize,
    threads: usize,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    gpus: Option<Vec<String>>,
    listen: SocketAddr,
    listen_explicit: bool,
    contact: Option<String>,
    scheduler_file: Option<PathBuf>,
    resources: Resources,
    scheduler: SchedulerConfig,
    startup_timeout: Duration,
    respawn: bool,
}

impl LocalClusterBuilder {
    /// Number of worker processes.
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = n;
        self
    }
    /// Number of in-process worker threads.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }
    /// The worker executable (default: this executable, `std::env::current_exe()`).
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }
    /// Extra arguments for the worker executable.
    pub fn args<S: Into<OsString>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
    /// An extra environment variable for worker processes.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }
    /// Gives worker `k` `CUDA_VISIBLE_DEVICES = gpus[k % gpus.len()]`.
    pub fn gpus<S: Into<String>>(mut self, gpus: impl IntoIterator<Item = S>) -> Self {
        self.gpus = Some(gpus.into_iter().map(Into::into).collect());
        self
    }
    /// Address to listen on (default `127.0.0.1:0`, loopback only); use a routable address
    /// with [`LocalClusterBuilder::scheduler_file`] to let remote workers join.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self.listen_explicit = true;
        self
    }
    /// Writes the scheduler file (address + token) here once listening.
    pub fn scheduler_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.scheduler_file = Some(path.into());
        self
    }
    /// The host name written to the scheduler file (default: the bound address, or this
    /// machine's host name when bound to all interfaces).
    pub fn contact_address(mut self, host: impl Into<String>) -> Self {
        self.contact = Some(host.into());
        self
    }
    /// Resources every local worker (process or thread) advertises, e.g. `GPU=1`.
    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = resources;
        self
    }
    /// All scheduler settings at once (heartbeats, frame size, retries, handshake timeout).
    pub fn scheduler_config(mut self, cfg: SchedulerConfig) -> Self {
        self.scheduler = cfg;
        self
    }
    /// Heartbeat interval and the silence after which a worker process counts as dead.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.scheduler.heartbeat_interval = interval;
        self.scheduler.heartbeat_timeout = timeout;
        self
    }
    /// Largest frame on the wire (bounds scattered blobs and runner payloads).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.scheduler.max_frame = bytes;
        self
    }
    /// How long `start` waits for all local workers to connect.
    pub fn startup_timeout(mut self, t: Duration) -> Self {
        self.startup_timeout = t;
        self
    }
    /// Whether worker processes that exit are replaced (default true, at most 3 per worker).
    pub fn respawn(mut self, on: bool) -> Self {
        self.respawn = on;
        self
    }

    /// Starts the scheduler and the workers, and waits until the local workers are connected.
    pub fn start(self) -> Result<LocalCluster, RunnerError> {
        if self.processes > 0 && is_worker_process() {
            return Err(RunnerError::Other(format!(
                "this process was started as an smac worker ({ENV_ADDRESS} is set) but tried to start a \
                 cluster itself: call smac_runner::worker::serve_if_worker::<YourTarget>() first thing in main()"
            )));
        }
        let listen = (self.processes > 0 || self.scheduler_file.is_some() || self.listen_explicit)
            .then_some(self.listen);
        let scheduler = SchedulerThread::start(self.scheduler.clone(), listen, self.contact.clone())?;
        let client = scheduler.client().clone();
        if let Some(path) = &self.scheduler_file {
            client.write_scheduler_file(path)?;
        }
        let program = match &self.program {
            Some(p) => p.clone(),
            None => std::env::current_exe()?,
        };
        let procs = Arc::new(Processes {
            program,
            args: self.args.clone(),
            envs: self.envs.clone(),
            gpus: self.gpus.clone(),
            resources: self.resources.clone(),
            client: client.clone(),
            children: Mutex::new(HashMap::new()),
            next_index: Mutex::new(0),
            stopping: AtomicBool::new(false),
        });
        let mut cluster = LocalCluster { scheduler, client, procs, monitor: None, threads: Vec::new() };
        for _ in 0..self.processes {
            cluster.procs.spawn()?;
        }
        for k in 0..self.threads {
            cluster.threads.push(spawn_thread_worker(cluster.client(), k, self.resources.clone())?);
        }
        if self.processes > 0 {
            if let Err(e) =
                cluster.client.wait_for_workers(self.processes + self.threads, self.startup_timeout)
            {
                let exits = cluster.procs.reap();
                return Err(RunnerError::Other(format!(
                    "{e}; exited workers: {exits:?}. Does the worker program call \
                     smac_runner::worker::serve_if_worker first thing in main()?"
                )));
            }
            if self.respawn {
                cluster.monitor = Some(spawn_monitor(cluster.procs.clone(), 3 * self.processes)?);
            }
        }
        Ok(cluster)
    }
}

/// A scheduler with local worker processes and/or threads; dropping it stops them all.
pub struct LocalCluster {
    scheduler: SchedulerThread,
    client: Client,
    procs: Arc<Processes>,
    monitor: Option<JoinHandle<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCluster")
            .field("client", &self.client)
            .field("pids", &self.worker_pids())
            .finish()
    }
}

impl LocalCluster {
    /// A builder with no workers, listening on loopback.
    pub fn builder() -> LocalClusterBuilder {
        LocalClusterBuilder {
            processes: 0,
            threads: 0,
            program: None,
            args: Vec::new(),
            envs: Vec::new(),
            gpus: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            listen_explicit: false,
            contact: None,
            scheduler_file: None,
            resources: Resources::new(),
            scheduler: SchedulerConfig::default(),
            startup_timeout: Duration::from_secs(60),
            respawn: true,
        }
    }

    /// `n` worker processes running this executable.
    pub fn processes(n: usize) -> Result<LocalCluster, RunnerError> {
        Self::builder().processes(n).start()
    }

    /// `n` in-process worker threads (for cheap Rust targets).
    pub fn threads(n: usize) -> Result<LocalCluster, RunnerError> {
        Self::builder().threads(n).start()
    }

    /// `scenario.n_workers` worker processes running this executable.
    pub fn from_scenario(scenario: &Scenario) -> Result<LocalCluster, RunnerError> {
        Self::processes(scenario.n_workers)
    }

    /// A handle for runners; using it does not transfer ownership of the cluster.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Process ids of the live worker processes.
    pub fn worker_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.procs.lock().keys().copied().collect();
        pids.sort_unstable();
        pids
    }

    /// Starts one more worker process (it receives all scattered data when it joins).
    pub fn spawn_worker(&self) -> Result<u32, RunnerError> {
        self.procs.spawn()
    }

    /// Stops the workers and the scheduler; called on drop.
    pub fn close(&mut self) {
        self.procs.stopping.store(true, Ordering::Release);
        if let Some(m) = self.monitor.take() {
            let _ = m.join();
        }
        self.scheduler.stop();
        // Workers exit on the shutdown message; kill the ones that do not (e.g. stuck in a
        // target) so no process outlives the cluster.
        let deadline = Instant::now() + Duration::from_millis(500);
        while !self.procs.lock().is_empty() && Instant::now() < deadline {
            self.procs.reap();
            std::thread::sleep(Duration::from_millis(5));
        }
        for (pid, mut child) in self.procs.lock().drain() {
            tracing::debug!(pid, "killing a worker that did not exit");
            let _ = child.kill();
            let _ = child.wait();
        }
        // Threads stuck in a target cannot be joined; the others exit on their closed channel.
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.close();
    }
}

/// The worker processes of a cluster.
struct Processes {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    gpus: Option<Vec<String>>,
    resources: Resources,
    client: Client,
    children: Mutex<HashMap<u32, Child>>,
    next_index: Mutex<usize>,
    stopping: AtomicBool,
}

impl Processes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Child>> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn spawn(&self) -> Result<u32, RunnerError> {
        let address = self.client.address().ok_or_else(|| {
            RunnerError::Other("this cluster does not listen for worker processes (threads only)".into())
        })?;
        let index = {
            let mut n = self.next_index.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n - 1
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env(ENV_ADDRESS, address.to_string())
            .env(ENV_TOKEN, self.client.token_hex())
            .env("SMAC_WORKER_INDEX", index.to_string())
            // A scheduler file or worker count in our own environment is not for local workers.
            .env_remove(ENV_SCHEDULER_FILE)
            .env_remove(ENV_NWORKERS)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if !self.resources.is_empty() {
            cmd.env(ENV_RESOURCES, self.resources.to_string());
        }
        if let Some(gpus) = self.gpus.as_ref().filter(|g| !g.is_empty()) {
            cmd.env("CUDA_VISIBLE_DEVICES", &gpus[index % gpus.len()]);
        }
        let child = cmd.spawn().map_err(|e| {
            RunnerError::Other(format!("cannot start worker program {}: {e}", self.program.display()))
        })?;
        let pid = child.id();
        tracing::debug!(pid, index, "started a worker process");
        self.lock().insert(pid, child);
        Ok(pid)
    }

    /// Collects exited workers; returns `(pid, status)` of each.
    fn reap(&self) -> Vec<(u32, String)> {
        let mut exited = Vec::new();
        self.lock().retain(|pid, child| match child.try_wait() {
            Ok(Some(status)) => {
                exited.push((*pid, status.to_string()));
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
        exited
    }
}

/// Replaces worker processes that exit (killed, crashed, or ended by a trial limit), up to
/// `budget` replacements so that a worker that cannot start does not loop forever.
fn spawn_monitor(procs: Arc<Processes>, mut budget: usize) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("smac-cluster-monitor".into()).spawn(move || {
        while !procs.stopping.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(50));
            for (pid, status) in procs.reap() {
                if procs.stopping.load(Ordering::Acquire) {
                    return;
                }
                if budget == 0 {
                    tracing::error!(pid, %status, "worker process exited; no restarts left");
                    continue;
                }
                budget -= 1;
                match procs.spawn() {
                    Ok(new) => {
                        tracing::warn!(pid, %status, new, "worker process exited; started a replacement")
                    }
                    Err(e) => tracing::error!(pid, %status, "worker process exited; restart failed: {e}"),
                }
            }
        }
    })
}

/// Starts in-process worker `k` and registers it with the scheduler.
fn spawn_thread_worker(
    client: Client,
    k: usize,
    resources: Resources,
) -> Result<JoinHandle<()>, RunnerError> {
    let (tx, rx) = std::sync::mpsc::channel::<Outgoing>();
    let worker_id = client.next_worker_id();
    let events = client.sender();
    let hello = Hello { tags: Vec::new(), pid: std::process::id(), host: format!("thread-{k}"), resources };
    let handle = std::thread::Builder::new().name(format!("smac-worker-{k}")).spawn(move || {
        let store = Arc::new(ScatterStore::default());
        install_thread_store(store.clone());
        let mut runners = HashMap::new();
        while let Ok(msg) = rx.recv() {
            match msg {
                Outgoing::SetRunner(spec) => match spec.local_target() {
                    Ok(r) => {
                        runners.insert(spec.id, r);
                    }
                    Err(message) => {
                        let msg =
                            crate::protocol::ToScheduler::RunnerRejected { runner_id: spec.id, message };
                        let _ = events.send(Msg::FromWorker { worker_id, msg });
                    }
                },
                Outgoing::DropRunner(id) => {
                    runners.remove(&id);
                    store.drop_runner(id);
                }
                Outgoing::Scatter { runner_id, name, data } => store.insert(runner_id, name, data),
                // Threads share the process environment: per-trial variables cannot apply.
                Outgoing::Run { key, runner_id, trial, env: _ } => {
                    let value = match runners.get(&runner_id) {
                        Some(target) => with_runner(runner_id, || evaluate_trial(&**target, &trial)),
                        None => TrialValue::failure(
                            StatusType::Crashed,
                            "runner unknown to this worker",
                            smac_core::trial::unix_now(),
                        ),
                    };
                    let msg = crate::protocol::ToScheduler::Result { key, value };
                    if events.send(Msg::FromWorker { worker_id, msg }).is_err() {
                        return;
                    }
                }
                Outgoing::Heartbeat => {}
                Outgoing::Shutdown => return,
            }
        }
    })?;
    client.send(Msg::Joined { worker_id, link: Link::Thread(tx), hello, closer: None })?;
    Ok(handle)
}
