//! Turning the run history into training data for the surrogate (SMAC3's run-history encoders).
//!
//! One row per finished trial: the configuration vector, followed by the instance's features
//! when the scenario has them. The target is the cost (for several objectives: costs normalized
//! by their observed bounds and averaged, SMAC3's default aggregation), optionally log-scaled as
//! SMAC3's HPO facade does: `ln((y − y₀) / (y_max − y₀))` with `y₀` a little below the minimum,
//! which stretches the region of good costs where the search must be precise.
//!
//! Unlike SMAC3, non-finite costs (failed trials with an infinite crash cost) are imputed with the
//! worst finite cost seen: an infinite target would wreck the forest's leaf means and the
//! log-scaling, while "as bad as the worst" keeps the model away from crashing regions.

use crate::multi_objective::{normalize_costs, weighted_mean, MultiObjectiveAlgorithm, ParEgo};
use crate::runhistory::RunHistory;
use crate::scenario::Scenario;
use crate::trial::StatusType;
use ndarray::{Array1, Array2};

/// Tiny offset that keeps the logarithm finite at the minimum (SMAC3's `VERY_SMALL_NUMBER`).
const VERY_SMALL: f64 = 1e-10;

/// Encodes a run history as (X, y).
#[derive(Clone, Debug)]
pub struct RunHistoryEncoder {
    /// Log-scale the targets (HPO facade).
    pub log_scaled: bool,
    /// Percentile that sets how far below the minimum the log-scaling origin lies (SMAC3: 5).
    pub scale_percentage: f64,
    /// Scalarization of several objectives: ParEGO (SMAC3's `ParEGO`, ρ = 0.05) by default when
    /// the scenario has several; `None` averages the normalized costs (SMAC3's
    /// `MeanAggregationStrategy`), weighted by [`Self::objective_weights`] when given.
    pub multi_objective: Option<ParEgo>,
    /// Weights of the mean aggregation (`multi_objective` is `None`).
    pub objective_weights: Option<Vec<f64>>,
    n_params: usize,
    features: Option<std::collections::BTreeMap<String, Vec<f64>>>,
}

/// Encoded training data.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// One row per trial: configuration vector (+ instance features).
    pub x: Array2<f64>,
    /// Transformed targets.
    pub y: Array1<f64>,
    /// Config id of each row.
    pub config_ids: Vec<usize>,
}

impl RunHistoryEncoder {
    /// An encoder for a scenario's space and instance features.
    pub fn new(scenario: &Scenario, log_scaled: bool) -> Self {
        let mut encoder = RunHistoryEncoder {
            log_scaled,
            scale_percentage: 5.0,
            multi_objective: None,
            objective_weights: None,
            n_params: scenario.configspace.len(),
            features: scenario.instance_features.clone(),
        };
        encoder.set_multi_objective(&MultiObjectiveAlgorithm::ParEgo, scenario.n_objectives());
        encoder
    }

    /// Uses `algorithm` to make one target of several objectives.
    pub fn set_multi_objective(&mut self, algorithm: &MultiObjectiveAlgorithm, n_objectives: usize) {
        match algorithm {
            MultiObjectiveAlgorithm::ParEgo => {
                self.multi_objective = (n_objectives > 1).then(|| ParEgo::new(n_objectives, 0.05));
                self.objective_weights = None;
            }
            MultiObjectiveAlgorithm::MeanAggregation { objective_weights } => {
                self.multi_objective = None;
                self.objective_weights = objective_weights.clone();
            }
        }
    }

    /// Number of columns of X.
    pub fn n_columns(&self) -> usize {
        self.n_params + self.features.as_ref().and_then(|f| f.values().next()).map_or(0, Vec::len)
    }

    /// Instance name → feature vector, when the scenario has features.
    pub fn features(&self) -> Option<&std::collections::BTreeMap<String, Vec<f64>>> {
        self.features.as_ref()
    }

    /// The instance feature vectors (empty without features).
    pub fn feature_vectors(&self) -> Vec<Vec<f64>> {
        self.features.as_ref().map(|f| f.values().cloned().collect()).unwrap_or_default()
    }

    /// The budget to train on (SMAC3's `ConfigSelector._collect_data`): from the highest budget
    /// down, the first with at least `min_trials` usable trials; `Some(None)` without budgets,
    /// `None` when no budget has enough data yet.
    pub fn training_budget(&self, rh: &RunHistory, min_trials: usize) -> Option<Option<f64>> {
        let mut counts: Vec<(Option<f64>, usize)> = Vec::new();
        for (key, value) in rh.iter() {
            if matches!(value.status, StatusType::Running | StatusType::Doesnotexist) {
                continue;
            }
            let bits = key.budget.map(f64::to_bits);
            match counts.iter_mut().find(|(b, _)| b.map(f64::to_bits) == bits) {
                Some((_, n)) => *n += 1,
                None => counts.push((key.budget, 1)),
            }
        }
        if counts.iter().all(|(b, _)| b.is_none()) {
            let n: usize = counts.iter().map(|c| c.1).sum();
            return (n >= min_trials.max(1)).then_some(None);
        }
        counts.retain(|(b, _)| b.is_some());
        counts.sort_by(|a, b| b.0.unwrap_or(0.0).total_cmp(&a.0.unwrap_or(0.0)));
        counts.into_iter().find(|(_, n)| *n >= min_trials.max(1)).map(|(b, _)| b)
    }

    /// Encodes the finished trials (at `budget` when given) of a run history.
    pub fn encode(&self, rh: &RunHistory, budget: Option<f64>) -> Encoded {
        let mut rows: Vec<(usize, Option<&str>, f64)> = Vec::with_capacity(rh.len());
        for (key, value) in rh.iter() {
            if matches!(value.status, StatusType::Running | StatusType::Doesnotexist) {
                continue;
            }
            if budget.is_some_and(|b| key.budget.map(f64::to_bits) != Some(b.to_bits())) {
                continue;
            }
            let cost = if value.cost.iter().all(|c| c.is_finite()) {
                match &self.multi_objective {
                    Some(p) if rh.n_objectives() > 1 => {
                        p.scalarize(&normalize_costs(&value.cost, rh.objective_bounds()))
                    }
                    None if rh.n_objectives() > 1 && self.objective_weights.is_some() => {
                        let w = self.objective_weights.as_deref().expect("checked");
                        weighted_mean(&normalize_costs(&value.cost, rh.objective_bounds()), w)
                    }
                    _ => rh.normalized_cost(&value.cost),
                }
            } else {
                f64::NAN
            };
            rows.push((key.config_id, key.instance.as_deref(), cost));
        }
        let worst = rows.iter().map(|r| r.2).filter(|c| c.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        if !worst.is_finite() {
            // Every trial failed: nothing to learn from yet.
            return Encoded {
                x: Array2::zeros((0, self.n_columns())),
                y: Array1::zeros(0),
                config_ids: Vec::new(),
            };
        }
        let mut x = Array2::from_elem((rows.len(), self.n_columns()), f64::NAN);
        let mut y = Array1::zeros(rows.len());
        for (i, (id, instance, cost)) in rows.iter().enumerate() {
            let config = rh.config(*id).expect("ids are valid");
            for (j, v) in config.vector().iter().enumerate() {
                x[[i, j]] = *v;
            }
            if let (Some(features), Some(inst)) = (&self.features, instance) {
                if let Some(f) = features.get(*inst) {
                    for (j, v) in f.iter().enumerate() {
                        x[[i, self.n_params + j]] = *v;
                    }
                }
            }
            y[i] = if cost.is_finite() { *cost } else { worst };
        }
        if self.log_scaled {
            log_scale(&mut y, self.scale_percentage);
        }
        Encoded { x, y, config_ids: rows.iter().map(|r| r.0).collect() }
    }
}

/// SMAC3's log-scaling of responses into (−∞, 0].
pub fn log_scale(y: &mut Array1<f64>, percentage: f64) {
    if y.is_empty() {
        return;
    }
    let min = y.iter().copied().fold(f64::INFINITY, f64::min);
    let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let perc = percentile(y.as_slice().expect("contiguous"), percentage);
    let mut origin = min - (perc - min) - VERY_SMALL;
    if origin >= max {
        origin = max - VERY_SMALL * max.abs().max(1.0);
    }
    let span = max - origin;
    y.mapv_inplace(|v| ((v - origin) / span).ln());
}

/// Linear-interpolation percentile (NumPy's default), `p` in [0, 100].
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{ConfigSpace, Hyperparameter};
    use crate::trial::{unix_now, TrialInfo, TrialValue};
    use rand::SeedableRng;

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1, 2, 3, 4, 10], 5) == 1.2
        assert!((percentile(&[4.0, 1.0, 10.0, 3.0, 2.0], 5.0) - 1.2).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 5.0), 7.0);
    }

    #[test]
    fn log_scaling_orders_and_imputes_failures() {
        let mut cs = ConfigSpace::new("e");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        let scenario = Scenario::builder(cs).build().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let configs = scenario.configspace.sample(4, &mut rng).unwrap();
        let mut rh = RunHistory::new(1);
        for (c, cost) in configs.iter().zip([3.0, 1.0, 2.0]) {
            rh.add(&TrialInfo::new(c.clone(), Some(0)), TrialValue::success(vec![cost], unix_now()));
        }
        rh.add(
            &TrialInfo::new(configs[3].clone(), Some(0)),
            TrialValue {
                cost: vec![f64::INFINITY],
                ..TrialValue::failure(StatusType::Crashed, "x", unix_now())
            },
        );
        let enc = RunHistoryEncoder::new(&scenario, true).encode(&rh, None);
        assert_eq!(enc.x.nrows(), 4);
        let y = enc.y.to_vec();
        assert!(y[1] < y[2] && y[2] < y[0], "{y:?}");
        assert_eq!(y[0], 0.0, "the maximum maps to ln(1)");
        assert_eq!(y[3], y[0], "the crash is imputed with the worst cost");
        let plain = RunHistoryEncoder::new(&scenario, false).encode(&rh, None);
        assert_eq!(plain.y.to_vec(), vec![3.0, 1.0, 2.0, 3.0]);
        assert_eq!(plain.x[[1, 0]], configs[1].vector()[0]);
    }

    #[test]
    fn trains_on_the_highest_budget_with_enough_trials() {
        let mut cs = ConfigSpace::new("b");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        let scenario = Scenario::builder(cs).budgets(1.0, 9.0).build().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let configs = scenario.configspace.sample(6, &mut rng).unwrap();
        let mut rh = RunHistory::new(1);
        let enc = RunHistoryEncoder::new(&scenario, false);
        assert_eq!(enc.training_budget(&rh, 1), None);
        for (i, c) in configs.iter().enumerate() {
            let budget = Some(if i < 4 { 1.0 } else { 3.0 });
            let t = TrialInfo { config: c.clone(), instance: None, seed: Some(0), budget };
            rh.add(&t, TrialValue::success(vec![i as f64], unix_now()));
        }
        assert_eq!(enc.training_budget(&rh, 1), Some(Some(3.0)));
        assert_eq!(enc.training_budget(&rh, 3), Some(Some(1.0)));
        assert_eq!(enc.training_budget(&rh, 5), None);
        assert_eq!(enc.encode(&rh, Some(3.0)).y.to_vec(), vec![4.0, 5.0]);
    }

    /// A two-objective scenario and three trials whose normalized costs are (0, 1), (1, 0) and
    /// (0.5, 0.5), with the generator that sampled them.
    fn two_objective_history() -> (Scenario, RunHistory, rand_chacha::ChaCha8Rng) {
        let mut cs = ConfigSpace::new("m");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        let scenario = Scenario::builder(cs).objectives(["a", "b"]).build().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let configs = scenario.configspace.sample(3, &mut rng).unwrap();
        let mut rh = RunHistory::new(2);
        for (c, cost) in configs.iter().zip([[0.0, 10.0], [1.0, 0.0], [0.5, 5.0]]) {
            rh.add(&TrialInfo::new(c.clone(), Some(0)), TrialValue::success(cost.to_vec(), unix_now()));
        }
        (scenario, rh, rng)
    }

    #[test]
    fn several_objectives_are_scalarized_by_parego() {
        let (scenario, rh, mut rng) = two_objective_history();
        let mut enc = RunHistoryEncoder::new(&scenario, false);
        let p = enc.multi_objective.as_mut().expect("ParEGO for two objectives");
        p.update_on_iteration_start(&mut rng);
        let (ta, tb) = (p.theta()[0], p.theta()[1]);
        let y = enc.encode(&rh, None).y.to_vec();
        // Normalized costs (0, 1), (1, 0), (0.5, 0.5).
        assert!((y[0] - (tb + 0.05 * tb)).abs() < 1e-12, "{y:?}");
        assert!((y[1] - (ta + 0.05 * ta)).abs() < 1e-12);
        assert!((y[2] - (0.5 * ta.max(tb) + 0.05 * 0.5)).abs() < 1e-9);
    }

    #[test]
    fn the_mean_aggregation_weights_the_normalized_costs() {
        let (scenario, rh, _) = two_objective_history();
        // Normalized costs (0, 1), (1, 0), (0.5, 0.5); weights (1, 3): (0·1 + 1·3) / 4, ….
        let mut enc = RunHistoryEncoder::new(&scenario, false);
        let mean = MultiObjectiveAlgorithm::MeanAggregation { objective_weights: Some(vec![1.0, 3.0]) };
        enc.set_multi_objective(&mean, 2);
        assert!(enc.multi_objective.is_none());
        assert_eq!(enc.encode(&rh, None).y.to_vec(), vec![0.75, 0.25, 0.5]);
        // Without weights: the plain mean.
        enc.set_multi_objective(&MultiObjectiveAlgorithm::MeanAggregation { objective_weights: None }, 2);
        assert_eq!(enc.encode(&rh, None).y.to_vec(), vec![0.5, 0.5, 0.5]);
        assert!(MultiObjectiveAlgorithm::MeanAggregation { objective_weights: Some(vec![1.0]) }
            .validate(2)
            .unwrap_err()
            .contains("1 weights for 2 objectives"));
        assert!(MultiObjectiveAlgorithm::MeanAggregation { objective_weights: Some(vec![0.0, 0.0]) }
            .validate(2)
            .is_err());
    }
}
