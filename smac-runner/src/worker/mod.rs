//! The worker side: a process that connects to a scheduler and runs the trials it is sent.
//!
//! Rust cannot ship closures, so the worker is a binary that knows the runner type (SPMD, like
//! MPI): the user's own binary calls [`serve_if_worker`] at the top of `main`. Started
//! normally, the call returns at once; started by a [`crate::LocalCluster`] (which sets
//! [`ENV_ADDRESS`] and [`ENV_TOKEN`]) or with [`ENV_SCHEDULER_FILE`] (a scheduler running
//! anywhere, e.g. `smac-scheduler`), it connects, serves until the scheduler goes away, and
//! exits the process. [`ENV_RESOURCES`] sets the resources it advertises and [`ENV_NWORKERS`]
//! starts that many worker processes under a supervisor ([`crate::worker::launch`]). The generic
//! `smac-worker` binary does the same for command targets.
//!
//! The worker uses plain blocking I/O on one thread: read a frame, run the trial, write the
//! result. That is the lowest-latency shape for one trial at a time, and it keeps tokio out of
//! the user's worker processes. A heartbeat thread writes heartbeats so the scheduler notices a
//! dead or frozen worker; a watchdog thread enforces per-trial limits on in-process Rust
//! targets by reporting the trial and exiting the process, since a thread cannot be killed.
//!
//! A worker that joined through a scheduler file rejoins a lost scheduler (re-reading the file,
//! for a scheduler restarted with a new port and token) for [`DEFAULT_RECONNECT`]; the
//! scheduler accepts it as a new worker. Local workers exit instead: they must not outlive
//! their cluster. A scheduler that shuts down cleanly ends all its workers.

pub mod config;
pub mod dask_entry;
mod env_guard;
pub mod launch;
mod outbox;
pub(crate) mod scatter;
#[cfg(feature = "cli")]
pub mod standalone;
pub(crate) mod watchdog;

use crate::command::CommandTarget;
use crate::core::{decoder, ShippableTarget, TargetDecoder};
use crate::protocol::{
    authenticate_blocking, decode_message, encode_frame, FrameDecoder, FrameError, HandshakeError, Peer,
    ToScheduler, ToWorker, TrialLimits, DEFAULT_MAX_FRAME, HANDSHAKE_MAX_FRAME,
};
pub use crate::worker::config::{
    host_name, is_worker_process, SchedulerFile, WorkerConfig, WorkerError, DEFAULT_RECONNECT, ENV_ADDRESS,
    ENV_NWORKERS, ENV_RESOURCES, ENV_SCHEDULER_FILE, ENV_TOKEN, EXIT_CONFIG, EXIT_NO_SCHEDULER,
    WORKER_ENV_VARS,
};
use crate::worker::env_guard::EnvGuard;
use crate::worker::outbox::{lock, send};
use crate::worker::scatter::{process_store, with_runner};
pub use crate::worker::scatter::{scatter_receipts, scattered, scattered_bytes, set_scattered};
use crate::worker::watchdog::Watchdog;
use smac_core::{evaluate_trial, ConfigSpace, StatusType, TargetFunction, TrialValue};
use std::any::TypeId;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shortest silence of the scheduler after which a worker gives up on it.
const SCHEDULER_SILENCE: Duration = Duration::from_secs(60);
pub use outbox::EXIT_TRIAL_LIMIT;

/// Serves trials when this process was started as a worker, then exits; returns at once
/// otherwise. Call it first thing in `main` of a binary whose runs ship targets of type `T`
/// (command targets are served too).
pub fn serve_if_worker<T: ShippableTarget>() {
    Worker::new().serve::<T>().run_if_worker()
}

/// A worker that can decode a set of target types.
#[derive(Clone, Default)]
pub struct Worker {
    decoders: Vec<(String, TypeId, TargetDecoder)>,
}

/// How a connection to the scheduler ended without an error.
enum Ended {
    /// The scheduler told the worker to exit.
    Shutdown,
    /// The scheduler closed the connection (it exited, or dropped this worker).
    Closed,
}

/// One connection to the scheduler, with its heartbeat thread and watchdog.
struct Session {
    conn: Connection,
    out: Arc<Mutex<TcpStream>>,
    watchdog: Watchdog,
    max_frame: usize,
    silence: Duration,
    stop: Arc<AtomicBool>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = lock(&self.out).shutdown(Shutdown::Both);
    }
}

impl Worker {
    /// A worker serving [`CommandTarget`] (every worker can run command targets).
    pub fn new() -> Self {
        Worker::default().serve::<CommandTarget>()
    }

    /// Adds a target type this worker can run, known by its declared name.
    pub fn serve<T: ShippableTarget>(mut self) -> Self {
        if let Some((_, existing, _)) = self.decoders.iter().find(|(t, _, _)| t == T::NAME) {
            // Two types with one name would make workers run the wrong target.
            assert!(*existing == TypeId::of::<T>(), "two target types declare the name '{}'", T::NAME);
            return self;
        }
        self.decoders.push((T::NAME.to_string(), TypeId::of::<T>(), decoder::<T>()));
        self
    }

    /// Serves and exits the process when launched as a worker; returns otherwise.
    pub fn run_if_worker(self) {
        crate::worker::dask_entry::run_trial_if_requested(&self.decoders); // a Dask task's trial: runs it and exits
        let Some(config) = WorkerConfig::from_env() else { return };
        let nworkers = std::env::var(ENV_NWORKERS).ok();
        let inherited: Vec<(OsString, OsString)> = WORKER_ENV_VARS
            .iter()
            .filter(|v| **v != ENV_NWORKERS)
            .filter_map(|v| std::env::var_os(v).map(|x| (OsString::from(v), x)))
            .collect();
        // Programs the targets start (command targets) must not believe they are workers too.
        // This runs first thing in `main`, before any thread exists, as `remove_var` requires.
        for var in WORKER_ENV_VARS {
            std::env::remove_var(var);
        }
        let config = match config {
            Ok(c) => c,
            Err(e) => std::process::exit(report(&e)),
        };
        let code = match nworkers.as_deref().map(str::parse::<usize>) {
            Some(Ok(n)) if n > 1 => match std::env::current_exe() {
                Ok(exe) => {
                    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
                    crate::worker::launch::supervise(&exe, &args, &inherited, n)
                }
                Err(e) => report(&WorkerError::Io(e)),
            },
            Some(Err(_)) => {
                report(&WorkerError::Config(format!("{ENV_NWORKERS} must be a positive integer")))
            }
            _ => match self.run(&config) {
                Ok(()) => 0,
                Err(e) => report(&e),
            },
        };
        std::process::exit(code)
    }

    /// Connects to the scheduler and serves trials until it shuts down (or, for a worker that
    /// may not rejoin, until the connection ends).
    pub fn run(&self, config: &WorkerConfig) -> Result<(), WorkerError> {
        // With a scheduler file, read it again on every attempt: a stale file from an earlier
        // run may be replaced by the new scheduler while we try.
        let mut session = match config.scheduler_file {
            Some(_) => self.rejoin(config, config.connect_timeout, "no attempt".into())?,
            None => self.open(config, config.connect_timeout)?,
        };
        loop {
            let outcome = self.serve_loop(&mut session);
            drop(session);
            let why = match (outcome, config.reconnect) {
                (Ok(Ended::Shutdown), _) | (Ok(Ended::Closed), None) => return Ok(()),
                (Err(e), None) => return Err(e),
                (Ok(Ended::Closed), Some(_)) => "the scheduler closed the connection".to_string(),
                (Err(e), Some(_)) => e.to_string(),
            };
            let patience = config.reconnect.unwrap_or_default();
            tracing::warn!("lost the scheduler ({why}); trying to rejoin for {patience:?}");
            session = self.rejoin(config, patience, why)?;
        }
    }

    /// Tries to connect again (re-reading the scheduler file) until `patience` has passed.
    fn rejoin(
        &self,
        config: &WorkerConfig,
        patience: Duration,
        mut last: String,
    ) -> Result<Session, WorkerError> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            match config.refreshed().and_then(|c| self.open(&c, Duration::from_secs(1))) {
                Ok(session) => return Ok(session),
                Err(e @ WorkerError::NotOurScheduler { .. }) => {
                    tracing::warn!("{e}");
                    last = e.to_string();
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => {
                    tracing::debug!("rejoining the scheduler failed: {e}");
                    last = e.to_string();
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        match &config.scheduler_file {
            // The file is there but nothing that holds its token answers at its address.
            Some(path) if path.exists() => Err(WorkerError::StaleSchedulerFile {
                path: path.clone(),
                address: config.refreshed().map(|c| c.address).unwrap_or_else(|_| config.address.clone()),
                patience,
                last,
            }),
            _ => Err(WorkerError::Lost { patience, last }),
        }
    }

    /// Connects, authenticates and announces this worker.
    fn open(&self, config: &WorkerConfig, connect_timeout: Duration) -> Result<Session, WorkerError> {
        let stream = match &config.tls_certificate {
            Some(certificate) => {
                crate::protocol::tls::connect_tunnel(&config.address, certificate, connect_timeout)?
            }
            None => connect(&config.address, connect_timeout)?,
        };
        stream.set_nodelay(true)?;
        // Until the peer proved the token, it may not make us buffer more than a handshake.
        let mut conn =
            Connection { stream: stream.try_clone()?, dec: FrameDecoder::new(HANDSHAKE_MAX_FRAME) };
        conn.stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        // Nothing from this peer is decoded, let alone run, before it proved the token.
        authenticate_blocking(&mut conn.stream, &mut conn.dec, Peer::Worker, &config.token).map_err(|e| {
            match e {
                HandshakeError::Io(e)
                    if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) =>
                {
                    WorkerError::Refused(config.address.clone())
                }
                HandshakeError::Io(e) => WorkerError::Io(e),
                HandshakeError::Rejected(e) => {
                    WorkerError::NotOurScheduler { address: config.address.clone(), reason: e }
                }
            }
        })?;
        conn.dec.set_max_frame(config.max_frame);
        let out = Arc::new(Mutex::new(stream));
        let welcome = conn.read().map_err(|e| match e {
            WorkerError::Io(e)
                if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) =>
            {
                WorkerError::Refused(config.address.clone())
            }
            other => other,
        })?;
        let ToWorker::Welcome { worker_id, heartbeat_interval_ms, heartbeat_timeout_ms } = welcome else {
            return Err(WorkerError::Protocol(FrameError::Malformed("expected a welcome".into())));
        };
        let tags = self.decoders.iter().map(|(t, _, _)| t.clone()).collect();
        let hello = ToScheduler::Hello {
            tags,
            pid: std::process::id(),
            host: host_name(),
            resources: config.resources.clone(),
        };
        send(&out, &hello, config.max_frame)?;
        tracing::info!(worker_id, address = %config.address, resources = %config.resources, "smac worker connected");

        let stop = Arc::new(AtomicBool::new(false));
        let interval = Duration::from_millis(heartbeat_interval_ms.max(1));
        spawn_heartbeat(out.clone(), interval, stop.clone(), config.reconnect.is_none())?;
        // Leave when the scheduler is silent far longer than it declares workers dead: EOF
        // covers a scheduler that exits; this covers one whose host vanished, without killing
        // workers of an optimizer that is merely suspended for a moment.
        let silence = Duration::from_millis(heartbeat_timeout_ms.max(1)).mul_f64(3.0).max(SCHEDULER_SILENCE);
        conn.stream.set_read_timeout(Some(silence))?;
        let watchdog = Watchdog::start(out.clone(), config.max_frame)?;
        Ok(Session { conn, out, watchdog, max_frame: config.max_frame, silence, stop })
    }

    fn serve_loop(&self, session: &mut Session) -> Result<Ended, WorkerError> {
        let Session { conn, out, watchdog, max_frame, silence, .. } = session;
        let max_frame = *max_frame;
        let mut runners: HashMap<u64, (Arc<dyn TargetFunction>, TrialLimits)> = HashMap::new();
        let mut spaces: HashMap<u32, Arc<ConfigSpace>> = HashMap::new();
        loop {
            let msg = match conn.read() {
                Ok(m) => m,
                Err(WorkerError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof => return Ok(Ended::Closed),
                Err(WorkerError::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Err(WorkerError::SchedulerSilent(*silence))
                }
                Err(e) => return Err(e),
            };
            match msg {
                ToWorker::Heartbeat | ToWorker::Welcome { .. } => {}
                ToWorker::Shutdown => return Ok(Ended::Shutdown),
                ToWorker::SetRunner { runner_id, tag, payload, limits } => {
                    let decoded = match self.decoders.iter().find(|(t, _, _)| *t == tag) {
                        Some((_, _, decode)) => decode(&payload.0),
                        None => Err(format!("this worker cannot run targets of type '{tag}'")),
                    };
                    match decoded {
                        Ok(r) => {
                            runners.insert(runner_id, (r, limits));
                        }
                        Err(message) => {
                            send(out, &ToScheduler::RunnerRejected { runner_id, message }, max_frame)?
                        }
                    }
                }
                ToWorker::DropRunner { runner_id } => {
                    runners.remove(&runner_id);
                    process_store().drop_runner(runner_id);
                }
                ToWorker::Space { space_id, space } => {
                    spaces.insert(space_id, Arc::new(space));
                }
                ToWorker::Scatter { runner_id, name, data } => {
                    process_store().insert(runner_id, name, data.0)
                }
                ToWorker::Run { key, runner_id, trial, env } => {
                    let start = smac_core::trial::unix_now();
                    let value = match (runners.get(&runner_id), spaces.get(&trial.space_id)) {
                        (Some((target, limits)), Some(space)) => match trial.into_trial(space) {
                            Ok(t) => {
                                let _env = EnvGuard::apply(&env);
                                let run = || with_runner(runner_id, || evaluate_trial(&**target, &t));
                                match watchdog.run(key, *limits, run) {
                                    Some(v) => v,
                                    // The watchdog reported the trial and is ending the process.
                                    None => loop {
                                        std::thread::park();
                                    },
                                }
                            }
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

/// For worker programs that do not call [`Worker::run_if_worker`] (like `smac-worker`): runs
/// the requested trial with `worker`'s runner types and exits; returns when not in trial mode.
pub fn serve_trial_if_requested(worker: Worker) {
    if dask_entry::is_trial_process() {
        worker.run_if_worker();
    }
}

/// Logs why the worker stops and returns its exit code.
fn report(e: &WorkerError) -> i32 {
    tracing::error!("smac worker stopped: {e}");
    // Also on stderr: a worker process often has no tracing subscriber, and this is the last
    // word before it exits.
    eprintln!("smac worker stopped: {e}");
    e.exit_code()
}

/// A crashed value (the SMBO loop gives it the crash cost).
fn failure(message: String, start: f64) -> TrialValue {
    TrialValue::failure(StatusType::Crashed, message, start)
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

/// Writes heartbeats until `stop`; when the scheduler is gone, exits the process
/// (`exit_on_loss`, local workers) or closes the socket so the serving loop notices.
fn spawn_heartbeat(
    out: Arc<Mutex<TcpStream>>,
    interval: Duration,
    stop: Arc<AtomicBool>,
    exit_on_loss: bool,
) -> std::io::Result<()> {
    let mut frame = Vec::new();
    encode_frame(&ToScheduler::Heartbeat, DEFAULT_MAX_FRAME, &mut frame).expect("heartbeat encodes");
    std::thread::Builder::new().name("smac-heartbeat".into()).spawn(move || loop {
        std::thread::sleep(interval);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut stream = lock(&out);
        if let Err(e) = stream.write_all(&frame) {
            if exit_on_loss {
                // The scheduler is gone: an orphaned worker must not outlive it, even mid-trial.
                tracing::error!("smac worker lost its scheduler ({e}); exiting");
                std::process::exit(1);
            }
            tracing::warn!("smac worker lost its scheduler ({e}); it will rejoin after the current trial");
            let _ = stream.shutdown(Shutdown::Both);
            return;
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
            if self.dec.read_from(&mut self.stream, want)? == 0 {
                return Err(
                    std::io::Error::new(ErrorKind::UnexpectedEof, "scheduler closed the connection").into()
                );
            }
        }
    }
}
