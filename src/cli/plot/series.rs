//! The data behind the plots, computed from a run and written as JSON with `--data`.
//!
//! Trials are taken in `runhistory.json` order (1-based `trial`); `time` is a trial's end time
//! in seconds after the earliest trial start, so a run resumed after a pause shows the pause.
//! Only successful trials are plotted (failed ones carry the crash cost); all are listed.

use super::super::rundir::Run;
use serde::Serialize;
use smac_core::configspace::HpKind;
use smac_core::{StatusType, Value};

/// One trial of the run.
#[derive(Clone, Debug, Serialize)]
pub struct TrialPoint {
    /// Position in `runhistory.json` (1-based).
    pub trial: usize,
    /// The configuration's id in `runhistory.json`.
    pub config_id: usize,
    /// SMAC3's status name.
    pub status: &'static str,
    /// The plotted objective's cost (`null` when not finite).
    pub cost: Option<f64>,
    /// End time in seconds after the first trial started.
    pub time: f64,
}

/// The best successful cost so far, after a trial.
#[derive(Clone, Debug, Serialize)]
pub struct BestPoint {
    /// The trial after which this is the best (1-based, file order).
    pub trial: usize,
    /// Its end time in seconds after the first trial started.
    pub time: f64,
    /// The best cost so far.
    pub cost: f64,
    /// The configuration that reached it.
    pub config_id: usize,
}

/// Data of the convergence plot.
#[derive(Clone, Debug, Serialize)]
pub struct Convergence {
    /// Plotted objective.
    pub objective: String,
    /// Every finished trial.
    pub trials: Vec<TrialPoint>,
    /// Running minimum over successful trials in file order (one entry per successful trial).
    pub best_by_trial: Vec<BestPoint>,
    /// Running minimum over successful trials in order of end time.
    pub best_by_time: Vec<BestPoint>,
}

fn finite(c: f64) -> Option<f64> {
    (c.is_finite() && c.abs() < f64::MAX / 2.0).then_some(c)
}

/// Builds the convergence data of objective `obj`.
pub fn convergence(run: &Run, obj: usize) -> Convergence {
    let rows: Vec<_> = run.runhistory.iter().collect();
    let t0 = rows.iter().map(|(_, v)| v.starttime).fold(f64::INFINITY, f64::min);
    let trials: Vec<TrialPoint> = rows
        .iter()
        .enumerate()
        .map(|(i, (k, v))| TrialPoint {
            trial: i + 1,
            config_id: run.file_id(k.config_id),
            status: v.status.name(),
            cost: v.cost.get(obj).copied().and_then(finite),
            time: (v.endtime - t0).max(0.0),
        })
        .collect();
    let ok: Vec<&TrialPoint> = trials.iter().filter(|p| p.status == StatusType::Success.name()).collect();
    let running_min = |points: Vec<&TrialPoint>| {
        let mut best: Option<BestPoint> = None;
        let mut out = Vec::new();
        for p in points {
            let Some(c) = p.cost else { continue };
            if best.as_ref().is_none_or(|b| c < b.cost) {
                best = Some(BestPoint { trial: p.trial, time: p.time, cost: c, config_id: p.config_id });
            }
            let b = best.as_ref().expect("set above");
            out.push(BestPoint { trial: p.trial, time: p.time, cost: b.cost, config_id: b.config_id });
        }
        out
    };
    let mut by_time = ok.clone();
    by_time.sort_by(|a, b| a.time.total_cmp(&b.time));
    Convergence {
        objective: run.scenario.objectives[obj].clone(),
        best_by_trial: running_min(ok),
        best_by_time: running_min(by_time),
        trials,
    }
}

/// How a hyperparameter's axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Numeric, linear.
    Linear,
    /// Numeric, plotted as log10 of the value.
    Log,
    /// Choices, plotted at their index.
    Categorical,
}

/// One point of a scatter panel.
#[derive(Clone, Debug, Serialize)]
pub struct ScatterPoint {
    /// Trial position (1-based, file order).
    pub trial: usize,
    /// The configuration's id.
    pub config_id: usize,
    /// The hyperparameter's value.
    pub value: serde_json::Value,
    /// Position on the x axis (log10 of the value, or the choice index).
    pub x: f64,
    /// The cost.
    pub cost: f64,
}

/// One panel: cost against one hyperparameter.
#[derive(Clone, Debug, Serialize)]
pub struct Panel {
    /// The hyperparameter.
    pub hyperparameter: String,
    /// Axis scaling.
    pub scale: Scale,
    /// Axis range (in x units).
    pub x_range: (f64, f64),
    /// Choice labels for categorical axes.
    pub labels: Vec<String>,
    /// Successful trials where the hyperparameter is active.
    pub points: Vec<ScatterPoint>,
}

/// Data of the scatter plot.
#[derive(Clone, Debug, Serialize)]
pub struct Scatter {
    /// Plotted objective.
    pub objective: String,
    /// The incumbent configurations' ids in `runhistory.json` (highlighted).
    pub incumbents: Vec<usize>,
    /// One panel per non-constant hyperparameter.
    pub panels: Vec<Panel>,
}

/// Builds the scatter data of objective `obj`.
pub fn scatter(run: &Run, obj: usize) -> Scatter {
    let rows: Vec<_> =
        run.runhistory.iter().enumerate().filter(|(_, (_, v))| v.status == StatusType::Success).collect();
    let mut panels = Vec::new();
    for hp in run.scenario.configspace.hyperparameters() {
        let (scale, x_range, labels) = match &hp.kind {
            HpKind::Float(f) if f.log => (Scale::Log, (f.lower.log10(), f.upper.log10()), vec![]),
            HpKind::Float(f) => (Scale::Linear, (f.lower, f.upper), vec![]),
            HpKind::Integer(i) if i.log => {
                (Scale::Log, ((i.lower as f64).log10(), (i.upper as f64).log10()), vec![])
            }
            HpKind::Integer(i) => (Scale::Linear, (i.lower as f64, i.upper as f64), vec![]),
            HpKind::Categorical(c) => categorical(&c.choices),
            HpKind::Ordinal(o) => categorical(&o.sequence),
            HpKind::Constant(_) => continue,
        };
        let mut points = Vec::new();
        for (i, (k, v)) in &rows {
            let (Some(config), Some(cost)) =
                (run.runhistory.config(k.config_id), v.cost.get(obj).copied().and_then(finite))
            else {
                continue;
            };
            let Some(value) = config.get(&hp.name) else { continue };
            let x = match scale {
                Scale::Linear => value.as_f64(),
                Scale::Log => value.as_f64().map(f64::log10),
                Scale::Categorical => labels.iter().position(|l| *l == value.to_string()).map(|p| p as f64),
            };
            let Some(x) = x else { continue };
            points.push(ScatterPoint {
                trial: i + 1,
                config_id: run.file_id(k.config_id),
                value: value.to_json(),
                x,
                cost,
            });
        }
        panels.push(Panel { hyperparameter: hp.name.clone(), scale, x_range, labels, points });
    }
    let incumbents = run.incumbents().into_iter().map(|id| run.file_id(id)).collect();
    Scatter { objective: run.scenario.objectives[obj].clone(), incumbents, panels }
}

fn categorical(choices: &[Value]) -> (Scale, (f64, f64), Vec<String>) {
    (Scale::Categorical, (-0.5, choices.len() as f64 - 0.5), choices.iter().map(|c| c.to_string()).collect())
}
