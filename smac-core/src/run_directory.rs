//! The run directory `output_directory/name/seed` in SMAC3's layout: `scenario.json`,
//! `configspace.json`, `runhistory.json`, `intensifier.json`, `optimization.json`.
//!
//! Opening a directory that holds the same scenario continues the run from what is on disk; one
//! that holds a different scenario is an error unless `overwrite` is set. Every file is written
//! atomically, so a run killed at any moment restarts from its last told trial.

use crate::configspace::{ConfigSpace, Configuration};
use crate::error::SmacError;
use crate::files::write_atomically;
use crate::json_compat::to_python_json;
use crate::runhistory::RunHistory;
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::info;

/// File names of a run directory.
pub const FILES: [&str; 5] =
    ["scenario.json", "configspace.json", "runhistory.json", "intensifier.json", "optimization.json"];

/// `optimization.json`: how much of the budget the run has used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizationState {
    /// Wall-clock seconds the optimization has run, over all sessions.
    pub used_walltime: f64,
    /// Wall-clock seconds spent inside target evaluations.
    pub used_target_function_walltime: f64,
    /// CPU seconds spent inside target evaluations.
    #[serde(default)]
    pub used_target_function_cputime: f64,
    /// Unix time of the last write.
    pub last_update: f64,
    /// Whether the run reached its end.
    pub finished: bool,
}

/// One change of incumbents, as `intensifier.json` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryEntry {
    /// Ids of the incumbents after the change.
    pub config_ids: Vec<usize>,
    /// Their average costs (a number each for one objective, a list for several).
    pub costs: Vec<serde_json::Value>,
    /// Number of finished trials at the change.
    pub trial: usize,
    /// Wall-clock seconds into the run at the change.
    pub walltime: f64,
}

/// What a restarted run finds on disk.
pub struct Restored {
    /// The trials told before.
    pub runhistory: RunHistory,
    /// The budget used before.
    pub optimization: OptimizationState,
    /// The incumbent trajectory so far.
    pub trajectory: Vec<TrajectoryEntry>,
}

/// A run's directory on disk.
#[derive(Clone, Debug)]
pub struct RunDirectory {
    path: PathBuf,
}

impl RunDirectory {
    /// Opens (creating it if needed) the run directory of `scenario`. Returns what an earlier
    /// session of the same scenario left, if anything.
    /// `meta` is written as `scenario.json`'s `_meta` (see [`crate::smac3_meta`]).
    pub fn open(
        scenario: &Scenario,
        overwrite: bool,
        meta: &serde_json::Value,
    ) -> Result<(RunDirectory, Option<Restored>), SmacError> {
        let dir = RunDirectory { path: scenario.run_directory() };
        let mut restored = None;
        if dir.file("scenario.json").exists() {
            if overwrite {
                info!(path = %dir.path.display(), "overwriting the previous run");
                for f in FILES {
                    let p = dir.file(f);
                    if p.exists() {
                        std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
                    }
                }
            } else {
                let old = dir.read_scenario(scenario)?;
                if !old.same_run_as(scenario) {
                    return Err(SmacError::ScenarioMismatch {
                        path: dir.path.clone(),
                        detail: differences(&old, scenario),
                    });
                }
                restored = Some(dir.restore(scenario)?);
            }
        }
        std::fs::create_dir_all(&dir.path).map_err(|e| io_err(&dir.path, e))?;
        dir.write("scenario.json", scenario.to_json_with_meta(meta).as_bytes())?;
        dir.write("configspace.json", scenario.configspace.to_configspace_json().as_bytes())?;
        Ok((dir, restored))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of one of the run's files.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `runhistory.json`.
    pub fn save_runhistory(&self, rh: &RunHistory) -> Result<(), SmacError> {
        Ok(rh.save(&self.file("runhistory.json"))?)
    }

    /// Writes `intensifier.json`.
    pub fn save_intensifier(
        &self,
        rh: &RunHistory,
        incumbents: &[Configuration],
        trajectory: &[TrajectoryEntry],
        state: serde_json::Value,
    ) -> Result<(), SmacError> {
        let ids: Vec<usize> = incumbents.iter().filter_map(|c| rh.config_id(c)).collect();
        let mut state = state;
        // SMAC3 keeps the rejected challengers at the top level; racing intensifiers report them.
        let rejected = state
            .as_object_mut()
            .and_then(|m| m.shift_remove("rejected_config_ids"))
            .unwrap_or_else(|| json!([]));
        // SMAC3's `Intensifier.set_state` needs a queue; full evaluation has nothing waiting.
        if let Some(m) = state.as_object_mut() {
            if !m.contains_key("queue") && !m.contains_key("tracker") {
                m.insert("queue".into(), json!([]));
            }
        }
        let doc = json!({
            "incumbent_ids": ids,
            "rejected_config_ids": rejected,
            "incumbents_changed": trajectory.len(),
            "trajectory": trajectory,
            "state": state,
        });
        self.write("intensifier.json", to_python_json(&doc, Some(2)).as_bytes())
    }

    /// Writes `optimization.json`.
    pub fn save_optimization(&self, state: &OptimizationState) -> Result<(), SmacError> {
        let doc = serde_json::to_value(state).expect("json");
        self.write("optimization.json", to_python_json(&doc, Some(2)).as_bytes())
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), SmacError> {
        let p = self.file(name);
        write_atomically(&p, bytes, 0o644).map_err(|e| io_err(&p, e))
    }

    fn read_scenario(&self, current: &Scenario) -> Result<Scenario, SmacError> {
        let cs_path = self.file("configspace.json");
        let space = ConfigSpace::load_json(&cs_path)?;
        let sc_path = self.file("scenario.json");
        let text = std::fs::read_to_string(&sc_path).map_err(|e| io_err(&sc_path, e))?;
        let mut old = Scenario::from_json(&text, Arc::new(space), &sc_path)?;
        // The stored output directory may be relative to another working directory.
        old.output_directory = current.output_directory.clone();
        Ok(old)
    }

    fn restore(&self, scenario: &Scenario) -> Result<Restored, SmacError> {
        let rh_path = self.file("runhistory.json");
        let runhistory = if rh_path.exists() {
            RunHistory::load(&rh_path, &scenario.configspace, scenario.n_objectives())?
        } else {
            RunHistory::new(scenario.n_objectives())
        };
        let read_json = |name: &str| -> Result<Option<serde_json::Value>, SmacError> {
            let p = self.file(name);
            if !p.exists() {
                return Ok(None);
            }
            let text = std::fs::read_to_string(&p).map_err(|e| io_err(&p, e))?;
            serde_json::from_str(&text).map(Some).map_err(|e| io_err(&p, e))
        };
        let optimization = match read_json("optimization.json")? {
            Some(v) => serde_json::from_value(v).map_err(|e| io_err(&self.file("optimization.json"), e))?,
            None => OptimizationState::default(),
        };
        let trajectory = read_json("intensifier.json")?
            .and_then(|v| v.get("trajectory").cloned())
            .and_then(|t| serde_json::from_value(t).ok())
            .unwrap_or_default();
        info!(path = %self.path.display(), trials = runhistory.len(), "continuing the run found on disk");
        Ok(Restored { runhistory, optimization, trajectory })
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> SmacError {
    SmacError::Io { path: path.to_path_buf(), reason: e.to_string() }
}

/// Names the scenario fields that differ between two runs.
fn differences(old: &Scenario, new: &Scenario) -> String {
    let a = crate::json_compat::parse_lenient(&old.to_json()).expect("json");
    let b = crate::json_compat::parse_lenient(&new.to_json()).expect("json");
    let mut fields: Vec<String> = a
        .as_object()
        .expect("object")
        .iter()
        .filter(|(k, v)| {
            !matches!(
                k.as_str(),
                "n_trials" | "n_workers" | "walltime_limit" | "cputime_limit" | "output_directory"
            ) && b.get(k.as_str()) != Some(v)
        })
        .map(|(k, _)| k.clone())
        .collect();
    if old.configspace != new.configspace {
        fields.push("configspace".into());
    }
    format!("differs in {}", fields.join(", "))
}
