//! SMAC3's `LocalAndSortedRandomSearch`: score many random configurations, run a one-exchange
//! local search from the best of them and from the best observed configurations, and return
//! everything sorted by acquisition value.
//!
//! Everything works on configuration vectors and scores whole batches at once: a surrogate
//! predicts 10,000 points far faster in one call than in 10,000, and the local searches walk in
//! lockstep, so each round scores the neighbourhoods of all of them in one call (SMAC3
//! vectorizes the same way).

use crate::configspace::ConfigSpace;
use crate::error::SmacError;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
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
        for (vector, s) in self.local_searches(space, score, starts, rng)? {
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

    /// Steepest-ascent one-exchange local searches from every start, walked in lockstep as
    /// SMAC3 does: each round scores the neighbourhoods of all still-running searches in one
    /// batch (ten searches of a six-dimensional space: 240 points instead of 24), which keeps
    /// the surrogate's batch kernels and prediction threads busy. Each search draws its
    /// neighbours from its own random stream, so a search's path does not depend on how long
    /// the others run.
    fn local_searches(
        &self,
        space: &ConfigSpace,
        score: &mut BatchScorer<'_>,
        starts: Vec<Vec<f64>>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<(Vec<f64>, f64)>, SmacError> {
        if starts.is_empty() {
            return Ok(Vec::new());
        }
        let scores = score(&starts)?;
        let mut walks: Vec<Walk> = starts
            .into_iter()
            .zip(scores)
            .map(|(current, score)| Walk::new(current, score, self.stdev_init, ChaCha8Rng::from_rng(rng)))
            .collect();
        let mut batch: Vec<Vec<f64>> = Vec::new();
        let mut spans: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
        loop {
            batch.clear();
            spans.clear();
            for (w, walk) in walks.iter_mut().enumerate().filter(|(_, walk)| !walk.done) {
                let neighbours = space.neighbour_vectors(
                    &walk.current,
                    self.numeric_neighbours,
                    walk.stdev,
                    &mut walk.rng,
                );
                if neighbours.is_empty() {
                    walk.done = true;
                    continue;
                }
                spans.push((w, batch.len()..batch.len() + neighbours.len()));
                batch.extend(neighbours);
            }
            if spans.is_empty() {
                break;
            }
            let scores = score(&batch)?;
            for (w, span) in spans.drain(..) {
                walks[w].step(self, &batch[span.clone()], &scores[span]);
            }
        }
        Ok(walks.into_iter().map(|w| (w.current, w.score)).collect())
    }
}

/// One local search's state: SMAC3 2.4's adaptive step width starts small (σ = 0.05) so the
/// search refines around good points, widens after repeated improvements and narrows after
/// repeated failures; the search ends after `plateau_steps` non-improving steps (moving along
/// equal values when it can) or `max_steps` steps.
struct Walk {
    current: Vec<f64>,
    score: f64,
    stdev: f64,
    failures: usize,
    improvements: usize,
    steps: usize,
    rng: ChaCha8Rng,
    done: bool,
}

impl Walk {
    fn new(current: Vec<f64>, score: f64, stdev: f64, rng: ChaCha8Rng) -> Self {
        Walk { current, score, stdev, failures: 0, improvements: 0, steps: 0, rng, done: false }
    }

    /// Moves to the best of the scored `neighbours` if it improves, else counts a failure.
    fn step(&mut self, search: &LocalAndSortedRandomSearch, neighbours: &[Vec<f64>], scores: &[f64]) {
        self.steps += 1;
        if self.steps >= search.max_steps {
            self.done = true;
        }
        let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if best > self.score {
            let i = scores.iter().position(|s| *s == best).expect("max is present");
            self.current = neighbours[i].clone();
            self.score = best;
            self.improvements += 1;
            if self.improvements >= search.upscale_threshold && self.failures == 0 {
                self.stdev = (self.stdev * 2.0).min(search.stdev_max);
                self.improvements = 0;
            }
            return;
        }
        self.improvements = 0;
        self.failures += 1;
        if best == self.score {
            // Equal values (a flat region of a forest): walk on to find an exit.
            let ties: Vec<usize> = (0..scores.len()).filter(|i| scores[*i] == best).collect();
            self.current = neighbours[*ties.choose(&mut self.rng).expect("non-empty")].clone();
        }
        if self.failures % search.downscale_interval == 0 {
            self.stdev = (self.stdev * 0.5).max(search.stdev_min);
        }
        if self.failures >= search.plateau_steps {
            self.done = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{Condition, Hyperparameter};

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

    /// Scores `v` by its distance to the nearest of the given peaks (higher is better).
    fn nearest_peak(v: &[f64], peaks: &[[f64; 2]]) -> f64 {
        -peaks.iter().map(|p| (v[0] - p[0]).powi(2) + (v[1] - p[1]).powi(2)).fold(f64::INFINITY, f64::min)
    }

    fn plane() -> ConfigSpace {
        let mut cs = ConfigSpace::new("p");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0), Hyperparameter::float("y", 0.0, 1.0)]).unwrap();
        cs
    }

    #[test]
    fn local_searches_score_their_neighbourhoods_together() {
        let cs = plane();
        let m = LocalAndSortedRandomSearch::default();
        let neighbourhood = 2 * m.numeric_neighbours;
        let starts: Vec<Vec<f64>> = (0..5).map(|i| vec![0.1 + 0.2 * i as f64, 0.5]).collect();
        let mut batches = Vec::new();
        let mut scorer = |batch: &[Vec<f64>]| -> Result<Vec<f64>, SmacError> {
            batches.push(batch.len());
            Ok(batch.iter().map(|v| nearest_peak(v, &[[0.31, 0.42]])).collect())
        };
        let out = m.local_searches(&cs, &mut scorer, starts, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        assert_eq!(out.len(), 5);
        // The starts in one call, then the first step of all five searches in one call.
        assert_eq!(&batches[..2], &[5, 5 * neighbourhood]);
        // Searches end one by one, so later rounds are smaller but stay whole neighbourhoods.
        assert!(batches[2..].iter().all(|b| b % neighbourhood == 0 && *b <= 5 * neighbourhood));
        assert!(batches.windows(2).skip(1).all(|w| w[1] <= w[0]), "{batches:?}");
        for (v, s) in &out {
            assert!(*s > -0.01, "a search ended far from the peak: {v:?} {s}");
        }
    }

    #[test]
    fn a_local_search_walks_the_same_path_whatever_the_other_searches_do() {
        let cs = plane();
        let m = LocalAndSortedRandomSearch::default();
        let starts = vec![vec![0.2, 0.2], vec![0.9, 0.9]];
        let run = |peaks: &[[f64; 2]]| {
            let mut scorer = |batch: &[Vec<f64>]| -> Result<Vec<f64>, SmacError> {
                Ok(batch.iter().map(|v| nearest_peak(v, peaks)).collect())
            };
            m.local_searches(&cs, &mut scorer, starts.clone(), &mut ChaCha8Rng::seed_from_u64(11)).unwrap()
        };
        // Moving the second search's peak changes its path and length, not the first's.
        let a = run(&[[0.25, 0.3], [0.8, 0.7]]);
        let b = run(&[[0.25, 0.3], [0.6, 0.95]]);
        assert_eq!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        // And the same seed gives the same result.
        assert_eq!(a, run(&[[0.25, 0.3], [0.8, 0.7]]));
    }
}
