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
    /// `left <= right`.
    LessEquals,
    /// `left >= right`.
    GreaterEquals,
}

impl Relation {
    /// The operator as written in messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Relation::Equals => "==",
            Relation::LessThan => "<",
            Relation::GreaterThan => ">",
            Relation::LessEquals => "<=",
            Relation::GreaterEquals => ">=",
        }
    }

    /// Whether `ord` (left compared with right) satisfies the relation.
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Relation::Equals => ord == Equal,
            Relation::LessThan => ord == Less,
            Relation::GreaterThan => ord == Greater,
            Relation::LessEquals => ord != Greater,
            Relation::GreaterEquals => ord != Less,
        }
    }
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
    /// Forbids the disjunction of the components (ConfigSpace's `ForbiddenOrConjunction`).
    Or(Vec<Forbidden>),
    /// Forbids `name <relation> value` for an ordered hyperparameter (ConfigSpace's
    /// `ForbiddenLessThanClause`, `…LessThanEqualsClause`, `…GreaterThanClause`,
    /// `…GreaterThanEqualsClause`).
    Compare {
        /// The hyperparameter at fault.
        name: String,
        /// The comparison (never `Equals`: that is [`Forbidden::Equals`]).
        relation: Relation,
        /// The value compared with.
        value: Value,
    },
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
    /// Forbids any of `clauses`.
    pub fn or(clauses: impl IntoIterator<Item = Forbidden>) -> Self {
        Forbidden::Or(clauses.into_iter().collect())
    }
    /// Forbids `name <relation> value`.
    pub fn compare(name: &str, relation: Relation, value: impl Into<Value>) -> Self {
        Forbidden::Compare { name: name.into(), relation, value: value.into() }
    }
    /// Forbids `left <relation> right`.
    pub fn relation(left: &str, relation: Relation, right: &str) -> Self {
        Forbidden::Relation { left: left.into(), right: right.into(), relation }
    }

    /// Every hyperparameter named in the clause.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Forbidden::Equals { name, .. } | Forbidden::In { name, .. } | Forbidden::Compare { name, .. } => {
                vec![name]
            }
            Forbidden::And(cs) | Forbidden::Or(cs) => cs.iter().flat_map(|c| c.names()).collect(),
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
    Or(Vec<CompiledForbidden>),
    /// `vector[index] <relation> value` on a monotone encoding.
    Compare {
        index: usize,
        relation: Relation,
        value: f64,
    },
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
            CompiledForbidden::Or(cs) => cs.iter().any(|c| c.forbids(vector, decode)),
            CompiledForbidden::Compare { index, relation, value } => {
                let x = vector[*index];
                !x.is_nan() && x.partial_cmp(value).is_some_and(|o| relation.holds(o))
            }
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
    if relation == Relation::Equals {
        return a.loosely_equals(b);
    }
    // Python compares booleans as the numbers 0 and 1.
    let num = |v: &Value| match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        other => other.as_f64(),
    };
    let ord = match (num(a), num(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a, b) {
            (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
            _ => None,
        },
    };
    ord.is_some_and(|o| relation.holds(o))
}
