//! Hyperparameter values.
//!
//! In human-readable formats (JSON) a [`Value`] is written bare (`1.5`, `"rbf"`, `true`) so that
//! configurations look exactly like SMAC3's; in binary formats (bincode on the wire) it is written
//! as a tagged enum because bincode cannot deserialize untagged data.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A single hyperparameter value: a float, an integer, a boolean or a string.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A real number (float hyperparameters, float choices).
    Float(f64),
    /// An integer (integer hyperparameters, integer choices).
    Int(i64),
    /// A boolean choice.
    Bool(bool),
    /// A string choice.
    Str(String),
}

impl Value {
    /// The value as f64 when it is numeric (ints are widened).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The value as i64 when it is an integer (or an integral float).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(x) if x.fract() == 0.0 && x.is_finite() => Some(*x as i64),
            _ => None,
        }
    }

    /// The value as a string slice when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as bool when it is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Equality that treats `Int(2)` and `Float(2.0)` as the same value, as Python does.
    pub fn loosely_equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                self.as_f64() == other.as_f64()
            }
            _ => self == other,
        }
    }

    /// Converts to a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Str(s) => serde_json::Value::String(s.clone()),
        }
    }

    /// Converts from a JSON scalar; `None` for null, arrays and objects.
    pub fn from_json(v: &serde_json::Value) -> Option<Value> {
        match v {
            serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
            serde_json::Value::Number(n) => {
                n.as_i64().map(Value::Int).or_else(|| n.as_f64().map(Value::Float))
            }
            serde_json::Value::String(s) => Some(Value::Str(s.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(x) => write!(f, "{x}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<i64> for Value {
    fn from(x: i64) -> Self {
        Value::Int(x)
    }
}
impl From<i32> for Value {
    fn from(x: i32) -> Self {
        Value::Int(x as i64)
    }
}
impl From<bool> for Value {
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}
impl From<&str> for Value {
    fn from(x: &str) -> Self {
        Value::Str(x.to_string())
    }
}
impl From<String> for Value {
    fn from(x: String) -> Self {
        Value::Str(x)
    }
}

/// Tagged form used by binary formats.
#[derive(Serialize, Deserialize)]
enum Tagged {
    Float(f64),
    Int(i64),
    Bool(bool),
    Str(String),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match self {
                Value::Float(x) => s.serialize_f64(*x),
                Value::Int(i) => s.serialize_i64(*i),
                Value::Bool(b) => s.serialize_bool(*b),
                Value::Str(v) => s.serialize_str(v),
            }
        } else {
            match self {
                Value::Float(x) => Tagged::Float(*x),
                Value::Int(i) => Tagged::Int(*i),
                Value::Bool(b) => Tagged::Bool(*b),
                Value::Str(v) => Tagged::Str(v.clone()),
            }
            .serialize(s)
        }
    }
}

struct BareVisitor;

impl Visitor<'_> for BareVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, boolean or string")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_any(BareVisitor)
        } else {
            Ok(match Tagged::deserialize(d)? {
                Tagged::Float(x) => Value::Float(x),
                Tagged::Int(i) => Value::Int(i),
                Tagged::Bool(b) => Value::Bool(b),
                Tagged::Str(v) => Value::Str(v),
            })
        }
    }
}
