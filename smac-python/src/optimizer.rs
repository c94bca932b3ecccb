//! [`Optimizer`]: one SMBO loop of smac-core, driven from Python.
//!
//! The Python facades (`smac_rs.facade`) build it with the facade's name, the scenario, the
//! config space as ConfigSpace JSON and either an evaluator (one worker: the target runs in
//! this process) or a backend object (worker processes, a Dask client). Every method releases
//! the GIL while Rust works (training the surrogate, maximizing the acquisition, waiting for
//! workers) and catches panics, so a bug on our side is a `RuntimeError`, never a crash.

use crate::bridge::{trial_json, value_json, ErrorSlot, InProcessRunner, PyBackend, PyListener};
use crate::options::{Components, ScenarioFields};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use smac_core::smac3_meta::Smac3Facade;
use smac_core::{ConfigSpace, Configuration, Runner, Scenario, SmacError, Smbo, SmboBuilder, TrialInfo};
use smac_runner::{DaskStyleParallelRunner, ParallelOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

type Loop = Smbo<Box<dyn Runner + Send>>;

/// Runs `f`, turning a panic into a `RuntimeError` that names it as a bug.
fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(PyRuntimeError::new_err(format!("internal error in smac-rs (please report it): {msg}")))
    })
}

/// Bad input (scenario, space, a told trial) is a `ValueError`; the rest a `RuntimeError`.
fn to_py(e: SmacError) -> PyErr {
    match e {
        SmacError::ConfigSpace(_) | SmacError::Scenario(_) | SmacError::InvalidTrial(_) => {
            PyValueError::new_err(e.to_string())
        }
        SmacError::ScenarioMismatch { .. } => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The SMBO loop of one run (SMAC3's `SMBO` behind a facade).
#[pyclass(module = "smac_rs._core")]
pub struct Optimizer {
    inner: Mutex<Loop>,
    space: Arc<ConfigSpace>,
    errors: ErrorSlot,
}

impl Optimizer {
    fn lock(&self) -> PyResult<MutexGuard<'_, Loop>> {
        self.inner.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => PyRuntimeError::new_err(
                "the optimizer is busy (optimize/ask/tell cannot be called from inside a callback or target)",
            ),
            TryLockError::Poisoned(_) => PyRuntimeError::new_err(
                "the optimizer stopped at an internal error and cannot go on; build a new facade to \
                 continue the run from its run directory",
            ),
        })
    }

    /// Raises a parked Python exception (Ctrl-C, a callback's error) before anything else.
    fn finish<T>(&self, result: Result<T, SmacError>) -> PyResult<T> {
        if let Some(e) = self.errors.take() {
            return Err(e);
        }
        result.map_err(to_py)
    }
}

#[pymethods]
impl Optimizer {
    /// Builds the loop: `facade` is one of hpo, blackbox, random, algorithm_configuration,
    /// multi_fidelity, hyperband.
    #[new]
    #[pyo3(signature = (facade, scenario_json, configspace_json, components_json, listener, evaluator=None, backend=None, overwrite=false, patience=5.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        facade: &str,
        scenario_json: &str,
        configspace_json: &str,
        components_json: &str,
        listener: Py<PyAny>,
        evaluator: Option<Py<PyAny>>,
        backend: Option<Py<PyAny>>,
        overwrite: bool,
        patience: f64,
    ) -> PyResult<Self> {
        guarded(|| {
            let space = Arc::new(
                ConfigSpace::from_configspace_json(configspace_json)
                    .map_err(|e| PyValueError::new_err(format!("configuration space: {e}")))?,
            );
            let fields: ScenarioFields = serde_json::from_str(scenario_json)
                .map_err(|e| PyValueError::new_err(format!("scenario: {e}")))?;
            let scenario = fields.build(space.clone()).map_err(|e| PyValueError::new_err(e.to_string()))?;
            let components: Components = serde_json::from_str(components_json)
                .map_err(|e| PyValueError::new_err(format!("facade components: {e}")))?;
            let (preset, _) = preset(facade)?;
            let errors = ErrorSlot::default();
            let runner: Box<dyn Runner + Send> = match (evaluator, backend) {
                (_, Some(b)) => {
                    let options = ParallelOptions {
                        patience: Duration::from_secs_f64(patience.max(0.0)),
                        ..ParallelOptions::from_scenario(&scenario)
                    };
                    let runner = DaskStyleParallelRunner::new(PyBackend::new(b, errors.clone()), options)
                        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
                    Box::new(runner)
                }
                (Some(e), None) => Box::new(InProcessRunner::new(e, errors.clone())),
                (None, None) => return Err(PyValueError::new_err("an evaluator or a backend is required")),
            };
            let builder = components.apply(preset(scenario)).map_err(PyValueError::new_err)?;
            let builder = builder.callback(PyListener::new(listener, errors.clone())).overwrite(overwrite);
            let smbo = py.allow_threads(move || builder.build(runner)).map_err(to_py)?;
            Ok(Optimizer { inner: Mutex::new(smbo), space, errors })
        })
    }

    /// Runs until the scenario's budget is used or a callback stops; returns the incumbent's
    /// values as JSON (`None` when nothing succeeded).
    fn optimize(&self, py: Python<'_>) -> PyResult<Option<String>> {
        guarded(|| {
            let mut guard = self.lock()?;
            let smbo = &mut *guard;
            let result = py.allow_threads(|| smbo.optimize());
            let inc = self.finish(result)?;
            Ok(inc.map(|c| c.to_json().to_string()))
        })
    }

    /// Asks for the next trial (JSON with config, instance, seed, budget, config_id).
    fn ask(&self, py: Python<'_>) -> PyResult<String> {
        guarded(|| {
            let mut guard = self.lock()?;
            let smbo = &mut *guard;
            let result = py.allow_threads(|| smbo.ask());
            let trial = self.finish(result)?;
            Ok(trial_json(&trial, Some(smbo.runhistory())))
        })
    }

    /// Tells the result of a trial (JSON as `ask` returns it, and a trial value as JSON).
    fn tell(&self, py: Python<'_>, trial: &str, value: &str) -> PyResult<()> {
        guarded(|| {
            let trial = self.parse_trial(trial)?;
            let value = crate::bridge::parse_value(value).map_err(PyValueError::new_err)?;
            let mut guard = self.lock()?;
            let smbo = &mut *guard;
            let result = py.allow_threads(|| smbo.tell(trial, value));
            self.finish(result)
        })
    }

    /// Everything the Python mirror needs, as JSON: configurations by id, finished trials with
    /// values, incumbent ids, trajectory, run directory.
    fn state(&self) -> PyResult<String> {
        guarded(|| {
            let smbo = self.lock()?;
            let rh = smbo.runhistory();
            let configs: Vec<serde_json::Value> = rh.configs().iter().map(Configuration::to_json).collect();
            let trials: Vec<serde_json::Value> = rh
                .iter()
                .map(|(k, v)| {
                    serde_json::json!({
                        "config_id": k.config_id, "instance": k.instance, "seed": k.seed, "budget": k.budget,
                        "value": serde_json::from_str::<serde_json::Value>(&value_json(v)).unwrap_or_default(),
                    })
                })
                .collect();
            let incumbents: Vec<usize> = smbo.incumbents().iter().filter_map(|c| rh.config_id(c)).collect();
            Ok(serde_json::json!({
                "configs": configs,
                "trials": trials,
                "incumbents": incumbents,
                "trajectory": smbo.trajectory(),
                "run_directory": smbo.run_directory().map(|d| d.path().display().to_string()),
                "n_running": rh.n_running(),
                "elapsed": smbo.elapsed(),
            })
            .to_string())
        })
    }

    /// Shuts down what the runner owns (local worker processes); a Dask cluster keeps running.
    fn close(&self) -> PyResult<()> {
        guarded(|| {
            let mut smbo = self.lock()?;
            smbo.runner_mut().close().map_err(|e| PyRuntimeError::new_err(e.to_string()))
        })
    }
}

impl Optimizer {
    fn parse_trial(&self, text: &str) -> PyResult<TrialInfo> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| PyValueError::new_err(format!("trial: {e}")))?;
        let config = Configuration::from_json(&self.space, &v["config"])
            .map_err(|e| PyValueError::new_err(format!("the trial's configuration: {e}")))?;
        let field = |name: &str| v.get(name).filter(|x| !x.is_null());
        Ok(TrialInfo {
            config,
            instance: field("instance").and_then(|x| x.as_str()).map(str::to_string),
            seed: field("seed").and_then(|x| x.as_u64()),
            budget: field("budget").and_then(|x| x.as_f64()),
        })
    }
}

/// A facade preset: `SmboBuilder::hpo` and its siblings.
type Preset = fn(Scenario) -> SmboBuilder;

/// The preset of a facade named as the Python facades name themselves, and the SMAC3 facade it is.
fn preset(facade: &str) -> PyResult<(Preset, Smac3Facade)> {
    Ok(match facade {
        "hpo" => (SmboBuilder::hpo, Smac3Facade::Hpo),
        "blackbox" => (SmboBuilder::blackbox, Smac3Facade::BlackBox),
        "random" => (SmboBuilder::random, Smac3Facade::Random),
        "algorithm_configuration" => {
            (SmboBuilder::algorithm_configuration, Smac3Facade::AlgorithmConfiguration)
        }
        "multi_fidelity" => (SmboBuilder::multi_fidelity, Smac3Facade::MultiFidelity),
        "hyperband" => (SmboBuilder::hyperband, Smac3Facade::Hyperband),
        other => return Err(PyValueError::new_err(format!("unknown facade '{other}'"))),
    })
}

/// New configurations per model fit in a facade's preset (`get_config_selector`'s default).
#[pyfunction]
pub fn default_retrain_after(facade: &str) -> PyResult<usize> {
    Ok(preset(facade)?.1.default_retrain_after())
}
