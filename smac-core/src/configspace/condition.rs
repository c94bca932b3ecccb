//! Conditions: a child hyperparameter is active only while its condition on parents holds.
//!
//! Conditions are written with names (as users and ConfigSpace JSON do) and compiled by the
//! [`super::ConfigSpace`] into index-based predicates on the configuration vector, so that
//! sampling and local search evaluate them without string look-ups. An inactive parent makes
//! every atomic condition on it false, so activity propagates down any depth of nesting.

use super::value::Value;
use serde::{Deserialize, Serialize};

/// A condition on parent values that decides whether `child` is active.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// `parent == value`.
    Equals {
        /// The hyperparameter the condition activates.
        child: String,
        /// The hyperparameter the condition reads.
        parent: String,
        /// The value compared with.
        value: Value,
    },
    /// `parent != value` (parent active).
    NotEquals {
        /// The hyperparameter the condition activates.
        child: String,
        /// The hyperparameter the condition reads.
        parent: String,
        /// The value compared with.
        value: Value,
    },
    /// `parent ∈ values`.
    In {
        /// The hyperparameter the condition activates.
        child: String,
        /// The hyperparameter the condition reads.
        parent: String,
        /// The values compared with.
        values: Vec<Value>,
    },
    /// `parent < value` (ordered parents only).
    LessThan {
        /// The hyperparameter the condition activates.
        child: String,
        /// The hyperparameter the condition reads.
        parent: String,
        /// The value compared with.
        value: Value,
    },
    /// `parent > value` (ordered parents only).
    GreaterThan {
        /// The hyperparameter the condition activates.
        child: String,
        /// The hyperparameter the condition reads.
        parent: String,
        /// The value compared with.
        value: Value,
    },
    /// All components hold (components share the child).
    And(Vec<Condition>),
    /// At least one component holds (components share the child).
    Or(Vec<Condition>),
}

impl Condition {
    /// `child` is active iff `parent == value`.
    pub fn equals(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Condition::Equals { child: child.into(), parent: parent.into(), value: value.into() }
    }
    /// `child` is active iff `parent != value`.
    pub fn not_equals(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Condition::NotEquals { child: child.into(), parent: parent.into(), value: value.into() }
    }
    /// `child` is active iff `parent` is one of `values`.
    pub fn is_in<V: Into<Value>>(child: &str, parent: &str, values: impl IntoIterator<Item = V>) -> Self {
        Condition::In {
            child: child.into(),
            parent: parent.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
    /// `child` is active iff `parent < value`.
    pub fn less_than(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Condition::LessThan { child: child.into(), parent: parent.into(), value: value.into() }
    }
    /// `child` is active iff `parent > value`.
    pub fn greater_than(child: &str, parent: &str, value: impl Into<Value>) -> Self {
        Condition::GreaterThan { child: child.into(), parent: parent.into(), value: value.into() }
    }

    /// The child this condition controls (the first component's for conjunctions).
    pub fn child(&self) -> Option<&str> {
        match self {
            Condition::Equals { child, .. }
            | Condition::NotEquals { child, .. }
            | Condition::In { child, .. }
            | Condition::LessThan { child, .. }
            | Condition::GreaterThan { child, .. } => Some(child),
            Condition::And(cs) | Condition::Or(cs) => cs.first().and_then(|c| c.child()),
        }
    }

    /// Every parent named anywhere in the condition.
    pub fn parents(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_parents(&mut out);
        out
    }

    fn collect_parents<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Equals { parent, .. }
            | Condition::NotEquals { parent, .. }
            | Condition::In { parent, .. }
            | Condition::LessThan { parent, .. }
            | Condition::GreaterThan { parent, .. } => {
                if !out.contains(&parent.as_str()) {
                    out.push(parent)
                }
            }
            Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| c.collect_parents(out)),
        }
    }

    /// Every child named anywhere in the condition (a well-formed one names exactly one).
    pub(crate) fn children(&self) -> Vec<&str> {
        match self {
            Condition::And(cs) | Condition::Or(cs) => {
                let mut out: Vec<&str> = Vec::new();
                for c in cs {
                    for ch in c.children() {
                        if !out.contains(&ch) {
                            out.push(ch)
                        }
                    }
                }
                out
            }
            other => other.child().into_iter().collect(),
        }
    }
}

/// Comparison of an atomic condition, on the parent's vector encoding.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    Eq(f64),
    Ne(f64),
    In(Vec<f64>),
    Lt(f64),
    Gt(f64),
}

/// A condition compiled against hyperparameter indices.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Compiled {
    Atom { parent: usize, op: Op },
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
}

impl Compiled {
    /// Whether the condition holds for a (partially built) configuration vector, where
    /// NaN marks an inactive parent. Encodings are monotone, so order comparisons are exact.
    /// As in ConfigSpace 1.x, which compares the NaN of an inactive parent: `!=` holds (the
    /// child of a `NEQ` on an inactive parent is active), every other comparison fails.
    pub(crate) fn holds(&self, vector: &[f64]) -> bool {
        match self {
            Compiled::Atom { parent, op } => {
                let x = vector[*parent];
                if x.is_nan() {
                    return matches!(op, Op::Ne(_));
                }
                match op {
                    Op::Eq(v) => x == *v,
                    Op::Ne(v) => x != *v,
                    Op::In(vs) => vs.contains(&x),
                    Op::Lt(v) => x < *v,
                    Op::Gt(v) => x > *v,
                }
            }
            Compiled::And(cs) => cs.iter().all(|c| c.holds(vector)),
            Compiled::Or(cs) => cs.iter().any(|c| c.holds(vector)),
        }
    }
}
