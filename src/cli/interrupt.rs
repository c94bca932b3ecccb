//! Ctrl-C (SIGINT) and SIGTERM: the first stops the run cleanly, the second aborts it.
//!
//! First signal: no new trial is submitted (the [`Interruptible`] runner refuses, and the
//! [`StopOnInterrupt`] callback makes the loop stop at the next result); trials already
//! running finish and are recorded; the run directory is saved. Second signal: abort — the
//! target processes still running are killed, their results are dropped (they are not written
//! to the run history and are asked again when the run is resumed), and the loop returns at
//! once. Either way, re-running the same command resumes the run.

use super::output;
use smac_core::{Callback, RunState, Runner, RunnerError, TrialInfo, TrialValue};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How many termination signals arrived, and a flag that ends waits for workers at once.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicUsize>, Arc<AtomicBool>);

impl Interrupt {
    /// Installs the SIGINT/SIGTERM handler; the returned handle observes it.
    pub fn install() -> Result<Interrupt, ctrlc::Error> {
        let state = Interrupt::default();
        let seen = state.clone();
        ctrlc::set_handler(move || match seen.count() {
            0 => output::notice(
                "interrupted: no new trials; waiting for the running ones to finish (Ctrl-C again to abort)",
            ),
            1 => {
                output::notice("aborting: killing the running trials; they will be run again on resume");
                kill_targets();
            }
            _ => std::process::exit(130),
        })?;
        Ok(state)
    }

    /// Counts one signal; returns how many came before.
    fn count(&self) -> usize {
        self.1.store(true, Ordering::SeqCst);
        self.0.fetch_add(1, Ordering::SeqCst)
    }

    /// The flag the runner watches: set by the first signal, it ends any wait for a worker
    /// (patience, a scheduler file) at once.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.1.clone()
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }

    /// Whether an abort was requested (a second signal).
    pub fn aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 1
    }

    /// Simulates a signal (tests).
    pub fn raise(&self) {
        self.count();
    }
}

/// Stops the SMBO loop at the first result after a signal.
pub struct StopOnInterrupt(pub Interrupt);

impl Callback for StopOnInterrupt {
    fn on_tell(&mut self, _state: &RunState<'_>, _trial: &TrialInfo, _value: &TrialValue) -> bool {
        !self.0.requested()
    }
}

/// A runner that stops accepting trials after a signal, and drops results after an abort.
pub struct Interruptible<R> {
    inner: R,
    interrupt: Interrupt,
}

impl<R: Runner> Interruptible<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, interrupt: Interrupt) -> Self {
        Interruptible { inner, interrupt }
    }
}

impl<R: Runner> Runner for Interruptible<R> {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        if self.interrupt.requested() {
            // The loop forgets the trial; it was never started.
            return Err(RunnerError::Interrupted);
        }
        self.inner.submit_trial(trial)
    }

    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        let results = self.inner.iter_results();
        if self.interrupt.aborted() {
            if !results.is_empty() {
                tracing::info!(n = results.len(), "dropping the results of aborted trials");
            }
            return Vec::new();
        }
        results
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), RunnerError> {
        if self.interrupt.aborted() {
            return Err(RunnerError::Interrupted);
        }
        // Short slices, so that an abort is noticed quickly.
        let slice = Duration::from_millis(100);
        self.inner.wait(Some(timeout.map_or(slice, |t| t.min(slice))))
    }

    fn is_running(&self) -> bool {
        self.inner.is_running()
    }

    fn count_available_workers(&self) -> usize {
        if self.interrupt.requested() {
            0
        } else {
            self.inner.count_available_workers()
        }
    }

    fn n_workers(&self) -> usize {
        self.inner.n_workers()
    }

    fn close(&mut self) -> Result<(), RunnerError> {
        self.inner.close()
    }
}

/// Kills the process group of every descendant that leads one: command targets run in their
/// own group, so this ends them and whatever they started, while the worker processes (which
/// share our group) stay and report the killed trials, whose results are then dropped.
fn kill_targets() {
    for pid in descendants(std::process::id()) {
        // SAFETY: plain syscalls on process ids we just read; failures are harmless.
        unsafe {
            if libc::getpgid(pid as libc::pid_t) == pid as libc::pid_t {
                libc::killpg(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// All descendants of `pid` (Linux: `/proc/PID/task/TID/children`; elsewhere none).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("children")) else { continue };
            for child in text.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
                out.push(child);
                stack.push(child);
            }
        }
    }
    out
}
