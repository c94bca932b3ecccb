//! The Python sidecar process: spawning it, talking to it, and making sure it goes away.
//!
//! The script ships inside the crate (`include_str!`) and is written to a private temporary
//! directory at start, so a `cargo install`ed binary needs nothing but a Python with
//! `distributed`. A reader thread turns the sidecar's stdout into [`Incoming`] events (and
//! keeps the worker count and the number of finished trials in atomics, so that
//! `count_available_workers(&self)` is exact without a `&mut` pump); a second thread forwards
//! its stderr to `tracing` and keeps the last lines for error messages.

use super::wire::{read_frame, write_frame, Event, Request};
use super::DaskError;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The sidecar script, shipped with the crate.
pub const SIDECAR_SCRIPT: &str = include_str!("../../../python/smac_dask_sidecar.py");
/// Lines of the sidecar's stderr kept for error messages.
const STDERR_LINES: usize = 40;

/// What the reader thread delivers.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A message and its blobs.
    Event(Event, Vec<Vec<u8>>),
    /// The sidecar closed its stdout (exited or crashed); the text says why.
    Exited(String),
}

/// Counters the reader thread keeps current.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Dask workers connected to the scheduler.
    pub workers: AtomicUsize,
    /// Their threads in total.
    pub threads: AtomicUsize,
    /// Trials whose `done` / `failed` arrived (pumped or not).
    pub finished: AtomicU64,
}

/// A running sidecar.
pub(crate) struct Sidecar {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Events in arrival order.
    pub events: Receiver<Incoming>,
    /// Counters maintained by the reader thread.
    pub live: Arc<Live>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    script_dir: PathBuf,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar").field("pid", &self.child.id()).finish()
    }
}

impl Sidecar {
    /// Writes the script to a private directory and starts `python` on it.
    pub fn spawn(python: &Path) -> Result<Sidecar, DaskError> {
        let script_dir = private_dir()?;
        let script = script_dir.join("smac_dask_sidecar.py");
        std::fs::write(&script, SIDECAR_SCRIPT)?;
        let mut child = Command::new(python)
            .arg(&script)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches the optimizer, which then
            // closes the client in order, instead of killing the sidecar mid-protocol.
            .process_group(0)
            .spawn()
            .map_err(|source| {
                let _ = std::fs::remove_dir_all(&script_dir);
                DaskError::PythonNotFound { python: python.display().to_string(), source }
            })?;
        tracing::debug!(pid = child.id(), python = %python.display(), "started the Dask sidecar");
        let input = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        let tail = stderr_tail.clone();
        std::thread::Builder::new().name("smac-dask-stderr".into()).spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let lower = line.to_ascii_lowercase();
                if lower.contains("error") || lower.contains("warning") || lower.contains("traceback") {
                    tracing::warn!(target: "smac_runner::dask::sidecar", "{line}");
                } else {
                    tracing::debug!(target: "smac_runner::dask::sidecar", "{line}");
                }
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() == STDERR_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        })?;
        let (tx, events) = channel();
        let live = Arc::new(Live::default());
        let counters = live.clone();
        let tail = stderr_tail.clone();
        std::thread::Builder::new().name("smac-dask-reader".into()).spawn(move || {
            let mut out = BufReader::with_capacity(1 << 16, stdout);
            let why = loop {
                match read_frame(&mut out) {
                    Ok(Some((Ok(event), blobs))) => {
                        count(&counters, &event);
                        if tx.send(Incoming::Event(event, blobs)).is_err() {
                            return;
                        }
                    }
                    Ok(Some((Err(unknown), _))) => {
                        tracing::warn!(
                            "ignoring a message the Dask sidecar sent that we do not know: {unknown}"
                        )
                    }
                    Ok(None) => break "it closed its output".to_string(),
                    Err(e) => break format!("unreadable output ({e})"),
                }
            };
            counters.workers.store(0, Ordering::Release);
            counters.threads.store(0, Ordering::Release);
            // Give the stderr thread a moment to collect the last words.
            std::thread::sleep(Duration::from_millis(100));
            let last = tail.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect::<Vec<_>>();
            let _ = tx.send(Incoming::Exited(format!("{why}; its last output: {}", last.join(" | "))));
        })?;
        Ok(Sidecar { child, stdin: Some(input), events, live, stderr_tail, script_dir })
    }

    /// Sends one request.
    pub fn send(&mut self, request: &Request, blobs: &[&[u8]]) -> Result<(), DaskError> {
        let Some(stdin) = self.stdin.as_mut() else { return Err(DaskError::SidecarExited("closed".into())) };
        write_frame(stdin, request, blobs).map_err(|e| match e {
            DaskError::Io(io) if io.kind() == ErrorKind::BrokenPipe => {
                DaskError::SidecarExited(format!("the pipe broke; its last output: {}", self.last_words()))
            }
            other => other,
        })
    }

    /// The last lines the sidecar wrote to stderr.
    pub fn last_words(&self) -> String {
        self.stderr_tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Asks the sidecar to close its client and exit; kills it after `grace`.
    pub fn shutdown(&mut self, grace: Duration) {
        if self.stdin.is_some() {
            let _ = self.send(&Request::Close, &[]);
        }
        // EOF on stdin also closes it, should the request not have gone through.
        self.stdin = None;
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    tracing::debug!(%status, "the Dask sidecar exited");
                    break;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    tracing::warn!("the Dask sidecar did not exit within {grace:?}; killing it");
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.script_dir);
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.shutdown(Duration::from_secs(20));
        }
        let _ = std::fs::remove_dir_all(&self.script_dir);
    }
}

/// Keeps the reader-side counters current.
fn count(live: &Live, event: &Event) {
    match event {
        Event::Connected { workers, threads, .. } | Event::Workers { workers, threads, .. } => {
            live.workers.store(*workers, Ordering::Release);
            live.threads.store(*threads, Ordering::Release);
        }
        Event::Done { .. } | Event::Failed { .. } => {
            live.finished.fetch_add(1, Ordering::AcqRel);
        }
        _ => {}
    }
}

/// A new directory only this user can read, for the script.
fn private_dir() -> Result<PathBuf, DaskError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("smac-dask-{}-{nanos}-{n}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}
