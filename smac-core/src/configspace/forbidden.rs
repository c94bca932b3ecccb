//! Forbidden clauses: value combinations that no valid configuration may take.
//!
//! A clause that mentions an inactive hyperparameter never applies, as in ConfigSpace.

use super::value::Value;
use serde::{Deserialize, Serialize};

/// How a relation clause compares two hyperparameters' values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    /// `left == right`.
    Equals,
    /// `left < right`.
    LessThan,
    /// `left > right`.
    GreaterThan,
}

/// A forbidden clause.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Forbidden {
    /// Forbids `name == value`.
    Equals {
        /// The hyperparameter at fault.
        name: String,
        /// The value compared with.
        value: Value,
    },
    /// Forbids `name ∈ values`.
    In {
        /// The hyperparameter at fault.
        name: String,
        /// The values compared with.
        values: Vec<Value>,
    },
    /// Forbids the conjunction of all components.
    And(Vec<Forbidden>),
    /// Forbids `left <relation> right` between two hyperparameters' values.
    Relation {
        /// The left-hand hyperparameter.
        left: String,
        /// The right-hand hyperparameter.
        right: String,
        /// The comparison.
        relation: Relation,
    },
}

impl Forbidden {
    /// Forbids `name == value`.
    pub fn equals(name: &str, value: impl Into<Value>) -> Self {
        Forbidden::Equals { name: name.into(), value: value.into() }
    }
    /// Forbids `name ∈ values`.
    pub fn is_in<V: Into<Value>>(name: &str, values: impl IntoIterator<Item = V>) -> Self {
        Forbidden::In { name: name.into(), values: values.into_iter().map(Into::into).collect() }
    }
    /// Forbids the conjunction of `clauses`.
    pub fn and(clauses: impl IntoIterator<Item = Forbidden>) -> Self {
        Forbidden::And(clauses.into_iter().collect())
    }
    /// Forbids `left <relation> right`.
    pub fn relation(left: &str, relation: Relation, right: &str) -> Self {
        Forbidden::Relation { left: left.into(), right: right.into(), relation }
    }

    /// Every hyperparameter named in the clause.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Forbidden::Equals { name, .. } | Forbidden::In { name, .. } => vec![name],
            Forbidden::And(cs) => cs.iter().flat_map(|c| c.names()).collect(),
            Forbidden::Relation { left, right, .. } => vec![left, right],
        }
    }
}

/// A forbidden clause compiled against hyperparameter indices; values are vector-encoded
/// except for relations, which compare decoded values across two different encodings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CompiledForbidden {
    In {
        index: usize,
        values: Vec<f64>,
    },
    And(Vec<CompiledForbidden>),
    Relation {
        /// The left-hand hyperparameter.
        left: usize,
        /// The right-hand hyperparameter.
        right: usize,
        /// The comparison.
        relation: Relation,
    },
}

impl CompiledForbidden {
    /// Whether the clause forbids this vector; `decode` turns (index, entry) into a value.
    pub(crate) fn forbids(&self, vector: &[f64], decode: &dyn Fn(usize, f64) -> Value) -> bool {
        match self {
            CompiledForbidden::In { index, values } => {
                let x = vector[*index];
                !x.is_nan() && values.contains(&x)
            }
            CompiledForbidden::And(cs) => cs.iter().all(|c| c.forbids(vector, decode)),
            CompiledForbidden::Relation { left, right, relation } => {
                let (a, b) = (vector[*left], vector[*right]);
                if a.is_nan() || b.is_nan() {
                    return false;
                }
                compare(&decode(*left, a), &decode(*right, b), *relation)
            }
        }
    }
}

fn compare(a: &Value, b: &Value, relation: Relation) -> bool {
    match relation {
        Relation::Equals => a.loosely_equals(b),
        Relation::LessThan | Relation::GreaterThan => {
            let ord = match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => match (a, b) {
                    (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
                    _ => None,
                },
            };
            match ord {
                Some(std::cmp::Ordering::Less) => relation == Relation::LessThan,
                Some(std::cmp::Ordering::Greater) => relation == Relation::GreaterThan,
                _ => false,
            }
        }
    }
}
