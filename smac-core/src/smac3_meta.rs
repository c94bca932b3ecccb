//! The `_meta` object of `scenario.json`: the components SMAC3 2.4.1's facade of the same name
//! builds for a scenario, with their settings, exactly as SMAC3 writes them.
//!
//! SMAC3 continues a run only when the stored scenario, `_meta` included, equals the one its
//! facade makes; writing SMAC3's own description of the matching facade lets SMAC3 2.4.1 continue
//! our runs (with `target_function=None`, i.e. ask-and-tell, since our target is not a Python
//! function: `runner` is `null`). The components described are SMAC3's defaults; where smac-rs's
//! own components differ, docs/differences-from-smac3.md says how.

use crate::configspace::HpKind;
use crate::json_compat::NAN_TOKEN;
use crate::scenario::Scenario;
use serde_json::{json, Value};

/// The SMAC3 facade a run's `_meta` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Smac3Facade {
    /// `RandomFacade`.
    Random,
    /// `HyperparameterOptimizationFacade`.
    Hpo,
    /// `BlackBoxFacade`.
    BlackBox,
    /// `AlgorithmConfigurationFacade`.
    AlgorithmConfiguration,
    /// `MultiFidelityFacade`.
    MultiFidelity,
    /// `HyperbandFacade`.
    Hyperband,
}

impl Smac3Facade {
    /// SMAC3's class name.
    pub fn class_name(self) -> &'static str {
        match self {
            Smac3Facade::Random => "RandomFacade",
            Smac3Facade::Hpo => "HyperparameterOptimizationFacade",
            Smac3Facade::BlackBox => "BlackBoxFacade",
            Smac3Facade::AlgorithmConfiguration => "AlgorithmConfigurationFacade",
            Smac3Facade::MultiFidelity => "MultiFidelityFacade",
            Smac3Facade::Hyperband => "HyperbandFacade",
        }
    }
}

/// SMAC3's `get_types`: one type per hyperparameter and per instance feature, bounds per
/// hyperparameter (NaN written as `NaN`).
fn types_and_bounds(scenario: &Scenario) -> (Vec<Value>, Vec<Value>) {
    let cs = &scenario.configspace;
    let nan = || json!(NAN_TOKEN);
    let mut types = Vec::new();
    let mut bounds = Vec::new();
    for (i, hp) in cs.hyperparameters().iter().enumerate() {
        let child = cs.is_conditional(i);
        let (t, b) = match &hp.kind {
            HpKind::Categorical(c) => {
                let n = c.choices.len() + usize::from(child);
                (n, json!([n, nan()]))
            }
            HpKind::Ordinal(o) => (0, json!([0, o.sequence.len() - usize::from(!child)])),
            HpKind::Constant(_) if child => (2, json!([2, nan()])),
            HpKind::Constant(_) => (0, json!([0, nan()])),
            HpKind::Float(_) | HpKind::Integer(_) if child => (0, json!([-1.0, 1.0])),
            HpKind::Float(_) | HpKind::Integer(_) => (0, json!([0, 1.0])),
        };
        types.push(json!(t));
        bounds.push(b);
    }
    types.extend(std::iter::repeat_n(json!(0), scenario.n_instance_features()));
    (types, bounds)
}

fn random_forest(scenario: &Scenario, ac: bool) -> Value {
    let (types, bounds) = types_and_bounds(scenario);
    let ratio = if ac { 5.0 / 6.0 } else { 1.0 };
    let max_features = ((types.len() as f64 * ratio) as usize).max(1);
    json!({
        "name": "RandomForest", "types": types, "bounds": bounds,
        "pca_components": if ac { 4 } else { 7 },
        "n_estimators": 10, "cross_trees_variance": false, "criterion": "squared_error",
        "splitter": "random", "max_depth": if ac { 20 } else { 1_048_576 },
        "min_samples_split": if ac { 3 } else { 2 }, "min_samples_leaf": if ac { 3 } else { 1 },
        "min_weight_fraction_leaf": 0.0, "max_leaf_nodes": 1_048_576, "min_impurity_decrease": 1e-08,
        "bootstrap": true, "oob_score": false, "n_jobs": -1, "verbose": 0, "warm_start": false,
        "ccp_alpha": 0.0, "max_samples": null, "monotonic_cst": null, "random_state": scenario.seed,
        "max_features": max_features, "log_y": !ac,
    })
}

/// SMAC3's `BlackBoxFacade.get_kernel` and the Gaussian process around it: Matérn 5/2 on the
/// continuous columns times Hamming on the categorical ones, scaled by a constant, plus noise.
fn gaussian_process(scenario: &Scenario) -> Value {
    let (types, bounds) = types_and_bounds(scenario);
    let n_hp = scenario.configspace.len();
    let has_conditions = !scenario.configspace.conditions().is_empty();
    let (cont, cat): (Vec<usize>, Vec<usize>) = (0..n_hp).partition(|i| types[*i] == json!(0));
    // np.exp(-6.754111155189306), np.exp(0.0858637988771976), np.exp(-10), np.exp(2), np.exp(-25).
    let scale_bounds = json!([0.0011660758342839901, 1.0896579055674775]);
    let (exp_m10, exp_2, exp_m25) = (4.5399929762484854e-05, 7.38905609893065, 1.3887943864964021e-11);
    let seed = scenario.seed;
    let constant = json!({
        "name": "ConstantKernel", "constant_value": 2.0, "constant_value_bounds": [exp_m10, exp_2],
        "operate_on": null, "has_conditions": has_conditions,
        "prior": {"name": "LogNormalPrior", "seed": seed, "sigma": 1.0, "mean": 0.0},
    });
    let matern = json!({
        "name": "MaternKernel", "length_scale": vec![1.0; cont.len()],
        "length_scale_bounds": vec![scale_bounds.clone(); cont.len()], "nu": 2.5, "operate_on": cont,
        "has_conditions": has_conditions, "prior": null,
    });
    let hamming = json!({
        "name": "HammingKernel", "length_scale": vec![1.0; cat.len()],
        "length_scale_bounds": vec![scale_bounds.clone(); cat.len()], "operate_on": cat,
        "has_conditions": has_conditions, "prior": null,
        "lengthscale_bounds": vec![scale_bounds; cat.len()],
    });
    let product = |k1: Value, k2: Value| json!({"name": "ProductKernel", "k1": k1, "k2": k2, "has_conditions": has_conditions});
    let inner = match (cont.is_empty(), cat.is_empty()) {
        (false, false) => product(matern, hamming),
        (false, true) => matern,
        _ => hamming,
    };
    let noise = json!({
        "name": "WhiteKernel", "noise_level": 1e-08, "noise_level_bounds": [exp_m25, exp_2], "operate_on": null,
        "has_conditions": has_conditions, "prior": {"name": "HorseshoePrior", "seed": seed, "scale": 0.1},
    });
    let kernel = json!({"name": "SumKernel", "k1": product(constant, inner), "k2": noise, "has_conditions": has_conditions});
    json!({
        "name": "GaussianProcess", "types": types, "bounds": bounds, "pca_components": 7, "kernel": kernel,
        "n_restarts": 10, "normalize_y": true,
    })
}

fn ei(log: bool) -> Value {
    json!({"name": "EI", "xi": 0.0, "log": log})
}

fn local_and_sorted(acq: &Value, challengers: usize, seed: u64) -> Value {
    json!({
        "name": "LocalAndSortedRandomSearch", "acquisition_function": acq, "challengers": challengers,
        "seed": seed,
        "random_search": {"name": "RandomSearch", "acquisition_function": acq, "challengers": 5000, "seed": seed},
        "local_search": {
            "name": "LocalSearch", "acquisition_function": acq, "challengers": 5000, "seed": seed,
            "max_steps": null, "n_steps_plateau_walk": 10, "vectorization_min_obtain": 2,
            "vectorization_max_obtain": 64, "n_jobs": 1, "stdev_init": 0.05, "stdev_min": 0.005,
            "stdev_max": null, "upscale_thresh": 3, "downscale_interval": 3,
        },
    })
}

fn initial_design(name: &str, per_hp: usize, scenario: &Scenario) -> Value {
    let n = (per_hp * scenario.configspace.len()) as f64;
    let n_configs = n.min(0.25 * scenario.n_trials as f64).max(1.0) as usize;
    json!({
        "name": name, "n_configs": n_configs, "n_configs_per_hyperparameter": per_hp,
        "additional_configs": [], "seed": scenario.seed,
    })
}

fn encoder(log: bool, seed: u64) -> Value {
    let name = if log { "RunHistoryLogScaledEncoder" } else { "RunHistoryEncoder" };
    json!({
        "name": name, "considered_states": [1, 2, 4], "lower_budget_states": [],
        "scale_percentage": 5, "seed": seed,
    })
}

fn intensifier(max_incumbents: usize, max_config_calls: usize, seed: u64) -> Value {
    json!({"name": "Intensifier", "max_incumbents": max_incumbents, "max_config_calls": max_config_calls, "seed": seed})
}

fn hyperband(seed: u64) -> Value {
    json!({
        "name": "Hyperband", "max_incumbents": 10, "max_config_calls": null, "seed": seed, "eta": 3,
        "instance_seed_order": "shuffle_once", "incumbent_selection": "highest_observed_budget",
    })
}

/// The `_meta` SMAC3 2.4.1 writes for `facade` on `scenario` (ask-and-tell: `runner` is null).
pub fn facade_meta(facade: Smac3Facade, scenario: &Scenario) -> Value {
    use Smac3Facade::*;
    let seed = scenario.seed;
    let probability = |p: f64| json!({"name": "ProbabilityRandomDesign", "seed": seed, "probability": p});
    let (types, bounds) = types_and_bounds(scenario);
    let random_model = json!({"name": "RandomModel", "types": types, "bounds": bounds, "pca_components": 7});
    let dummy_acq = json!({"name": "DummyAcquisitionFunction"});
    let random_search =
        json!({"name": "RandomSearch", "acquisition_function": dummy_acq, "challengers": 5000, "seed": seed});
    let (model, maximizer, acq, intens, design, random_design, enc, retrain) = match facade {
        Hpo | MultiFidelity => (
            random_forest(scenario, false),
            local_and_sorted(&ei(true), 10_000, seed),
            ei(true),
            if facade == Hpo { intensifier(10, 3, seed) } else { hyperband(seed) },
            initial_design(
                if facade == Hpo { "SobolInitialDesign" } else { "RandomInitialDesign" },
                10,
                scenario,
            ),
            probability(0.2),
            encoder(true, seed),
            8,
        ),
        AlgorithmConfiguration => (
            random_forest(scenario, true),
            local_and_sorted(&ei(false), 5000, seed),
            ei(false),
            intensifier(10, 2000, seed),
            initial_design("DefaultInitialDesign", 10, scenario),
            probability(0.5),
            encoder(false, seed),
            8,
        ),
        BlackBox => (
            gaussian_process(scenario),
            local_and_sorted(&ei(false), 1000, seed),
            ei(false),
            intensifier(20, 3, seed),
            initial_design("SobolInitialDesign", 8, scenario),
            probability(crate::smbo_builder::BLACKBOX_RANDOM_PROBABILITY),
            encoder(false, seed),
            1,
        ),
        Random | Hyperband => (
            random_model,
            random_search,
            dummy_acq,
            if facade == Random { intensifier(10, 3, seed) } else { hyperband(seed) },
            initial_design("DefaultInitialDesign", 10, scenario),
            json!({"name": "DummyRandomDesign", "seed": seed}),
            encoder(false, seed),
            8,
        ),
    };
    let mo = (scenario.n_objectives() > 1)
        .then(|| json!({"name": "MeanAggregationStrategy", "objective_weights": null}));
    json!({
        "facade": {"name": facade.class_name()},
        "runner": null,
        "model": model,
        "acquisition_maximizer": maximizer,
        "acquisition_function": acq,
        "intensifier": intens,
        "initial_design": design,
        "random_design": random_design,
        "runhistory_encoder": enc,
        "multi_objective_algorithm": mo,
        "config_selector": {"name": "ConfigSelector", "retrain_after": retrain, "max_new_config_tries": 16, "min_trials": 1},
        "version": "2.4.1",
    })
}
