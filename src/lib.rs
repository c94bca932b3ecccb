//! smac-rs: Sequential Model-based Algorithm Configuration with a parallel and distributed runner.
//!
//! ```no_run
//! use smac::{ConfigSpace, Hyperparameter, RandomFacade, Scenario, TrialInfo};
//! let mut space = ConfigSpace::new("demo");
//! space.add(Hyperparameter::float("x", -5.0, 5.0)).unwrap();
//! let scenario = Scenario::builder(space).n_trials(50).deterministic(true).build().unwrap();
//! let mut smac = RandomFacade::new(scenario, |t: &TrialInfo| {
//!     let x = t.config.get_f64("x").unwrap();
//!     Ok::<_, String>((x - 1.0).powi(2))
//! })
//! .unwrap();
//! let incumbent = smac.optimize().unwrap();
//! ```

#![warn(missing_docs)]

pub mod benchmarks;
#[cfg(feature = "cli")]
pub mod cli;
pub mod facade;

pub use facade::{
    AlgorithmConfigurationFacade, BlackBoxFacade, FacadeBuilder, HyperbandFacade,
    HyperparameterOptimizationFacade, MultiFidelityFacade, Optimizer, RandomFacade,
};
pub use smac_core::configspace::{
    Condition, ConfigSpace, ConfigSpaceError, Configuration, Forbidden, Hyperparameter, Relation, Value,
};
pub use smac_core::{
    Callback, DesignKind, InitialDesign, Interleaved, RunHistory, RunState, Runner, RunnerError, Scenario,
    SerialRunner, SmacError, StatusType, TargetFunction, TargetOutput, TrialInfo, TrialValue,
};

/// The core crate: config space, scenario, run history, intensifiers, the SMBO loop.
pub use smac_core as core;
/// Runners: parallel and distributed evaluation.
pub use smac_runner as runner;
/// Surrogate models: random forest, Gaussian process.
pub use smac_surrogate as surrogate;
