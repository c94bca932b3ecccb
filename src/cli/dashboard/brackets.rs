//! The brackets of a successive-halving or Hyperband run, for the budgets view.
//!
//! The schedule (stages of each bracket: budget and number of configurations) follows from the
//! scenario's budgets and the intensifier's `eta` in `scenario.json`'s `_meta` — SMAC3 and we
//! write both. Run files do not say which bracket a configuration went through, but every
//! bracket of one schedule starts on a different budget, so a configuration's lowest budget
//! names its bracket; the stages it reached are the budgets it was run on.

use super::model::{finite, RunData};
use serde_json::{json, Value as Json};
use smac_core::intensifier::Schedule;
use smac_core::StatusType;
use std::collections::BTreeMap;

/// Per budget (by its bits): the budget and the best successful cost there (∞ if none).
type PerBudget = BTreeMap<u64, (f64, f64)>;

/// Relative tolerance when matching a trial's budget to a stage's budget.
const BUDGET_TOLERANCE: f64 = 1e-6;

/// The brackets of `d` with the configurations that went through each stage, or `None` when
/// the run is not raced over budgets by successive halving or Hyperband.
pub fn brackets(d: &RunData) -> Option<Json> {
    let (name, eta) = d.run.intensifier.clone()?;
    let sc = &d.run.scenario;
    let (min, max) = (sc.min_budget?, sc.max_budget?);
    let eta = eta.unwrap_or(3).max(2) as usize;
    let schedule = match name.as_str() {
        "Hyperband" => Schedule::hyperband(eta, min, max),
        "SuccessiveHalving" => Schedule::successive_halving(eta, min, max),
        _ => return None,
    };
    let stage_of = |bracket: usize, budget: f64| {
        schedule.budgets[bracket]
            .iter()
            .position(|b| (b - budget).abs() <= BUDGET_TOLERANCE * b.abs().max(1.0))
    };
    // Per configuration: its lowest budget and, per budget it ran on, its best successful cost.
    let mut per_config: BTreeMap<usize, (f64, PerBudget)> = BTreeMap::new();
    for r in &d.rows {
        let Some(b) = r.budget else { continue };
        let e = per_config.entry(r.loaded_id).or_insert((f64::INFINITY, BTreeMap::new()));
        e.0 = e.0.min(b);
        let slot = e.1.entry(b.to_bits()).or_insert((b, f64::INFINITY));
        if let Some(c) = r.cost.first().copied().and_then(finite).filter(|_| r.status == StatusType::Success)
        {
            slot.1 = slot.1.min(c);
        }
    }
    let n = schedule.n_brackets();
    // reached[bracket][stage] = configurations run there; best[bracket][stage] = best cost.
    let mut reached = vec![Vec::new(); n];
    let mut best = vec![Vec::new(); n];
    for s in 0..n {
        reached[s] = vec![0usize; schedule.budgets[s].len()];
        best[s] = vec![f64::INFINITY; schedule.budgets[s].len()];
    }
    let mut unmatched = 0;
    let mut points = vec![(Vec::new(), Vec::new()); n];
    for (lowest, costs) in per_config.values() {
        let Some(s) = (0..n).find(|&s| stage_of(s, *lowest) == Some(0)) else {
            unmatched += 1;
            continue;
        };
        for (b, c) in costs.values() {
            let Some(k) = stage_of(s, *b) else { continue };
            reached[s][k] += 1;
            best[s][k] = best[s][k].min(*c);
            if c.is_finite() {
                points[s].0.push(*b);
                points[s].1.push(*c);
            }
        }
    }
    let list: Vec<Json> = (0..n)
        .map(|s| {
            let stages: Vec<Json> = (0..schedule.budgets[s].len())
                .map(|k| {
                    json!({
                        "budget": schedule.budgets[s][k],
                        "planned": schedule.n_configs[s][k],
                        "reached": reached[s][k],
                        "best": finite(best[s][k]),
                    })
                })
                .collect();
            json!({ "bracket": s, "stages": stages, "budgets": points[s].0, "costs": points[s].1 })
        })
        .collect();
    Some(json!({
        "intensifier": name,
        "eta": eta,
        "min_budget": min,
        "max_budget": max,
        "brackets": list,
        "unmatched_configs": unmatched,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::rundir::Run;
    use std::path::Path;

    fn of(dir: &str) -> Option<Json> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
        brackets(&RunData::new(Run::load(&path).unwrap()))
    }

    fn column(h: &Json, bracket: usize, key: &str) -> Vec<Json> {
        h["brackets"][bracket]["stages"].as_array().unwrap().iter().map(|s| s[key].clone()).collect()
    }

    #[test]
    fn a_smac3_hyperband_run_is_split_into_its_brackets_by_each_configurations_lowest_budget() {
        // SMAC3 2.4.1's MultiFidelityFacade, budgets 1..9, eta 3: configurations 1-8 started on
        // budget 1 (3, 7 and 8 promoted to 3, then 8 to 9), 9-11 started on budget 3.
        let h = of("smac3_run/mf_smac3/0").expect("a Hyperband run");
        assert_eq!((h["intensifier"].as_str(), h["eta"].as_u64()), (Some("Hyperband"), Some(3)));
        assert_eq!(h["brackets"].as_array().unwrap().len(), 3);
        assert_eq!(column(&h, 0, "budget"), [json!(1.0), json!(3.0), json!(9.0)]);
        assert_eq!(column(&h, 0, "planned"), [json!(9), json!(3), json!(1)]);
        assert_eq!(column(&h, 0, "reached"), [json!(8), json!(3), json!(1)]);
        assert_eq!(
            column(&h, 0, "best"),
            [json!(2.368912276087028), json!(1.3676921402854547), json!(0.7896374253623426)]
        );
        assert_eq!(column(&h, 1, "planned"), [json!(5), json!(1)]);
        assert_eq!(column(&h, 1, "reached"), [json!(3), json!(0)]);
        assert_eq!(column(&h, 1, "best")[0], json!(4.603142579586232));
        assert_eq!(column(&h, 2, "reached"), [json!(0)]);
        assert_eq!(h["unmatched_configs"], 0);
        assert_eq!(h["brackets"][0]["costs"].as_array().unwrap().len(), 12, "8 + 3 + 1 points");
    }

    #[test]
    fn runs_without_budgets_have_no_brackets() {
        assert!(of("smac3_run/branin_smac3/0").is_none());
    }
}
