//! The CLI's error type: every failure names the file, field or flag at fault.

use smac_core::{ConfigSpaceError, RunHistoryError, RunnerError, ScenarioError, SmacError};
use std::path::PathBuf;
use thiserror::Error;

/// Why a `smac` command failed.
#[derive(Debug, Error)]
pub enum CliError {
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The scenario file is malformed.
    #[error("scenario file {path}: {reason}")]
    ScenarioFile {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The inline search space (`[space.*]`) is invalid.
    #[error("search space: hyperparameter '{name}': {reason}")]
    Space {
        /// The hyperparameter at fault.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An `active_if` expression could not be parsed or does not fit the space.
    #[error("search space: active_if of '{child}': {reason}")]
    Condition {
        /// The hyperparameter the condition activates.
        child: String,
        /// What is wrong.
        reason: String,
    },
    /// Something required is missing, or options contradict each other.
    #[error("{0}")]
    Usage(String),
    /// The config space is invalid.
    #[error(transparent)]
    ConfigSpace(#[from] ConfigSpaceError),
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run history could not be read.
    #[error(transparent)]
    RunHistory(#[from] RunHistoryError),
    /// The runner failed to start.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// The optimization failed.
    #[error(transparent)]
    Smac(#[from] SmacError),
    /// A run directory is incomplete or unreadable.
    #[error("run directory {path}: {reason}")]
    RunDirectory {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A scheduler or worker could not start or stopped with an error.
    #[error("cluster: {0}")]
    Cluster(String),
    /// Drawing a plot failed.
    #[error("plot {path}: {reason}")]
    Plot {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        CliError::Io { path: path.into(), reason: e.to_string() }
    }

    /// The process exit code for this error: 2 for usage and input errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::ScenarioFile { .. }
            | CliError::Space { .. }
            | CliError::Condition { .. }
            | CliError::Usage(_)
            | CliError::ConfigSpace(_)
            | CliError::Scenario(_) => 2,
            _ => 1,
        }
    }
}
