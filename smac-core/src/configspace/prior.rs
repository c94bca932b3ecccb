//! Non-uniform priors of float and integer hyperparameters: ConfigSpace's `NormalFloat`,
//! `NormalInteger`, `BetaFloat` and `BetaInteger`.
//!
//! As in ConfigSpace 1.x, a prior changes only how values are drawn: the vector encoding is the
//! uniform one (the bounds scaled to [0, 1], in log space when `log`), and the distribution lives
//! on that unit axis — a normal with the vectorized `mu` and `sigma` truncated to [0, 1], or
//! `Beta(alpha, beta)` on [0, 1].

use rand::Rng;
use rand_distr::{Beta, Distribution, Normal};
use serde::{Deserialize, Serialize};

/// How a float or integer hyperparameter's values are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Prior {
    /// Uniform on the (log-)scaled bounds.
    #[default]
    Uniform,
    /// Normal with mean `mu` and standard deviation `sigma` (in value space), truncated to the
    /// bounds.
    Normal {
        /// Mean.
        mu: f64,
        /// Standard deviation.
        sigma: f64,
    },
    /// Beta distribution with shape parameters `alpha` and `beta` over the (log-)scaled bounds.
    Beta {
        /// First shape parameter.
        alpha: f64,
        /// Second shape parameter.
        beta: f64,
    },
}

impl Prior {
    /// Checks the parameters; the message names the one at fault.
    pub fn validate(&self, log: bool) -> Result<(), String> {
        match *self {
            Prior::Uniform => Ok(()),
            Prior::Normal { mu, sigma } => {
                if !(mu.is_finite() && sigma.is_finite() && sigma > 0.0) {
                    return Err(format!(
                        "normal prior needs finite mu and sigma > 0, got mu={mu}, sigma={sigma}"
                    ));
                }
                if log && mu <= 0.0 {
                    return Err(format!("mu={mu} must be positive for log-scale"));
                }
                Ok(())
            }
            Prior::Beta { alpha, beta } => {
                if !(alpha.is_finite() && beta.is_finite() && alpha >= 1.0 && beta >= 1.0) {
                    return Err(format!("beta prior needs alpha >= 1 and beta >= 1, got {alpha}, {beta}"));
                }
                Ok(())
            }
        }
    }

    /// Draws a point of the unit axis; `lo`/`hi` are the scaled axis' ends in value space.
    pub fn sample_unit<R: Rng + ?Sized>(&self, rng: &mut R, lo: f64, hi: f64, log: bool) -> f64 {
        match *self {
            Prior::Uniform => rng.random::<f64>(),
            Prior::Normal { mu, sigma } => {
                // ConfigSpace's UnitScaler.to_vector(mu) and vectorize_size(sigma).
                let (vmu, vsigma) = if log {
                    let span = hi.ln() - lo.ln();
                    ((mu.ln() - lo.ln()) / span, ((lo + sigma).ln() / span).abs())
                } else {
                    ((mu - lo) / (hi - lo), sigma / (hi - lo))
                };
                let Ok(normal) = Normal::new(vmu, vsigma.max(f64::MIN_POSITIVE)) else {
                    return rng.random::<f64>();
                };
                // Rejection keeps the truncated shape; a mass far outside [0, 1] falls back to
                // the nearest end's neighbourhood.
                for _ in 0..1000 {
                    let x: f64 = normal.sample(rng);
                    if (0.0..=1.0).contains(&x) {
                        return x;
                    }
                }
                vmu.clamp(0.0, 1.0)
            }
            Prior::Beta { alpha, beta } => match Beta::new(alpha, beta) {
                Ok(b) => b.sample(rng),
                Err(_) => rng.random::<f64>(),
            },
        }
    }

    /// ConfigSpace's default point on the unit axis when none is given: `mu` (clipped) for a
    /// normal, the mode for a beta; `None` for uniform (the midpoint rule applies).
    pub fn default_unit(&self, lo: f64, hi: f64, log: bool) -> Option<f64> {
        match *self {
            Prior::Uniform => None,
            Prior::Normal { mu, .. } => {
                let u = if log { (mu.ln() - lo.ln()) / (hi.ln() - lo.ln()) } else { (mu - lo) / (hi - lo) };
                Some(u.clamp(0.0, 1.0))
            }
            Prior::Beta { alpha, beta } => {
                Some(if alpha > 1.0 || beta > 1.0 { (alpha - 1.0) / (alpha + beta - 2.0) } else { 0.5 })
            }
        }
    }

    /// Whether this is the uniform prior.
    pub fn is_uniform(&self) -> bool {
        *self == Prior::Uniform
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn normal_and_beta_concentrate_where_they_should() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = Prior::Normal { mu: 2.0, sigma: 0.5 };
        let xs: Vec<f64> = (0..4000).map(|_| n.sample_unit(&mut rng, 0.0, 10.0, false)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.2).abs() < 0.01, "mean {mean}");
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
        let b = Prior::Beta { alpha: 2.0, beta: 6.0 };
        let xs: Vec<f64> = (0..4000).map(|_| b.sample_unit(&mut rng, 0.0, 1.0, false)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.25).abs() < 0.02, "mean {mean}");
        assert!(Prior::Beta { alpha: 0.5, beta: 2.0 }.validate(false).is_err());
        assert!(Prior::Normal { mu: -1.0, sigma: 1.0 }.validate(true).is_err());
    }
}
