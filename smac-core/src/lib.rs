//! Core of smac-rs: config space, scenario, trials, run history, initial designs, intensifiers,
//! acquisition and the SMBO loop.

pub mod configspace;

pub use configspace::{
    Condition, ConfigSpace, ConfigSpaceError, Configuration, Forbidden, Hyperparameter, Relation, Value,
};
