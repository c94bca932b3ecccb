//! [`Backend`]: where trials run, as the runner core sees it.

use smac_core::{RunnerError, TrialInfo, TrialValue};
use std::sync::Arc;
use std::time::Duration;

/// Environment variables set while one trial runs (e.g. `CUDA_VISIBLE_DEVICES`).
pub type TrialEnv = Arc<[(String, String)]>;

/// What a backend reports.
#[derive(Debug)]
pub enum BackendEvent {
    /// The target ran to an outcome: a success or the target's own failure (a crash, a
    /// timeout, running out of memory). Failures carry no cost; the SMBO loop applies the
    /// crash cost.
    Finished {
        /// The sequence number the trial was submitted with.
        seq: u64,
        /// Its value.
        value: TrialValue,
    },
    /// The infrastructure lost the trial (its worker died, a connection dropped) before the
    /// target reported: the core runs it again or, after its retries, reports it crashed.
    Lost {
        /// The sequence number the trial was submitted with.
        seq: u64,
        /// What happened, for the trial's `additional_info`.
        reason: String,
    },
    /// The number of usable workers changed.
    Workers,
}

/// Starts trials somewhere and reports their outcomes; the core does all bookkeeping.
pub trait Backend: Send + 'static {
    /// The backend as `Any`, to reach its own API (counters) through the runner.
    fn as_any(&self) -> &dyn std::any::Any;
    /// A short description for messages ("local cluster of 4 worker processes", "Dask
    /// scheduler tcp://…").
    fn describe(&self) -> String;
    /// Trials that can run at once on the workers able to run ours (0 when none is connected).
    fn capacity(&self) -> usize;
    /// Worker processes or threads connected right now.
    fn n_workers(&self) -> usize;
    /// Starts `trial`; its outcome comes back as an event with the same `seq`.
    fn submit(&mut self, seq: u64, trial: &TrialInfo, env: &TrialEnv) -> Result<(), RunnerError>;
    /// The next event, waiting at most `timeout` (`None`: until one arrives); `Ok(None)` when
    /// the time passed without one.
    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<BackendEvent>, RunnerError>;
    /// Sends a named blob once to every worker, including workers that join later.
    fn scatter(&mut self, name: &str, data: Arc<[u8]>) -> Result<(), RunnerError>;
    /// Whether the backend can still run trials (its scheduler, sidecar or cluster is up).
    fn is_alive(&self) -> bool;
    /// Releases what the backend owns (local workers, our client session); a user's cluster
    /// keeps running.
    fn close(&mut self);
}
