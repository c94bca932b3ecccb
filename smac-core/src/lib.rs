#![warn(missing_docs)]
//! Core of smac-rs: config space, scenario, trials, run history, initial designs, intensifiers,
//! acquisition and the SMBO loop.

pub mod configspace;
pub mod files;

pub use configspace::{
    Condition, ConfigSpace, ConfigSpaceError, Configuration, Forbidden, Hyperparameter, Relation, Value,
};
pub mod runner;
pub mod target;
pub mod trial;

pub use runner::{Runner, RunnerError, SerialRunner};
pub use target::{evaluate_trial, TargetFunction, TargetOutput};
pub use trial::{StatusType, TrialInfo, TrialValue};
pub mod scenario;
pub use scenario::{Scenario, ScenarioBuilder, ScenarioError};
pub mod runhistory;
pub use runhistory::{RunHistory, RunHistoryError, TrialKey};
pub mod initial_design;
pub use initial_design::{DesignKind, InitialDesign};
pub mod callback;
pub mod config_selector;
pub mod error;
pub mod intensifier;
pub mod run_directory;
pub mod smbo;
pub mod smbo_builder;

pub use callback::{Callback, RunState};
pub use config_selector::{ConfigGenerator, ConfigSelector, Interleaved};
pub use error::SmacError;
pub use intensifier::{
    FullEvaluationIntensifier, Hyperband, Intensifier, NextTrial, RacingIntensifier, SuccessiveHalving,
};
pub use run_directory::{OptimizationState, RunDirectory, TrajectoryEntry};
pub use smbo::{Smbo, SmboParts};
pub use smbo_builder::SmboBuilder;
pub mod acquisition;
pub mod encoder;
pub mod json_compat;
pub mod model_based;
pub mod multi_objective;
pub mod pending;
pub mod smac3_meta;
pub mod tpe;
pub use model_based::ModelBasedGenerator;
pub use pending::Fantasy;
