//! `runhistory.json` in SMAC3's layout, written atomically.
//!
//! Layout: `{"stats": {submitted, finished, running}, "data": [{config_id, instance, seed,
//! budget, cost, time, cpu_time, status, starttime, endtime, additional_info}, …], "configs":
//! {"1": {name: value}}, "config_origins": {"1": origin}}`. `cost` is a number for one objective
//! and a list for several; every object's keys are in SMAC3's order (DeepCAVE reads rows by
//! position) and infinite costs are written as Python's `Infinity` token, as SMAC3 writes them.
//! Running trials are counted in `stats` but not written as rows: after a
//! restart they are simply asked again.
//!
//! The file is rewritten after every `tell` (temp file + rename, so a kill at any moment leaves
//! either the old or the new file). Each row is rendered once, at the first save that needs it,
//! and cached, so a save is a concatenation rather than a re-serialization of the whole history,
//! and runs that do not persist never render anything.

use super::{ConfigId, RunHistory};
use crate::configspace::{ConfigSpace, ConfigSpaceError, Configuration};
use crate::files::write_atomically;
use crate::json_compat::{from_finite as unfinite, to_finite};
use crate::trial::{StatusType, TrialInfo, TrialValue};
use serde_json::{json, Value as Json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use thiserror::Error;

/// Why a run history could not be saved or loaded.
#[derive(Debug, Error)]
pub enum RunHistoryError {
    /// Reading or writing the file failed.
    #[error("run history '{path}': {reason}")]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A stored configuration does not fit the config space.
    #[error("run history '{path}': configuration {id}: {source}")]
    Config {
        /// The file at fault.
        path: PathBuf,
        /// The configuration id in the file.
        id: String,
        /// Why the configuration was rejected.
        source: ConfigSpaceError,
    },
    /// A data row is malformed.
    #[error("run history '{path}': data row {row}: {reason}")]
    Row {
        /// The file at fault.
        path: PathBuf,
        /// Index of the row in `data`.
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Rendered rows by position in the history (`None` until rendered or after a replacement) and
/// rendered configurations with their origins by id − 1 (configurations never change once
/// added, so these are only appended to). Behind a mutex so that saving (`&self`) can fill it in.
#[derive(Debug, Default, Clone)]
struct Rendered {
    rows: Vec<Option<String>>,
    configs: Vec<(String, String)>,
}

/// What earlier saves rendered, reused by the next (see [`Rendered`]).
#[derive(Debug, Default)]
pub(super) struct RenderCache(Mutex<Rendered>);

impl Clone for RenderCache {
    fn clone(&self) -> Self {
        RenderCache(Mutex::new(self.0.lock().expect("render cache lock").clone()))
    }
}

impl RenderCache {
    /// Forgets the rendering of a replaced row.
    pub(super) fn invalidate(&self, i: usize) {
        if let Some(slot) = self.0.lock().expect("render cache lock").rows.get_mut(i) {
            *slot = None;
        }
    }
}

/// Renders one data row as SMAC3 writes it.
fn render_row(id: ConfigId, trial: &TrialInfo, v: &TrialValue) -> String {
    let cost = if v.cost.len() == 1 {
        json!(to_finite(v.cost[0]))
    } else {
        Json::from(v.cost.iter().map(|c| to_finite(*c)).collect::<Vec<_>>())
    };
    let row = json!({
        "config_id": id,
        "instance": trial.instance,
        "seed": trial.seed,
        "budget": trial.budget,
        "cost": cost,
        "time": to_finite(v.time),
        "cpu_time": to_finite(v.cpu_time),
        "status": v.status as u8,
        "starttime": to_finite(v.starttime),
        "endtime": to_finite(v.endtime),
        "additional_info": v.additional_info,
    });
    crate::json_compat::python_tokens(&row.to_string())
}

impl RunHistory {
    /// Renders the whole history as `runhistory.json` text.
    pub fn to_json(&self) -> String {
        let mut cache = self.rendered.0.lock().expect("render cache lock");
        let Rendered { rows, configs } = &mut *cache;
        rows.resize(self.data.len(), None);
        for (slot, (key, value)) in rows.iter_mut().zip(&self.data) {
            if slot.is_none() {
                let trial = TrialInfo {
                    config: self.configs[key.config_id - 1].clone(),
                    instance: key.instance.clone(),
                    seed: key.seed,
                    budget: key.budget,
                };
                *slot = Some(render_row(key.config_id, &trial, value));
            }
        }
        for c in &self.configs[configs.len()..] {
            configs.push((c.to_json().to_string(), json!(c.origin()).to_string()));
        }
        let mut out = String::with_capacity(
            rows.iter().flatten().map(|r| r.len() + 6).sum::<usize>()
                + configs.iter().map(|(c, o)| c.len() + o.len() + 24).sum::<usize>()
                + 1024,
        );
        let _ = write!(
            out,
            "{{\n  \"stats\": {{\"submitted\": {}, \"finished\": {}, \"running\": {}}},\n  \"data\": [",
            self.submitted,
            self.data.len(),
            self.running.len()
        );
        for (k, row) in rows.iter().flatten().enumerate() {
            out.push_str(if k == 0 { "\n    " } else { ",\n    " });
            out.push_str(row);
        }
        out.push_str("\n  ],\n  \"configs\": {");
        let mut used = vec![false; self.configs.len()];
        for (key, _) in &self.data {
            used[key.config_id - 1] = true;
        }
        let mut first = true;
        for (i, (c, _)) in configs.iter().enumerate().filter(|(i, _)| used[*i]) {
            out.push_str(if first { "\n    " } else { ",\n    " });
            first = false;
            let _ = write!(out, "\"{}\": {}", i + 1, c);
        }
        out.push_str("\n  },\n  \"config_origins\": {");
        for (i, (_, origin)) in configs.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            let _ = write!(out, "\"{}\": {}", i + 1, origin);
        }
        out.push_str("\n  }\n}\n");
        out
    }

    /// Writes `runhistory.json` atomically (temp file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), RunHistoryError> {
        write_atomically(path, self.to_json().as_bytes(), 0o644)
            .map_err(|e| RunHistoryError::File { path: path.to_path_buf(), reason: e.to_string() })
    }

    /// Loads a `runhistory.json` (ours or SMAC3's) against a config space.
    pub fn load(
        path: &Path,
        space: &Arc<ConfigSpace>,
        n_objectives: usize,
    ) -> Result<RunHistory, RunHistoryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunHistoryError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        Self::from_json(&text, space, n_objectives, path)
    }

    /// Parses `runhistory.json` text; `path` only labels errors.
    pub fn from_json(
        text: &str,
        space: &Arc<ConfigSpace>,
        n_objectives: usize,
        path: &Path,
    ) -> Result<RunHistory, RunHistoryError> {
        let file_err = |reason: String| RunHistoryError::File { path: path.to_path_buf(), reason };
        let root: Json = crate::json_compat::parse_lenient(text).map_err(|e| file_err(e.to_string()))?;
        let configs = root
            .get("configs")
            .and_then(Json::as_object)
            .ok_or_else(|| file_err("no 'configs' object".into()))?;
        let origins = root.get("config_origins").and_then(Json::as_object);
        let mut by_id = std::collections::HashMap::new();
        for (id, values) in configs {
            let mut c = Configuration::from_json(space, values).map_err(|source| {
                RunHistoryError::Config { path: path.to_path_buf(), id: id.clone(), source }
            })?;
            if let Some(o) = origins.and_then(|o| o.get(id)).and_then(Json::as_str) {
                c.set_origin(o);
            }
            by_id.insert(id.clone(), c);
        }
        let rows =
            root.get("data").and_then(Json::as_array).ok_or_else(|| file_err("no 'data' list".into()))?;
        let mut rh = RunHistory::new(n_objectives);
        // Register configurations in the file's id order, so ids (which intensifier.json and the
        // trajectory refer to) survive a reload even when rows were written in completion order.
        let mut ordered: Vec<(u64, &String)> =
            by_id.keys().map(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k)).collect();
        ordered.sort();
        for (_, k) in ordered {
            rh.add_config(&by_id[k]);
        }
        for (k, row) in rows.iter().enumerate() {
            let bad = |reason: String| RunHistoryError::Row { path: path.to_path_buf(), row: k, reason };
            let (trial, value) = parse_row(row, &by_id, n_objectives).map_err(bad)?;
            if value.status == StatusType::Running {
                continue;
            }
            rh.add(&trial, value);
        }
        Ok(rh)
    }
}

/// Parses a row in SMAC3 2.x's object form or SMAC3 2.0's list form
/// `[config_id, instance, seed, budget, cost, time, status, starttime, endtime, additional_info]`.
fn parse_row(
    row: &Json,
    configs: &std::collections::HashMap<String, Configuration>,
    n_objectives: usize,
) -> Result<(TrialInfo, TrialValue), String> {
    let field = |name: &str, pos: usize| -> Json {
        match row {
            Json::Object(m) => m.get(name).cloned().unwrap_or(Json::Null),
            Json::Array(a) => a.get(pos).cloned().unwrap_or(Json::Null),
            _ => Json::Null,
        }
    };
    if !(row.is_object() || row.is_array()) {
        return Err("not an object".into());
    }
    let id = field("config_id", 0);
    let id_key = match &id {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.clone(),
        _ => return Err("missing config_id".into()),
    };
    let config = configs.get(&id_key).ok_or_else(|| format!("config_id {id_key} has no configuration"))?;
    let num = |name: &str, pos: usize| field(name, pos).as_f64();
    let cost = match field("cost", 4) {
        Json::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        Json::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Json::Null => vec![f64::INFINITY; n_objectives],
        other => return Err(format!("cost {other} is not a number or list")),
    };
    if cost.len() != n_objectives {
        return Err(format!("{} costs for {n_objectives} objectives", cost.len()));
    }
    let status_pos = if row.is_array() { 6 } else { 0 };
    let status_code = field("status", status_pos).as_u64().ok_or("missing status")?;
    let status = StatusType::try_from(status_code as u8)?;
    let is_list = row.is_array();
    let (start_pos, end_pos, info_pos) = if is_list { (7, 8, 9) } else { (0, 0, 0) };
    let trial = TrialInfo {
        config: config.clone(),
        instance: field("instance", 1).as_str().map(str::to_string),
        seed: field("seed", 2).as_u64(),
        budget: num("budget", 3).filter(|b| *b != 0.0 || !is_list),
    };
    let value = TrialValue {
        cost: cost.into_iter().map(unfinite).collect(),
        time: num("time", 5).unwrap_or(0.0),
        cpu_time: if is_list { 0.0 } else { num("cpu_time", 0).unwrap_or(0.0) },
        status,
        starttime: num("starttime", start_pos).unwrap_or(0.0),
        endtime: num("endtime", end_pos).unwrap_or(0.0),
        additional_info: field("additional_info", info_pos).as_object().cloned().unwrap_or_default(),
    };
    Ok((trial, value))
}
