//! The one-exchange neighbourhood that SMAC's local search walks.
//!
//! A neighbour differs from its origin in one active hyperparameter: another choice of a
//! categorical, an adjacent ordinal element, or a Gaussian step (σ = 0.2 on the unit axis) of a
//! float or integer. Changing a parent can (de)activate children: deactivated children are
//! dropped and newly activated ones take their default, as ConfigSpace does. Neighbours that
//! violate a forbidden clause are skipped.

use super::hyperparameter::NEIGHBOUR_STDEV;
use super::{ConfigSpace, Configuration};
use rand::seq::SliceRandom;
use rand::Rng;
use std::sync::Arc;

/// Gaussian neighbours drawn per numeric hyperparameter (ConfigSpace's default).
pub const NUMERIC_NEIGHBOURS: usize = 4;

impl ConfigSpace {
    /// All one-exchange neighbours of a valid vector, in random order; numeric steps have width
    /// `stdev` on the unit axis.
    pub fn neighbour_vectors<R: Rng + ?Sized>(
        &self,
        v: &[f64],
        n_numeric: usize,
        stdev: f64,
        rng: &mut R,
    ) -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        for (i, hp) in self.hyperparameters().iter().enumerate() {
            if v[i].is_nan() {
                continue;
            }
            for y in hp.neighbours_vector(v[i], n_numeric, stdev, rng) {
                let mut n = v.to_vec();
                n[i] = y;
                if self.has_children(i) {
                    self.activate(&mut n, |child| {
                        child.to_vector(&child.default()).expect("defaults are legal")
                    });
                }
                if self.violated_forbidden(&n).is_none() {
                    out.push(n);
                }
            }
        }
        out.shuffle(rng);
        out
    }
}

impl Configuration {
    /// The one-exchange neighbours of this configuration, in random order.
    pub fn neighbours<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<Configuration> {
        let space: &Arc<ConfigSpace> = self.space();
        space
            .neighbour_vectors(self.vector(), NUMERIC_NEIGHBOURS, NEIGHBOUR_STDEV, rng)
            .into_iter()
            .map(|v| Configuration::from_canonical_vector(space, v))
            .collect()
    }
}
