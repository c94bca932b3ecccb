//! The worker side: a process that connects to a scheduler and runs the trials it is sent.
//!
//! Rust cannot ship closures, so the worker is a binary that knows the runner type (SPMD, like
//! MPI): the user's own binary calls [`serve_if_worker`] at the top of `main`. Started
//! normally, the call returns at once; started by a [`crate::LocalCluster`] (which sets
//! [`ENV_ADDRESS`] and [`ENV_TOKEN`]) or with [`ENV_SCHEDULER_FILE`], it connects, serves until
//! the scheduler goes away, and exits the process. The generic `smac-worker` binary does the
//! same for command targets.
//!
//! The worker uses plain blocking I/O on one thread: read a frame, run the trial, write the
//! result. That is the lowest-latency shape for one trial at a time, and it keeps tokio out of
//! the user's worker processes. A heartbeat thread writes heartbeats so the scheduler notices a
//! dead or frozen worker; a watchdog thread enforces per-trial limits on in-process Rust
//! targets by reporting the trial and exiting the process, since a thread cannot be killed.

use crate::command::CommandRunner;
use crate::executor::{decoder, runner_tag, RunnerDecoder, ShippableRunner, ShippableTarget, TrialExecutor};
use crate::protocol::{
    decode_message, encode_frame, handshake_frame, FrameDecoder, FrameError, ToScheduler, ToWorker, Token,
    TrialLimits, DEFAULT_MAX_FRAME,
};
use crate::scatter::process_store;
pub use crate::scatter::{scatter_receipts, scattered, set_scattered};
use crate::watchdog::Watchdog;
use serde::{Deserialize, Serialize};
use smac_core::{ConfigSpace, StatusType, TargetFunctionRunner, TrialValue};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Env var holding the scheduler address a local worker connects to.
pub const ENV_ADDRESS: &str = "SMAC_WORKER_ADDRESS";
/// Env var holding the hex token a local worker presents.
pub const ENV_TOKEN: &str = "SMAC_WORKER_TOKEN";
/// Env var naming a scheduler file (address and token) to join.
pub const ENV_SCHEDULER_FILE: &str = "SMAC_WORKER_SCHEDULER_FILE";
/// Every env var that makes a process a worker.
pub const WORKER_ENV_VARS: [&str; 3] = [ENV_ADDRESS, ENV_TOKEN, ENV_SCHEDULER_FILE];
/// Shortest silence of the scheduler after which a worker gives up on it.
const SCHEDULER_SILENCE: Duration = Duration::from_secs(60);
/// Exit code of a worker that stopped itself because a trial exceeded its limits.
pub const EXIT_TRIAL_LIMIT: i32 = 86;

/// Why a worker stopped with an error.
#[derive(Debug, Error)]
pub enum WorkerError {
    /// The worker's settings (env vars, scheduler file) are invalid.
    #[error("worker configuration: {0}")]
    Config(String),
    /// Network failure.
    #[error("worker I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The scheduler sent something that is not our protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] FrameError),
    /// The scheduler went silent for longer than the heartbeat timeout.
    #[error("no message from the scheduler for {0:?}")]
    SchedulerSilent(Duration),
}

/// Where a scheduler listens and its token: written by a cluster, read by joining workers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchedulerFile {
    /// `host:port` of the scheduler.
    pub address: String,
    /// The shared token as 64 hex digits.
    pub token: String,
    /// The protocol version the scheduler speaks.
    pub protocol: u8,
}

impl SchedulerFile {
    /// Reads a scheduler file.
    pub fn read(path: &Path) -> Result<SchedulerFile, WorkerError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            WorkerError::Config(format!("cannot read scheduler file {}: {e}", path.display()))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| WorkerError::Config(format!("invalid scheduler file {}: {e}", path.display())))
    }

    /// Writes the file atomically (temp file + rename) with owner-only permissions, since it
    /// holds the token.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = path.with_extension("tmp");
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(serde_json::to_string_pretty(self).expect("scheduler file serializes").as_bytes())?;
        f.sync_all()?;
        std::fs::rename(tmp, path)
    }
}

/// How to reach the scheduler.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// `host:port` of the scheduler.
    pub address: String,
    /// The shared token.
    pub token: Token,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// How long to keep retrying the connection.
    pub connect_timeout: Duration,
}

impl WorkerConfig {
    /// A config for `address` and `token`.
    pub fn new(address: impl Into<String>, token: Token) -> Self {
        WorkerConfig {
            address: address.into(),
            token,
            max_frame: DEFAULT_MAX_FRAME,
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// A config from a scheduler file.
    pub fn from_scheduler_file(path: &Path) -> Result<Self, WorkerError> {
        let f = SchedulerFile::read(path)?;
        let token = Token::from_hex(&f.token)
            .ok_or_else(|| WorkerError::Config(format!("scheduler file {}: bad token", path.display())))?;
        Ok(WorkerConfig::new(f.address, token))
    }

    /// The config given by the environment, if this process was started as a worker.
    pub fn from_env() -> Option<Result<Self, WorkerError>> {
        if let Some(path) = std::env::var_os(ENV_SCHEDULER_FILE) {
            return Some(Self::from_scheduler_file(Path::new(&path)));
        }
        let address = std::env::var(ENV_ADDRESS).ok()?;
        let token = std::env::var(ENV_TOKEN).ok().and_then(|t| Token::from_hex(&t));
        Some(match token {
            Some(token) => Ok(WorkerConfig::new(address, token)),
            None => Err(WorkerError::Config(format!("{ENV_TOKEN} is missing or not 64 hex digits"))),
        })
    }
}

/// Whether this process was launched as a worker (the worker env vars are set).
pub fn is_worker_process() -> bool {
    std::env::var_os(ENV_ADDRESS).is_some() || std::env::var_os(ENV_SCHEDULER_FILE).is_some()
}

/// Serves trials when this process was started as a worker, then exits; returns at once
/// otherwise. Call it first thing in `main` of a binary that runs `TargetFunctionRunner<T>`
/// (command targets are served too).
pub fn serve_if_worker<T: ShippableTarget>() {
    Worker::new().serve_target::<T>().run_if_worker()
}

/// A worker that can decode a set of runner types.
#[derive(Clone, Default)]
pub struct Worker {
    decoders: Vec<(String, RunnerDecoder)>,
}

impl Worker {
    /// A worker serving [`CommandRunner`] (every worker can run command targets).
    pub fn new() -> Self {
        Worker::default().serve::<CommandRunner>()
    }

    /// Adds a runner type this worker can run.
    pub fn serve<R: ShippableRunner>(mut self) -> Self {
        let tag = runner_tag::<R>();
        if !self.decoders.iter().any(|(t, _)| *t == tag) {
            self.decoders.push((tag, decoder::<R>()));
        }
        self
    }

    /// Adds `TargetFunctionRunner<T>` to the runner types this worker can run.
    pub fn serve_target<T: ShippableTarget>(self) -> Self {
        self.serve::<TargetFunctionRunner<T>>()
    }

    /// Serves and exits the process when launched as a worker; returns otherwise.
    pub fn run_if_worker(self) {
        let Some(config) = WorkerConfig::from_env() else { return };
        // Programs the targets start (command targets) must not believe they are workers too.
        // This runs first thing in `main`, before any thread exists, as `remove_var` requires.
        for var in WORKER_ENV_VARS {
            std::env::remove_var(var);
        }
        let code = match config.and_then(|c| self.run(&c)) {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!("smac worker stopped: {e}");
                // Also on stderr: a worker process often has no tracing subscriber, and this
                // is the last word before it exits.
                eprintln!("smac worker stopped: {e}");
                1
            }
        };
        std::process::exit(code)
    }

    /// Connects to the scheduler and serves trials until it closes the connection.
    pub fn run(&self, config: &WorkerConfig) -> Result<(), WorkerError> {
        let stream = connect(&config.address, config.connect_timeout)?;
        stream.set_nodelay(true)?;
        let mut conn = Connection { stream: stream.try_clone()?, dec: FrameDecoder::new(config.max_frame) };
        let out = Arc::new(Mutex::new(stream));
        out.lock().unwrap_or_else(|e| e.into_inner()).write_all(&handshake_frame(&config.token))?;
        conn.stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let welcome = conn.read().map_err(|e| match e {
            WorkerError::Io(e) if e.kind() == ErrorKind::UnexpectedEof => WorkerError::Config(format!(
                "the scheduler at {} closed the connection during the handshake (wrong token or protocol version?)",
                config.address
            )),
            other => other,
        })?;
        let ToWorker::Welcome { worker_id, heartbeat_interval_ms, heartbeat_timeout_ms } = welcome else {
            return Err(WorkerError::Protocol(FrameError::Malformed("expected a welcome".into())));
        };
        let tags = self.decoders.iter().map(|(t, _)| t.clone()).collect();
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        send(&out, &ToScheduler::Hello { tags, pid: std::process::id(), host }, config.max_frame)?;
        tracing::info!(worker_id, address = %config.address, "smac worker connected");

        let stop = Arc::new(AtomicBool::new(false));
        spawn_heartbeat(out.clone(), Duration::from_millis(heartbeat_interval_ms.max(1)), stop.clone())?;
        // Leave when the scheduler is silent far longer than it declares workers dead: EOF
        // covers a scheduler that exits; this covers one whose host vanished, without killing
        // workers of an optimizer that is merely suspended for a moment.
        let timeout = Duration::from_millis(heartbeat_timeout_ms.max(1)).mul_f64(3.0).max(SCHEDULER_SILENCE);
        conn.stream.set_read_timeout(Some(timeout))?;
        let watchdog = Watchdog::start(out.clone(), config.max_frame)?;
        let result = self.serve_loop(&mut conn, &out, &watchdog, config.max_frame, timeout);
        stop.store(true, Ordering::Relaxed);
        result
    }

    fn serve_loop(
        &self,
        conn: &mut Connection,
        out: &Arc<Mutex<TcpStream>>,
        watchdog: &Watchdog,
        max_frame: usize,
        timeout: Duration,
    ) -> Result<(), WorkerError> {
        let mut runners: HashMap<u64, (Arc<dyn TrialExecutor>, TrialLimits)> = HashMap::new();
        let mut spaces: HashMap<u32, Arc<ConfigSpace>> = HashMap::new();
        loop {
            let msg = match conn.read() {
                Ok(m) => m,
                Err(WorkerError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
                Err(WorkerError::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Err(WorkerError::SchedulerSilent(timeout))
                }
                Err(e) => return Err(e),
            };
            match msg {
                ToWorker::Heartbeat | ToWorker::Welcome { .. } => {}
                ToWorker::Shutdown => return Ok(()),
                ToWorker::SetRunner { runner_id, tag, payload, limits } => {
                    match self.decoders.iter().find(|(t, _)| *t == tag) {
                        Some((_, decode)) => match decode(&payload.0) {
                            Ok(r) => {
                                runners.insert(runner_id, (r, limits));
                            }
                            Err(message) => {
                                send(out, &ToScheduler::RunnerRejected { runner_id, message }, max_frame)?
                            }
                        },
                        None => {
                            let message = format!("this worker cannot run runners of type {tag}");
                            send(out, &ToScheduler::RunnerRejected { runner_id, message }, max_frame)?
                        }
                    }
                }
                ToWorker::DropRunner { runner_id } => {
                    runners.remove(&runner_id);
                }
                ToWorker::Space { space_id, space } => {
                    spaces.insert(space_id, Arc::new(space));
                }
                ToWorker::Scatter { name, data } => process_store().insert(name, data.0),
                ToWorker::Run { key, runner_id, trial } => {
                    let start = smac_core::trial::unix_now();
                    let value = match (runners.get(&runner_id), spaces.get(&trial.space_id)) {
                        (Some((runner, limits)), Some(space)) => match trial.into_trial(space) {
                            Ok(t) => match watchdog
                                .run(key, runner.as_ref(), *limits, || run_guarded(runner.as_ref(), &t))
                            {
                                Some(v) => v,
                                // The watchdog reported the trial and is ending the process.
                                None => loop {
                                    std::thread::park();
                                },
                            },
                            Err(e) => failure(format!("cannot rebuild the trial on the worker: {e}"), start),
                        },
                        (None, _) => {
                            failure(format!("runner {runner_id} was never sent to this worker"), start)
                        }
                        (_, None) => {
                            failure(format!("space {} was never sent to this worker", trial.space_id), start)
                        }
                    };
                    send(out, &ToScheduler::Result { key, value }, max_frame)?;
                }
            }
        }
    }
}

/// A crashed value without cost: the scheduler fills in the runner's crash cost.
fn failure(message: String, start: f64) -> TrialValue {
    TrialValue::failure(StatusType::Crashed, Vec::new(), message, start)
}

/// Runs a trial, turning a panic escaping the executor into a crashed value.
pub(crate) fn run_guarded(runner: &dyn TrialExecutor, trial: &smac_core::TrialInfo) -> TrialValue {
    let start = smac_core::trial::unix_now();
    catch_unwind(AssertUnwindSafe(|| runner.execute(trial))).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the runner panicked".into());
        TrialValue::failure(StatusType::Crashed, runner.crash_cost(), format!("panic: {msg}"), start)
    })
}

/// Encodes and writes one message under the writer lock (heartbeats share the socket).
pub(crate) fn send(out: &Mutex<TcpStream>, msg: &ToScheduler, max_frame: usize) -> Result<(), WorkerError> {
    let mut buf = Vec::with_capacity(256);
    encode_frame(msg, max_frame, &mut buf)?;
    out.lock().unwrap_or_else(|e| e.into_inner()).write_all(&buf)?;
    Ok(())
}

fn connect(address: &str, patience: Duration) -> Result<TcpStream, WorkerError> {
    let deadline = Instant::now() + patience;
    loop {
        match TcpStream::connect(address) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("connecting to the scheduler at {address}: {e}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn spawn_heartbeat(
    out: Arc<Mutex<TcpStream>>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut frame = Vec::new();
    encode_frame(&ToScheduler::Heartbeat, DEFAULT_MAX_FRAME, &mut frame).expect("heartbeat encodes");
    std::thread::Builder::new().name("smac-heartbeat".into()).spawn(move || loop {
        std::thread::sleep(interval);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = out.lock().unwrap_or_else(|e| e.into_inner()).write_all(&frame) {
            // The scheduler is gone: an orphaned worker must not outlive it, even mid-trial.
            tracing::error!("smac worker lost its scheduler ({e}); exiting");
            std::process::exit(1);
        }
    })?;
    Ok(())
}

/// The reading half of a worker's connection.
struct Connection {
    stream: TcpStream,
    dec: FrameDecoder,
}

impl Connection {
    /// Reads the next message; a truncated stream is `UnexpectedEof`.
    fn read(&mut self) -> Result<ToWorker, WorkerError> {
        loop {
            if let Some(payload) = self.dec.next_frame()? {
                return Ok(decode_message(payload)?);
            }
            let want = self.dec.wanted().clamp(16 << 10, 1 << 20);
            let spare = self.dec.spare(want);
            let n = match self.stream.read(spare) {
                Ok(n) => n,
                Err(e) => {
                    self.dec.commit(want, 0);
                    if e.kind() == ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e.into());
                }
            };
            self.dec.commit(want, n);
            if n == 0 {
                return Err(
                    std::io::Error::new(ErrorKind::UnexpectedEof, "scheduler closed the connection").into()
                );
            }
        }
    }
}
