//! Multi-objective helpers: normalization by observed bounds, Pareto fronts, crowding distance
//! and SMAC3's ParEGO scalarization.
//!
//! The Pareto front and crowding distance follow SMAC3's `smac.utils.pareto_front` exactly,
//! including the order of the returned points (the input order) and the treatment of duplicate
//! points (only the first of several equal points is kept), because intensifiers use that order
//! to break ties.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Below this range an objective's bounds count as equal (SMAC3).
const FLAT_RANGE: f64 = 1e-10;

/// Normalizes costs to [0, 1] by per-objective `(min, max)` bounds; an objective whose bounds
/// coincide maps to 1, as in SMAC3's `normalize_costs`.
pub fn normalize_costs(values: &[f64], bounds: &[(f64, f64)]) -> Vec<f64> {
    values
        .iter()
        .zip(bounds)
        .map(|(v, (lo, hi))| {
            let q = hi - lo;
            // Bounds still at their initial ±∞ (no success yet) also count as flat.
            if !q.is_finite() || q < FLAT_RANGE {
                1.0
            } else {
                (v - lo) / q
            }
        })
        .collect()
}

/// Indices of the non-dominated points, in input order. Of several equal points only the first
/// is kept (SMAC3's `calculate_pareto_front`).
pub fn pareto_front(costs: &[Vec<f64>]) -> Vec<usize> {
    let mut efficient: Vec<usize> = (0..costs.len()).collect();
    let mut next = 0;
    while next < efficient.len() {
        let p = &costs[efficient[next]];
        // Keep the points that are better than `p` somewhere, and `p` itself.
        let keep: Vec<bool> = efficient
            .iter()
            .enumerate()
            .map(|(k, &i)| k == next || costs[i].iter().zip(p).any(|(a, b)| a < b))
            .collect();
        let before = keep[..next].iter().filter(|k| **k).count();
        efficient = efficient.iter().zip(&keep).filter(|(_, k)| **k).map(|(i, _)| *i).collect();
        next = before + 1;
    }
    efficient
}

/// Indices sorted by decreasing crowding distance (NSGA-II, as SMAC3's
/// `sort_by_crowding_distance`); with at most two points the input order is kept.
pub fn crowding_distance_order(costs: &[Vec<f64>]) -> Vec<usize> {
    let n = costs.len();
    if n <= 2 {
        return (0..n).collect();
    }
    let m = costs[0].len();
    let mut crowding = vec![0.0; n];
    for j in 0..m {
        let column: Vec<f64> = costs.iter().map(|c| c[j]).collect();
        let mut order: Vec<usize> = (0..n).collect();
        // A stable sort, like NumPy's mergesort.
        order.sort_by(|a, b| column[*a].total_cmp(&column[*b]));
        let f: Vec<f64> = order.iter().map(|i| column[*i]).collect();
        // dist[k] = f[k] − f[k−1] with −∞ before the first and +∞ after the last point.
        let dist: Vec<f64> = (0..=n)
            .map(|k| {
                let hi = if k < n { f[k] } else { f64::INFINITY };
                let lo = if k > 0 { f[k - 1] } else { f64::NEG_INFINITY };
                hi - lo
            })
            .collect();
        let mut to_last = dist.clone();
        for k in 0..=n {
            if dist[k] == 0.0 && k > 0 {
                to_last[k] = to_last[k - 1];
            }
        }
        let mut to_next = dist.clone();
        for k in (0..=n).rev() {
            if dist[k] == 0.0 && k < n {
                to_next[k] = to_next[k + 1];
            }
        }
        let norm = f[n - 1] - f[0];
        for (k, &i) in order.iter().enumerate() {
            let (a, b) = if norm == 0.0 || norm.is_nan() {
                (0.0, 0.0)
            } else {
                let a = to_last[k] / norm;
                let b = to_next[k + 1] / norm;
                (if a.is_nan() { 0.0 } else { a }, if b.is_nan() { 0.0 } else { b })
            };
            crowding[i] += a + b;
        }
    }
    let crowding: Vec<f64> =
        crowding.iter().map(|c| if c.is_infinite() { 1e14 } else { c / m as f64 }).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| crowding[*b].total_cmp(&crowding[*a]));
    order
}

/// How the surrogate's target is made from several objectives (SMAC3's
/// `multi_objective_algorithm`); the incumbents are the Pareto front either way.
#[derive(Clone, Debug, PartialEq)]
pub enum MultiObjectiveAlgorithm {
    /// [`ParEgo`] (this project's default for every facade).
    ParEgo,
    /// SMAC3's `MeanAggregationStrategy`: the (weighted) mean of the normalized costs, as
    /// `numpy.average(costs, weights=objective_weights)`.
    MeanAggregation {
        /// One non-negative weight per objective (`None`: equal weights).
        objective_weights: Option<Vec<f64>>,
    },
}

impl MultiObjectiveAlgorithm {
    /// Checks the weights against the number of objectives.
    pub fn validate(&self, n_objectives: usize) -> Result<(), String> {
        if let MultiObjectiveAlgorithm::MeanAggregation { objective_weights: Some(w) } = self {
            if w.len() != n_objectives {
                return Err(format!("{} weights for {n_objectives} objectives", w.len()));
            }
            if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                return Err(format!("weights {w:?} must be finite, non-negative and not all zero"));
            }
        }
        Ok(())
    }
}

/// `numpy.average(values, weights=weights)`.
pub fn weighted_mean(values: &[f64], weights: &[f64]) -> f64 {
    let total: f64 = weights.iter().sum();
    values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / total
}

/// SMAC3's ParEGO: a random weight vector θ (summing to 1) is drawn at every model update and
/// normalized costs `f` are scalarized as `max(θ·f) + ρ·Σ(θ·f)`.
#[derive(Clone, Debug)]
pub struct ParEgo {
    /// The small augmentation factor ρ (SMAC3: 0.05).
    pub rho: f64,
    theta: Vec<f64>,
}

impl ParEgo {
    /// ParEGO for `n_objectives` objectives with augmentation `rho`; θ starts uniform.
    pub fn new(n_objectives: usize, rho: f64) -> Self {
        let n = n_objectives.max(1);
        ParEgo { rho, theta: vec![1.0 / n as f64; n] }
    }

    /// Draws a new weight vector (SMAC3's `update_on_iteration_start`).
    pub fn update_on_iteration_start(&mut self, rng: &mut ChaCha8Rng) {
        for t in &mut self.theta {
            *t = rng.random::<f64>();
        }
        let sum: f64 = self.theta.iter().sum::<f64>() + 1e-10;
        for t in &mut self.theta {
            *t /= sum;
        }
    }

    /// The current weights.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// Scalarizes normalized costs.
    pub fn scalarize(&self, normalized: &[f64]) -> f64 {
        let weighted = self.theta.iter().zip(normalized).map(|(t, f)| t * f);
        let (max, sum) = weighted.fold((f64::NEG_INFINITY, 0.0), |(m, s), v| (m.max(v), s + v));
        max + self.rho * sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn pareto_front_keeps_input_order_and_first_duplicate() {
        let costs = vec![
            vec![3.0, 4.0], // dominated by (2, 3)
            vec![2.0, 3.0],
            vec![1.0, 5.0],
            vec![2.0, 3.0], // duplicate of index 1
            vec![4.0, 1.0],
            vec![4.0, 2.0], // dominated by (4, 1)
        ];
        assert_eq!(pareto_front(&costs), vec![1, 2, 4]);
        assert_eq!(pareto_front(&[vec![5.0], vec![1.0], vec![1.0], vec![3.0]]), vec![1]);
        assert!(pareto_front(&[]).is_empty());
    }

    #[test]
    fn crowding_prefers_extremes() {
        let costs = vec![vec![1.0, 5.0], vec![2.0, 3.0], vec![2.2, 2.9], vec![5.0, 1.0]];
        let order = crowding_distance_order(&costs);
        // The two extremes have infinite distance; (2.2, 2.9) has 1.25/2 against 0.825/2.
        assert_eq!(order, vec![0, 3, 2, 1]);
        assert_eq!(crowding_distance_order(&costs[..2]), vec![0, 1]);
    }

    #[test]
    fn parego_weights_sum_to_one_and_scalarize() {
        let mut p = ParEgo::new(2, 0.05);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        p.update_on_iteration_start(&mut rng);
        let s: f64 = p.theta().iter().sum();
        assert!((s - 1.0).abs() < 1e-9 && p.theta().iter().all(|t| *t >= 0.0));
        let (a, b) = (p.theta()[0], p.theta()[1]);
        let expected = (a * 0.2).max(b * 0.8) + 0.05 * (a * 0.2 + b * 0.8);
        assert!((p.scalarize(&[0.2, 0.8]) - expected).abs() < 1e-12);
        let before = p.theta().to_vec();
        p.update_on_iteration_start(&mut rng);
        assert_ne!(before, p.theta());
    }

    #[test]
    fn normalization_maps_flat_objectives_to_one() {
        assert_eq!(normalize_costs(&[2.0, 7.0], &[(0.0, 4.0), (7.0, 7.0)]), vec![0.5, 1.0]);
    }
}
