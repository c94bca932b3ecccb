//! The one concept for "something that evaluates a trial": [`TargetFunction`].
//!
//! Closures `Fn(&TrialInfo) -> Result<cost(s), error>` are target functions as they are; a
//! struct implements the trait when it carries state (a data set, a command line). Every
//! runner — the in-process [`crate::SerialRunner`], worker threads, worker processes, Dask —
//! ends in [`evaluate_trial`], so a target's errors, panics and non-finite costs are judged the
//! same way on every path. Failed trials carry no cost here: the SMBO loop gives every failed
//! trial the scenario's `crash_cost` in one place when the result is told.

use crate::trial::{unix_now, AdditionalInfo, StatusType, TrialInfo, TrialValue};
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a target returns: costs (one per objective), optionally a status and extra information.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetOutput {
    /// One cost per objective.
    pub cost: Vec<f64>,
    /// The status; `Success` unless the target says otherwise (e.g. `Doesnotexist`).
    pub status: StatusType,
    /// Extra information stored with the trial.
    pub additional_info: AdditionalInfo,
    /// CPU seconds the evaluation used, when the target measures it itself (a child process);
    /// otherwise the CPU time of the evaluating thread is recorded.
    pub cpu_time: Option<f64>,
}

impl From<f64> for TargetOutput {
    fn from(c: f64) -> Self {
        vec![c].into()
    }
}
impl From<Vec<f64>> for TargetOutput {
    fn from(cost: Vec<f64>) -> Self {
        TargetOutput {
            cost,
            status: StatusType::Success,
            additional_info: AdditionalInfo::new(),
            cpu_time: None,
        }
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

/// Evaluates one trial: a closure `Fn(&TrialInfo) -> Result<cost(s), error>`, or a struct.
///
/// A serializable struct can also be shipped to worker processes and Dask workers (see
/// `smac_runner::ShippableTarget`).
pub trait TargetFunction: Send + Sync {
    /// Evaluates the trial; an `Err` becomes a crashed trial carrying the message.
    fn evaluate(&self, trial: &TrialInfo) -> Result<TargetOutput, String>;
}

impl<F, O, E> TargetFunction for F
where
    F: Fn(&TrialInfo) -> Result<O, E> + Send + Sync,
    O: Into<TargetOutput>,
    E: Display,
{
    fn evaluate(&self, trial: &TrialInfo) -> Result<TargetOutput, String> {
        self(trial).map(Into::into).map_err(|e| e.to_string())
    }
}

/// Runs `target` on `trial` in the calling thread, turning an error or a panic into a
/// `Crashed` value with the reason in `additional_info["error"]`, and measuring the thread's
/// CPU time. A non-finite cost is a crash too; the number of costs is checked when the result
/// is told (the loop knows the objectives).
pub fn evaluate_trial(target: &(impl TargetFunction + ?Sized), trial: &TrialInfo) -> TrialValue {
    let start = unix_now();
    let cpu_start = thread_cpu_seconds();
    let outcome = catch_unwind(AssertUnwindSafe(|| target.evaluate(trial)));
    let mut cpu_time = (thread_cpu_seconds() - cpu_start).max(0.0);
    let mut value = match outcome {
        Ok(Ok(out)) if out.status == StatusType::Success && out.cost.iter().any(|c| !c.is_finite()) => {
            let message = format!("the target returned a non-finite cost {:?}", out.cost);
            TrialValue::failure(StatusType::Crashed, message, start)
        }
        Ok(Ok(out)) => {
            cpu_time = out.cpu_time.unwrap_or(cpu_time);
            let mut v = TrialValue::success(out.cost, start);
            if out.status != StatusType::Success {
                v.cost.clear();
            }
            v.status = out.status;
            v.additional_info = out.additional_info;
            v
        }
        Ok(Err(message)) => TrialValue::failure(StatusType::Crashed, message, start),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the target panicked".to_string());
            TrialValue::failure(StatusType::Crashed, format!("panic: {message}"), start)
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
        let ok = |t: &TrialInfo| Ok::<_, String>(t.config.get_f64("x").unwrap());
        let v = evaluate_trial(&ok, &trial());
        assert_eq!((v.status, v.cost.clone()), (StatusType::Success, vec![0.5]));

        let err = |_: &TrialInfo| Err::<f64, _>("solver diverged");
        let v = evaluate_trial(&err, &trial());
        assert_eq!(v.status, StatusType::Crashed);
        assert!(v.cost.is_empty(), "the crash cost is the loop's to apply");
        assert_eq!(v.error_message(), Some("solver diverged"));

        let nan = |_: &TrialInfo| Ok::<_, String>(f64::NAN);
        let v = evaluate_trial(&nan, &trial());
        assert_eq!(v.status, StatusType::Crashed);
        assert!(v.error_message().unwrap().contains("non-finite"), "{v:?}");

        let panics = |_: &TrialInfo| -> Result<f64, String> { panic!("index out of bounds") };
        let v = evaluate_trial(&panics, &trial());
        assert_eq!(v.status, StatusType::Crashed);
        assert!(v.error_message().unwrap().contains("index out of bounds"));
    }

    #[test]
    fn cost_checks_name_the_problem() {
        assert!(check_costs(&[1.0, 2.0], 1).unwrap_err().contains("2 costs for 1 objectives"));
        assert!(check_costs(&[f64::NAN], 1).unwrap_err().contains("non-finite"));
        assert!(check_costs(&[0.5], 1).is_ok());
    }
}
