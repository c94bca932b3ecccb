//! How a worker finds its scheduler: the scheduler file, the worker's environment variables
//! and [`WorkerConfig`]. Re-exported from [`crate::worker`].

use crate::protocol::{Token, DEFAULT_MAX_FRAME, PROTOCOL_VERSION};
use crate::resources::Resources;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Env var holding the scheduler address a local worker connects to.
pub const ENV_ADDRESS: &str = "SMAC_WORKER_ADDRESS";
/// Env var holding the hex token a local worker presents.
pub const ENV_TOKEN: &str = "SMAC_WORKER_TOKEN";
/// Env var naming a scheduler file (address and token) to join.
pub const ENV_SCHEDULER_FILE: &str = "SMAC_WORKER_SCHEDULER_FILE";
/// Env var with the resources a worker advertises (`GPU=1,MEMORY=10e9`).
pub const ENV_RESOURCES: &str = "SMAC_WORKER_RESOURCES";
/// Env var asking a worker program to start this many worker processes.
pub const ENV_NWORKERS: &str = "SMAC_WORKER_NWORKERS";
/// Every env var of the worker machinery; removed from the environment of worker processes
/// once read, so that programs started by targets do not believe they are workers too.
pub const WORKER_ENV_VARS: [&str; 5] =
    [ENV_ADDRESS, ENV_TOKEN, ENV_SCHEDULER_FILE, ENV_RESOURCES, ENV_NWORKERS];
/// How long a worker joining through a scheduler file tries to rejoin a lost scheduler.
pub const DEFAULT_RECONNECT: Duration = Duration::from_secs(60);

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
    Protocol(#[from] crate::protocol::FrameError),
    /// The scheduler went silent for longer than the heartbeat timeout.
    #[error("no message from the scheduler for {0:?}")]
    SchedulerSilent(Duration),
    /// The scheduler refused the handshake (another protocol version).
    #[error("the scheduler at {0} closed the connection during the handshake (another protocol version?)")]
    Refused(String),
    /// The peer at the scheduler's address could not prove it holds the token: it is not our
    /// scheduler (ours is gone and the port was taken, or the scheduler file is stale), or the
    /// worker was given a wrong token. Nothing it sent was run.
    #[error(
        "the peer at {address} is not our scheduler: {reason} (wrong token, a stale scheduler file, or another process on the scheduler's port); nothing it sent was run"
    )]
    NotOurScheduler {
        /// The address connected to.
        address: String,
        /// What failed in the handshake.
        reason: crate::protocol::FrameError,
    },
    /// A scheduler file names an address where no scheduler holding its token answered.
    #[error(
        "the scheduler file {} is stale: no scheduler of it answered at {address} for {patience:?} ({last}); start one with `smac scheduler --scheduler-file {}`, or remove the file",
        path.display(),
        path.display()
    )]
    StaleSchedulerFile {
        /// The scheduler file.
        path: PathBuf,
        /// The address it names.
        address: String,
        /// How long joining was tried.
        patience: Duration,
        /// The last failure.
        last: String,
    },
    /// The scheduler could not be joined (or rejoined after a loss) in time.
    #[error("could not join the scheduler within {patience:?}: {last}")]
    Lost {
        /// How long rejoining was tried.
        patience: Duration,
        /// The last failure.
        last: String,
    },
}

/// Exit code of a worker whose configuration is invalid (restarting it cannot help).
pub const EXIT_CONFIG: i32 = 2;
/// Exit code of a worker that could not reach, or lost, its scheduler.
pub const EXIT_NO_SCHEDULER: i32 = 3;

impl WorkerError {
    /// The process exit code for this error: [`EXIT_CONFIG`], [`EXIT_NO_SCHEDULER`] or 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            WorkerError::Config(_) => EXIT_CONFIG,
            WorkerError::Refused(_)
            | WorkerError::NotOurScheduler { .. }
            | WorkerError::StaleSchedulerFile { .. }
            | WorkerError::Lost { .. }
            | WorkerError::SchedulerSilent(_) => EXIT_NO_SCHEDULER,
            WorkerError::Io(_) | WorkerError::Protocol(_) => 1,
        }
    }
}

/// Where a scheduler listens and its token: written by a scheduler, read by workers and
/// clients that join it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SchedulerFile {
    /// `host:port` of the scheduler.
    pub address: String,
    /// The shared token as 64 hex digits.
    pub token: String,
    /// The protocol version the scheduler speaks.
    pub protocol: u8,
    /// The scheduler's TLS certificate (PEM) when it was started with `--tls`: peers then
    /// connect over TLS and accept this certificate only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<String>,
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

    /// Reads a scheduler file, waiting up to `timeout` for it to appear (workers and clients
    /// are often started before the scheduler has written it).
    pub fn wait(path: &Path, timeout: Duration) -> Result<SchedulerFile, WorkerError> {
        let deadline = Instant::now() + timeout;
        loop {
            match Self::read(path) {
                Ok(f) => return Ok(f),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Writes the file atomically with owner-only permissions, since it holds the token
    /// (through an exclusively created temporary file: see [`smac_core::files`]).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("scheduler file serializes");
        smac_core::files::write_atomically(path, text.as_bytes(), 0o600)
    }

    /// The token, checked to be 64 hex digits of a scheduler of our protocol version.
    pub fn checked_token(&self) -> Result<Token, WorkerError> {
        if self.protocol != PROTOCOL_VERSION {
            return Err(WorkerError::Config(format!(
                "the scheduler speaks protocol version {}; this worker speaks {PROTOCOL_VERSION}",
                self.protocol
            )));
        }
        Token::from_hex(&self.token).ok_or_else(|| WorkerError::Config("bad token in scheduler file".into()))
    }
}

/// How to reach the scheduler, and what to tell it.
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
    /// Resources this worker offers to trials that claim some.
    pub resources: Resources,
    /// The scheduler file the address came from; read again when rejoining.
    pub scheduler_file: Option<PathBuf>,
    /// How long to try rejoining a scheduler whose connection was lost (`None`: exit at once,
    /// as local workers must not outlive their cluster). A scheduler that shuts down cleanly
    /// always ends its workers.
    pub reconnect: Option<Duration>,
    /// The scheduler's TLS certificate (PEM), from its scheduler file: connect over TLS and
    /// accept this certificate only.
    pub tls_certificate: Option<String>,
}

impl WorkerConfig {
    /// A config for `address` and `token`.
    pub fn new(address: impl Into<String>, token: Token) -> Self {
        WorkerConfig {
            address: address.into(),
            token,
            max_frame: DEFAULT_MAX_FRAME,
            connect_timeout: Duration::from_secs(30),
            resources: Resources::new(),
            scheduler_file: None,
            reconnect: None,
            tls_certificate: None,
        }
    }

    /// A config from a scheduler file; rejoins a lost scheduler for [`DEFAULT_RECONNECT`].
    pub fn from_scheduler_file(path: &Path) -> Result<Self, WorkerError> {
        Self::from_scheduler_file_wait(path, Duration::ZERO)
    }

    /// Like [`WorkerConfig::from_scheduler_file`], waiting up to `timeout` for a usable file: a
    /// stale one of another protocol version may be replaced by the new scheduler meanwhile.
    pub fn from_scheduler_file_wait(path: &Path, timeout: Duration) -> Result<Self, WorkerError> {
        let deadline = Instant::now() + timeout;
        let (f, token) = loop {
            let f = SchedulerFile::wait(path, deadline.saturating_duration_since(Instant::now()))?;
            match f.checked_token() {
                Ok(token) => break (f, token),
                Err(e) if Instant::now() >= deadline => {
                    return Err(WorkerError::Config(format!("{}: {e}", path.display())))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let mut c = WorkerConfig::new(f.address, token);
        c.tls_certificate = f.tls_certificate;
        c.scheduler_file = Some(path.to_path_buf());
        c.reconnect = Some(DEFAULT_RECONNECT);
        Ok(c)
    }

    /// The address and token to use now: re-read from the scheduler file when there is one
    /// (a restarted scheduler writes a new port and token).
    pub fn refreshed(&self) -> Result<Self, WorkerError> {
        let Some(path) = &self.scheduler_file else { return Ok(self.clone()) };
        let f = SchedulerFile::read(path)?;
        let token = f.checked_token()?;
        Ok(WorkerConfig { address: f.address, token, tls_certificate: f.tls_certificate, ..self.clone() })
    }

    /// The config given by the environment, if this process was started as a worker.
    pub fn from_env() -> Option<Result<Self, WorkerError>> {
        let config = if let Some(path) = std::env::var_os(ENV_SCHEDULER_FILE) {
            Self::from_scheduler_file_wait(Path::new(&path), Duration::from_secs(30))
        } else {
            let address = std::env::var(ENV_ADDRESS).ok()?;
            match std::env::var(ENV_TOKEN).ok().and_then(|t| Token::from_hex(&t)) {
                Some(token) => Ok(WorkerConfig::new(address, token)),
                None => Err(WorkerError::Config(format!("{ENV_TOKEN} is missing or not 64 hex digits"))),
            }
        };
        Some(config.and_then(|mut c| {
            if let Ok(spec) = std::env::var(ENV_RESOURCES) {
                c.resources =
                    spec.parse().map_err(|e| WorkerError::Config(format!("{ENV_RESOURCES}: {e}")))?;
            }
            Ok(c)
        }))
    }
}

/// Whether this process was launched as a worker (the worker env vars are set).
pub fn is_worker_process() -> bool {
    std::env::var_os(ENV_ADDRESS).is_some()
        || std::env::var_os(ENV_SCHEDULER_FILE).is_some()
        || crate::backends::dask::is_trial_process()
}

/// This machine's host name (for logs and scheduler files).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or we
    // stop at its end.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..len]) {
        Ok(s) if ok && !s.is_empty() => s.to_string(),
        _ => "localhost".into(),
    }
}
