//! The scenario file (TOML) and its merge with command-line flags into a [`RunSpec`].
//!
//! Keys are SMAC3's scenario fields (`n_trials`, `walltime_limit`, `n_workers`, `seed`, …) plus
//! `facade`, `configspace` (a ConfigSpace JSON file) or `[space.*]` tables, a `[target]`
//! table (`command`, `working_directory`, `env`) and a `[cluster]` table (where trials run:
//! `scheduler_file`, `dask_address`, `patience`, `resources`, `single_node_with_gpus`, …). Top-level keys must come before the first
//! table. Relative paths in the file are relative to the file's directory; relative paths given
//! as flags are relative to the current directory. Flags override the file.

use super::args::{FacadeKind, OptimizeArgs};
use super::error::CliError;
use super::space;
use serde::Deserialize;
use smac_core::{ConfigSpace, Scenario};
use smac_runner::{ClusterConfig, Resources};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One value or a list (SMAC3 writes single objectives as scalars).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(x) => vec![x],
        }
    }
}

/// The `[target]` table: what to run per trial.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetDef {
    command: Option<Vec<String>>,
    working_directory: Option<PathBuf>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// Resources as `"GPU=1,MEMORY=10e9"` or a table `{ GPU = 1 }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum ResourcesDef {
    Text(String),
    Table(BTreeMap<String, f64>),
}

impl ResourcesDef {
    fn parse(self, field: &str) -> Result<Resources, CliError> {
        match self {
            ResourcesDef::Text(t) => {
                t.parse().map_err(|e| CliError::Usage(format!("[cluster] {field}: {e}")))
            }
            ResourcesDef::Table(m) => Ok(m.into_iter().collect()),
        }
    }
}

/// The `[cluster]` table: where trials run (see `smac_runner::ClusterConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterDef {
    scheduler_file: Option<PathBuf>,
    dask_address: Option<String>,
    patience: Option<f64>,
    connect_timeout: Option<f64>,
    resources: Option<ResourcesDef>,
    worker_resources: Option<ResourcesDef>,
    single_node_with_gpus: Option<bool>,
    gpus: Option<Vec<String>>,
    max_retries: Option<u32>,
    reproducible: Option<bool>,
    python: Option<PathBuf>,
    worker_program: Option<PathBuf>,
}

/// The scenario file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    output_directory: Option<PathBuf>,
    facade: Option<FacadeKind>,
    seed: Option<u64>,
    n_trials: Option<usize>,
    walltime_limit: Option<f64>,
    cputime_limit: Option<f64>,
    n_workers: Option<usize>,
    deterministic: Option<bool>,
    trial_walltime_limit: Option<f64>,
    trial_memory_limit: Option<u64>,
    instances: Option<Vec<String>>,
    instance_features: Option<BTreeMap<String, Vec<f64>>>,
    min_budget: Option<f64>,
    max_budget: Option<f64>,
    objectives: Option<OneOrMany<String>>,
    crash_cost: Option<OneOrMany<f64>>,
    termination_cost_threshold: Option<OneOrMany<f64>>,
    use_default_config: Option<bool>,
    objective_weights: Option<Vec<f64>>,
    retrain_after: Option<usize>,
    interleaved: Option<smac_core::Interleaved>,
    configspace: Option<PathBuf>,
    target: Option<TargetDef>,
    cluster: Option<ClusterDef>,
    space: Option<toml::Table>,
}

/// Everything `smac optimize` needs: the scenario, the facade and the target command.
#[derive(Debug)]
pub struct RunSpec {
    /// The validated scenario.
    pub scenario: Scenario,
    /// The optimizer preset.
    pub facade: FacadeKind,
    /// The target program (absolute if it was given as a path) and its fixed arguments.
    pub command: Vec<String>,
    /// The target's working directory (absolute).
    pub working_directory: PathBuf,
    /// Extra environment variables for the target.
    pub env: Vec<(String, String)>,
    /// Where trials run: local workers, our scheduler or Dask.
    pub cluster: ClusterConfig,
    /// `objective_weights = [...]`: the model learns the weighted mean of the normalized
    /// objectives (SMAC3's `MeanAggregationStrategy`) instead of ParEGO's random scalarizations.
    pub multi_objective: Option<smac_core::multi_objective::MultiObjectiveAlgorithm>,
    /// `retrain_after = N`: the model is refitted after N new configurations instead of the
    /// facade's default (HPO and BlackBox 1, the others 8 as in SMAC3).
    pub retrain_after: Option<usize>,
    /// `interleaved = "random" | "tpe"`: what the configurations interleaved between the model's
    /// are, instead of the facade's default (TPE for `hpo`, random for the others).
    pub interleaved: Option<smac_core::Interleaved>,
}

/// Reads the scenario file (if any) and applies the flags.
pub fn resolve(args: &OptimizeArgs) -> Result<RunSpec, CliError> {
    let cwd = std::env::current_dir().map_err(|e| CliError::io(".", e))?;
    let (file, base) = match &args.scenario {
        Some(path) => {
            let text = smac_core::files::read_utf8(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    CliError::ScenarioFile { path: path.clone(), reason: e.to_string() }
                }
                _ => CliError::io(path, e),
            })?;
            let file: ScenarioFile = toml::from_str(&text)
                .map_err(|e| CliError::ScenarioFile { path: path.clone(), reason: e.to_string() })?;
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            (file, clean(&cwd.join(dir)))
        }
        None => (ScenarioFile::default(), cwd.clone()),
    };
    let in_file = |p: &Path| clean(&base.join(p));
    let in_cwd = |p: &Path| clean(&cwd.join(p));

    let space_name = args.name.clone().or(file.name.clone()).unwrap_or_else(|| "smac".into());
    let space =
        match (&args.configspace, &file.configspace, &file.space) {
            (Some(p), _, _) => load_json(&in_cwd(p))?,
            (None, Some(_), Some(_)) => {
                return Err(CliError::Usage(
                    "the scenario file has both `configspace` and [space.*] tables; keep one".into(),
                ))
            }
            (None, Some(p), None) => load_json(&in_file(p))?,
            (None, None, Some(t)) => space::from_toml(&space_name, t)?,
            (None, None, None) => return Err(CliError::Usage(
                "no search space: add [space.NAME] tables or `configspace = \"space.json\"` to the scenario \
                 file, or pass --configspace FILE"
                    .into(),
            )),
        };

    // The space as the run directory's configspace.json will give it back: the core compares
    // the space of a resumed run with the stored one, and the JSON reader normalizes some
    // fields (an explicit default equal to the midpoint is read back as "no default").
    let space = ConfigSpace::from_configspace_json(&space.to_configspace_json())?;
    let mut b = Scenario::builder(space);
    if let Some(v) = args.name.clone().or(file.name) {
        b = b.name(v);
    }
    // As given: a flag verbatim (SMAC3 writes `output_directory` exactly as the user gave it),
    // a relative path in the file relative to the file's directory.
    let output = match (&args.output_directory, &file.output_directory) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) if p.is_absolute() => p.clone(),
        (None, Some(p)) => relative_to(&in_file(p), &cwd),
        (None, None) => relative_to(&base.join("smac3_output"), &cwd),
    };
    b = b.output_directory(output);
    if let Some(v) = args.seed.or(file.seed) {
        b = b.seed(v);
    }
    if let Some(v) = args.n_trials.or(file.n_trials) {
        b = b.n_trials(v);
    }
    if let Some(v) = args.walltime_limit.or(file.walltime_limit) {
        b = b.walltime_limit(v);
    }
    if let Some(v) = args.cputime_limit.or(file.cputime_limit) {
        b = b.cputime_limit(v);
    }
    if let Some(v) = args.n_workers.or(file.n_workers) {
        b = b.n_workers(v);
    }
    if let Some(v) = args.deterministic.or(file.deterministic) {
        b = b.deterministic(v);
    }
    if let Some(v) = args.trial_walltime_limit.or(file.trial_walltime_limit) {
        b = b.trial_walltime_limit(v);
    }
    if let Some(v) = args.trial_memory_limit.or(file.trial_memory_limit) {
        b = b.trial_memory_limit(v);
    }
    if let Some(v) = args.instances.clone().or(file.instances) {
        b = b.instances(v);
    }
    if let Some(v) = file.instance_features {
        b = b.instance_features(v);
    }
    match (args.min_budget.or(file.min_budget), args.max_budget.or(file.max_budget)) {
        (Some(lo), Some(hi)) => b = b.budgets(lo, hi),
        (None, None) => {}
        _ => return Err(CliError::Usage("min_budget and max_budget must be given together".into())),
    }
    if let Some(v) = args.objectives.clone().or(file.objectives.map(OneOrMany::into_vec)) {
        b = b.objectives(v);
    }
    if let Some(v) = args.crash_cost.clone().or(file.crash_cost.map(OneOrMany::into_vec)) {
        b = b.crash_cost(v);
    }
    if let Some(v) = file.termination_cost_threshold {
        b = b.termination_cost_threshold(v.into_vec());
    }
    if let Some(v) = file.use_default_config {
        b = b.use_default_config(v);
    }
    let scenario = b.build()?;
    let multi_objective = match file.objective_weights {
        None => None,
        Some(w) => {
            let mo = smac_core::multi_objective::MultiObjectiveAlgorithm::MeanAggregation {
                objective_weights: Some(w),
            };
            mo.validate(scenario.n_objectives())
                .map_err(|e| CliError::Usage(format!("objective_weights: {e}")))?;
            Some(mo)
        }
    };
    if file.retrain_after == Some(0) {
        return Err(CliError::Usage(
            "retrain_after must be at least 1 (configurations per model fit)".into(),
        ));
    }
    let facade = args.facade.or(file.facade).unwrap_or(FacadeKind::Hpo);
    if matches!(facade, FacadeKind::Mf | FacadeKind::Hb) && !scenario.is_multi_fidelity() {
        return Err(CliError::Usage(format!(
            "facade {facade} needs min_budget and max_budget (the target gets `--budget B`)"
        )));
    }

    let target = file.target.unwrap_or_default();
    let working_directory = match &target.working_directory {
        Some(p) => in_file(p),
        None => base.clone(),
    };
    let mut command =
        if args.command.is_empty() { target.command.unwrap_or_default() } else { args.command.clone() };
    if command.is_empty() {
        return Err(CliError::Usage(
            "no target command: give it after `--` (smac optimize ... -- python3 train.py) or as \
             `command = [...]` in the scenario file's [target] table"
                .into(),
        ));
    }
    // Command-line programs are relative to the current directory, the file's to its directory.
    let program_base = if args.command.is_empty() { &working_directory } else { &cwd };
    command[0] = resolve_program(&command[0], program_base)?;
    let cluster = cluster_config(args, file.cluster.unwrap_or_default(), &in_file, &in_cwd)?;
    Ok(RunSpec {
        scenario,
        facade,
        command,
        working_directory,
        env: target.env.into_iter().collect(),
        cluster,
        multi_objective,
        retrain_after: file.retrain_after,
        interleaved: file.interleaved,
    })
}

/// The `[cluster]` table with the flags applied (flags win).
fn cluster_config(
    args: &OptimizeArgs,
    def: ClusterDef,
    in_file: &dyn Fn(&Path) -> PathBuf,
    in_cwd: &dyn Fn(&Path) -> PathBuf,
) -> Result<ClusterConfig, CliError> {
    let seconds = |field: &str, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(CliError::Usage(format!(
                "[cluster] {field} must be a non-negative number of seconds, not {v}"
            )))
        }
    };
    let scheduler_file = match (&args.scheduler_file, &def.scheduler_file) {
        (Some(p), _) => Some(in_cwd(p)),
        (None, Some(p)) => Some(in_file(p)),
        (None, None) => None,
    };
    let dask_address = args.dask_address.clone().or(def.dask_address);
    let mut c = ClusterConfig { scheduler_file, dask_address, ..Default::default() };
    if c.scheduler_file.is_some() && c.dask_address.is_some() {
        return Err(CliError::Usage("give either a scheduler file or a Dask address, not both".into()));
    }
    if let Some(v) = args.patience.or(def.patience) {
        c.patience = Some(seconds("patience", v)?);
    }
    if let Some(v) = def.connect_timeout {
        c.connect_timeout = seconds("connect_timeout", v)?;
    }
    c.resources = match (&args.resources, def.resources) {
        (Some(r), _) => r.parse().map_err(|e| CliError::Usage(format!("--resources: {e}")))?,
        (None, Some(r)) => r.parse("resources")?,
        (None, None) => Resources::new(),
    };
    c.worker_resources = match (&args.worker_resources, def.worker_resources) {
        (Some(r), _) => Some(r.parse().map_err(|e| CliError::Usage(format!("--worker-resources: {e}")))?),
        (None, Some(r)) => Some(r.parse("worker_resources")?),
        (None, None) => None,
    };
    c.single_node_with_gpus = args.single_node_with_gpus || def.single_node_with_gpus.unwrap_or(false);
    c.gpus = args.gpus.clone().or(def.gpus);
    if let Some(v) = args.max_retries.or(def.max_retries) {
        c.max_retries = v;
    }
    c.reproducible = args.reproducible || def.reproducible.unwrap_or(false);
    if let Some(p) = args.dask_python.as_deref().map(in_cwd).or(def.python.as_deref().map(in_file)) {
        c.dask.python = p;
    }
    // A path on the Dask workers: taken as written.
    c.dask.worker_program = args.worker_program.clone().or(def.worker_program);
    Ok(c)
}

fn load_json(path: &Path) -> Result<ConfigSpace, CliError> {
    Ok(ConfigSpace::load_json(path)?)
}

/// `path` without `.` components.
fn clean(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

/// `path` relative to `base` when it lies below it (keeps scenario.json's paths short).
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// Makes a program given as a path absolute and checks that it exists; looks bare names up in
/// `PATH` so that a typo fails now rather than as a crashed first trial.
fn resolve_program(program: &str, base: &Path) -> Result<String, CliError> {
    if program.contains('/') {
        let path = clean(&base.join(program));
        if !path.is_file() {
            return Err(CliError::Usage(format!("target program {} does not exist", path.display())));
        }
        return Ok(path.to_string_lossy().into_owned());
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        return Err(CliError::Usage(format!("target program '{program}' was not found in PATH")));
    }
    Ok(program.to_string())
}
