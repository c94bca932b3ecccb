//! Errors of config-space construction, parsing and validation.

use thiserror::Error;

/// Why a config space, a hyperparameter, a condition, a forbidden clause or a configuration
/// was rejected; every variant names the item at fault.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigSpaceError {
    /// Bounds, default, choices or weights of a hyperparameter are invalid.
    #[error("hyperparameter '{name}': {reason}")]
    InvalidHyperparameter {
        /// The hyperparameter at fault.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two hyperparameters share a name.
    #[error("hyperparameter '{name}' is defined twice")]
    DuplicateHyperparameter {
        /// The hyperparameter at fault.
        name: String,
    },
    /// A condition, forbidden clause or configuration names an unknown hyperparameter.
    #[error("unknown hyperparameter '{name}' in {context}")]
    UnknownHyperparameter {
        /// The hyperparameter at fault.
        name: String,
        /// Where the name was used.
        context: String,
    },
    /// A value is not legal for its hyperparameter.
    #[error("value {value} is not legal for hyperparameter '{name}'")]
    IllegalValue {
        /// The hyperparameter at fault.
        name: String,
        /// The value compared with.
        value: String,
    },
    /// A condition is malformed.
    #[error("condition on '{child}': {reason}")]
    InvalidCondition {
        /// The hyperparameter the condition activates.
        child: String,
        /// What is wrong.
        reason: String,
    },
    /// A child already has a condition (combine them with `Condition::And`/`Or`).
    #[error("hyperparameter '{child}' already has a condition; combine conditions with And/Or")]
    DuplicateCondition {
        /// The hyperparameter the condition activates.
        child: String,
    },
    /// Conditions form a cycle.
    #[error("conditions form a cycle through {names:?}")]
    CyclicConditions {
        /// The hyperparameters on the cycle.
        names: Vec<String>,
    },
    /// A forbidden clause is malformed.
    #[error("forbidden clause {clause}: {reason}")]
    InvalidForbidden {
        /// The clause, rendered.
        clause: String,
        /// What is wrong.
        reason: String,
    },
    /// A forbidden clause forbids the default configuration.
    #[error("forbidden clause {clause} forbids the default configuration")]
    ForbiddenDefault {
        /// The clause, rendered.
        clause: String,
    },
    /// A configuration lacks a value for an active hyperparameter.
    #[error("configuration has no value for active hyperparameter '{name}'")]
    MissingValue {
        /// The hyperparameter at fault.
        name: String,
    },
    /// A configuration gives a value for an inactive hyperparameter.
    #[error("configuration gives a value for inactive hyperparameter '{name}'")]
    InactiveValue {
        /// The hyperparameter at fault.
        name: String,
    },
    /// A configuration violates a forbidden clause.
    #[error("configuration violates forbidden clause {clause}")]
    ForbiddenConfiguration {
        /// The clause, rendered.
        clause: String,
    },
    /// Rejection sampling found no valid configuration.
    #[error("no valid configuration found after {attempts} attempts: forbidden clauses exclude (nearly) everything")]
    SamplingFailed {
        /// Samples drawn before giving up.
        attempts: usize,
    },
    /// ConfigSpace JSON uses a type smac-rs does not support (e.g. `normal_float`); `what` is
    /// "hyperparameter", "condition on" or "forbidden clause on", `name` the hyperparameter.
    #[error("{what} '{name}' has unsupported ConfigSpace type '{type_name}'")]
    UnsupportedType {
        /// What kind of item (hyperparameter, condition, forbidden).
        what: String,
        /// The item's name.
        name: String,
        /// The type string that is not supported.
        type_name: String,
    },
    /// ConfigSpace JSON could not be read or written.
    #[error("config space JSON{}: {reason}", path.as_ref().map(|p| format!(" '{p}'")).unwrap_or_default())]
    Json {
        /// The file, when reading or writing one.
        path: Option<String>,
        /// What is wrong.
        reason: String,
    },
}
