//! The configuration space: hyperparameters, conditions and forbidden clauses.
//!
//! Construct a space with [`ConfigSpace::new`] and the `add*` methods (each validates and names the
//! item at fault), or read ConfigSpace JSON. A space is shared as `Arc<ConfigSpace>` by every
//! [`Configuration`] drawn from it. Conditions and forbiddens are compiled into index-based
//! predicates on the configuration vector once, when added.

mod condition;
mod configuration;
mod error;
mod forbidden;
mod hyperparameter;
pub mod json;
pub mod neighbourhood;
mod prior;
mod value;

pub use condition::Condition;
pub use configuration::Configuration;
pub use error::ConfigSpaceError;
pub use forbidden::{Forbidden, Relation};
pub use hyperparameter::{CategoricalHp, ColumnType, FloatHp, HpKind, Hyperparameter, IntegerHp, OrdinalHp};
pub use neighbourhood::NUMERIC_NEIGHBOURS;
pub use prior::Prior;
pub use value::Value;

use condition::{Compiled, Op};
use forbidden::CompiledForbidden;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Attempts per requested sample before rejection sampling gives up.
const MAX_REJECTIONS: usize = 10_000;

/// A space of hyperparameters with conditions and forbidden clauses.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "SpaceDef", into = "SpaceDef")]
pub struct ConfigSpace {
    name: Option<String>,
    hyperparameters: Vec<Hyperparameter>,
    conditions: Vec<Condition>,
    forbiddens: Vec<Forbidden>,
    index: HashMap<String, usize>,
    /// Per hyperparameter, the compiled condition that activates it (None: always active).
    compiled_conditions: Vec<Option<Compiled>>,
    compiled_forbiddens: Vec<CompiledForbidden>,
    /// Hyperparameter indices with every parent before its children.
    order: Vec<usize>,
    /// Per hyperparameter, whether some condition reads it (changing it can (de)activate others).
    has_children: Vec<bool>,
}

/// The serializable definition of a space (what is written; the rest is derived).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SpaceDef {
    name: Option<String>,
    hyperparameters: Vec<Hyperparameter>,
    conditions: Vec<Condition>,
    forbiddens: Vec<Forbidden>,
}

impl TryFrom<SpaceDef> for ConfigSpace {
    type Error = ConfigSpaceError;
    fn try_from(d: SpaceDef) -> Result<Self, Self::Error> {
        ConfigSpace::from_parts(d.name, d.hyperparameters, d.conditions, d.forbiddens)
    }
}

impl From<ConfigSpace> for SpaceDef {
    fn from(s: ConfigSpace) -> Self {
        SpaceDef {
            name: s.name,
            hyperparameters: s.hyperparameters,
            conditions: s.conditions,
            forbiddens: s.forbiddens,
        }
    }
}

impl PartialEq for ConfigSpace {
    /// Spaces are equal when they define the same thing: an unset default equals the explicit
    /// default it stands for (ConfigSpace JSON always writes defaults out).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.conditions == other.conditions
            && self.forbiddens == other.forbiddens
            && self.hyperparameters.len() == other.hyperparameters.len()
            && self.hyperparameters.iter().zip(&other.hyperparameters).all(|(a, b)| a.same_definition(b))
    }
}

impl ConfigSpace {
    /// An empty space with a name.
    pub fn new(name: impl Into<String>) -> Self {
        ConfigSpace { name: Some(name.into()), ..Default::default() }
    }

    /// Builds and validates a space from its parts.
    pub fn from_parts(
        name: Option<String>,
        hyperparameters: Vec<Hyperparameter>,
        conditions: Vec<Condition>,
        forbiddens: Vec<Forbidden>,
    ) -> Result<Self, ConfigSpaceError> {
        let mut cs = ConfigSpace { name, ..Default::default() };
        for hp in hyperparameters {
            cs.add(hp)?;
        }
        for c in conditions {
            cs.add_condition(c)?;
        }
        for f in forbiddens {
            cs.add_forbidden(f)?;
        }
        Ok(cs)
    }

    /// Adds a hyperparameter after validating it.
    pub fn add(&mut self, hp: Hyperparameter) -> Result<&mut Self, ConfigSpaceError> {
        hp.validate()?;
        if self.index.contains_key(&hp.name) {
            return Err(ConfigSpaceError::DuplicateHyperparameter { name: hp.name });
        }
        self.index.insert(hp.name.clone(), self.hyperparameters.len());
        self.order.push(self.hyperparameters.len());
        self.has_children.push(false);
        self.hyperparameters.push(hp);
        self.compiled_conditions.push(None);
        Ok(self)
    }

    /// Adds several hyperparameters.
    pub fn add_all(
        &mut self,
        hps: impl IntoIterator<Item = Hyperparameter>,
    ) -> Result<&mut Self, ConfigSpaceError> {
        for hp in hps {
            self.add(hp)?;
        }
        Ok(self)
    }

    /// Adds the condition that activates a child (one per child; combine with And/Or).
    pub fn add_condition(&mut self, c: Condition) -> Result<&mut Self, ConfigSpaceError> {
        let children = c.children();
        let child = match children.as_slice() {
            [one] => one.to_string(),
            [] => {
                return Err(ConfigSpaceError::InvalidCondition {
                    child: String::new(),
                    reason: "an empty conjunction".into(),
                })
            }
            many => {
                return Err(ConfigSpaceError::InvalidCondition {
                    child: many[0].to_string(),
                    reason: format!("a conjunction must name one child, found {many:?}"),
                })
            }
        };
        let child_idx = self.lookup(&child, "a condition")?;
        if self.compiled_conditions[child_idx].is_some() {
            return Err(ConfigSpaceError::DuplicateCondition { child });
        }
        let compiled = self.compile_condition(&c, &child)?;
        self.compiled_conditions[child_idx] = Some(compiled);
        self.conditions.push(c);
        if let Err(e) = self.sort_topologically() {
            self.compiled_conditions[child_idx] = None;
            self.conditions.pop();
            return Err(e);
        }
        Ok(self)
    }

    /// Adds a forbidden clause; a clause that forbids the default configuration is an error.
    pub fn add_forbidden(&mut self, f: Forbidden) -> Result<&mut Self, ConfigSpaceError> {
        let compiled = self.compile_forbidden(&f)?;
        let default = self.default_vector();
        if compiled.forbids(&default, &|i, x| self.hyperparameters[i].from_vector(x)) {
            return Err(ConfigSpaceError::ForbiddenDefault { clause: describe_forbidden(&f) });
        }
        self.compiled_forbiddens.push(compiled);
        self.forbiddens.push(f);
        Ok(self)
    }

    /// The space's name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The hyperparameters in insertion order (the order of the configuration vector).
    pub fn hyperparameters(&self) -> &[Hyperparameter] {
        &self.hyperparameters
    }

    /// The conditions as added.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The forbidden clauses as added.
    pub fn forbiddens(&self) -> &[Forbidden] {
        &self.forbiddens
    }

    /// Number of hyperparameters (the vector's length).
    pub fn len(&self) -> usize {
        self.hyperparameters.len()
    }

    /// Whether the space has no hyperparameters.
    pub fn is_empty(&self) -> bool {
        self.hyperparameters.is_empty()
    }

    /// Index of a hyperparameter by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A hyperparameter by name.
    pub fn get(&self, name: &str) -> Option<&Hyperparameter> {
        self.index_of(name).map(|i| &self.hyperparameters[i])
    }

    /// How a surrogate should treat each vector column.
    pub fn column_types(&self) -> Vec<ColumnType> {
        self.hyperparameters.iter().map(|h| h.column_type()).collect()
    }

    /// Whether some condition reads hyperparameter `i`.
    pub(crate) fn has_children(&self, i: usize) -> bool {
        self.has_children[i]
    }

    /// Whether hyperparameter `i` has a condition.
    pub fn is_conditional(&self, i: usize) -> bool {
        self.compiled_conditions[i].is_some()
    }

    /// The default configuration: every default, children of unmet conditions inactive.
    pub fn default_configuration(self: &Arc<Self>) -> Configuration {
        // Built from the default values themselves so that floats are exactly the given defaults
        // rather than their round trip through the unit interval.
        let vector = self.default_vector();
        let values = vector
            .iter()
            .zip(&self.hyperparameters)
            .map(|(x, hp)| (!x.is_nan()).then(|| hp.default()))
            .collect();
        Configuration::from_parts(self, vector, values).with_origin("Default")
    }

    /// Samples `n` valid configurations (conditions met, no forbidden clause violated).
    pub fn sample<R: Rng + ?Sized>(
        self: &Arc<Self>,
        n: usize,
        rng: &mut R,
    ) -> Result<Vec<Configuration>, ConfigSpaceError> {
        (0..n)
            .map(|_| self.sample_vector(rng).map(|v| Configuration::from_canonical_vector(self, v)))
            .collect()
    }

    /// Samples one valid configuration vector (NaN for inactive hyperparameters).
    pub fn sample_vector<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Vec<f64>, ConfigSpaceError> {
        let mut v = vec![f64::NAN; self.len()];
        for _ in 0..MAX_REJECTIONS {
            v.fill(f64::NAN);
            self.activate(&mut v, |hp| hp.sample_vector(rng));
            if self.violated_forbidden(&v).is_none() {
                return Ok(v);
            }
        }
        Err(ConfigSpaceError::SamplingFailed { attempts: MAX_REJECTIONS })
    }

    /// Maps an arbitrary point of the unit cube (one entry per hyperparameter, as initial designs
    /// produce) onto a canonical vector: categoricals and integers snapped, inactive entries NaN.
    /// Returns `None` when the point is forbidden.
    pub fn vector_from_unit_point(&self, point: &[f64]) -> Option<Vec<f64>> {
        let mut v = vec![f64::NAN; self.len()];
        self.activate(&mut v, |hp| {
            let i = self.index[&hp.name];
            let u = point[i].clamp(0.0, 1.0);
            match hp.column_type() {
                ColumnType::Categorical(n) => ((u * n as f64) as usize).min(n - 1) as f64,
                ColumnType::Continuous => match &hp.kind {
                    HpKind::Ordinal(o) => {
                        let n = o.sequence.len();
                        let k = ((u * n as f64) as usize).min(n - 1);
                        if n <= 1 {
                            0.0
                        } else {
                            k as f64 / (n - 1) as f64
                        }
                    }
                    _ => hp.canonical_vector(u),
                },
            }
        });
        self.violated_forbidden(&v).is_none().then_some(v)
    }

    /// Sets inactive entries to NaN and fills newly active NaN entries with `fill`, walking
    /// parents before children so that activity propagates through nested conditions.
    pub(crate) fn activate(&self, v: &mut [f64], mut fill: impl FnMut(&Hyperparameter) -> f64) {
        for &i in &self.order {
            let active = self.compiled_conditions[i].as_ref().is_none_or(|c| c.holds(v));
            if !active {
                v[i] = f64::NAN;
            } else if v[i].is_nan() {
                v[i] = fill(&self.hyperparameters[i]);
            }
        }
    }

    /// The first forbidden clause the vector violates, if any.
    pub(crate) fn violated_forbidden(&self, v: &[f64]) -> Option<usize> {
        let decode = |i: usize, x: f64| self.hyperparameters[i].from_vector(x);
        self.compiled_forbiddens.iter().position(|f| f.forbids(v, &decode))
    }

    /// Checks that a vector is a valid configuration: activity matches the conditions, every
    /// active entry is canonical, no forbidden clause is violated.
    pub fn check_vector(&self, v: &[f64]) -> Result<(), ConfigSpaceError> {
        if v.len() != self.len() {
            return Err(ConfigSpaceError::InvalidHyperparameter {
                name: String::new(),
                reason: format!("vector has {} entries, space has {}", v.len(), self.len()),
            });
        }
        for &i in &self.order {
            let hp = &self.hyperparameters[i];
            let active = self.compiled_conditions[i].as_ref().is_none_or(|c| c.holds(v));
            match (active, v[i].is_nan()) {
                (true, true) => return Err(ConfigSpaceError::MissingValue { name: hp.name.clone() }),
                (false, false) => return Err(ConfigSpaceError::InactiveValue { name: hp.name.clone() }),
                (true, false) if hp.canonical_vector(v[i]) != v[i] => {
                    return Err(ConfigSpaceError::IllegalValue {
                        name: hp.name.clone(),
                        value: format!("vector entry {}", v[i]),
                    })
                }
                _ => {}
            }
        }
        match self.violated_forbidden(v) {
            Some(k) => Err(ConfigSpaceError::ForbiddenConfiguration {
                clause: describe_forbidden(&self.forbiddens[k]),
            }),
            None => Ok(()),
        }
    }

    fn default_vector(&self) -> Vec<f64> {
        let mut v = vec![f64::NAN; self.len()];
        self.activate(&mut v, |hp| hp.to_vector(&hp.default()).expect("defaults are validated"));
        v
    }

    fn lookup(&self, name: &str, context: &str) -> Result<usize, ConfigSpaceError> {
        self.index_of(name).ok_or_else(|| ConfigSpaceError::UnknownHyperparameter {
            name: name.to_string(),
            context: context.to_string(),
        })
    }

    fn compile_condition(&self, c: &Condition, child: &str) -> Result<Compiled, ConfigSpaceError> {
        let invalid =
            |reason: String| ConfigSpaceError::InvalidCondition { child: child.to_string(), reason };
        let context = format!("the condition on '{child}'");
        let atom = |parent: &str, op: &dyn Fn(&Hyperparameter) -> Result<Op, ConfigSpaceError>| {
            let p = self.lookup(parent, &context)?;
            if parent == child {
                return Err(invalid("a hyperparameter cannot be its own parent".into()));
            }
            Ok(Compiled::Atom { parent: p, op: op(&self.hyperparameters[p])? })
        };
        let ordered = |hp: &Hyperparameter| {
            if hp.is_ordered() {
                Ok(())
            } else {
                Err(invalid(format!("'{}' is unordered: use equals/in conditions", hp.name)))
            }
        };
        match c {
            Condition::Equals { parent, value, .. } => atom(parent, &|hp| Ok(Op::Eq(hp.to_vector(value)?))),
            Condition::NotEquals { parent, value, .. } => {
                atom(parent, &|hp| Ok(Op::Ne(hp.to_vector(value)?)))
            }
            Condition::In { parent, values, .. } => atom(parent, &|hp| {
                if values.is_empty() {
                    return Err(invalid("an empty 'in' list".into()));
                }
                Ok(Op::In(values.iter().map(|v| hp.to_vector(v)).collect::<Result<_, _>>()?))
            }),
            Condition::LessThan { parent, value, .. } => atom(parent, &|hp| {
                ordered(hp)?;
                Ok(Op::Lt(hp.to_vector(value)?))
            }),
            Condition::GreaterThan { parent, value, .. } => atom(parent, &|hp| {
                ordered(hp)?;
                Ok(Op::Gt(hp.to_vector(value)?))
            }),
            Condition::And(cs) | Condition::Or(cs) => {
                if cs.is_empty() {
                    return Err(invalid("an empty conjunction".into()));
                }
                let parts = cs.iter().map(|x| self.compile_condition(x, child)).collect::<Result<_, _>>()?;
                Ok(if matches!(c, Condition::And(_)) { Compiled::And(parts) } else { Compiled::Or(parts) })
            }
        }
    }

    fn compile_forbidden(&self, f: &Forbidden) -> Result<CompiledForbidden, ConfigSpaceError> {
        let context = format!("forbidden clause {}", describe_forbidden(f));
        let invalid = |reason: &str| ConfigSpaceError::InvalidForbidden {
            clause: describe_forbidden(f),
            reason: reason.to_string(),
        };
        match f {
            Forbidden::Equals { name, value } => {
                let i = self.lookup(name, &context)?;
                Ok(CompiledForbidden::In {
                    index: i,
                    values: vec![self.hyperparameters[i].to_vector(value)?],
                })
            }
            Forbidden::In { name, values } => {
                let i = self.lookup(name, &context)?;
                if values.is_empty() {
                    return Err(invalid("an empty 'in' list"));
                }
                let hp = &self.hyperparameters[i];
                let values = values.iter().map(|v| hp.to_vector(v)).collect::<Result<_, _>>()?;
                Ok(CompiledForbidden::In { index: i, values })
            }
            Forbidden::And(cs) | Forbidden::Or(cs) => {
                if cs.is_empty() {
                    return Err(invalid("an empty conjunction"));
                }
                let parts = cs.iter().map(|c| self.compile_forbidden(c)).collect::<Result<_, _>>()?;
                Ok(if matches!(f, Forbidden::And(_)) {
                    CompiledForbidden::And(parts)
                } else {
                    CompiledForbidden::Or(parts)
                })
            }
            Forbidden::Compare { name, relation, value } => {
                let i = self.lookup(name, &context)?;
                let hp = &self.hyperparameters[i];
                if !hp.is_ordered() || *relation == Relation::Equals {
                    return Err(invalid("an order comparison needs an ordered hyperparameter and < <= > >="));
                }
                Ok(CompiledForbidden::Compare { index: i, relation: *relation, value: hp.to_vector(value)? })
            }
            Forbidden::Relation { left, right, relation } => {
                let l = self.lookup(left, &context)?;
                let r = self.lookup(right, &context)?;
                if l == r {
                    return Err(invalid("a relation needs two different hyperparameters"));
                }
                Ok(CompiledForbidden::Relation { left: l, right: r, relation: *relation })
            }
        }
    }

    /// Recomputes the parent-before-child order; fails on a cycle.
    fn sort_topologically(&mut self) -> Result<(), ConfigSpaceError> {
        let n = self.len();
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for c in &self.conditions {
            let child = self.index[c.child().expect("validated")];
            parents[child].extend(c.parents().iter().map(|p| self.index[*p]));
        }
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        // Repeated passes keep insertion order among independent hyperparameters; spaces are small.
        while order.len() < n {
            let before = order.len();
            for i in 0..n {
                if !placed[i] && parents[i].iter().all(|p| placed[*p]) {
                    placed[i] = true;
                    order.push(i);
                }
            }
            if order.len() == before {
                let names =
                    (0..n).filter(|i| !placed[*i]).map(|i| self.hyperparameters[i].name.clone()).collect();
                return Err(ConfigSpaceError::CyclicConditions { names });
            }
        }
        self.order = order;
        self.has_children = vec![false; n];
        for p in parents.iter().flatten() {
            self.has_children[*p] = true;
        }
        Ok(())
    }
}

/// A short human-readable rendering of a forbidden clause for error messages.
pub(crate) fn describe_forbidden(f: &Forbidden) -> String {
    match f {
        Forbidden::Equals { name, value } => format!("({name} == {value})"),
        Forbidden::In { name, values } => {
            let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            format!("({name} in {{{}}})", vs.join(", "))
        }
        Forbidden::And(cs) | Forbidden::Or(cs) => {
            let parts: Vec<String> = cs.iter().map(describe_forbidden).collect();
            let op = if matches!(f, Forbidden::And(_)) { " && " } else { " || " };
            format!("({})", parts.join(op))
        }
        Forbidden::Compare { name, relation, value } => format!("({name} {} {value})", relation.symbol()),
        Forbidden::Relation { left, right, relation } => format!("({left} {} {right})", relation.symbol()),
    }
}

#[cfg(test)]
mod tests;
