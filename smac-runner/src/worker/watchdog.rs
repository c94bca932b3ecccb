//! Per-trial limits for in-process Rust targets inside a worker process.
//!
//! A thread cannot be killed, so when a trial exceeds its walltime or memory limit the
//! watchdog reports it (`Timeout` / `MemoryOut`) on the worker's connection and ends the whole
//! worker process; a local cluster then starts a replacement. Memory is the growth of the
//! worker's resident set during the trial, polled every few milliseconds: best effort, unlike
//! the hard `RLIMIT_AS` that [`crate::CommandTarget`] puts on its child processes.

use crate::protocol::{ToScheduler, TrialLimits};
use crate::worker::outbox::{send, EXIT_TRIAL_LIMIT};
use smac_core::{StatusType, TrialValue};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often memory is sampled while a limited trial runs.
const MEMORY_POLL: Duration = Duration::from_millis(10);

/// Watches the trial a worker is running.
pub(crate) struct Watchdog {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<Option<Watch>>,
    /// Set when the worker's connection ends; the thread exits.
    stopped: AtomicBool,
    wake: Condvar,
    out: Arc<Mutex<TcpStream>>,
    max_frame: usize,
}

struct Watch {
    key: u64,
    limits: TrialLimits,
    deadline: Option<Instant>,
    baseline_rss: u64,
    start_unix: f64,
}

impl Watchdog {
    /// Starts the watchdog thread for a worker writing to `out`.
    pub fn start(out: Arc<Mutex<TcpStream>>, max_frame: usize) -> std::io::Result<Watchdog> {
        let inner = Arc::new(Inner {
            state: Mutex::new(None),
            stopped: AtomicBool::new(false),
            wake: Condvar::new(),
            out,
            max_frame,
        });
        let thread_inner = inner.clone();
        std::thread::Builder::new().name("smac-watchdog".into()).spawn(move || thread_inner.watch())?;
        Ok(Watchdog { inner })
    }

    /// Runs `f` under `limits`; `None` when the watchdog already reported the trial and is
    /// ending the process.
    pub fn run(&self, key: u64, limits: TrialLimits, f: impl FnOnce() -> TrialValue) -> Option<TrialValue> {
        if limits.walltime_s.is_none() && limits.memory_mb.is_none() {
            return Some(f());
        }
        *self.inner.lock() = Some(Watch {
            key,
            limits,
            deadline: limits.walltime_s.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0))),
            baseline_rss: resident_bytes(),
            start_unix: smac_core::trial::unix_now(),
        });
        self.inner.wake.notify_one();
        let value = f();
        let mut state = self.inner.lock();
        if state.as_ref().is_some_and(|w| w.key == key) {
            *state = None;
            Some(value)
        } else {
            None
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _guard = self.inner.lock();
        self.inner.stopped.store(true, Ordering::Release);
        self.inner.wake.notify_all();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Option<Watch>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watch(&self) {
        let mut state = self.lock();
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            let Some(w) = state.as_ref() else {
                state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let now = Instant::now();
            if w.deadline.is_some_and(|d| now >= d) {
                let msg = format!(
                    "the trial exceeded its walltime limit of {} s",
                    w.limits.walltime_s.unwrap_or(0.0)
                );
                return self.fire(state, StatusType::Timeout, msg);
            }
            if let Some(mb) = w.limits.memory_mb {
                let grown = resident_bytes().saturating_sub(w.baseline_rss);
                if grown > mb.saturating_mul(1 << 20) {
                    let msg = format!(
                        "the trial exceeded its memory limit of {mb} MB (grew by {} MB)",
                        grown >> 20
                    );
                    return self.fire(state, StatusType::MemoryOut, msg);
                }
            }
            let mut pause =
                w.deadline.map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(now));
            if w.limits.memory_mb.is_some() {
                pause = pause.min(MEMORY_POLL);
            }
            state = self.wake.wait_timeout(state, pause).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Reports the trial and ends the worker process (its target may still be running).
    fn fire(&self, mut state: MutexGuard<'_, Option<Watch>>, status: StatusType, message: String) {
        let w = state.take().expect("a watched trial");
        drop(state);
        tracing::warn!(key = w.key, "{message}; ending this worker");
        let value = TrialValue::failure(status, message, w.start_unix);
        if let Err(e) = send(&self.out, &ToScheduler::Result { key: w.key, value }, self.max_frame) {
            tracing::error!("could not report the trial that hit its limit: {e}");
        }
        std::process::exit(EXIT_TRIAL_LIMIT);
    }
}

/// Resident memory of this process in bytes (0 when /proc is unavailable).
pub(crate) fn resident_bytes() -> u64 {
    process_resident_bytes("self")
}

/// Resident memory of process `pid` ("self" for this one) in bytes, from `/proc/<pid>/statm`.
pub(crate) fn process_resident_bytes(pid: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else { return 0 };
    let pages: u64 = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * if page > 0 { page as u64 } else { 4096 }
}
