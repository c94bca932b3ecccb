//! `smac_rs._core`: the Rust half of the `smac_rs` Python package (SMAC3's API over smac-rs).
//!
//! The split between the two halves: Python keeps everything a SMAC3 user touches (the
//! `Scenario`, facades, `TrialInfo`/`TrialValue`, callbacks, a mirror of the run history with
//! real `ConfigSpace.Configuration` objects, the worker processes and the Dask client), Rust
//! runs the optimization itself (the smac-core SMBO loop, surrogate, acquisition, intensifier,
//! run directory) and the smac-runner core that schedules parallel trials. They exchange JSON
//! text: ConfigSpace already writes its spaces as JSON that smac-core reads, and one format
//! keeps the boundary small and testable.
//!
//! Why the loop stays in Rust even for Python targets: the budget, stopping, retry and
//! persistence rules then are the very ones of the Rust API and CLI, and the run directory is
//! the same (so `smac show` and DeepCAVE read it).

mod bridge;
mod logging;
mod optimizer;
mod options;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<optimizer::Optimizer>()?;
    m.add_function(wrap_pyfunction!(logging::set_logging_level, m)?)?;
    m.add_function(wrap_pyfunction!(optimizer::default_retrain_after, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
