//! The runner interface between the SMBO loop and whatever evaluates trials, and the serial
//! adapter [`SerialRunner`].
//!
//! The loop only talks to [`Runner`]: it submits [`TrialInfo`]s while
//! [`Runner::count_available_workers`] is positive and collects `(TrialInfo, TrialValue)` pairs
//! from [`Runner::iter_results`]. With one worker the [`SerialRunner`] evaluates a trial right
//! inside `submit_trial`, so a sequential run pays no scheduling overhead at all. Parallel
//! runners live in `smac-runner` (`DaskStyleParallelRunner` over threads, worker processes, a
//! cluster or Dask).

use crate::target::{evaluate_trial, TargetFunction};
use crate::trial::{TrialInfo, TrialValue};
use std::collections::VecDeque;
use std::sync::Arc;
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
    /// The wait was interrupted (Ctrl-C); every finished result is kept.
    #[error("interrupted")]
    Interrupted,
    /// The cluster itself (its scheduler) was lost mid-run. The trials then in flight are not
    /// recorded (an infrastructure failure is not the target's); a resumed run runs them again.
    #[error(
        "the cluster was lost: {reason}; {in_flight} trial(s) in flight were not recorded and run again when the run is continued"
    )]
    ClusterLost {
        /// What happened to the cluster.
        reason: String,
        /// How many trials were in flight.
        in_flight: usize,
    },
    /// The runner or its cluster has been shut down.
    #[error("the runner is closed")]
    Closed,
    /// A setting of the runner or its cluster is unusable; `field` names it.
    #[error("invalid runner setting '{field}': {message}")]
    Config {
        /// The setting (scenario key, option or flag name).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An I/O or network failure.
    #[error("runner I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Any other failure, with its message.
    #[error("runner error: {0}")]
    Other(String),
}

/// Evaluates trials. Implemented by the serial runner, the parallel runner and clients of
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
    /// Workers connected right now (for progress displays; 1 for in-process runners).
    fn n_workers(&self) -> usize {
        1
    }
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
    fn n_workers(&self) -> usize {
        (**self).n_workers()
    }
    fn close(&mut self) -> Result<(), RunnerError> {
        (**self).close()
    }
}

/// The serial runner: evaluates each trial in the calling thread, inside `submit_trial`.
pub struct SerialRunner {
    target: Arc<dyn TargetFunction>,
    finished: VecDeque<(TrialInfo, TrialValue)>,
}

impl SerialRunner {
    /// A runner for `target` (a closure or a [`TargetFunction`] struct).
    pub fn new(target: impl TargetFunction + 'static) -> Self {
        Self::shared(Arc::new(target))
    }

    /// A runner for a target shared with other runners.
    pub fn shared(target: Arc<dyn TargetFunction>) -> Self {
        SerialRunner { target, finished: VecDeque::new() }
    }

    /// Evaluates one trial now and returns its value.
    pub fn run(&self, trial: &TrialInfo) -> TrialValue {
        evaluate_trial(&*self.target, trial)
    }

    /// The wrapped target.
    pub fn target(&self) -> &Arc<dyn TargetFunction> {
        &self.target
    }
}

impl Runner for SerialRunner {
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

    fn trial(seed: u64) -> TrialInfo {
        let mut cs = ConfigSpace::new("t");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        TrialInfo::new(Arc::new(cs).default_configuration(), Some(seed))
    }

    #[test]
    fn serial_runner_returns_results_in_order() {
        let mut r = SerialRunner::new(|t: &TrialInfo| Ok::<_, String>(t.seed.unwrap() as f64));
        for s in 0..3 {
            r.submit_trial(trial(s)).unwrap();
        }
        assert!(r.is_running());
        let costs: Vec<f64> = r.iter_results().iter().map(|(_, v)| v.cost[0]).collect();
        assert_eq!(costs, vec![0.0, 1.0, 2.0]);
        assert!(!r.is_running());
    }
}
