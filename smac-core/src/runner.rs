//! The runner interface between the SMBO loop and whatever evaluates trials, and the
//! in-process single-worker runner.
//!
//! The loop only talks to [`Runner`]: it submits [`TrialInfo`]s while
//! [`Runner::count_available_workers`] is positive and collects `(TrialInfo, TrialValue)` pairs
//! from [`Runner::iter_results`]. With one worker the [`TargetFunctionRunner`] evaluates a trial
//! right inside `submit_trial`, so a sequential run pays no scheduling overhead at all.

use crate::trial::{unix_now, AdditionalInfo, StatusType, TrialInfo, TrialValue};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;
use thiserror::Error;

/// Why a runner could not accept or deliver trials.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// No worker became free within the patience.
    #[error("no worker became available within the patience of {patience_s} s ({detail})")]
    NoWorkerAvailable {
        /// The patience, in seconds.
        patience_s: f64,
        /// What differs or what was seen.
        detail: String,
    },
    /// The runner or its cluster has been shut down.
    #[error("the runner is closed")]
    Closed,
    /// An I/O or network failure.
    #[error("runner I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Any other failure, with its message.
    #[error("runner error: {0}")]
    Other(String),
}

/// Evaluates trials. Implemented by the in-process runner, the parallel runner and clients of
/// remote clusters; the SMBO loop is generic over it.
pub trait Runner {
    /// Starts a trial (or runs it at once, for in-process runners).
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError>;
    /// Takes every result that has finished since the last call.
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)>;
    /// Blocks until at least one result is ready, nothing is running, or `timeout` passed.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), RunnerError>;
    /// Whether any submitted trial has not been collected yet.
    fn is_running(&self) -> bool;
    /// How many more trials could start right now (free worker slots).
    fn count_available_workers(&self) -> usize;
    /// Releases what the runner owns (local workers); never closes a user's cluster.
    fn close(&mut self) -> Result<(), RunnerError> {
        Ok(())
    }
}

impl<R: Runner + ?Sized> Runner for Box<R> {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        (**self).submit_trial(trial)
    }
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        (**self).iter_results()
    }
    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), RunnerError> {
        (**self).wait(timeout)
    }
    fn is_running(&self) -> bool {
        (**self).is_running()
    }
    fn count_available_workers(&self) -> usize {
        (**self).count_available_workers()
    }
    fn close(&mut self) -> Result<(), RunnerError> {
        (**self).close()
    }
}

/// What a target returns: costs (one per objective), optionally a status and extra information.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetOutput {
    /// One cost per objective.
    pub cost: Vec<f64>,
    /// The status; `Success` unless the target says otherwise (e.g. `Doesnotexist`).
    pub status: StatusType,
    /// Extra information stored with the trial.
    pub additional_info: AdditionalInfo,
}

impl From<f64> for TargetOutput {
    fn from(c: f64) -> Self {
        TargetOutput { cost: vec![c], status: StatusType::Success, additional_info: AdditionalInfo::new() }
    }
}
impl From<Vec<f64>> for TargetOutput {
    fn from(cost: Vec<f64>) -> Self {
        TargetOutput { cost, status: StatusType::Success, additional_info: AdditionalInfo::new() }
    }
}
impl<const N: usize> From<[f64; N]> for TargetOutput {
    fn from(c: [f64; N]) -> Self {
        c.to_vec().into()
    }
}
impl From<(f64, AdditionalInfo)> for TargetOutput {
    fn from((c, info): (f64, AdditionalInfo)) -> Self {
        TargetOutput { additional_info: info, ..c.into() }
    }
}

/// Something that evaluates one trial. Closures get it through [`FnTarget`]; a serializable
/// struct implementing it can also be shipped to worker processes.
pub trait TargetFunction: Send + Sync {
    /// Evaluates the trial; an `Err` becomes a crashed trial carrying the message.
    fn evaluate(&self, trial: &TrialInfo) -> Result<TargetOutput, String>;
}

/// Adapts a closure `Fn(&TrialInfo) -> Result<O, E>` into a [`TargetFunction`].
pub struct FnTarget<F>(pub F);

impl<F, O, E> TargetFunction for FnTarget<F>
where
    F: Fn(&TrialInfo) -> Result<O, E> + Send + Sync,
    O: Into<TargetOutput>,
    E: Display,
{
    fn evaluate(&self, trial: &TrialInfo) -> Result<TargetOutput, String> {
        (self.0)(trial).map(Into::into).map_err(|e| e.to_string())
    }
}

/// Runs `target` on `trial`, turning errors, panics, non-finite costs and a wrong number of
/// costs into a `Crashed` value with `crash_cost` and the reason in `additional_info["error"]`.
pub fn execute_trial(
    target: &(impl TargetFunction + ?Sized),
    trial: &TrialInfo,
    crash_cost: &[f64],
) -> TrialValue {
    let start = unix_now();
    let cpu_start = thread_cpu_seconds();
    let outcome = catch_unwind(AssertUnwindSafe(|| target.evaluate(trial)));
    let cpu_time = (thread_cpu_seconds() - cpu_start).max(0.0);
    let mut value = match outcome {
        Ok(Ok(out)) => match check_costs(&out.cost, crash_cost.len()) {
            Ok(()) if out.status == StatusType::Success => {
                let mut v = TrialValue::success(out.cost, start);
                v.additional_info = out.additional_info;
                v
            }
            Ok(()) => {
                let mut v = TrialValue::success(crash_cost.to_vec(), start);
                v.status = out.status;
                v.additional_info = out.additional_info;
                v
            }
            Err(reason) => TrialValue::failure(StatusType::Crashed, crash_cost.to_vec(), reason, start),
        },
        Ok(Err(message)) => TrialValue::failure(StatusType::Crashed, crash_cost.to_vec(), message, start),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the target panicked".to_string());
            TrialValue::failure(StatusType::Crashed, crash_cost.to_vec(), format!("panic: {message}"), start)
        }
    };
    value.cpu_time = cpu_time;
    value
}

/// Checks that a target returned one finite cost per objective.
pub fn check_costs(cost: &[f64], n_objectives: usize) -> Result<(), String> {
    if cost.len() != n_objectives {
        return Err(format!("the target returned {} costs for {} objectives", cost.len(), n_objectives));
    }
    match cost.iter().position(|c| !c.is_finite()) {
        Some(k) => Err(format!("the target returned a non-finite cost {} for objective {k}", cost[k])),
        None => Ok(()),
    }
}

/// CPU seconds used by the calling thread.
pub fn thread_cpu_seconds() -> f64 {
    clock_seconds(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU seconds used by this process (all threads), as SMAC3's `cputime_limit` counts.
pub fn process_cpu_seconds() -> f64 {
    clock_seconds(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock_seconds(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own; the clock ids are valid on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        0.0
    }
}

/// The single-worker runner: evaluates each trial in the calling thread, inside `submit_trial`.
///
/// It is serializable when its target is, which is how the parallel runner ships it to workers.
#[derive(Serialize, Deserialize)]
pub struct TargetFunctionRunner<T> {
    target: T,
    crash_cost: Vec<f64>,
    #[serde(skip)]
    finished: VecDeque<(TrialInfo, TrialValue)>,
}

impl<T: TargetFunction> TargetFunctionRunner<T> {
    /// A runner for `target`; failed trials get `crash_cost` (one entry per objective).
    pub fn new(target: T, crash_cost: Vec<f64>) -> Self {
        TargetFunctionRunner { target, crash_cost, finished: VecDeque::new() }
    }

    /// Evaluates one trial now and returns its value.
    pub fn run(&self, trial: &TrialInfo) -> TrialValue {
        execute_trial(&self.target, trial, &self.crash_cost)
    }

    /// The wrapped target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The cost given to failed trials.
    pub fn crash_cost(&self) -> &[f64] {
        &self.crash_cost
    }
}

impl<F, O, E> TargetFunctionRunner<FnTarget<F>>
where
    F: Fn(&TrialInfo) -> Result<O, E> + Send + Sync,
    O: Into<TargetOutput>,
    E: Display,
{
    /// A runner for a closure `Fn(&TrialInfo) -> Result<cost(s), error>`.
    pub fn from_fn(f: F, crash_cost: Vec<f64>) -> Self {
        Self::new(FnTarget(f), crash_cost)
    }
}

impl<T: TargetFunction> Runner for TargetFunctionRunner<T> {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        let value = self.run(&trial);
        self.finished.push_back((trial, value));
        Ok(())
    }
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        self.finished.drain(..).collect()
    }
    fn wait(&mut self, _timeout: Option<Duration>) -> Result<(), RunnerError> {
        Ok(())
    }
    fn is_running(&self) -> bool {
        !self.finished.is_empty()
    }
    fn count_available_workers(&self) -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{ConfigSpace, Hyperparameter};
    use std::sync::Arc;

    fn trial() -> TrialInfo {
        let mut cs = ConfigSpace::new("t");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        TrialInfo::new(Arc::new(cs).default_configuration(), Some(1))
    }

    #[test]
    fn failures_become_crashed_trials_with_messages() {
        let crash = vec![99.0];
        let ok = TargetFunctionRunner::from_fn(
            |t: &TrialInfo| Ok::<_, String>(t.config.get_f64("x").unwrap()),
            crash.clone(),
        );
        let v = ok.run(&trial());
        assert_eq!((v.status, v.cost.clone()), (StatusType::Success, vec![0.5]));

        let err =
            TargetFunctionRunner::from_fn(|_: &TrialInfo| Err::<f64, _>("solver diverged"), crash.clone());
        let v = err.run(&trial());
        assert_eq!((v.status, v.cost.clone()), (StatusType::Crashed, crash.clone()));
        assert_eq!(v.error_message(), Some("solver diverged"));

        let panics = TargetFunctionRunner::from_fn(
            |_: &TrialInfo| -> Result<f64, String> { panic!("index out of bounds") },
            crash.clone(),
        );
        let v = panics.run(&trial());
        assert_eq!(v.status, StatusType::Crashed);
        assert!(v.error_message().unwrap().contains("index out of bounds"));

        let nan = TargetFunctionRunner::from_fn(|_: &TrialInfo| Ok::<_, String>(f64::NAN), crash.clone());
        let v = nan.run(&trial());
        assert_eq!((v.status, v.cost.clone()), (StatusType::Crashed, crash.clone()));
        assert!(v.error_message().unwrap().contains("non-finite"));

        let two = TargetFunctionRunner::from_fn(|_: &TrialInfo| Ok::<_, String>([1.0, 2.0]), crash.clone());
        assert!(two.run(&trial()).error_message().unwrap().contains("2 costs for 1 objectives"));
    }

    #[test]
    fn in_process_runner_returns_results_in_order() {
        let mut r =
            TargetFunctionRunner::from_fn(|t: &TrialInfo| Ok::<_, String>(t.seed.unwrap() as f64), vec![1e9]);
        for s in 0..3 {
            let mut t = trial();
            t.seed = Some(s);
            r.submit_trial(t).unwrap();
        }
        assert!(r.is_running());
        let costs: Vec<f64> = r.iter_results().iter().map(|(_, v)| v.cost[0]).collect();
        assert_eq!(costs, vec![0.0, 1.0, 2.0]);
        assert!(!r.is_running());
    }
}
