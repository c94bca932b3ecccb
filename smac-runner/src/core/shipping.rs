//! Shipping targets to workers: [`ShippableTarget`] and how workers rebuild one.
//!
//! Rust cannot ship closures between processes, so a worker process is a binary that knows the
//! target's type (the user's own binary, or `smac-worker` for command targets) and the optimizer
//! sends the target serialized (serde + bincode). Each shippable type declares a stable
//! [`ShippableTarget::NAME`]; a worker announces the names it can decode, and the scheduler only
//! sends a target to workers that understand it. The name is declared, not derived from
//! `std::any::type_name`, whose output the compiler does not promise to keep stable between
//! builds — and the optimizer and its workers may be different builds.

use crate::protocol::TrialLimits;
use crate::resources::Resources;
use serde::de::DeserializeOwned;
use serde::Serialize;
use smac_core::TargetFunction;
use std::sync::Arc;

/// A target function that can travel to worker processes and Dask workers.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # use smac_core::{TargetFunction, TargetOutput, TrialInfo};
/// #[derive(Serialize, Deserialize)]
/// struct Quadratic;
/// impl TargetFunction for Quadratic {
///     fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
///         Ok(t.config.get_f64("x").unwrap().powi(2).into())
///     }
/// }
/// impl smac_runner::ShippableTarget for Quadratic {
///     const NAME: &'static str = "quadratic";
/// }
/// ```
pub trait ShippableTarget: TargetFunction + Serialize + DeserializeOwned + 'static {
    /// The stable name the optimizer and its workers know this type by; unique per type
    /// within one worker program (for example `"my-crate.train-model"`).
    const NAME: &'static str;
}

/// Builds a target of a known type from its bincode payload.
pub type TargetDecoder = fn(&[u8]) -> Result<Arc<dyn TargetFunction>, String>;

/// The [`TargetDecoder`] of `T`.
pub fn decoder<T: ShippableTarget>() -> TargetDecoder {
    |bytes| {
        bincode::deserialize::<T>(bytes)
            .map(|t| Arc::new(t) as Arc<dyn TargetFunction>)
            .map_err(|e| format!("cannot decode target '{}': {e}", T::NAME))
    }
}

/// A target as the scheduler keeps it: serialized once, plus what in-process workers need.
pub(crate) struct TargetSpec {
    /// Scheduler-wide id of the parallel runner this target belongs to.
    pub id: u64,
    /// The declared name ([`ShippableTarget::NAME`]); `None` for in-process-only targets.
    pub tag: Option<String>,
    /// The bincode payload shipped to worker processes; `None` for in-process-only targets.
    pub payload: Option<Arc<[u8]>>,
    /// How in-process workers build their own copy from the payload.
    pub decoder: Option<TargetDecoder>,
    /// A shared instance for in-process workers when the target is not serializable.
    pub local: Option<Arc<dyn TargetFunction>>,
    /// Limits workers enforce per trial.
    pub limits: TrialLimits,
    /// Resources each trial claims on its worker.
    pub resources: Resources,
}

impl TargetSpec {
    /// A serialized target for worker processes (and in-process workers, which decode it).
    pub fn shipped<T: ShippableTarget>(
        target: &T,
        limits: TrialLimits,
        resources: Resources,
    ) -> Result<Self, String> {
        let payload = bincode::serialize(target)
            .map_err(|e| format!("cannot serialize the target '{}': {e}", T::NAME))?;
        Ok(TargetSpec {
            id: 0,
            tag: Some(T::NAME.to_string()),
            payload: Some(Arc::from(payload)),
            decoder: Some(decoder::<T>()),
            local: None,
            limits,
            resources,
        })
    }

    /// A target that only in-process worker threads can run (a closure).
    pub fn in_process(target: Arc<dyn TargetFunction>, limits: TrialLimits, resources: Resources) -> Self {
        TargetSpec { id: 0, tag: None, payload: None, decoder: None, local: Some(target), limits, resources }
    }

    /// The target an in-process worker uses: the shared instance, or a decoded copy.
    pub fn local_target(&self) -> Result<Arc<dyn TargetFunction>, String> {
        if let Some(local) = &self.local {
            return Ok(local.clone());
        }
        match (&self.payload, self.decoder) {
            (Some(bytes), Some(decode)) => decode(bytes),
            _ => Err("the target has neither an instance nor a payload".into()),
        }
    }

    /// The name used in messages.
    pub fn label(&self) -> &str {
        self.tag.as_deref().unwrap_or("in-process target")
    }
}
