//! SMAC3's `LocalAndSortedRandomSearch`: score many random configurations, run a one-exchange
//! local search from the best of them and from the best observed configurations, and return
//! everything sorted by acquisition value.
//!
//! Everything works on configuration vectors and scores whole batches at once: a surrogate
//! predicts 10,000 points far faster in one call than in 10,000, and neighbourhoods of a local
//! search step are scored together (SMAC3 vectorizes the same way).

use crate::configspace::ConfigSpace;
use crate::error::SmacError;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Scores a batch of configuration vectors (higher is better).
pub type BatchScorer<'a> = dyn FnMut(&[Vec<f64>]) -> Result<Vec<f64>, SmacError> + 'a;

/// A maximized candidate: its acquisition value, its vector and how it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Acquisition value.
    pub score: f64,
    /// Configuration vector.
    pub vector: Vec<f64>,
    /// True when local search found it, false for random search.
    pub from_local_search: bool,
}

/// Settings of the local-and-sorted-random search.
#[derive(Clone, Debug)]
pub struct LocalAndSortedRandomSearch {
    /// Random configurations scored per maximization (SMAC3 HPO: 10,000).
    pub challengers: usize,
    /// Local searches started per maximization (SMAC3: 10).
    pub local_search_starts: usize,
    /// Steps a local search may walk along a plateau of equal values (SMAC3: 10).
    pub plateau_steps: usize,
    /// Upper bound on the steps of one local search, against pathological spaces.
    pub max_steps: usize,
    /// Gaussian neighbours per numeric hyperparameter.
    pub numeric_neighbours: usize,
    /// Initial width of numeric neighbour steps on the unit axis (SMAC3: 0.05).
    pub stdev_init: f64,
    /// Smallest step width (SMAC3: 0.005).
    pub stdev_min: f64,
    /// Largest step width (SMAC3: 0.05 · 2³).
    pub stdev_max: f64,
    /// Non-improving steps between halvings of the step width (SMAC3: 3).
    pub downscale_interval: usize,
    /// Consecutive improvements that double the step width (SMAC3: 3).
    pub upscale_threshold: usize,
}

impl Default for LocalAndSortedRandomSearch {
    fn default() -> Self {
        LocalAndSortedRandomSearch {
            challengers: 10_000,
            local_search_starts: 10,
            plateau_steps: 10,
            max_steps: 200,
            numeric_neighbours: crate::configspace::NUMERIC_NEIGHBOURS,
            stdev_init: 0.05,
            stdev_min: 0.005,
            stdev_max: 0.4,
            downscale_interval: 3,
            upscale_threshold: 3,
        }
    }
}

impl LocalAndSortedRandomSearch {
    /// Maximizes `score` over `space`; local searches start from the best random points and from
    /// `start_points` (e.g. the best observed configurations). Returns up to `n_return`
    /// distinct candidates, best first.
    pub fn maximize(
        &self,
        space: &ConfigSpace,
        score: &mut BatchScorer<'_>,
        start_points: &[Vec<f64>],
        n_return: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Candidate>, SmacError> {
        let random: Vec<Vec<f64>> =
            (0..self.challengers).map(|_| space.sample_vector(rng)).collect::<Result<_, _>>()?;
        let random_scores = score(&random)?;
        let mut order: Vec<usize> = (0..random.len()).collect();
        order.sort_by(|a, b| random_scores[*b].total_cmp(&random_scores[*a]));

        // Starts: the best observed configurations, topped up with the best random ones.
        let mut starts: Vec<Vec<f64>> =
            start_points.iter().take(self.local_search_starts / 2).cloned().collect();
        for &i in &order {
            if starts.len() >= self.local_search_starts {
                break;
            }
            starts.push(random[i].clone());
        }
        let mut candidates: Vec<Candidate> = Vec::with_capacity(n_return + starts.len());
        for start in starts {
            let (vector, s) = self.local_search(space, score, start, rng)?;
            candidates.push(Candidate { score: s, vector, from_local_search: true });
        }
        candidates.extend(order.iter().take(n_return).map(|&i| Candidate {
            score: random_scores[i],
            vector: random[i].clone(),
            from_local_search: false,
        }));
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut seen = HashSet::new();
        candidates.retain(|c| seen.insert(c.vector.iter().map(|x| x.to_bits()).collect::<Vec<_>>()));
        candidates.truncate(n_return);
        Ok(candidates)
    }

    /// Steepest-ascent one-exchange local search with SMAC3 2.4's adaptive step width: steps
    /// start small (σ = 0.05) so the search refines around good points, widen after repeated
    /// improvements, and narrow after repeated failures; the search ends after
    /// `plateau_steps` non-improving steps (moving along equal values when it can).
    fn local_search(
        &self,
        space: &ConfigSpace,
        score: &mut BatchScorer<'_>,
        start: Vec<f64>,
        rng: &mut ChaCha8Rng,
    ) -> Result<(Vec<f64>, f64), SmacError> {
        let mut current = start;
        let mut current_score = score(std::slice::from_ref(&current))?[0];
        let mut stdev = self.stdev_init;
        let (mut failures, mut improvements) = (0usize, 0usize);
        for _ in 0..self.max_steps {
            let neighbours = space.neighbour_vectors(&current, self.numeric_neighbours, stdev, rng);
            if neighbours.is_empty() {
                break;
            }
            let scores = score(&neighbours)?;
            let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if best > current_score {
                let i = scores.iter().position(|s| *s == best).expect("max is present");
                current = neighbours[i].clone();
                current_score = best;
                improvements += 1;
                if improvements >= self.upscale_threshold && failures == 0 {
                    stdev = (stdev * 2.0).min(self.stdev_max);
                    improvements = 0;
                }
                continue;
            }
            improvements = 0;
            failures += 1;
            if best == current_score {
                // Equal values (a flat region of a forest): walk on to find an exit.
                let ties: Vec<usize> = (0..scores.len()).filter(|i| scores[*i] == best).collect();
                current = neighbours[*ties.choose(rng).expect("non-empty")].clone();
            }
            if failures % self.downscale_interval == 0 {
                stdev = (stdev * 0.5).max(self.stdev_min);
            }
            if failures >= self.plateau_steps {
                break;
            }
        }
        Ok((current, current_score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{Condition, Hyperparameter};
    use rand::SeedableRng;

    fn space() -> ConfigSpace {
        let mut cs = ConfigSpace::new("m");
        cs.add_all([
            Hyperparameter::float("x", 0.0, 1.0),
            Hyperparameter::float("y", 0.0, 1.0),
            Hyperparameter::categorical("c", ["a", "b", "z"]),
            Hyperparameter::integer("k", 0, 20),
        ])
        .unwrap();
        cs.add_condition(Condition::equals("k", "c", "b")).unwrap();
        cs
    }

    /// Peak at x = 0.3, y = 0.7, c = b, k = 12.
    fn objective(v: &[f64]) -> f64 {
        let k_term = if v[2] == 1.0 { (v[3] - 12.5 / 21.0).powi(2) } else { 1.0 };
        -((v[0] - 0.3).powi(2) + (v[1] - 0.7).powi(2) + k_term + if v[2] == 1.0 { 0.0 } else { 0.5 })
    }

    #[test]
    fn finds_the_peak_and_sorts_valid_candidates() {
        let cs = space();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut calls = 0usize;
        let mut scorer = |batch: &[Vec<f64>]| -> Result<Vec<f64>, SmacError> {
            calls += batch.len();
            Ok(batch.iter().map(|v| objective(v)).collect())
        };
        let m = LocalAndSortedRandomSearch { challengers: 500, ..Default::default() };
        let out = m.maximize(&cs, &mut scorer, &[], 50, &mut rng).unwrap();
        assert_eq!(out.len(), 50);
        assert!(out.windows(2).all(|w| w[0].score >= w[1].score));
        for c in &out {
            cs.check_vector(&c.vector).unwrap();
        }
        let best = &out[0];
        assert!(best.from_local_search, "local search should beat random search");
        assert!(best.score > -0.01, "best {:?}", best);
        assert!(calls > 500);
    }
}
