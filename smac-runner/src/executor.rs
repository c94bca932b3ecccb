//! What a worker runs: single-worker runners, type-erased behind [`TrialExecutor`].
//!
//! Rust cannot ship closures between processes, so the parallel runner ships a *serialized*
//! single-worker runner ([`ShippableRunner`]) and the worker binary, which knows the concrete
//! type, deserializes it. The type's name is its tag: a worker announces which tags it can
//! decode, and the scheduler only sends a runner to workers that understand it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use smac_core::{TargetFunction, TargetFunctionRunner, TrialInfo, TrialValue};
use std::sync::Arc;

/// Evaluates one trial in the calling thread; what every worker ultimately calls.
pub trait TrialExecutor: Send + Sync + 'static {
    /// Runs the trial and reports its value (failures are values too, never panics).
    fn execute(&self, trial: &TrialInfo) -> TrialValue;
    /// The cost given to trials that fail outside the target (worker death, timeouts).
    fn crash_cost(&self) -> Vec<f64>;
}

impl<T: TargetFunction + 'static> TrialExecutor for TargetFunctionRunner<T> {
    fn execute(&self, trial: &TrialInfo) -> TrialValue {
        self.run(trial)
    }
    fn crash_cost(&self) -> Vec<f64> {
        TargetFunctionRunner::crash_cost(self).to_vec()
    }
}

/// A single-worker runner that can travel to worker processes (serde + bincode).
pub trait ShippableRunner: TrialExecutor + Serialize + DeserializeOwned {}
impl<R: TrialExecutor + Serialize + DeserializeOwned> ShippableRunner for R {}

/// A target function that can travel to worker processes inside a [`TargetFunctionRunner`].
pub trait ShippableTarget: TargetFunction + Serialize + DeserializeOwned + 'static {}
impl<T: TargetFunction + Serialize + DeserializeOwned + 'static> ShippableTarget for T {}

/// The tag that identifies a shippable runner type between scheduler and workers: its type
/// name without module paths (`TargetFunctionRunner<MyTarget>`), so that the optimizer and a
/// worker binary that both include the target's definition agree, whatever their crate.
pub fn runner_tag<R: ShippableRunner>() -> String {
    strip_paths(std::any::type_name::<R>())
}

/// Removes every `module::` prefix from a type name.
fn strip_paths(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut ident = String::new();
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            ident.push(c);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            ident.clear();
        } else {
            out.push_str(&ident);
            ident.clear();
            out.push(c);
        }
    }
    out.push_str(&ident);
    out
}

/// Builds a runner of a known type from its bincode payload.
pub type RunnerDecoder = fn(&[u8]) -> Result<Arc<dyn TrialExecutor>, String>;

/// The [`RunnerDecoder`] of `R`.
pub fn decoder<R: ShippableRunner>() -> RunnerDecoder {
    |bytes| {
        bincode::deserialize::<R>(bytes)
            .map(|r| Arc::new(r) as Arc<dyn TrialExecutor>)
            .map_err(|e| format!("cannot decode runner {}: {e}", std::any::type_name::<R>()))
    }
}

/// A runner as the scheduler keeps it: serialized once, plus what in-process workers need.
pub(crate) struct RunnerSpec {
    /// Scheduler-wide id of the parallel runner.
    pub id: u64,
    /// Type tag (see [`runner_tag`]); `None` for in-process-only runners.
    pub tag: Option<String>,
    /// The bincode payload shipped to worker processes; `None` for in-process-only runners.
    pub payload: Option<Arc<[u8]>>,
    /// How in-process workers build their own copy from the payload.
    pub decoder: Option<RunnerDecoder>,
    /// A shared instance for in-process workers when the runner is not serializable.
    pub local: Option<Arc<dyn TrialExecutor>>,
    /// Cost of trials that fail outside the target.
    pub crash_cost: Vec<f64>,
    /// Limits workers enforce per trial.
    pub limits: crate::protocol::TrialLimits,
    /// Resources each trial claims on its worker.
    pub resources: crate::resources::Resources,
}

impl RunnerSpec {
    /// The executor an in-process worker uses: the shared instance, or a decoded copy.
    pub fn local_executor(&self) -> Result<Arc<dyn TrialExecutor>, String> {
        if let Some(local) = &self.local {
            return Ok(local.clone());
        }
        match (&self.payload, self.decoder) {
            (Some(bytes), Some(decode)) => decode(bytes),
            _ => Err("the runner has neither an instance nor a payload".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_drop_module_paths() {
        assert_eq!(
            super::strip_paths("smac_core::runner::TargetFunctionRunner<a::b::T<c::U, [f64; 2]>>"),
            "TargetFunctionRunner<T<U, [f64; 2]>>"
        );
        assert_eq!(super::runner_tag::<crate::CommandRunner>(), "CommandRunner");
    }
}
