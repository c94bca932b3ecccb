//! What the Python side hands over when a facade is built: the scenario's fields and the
//! components chosen with the facades' `get_*` helpers, as JSON text.
//!
//! JSON is the one format at the boundary (scenario, configurations, trials, values) because
//! both sides already speak it exactly: ConfigSpace writes its spaces as JSON, smac-core reads
//! them, and `TrialValue` is serde-ready. Infinite limits travel as `null` (JSON has no
//! infinity) and mean SMAC3's default.

use serde::Deserialize;
use smac_core::intensifier::{IncumbentSelection, SuccessiveHalvingOptions};
use smac_core::{
    Configuration, DesignKind, Hyperband, InitialDesign, Intensifier, RacingIntensifier, Scenario,
    SmboBuilder, SuccessiveHalving,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The fields of SMAC3's `Scenario` the Python class accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFields {
    name: Option<String>,
    output_directory: Option<PathBuf>,
    deterministic: Option<bool>,
    objectives: Option<Vec<String>>,
    crash_cost: Option<Vec<f64>>,
    termination_cost_threshold: Option<Vec<Option<f64>>>,
    walltime_limit: Option<f64>,
    cputime_limit: Option<f64>,
    trial_walltime_limit: Option<f64>,
    trial_memory_limit: Option<u64>,
    n_trials: Option<usize>,
    use_default_config: Option<bool>,
    instances: Option<Vec<String>>,
    instance_features: Option<BTreeMap<String, Vec<f64>>>,
    min_budget: Option<f64>,
    max_budget: Option<f64>,
    seed: Option<u64>,
    n_workers: Option<usize>,
}

impl ScenarioFields {
    /// Builds and validates the scenario over `space`.
    pub fn build(self, space: Arc<smac_core::ConfigSpace>) -> Result<Scenario, smac_core::ScenarioError> {
        let mut b = Scenario::builder(space);
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { b = b.$f(v); } )* };
        }
        set!(name, output_directory, deterministic, objectives, crash_cost, walltime_limit, cputime_limit);
        set!(trial_walltime_limit, trial_memory_limit, n_trials, use_default_config, instances);
        set!(instance_features, seed, n_workers);
        if let Some(t) = self.termination_cost_threshold {
            b = b.termination_cost_threshold(
                t.into_iter().map(|v| v.unwrap_or(f64::INFINITY)).collect::<Vec<_>>(),
            );
        }
        match (self.min_budget, self.max_budget) {
            (Some(lo), Some(hi)) => b = b.budgets(lo, hi),
            (None, None) => {}
            _ => {
                return Err(smac_core::ScenarioError::InvalidField {
                    field: "min_budget",
                    reason: "min_budget and max_budget must be given together".into(),
                })
            }
        }
        b.build()
    }
}

/// SMAC3's initial design classes, as `get_initial_design` returns them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignSpec {
    kind: String,
    n_configs: Option<usize>,
    n_configs_per_hyperparameter: Option<usize>,
    max_ratio: Option<f64>,
    #[serde(default)]
    additional_configs: Vec<serde_json::Value>,
}

/// SMAC3's intensifiers, as `get_intensifier` returns them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntensifierSpec {
    kind: String,
    max_config_calls: Option<usize>,
    max_incumbents: Option<usize>,
    eta: Option<usize>,
    n_seeds: Option<usize>,
    incumbent_selection: Option<String>,
}

/// Components overriding the facade's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Components {
    initial_design: Option<DesignSpec>,
    intensifier: Option<IntensifierSpec>,
    random_design_probability: Option<f64>,
    /// What the interleaved configurations are: `random` (SMAC3's `ProbabilityRandomDesign`)
    /// or `tpe` (smac-rs's `ProbabilityTPEDesign`, the HPO facade's default).
    interleaved: Option<smac_core::Interleaved>,
    retrain_after: Option<usize>,
    /// SMAC3's `MeanAggregationStrategy` (ParEGO, the default, is not sent).
    mean_aggregation: Option<MeanAggregationSpec>,
}

/// `MeanAggregationStrategy(scenario, objective_weights=…)`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanAggregationSpec {
    objective_weights: Option<Vec<f64>>,
}

/// A bad component setting, naming it.
fn invalid(field: &str, message: impl Into<String>) -> String {
    format!("{field}: {}", message.into())
}

impl Components {
    /// Applies the components to a facade preset.
    pub fn apply(self, mut builder: SmboBuilder) -> Result<SmboBuilder, String> {
        let scenario = builder.scenario().clone();
        if let Some(d) = self.initial_design {
            builder = builder.initial_design(d.build(&scenario)?);
        }
        if let Some(i) = self.intensifier {
            builder = builder.intensifier(i.build(&scenario)?);
        }
        if let Some(p) = self.random_design_probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(invalid("random_design probability", format!("{p} is not in [0, 1]")));
            }
            match builder.take_generator() {
                Some(g) => builder = builder.generator(g, p),
                None => return Err(invalid("random_design", "this facade has no model to interleave with")),
            }
        }
        if let Some(interleaved) = self.interleaved {
            builder = builder.interleaved(interleaved);
        }
        if let Some(n) = self.retrain_after {
            builder = builder.retrain_after(n.max(1));
        }
        if let Some(m) = self.mean_aggregation {
            let algorithm = smac_core::multi_objective::MultiObjectiveAlgorithm::MeanAggregation {
                objective_weights: m.objective_weights,
            };
            algorithm.validate(scenario.n_objectives()).map_err(|e| invalid("objective_weights", e))?;
            builder = builder.multi_objective(algorithm);
        }
        Ok(builder)
    }
}

impl DesignSpec {
    fn build(self, scenario: &Scenario) -> Result<InitialDesign, String> {
        let kind = match self.kind.as_str() {
            "sobol" => DesignKind::Sobol,
            "random" => DesignKind::Random,
            "default" => DesignKind::Default,
            "latin_hypercube" => DesignKind::LatinHypercube,
            "factorial" => DesignKind::Factorial,
            other => return Err(invalid("initial_design", format!("unknown design '{other}'"))),
        };
        let mut d = InitialDesign::new(kind);
        if let Some(n) = self.n_configs {
            d = d.n_configs(n);
        }
        if let Some(n) = self.n_configs_per_hyperparameter {
            d = d.n_configs_per_hyperparameter(n);
        }
        if let Some(r) = self.max_ratio {
            d = d.max_ratio(r);
        }
        let configs = self
            .additional_configs
            .iter()
            .map(|c| Configuration::from_json(&scenario.configspace, c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("initial_design additional_configs", e.to_string()))?;
        Ok(d.additional_configs(configs))
    }
}

impl IntensifierSpec {
    fn build(self, scenario: &Scenario) -> Result<Box<dyn Intensifier>, String> {
        match self.kind.as_str() {
            "intensifier" => Ok(Box::new(RacingIntensifier::with_limits(
                scenario,
                self.max_config_calls.unwrap_or(3).max(1),
                self.max_incumbents.unwrap_or(10).max(1),
            ))),
            "hyperband" | "successive_halving" => {
                let defaults = SuccessiveHalvingOptions::default();
                let incumbent_selection = match self.incumbent_selection.as_deref() {
                    None | Some("highest_observed_budget") => IncumbentSelection::HighestObservedBudget,
                    Some("highest_budget") => IncumbentSelection::HighestBudget,
                    Some(other) => {
                        return Err(invalid(
                            "incumbent_selection",
                            format!("'{other}' (supported: highest_observed_budget, highest_budget)"),
                        ))
                    }
                };
                let options = SuccessiveHalvingOptions {
                    eta: self.eta.unwrap_or(defaults.eta),
                    n_seeds: self.n_seeds.unwrap_or(defaults.n_seeds),
                    max_incumbents: self.max_incumbents.unwrap_or(defaults.max_incumbents),
                    incumbent_selection,
                    ..defaults
                };
                if options.eta < 2 {
                    return Err(invalid("eta", format!("{} must be at least 2", options.eta)));
                }
                if scenario.min_budget.is_none() && scenario.instances.is_none() {
                    return Err(invalid(
                        self.kind.as_str(),
                        "needs a budget range (min_budget, max_budget) or instances in the scenario",
                    ));
                }
                Ok(if self.kind == "hyperband" {
                    Box::new(Hyperband::with_options(scenario, options))
                } else {
                    Box::new(SuccessiveHalving::with_options(scenario, options))
                })
            }
            other => Err(invalid("intensifier", format!("unknown intensifier '{other}'"))),
        }
    }
}
