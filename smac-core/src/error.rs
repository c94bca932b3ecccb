//! The top-level error of an optimization run.

use crate::configspace::ConfigSpaceError;
use crate::runhistory::RunHistoryError;
use crate::runner::RunnerError;
use crate::scenario::ScenarioError;
use std::path::PathBuf;
use thiserror::Error;

/// Why an optimization could not start or go on. Nothing already told is lost: the run history
/// on disk is written after every result.
#[derive(Debug, Error)]
pub enum SmacError {
    /// The config space or a configuration is invalid.
    #[error(transparent)]
    ConfigSpace(#[from] ConfigSpaceError),
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run history could not be read or written.
    #[error(transparent)]
    RunHistory(#[from] RunHistoryError),
    /// The runner failed.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// The run directory holds a different scenario.
    #[error("the run directory '{path}' holds a different scenario ({detail}); choose another name or output directory, or set overwrite")]
    ScenarioMismatch {
        /// The file at fault.
        path: PathBuf,
        /// What differs or what was seen.
        detail: String,
    },
    /// A file of the run directory could not be read or written.
    #[error("run directory file '{path}': {reason}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A told trial was never asked and does not belong to this run's space.
    #[error("told trial is invalid: {0}")]
    InvalidTrial(String),
    /// The intensifier has no trial to offer (every configuration of a finite space was tried).
    #[error("no trial available: {0}")]
    NoTrialAvailable(String),
    /// Nothing can start until running trials report (ask again after telling a result).
    #[error("no trial can start until running trials finish ({0} running)")]
    WaitForResults(usize),
    /// The surrogate model failed.
    #[error("surrogate model: {0}")]
    Surrogate(String),
}
