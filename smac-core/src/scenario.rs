//! The scenario: everything about the optimization problem and its limits.
//!
//! Built with [`Scenario::builder`] and validated on `build()`; every error names the field.
//! Saved as `scenario.json` as SMAC3 2.x writes it: its keys in its order, single values as
//! scalars, infinite limits as Python's `Infinity` token, `_meta` describing the facade, and
//! `output_directory` exactly as given joined with `name/seed`.

use crate::configspace::ConfigSpace;
use crate::json_compat::{from_finite, to_finite};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// Why a scenario is invalid, or could not be saved or loaded.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// A field has an invalid value.
    #[error("scenario field '{field}': {reason}")]
    InvalidField {
        /// The scenario field at fault.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing `scenario.json` failed.
    #[error("scenario file '{path}': {reason}")]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The optimization problem: search space, objectives, budget of trials and time, parallelism.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The search space.
    pub configspace: Arc<ConfigSpace>,
    /// Name of the run; the run directory is `output_directory/name/seed`.
    pub name: String,
    /// Base output directory.
    pub output_directory: PathBuf,
    /// Whether the target gives the same cost for the same configuration and instance whatever
    /// the seed (then each configuration is run with one seed only).
    pub deterministic: bool,
    /// Names of the objectives (all minimized).
    pub objectives: Vec<String>,
    /// Cost recorded for failed trials, one per objective.
    pub crash_cost: Vec<f64>,
    /// Stop once the incumbent's average cost is below this, per objective (infinite: never).
    pub termination_cost_threshold: Vec<f64>,
    /// Wall-clock seconds the whole optimization may take.
    pub walltime_limit: f64,
    /// CPU seconds the target may use over all trials (as SMAC3: the sum of the trials' `cpu_time`).
    pub cputime_limit: f64,
    /// Wall-clock seconds one trial may take (enforced by process-based runners).
    pub trial_walltime_limit: Option<f64>,
    /// Megabytes of memory one trial may use (enforced by process-based runners).
    pub trial_memory_limit: Option<u64>,
    /// Number of trials to run.
    pub n_trials: usize,
    /// Evaluate the default configuration first.
    pub use_default_config: bool,
    /// Problem instances the target is evaluated on.
    pub instances: Option<Vec<String>>,
    /// A feature vector per instance, all of the same length.
    pub instance_features: Option<BTreeMap<String, Vec<f64>>>,
    /// Smallest budget for multi-fidelity runs.
    pub min_budget: Option<f64>,
    /// Largest budget for multi-fidelity runs.
    pub max_budget: Option<f64>,
    /// Seed of every random decision of the optimizer.
    pub seed: u64,
    /// Number of workers evaluating trials in parallel.
    pub n_workers: usize,
}

/// Builder for [`Scenario`]; see the field docs there. Defaults follow SMAC3.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    s: Scenario,
    name: Option<String>,
}

macro_rules! setters {
    ($($field:ident : $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "`.")]
            pub fn $field(mut self, v: $ty) -> Self {
                self.s.$field = v;
                self
            }
        )*
    };
}

impl ScenarioBuilder {
    setters! {
        deterministic: bool,
        walltime_limit: f64,
        cputime_limit: f64,
        n_trials: usize,
        use_default_config: bool,
        seed: u64,
        n_workers: usize,
    }

    /// Sets the run's name (default: a hash of the scenario, as SMAC3 does).
    pub fn name(mut self, v: impl Into<String>) -> Self {
        self.name = Some(v.into());
        self
    }
    /// Sets the base output directory (default `smac3_output`).
    pub fn output_directory(mut self, v: impl Into<PathBuf>) -> Self {
        self.s.output_directory = v.into();
        self
    }
    /// Sets the objective names (default `["cost"]`); crash cost and threshold follow the count.
    pub fn objectives<S: Into<String>>(mut self, v: impl IntoIterator<Item = S>) -> Self {
        self.s.objectives = v.into_iter().map(Into::into).collect();
        let n = self.s.objectives.len();
        if self.s.crash_cost.len() != n && self.s.crash_cost.iter().all(|c| c.is_infinite()) {
            self.s.crash_cost = vec![f64::INFINITY; n];
        }
        if self.s.termination_cost_threshold.len() != n {
            self.s.termination_cost_threshold = vec![f64::INFINITY; n];
        }
        self
    }
    /// Sets the crash cost, one per objective.
    pub fn crash_cost(mut self, v: impl Into<Vec<f64>>) -> Self {
        self.s.crash_cost = v.into();
        self
    }
    /// Sets the termination threshold, one per objective.
    pub fn termination_cost_threshold(mut self, v: impl Into<Vec<f64>>) -> Self {
        self.s.termination_cost_threshold = v.into();
        self
    }
    /// Sets the per-trial walltime limit in seconds.
    pub fn trial_walltime_limit(mut self, v: f64) -> Self {
        self.s.trial_walltime_limit = Some(v);
        self
    }
    /// Sets the per-trial memory limit in megabytes.
    pub fn trial_memory_limit(mut self, v: u64) -> Self {
        self.s.trial_memory_limit = Some(v);
        self
    }
    /// Sets the problem instances.
    pub fn instances<S: Into<String>>(mut self, v: impl IntoIterator<Item = S>) -> Self {
        self.s.instances = Some(v.into_iter().map(Into::into).collect());
        self
    }
    /// Sets the instance features.
    pub fn instance_features(mut self, v: BTreeMap<String, Vec<f64>>) -> Self {
        self.s.instance_features = Some(v);
        self
    }
    /// Sets the budget range for multi-fidelity runs.
    pub fn budgets(mut self, min_budget: f64, max_budget: f64) -> Self {
        self.s.min_budget = Some(min_budget);
        self.s.max_budget = Some(max_budget);
        self
    }

    /// Validates and returns the scenario.
    pub fn build(mut self) -> Result<Scenario, ScenarioError> {
        self.s.name = self.name.take().unwrap_or_else(|| self.s.content_hash());
        self.s.validate()?;
        Ok(self.s)
    }
}

impl Scenario {
    /// Starts a builder with SMAC3's defaults.
    pub fn builder(configspace: impl Into<Arc<ConfigSpace>>) -> ScenarioBuilder {
        ScenarioBuilder {
            s: Scenario {
                configspace: configspace.into(),
                name: String::new(),
                output_directory: PathBuf::from("smac3_output"),
                deterministic: false,
                objectives: vec!["cost".into()],
                crash_cost: vec![f64::INFINITY],
                termination_cost_threshold: vec![f64::INFINITY],
                walltime_limit: f64::INFINITY,
                cputime_limit: f64::INFINITY,
                trial_walltime_limit: None,
                trial_memory_limit: None,
                n_trials: 100,
                use_default_config: false,
                instances: None,
                instance_features: None,
                min_budget: None,
                max_budget: None,
                seed: 0,
                n_workers: 1,
            },
            name: None,
        }
    }

    /// Number of objectives.
    pub fn n_objectives(&self) -> usize {
        self.objectives.len()
    }

    /// Whether trials carry budgets.
    pub fn is_multi_fidelity(&self) -> bool {
        self.min_budget.is_some() || self.max_budget.is_some()
    }

    /// Where this run's files live: `output_directory/name/seed`.
    pub fn run_directory(&self) -> PathBuf {
        self.output_directory.join(&self.name).join(self.seed.to_string())
    }

    /// The number of features per instance (0 without features).
    pub fn n_instance_features(&self) -> usize {
        self.instance_features.as_ref().and_then(|f| f.values().next()).map_or(0, Vec::len)
    }

    /// Checks every field; errors name the field at fault.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |field: &'static str, reason: String| Err(ScenarioError::InvalidField { field, reason });
        if self.name.is_empty() || self.name.contains(['/', '\\']) || self.name == ".." {
            return bad("name", format!("'{}' cannot name a directory", self.name));
        }
        if self.objectives.is_empty() {
            return bad("objectives", "at least one objective is needed".into());
        }
        for (k, o) in self.objectives.iter().enumerate() {
            if self.objectives[..k].contains(o) {
                return bad("objectives", format!("'{o}' appears twice"));
            }
        }
        let n = self.objectives.len();
        if self.crash_cost.len() != n {
            return bad("crash_cost", format!("{} values for {n} objectives", self.crash_cost.len()));
        }
        if self.crash_cost.iter().any(|c| c.is_nan()) {
            return bad("crash_cost", "must not be NaN".into());
        }
        if self.termination_cost_threshold.len() != n {
            return bad(
                "termination_cost_threshold",
                format!("{} values for {n} objectives", self.termination_cost_threshold.len()),
            );
        }
        for (field, v) in [("walltime_limit", self.walltime_limit), ("cputime_limit", self.cputime_limit)] {
            if v.is_nan() || v <= 0.0 {
                return bad(field, format!("must be > 0, got {v}"));
            }
        }
        if let Some(t) = self.trial_walltime_limit {
            if !(t.is_finite() && t > 0.0) {
                return bad("trial_walltime_limit", format!("must be a positive number of seconds, got {t}"));
            }
        }
        if self.trial_memory_limit == Some(0) {
            return bad("trial_memory_limit", "must be > 0 MB".into());
        }
        if self.n_trials == 0 {
            return bad("n_trials", "must be at least 1".into());
        }
        if self.n_workers == 0 {
            return bad("n_workers", "must be at least 1".into());
        }
        match (self.min_budget, self.max_budget) {
            (Some(lo), Some(hi)) => {
                if !(lo.is_finite() && lo > 0.0) {
                    return bad("min_budget", format!("must be > 0, got {lo}"));
                }
                if !(hi.is_finite() && hi > lo) {
                    return bad("max_budget", format!("must be > min_budget {lo}, got {hi}"));
                }
            }
            (None, None) => {}
            _ => return bad("min_budget", "min_budget and max_budget must be given together".into()),
        }
        if let Some(instances) = &self.instances {
            if instances.is_empty() {
                return bad("instances", "an empty list; leave it unset instead".into());
            }
            for (k, i) in instances.iter().enumerate() {
                if instances[..k].contains(i) {
                    return bad("instances", format!("'{i}' appears twice"));
                }
            }
        }
        if let Some(features) = &self.instance_features {
            let Some(instances) = &self.instances else {
                return bad("instance_features", "given without instances".into());
            };
            let len = self.n_instance_features();
            for i in instances {
                match features.get(i) {
                    None => return bad("instance_features", format!("no features for instance '{i}'")),
                    Some(f) if f.len() != len => {
                        return bad(
                            "instance_features",
                            format!("instance '{i}' has {} features, others {len}", f.len()),
                        )
                    }
                    Some(f) if f.iter().any(|x| !x.is_finite()) => {
                        return bad("instance_features", format!("instance '{i}' has a non-finite feature"))
                    }
                    _ => {}
                }
            }
            if let Some(extra) = features.keys().find(|k| !instances.contains(k)) {
                return bad("instance_features", format!("features for unknown instance '{extra}'"));
            }
        }
        Ok(())
    }

    /// A stable hash of the scenario's content, SMAC3's default run name.
    fn content_hash(&self) -> String {
        let mut fields = self.to_file();
        fields.name = String::new();
        fields.output_directory = String::new();
        let text = serde_json::to_string(&(fields, &*self.configspace)).expect("scenario serializes");
        let mut h: u64 = 0xcbf29ce484222325;
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }

    fn to_file(&self) -> ScenarioFile {
        ScenarioFile {
            name: self.name.clone(),
            deterministic: self.deterministic,
            objectives: self.objectives.clone(),
            crash_cost: finite(&self.crash_cost),
            termination_cost_threshold: finite(&self.termination_cost_threshold),
            walltime_limit: to_finite(self.walltime_limit),
            cputime_limit: to_finite(self.cputime_limit),
            trial_walltime_limit: self.trial_walltime_limit,
            trial_memory_limit: self.trial_memory_limit,
            n_trials: self.n_trials,
            use_default_config: self.use_default_config,
            instances: self.instances.clone(),
            instance_features: self.instance_features.clone(),
            min_budget: self.min_budget,
            max_budget: self.max_budget,
            seed: self.seed,
            n_workers: self.n_workers,
            adaptive_capping: false,
            adaptive_capping_slackfactor: None,
            runtime_cutoff: None,
            output_directory: self.run_directory().to_string_lossy().into_owned(),
            meta: serde_json::Value::Object(Default::default()),
        }
    }

    /// Serializes to the `scenario.json` text with an empty `_meta` (the config space goes to
    /// `configspace.json`).
    pub fn to_json(&self) -> String {
        self.to_json_with_meta(&serde_json::Value::Object(Default::default()))
    }

    /// Serializes to the `scenario.json` text with the given `_meta` (see [`crate::smac3_meta`]).
    pub fn to_json_with_meta(&self, meta: &serde_json::Value) -> String {
        let mut file = self.to_file();
        file.meta = meta.clone();
        let value = serde_json::to_value(&file).expect("scenario serializes");
        crate::json_compat::to_python_json(&value, Some(4))
    }

    /// Whether two scenarios describe the same run, ignoring `n_workers` and the limits that
    /// may be raised to continue a run (`n_trials`, `walltime_limit`, `cputime_limit`).
    pub fn same_run_as(&self, other: &Scenario) -> bool {
        let strip = |s: &Scenario| {
            let mut f = s.to_file();
            f.n_trials = 0;
            f.n_workers = 0;
            f.walltime_limit = 0.0;
            f.cputime_limit = 0.0;
            f
        };
        strip(self) == strip(other) && self.configspace == other.configspace
    }

    /// Parses `scenario.json` text given the config space read from `configspace.json`.
    pub fn from_json(
        text: &str,
        configspace: Arc<ConfigSpace>,
        path: &Path,
    ) -> Result<Scenario, ScenarioError> {
        let file_err =
            |e: serde_json::Error| ScenarioError::File { path: path.to_path_buf(), reason: e.to_string() };
        let mut f: ScenarioFile =
            serde_json::from_value(crate::json_compat::parse_lenient(text).map_err(file_err)?)
                .map_err(file_err)?;
        let run_dir = PathBuf::from(&f.output_directory);
        // The file holds the full run directory; the base is two levels up (name/seed).
        let output_directory =
            run_dir.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
        // SMAC3 writes one crash cost or threshold for all objectives as a scalar.
        let n = f.objectives.len();
        let broadcast = |v: Vec<f64>| if v.len() == 1 && n > 1 { vec![v[0]; n] } else { v };
        f.crash_cost = broadcast(f.crash_cost);
        f.termination_cost_threshold = broadcast(f.termination_cost_threshold);
        let s = Scenario {
            configspace,
            name: f.name,
            output_directory,
            deterministic: f.deterministic,
            objectives: f.objectives,
            crash_cost: infinite(&f.crash_cost),
            termination_cost_threshold: infinite(&f.termination_cost_threshold),
            walltime_limit: from_finite(f.walltime_limit),
            cputime_limit: from_finite(f.cputime_limit),
            trial_walltime_limit: f.trial_walltime_limit,
            trial_memory_limit: f.trial_memory_limit,
            n_trials: f.n_trials,
            use_default_config: f.use_default_config,
            instances: f.instances,
            instance_features: f.instance_features,
            min_budget: f.min_budget,
            max_budget: f.max_budget,
            seed: f.seed,
            n_workers: f.n_workers,
        };
        s.validate()?;
        Ok(s)
    }
}

/// `scenario.json` as SMAC3 writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ScenarioFile {
    name: String,
    deterministic: bool,
    #[serde(deserialize_with = "one_or_many", serialize_with = "scalar_if_one")]
    objectives: Vec<String>,
    #[serde(deserialize_with = "one_or_many", serialize_with = "scalar_if_same")]
    crash_cost: Vec<f64>,
    #[serde(deserialize_with = "one_or_many", serialize_with = "scalar_if_same")]
    termination_cost_threshold: Vec<f64>,
    walltime_limit: f64,
    cputime_limit: f64,
    trial_walltime_limit: Option<f64>,
    trial_memory_limit: Option<u64>,
    n_trials: usize,
    use_default_config: bool,
    instances: Option<Vec<String>>,
    instance_features: Option<BTreeMap<String, Vec<f64>>>,
    /// SMAC3 keys for adaptive capping, which smac-rs does not do: written so SMAC3's readers find
    /// every key, always `false`/`null`.
    #[serde(default)]
    adaptive_capping: bool,
    #[serde(default)]
    adaptive_capping_slackfactor: Option<f64>,
    #[serde(default)]
    runtime_cutoff: Option<f64>,
    min_budget: Option<f64>,
    max_budget: Option<f64>,
    seed: u64,
    n_workers: usize,
    #[serde(rename = "_meta", default)]
    meta: serde_json::Value,
    output_directory: String,
}

/// SMAC3 writes one objective name as a string.
fn scalar_if_one<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => s.serialize_str(one),
        _ => v.serialize(s),
    }
}

/// SMAC3's default crash cost and threshold are one number for every objective.
fn scalar_if_same<S: serde::Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    match v.first() {
        Some(x) if v.iter().all(|y| y == x) => s.serialize_f64(*x),
        _ => v.serialize(s),
    }
}

/// SMAC3 writes single-objective values as a scalar and several as a list.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(x) => vec![x],
    })
}

fn finite(v: &[f64]) -> Vec<f64> {
    v.iter().copied().map(to_finite).collect()
}

fn infinite(v: &[f64]) -> Vec<f64> {
    v.iter().copied().map(from_finite).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::Hyperparameter;

    fn space() -> Arc<ConfigSpace> {
        let mut cs = ConfigSpace::new("s");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        Arc::new(cs)
    }

    #[test]
    fn defaults_and_json_round_trip() {
        let s = Scenario::builder(space()).n_trials(20).seed(3).deterministic(true).build().unwrap();
        assert_eq!(s.name.len(), 16, "name defaults to a content hash");
        assert!(s.run_directory().ends_with(format!("{}/3", s.name)));
        let back = Scenario::from_json(&s.to_json(), space(), Path::new("scenario.json")).unwrap();
        assert_eq!(back, s);
        let other = Scenario::builder(space()).n_trials(20).seed(4).build().unwrap();
        assert_ne!(other.name, s.name);
    }

    #[test]
    fn written_as_smac3_writes_it() {
        let s = Scenario::builder(space()).name("r").output_directory("/abs/out").objectives(["a", "b"]);
        let s = s.build().unwrap();
        let text = s.to_json();
        assert!(text.contains("\"crash_cost\": Infinity,"), "{text}");
        assert!(text.contains("\"output_directory\": \"/abs/out/r/0\"\n}"), "{text}");
        let keys: Vec<String> =
            crate::json_compat::parse_lenient(&text).unwrap().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[..3], ["name", "deterministic", "objectives"]);
        assert_eq!(keys[keys.len() - 2..], ["_meta", "output_directory"]);
        let back = Scenario::from_json(&text, space(), Path::new("scenario.json")).unwrap();
        assert_eq!(back.crash_cost, vec![f64::INFINITY; 2]);
    }

    #[test]
    fn invalid_fields_are_named() {
        let err = |b: ScenarioBuilder| b.build().unwrap_err().to_string();
        assert!(err(Scenario::builder(space()).n_trials(0)).contains("n_trials"));
        assert!(err(Scenario::builder(space()).n_workers(0)).contains("n_workers"));
        assert!(err(Scenario::builder(space()).budgets(10.0, 1.0)).contains("max_budget"));
        assert!(err(Scenario::builder(space()).objectives(["a", "b"]).crash_cost(vec![1.0]))
            .contains("crash_cost"));
        let mut feats = BTreeMap::new();
        feats.insert("i1".to_string(), vec![1.0, 2.0]);
        feats.insert("i2".to_string(), vec![1.0]);
        assert!(
            err(Scenario::builder(space()).instances(["i1", "i2"]).instance_features(feats)).contains("'i2'")
        );
        assert!(err(Scenario::builder(space()).walltime_limit(-1.0)).contains("walltime_limit"));
    }

    #[test]
    fn same_run_ignores_raised_limits_only() {
        let a = Scenario::builder(space()).name("r").n_trials(10).build().unwrap();
        let b = Scenario::builder(space()).name("r").n_trials(50).n_workers(4).build().unwrap();
        let c = Scenario::builder(space()).name("r").deterministic(true).build().unwrap();
        assert!(a.same_run_as(&b));
        assert!(!a.same_run_as(&c));
    }
}
