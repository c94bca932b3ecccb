//! The data behind each chart, computed on the server and sized for the browser: however many
//! trials a run has, a chart receives at most a few thousand points.

use super::super::output::json_costs;
use super::super::plot::series;
use super::model::{finite, RunData, TrialRow};
use serde::Serialize;
use serde_json::{json, Value as Json};
use smac_core::StatusType;
use std::collections::BTreeMap;

/// Grid points of the overlaid convergence curves.
const GRID: usize = 1000;
/// Lines of the parallel-coordinates plot.
const MAX_LINES: usize = 1500;
/// Points of each scatter panel.
const MAX_POINTS: usize = 4000;
/// Bars of the Gantt chart (the latest ones).
const MAX_BARS: usize = 20_000;

/// `k` indices out of `0..n`, evenly spread, the last one included.
fn spread(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    let mut out: Vec<usize> = (0..k).map(|j| j * (n - 1) / (k - 1).max(1)).collect();
    out.dedup();
    out
}

/// The step function `points` (x ascending, value after x) at `x`, `None` before its start.
fn step_at(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let i = points.partition_point(|p| p.0 <= x);
    (i > 0).then(|| points[i - 1].1)
}

fn median_and_range(vals: &mut [f64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    if vals.is_empty() {
        return (None, None, None);
    }
    vals.sort_by(f64::total_cmp);
    let n = vals.len();
    let med = if n % 2 == 1 { vals[n / 2] } else { (vals[n / 2 - 1] + vals[n / 2]) / 2.0 };
    (Some(med), Some(vals[0]), Some(vals[n - 1]))
}

/// One overlaid axis (trials or seconds): a shared grid, one curve per run and, for several
/// runs, their median and range.
fn overlay(curves: &[Vec<(f64, f64)>], ends: &[f64]) -> Json {
    let max_x = ends.iter().copied().fold(0.0, f64::max);
    let min_x = curves.iter().filter_map(|c| c.first().map(|p| p.0)).fold(f64::INFINITY, f64::min);
    if !min_x.is_finite() {
        return json!({"x": [], "runs": [], "median": [], "lo": [], "hi": []});
    }
    let grid: Vec<f64> = if max_x <= min_x {
        vec![min_x]
    } else {
        (0..GRID).map(|j| min_x + (max_x - min_x) * j as f64 / (GRID - 1) as f64).collect()
    };
    let runs: Vec<Vec<Option<f64>>> = curves
        .iter()
        .zip(ends)
        .map(|(c, end)| grid.iter().map(|x| if x <= end { step_at(c, *x) } else { None }).collect())
        .collect();
    let (mut med, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for j in 0..grid.len() {
        let mut vals: Vec<f64> = runs.iter().filter_map(|r| r[j]).collect();
        let (m, l, h) = if runs.len() > 1 { median_and_range(&mut vals) } else { (None, None, None) };
        med.push(m);
        lo.push(l);
        hi.push(h);
    }
    json!({"x": grid, "runs": runs, "median": med, "lo": lo, "hi": hi})
}

/// Best cost against trials and wall time of several runs, on shared grids.
pub fn convergence(runs: &[(String, &RunData)]) -> Json {
    let mut by_trial = Vec::new();
    let mut by_time = Vec::new();
    let (mut trial_ends, mut time_ends) = (Vec::new(), Vec::new());
    let mut labels = Vec::new();
    let mut objectives = Vec::new();
    for (label, d) in runs {
        let c = series::convergence(&d.run, 0);
        by_trial.push(c.best_by_trial.iter().map(|b| (b.trial as f64, b.cost)).collect::<Vec<_>>());
        by_time.push(c.best_by_time.iter().map(|b| (b.time, b.cost)).collect::<Vec<_>>());
        trial_ends.push(d.rows.len() as f64);
        time_ends.push(d.rows.iter().map(|r| r.end).fold(0.0, f64::max));
        labels.push(label.clone());
        objectives.push(c.objective);
    }
    objectives.dedup();
    json!({
        "labels": labels,
        "objectives": objectives,
        "by_trial": overlay(&by_trial, &trial_ends),
        "by_time": overlay(&by_time, &time_ends),
    })
}

/// Parallel coordinates (normalized positions, `null` where inactive) and per-parameter
/// scatter against the first objective, over successful trials.
pub fn parameters(d: &RunData) -> Json {
    let ok: Vec<&TrialRow> = d
        .rows
        .iter()
        .filter(|r| r.status == StatusType::Success && r.cost.first().copied().and_then(finite).is_some())
        .collect();
    // The best trials always, then an even spread of the rest.
    let mut order: Vec<usize> = (0..ok.len()).collect();
    order.sort_by(|a, b| ok[*a].cost[0].total_cmp(&ok[*b].cost[0]));
    let mut chosen: Vec<usize> = order.iter().take(MAX_LINES / 4).copied().collect();
    let rest = &order[chosen.len()..];
    chosen.extend(spread(rest.len(), MAX_LINES - chosen.len()).into_iter().map(|k| rest[k]));
    chosen.sort_unstable();
    let norm = |col: usize, p: Option<f64>| {
        let (lo, hi) = d.columns[col].range;
        p.map(|p| if hi > lo { (p - lo) / (hi - lo) } else { 0.5 })
    };
    let lines: Vec<Json> = chosen
        .iter()
        .map(|k| {
            let r = ok[*k];
            let pos = &d.positions[r.loaded_id - 1];
            let vals: Vec<Option<f64>> = (0..d.columns.len()).map(|c| norm(c, pos[c])).collect();
            json!({"trial": r.trial, "cost": r.cost[0], "values": vals})
        })
        .collect();
    let panels: Vec<Json> = d
        .columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            let mut pts: Vec<(f64, f64)> = Vec::new();
            let mut inactive = 0;
            for r in &ok {
                match d.positions[r.loaded_id - 1][c] {
                    Some(x) => pts.push((x, r.cost[0])),
                    None => inactive += 1,
                }
            }
            let keep = spread(pts.len(), MAX_POINTS);
            let mut pts: Vec<(f64, f64)> = keep.into_iter().map(|k| pts[k]).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            json!({
                "name": col.name, "scale": col.scale, "labels": col.labels, "range": col.range,
                "x": pts.iter().map(|p| p.0).collect::<Vec<_>>(),
                "y": pts.iter().map(|p| p.1).collect::<Vec<_>>(),
                "inactive": inactive,
            })
        })
        .collect();
    json!({
        "objective": d.run.scenario.objectives.first(),
        "columns": d.columns,
        "successful": ok.len(),
        "lines": lines,
        "panels": panels,
    })
}

/// Trials per worker over time and each worker's busy fraction.
pub fn workers(d: &RunData) -> Json {
    let mut per: BTreeMap<String, Vec<&TrialRow>> = BTreeMap::new();
    let recorded = d.rows.iter().any(|r| r.worker.is_some());
    for r in &d.rows {
        let name = r.worker.clone().unwrap_or_else(|| "(worker not recorded)".into());
        per.entry(name).or_default().push(r);
    }
    let t_end = d.rows.iter().map(|r| r.end).fold(0.0, f64::max);
    let first_bar = d.rows.len().saturating_sub(MAX_BARS);
    let mut names = Vec::new();
    let mut stats = Vec::new();
    let mut bars = Vec::new();
    for (w, (name, rows)) in per.iter().enumerate() {
        let busy: f64 = rows.iter().map(|r| (r.end - r.start).max(0.0)).sum();
        let first = rows.iter().map(|r| r.start).fold(f64::INFINITY, f64::min);
        let last = rows.iter().map(|r| r.end).fold(0.0, f64::max);
        // Busy over the span the worker was seen (its first start to the run's last end).
        let span = (t_end - first).max(1e-9);
        stats.push(json!({
            "name": name, "trials": rows.len(), "busy_seconds": busy,
            "busy_fraction": (busy / span).min(1.0), "first_start": first, "last_end": last,
            "crashed": rows.iter().filter(|r| r.status != StatusType::Success).count(),
        }));
        names.push(name.clone());
        for r in rows.iter().filter(|r| r.trial > first_bar) {
            bars.push(json!([w, r.start, r.end, r.status.name(), r.trial]));
        }
    }
    json!({
        "recorded": recorded,
        "workers": stats,
        "names": names,
        "bars": bars,
        "span": t_end,
        "running": d.run.running,
        "shown": d.rows.len().min(MAX_BARS),
        "t0": d.t0,
    })
}

/// Average costs of every configuration (first two objectives) and the Pareto front.
pub fn pareto(d: &RunData) -> Json {
    let rh = &d.run.runhistory;
    let front: Vec<usize> = rh.pareto_front();
    let mut pts: Vec<(f64, f64, usize, bool)> = Vec::new();
    for id in 1..=rh.configs().len() {
        let Some(c) = rh.average_cost(id) else { continue };
        let (Some(a), Some(b)) = (c.first().copied().and_then(finite), c.get(1).copied().and_then(finite))
        else {
            continue;
        };
        pts.push((a, b, d.run.file_id(id), front.contains(&id)));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    json!({
        "objectives": d.run.scenario.objectives,
        "x": pts.iter().map(|p| p.0).collect::<Vec<_>>(),
        "all": pts.iter().map(|p| p.1).collect::<Vec<_>>(),
        "front": pts.iter().map(|p| if p.3 { Some(p.1) } else { None }).collect::<Vec<_>>(),
        "config_ids": pts.iter().map(|p| p.2).collect::<Vec<_>>(),
        "front_size": front.len(),
    })
}

/// Costs of successful trials per budget, with each budget's median and best.
pub fn budgets(d: &RunData) -> Json {
    let mut by: BTreeMap<u64, (f64, Vec<f64>)> = BTreeMap::new();
    for r in d.rows.iter().filter(|r| r.status == StatusType::Success) {
        let (Some(b), Some(c)) = (r.budget, r.cost.first().copied().and_then(finite)) else { continue };
        by.entry(b.to_bits()).or_insert_with(|| (b, Vec::new())).1.push(c);
    }
    let mut groups: Vec<(f64, Vec<f64>)> = by.into_values().collect();
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut x, mut y, mut med, mut best) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut table = Vec::new();
    for (b, costs) in &mut groups {
        let (m, lo, _) = median_and_range(costs);
        let keep = spread(costs.len(), MAX_POINTS / 4);
        for (j, k) in keep.iter().enumerate() {
            x.push(*b);
            y.push(Some(costs[*k]));
            med.push(if j == 0 { m } else { None });
            best.push(if j == 0 { lo } else { None });
        }
        table.push(json!({"budget": b, "trials": costs.len(), "median": m, "best": lo}));
    }
    json!({"objective": d.run.scenario.objectives.first(), "x": x, "y": y, "median": med, "best": best, "table": table,
        "brackets": super::brackets::brackets(d)})
}

/// Everything about one trial, for the detail panel.
pub fn trial_detail(d: &RunData, trial: usize) -> Option<Json> {
    let r = d.rows.get(trial.checked_sub(1)?)?;
    let (_, v) = d.run.runhistory.iter().nth(trial - 1)?;
    let config = d.run.runhistory.config(r.loaded_id)?;
    #[derive(Serialize)]
    struct Detail<'a> {
        trial: usize,
        config_id: usize,
        status: &'static str,
        cost: Json,
        objectives: &'a [String],
        instance: &'a Option<String>,
        seed: Option<u64>,
        budget: Option<f64>,
        time: f64,
        cpu_time: f64,
        starttime: f64,
        endtime: f64,
        worker: &'a Option<String>,
        config: Json,
        origin: Option<&'a str>,
        additional_info: &'a serde_json::Map<String, Json>,
    }
    let detail = Detail {
        trial,
        config_id: r.config_id,
        status: r.status.name(),
        cost: json_costs(&r.cost),
        objectives: &d.run.scenario.objectives,
        instance: &r.instance,
        seed: r.seed,
        budget: r.budget,
        time: v.time,
        cpu_time: v.cpu_time,
        starttime: v.starttime,
        endtime: v.endtime,
        worker: &r.worker,
        config: config.to_json(),
        origin: config.origin(),
        additional_info: &v.additional_info,
    };
    serde_json::to_value(detail).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_bands() {
        let pts = [(1.0, 5.0), (3.0, 2.0)];
        assert_eq!(step_at(&pts, 0.5), None);
        assert_eq!(step_at(&pts, 2.0), Some(5.0));
        assert_eq!(step_at(&pts, 3.0), Some(2.0));
        let mut v = vec![3.0, 1.0, 2.0, 10.0];
        assert_eq!(median_and_range(&mut v), (Some(2.5), Some(1.0), Some(10.0)));
        assert_eq!(spread(10, 3), vec![0, 4, 9]);
        assert_eq!(spread(2, 5), vec![0, 1]);
    }
}
