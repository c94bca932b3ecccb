//! `smac show`: incumbent, best configurations and trial status counts of run directories.

use super::args::ShowArgs;
use super::error::CliError;
use super::output::{fmt_cost, fmt_costs, json_costs};
use super::rundir::{self, Run};
use serde::Serialize;
use std::collections::BTreeMap;

/// A configuration with its results.
#[derive(Debug, Serialize)]
pub struct ConfigSummary {
    /// Id in `runhistory.json`.
    pub config_id: usize,
    /// Average cost per objective over its trials (at its highest budget).
    pub cost: serde_json::Value,
    /// Number of finished trials behind the cost.
    pub n_trials: usize,
    /// Hyperparameter values (active ones).
    pub config: serde_json::Value,
    #[serde(skip)]
    costs: Vec<f64>,
    /// `name = value` in the space's order, for text output.
    #[serde(skip)]
    values: Vec<(String, String)>,
}

/// What `smac show` reports about one run.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// The run directory.
    pub run_directory: String,
    /// Scenario name.
    pub name: String,
    /// Scenario seed.
    pub seed: u64,
    /// Objective names.
    pub objectives: Vec<String>,
    /// Trials the scenario plans.
    pub n_trials: usize,
    /// Finished trials.
    pub finished_trials: usize,
    /// Trials running at the last save.
    pub running_trials: usize,
    /// Finished trials per status (SMAC3 names).
    pub status_counts: BTreeMap<String, usize>,
    /// Wall seconds used (`optimization.json`).
    pub used_walltime: Option<f64>,
    /// Whether the optimization loop ended.
    pub finished: Option<bool>,
    /// The incumbents (one for a single objective).
    pub incumbents: Vec<ConfigSummary>,
    /// The best configurations by average cost.
    pub top: Vec<ConfigSummary>,
}

fn config_summary(run: &Run, id: usize) -> Option<ConfigSummary> {
    let rh = &run.runhistory;
    let costs = rh.average_cost(id)?;
    let config = rh.config(id)?;
    Some(ConfigSummary {
        config_id: run.file_id(id),
        cost: json_costs(&costs),
        n_trials: rh.n_trials_of(id),
        config: config.to_json(),
        costs,
        values: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    })
}

/// Summarizes a loaded run with its `top` best configurations.
pub fn summarize(run: &Run, top: usize) -> RunSummary {
    let rh = &run.runhistory;
    let mut status_counts = BTreeMap::new();
    for (_, v) in rh.iter() {
        *status_counts.entry(v.status.name().to_string()).or_insert(0) += 1;
    }
    let mut ranked: Vec<ConfigSummary> =
        (1..=rh.configs().len()).filter_map(|id| config_summary(run, id)).collect();
    ranked.sort_by(|a, b| {
        rh.normalized_cost(&a.costs)
            .total_cmp(&rh.normalized_cost(&b.costs))
            .then(b.n_trials.cmp(&a.n_trials))
    });
    ranked.truncate(top);
    let s = &run.scenario;
    RunSummary {
        run_directory: run.path.display().to_string(),
        name: s.name.clone(),
        seed: s.seed,
        objectives: s.objectives.clone(),
        n_trials: s.n_trials,
        finished_trials: rh.len(),
        running_trials: run.running,
        status_counts,
        used_walltime: run.used_walltime,
        finished: run.finished,
        incumbents: run.incumbents().into_iter().filter_map(|id| config_summary(run, id)).collect(),
        top: ranked,
    }
}

fn one_line(c: &ConfigSummary) -> String {
    c.values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Renders a summary for people.
pub fn render(s: &RunSummary) -> String {
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!("run          {}", s.run_directory));
    line(format!(
        "scenario     {} (seed {}), {} trials planned, objective{} {}",
        s.name,
        s.seed,
        s.n_trials,
        if s.objectives.len() > 1 { "s" } else { "" },
        s.objectives.join(", ")
    ));
    let counts: Vec<String> =
        s.status_counts.iter().map(|(k, n)| format!("{n} {}", k.to_lowercase())).collect();
    let mut trials = format!("{} finished ({})", s.finished_trials, counts.join(", "));
    if s.running_trials > 0 {
        trials.push_str(&format!(", {} running at the last save", s.running_trials));
    }
    line(format!("trials       {trials}"));
    if let Some(w) = s.used_walltime {
        let state = match s.finished {
            Some(true) => "ended",
            Some(false) => "not ended (running, or stopped abruptly)",
            None => "unknown state",
        };
        line(format!("wall time    {w:.1} s, {state}"));
    }
    for inc in &s.incumbents {
        let costs = cost_text(inc);
        line(format!("incumbent    config {}: cost {costs} over {} trial(s)", inc.config_id, inc.n_trials));
        for (k, v) in &inc.values {
            line(format!("               {k} = {v}"));
        }
    }
    if s.incumbents.is_empty() {
        line("incumbent    none yet".into());
    }
    if !s.top.is_empty() {
        line(format!("top {}", s.top.len()));
        line(format!("  {:>4}  {:>6}  {:>12}  {:>6}  configuration", "rank", "config", "cost", "trials"));
        for (k, c) in s.top.iter().enumerate() {
            line(format!(
                "  {:>4}  {:>6}  {:>12}  {:>6}  {}",
                k + 1,
                c.config_id,
                cost_text(c),
                c.n_trials,
                one_line(c)
            ));
        }
    }
    out
}

fn cost_text(c: &ConfigSummary) -> String {
    if c.costs.len() == 1 {
        fmt_cost(c.costs[0])
    } else {
        fmt_costs(&c.costs)
    }
}

/// Runs `smac show`.
pub fn run(args: &ShowArgs) -> Result<(), CliError> {
    let dirs = rundir::find(&args.run_dir)?;
    let mut summaries = Vec::with_capacity(dirs.len());
    let mut first_error = None;
    // One unreadable run of a folder is reported and the others are still shown.
    for d in &dirs {
        match Run::load(d) {
            Ok(run) => summaries.push(summarize(&run, args.top)),
            Err(e) if dirs.len() > 1 => {
                eprintln!("smac show: skipping {}: {e}", d.display());
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if summaries.is_empty() {
        return Err(first_error.expect("a run failed"));
    }
    if args.json {
        let v = if summaries.len() == 1 {
            serde_json::to_value(&summaries[0])
        } else {
            serde_json::to_value(&summaries)
        }
        .expect("summary serializes");
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        let texts: Vec<String> = summaries.iter().map(render).collect();
        print!("{}", texts.join("\n"));
    }
    Ok(())
}
