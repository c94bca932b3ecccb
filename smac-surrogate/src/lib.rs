//! Surrogate models for smac-rs: a SMAC3-style random forest with predictive variance and a
//! Gaussian process with an ARD Matérn-5/2 kernel.
//!
//! Both models implement [`Surrogate`]: they are fitted on rows of configuration vectors (as
//! produced by `smac-core`) and return a predictive mean and variance per query row.
//!
//! # Input encoding
//! Every column is typed by a [`FeatureType`]:
//! * [`FeatureType::Continuous`] columns hold normalized hyperparameter values in `[0, 1]` (or
//!   instance features of arbitrary range);
//! * [`FeatureType::Categorical`] columns hold the choice index `0..n` as `f64`.
//!
//! `NaN` marks an inactive hyperparameter. Like SMAC3, inactive values are imputed before
//! modelling: `-1` for continuous columns and `n` (an extra "inactive" category) for categorical
//! columns. Infinite feature values and categorical values outside `0..n` are rejected with
//! [`SurrogateError::InvalidFeature`].
//!
//! # Models
//! * [`RandomForest`] (module `forest`, tree learner in module `tree`) follows SMAC3's pyrfr
//!   based forest; see the module documentation of `forest` for the measured timings and why a
//!   dedicated tree learner is used instead of smartcore's.
//! * [`RandomForest::fanova`] (module `fanova`) computes each column's main-effect importance
//!   by functional ANOVA on the fitted forest (Hutter, Hoos & Leyton-Brown 2014).
//! * [`GaussianProcess`] (modules `gp`, `kernel`, `optim`, `linalg`) follows SMAC3's
//!   `GaussianProcess` as configured by the BlackBox facade.

#![warn(missing_docs)]

mod fanova;
mod forest;
mod gp;
mod gp_variance;
mod kernel;
mod likelihood;
mod linalg;
mod optim;
pub mod parallel;
mod tree;

pub use fanova::{FanovaResult, Importance};
pub use forest::{RandomForest, RandomForestConfig, Splitter};
pub use gp::{FitKind, GaussianProcess, GaussianProcessConfig, RefitSchedule};
pub use kernel::exp_nonpositive;

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// Value every variance returned by a surrogate is floored at (SMAC3's `VERY_SMALL_NUMBER`).
pub const VARIANCE_FLOOR: f64 = 1e-10;

/// The type of one input column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeatureType {
    /// A numeric column (normalized hyperparameter or instance feature).
    Continuous,
    /// A categorical column holding a choice index in `0..n`; the payload is `n`.
    Categorical(usize),
}

/// A regression model that predicts a mean and a variance for configuration vectors.
pub trait Surrogate: Send {
    /// Fit on rows of x (n × d, may contain NaN = inactive hyperparameter) and targets y (n).
    fn fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<(), SurrogateError>;
    /// Predictive mean and variance for each row of x (same encoding as fit).
    fn predict(&self, x: ArrayView2<f64>) -> Result<(Array1<f64>, Array1<f64>), SurrogateError>;
    /// Whether fit has been called successfully.
    fn is_fitted(&self) -> bool;
}

/// Errors reported by surrogate models.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum SurrogateError {
    /// `predict` was called before a successful `fit`.
    #[error("the surrogate model has not been fitted yet")]
    NotFitted,
    /// An input has the wrong size.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// Which quantity has the wrong size.
        what: &'static str,
        /// The expected size.
        expected: usize,
        /// The size that was passed.
        found: usize,
    },
    /// `fit` was called without any training rows.
    #[error("cannot fit a surrogate model on empty data")]
    EmptyData,
    /// A target value is NaN or infinite.
    #[error("target value at index {index} is not finite")]
    NonFiniteTarget {
        /// Row of the offending target.
        index: usize,
    },
    /// A feature value cannot be encoded (infinite, or an invalid categorical index).
    #[error("invalid feature value {value} at row {row}, column {column}: {reason}")]
    InvalidFeature {
        /// Row of the offending value.
        row: usize,
        /// Column of the offending value.
        column: usize,
        /// The offending value.
        value: f64,
        /// Why the value was rejected.
        reason: &'static str,
    },
    /// The model's configuration is unusable (e.g. no trees, empty or inverted bounds).
    #[error("invalid surrogate configuration: {0}")]
    InvalidConfig(String),
    /// A numerical routine failed (e.g. a Cholesky factorization despite jitter).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Whether the running CPU supports AVX2 (std caches the detection).
///
/// The GP's hot loops (likelihood evaluation, prediction) are compiled twice: for the baseline
/// target and, via `#[target_feature(enable = "avx2")]`, with 256-bit vectors, which halves
/// their run time. No fused multiply-adds are generated (Rust does not contract `a * b + c`),
/// so both variants compute bit-identical results.
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the running CPU supports AVX-512F (std caches the detection). Like the AVX2
/// variants, the AVX-512 ones compute bit-identical results, only more lanes per instruction.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Checks the shapes and targets passed to `fit`.
pub(crate) fn check_fit_input(
    x: &ArrayView2<f64>,
    y: &ArrayView1<f64>,
    types: &[FeatureType],
) -> Result<(), SurrogateError> {
    if x.nrows() == 0 || y.is_empty() {
        return Err(SurrogateError::EmptyData);
    }
    check_columns(x, types)?;
    if y.len() != x.nrows() {
        return Err(SurrogateError::ShapeMismatch {
            what: "number of targets (y) vs rows of x",
            expected: x.nrows(),
            found: y.len(),
        });
    }
    if let Some(index) = y.iter().position(|v| !v.is_finite()) {
        return Err(SurrogateError::NonFiniteTarget { index });
    }
    Ok(())
}

/// Checks that `x` has one column per feature type.
pub(crate) fn check_columns(x: &ArrayView2<f64>, types: &[FeatureType]) -> Result<(), SurrogateError> {
    if x.ncols() != types.len() {
        return Err(SurrogateError::ShapeMismatch {
            what: "number of columns of x vs feature types",
            expected: types.len(),
            found: x.ncols(),
        });
    }
    Ok(())
}

/// Imputes and validates one value the way SMAC3 does: NaN becomes `-1` for continuous columns
/// and `n` for a categorical column with `n` choices; categorical values are rounded to an index.
#[inline]
pub(crate) fn impute(value: f64, ty: FeatureType, row: usize, column: usize) -> Result<f64, SurrogateError> {
    let invalid = |reason| SurrogateError::InvalidFeature { row, column, value, reason };
    match ty {
        FeatureType::Continuous if value.is_nan() => Ok(-1.0),
        FeatureType::Continuous if value.is_infinite() => Err(invalid("value is infinite")),
        FeatureType::Continuous => Ok(value),
        FeatureType::Categorical(n) if value.is_nan() => Ok(n as f64),
        FeatureType::Categorical(n) => {
            let idx = value.round();
            if idx >= 0.0 && idx < n as f64 && (value - idx).abs() < 1e-6 {
                Ok(idx)
            } else {
                Err(invalid("categorical value is not a choice index in 0..n"))
            }
        }
    }
}

/// Imputes a whole row of `x` into `out` (length = number of columns).
#[inline]
pub(crate) fn impute_row(
    x: &ArrayView2<f64>,
    row: usize,
    types: &[FeatureType],
    out: &mut [f64],
) -> Result<(), SurrogateError> {
    for (column, ((o, &v), &ty)) in out.iter_mut().zip(x.row(row)).zip(types).enumerate() {
        *o = impute(v, ty, row, column)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impute_follows_smac3() {
        assert_eq!(impute(f64::NAN, FeatureType::Continuous, 0, 0), Ok(-1.0));
        assert_eq!(impute(0.3, FeatureType::Continuous, 0, 0), Ok(0.3));
        assert_eq!(impute(f64::NAN, FeatureType::Categorical(4), 0, 0), Ok(4.0));
        assert_eq!(impute(2.0, FeatureType::Categorical(4), 0, 0), Ok(2.0));
        assert!(impute(4.0, FeatureType::Categorical(4), 0, 0).is_err());
        assert!(impute(-1.0, FeatureType::Categorical(4), 0, 0).is_err());
        assert!(impute(1.5, FeatureType::Categorical(4), 0, 0).is_err());
        assert!(impute(f64::INFINITY, FeatureType::Continuous, 0, 0).is_err());
    }
}
