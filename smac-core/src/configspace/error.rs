//! Errors of config-space construction, parsing and validation.

use thiserror::Error;

/// Why a config space, a hyperparameter, a condition, a forbidden clause or a configuration
/// was rejected; every variant names the item at fault.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigSpaceError {
    /// Bounds, default, choices or weights of a hyperparameter are invalid.
    #[error("hyperparameter '{name}': {reason}")]
    InvalidHyperparameter { name: String, reason: String },
    /// Two hyperparameters share a name.
    #[error("hyperparameter '{name}' is defined twice")]
    DuplicateHyperparameter { name: String },
    /// A condition, forbidden clause or configuration names an unknown hyperparameter.
    #[error("unknown hyperparameter '{name}' in {context}")]
    UnknownHyperparameter { name: String, context: String },
    /// A value is not legal for its hyperparameter.
    #[error("value {value} is not legal for hyperparameter '{name}'")]
    IllegalValue { name: String, value: String },
    /// A condition is malformed.
    #[error("condition on '{child}': {reason}")]
    InvalidCondition { child: String, reason: String },
    /// A child already has a condition (combine them with `Condition::And`/`Or`).
    #[error("hyperparameter '{child}' already has a condition; combine conditions with And/Or")]
    DuplicateCondition { child: String },
    /// Conditions form a cycle.
    #[error("conditions form a cycle through {names:?}")]
    CyclicConditions { names: Vec<String> },
    /// A forbidden clause is malformed.
    #[error("forbidden clause {clause}: {reason}")]
    InvalidForbidden { clause: String, reason: String },
    /// A forbidden clause forbids the default configuration.
    #[error("forbidden clause {clause} forbids the default configuration")]
    ForbiddenDefault { clause: String },
    /// A configuration lacks a value for an active hyperparameter.
    #[error("configuration has no value for active hyperparameter '{name}'")]
    MissingValue { name: String },
    /// A configuration gives a value for an inactive hyperparameter.
    #[error("configuration gives a value for inactive hyperparameter '{name}'")]
    InactiveValue { name: String },
    /// A configuration violates a forbidden clause.
    #[error("configuration violates forbidden clause {clause}")]
    ForbiddenConfiguration { clause: String },
    /// Rejection sampling found no valid configuration.
    #[error("no valid configuration found after {attempts} attempts: forbidden clauses exclude (nearly) everything")]
    SamplingFailed { attempts: usize },
    /// ConfigSpace JSON uses a type smac-rs does not support (e.g. `normal_float`); `what` is
    /// "hyperparameter", "condition on" or "forbidden clause on", `name` the hyperparameter.
    #[error("{what} '{name}' has unsupported ConfigSpace type '{type_name}'")]
    UnsupportedType { what: String, name: String, type_name: String },
    /// ConfigSpace JSON could not be read or written.
    #[error("config space JSON{}: {reason}", path.as_ref().map(|p| format!(" '{p}'")).unwrap_or_default())]
    Json { path: Option<String>, reason: String },
}
