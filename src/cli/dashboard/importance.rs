//! The parameter importance view: fANOVA main effects (Hutter, Hoos & Leyton-Brown 2014) of a
//! random forest fitted like the HPO facade's model, on the run's successful trials.
//!
//! The forest has SMAC3's HPO settings ([`RandomForestConfig::hpo`], seeded with the scenario's
//! seed) except the split rule: best thresholds ([`Splitter::Best`], as pyrfr, the forest of
//! the fANOVA reference implementation) instead of the facade's random ones, whose extra
//! randomness spreads the importance between trees (with 30 trials of a function of one
//! dominant hyperparameter: 35 % ± 24 % for it instead of above 50 %). It learns the configuration vectors (the SMBO loop's encoding, instance features left
//! out) against the log-scaled cost, as the HPO facade's encoder scales it. Fits happen when a
//! page asks, in a blocking thread (event streams and other requests go on meanwhile), once per
//! run and number of finished trials; concurrent requests wait for the same fit.

use super::model::{finite, RunData};
use ndarray::{Array1, Array2};
use serde::Serialize;
use smac_core::configspace::HpKind;
use smac_core::StatusType;
use smac_surrogate::{Importance, RandomForest, RandomForestConfig, Splitter, Surrogate};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Fewer successful trials than this give no importance: the forest would be mostly noise.
pub const MIN_TRIALS: usize = 10;

/// One hyperparameter's main-effect importance.
#[derive(Debug, Clone, Serialize)]
pub struct ParamImportance {
    /// The hyperparameter's name.
    pub name: String,
    /// Mean over trees of the fraction of the variance it explains alone.
    pub mean: f64,
    /// Standard deviation of that fraction over trees.
    pub std: f64,
    /// Whether it has a condition (its importance assumes it active everywhere).
    pub conditional: bool,
}

/// What the importance view shows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportanceView {
    /// Whether importances were computed; otherwise `reason` says why not.
    pub available: bool,
    /// Why there are no importances.
    pub reason: Option<String>,
    /// The method, as the page names it.
    pub method: String,
    /// Trials the forest was fitted to.
    pub n_trials: usize,
    /// Trees of the forest.
    pub n_trees: usize,
    /// Trees whose prediction varies over the space (the ones averaged).
    pub n_trees_varying: usize,
    /// The budget the trials were taken from (multi-fidelity runs: the highest with enough).
    pub budget: Option<f64>,
    /// Sum of the main-effect fractions; the rest of the variance comes from interactions.
    pub main_effects_total: Option<Importance>,
    /// The hyperparameters, most important first (constants left out).
    pub parameters: Vec<ParamImportance>,
}

fn unavailable(reason: impl Into<String>, n_trials: usize) -> ImportanceView {
    ImportanceView { reason: Some(reason.into()), n_trials, ..Default::default() }
}

/// Fits the forest to the run's successful trials and computes the importances.
pub fn compute(d: &RunData) -> ImportanceView {
    let run = &d.run;
    let scenario = &run.scenario;
    if scenario.n_objectives() > 1 {
        return unavailable("parameter importance is only available for single-objective runs", 0);
    }
    let ok: Vec<_> = d
        .rows
        .iter()
        .filter(|r| r.status == StatusType::Success && r.cost.first().is_some_and(|c| finite(*c).is_some()))
        .collect();
    // Like the SMBO loop: the highest budget with enough trials (all trials without budgets).
    let mut budgets: Vec<f64> = ok.iter().filter_map(|r| r.budget).collect();
    budgets.sort_by(|a, b| b.total_cmp(a));
    budgets.dedup();
    let same = |a: Option<f64>, b: Option<f64>| a.map(f64::to_bits) == b.map(f64::to_bits);
    let budget = budgets
        .iter()
        .copied()
        .find(|&b| ok.iter().filter(|r| same(r.budget, Some(b))).count() >= MIN_TRIALS);
    let rows: Vec<_> = ok.iter().filter(|r| budgets.is_empty() || same(r.budget, budget)).collect();
    if rows.len() < MIN_TRIALS {
        let on_one = if budgets.is_empty() { "" } else { " on one budget" };
        return unavailable(
            format!(
                "not enough trials: {} successful trial(s); parameter importance needs at least {MIN_TRIALS}{on_one}",
                ok.len()
            ),
            rows.len(),
        );
    }
    let space = &scenario.configspace;
    let n_params = space.len();
    let mut x = Array2::from_elem((rows.len(), n_params), f64::NAN);
    let mut y = Array1::zeros(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let Some(config) = run.runhistory.config(r.loaded_id) else {
            return unavailable(format!("trial {} has no configuration", r.trial), rows.len());
        };
        for (j, v) in config.vector().iter().take(n_params).enumerate() {
            x[[i, j]] = *v;
        }
        y[i] = r.cost[0];
    }
    smac_core::encoder::log_scale(&mut y, 5.0);
    let mut types = smac_core::smbo_builder::feature_types(scenario);
    types.truncate(n_params);
    let config =
        RandomForestConfig { seed: scenario.seed, splitter: Splitter::Best, ..RandomForestConfig::hpo() };
    let n_trees = config.n_trees;
    let mut forest = RandomForest::new(config, types);
    let result = forest.fit(x.view(), y.view()).and_then(|()| forest.fanova());
    let result = match result {
        Ok(r) => r,
        Err(e) => return unavailable(format!("the random forest could not be fitted: {e}"), rows.len()),
    };
    let mut method = format!(
        "fANOVA (Hutter, Hoos & Leyton-Brown 2014), main effects, on a random forest of {n_trees} trees \
         fitted to {} successful trials",
        rows.len()
    );
    if let Some(b) = budget {
        method.push_str(&format!(" at budget {b}"));
    }
    if result.n_trees == 0 {
        return ImportanceView {
            method,
            n_trees,
            budget,
            ..unavailable("the forest predicts the same cost everywhere (all costs equal?)", rows.len())
        };
    }
    let mut parameters: Vec<ParamImportance> = space
        .hyperparameters()
        .iter()
        .enumerate()
        .filter(|(_, hp)| !matches!(hp.kind, HpKind::Constant(_)))
        .map(|(j, hp)| ParamImportance {
            name: hp.name.clone(),
            mean: result.importance[j].mean,
            std: result.importance[j].std,
            conditional: space.is_conditional(j),
        })
        .collect();
    parameters.sort_by(|a, b| b.mean.total_cmp(&a.mean).then_with(|| a.name.cmp(&b.name)));
    tracing::debug!(path = %run.path.display(), trials = rows.len(), "computed parameter importance");
    ImportanceView {
        available: true,
        reason: None,
        method,
        n_trials: rows.len(),
        n_trees,
        n_trees_varying: result.n_trees,
        budget,
        main_effects_total: Some(result.main_effects_total),
        parameters,
    }
}

type Cell = Arc<OnceCell<Arc<ImportanceView>>>;

/// Computed views per run id, kept for the run's current number of finished trials only.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<usize, (usize, Cell)>>,
}

impl Cache {
    /// The view of run `id` (loaded as `d`), computed in a blocking thread unless cached.
    pub async fn get(&self, id: usize, d: Arc<RunData>) -> Result<Arc<ImportanceView>, String> {
        let n = d.rows.len();
        let cell = {
            let mut entries = self.entries.lock().expect("importance cache lock");
            let entry = entries.entry(id).or_insert_with(|| (n, Cell::default()));
            if entry.0 != n {
                *entry = (n, Cell::default());
            }
            entry.1.clone()
        };
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || Arc::new(compute(&d))).await.map_err(|e| e.to_string())
        })
        .await
        .cloned()
    }
}

#[cfg(test)]
#[path = "importance_tests.rs"]
mod tests;
