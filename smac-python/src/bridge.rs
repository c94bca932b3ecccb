//! Where Rust calls back into Python: the target in the optimizer's process
//! ([`InProcessRunner`]), the Python side of a parallel backend ([`PyBackend`]) and the
//! callbacks ([`PyListener`]).
//!
//! The optimizer runs with the GIL released; each of these takes the GIL only for its call.
//! A Python exception that must end the run (Ctrl-C's `KeyboardInterrupt`, an exception of a
//! user callback) cannot travel through the Rust loop as such, so it is parked in an
//! [`ErrorSlot`], the loop is stopped with `RunnerError::Interrupted` or a `false` from
//! `on_tell`, and the binding raises the parked exception once the loop has saved its state.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use smac_core::callback::{Callback, RunState};
use smac_core::runhistory::RunHistory;
use smac_core::{Runner, RunnerError, TrialInfo, TrialValue};
use smac_runner::core::TrialEnv;
use smac_runner::{Backend, BackendEvent};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first Python exception that has to end the run, raised again once the loop returns.
#[derive(Clone, Default)]
pub struct ErrorSlot(Arc<Mutex<Option<PyErr>>>);

impl ErrorSlot {
    /// Parks `err` unless an earlier error is parked already.
    pub fn park(&self, err: PyErr) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(err);
        }
    }

    /// Takes the parked error.
    pub fn take(&self) -> Option<PyErr> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Whether an error is parked.
    pub fn is_set(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// A trial as JSON text: the configuration's active values, instance, seed, budget and, when
/// the run history knows it, the configuration's id.
pub fn trial_json(trial: &TrialInfo, runhistory: Option<&RunHistory>) -> String {
    let mut o = serde_json::Map::new();
    o.insert("config".into(), trial.config.to_json());
    o.insert("instance".into(), serde_json::json!(trial.instance));
    o.insert("seed".into(), serde_json::json!(trial.seed));
    o.insert("budget".into(), serde_json::json!(trial.budget));
    if let Some(id) = runhistory.and_then(|rh| rh.config_id(&trial.config)) {
        o.insert("config_id".into(), id.into());
    }
    serde_json::Value::Object(o).to_string()
}

/// A trial value as JSON text (failures already carry the crash cost once told).
pub fn value_json(value: &TrialValue) -> String {
    // Costs are finite once sanitized, except a crash cost of infinity (SMAC3's default): JSON
    // has no infinity, so costs travel as text Python's float() reads.
    let mut v = serde_json::to_value(value).unwrap_or_default();
    v["cost"] = value.cost.iter().map(|c| serde_json::Value::String(c.to_string())).collect();
    v.to_string()
}

/// Parses the JSON a Python evaluator returns into a trial value.
pub fn parse_value(text: &str) -> Result<TrialValue, String> {
    serde_json::from_str(text).map_err(|e| format!("the evaluator returned an invalid result ({e}): {text}"))
}

/// Evaluates trials in the optimizer's process by calling the Python evaluator
/// (`smac_rs._target.Evaluator`) with the GIL held for the call only.
pub struct InProcessRunner {
    evaluate: Py<PyAny>,
    finished: VecDeque<(TrialInfo, TrialValue)>,
    errors: ErrorSlot,
}

impl InProcessRunner {
    /// A runner calling `evaluate(trial_json) -> value_json`.
    pub fn new(evaluate: Py<PyAny>, errors: ErrorSlot) -> Self {
        InProcessRunner { evaluate, finished: VecDeque::new(), errors }
    }
}

impl Runner for InProcessRunner {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        if self.errors.is_set() {
            return Err(RunnerError::Interrupted);
        }
        let text = trial_json(&trial, None);
        let outcome = Python::with_gil(|py| -> PyResult<String> {
            let out = self.evaluate.call1(py, (text,))?.extract::<String>(py)?;
            // A Ctrl-C during a target that swallowed it still ends the run, after this result.
            if let Err(e) = py.check_signals() {
                self.errors.park(e);
            }
            Ok(out)
        });
        match outcome {
            Ok(out) => {
                let value = parse_value(&out).map_err(RunnerError::Other)?;
                self.finished.push_back((trial, value));
                Ok(())
            }
            // The evaluator turns every `Exception` of the target into a crashed trial; what
            // reaches here is a KeyboardInterrupt, SystemExit or a broken evaluator.
            Err(e) => {
                self.errors.park(e);
                Err(RunnerError::Interrupted)
            }
        }
    }
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        self.finished.drain(..).collect()
    }
    fn wait(&mut self, _timeout: Option<Duration>) -> Result<(), RunnerError> {
        Ok(())
    }
    fn is_running(&self) -> bool {
        !self.finished.is_empty()
    }
    fn count_available_workers(&self) -> usize {
        1
    }
}

/// A [`Backend`] implemented by a Python object (`smac_rs._backends`): local worker
/// processes or a Dask client. The runner core keeps all bookkeeping (slots, retries of lost
/// trials); the object only starts trials and reports events.
pub struct PyBackend {
    obj: Py<PyAny>,
    errors: ErrorSlot,
}

impl PyBackend {
    /// Wraps the Python backend object.
    pub fn new(obj: Py<PyAny>, errors: ErrorSlot) -> Self {
        PyBackend { obj, errors }
    }

    fn call<T: for<'a> FromPyObject<'a>>(
        &self,
        name: &str,
        args: impl for<'py> IntoPyObject<'py, Target = pyo3::types::PyTuple>,
    ) -> Result<T, RunnerError> {
        Python::with_gil(|py| {
            self.obj.call_method1(py, name, args).and_then(|r| r.extract::<T>(py)).map_err(|e| {
                let interrupted = e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py);
                let message = e.to_string();
                self.errors.park(e);
                if interrupted {
                    RunnerError::Interrupted
                } else {
                    RunnerError::Other(format!("the Python backend's {name}() failed: {message}"))
                }
            })
        })
    }

    fn query<T: for<'a> FromPyObject<'a> + Default>(&self, name: &str) -> T {
        Python::with_gil(|py| self.obj.call_method0(py, name).and_then(|r| r.extract::<T>(py)))
            .unwrap_or_else(|e| {
                tracing::warn!("the Python backend's {name}() failed: {e}");
                T::default()
            })
    }
}

impl Backend for PyBackend {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn describe(&self) -> String {
        self.query("describe")
    }
    fn capacity(&self) -> usize {
        self.query("capacity")
    }
    fn n_workers(&self) -> usize {
        self.query("n_workers")
    }
    fn submit(&mut self, seq: u64, trial: &TrialInfo, _env: &TrialEnv) -> Result<(), RunnerError> {
        self.call::<Py<PyAny>>("submit", (seq, trial_json(trial, None))).map(drop)
    }
    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<BackendEvent>, RunnerError> {
        let event: Option<(String, u64, String)> =
            self.call("next_event", (timeout.map(|t| t.as_secs_f64()),))?;
        Ok(match event {
            None => None,
            Some((kind, seq, payload)) => Some(match kind.as_str() {
                "finished" => {
                    BackendEvent::Finished { seq, value: parse_value(&payload).map_err(RunnerError::Other)? }
                }
                "lost" => BackendEvent::Lost { seq, reason: payload },
                "workers" => BackendEvent::Workers,
                other => return Err(RunnerError::Other(format!("unknown backend event '{other}'"))),
            }),
        })
    }
    fn scatter(&mut self, name: &str, data: Arc<[u8]>) -> Result<(), RunnerError> {
        let data = Python::with_gil(|py| PyBytes::new(py, &data).unbind());
        self.call::<Py<PyAny>>("scatter", (name.to_string(), data)).map(drop)
    }
    fn is_alive(&self) -> bool {
        self.query("is_alive")
    }
    fn close(&mut self) {
        if let Err(e) = Python::with_gil(|py| self.obj.call_method0(py, "close").map(drop)) {
            tracing::warn!("closing the Python backend failed: {e}");
        }
    }
}

/// Forwards the loop's callbacks to the Python facade, which keeps its mirror of the run
/// history, incumbents and trajectory and calls the user's `Callback`s.
pub struct PyListener {
    obj: Py<PyAny>,
    errors: ErrorSlot,
    /// Trajectory entries already sent; the ones restored from disk reach Python via `state()`.
    trajectory_seen: Option<usize>,
    /// Whether the user gave callbacks, so that the selector's per-configuration hooks are
    /// worth a trip into Python (the listener's `selector_hooks`).
    selector_hooks: bool,
}

impl PyListener {
    /// Wraps the facade's listener object.
    pub fn new(obj: Py<PyAny>, errors: ErrorSlot) -> Self {
        let selector_hooks = Python::with_gil(|py| {
            obj.getattr(py, "selector_hooks").and_then(|v| v.is_truthy(py)).unwrap_or(false)
        });
        PyListener { obj, errors, trajectory_seen: None, selector_hooks }
    }

    /// Calls `name(*args)`; an exception is parked and ends the run. Returns the result's truth.
    fn call(&self, name: &str, args: impl for<'py> IntoPyObject<'py, Target = pyo3::types::PyTuple>) -> bool {
        Python::with_gil(|py| match self.obj.call_method1(py, name, args) {
            Ok(r) => r.is_none(py) || r.is_truthy(py).unwrap_or(true),
            Err(e) => {
                self.errors.park(e);
                false
            }
        })
    }
}

impl Callback for PyListener {
    fn on_start(&mut self, state: &RunState<'_>) {
        self.trajectory_seen = Some(state.trajectory.len());
        self.call("on_start", ());
    }
    fn on_ask_start(&mut self, _state: &RunState<'_>) {
        self.call("on_ask_start", ());
    }
    fn on_ask(&mut self, state: &RunState<'_>, trial: &TrialInfo) {
        self.call("on_ask_end", (trial_json(trial, Some(state.runhistory)),));
    }
    fn on_next_configurations_start(&mut self) {
        if self.selector_hooks {
            self.call("on_next_configurations_start", ());
        }
    }
    fn on_next_configurations_end(&mut self, config: &smac_core::Configuration) {
        if self.selector_hooks {
            self.call("on_next_configurations_end", (config.to_json().to_string(),));
        }
    }
    fn on_tell_start(&mut self, state: &RunState<'_>, trial: &TrialInfo, value: &TrialValue) {
        self.call("on_tell_start", (trial_json(trial, Some(state.runhistory)), value_json(value)));
    }
    fn on_tell(&mut self, state: &RunState<'_>, trial: &TrialInfo, value: &TrialValue) -> bool {
        let seen = self.trajectory_seen.unwrap_or(0).min(state.trajectory.len());
        let new_entries = &state.trajectory[seen..];
        self.trajectory_seen = Some(state.trajectory.len());
        let trajectory = serde_json::to_string(new_entries).unwrap_or_else(|_| "[]".into());
        let incumbents: Vec<usize> =
            state.incumbents.iter().filter_map(|c| state.runhistory.config_id(c)).collect();
        let go_on = self.call(
            "on_tell_end",
            (trial_json(trial, Some(state.runhistory)), value_json(value), incumbents, trajectory),
        );
        go_on && !self.errors.is_set()
    }
    fn on_end(&mut self, _state: &RunState<'_>) {
        self.call("on_end", ());
    }
}
