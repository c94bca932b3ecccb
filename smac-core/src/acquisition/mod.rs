//! Acquisition: functions that score candidates from a surrogate's predictions, and the
//! maximizer that searches the space for the highest scores.

mod function;
mod maximizer;

pub use function::{
    norm_cdf, norm_pdf, AcquisitionContext, AcquisitionFunction, ExpectedImprovement, LowerConfidenceBound,
    ProbabilityOfImprovement, ThompsonSampling,
};
pub use maximizer::{BatchScorer, Candidate, LocalAndSortedRandomSearch};
