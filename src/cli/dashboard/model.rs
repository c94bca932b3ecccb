//! One loaded run as the dashboard serves it: the run itself, its trials as table rows and the
//! overview line. Built once per change of the run's files, then shared read-only by requests.

use super::super::output::json_costs;
use super::super::rundir::Run;
use serde::Serialize;
use smac_core::configspace::HpKind;
use smac_core::{StatusType, Value};
use std::collections::BTreeMap;

/// `additional_info` key under which our scheduler records the worker that ran a trial.
pub const WORKER_KEY: &str = "worker";

/// One finished trial, in `runhistory.json` order.
#[derive(Clone, Debug)]
pub struct TrialRow {
    /// Position in `runhistory.json` (1-based).
    pub trial: usize,
    /// The configuration's id in `runhistory.json`.
    pub config_id: usize,
    /// The configuration's id in the loaded run history.
    pub loaded_id: usize,
    /// The problem instance.
    pub instance: Option<String>,
    /// The seed.
    pub seed: Option<u64>,
    /// The budget.
    pub budget: Option<f64>,
    /// The outcome.
    pub status: StatusType,
    /// One cost per objective.
    pub cost: Vec<f64>,
    /// Wall seconds the trial took.
    pub time: f64,
    /// Start, in seconds after the run's first trial started.
    pub start: f64,
    /// End, in seconds after the run's first trial started.
    pub end: f64,
    /// The worker that ran it, when recorded.
    pub worker: Option<String>,
}

/// A hyperparameter as a table column and a plot axis.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// The hyperparameter's name.
    pub name: String,
    /// `linear`, `log` or `categorical`.
    pub scale: &'static str,
    /// Choice labels of categorical and ordinal hyperparameters.
    pub labels: Vec<String>,
    /// Axis range (log10 units for log scales, choice index for categorical ones).
    pub range: (f64, f64),
}

impl Column {
    /// The axis position of a value: the number, its log10, or the choice's index.
    pub fn position(&self, v: &Value) -> Option<f64> {
        match self.scale {
            "log" => v.as_f64().filter(|x| *x > 0.0).map(f64::log10),
            "categorical" => {
                let s = v.to_string();
                self.labels.iter().position(|l| *l == s).map(|p| p as f64)
            }
            _ => v.as_f64(),
        }
    }
}

/// What the runs overview lists about a run.
#[derive(Clone, Debug, Serialize)]
pub struct Overview {
    /// The run directory.
    pub path: String,
    /// Scenario name.
    pub name: String,
    /// Scenario seed.
    pub seed: u64,
    /// SMAC3's facade name from `scenario.json`'s `_meta`.
    pub facade: Option<String>,
    /// Objective names.
    pub objectives: Vec<String>,
    /// Trials the scenario plans.
    pub n_trials: usize,
    /// Finished trials.
    pub finished_trials: usize,
    /// Trials running at the last save.
    pub running: usize,
    /// Finished trials per status.
    pub status_counts: BTreeMap<String, usize>,
    /// The incumbents' ids in `runhistory.json`.
    pub incumbents: Vec<usize>,
    /// Their average costs.
    pub incumbent_costs: Vec<serde_json::Value>,
    /// Wall seconds used (`optimization.json`).
    pub elapsed: Option<f64>,
    /// Estimated wall seconds left: by the pace so far, capped by the wall-time limit.
    pub remaining: Option<f64>,
    /// Whether the optimization loop ended.
    pub ended: Option<bool>,
    /// Whether the scenario has budgets.
    pub multi_fidelity: bool,
    /// Distinct workers recorded in `additional_info`.
    pub workers: usize,
}

/// A loaded run with everything requests need.
pub struct RunData {
    /// The run.
    pub run: Run,
    /// Its trials.
    pub rows: Vec<TrialRow>,
    /// Its non-constant hyperparameters.
    pub columns: Vec<Column>,
    /// Each configuration's axis positions, by loaded id - 1 and column (`None`: inactive).
    pub positions: Vec<Vec<Option<f64>>>,
    /// The overview line.
    pub overview: Overview,
    /// Unix time the first trial started (the origin of `TrialRow::start`), if any trial ran.
    pub t0: Option<f64>,
}

fn columns(run: &Run) -> Vec<Column> {
    let labels = |vs: &[Value]| vs.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let mut out = Vec::new();
    for hp in run.scenario.configspace.hyperparameters() {
        let (scale, labels, range) = match &hp.kind {
            HpKind::Float(f) if f.log => ("log", vec![], (f.lower.log10(), f.upper.log10())),
            HpKind::Float(f) => ("linear", vec![], (f.lower, f.upper)),
            HpKind::Integer(i) if i.log => {
                ("log", vec![], ((i.lower as f64).log10(), (i.upper as f64).log10()))
            }
            HpKind::Integer(i) => ("linear", vec![], (i.lower as f64, i.upper as f64)),
            HpKind::Categorical(c) => {
                ("categorical", labels(&c.choices), (0.0, c.choices.len() as f64 - 1.0))
            }
            HpKind::Ordinal(o) => ("categorical", labels(&o.sequence), (0.0, o.sequence.len() as f64 - 1.0)),
            HpKind::Constant(_) => continue,
        };
        out.push(Column { name: hp.name.clone(), scale, labels, range });
    }
    out
}

impl RunData {
    /// Prepares a loaded run for the dashboard.
    pub fn new(run: Run) -> RunData {
        let rh = &run.runhistory;
        let t0 = rh.iter().map(|(_, v)| v.starttime).fold(f64::INFINITY, f64::min);
        let rows: Vec<TrialRow> = rh
            .iter()
            .enumerate()
            .map(|(i, (k, v))| TrialRow {
                trial: i + 1,
                config_id: run.file_id(k.config_id),
                loaded_id: k.config_id,
                instance: k.instance.clone(),
                seed: k.seed,
                budget: k.budget,
                status: v.status,
                cost: v.cost.clone(),
                time: v.time,
                start: (v.starttime - t0).max(0.0),
                end: (v.endtime - t0).max(0.0),
                worker: v.additional_info.get(WORKER_KEY).and_then(|w| w.as_str()).map(str::to_string),
            })
            .collect();
        let columns = columns(&run);
        let positions = rh
            .configs()
            .iter()
            .map(|c| columns.iter().map(|col| c.get(&col.name).and_then(|v| col.position(v))).collect())
            .collect();
        let overview = overview(&run, &rows);
        let t0 = t0.is_finite().then_some(t0);
        RunData { run, rows, columns, positions, overview, t0 }
    }
}

fn overview(run: &Run, rows: &[TrialRow]) -> Overview {
    let s = &run.scenario;
    let mut status_counts = BTreeMap::new();
    for r in rows {
        *status_counts.entry(r.status.name().to_string()).or_insert(0) += 1;
    }
    let incs = run.incumbents();
    let finished = rows.len();
    let remaining = match (run.finished, run.used_walltime) {
        (Some(true), _) => Some(0.0),
        (_, Some(used)) if finished > 0 => {
            let by_pace = used / finished as f64 * s.n_trials.saturating_sub(finished) as f64;
            let by_limit =
                if s.walltime_limit.is_finite() { (s.walltime_limit - used).max(0.0) } else { f64::INFINITY };
            Some(by_pace.min(by_limit))
        }
        _ => None,
    };
    let mut workers: Vec<&str> = rows.iter().filter_map(|r| r.worker.as_deref()).collect();
    workers.sort_unstable();
    workers.dedup();
    Overview {
        path: run.path.display().to_string(),
        name: s.name.clone(),
        seed: s.seed,
        facade: run.facade.clone(),
        objectives: s.objectives.clone(),
        n_trials: s.n_trials,
        finished_trials: finished,
        running: run.running,
        status_counts,
        incumbents: incs.iter().map(|id| run.file_id(*id)).collect(),
        incumbent_costs: incs
            .iter()
            .filter_map(|id| run.runhistory.average_cost(*id))
            .map(|c| json_costs(&c))
            .collect(),
        elapsed: run.used_walltime,
        remaining,
        ended: run.finished,
        multi_fidelity: s.is_multi_fidelity() || rows.iter().any(|r| r.budget.is_some()),
        workers: workers.len(),
    }
}

/// A finite cost, or `None` for crash costs and infinities.
pub fn finite(c: f64) -> Option<f64> {
    (c.is_finite() && c.abs() < f64::MAX / 2.0).then_some(c)
}
