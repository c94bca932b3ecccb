//! Reading a finished or running run directory (ours or SMAC3's) for `show` and `plot`.

use super::error::CliError;
use smac_core::json_compat::parse_lenient;
use smac_core::{ConfigSpace, Configuration, RunHistory, Scenario, TrajectoryEntry};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One run directory, loaded.
pub struct Run {
    /// The directory.
    pub path: PathBuf,
    /// `scenario.json` with `configspace.json`.
    pub scenario: Scenario,
    /// `runhistory.json` (finished trials, in file order). Its config ids are assigned anew in
    /// order of first appearance; [`Run::file_id`] gives the file's id of each.
    pub runhistory: RunHistory,
    /// The file's config id of each loaded config id.
    file_ids: HashMap<usize, usize>,
    /// `stats.running` of `runhistory.json`: trials submitted but not finished at the last save.
    pub running: usize,
    /// `intensifier.json`'s incumbents, if the file exists.
    pub incumbent_ids: Option<Vec<usize>>,
    /// `intensifier.json`'s trajectory (empty without the file).
    pub trajectory: Vec<TrajectoryEntry>,
    /// `optimization.json`: wall seconds used.
    pub used_walltime: Option<f64>,
    /// `optimization.json`: whether the loop ended.
    pub finished: Option<bool>,
    /// `scenario.json`'s `_meta.facade.name` (SMAC3's facade class), if written.
    pub facade: Option<String>,
    /// `scenario.json`'s `_meta.intensifier`: its class name and `eta`, if written.
    pub intensifier: Option<(String, Option<u64>)>,
}

fn read_json(path: &Path) -> Result<serde_json::Value, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    parse_lenient(&text)
        .map_err(|e| CliError::RunDirectory { path: path.to_path_buf(), reason: e.to_string() })
}

impl Run {
    /// Loads the run in `dir` (which holds `runhistory.json`).
    pub fn load(dir: &Path) -> Result<Run, CliError> {
        let bad = |reason: String| CliError::RunDirectory { path: dir.to_path_buf(), reason };
        for f in ["scenario.json", "configspace.json", "runhistory.json"] {
            if !dir.join(f).is_file() {
                return Err(bad(format!("{f} is missing")));
            }
        }
        let space = Arc::new(ConfigSpace::load_json(&dir.join("configspace.json"))?);
        let sc_path = dir.join("scenario.json");
        let sc_text = std::fs::read_to_string(&sc_path).map_err(|e| CliError::io(&sc_path, e))?;
        let scenario = Scenario::from_json(&sc_text, space.clone(), &sc_path)?;
        let meta = parse_lenient(&sc_text).ok();
        let meta_str = |p: &str| meta.as_ref()?.pointer(p)?.as_str().map(str::to_string);
        let facade = meta_str("/_meta/facade/name");
        let intensifier = meta_str("/_meta/intensifier/name").map(|name| {
            let eta =
                meta.as_ref().and_then(|m| m.pointer("/_meta/intensifier/eta")).and_then(|e| e.as_u64());
            (name, eta)
        });
        let rh_path = dir.join("runhistory.json");
        let rh_text = std::fs::read_to_string(&rh_path).map_err(|e| CliError::io(&rh_path, e))?;
        let runhistory = RunHistory::from_json(&rh_text, &space, scenario.n_objectives(), &rh_path)?;
        let raw = parse_lenient(&rh_text).map_err(|e| bad(e.to_string()))?;
        let running = raw.pointer("/stats/running").and_then(|r| r.as_u64()).unwrap_or(0) as usize;
        let file_ids = file_ids(&raw, &space, &runhistory);
        let (mut incumbent_ids, mut trajectory) = (None, Vec::new());
        let int_path = dir.join("intensifier.json");
        if int_path.is_file() {
            let v = read_json(&int_path)?;
            incumbent_ids = v.get("incumbent_ids").and_then(|i| serde_json::from_value(i.clone()).ok());
            trajectory =
                v.get("trajectory").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
        }
        let (mut used_walltime, mut finished) = (None, None);
        let opt_path = dir.join("optimization.json");
        if opt_path.is_file() {
            let v = read_json(&opt_path)?;
            used_walltime = v.get("used_walltime").and_then(|x| x.as_f64());
            finished = v.get("finished").and_then(|x| x.as_bool());
        }
        Ok(Run {
            path: dir.to_path_buf(),
            scenario,
            runhistory,
            file_ids,
            running,
            incumbent_ids,
            trajectory,
            used_walltime,
            finished,
            facade,
            intensifier,
        })
    }

    /// The id `runhistory.json` gives the configuration with loaded id `id`.
    pub fn file_id(&self, id: usize) -> usize {
        self.file_ids.get(&id).copied().unwrap_or(id)
    }

    /// The loaded ids of the incumbents: `intensifier.json`'s, else the best configurations of
    /// the history (the lowest average cost; the Pareto front for several objectives).
    pub fn incumbents(&self) -> Vec<usize> {
        let loaded: HashMap<usize, usize> = self.file_ids.iter().map(|(l, f)| (*f, *l)).collect();
        let from_file: Vec<usize> =
            self.incumbent_ids.iter().flatten().filter_map(|f| loaded.get(f).copied()).collect();
        match from_file {
            ids if !ids.is_empty() => ids,
            _ if self.scenario.n_objectives() > 1 => self.runhistory.pareto_front(),
            _ => self.runhistory.best_config().map(|(id, _)| vec![id]).unwrap_or_default(),
        }
    }
}

/// Maps loaded config ids to the file's: `RunHistory::from_json` numbers configurations by
/// first appearance in `data`, which differs from the file's ids when rows are not in id order
/// (parallel runs write results as they finish; SMAC3 writes them in submission order).
fn file_ids(raw: &serde_json::Value, space: &Arc<ConfigSpace>, rh: &RunHistory) -> HashMap<usize, usize> {
    let mut out = HashMap::new();
    for (key, values) in raw.get("configs").and_then(|c| c.as_object()).into_iter().flatten() {
        let (Ok(file_id), Ok(config)) = (key.parse::<usize>(), Configuration::from_json(space, values))
        else {
            continue;
        };
        if let Some(id) = rh.config_id(&config) {
            out.insert(id, file_id);
        }
    }
    out
}

/// The run directories at or below `path` (a run directory itself, `<output>/<name>` or
/// `<output>`), sorted.
pub fn find(path: &Path) -> Result<Vec<PathBuf>, CliError> {
    if !path.is_dir() {
        return Err(CliError::io(path, "not a directory"));
    }
    let mut found = Vec::new();
    collect(path, 3, &mut found);
    found.sort();
    if found.is_empty() {
        return Err(CliError::RunDirectory {
            path: path.to_path_buf(),
            reason: "no run directory (with a runhistory.json) here or up to 3 levels below".into(),
        });
    }
    Ok(found)
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("runhistory.json").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                collect(&e.path(), depth - 1, out);
            }
        }
    }
}

/// Exactly one run directory at or below `path`.
pub fn find_one(path: &Path) -> Result<PathBuf, CliError> {
    let mut found = find(path)?;
    if found.len() > 1 {
        let list: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        return Err(CliError::Usage(format!(
            "{} holds {} runs; choose one of:\n  {}",
            path.display(),
            found.len(),
            list.join("\n  ")
        )));
    }
    Ok(found.remove(0))
}
