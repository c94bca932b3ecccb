//! The trials table: filtering, sorting and paging on the server, so that the page shows one
//! page of rows whatever the size of the run.

use super::super::output::json_costs;
use super::model::{finite, RunData, TrialRow};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The largest page a request may ask for.
pub const MAX_PAGE: usize = 500;

/// A request for one page of the table (the query string of `/api/runs/{id}/trials`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TrialQuery {
    /// First row of the page (0-based, after filtering and sorting).
    #[serde(default)]
    pub offset: usize,
    /// Rows per page (at most [`MAX_PAGE`]).
    pub limit: Option<usize>,
    /// Column to sort by: `trial`, `config`, `status`, `cost` (`cost.K` for objective K),
    /// `time`, `start`, `end`, `budget`, `instance`, `worker` or `param.NAME`.
    pub sort: Option<String>,
    /// Descending order.
    #[serde(default)]
    pub desc: bool,
    /// Statuses to keep, comma-separated SMAC3 names (`SUCCESS,CRASHED`).
    pub status: Option<String>,
    /// Budget to keep (exact).
    pub budget: Option<f64>,
    /// Instance to keep (exact).
    pub instance: Option<String>,
    /// Filters on hyperparameters, `NAME=SPEC;NAME=SPEC` where SPEC is `inactive`, a range
    /// `LO..HI` (either end may be left out) or a value compared as text.
    pub params: Option<String>,
}

/// One row as the table shows it.
#[derive(Debug, Serialize)]
pub struct RowOut {
    /// Position in `runhistory.json` (1-based).
    pub trial: usize,
    /// The configuration's id.
    pub config_id: usize,
    /// SMAC3's status name.
    pub status: &'static str,
    /// Cost(s): a number or a list (`null` where not finite).
    pub cost: serde_json::Value,
    /// Budget.
    pub budget: Option<f64>,
    /// Instance.
    pub instance: Option<String>,
    /// Seed.
    pub seed: Option<u64>,
    /// Wall seconds.
    pub time: f64,
    /// Start, seconds after the first trial started.
    pub start: f64,
    /// The worker, when recorded.
    pub worker: Option<String>,
    /// Hyperparameter values in column order (`null`: inactive).
    pub values: Vec<Option<serde_json::Value>>,
}

/// One page of the table.
#[derive(Debug, Serialize)]
pub struct Page {
    /// Rows matching the filters, over all pages.
    pub total: usize,
    /// Rows in the run.
    pub all: usize,
    /// First row of this page.
    pub offset: usize,
    /// The rows.
    pub rows: Vec<RowOut>,
}

/// A filter on one hyperparameter.
#[derive(Clone, Debug, PartialEq)]
enum ParamFilter {
    Inactive,
    Range(Option<f64>, Option<f64>),
    Text(String),
}

/// Why a query is malformed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueryError {
    /// A filter or sort names no hyperparameter of the run.
    #[error("no hyperparameter '{0}' in this run")]
    UnknownParameter(String),
    /// A filter is not `NAME=SPEC`.
    #[error("parameter filter '{0}' is not NAME=SPEC")]
    BadFilter(String),
    /// The sort column is unknown.
    #[error("cannot sort by '{0}'")]
    BadSort(String),
    /// A status name is unknown.
    #[error("unknown status '{0}'")]
    BadStatus(String),
}

fn parse_spec(spec: &str) -> ParamFilter {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("inactive") {
        return ParamFilter::Inactive;
    }
    if let Some((lo, hi)) = spec.split_once("..") {
        let num = |s: &str| s.trim().parse::<f64>().ok();
        let (l, h) = (num(lo), num(hi));
        if (l.is_some() || lo.trim().is_empty()) && (h.is_some() || hi.trim().is_empty()) {
            return ParamFilter::Range(l, h);
        }
    }
    ParamFilter::Text(spec.to_string())
}

#[derive(Clone, Copy)]
enum Key {
    Trial,
    Config,
    Status,
    Cost(usize),
    Time,
    Start,
    End,
    Budget,
    Instance,
    Worker,
    Param(usize),
}

fn parse_sort(data: &RunData, s: &str) -> Result<Key, QueryError> {
    Ok(match s {
        "" | "trial" => Key::Trial,
        "config" => Key::Config,
        "status" => Key::Status,
        "cost" => Key::Cost(0),
        "time" => Key::Time,
        "start" => Key::Start,
        "end" => Key::End,
        "budget" => Key::Budget,
        "instance" => Key::Instance,
        "worker" => Key::Worker,
        other => {
            if let Some(k) = other.strip_prefix("cost.").and_then(|k| k.parse::<usize>().ok()) {
                Key::Cost(k)
            } else if let Some(name) = other.strip_prefix("param.") {
                let col = data.columns.iter().position(|c| c.name == name);
                Key::Param(col.ok_or_else(|| QueryError::UnknownParameter(name.to_string()))?)
            } else {
                return Err(QueryError::BadSort(other.to_string()));
            }
        }
    })
}

/// Missing values sort last in either direction.
fn cmp_opt<T: PartialOrd>(a: Option<T>, b: Option<T>, desc: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => {
            let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare(data: &RunData, key: Key, desc: bool, a: &TrialRow, b: &TrialRow) -> Ordering {
    let by = match key {
        Key::Trial => cmp_opt(Some(a.trial), Some(b.trial), desc),
        Key::Config => cmp_opt(Some(a.config_id), Some(b.config_id), desc),
        Key::Status => cmp_opt(Some(a.status.name()), Some(b.status.name()), desc),
        Key::Cost(k) => {
            cmp_opt(a.cost.get(k).copied().and_then(finite), b.cost.get(k).copied().and_then(finite), desc)
        }
        Key::Time => cmp_opt(Some(a.time), Some(b.time), desc),
        Key::Start => cmp_opt(Some(a.start), Some(b.start), desc),
        Key::End => cmp_opt(Some(a.end), Some(b.end), desc),
        Key::Budget => cmp_opt(a.budget, b.budget, desc),
        Key::Instance => cmp_opt(a.instance.as_deref(), b.instance.as_deref(), desc),
        Key::Worker => cmp_opt(a.worker.as_deref(), b.worker.as_deref(), desc),
        Key::Param(c) => {
            let pos = |r: &TrialRow| data.positions[r.loaded_id - 1][c];
            cmp_opt(pos(a), pos(b), desc)
        }
    };
    by.then(a.trial.cmp(&b.trial))
}

/// Answers a table request.
pub fn query(data: &RunData, q: &TrialQuery) -> Result<Page, QueryError> {
    let statuses: Option<Vec<&str>> = match q.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(list) => {
            let known = ["SUCCESS", "CRASHED", "TIMEOUT", "MEMORYOUT", "DONOTEXIST", "RUNNING"];
            let mut out = Vec::new();
            for s in list.split(',').map(str::trim) {
                out.push(
                    *known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(s))
                        .ok_or_else(|| QueryError::BadStatus(s.into()))?,
                );
            }
            Some(out)
        }
    };
    let mut params: Vec<(usize, ParamFilter)> = Vec::new();
    for part in q.params.as_deref().unwrap_or("").split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, spec) = part.split_once('=').ok_or_else(|| QueryError::BadFilter(part.into()))?;
        let col = data
            .columns
            .iter()
            .position(|c| c.name == name.trim())
            .ok_or_else(|| QueryError::UnknownParameter(name.trim().into()))?;
        params.push((col, parse_spec(spec)));
    }
    let key = parse_sort(data, q.sort.as_deref().unwrap_or(""))?;
    let configs = data.run.runhistory.configs();
    let keep = |r: &TrialRow| {
        statuses.as_ref().is_none_or(|s| s.contains(&r.status.name()))
            && q.budget.is_none_or(|b| r.budget == Some(b))
            && q.instance.as_ref().is_none_or(|i| r.instance.as_ref() == Some(i))
            && params.iter().all(|(col, f)| {
                let pos = data.positions[r.loaded_id - 1][*col];
                match f {
                    ParamFilter::Inactive => pos.is_none(),
                    ParamFilter::Range(lo, hi) => {
                        let value =
                            configs[r.loaded_id - 1].get(&data.columns[*col].name).and_then(|v| v.as_f64());
                        value.is_some_and(|v| lo.is_none_or(|l| v >= l) && hi.is_none_or(|h| v <= h))
                    }
                    ParamFilter::Text(t) => configs[r.loaded_id - 1]
                        .get(&data.columns[*col].name)
                        .is_some_and(|v| v.to_string() == *t),
                }
            })
    };
    let mut hits: Vec<&TrialRow> = data.rows.iter().filter(|r| keep(r)).collect();
    if !matches!(key, Key::Trial) || q.desc {
        hits.sort_unstable_by(|a, b| compare(data, key, q.desc, a, b));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let total = hits.len();
    let rows = hits.iter().skip(q.offset).take(limit).map(|r| row_out(data, r)).collect();
    Ok(Page { total, all: data.rows.len(), offset: q.offset, rows })
}

fn row_out(data: &RunData, r: &TrialRow) -> RowOut {
    let config = &data.run.runhistory.configs()[r.loaded_id - 1];
    RowOut {
        trial: r.trial,
        config_id: r.config_id,
        status: r.status.name(),
        cost: json_costs(&r.cost),
        budget: r.budget,
        instance: r.instance.clone(),
        seed: r.seed,
        time: r.time,
        start: r.start,
        worker: r.worker.clone(),
        values: data.columns.iter().map(|c| config.get(&c.name).map(|v| v.to_json())).collect(),
    }
}

/// Distinct budgets and instances of a run, for the filter menus.
pub fn facets(data: &RunData) -> HashMap<&'static str, serde_json::Value> {
    let mut budgets: Vec<f64> = data.rows.iter().filter_map(|r| r.budget).collect();
    budgets.sort_by(f64::total_cmp);
    budgets.dedup();
    let mut instances: Vec<&str> = data.rows.iter().filter_map(|r| r.instance.as_deref()).collect();
    instances.sort_unstable();
    instances.dedup();
    let mut out = HashMap::new();
    out.insert("budgets", serde_json::json!(budgets));
    out.insert("instances", serde_json::json!(instances));
    out.insert("columns", serde_json::json!(data.columns));
    out.insert("objectives", serde_json::json!(data.run.scenario.objectives));
    out
}

#[cfg(test)]
#[path = "trials_tests.rs"]
mod tests;
