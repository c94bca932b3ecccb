//! Initial designs: the configurations evaluated before any model exists.
//!
//! Sizes follow SMAC3: `n_configs`, or `n_configs_per_hyperparameter × d`, capped at
//! `max_ratio × n_trials` (at least 1), plus additional configurations (and the default one when
//! the scenario asks for it), duplicates removed. Space-filling designs (Sobol, Latin hypercube)
//! are drawn on the unit cube and mapped onto the space; points that land on a forbidden
//! combination are replaced by random valid configurations, so every design respects conditions
//! and forbidden clauses.

use crate::configspace::{ConfigSpace, ConfigSpaceError, Configuration, HpKind};
use crate::scenario::Scenario;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::sync::Arc;

/// Which design generates the initial configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DesignKind {
    /// Owen-scrambled Sobol sequence (SMAC3's HPO and BlackBox default).
    Sobol,
    /// Latin hypercube: one point per stratum in each dimension.
    LatinHypercube,
    /// Uniform random configurations.
    Random,
    /// Only the default configuration.
    Default,
    /// The default, the centre, and every corner (all choices × numeric bounds).
    Factorial,
}

impl DesignKind {
    fn origin(self) -> &'static str {
        match self {
            DesignKind::Sobol => "Initial Design: Sobol",
            DesignKind::LatinHypercube => "Initial Design: Latin Hypercube",
            DesignKind::Random => "Initial Design: Random",
            DesignKind::Default => "Initial Design: Default",
            DesignKind::Factorial => "Initial Design: Factorial",
        }
    }
}

/// Settings of an initial design.
#[derive(Clone, Debug)]
pub struct InitialDesign {
    /// The design.
    pub kind: DesignKind,
    /// Exact number of design configurations (overrides `n_configs_per_hyperparameter`).
    pub n_configs: Option<usize>,
    /// Configurations per hyperparameter (SMAC3 default 10).
    pub n_configs_per_hyperparameter: usize,
    /// At most this fraction of `n_trials` goes to the design (SMAC3 default 0.25).
    pub max_ratio: f64,
    /// Configurations appended to the design.
    pub additional_configs: Vec<Configuration>,
}

impl InitialDesign {
    /// A design of the given kind with SMAC3's default sizing.
    pub fn new(kind: DesignKind) -> Self {
        InitialDesign {
            kind,
            n_configs: None,
            n_configs_per_hyperparameter: 10,
            max_ratio: 0.25,
            additional_configs: Vec::new(),
        }
    }

    /// Sets the exact number of design configurations.
    pub fn n_configs(mut self, n: usize) -> Self {
        self.n_configs = Some(n);
        self
    }

    /// Sets the number of configurations per hyperparameter.
    pub fn n_configs_per_hyperparameter(mut self, n: usize) -> Self {
        self.n_configs_per_hyperparameter = n;
        self
    }

    /// Sets the cap as a fraction of `n_trials`.
    pub fn max_ratio(mut self, r: f64) -> Self {
        self.max_ratio = r;
        self
    }

    /// Appends configurations to the design.
    pub fn additional_configs(mut self, configs: impl IntoIterator<Item = Configuration>) -> Self {
        self.additional_configs.extend(configs);
        self
    }

    /// How many design points (before additional configurations) a scenario gets.
    pub fn size_for(&self, scenario: &Scenario) -> usize {
        let n = self.n_configs.unwrap_or(self.n_configs_per_hyperparameter * scenario.configspace.len());
        if self.n_configs == Some(0) {
            return 0;
        }
        if n > 1 {
            (n as f64).min(self.max_ratio * scenario.n_trials as f64).max(1.0) as usize
        } else {
            n
        }
    }

    /// Generates the design for a scenario, deterministically from `seed`.
    pub fn generate(&self, scenario: &Scenario, seed: u64) -> Result<Vec<Configuration>, ConfigSpaceError> {
        let space = &scenario.configspace;
        let n = self.size_for(scenario);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut configs = match (n, self.kind) {
            (0, _) => Vec::new(),
            (_, DesignKind::Sobol) => {
                from_unit_points(space, sobol_points(space.len(), n, rng.random()), &mut rng)?
            }
            (_, DesignKind::LatinHypercube) => {
                from_unit_points(space, lhs_points(space.len(), n, &mut rng), &mut rng)?
            }
            (_, DesignKind::Random) => space.sample(n, &mut rng)?,
            (_, DesignKind::Default) => vec![space.default_configuration()],
            (_, DesignKind::Factorial) => factorial(space),
        };
        for c in &mut configs {
            c.set_origin(self.kind.origin());
        }
        configs.extend(self.additional_configs.iter().cloned());
        if scenario.use_default_config {
            configs.push(space.default_configuration().with_origin("Initial Design: Default configuration"));
        }
        let mut seen = HashSet::new();
        configs.retain(|c| seen.insert(c.clone()));
        Ok(configs)
    }
}

/// Maps unit-cube points to valid configurations; forbidden points are replaced by samples.
fn from_unit_points<R: Rng>(
    space: &Arc<ConfigSpace>,
    points: Vec<Vec<f64>>,
    rng: &mut R,
) -> Result<Vec<Configuration>, ConfigSpaceError> {
    points
        .into_iter()
        .map(|p| match space.vector_from_unit_point(&p) {
            Some(v) => Configuration::from_vector(space, v),
            None => Ok(space.sample(1, rng)?.remove(0)),
        })
        .collect()
}

/// `n` points of an Owen-scrambled Sobol sequence in `d` dimensions (sobol_burley: seeded,
/// scrambled, up to 256 dimensions; beyond that the extra dimensions are drawn at random).
fn sobol_points(d: usize, n: usize, seed: u32) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
    (0..n as u32)
        .map(|i| {
            (0..d)
                .map(|j| {
                    if j < sobol_burley::NUM_DIMENSIONS as usize {
                        sobol_burley::sample(i, j as u32, seed) as f64
                    } else {
                        rng.random()
                    }
                })
                .collect()
        })
        .collect()
}

/// `n` Latin-hypercube points in `d` dimensions: each axis is cut into `n` strata, each stratum
/// used once, with a uniform offset inside it.
fn lhs_points<R: Rng>(d: usize, n: usize, rng: &mut R) -> Vec<Vec<f64>> {
    let columns: Vec<Vec<f64>> = (0..d)
        .map(|_| {
            let mut strata: Vec<usize> = (0..n).collect();
            strata.shuffle(rng);
            strata.into_iter().map(|s| (s as f64 + rng.random::<f64>()) / n as f64).collect()
        })
        .collect();
    (0..n).map(|i| columns.iter().map(|c| c[i]).collect()).collect()
}

/// SMAC3's factorial design: the default, the centre, and all corners (every categorical choice,
/// numeric bounds, ordinal ends), children deactivated where their conditions fail.
fn factorial(space: &Arc<ConfigSpace>) -> Vec<Configuration> {
    let levels: Vec<Vec<f64>> = space
        .hyperparameters()
        .iter()
        .map(|hp| match &hp.kind {
            HpKind::Float(_) | HpKind::Integer(_) | HpKind::Ordinal(_) => vec![0.0, 1.0],
            HpKind::Categorical(c) => {
                (0..c.choices.len()).map(|k| (k as f64 + 0.5) / c.choices.len() as f64).collect()
            }
            HpKind::Constant(_) => vec![0.0],
        })
        .collect();
    let centre: Vec<f64> = space
        .hyperparameters()
        .iter()
        .map(|hp| if let HpKind::Categorical(c) = &hp.kind { 0.5 / c.choices.len() as f64 } else { 0.5 })
        .collect();
    let mut out = vec![space.default_configuration()];
    let mut push = |p: &[f64]| {
        if let Some(v) = space.vector_from_unit_point(p) {
            out.push(Configuration::from_vector(space, v).expect("mapped points are valid"));
        }
    };
    push(&centre);
    let mut idx = vec![0usize; levels.len()];
    loop {
        let p: Vec<f64> = idx.iter().zip(&levels).map(|(i, l)| l[*i]).collect();
        push(&p);
        // Odometer increment over the level indices.
        let mut k = 0;
        while k < idx.len() {
            idx[k] += 1;
            if idx[k] < levels[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
        if k == idx.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::{Condition, Forbidden, Hyperparameter};

    fn scenario(n_trials: usize) -> Scenario {
        let mut cs = ConfigSpace::new("d");
        cs.add_all([
            Hyperparameter::float("x", 0.0, 1.0),
            Hyperparameter::integer("k", 1, 8),
            Hyperparameter::categorical("c", ["a", "b", "z"]),
            Hyperparameter::float("y", 0.0, 1.0),
        ])
        .unwrap();
        cs.add_condition(Condition::equals("y", "c", "b")).unwrap();
        cs.add_forbidden(Forbidden::and([Forbidden::equals("c", "z"), Forbidden::equals("k", 8)])).unwrap();
        Scenario::builder(cs).n_trials(n_trials).build().unwrap()
    }

    #[test]
    fn sizes_follow_smac3_rules() {
        let s = scenario(100);
        assert_eq!(InitialDesign::new(DesignKind::Sobol).size_for(&s), 25, "capped at 25% of 100");
        assert_eq!(
            InitialDesign::new(DesignKind::Sobol).size_for(&scenario(1000)),
            40,
            "10 per hyperparameter"
        );
        assert_eq!(InitialDesign::new(DesignKind::Sobol).n_configs(7).size_for(&scenario(1000)), 7);
        assert_eq!(InitialDesign::new(DesignKind::Sobol).size_for(&scenario(2)), 1, "at least one");
    }

    #[test]
    fn designs_are_valid_distinct_and_seeded() {
        let s = scenario(1000);
        for kind in [DesignKind::Sobol, DesignKind::LatinHypercube, DesignKind::Random, DesignKind::Factorial]
        {
            let d = InitialDesign::new(kind).generate(&s, 1).unwrap();
            assert!(!d.is_empty());
            let unique: HashSet<_> = d.iter().collect();
            assert_eq!(unique.len(), d.len(), "{kind:?} has duplicates");
            for c in &d {
                s.configspace.check_vector(c.vector()).unwrap();
                assert_eq!(c.is_active("y"), c.get_str("c") == Some("b"));
            }
            assert_eq!(d, InitialDesign::new(kind).generate(&s, 1).unwrap(), "{kind:?} not reproducible");
        }
        let a = InitialDesign::new(DesignKind::Sobol).generate(&s, 1).unwrap();
        let b = InitialDesign::new(DesignKind::Sobol).generate(&s, 2).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn latin_hypercube_hits_every_stratum() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let pts = lhs_points(3, 20, &mut rng);
        for j in 0..3 {
            let mut strata: Vec<usize> = pts.iter().map(|p| (p[j] * 20.0) as usize).collect();
            strata.sort();
            assert_eq!(strata, (0..20).collect::<Vec<_>>());
        }
    }

    #[test]
    fn factorial_has_all_corners_and_default_and_extra_configs_are_appended() {
        let s = scenario(1000);
        let d = InitialDesign::new(DesignKind::Factorial).generate(&s, 0).unwrap();
        // x,k ∈ {lo,hi}, c ∈ 3 choices, y ∈ {lo,hi} only when active: 2·2·(1 + 2 + 1) = 16 corners,
        // minus (c=z, k=8) forbidden: 2 corners; plus default and centre (which may coincide).
        let corners = d.iter().filter(|c| c.get_f64("x").is_some_and(|x| x == 0.0 || x == 1.0)).count();
        assert_eq!(corners, 14);
        assert_eq!(d[0], s.configspace.default_configuration());
        let extra = s.configspace.default_configuration();
        let with_extra =
            InitialDesign::new(DesignKind::Random).n_configs(3).additional_configs([extra.clone()]);
        let d = with_extra.generate(&s, 0).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d[3], extra);
    }
}
