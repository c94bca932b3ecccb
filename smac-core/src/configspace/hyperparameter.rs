//! Hyperparameter kinds and their encoding into the unit interval.
//!
//! Every hyperparameter maps its values to one `f64` of the configuration vector, as ConfigSpace
//! does: floats and integers to [0, 1] (in log space when `log`), ordinals to their position
//! scaled to [0, 1], categoricals to the choice index (0..n), constants to 0. Integers own the
//! interval `[v - 0.5, v + 0.5]` of the (log-)scaled axis, so a uniform draw on the vector gives each
//! integer its fair share and encoding an integer lands on the centre of its interval.

use super::prior::Prior;
use super::value::Value;
use super::ConfigSpaceError;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// A float hyperparameter on `[lower, upper]` (or on its logarithm), uniform or with a prior.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatHp {
    /// Lower bound (inclusive).
    pub lower: f64,
    /// Upper bound (inclusive).
    pub upper: f64,
    /// Sample on a log scale (requires `lower > 0`).
    pub log: bool,
    /// Default value; `None` means the (geometric) midpoint, or the prior's centre.
    pub default: Option<f64>,
    /// How values are drawn (ConfigSpace's uniform, normal or beta float).
    #[serde(default)]
    pub prior: Prior,
}

/// An integer hyperparameter on `lower..=upper` (or on its logarithm), uniform or with a prior.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegerHp {
    /// Lower bound (inclusive).
    pub lower: i64,
    /// Upper bound (inclusive).
    pub upper: i64,
    /// Sample on a log scale (requires `lower > 0`).
    pub log: bool,
    /// Default value; `None` means the rounded (geometric) midpoint, or the prior's centre.
    pub default: Option<i64>,
    /// How values are drawn (ConfigSpace's uniform, normal or beta integer).
    #[serde(default)]
    pub prior: Prior,
}

/// An unordered choice among values (strings, integers, floats or booleans).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoricalHp {
    /// The choices, in order; the vector encoding is the index.
    pub choices: Vec<Value>,
    /// Default choice; `None` means the most probable (first on ties).
    pub default: Option<Value>,
    /// Optional sampling weights, one per choice.
    pub weights: Option<Vec<f64>>,
}

/// An ordered choice: neighbours are the adjacent elements of the sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrdinalHp {
    /// The ordered values.
    pub sequence: Vec<Value>,
    /// Default value; `None` means the first element.
    pub default: Option<Value>,
}

/// The kind-specific part of a hyperparameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HpKind {
    /// See [`FloatHp`].
    Float(FloatHp),
    /// See [`IntegerHp`].
    Integer(IntegerHp),
    /// See [`CategoricalHp`].
    Categorical(CategoricalHp),
    /// See [`OrdinalHp`].
    Ordinal(OrdinalHp),
    /// A fixed value.
    Constant(Value),
}

/// A named hyperparameter of a [`super::ConfigSpace`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameter {
    /// Unique name within the space.
    pub name: String,
    /// Kind, bounds and default.
    pub kind: HpKind,
    /// Free-form metadata carried through JSON (ConfigSpace's `meta`).
    #[serde(default)]
    pub meta: Option<String>,
}

/// How the surrogate should treat a vector column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Ordered values in [0, 1].
    Continuous,
    /// An index among `n` unordered choices.
    Categorical(usize),
}

/// Standard deviation (in vector space) of the Gaussian steps used for numeric neighbours,
/// ConfigSpace's default.
pub const NEIGHBOUR_STDEV: f64 = 0.2;

impl Hyperparameter {
    /// A float hyperparameter on `[lower, upper]`.
    pub fn float(name: impl Into<String>, lower: f64, upper: f64) -> Self {
        Self::with_kind(
            name,
            HpKind::Float(FloatHp { lower, upper, log: false, default: None, prior: Prior::Uniform }),
        )
    }

    /// An integer hyperparameter on `lower..=upper`.
    pub fn integer(name: impl Into<String>, lower: i64, upper: i64) -> Self {
        Self::with_kind(
            name,
            HpKind::Integer(IntegerHp { lower, upper, log: false, default: None, prior: Prior::Uniform }),
        )
    }

    /// A categorical hyperparameter over `choices`.
    pub fn categorical<V: Into<Value>>(
        name: impl Into<String>,
        choices: impl IntoIterator<Item = V>,
    ) -> Self {
        let choices = choices.into_iter().map(Into::into).collect();
        Self::with_kind(name, HpKind::Categorical(CategoricalHp { choices, default: None, weights: None }))
    }

    /// An ordinal hyperparameter over the ordered `sequence`.
    pub fn ordinal<V: Into<Value>>(name: impl Into<String>, sequence: impl IntoIterator<Item = V>) -> Self {
        let sequence = sequence.into_iter().map(Into::into).collect();
        Self::with_kind(name, HpKind::Ordinal(OrdinalHp { sequence, default: None }))
    }

    /// A constant hyperparameter.
    pub fn constant(name: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::with_kind(name, HpKind::Constant(value.into()))
    }

    fn with_kind(name: impl Into<String>, kind: HpKind) -> Self {
        Hyperparameter { name: name.into(), kind, meta: None }
    }

    /// Samples on a log scale (floats and integers only; checked when added to a space).
    pub fn log(mut self) -> Self {
        match &mut self.kind {
            HpKind::Float(f) => f.log = true,
            HpKind::Integer(i) => i.log = true,
            _ => {}
        }
        self
    }

    /// Sets the default value (checked when added to a space).
    pub fn default_value(mut self, v: impl Into<Value>) -> Self {
        let v = v.into();
        match &mut self.kind {
            HpKind::Float(f) => f.default = v.as_f64().or(Some(f64::NAN)),
            HpKind::Integer(i) => i.default = v.as_i64().or(Some(i64::MIN)),
            HpKind::Categorical(c) => c.default = Some(v),
            HpKind::Ordinal(o) => o.default = Some(v),
            HpKind::Constant(c) => *c = v,
        }
        self
    }

    /// Sets sampling weights of a categorical (checked when added to a space).
    /// Gives a float or integer a prior (ConfigSpace's `NormalFloat`/`BetaInteger`/…).
    pub fn prior(mut self, prior: Prior) -> Self {
        match &mut self.kind {
            HpKind::Float(f) => f.prior = prior,
            HpKind::Integer(i) => i.prior = prior,
            _ => {}
        }
        self
    }

    /// Sets the sampling weights of a categorical.
    pub fn weights(mut self, w: impl IntoIterator<Item = f64>) -> Self {
        if let HpKind::Categorical(c) = &mut self.kind {
            c.weights = Some(w.into_iter().collect());
        }
        self
    }

    /// Whether two hyperparameters define the same thing, an unset default being equal to the
    /// explicit default it stands for.
    pub fn same_definition(&self, other: &Hyperparameter) -> bool {
        let explicit = |h: &Hyperparameter| {
            let mut h = h.clone();
            let d = h.default();
            match &mut h.kind {
                HpKind::Float(f) => f.default = d.as_f64(),
                HpKind::Integer(i) => i.default = d.as_i64(),
                HpKind::Categorical(c) => c.default = Some(d),
                HpKind::Ordinal(o) => o.default = Some(d),
                HpKind::Constant(_) => {}
            }
            h
        };
        self.name == other.name && explicit(self) == explicit(other)
    }

    /// Checks bounds, defaults, choices and weights.
    pub fn validate(&self) -> Result<(), ConfigSpaceError> {
        let bad =
            |reason: String| ConfigSpaceError::InvalidHyperparameter { name: self.name.clone(), reason };
        if self.name.is_empty() {
            return Err(bad("the name is empty".into()));
        }
        match &self.kind {
            HpKind::Float(f) => {
                if !(f.lower.is_finite() && f.upper.is_finite()) {
                    return Err(bad(format!("bounds [{}, {}] must be finite", f.lower, f.upper)));
                }
                if f.lower >= f.upper {
                    return Err(bad(format!("lower {} must be < upper {}", f.lower, f.upper)));
                }
                if f.log && f.lower <= 0.0 {
                    return Err(bad(format!("log scale needs lower > 0, got {}", f.lower)));
                }
                f.prior.validate(f.log).map_err(bad)?;
                if let Some(d) = f.default {
                    if !(d >= f.lower && d <= f.upper) {
                        return Err(bad(format!("default {d} is outside [{}, {}]", f.lower, f.upper)));
                    }
                }
            }
            HpKind::Integer(i) => {
                if i.lower >= i.upper {
                    return Err(bad(format!("lower {} must be < upper {}", i.lower, i.upper)));
                }
                if i.log && i.lower <= 0 {
                    return Err(bad(format!("log scale needs lower > 0, got {}", i.lower)));
                }
                i.prior.validate(i.log).map_err(bad)?;
                if let Some(d) = i.default {
                    if d < i.lower || d > i.upper {
                        return Err(bad(format!("default {d} is outside [{}, {}]", i.lower, i.upper)));
                    }
                }
            }
            HpKind::Categorical(c) => {
                check_choices(&c.choices).map_err(bad)?;
                if let Some(d) = &c.default {
                    if index_of(&c.choices, d).is_none() {
                        return Err(bad(format!("default {d} is not one of the choices")));
                    }
                }
                if let Some(w) = &c.weights {
                    if w.len() != c.choices.len() {
                        return Err(bad(format!("{} weights for {} choices", w.len(), c.choices.len())));
                    }
                    if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                        return Err(bad("weights must be finite, >= 0 and not all 0".into()));
                    }
                }
            }
            HpKind::Ordinal(o) => {
                check_choices(&o.sequence).map_err(bad)?;
                if let Some(d) = &o.default {
                    if index_of(&o.sequence, d).is_none() {
                        return Err(bad(format!("default {d} is not in the sequence")));
                    }
                }
            }
            HpKind::Constant(v) => {
                if let Value::Float(x) = v {
                    if !x.is_finite() {
                        return Err(bad(format!("constant {x} must be finite")));
                    }
                }
            }
        }
        Ok(())
    }

    /// The default value (explicit, or ConfigSpace's rule when unset).
    pub fn default(&self) -> Value {
        match &self.kind {
            HpKind::Float(f) => Value::Float(f.default.unwrap_or_else(|| {
                if let Some(u) = f.prior.default_unit(f.lower, f.upper, f.log) {
                    return crate::json_compat::round_places(from_unit(u, f.lower, f.upper, f.log));
                }
                if f.log {
                    (0.5 * (f.lower.ln() + f.upper.ln())).exp()
                } else {
                    0.5 * (f.lower + f.upper)
                }
            })),
            HpKind::Integer(i) => Value::Int(i.default.unwrap_or_else(|| {
                let (lo, hi) = (i.lower as f64, i.upper as f64);
                let mid = if let Some(u) = i.prior.default_unit(lo, hi, i.log) {
                    from_unit(u, lo, hi, i.log)
                } else if i.log {
                    (0.5 * ((i.lower as f64).ln() + (i.upper as f64).ln())).exp()
                } else {
                    0.5 * (i.lower + i.upper) as f64
                };
                // Python rounds half to even; match it so defaults agree with ConfigSpace.
                (mid.round_ties_even() as i64).clamp(i.lower, i.upper)
            })),
            HpKind::Categorical(c) => c.default.clone().unwrap_or_else(|| {
                let best = c
                    .weights
                    .as_ref()
                    .map(|w| {
                        w.iter()
                            .enumerate()
                            .fold((0, f64::MIN), |acc, (i, x)| if *x > acc.1 { (i, *x) } else { acc })
                            .0
                    })
                    .unwrap_or(0);
                c.choices[best].clone()
            }),
            HpKind::Ordinal(o) => o.default.clone().unwrap_or_else(|| o.sequence[0].clone()),
            HpKind::Constant(v) => v.clone(),
        }
    }

    /// How a surrogate should treat this hyperparameter's vector column.
    pub fn column_type(&self) -> ColumnType {
        match &self.kind {
            HpKind::Categorical(c) => ColumnType::Categorical(c.choices.len()),
            _ => ColumnType::Continuous,
        }
    }

    /// Whether the vector column is an ordered numeric axis where "less than" makes sense.
    pub fn is_ordered(&self) -> bool {
        matches!(self.kind, HpKind::Float(_) | HpKind::Integer(_) | HpKind::Ordinal(_))
    }

    /// Encodes a legal value; an error names the hyperparameter when the value is illegal.
    pub fn to_vector(&self, v: &Value) -> Result<f64, ConfigSpaceError> {
        let illegal = || ConfigSpaceError::IllegalValue { name: self.name.clone(), value: v.to_string() };
        match &self.kind {
            HpKind::Float(f) => {
                let x = v.as_f64().filter(|x| *x >= f.lower && *x <= f.upper).ok_or_else(illegal)?;
                Ok(unit(x, f.lower, f.upper, f.log).clamp(0.0, 1.0))
            }
            HpKind::Integer(i) => {
                let x = v.as_i64().filter(|x| *x >= i.lower && *x <= i.upper).ok_or_else(illegal)?;
                let (lo, hi) = int_span(i);
                Ok(unit(x as f64, lo, hi, i.log))
            }
            HpKind::Categorical(c) => index_of(&c.choices, v).map(|k| k as f64).ok_or_else(illegal),
            HpKind::Ordinal(o) => {
                let k = index_of(&o.sequence, v).ok_or_else(illegal)?;
                Ok(ordinal_unit(k, o.sequence.len()))
            }
            HpKind::Constant(c) => {
                if c.loosely_equals(v) {
                    Ok(0.0)
                } else {
                    Err(illegal())
                }
            }
        }
    }

    /// Decodes a vector entry (clamped into range) back to a value.
    pub fn from_vector(&self, x: f64) -> Value {
        match &self.kind {
            HpKind::Float(f) => {
                let v = from_unit(x.clamp(0.0, 1.0), f.lower, f.upper, f.log);
                // ConfigSpace rounds every decoded float to 13 places; so do we.
                Value::Float(crate::json_compat::round_places(v).clamp(f.lower, f.upper))
            }
            HpKind::Integer(i) => {
                let (lo, hi) = int_span(i);
                let v = from_unit(x.clamp(0.0, 1.0), lo, hi, i.log).round() as i64;
                Value::Int(v.clamp(i.lower, i.upper))
            }
            HpKind::Categorical(c) => c.choices[(x.max(0.0) as usize).min(c.choices.len() - 1)].clone(),
            HpKind::Ordinal(o) => o.sequence[ordinal_index(x, o.sequence.len())].clone(),
            HpKind::Constant(v) => v.clone(),
        }
    }

    /// Maps any vector entry onto the canonical encoding of the value it decodes to.
    pub fn canonical_vector(&self, x: f64) -> f64 {
        match &self.kind {
            HpKind::Float(_) => x.clamp(0.0, 1.0),
            _ => self.to_vector(&self.from_vector(x)).expect("decoded values are legal"),
        }
    }

    /// Draws a vector entry from the hyperparameter's prior (uniform, normal, beta, or weighted
    /// categorical).
    pub fn sample_vector<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.kind {
            HpKind::Float(f) => f.prior.sample_unit(rng, f.lower, f.upper, f.log),
            HpKind::Integer(i) => {
                let (lo, hi) = int_span(i);
                self.canonical_vector(i.prior.sample_unit(rng, lo, hi, i.log))
            }
            HpKind::Categorical(c) => match &c.weights {
                Some(w) => {
                    let total: f64 = w.iter().sum();
                    let mut t = rng.random::<f64>() * total;
                    for (k, wk) in w.iter().enumerate() {
                        if t < *wk {
                            return k as f64;
                        }
                        t -= wk;
                    }
                    // Rounding can leave t just above the last weight: take the last non-zero one.
                    w.iter().rposition(|x| *x > 0.0).unwrap_or(0) as f64
                }
                None => rng.random_range(0..c.choices.len()) as f64,
            },
            HpKind::Ordinal(o) => ordinal_unit(rng.random_range(0..o.sequence.len()), o.sequence.len()),
            HpKind::Constant(_) => 0.0,
        }
    }

    /// Neighbouring vector entries of `x` for the one-exchange neighbourhood: every other choice
    /// of a categorical, the adjacent elements of an ordinal, `n_numeric` Gaussian steps of width
    /// `stdev` on the unit axis (distinct after decoding) of a float or integer. An integer whose
    /// steps all round back to itself gets its adjacent values instead, so it never freezes.
    pub fn neighbours_vector<R: Rng + ?Sized>(
        &self,
        x: f64,
        n_numeric: usize,
        stdev: f64,
        rng: &mut R,
    ) -> Vec<f64> {
        match &self.kind {
            HpKind::Float(_) | HpKind::Integer(_) => {
                let normal = Normal::new(x, stdev.max(1e-12)).expect("valid stdev");
                let mut out: Vec<f64> = Vec::with_capacity(n_numeric);
                let own = self.canonical_vector(x);
                // Integers with few values run out of distinct neighbours: bound the attempts.
                for _ in 0..n_numeric * 10 {
                    if out.len() == n_numeric {
                        break;
                    }
                    let y = normal.sample(rng);
                    if !(0.0..=1.0).contains(&y) {
                        continue;
                    }
                    let y = self.canonical_vector(y);
                    if y != own && !out.contains(&y) {
                        out.push(y);
                    }
                }
                if out.is_empty() {
                    if let (HpKind::Integer(i), Some(v)) = (&self.kind, self.from_vector(x).as_i64()) {
                        out.extend(
                            [v - 1, v + 1]
                                .into_iter()
                                .filter(|w| *w >= i.lower && *w <= i.upper)
                                .map(|w| self.to_vector(&Value::Int(w)).expect("in range")),
                        );
                    }
                }
                out
            }
            HpKind::Categorical(c) => {
                (0..c.choices.len()).filter(|k| *k as f64 != x).map(|k| k as f64).collect()
            }
            HpKind::Ordinal(o) => {
                let n = o.sequence.len();
                let k = ordinal_index(x, n);
                [k.checked_sub(1), Some(k + 1).filter(|j| *j < n)]
                    .into_iter()
                    .flatten()
                    .map(|j| ordinal_unit(j, n))
                    .collect()
            }
            HpKind::Constant(_) => Vec::new(),
        }
    }

    /// The number of distinct values, or `None` for floats.
    pub fn cardinality(&self) -> Option<u64> {
        match &self.kind {
            HpKind::Float(_) => None,
            HpKind::Integer(i) => Some((i.upper - i.lower) as u64 + 1),
            HpKind::Categorical(c) => Some(c.choices.len() as u64),
            HpKind::Ordinal(o) => Some(o.sequence.len() as u64),
            HpKind::Constant(_) => Some(1),
        }
    }
}

fn check_choices(choices: &[Value]) -> Result<(), String> {
    /// What `Value::loosely_equals` compares: numbers by value (1 == 1.0), the rest exactly.
    #[derive(PartialEq, Eq, Hash)]
    enum Key<'a> {
        Num(u64),
        Bool(bool),
        Str(&'a str),
    }
    if choices.is_empty() {
        return Err("needs at least one choice".into());
    }
    // A set, not pairwise comparisons: spaces with tens of thousands of choices load in
    // linear time.
    let mut seen = std::collections::HashSet::with_capacity(choices.len());
    for a in choices {
        let key = match a {
            Value::Float(x) if !x.is_finite() => return Err(format!("choice {x} must be finite")),
            Value::Float(_) | Value::Int(_) => {
                let x = a.as_f64().unwrap_or(f64::NAN);
                Key::Num(if x == 0.0 { 0 } else { x.to_bits() })
            }
            Value::Bool(b) => Key::Bool(*b),
            Value::Str(s) => Key::Str(s),
        };
        if !seen.insert(key) {
            return Err(format!("choice {a} appears twice"));
        }
    }
    Ok(())
}

/// Position of `v` among `choices`, comparing numbers loosely.
pub(crate) fn index_of(choices: &[Value], v: &Value) -> Option<usize> {
    choices.iter().position(|c| c.loosely_equals(v))
}

fn int_span(i: &IntegerHp) -> (f64, f64) {
    (i.lower as f64 - 0.5, i.upper as f64 + 0.5)
}

fn unit(x: f64, lo: f64, hi: f64, log: bool) -> f64 {
    if log {
        (x.ln() - lo.ln()) / (hi.ln() - lo.ln())
    } else {
        (x - lo) / (hi - lo)
    }
}

fn from_unit(u: f64, lo: f64, hi: f64, log: bool) -> f64 {
    if log {
        (lo.ln() + u * (hi.ln() - lo.ln())).exp()
    } else {
        lo + u * (hi - lo)
    }
}

fn ordinal_unit(k: usize, n: usize) -> f64 {
    if n <= 1 {
        0.0
    } else {
        k as f64 / (n - 1) as f64
    }
}

fn ordinal_index(x: f64, n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        ((x.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize).min(n - 1)
    }
}

#[cfg(test)]
#[path = "hyperparameter_tests.rs"]
mod tests;
