//! A configuration: one value per active hyperparameter of a space.

use super::{ConfigSpace, ConfigSpaceError, Value};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A point of a [`ConfigSpace`]: values of the active hyperparameters and their vector encoding.
///
/// Equality and hashing use the values, which survive a trip through `runhistory.json` bit for
/// bit; the vector need not (log-scaled floats are `exp`/`ln` round trips), so comparing vectors
/// would make a restarted run re-evaluate configurations it already has. The `origin` (which
/// design or search produced it) is informational and ignored by both.
#[derive(Clone)]
pub struct Configuration {
    space: Arc<ConfigSpace>,
    values: Vec<Option<Value>>,
    vector: Vec<f64>,
    origin: Option<String>,
}

impl Configuration {
    /// Builds and validates a configuration from `name → value` pairs of the active
    /// hyperparameters. Unknown names, missing or superfluous values, illegal values and
    /// forbidden combinations are errors naming the hyperparameter or clause.
    pub fn new<K: AsRef<str>, V: Into<Value>>(
        space: &Arc<ConfigSpace>,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigSpaceError> {
        let mut given: Vec<Option<Value>> = vec![None; space.len()];
        for (k, v) in values {
            let name = k.as_ref();
            let i = space.index_of(name).ok_or_else(|| ConfigSpaceError::UnknownHyperparameter {
                name: name.to_string(),
                context: "the configuration".into(),
            })?;
            given[i] = Some(v.into());
        }
        let mut vector = vec![f64::NAN; space.len()];
        for (i, v) in given.iter().enumerate() {
            if let Some(v) = v {
                vector[i] = space.hyperparameters()[i].to_vector(v)?;
            }
        }
        space.check_vector(&vector)?;
        let values = given
            .into_iter()
            .zip(space.hyperparameters())
            .map(|(v, hp)| v.map(|v| normalize(hp, v)))
            .collect();
        Ok(Configuration { space: space.clone(), values, vector, origin: None })
    }

    /// Builds a configuration from a vector, validating it (activity, range, forbiddens).
    pub fn from_vector(space: &Arc<ConfigSpace>, vector: Vec<f64>) -> Result<Self, ConfigSpaceError> {
        space.check_vector(&vector)?;
        Ok(Self::from_canonical_vector(space, vector))
    }

    /// Builds a configuration from a vector already known to be valid and canonical.
    pub(crate) fn from_canonical_vector(space: &Arc<ConfigSpace>, vector: Vec<f64>) -> Self {
        let values = vector
            .iter()
            .zip(space.hyperparameters())
            .map(|(x, hp)| (!x.is_nan()).then(|| hp.from_vector(*x)))
            .collect();
        Configuration { space: space.clone(), values, vector, origin: None }
    }

    /// Assembles a configuration from a canonical vector and its matching values.
    pub(crate) fn from_parts(space: &Arc<ConfigSpace>, vector: Vec<f64>, values: Vec<Option<Value>>) -> Self {
        Configuration { space: space.clone(), values, vector, origin: None }
    }

    /// The space this configuration belongs to.
    pub fn space(&self) -> &Arc<ConfigSpace> {
        &self.space
    }

    /// The value of a hyperparameter, `None` when inactive or unknown.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.space.index_of(name).and_then(|i| self.values[i].as_ref())
    }

    /// A numeric value as f64 (`None` when inactive, unknown or not numeric).
    pub fn get_f64(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }

    /// An integer value (`None` when inactive, unknown or not an integer).
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }

    /// A string value (`None` when inactive, unknown or not a string).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// A boolean value (`None` when inactive, unknown or not a boolean).
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    /// Whether a hyperparameter is active.
    pub fn is_active(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The active `(name, value)` pairs in space order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.space
            .hyperparameters()
            .iter()
            .zip(&self.values)
            .filter_map(|(hp, v)| v.as_ref().map(|v| (hp.name.as_str(), v)))
    }

    /// The active values as an ordered map (the form SMAC3 writes to `runhistory.json`).
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    /// The active values as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect())
    }

    /// Parses a JSON object of `name → value` into a validated configuration.
    pub fn from_json(space: &Arc<ConfigSpace>, json: &serde_json::Value) -> Result<Self, ConfigSpaceError> {
        let obj = json.as_object().ok_or_else(|| ConfigSpaceError::Json {
            path: None,
            reason: format!("a configuration must be a JSON object, got {json}"),
        })?;
        let mut pairs = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            let value = Value::from_json(v)
                .ok_or_else(|| ConfigSpaceError::IllegalValue { name: k.clone(), value: v.to_string() })?;
            pairs.push((k.as_str(), value));
        }
        Self::new(space, pairs)
    }

    /// The vector encoding (NaN for inactive hyperparameters).
    pub fn vector(&self) -> &[f64] {
        &self.vector
    }

    /// Where this configuration came from (e.g. "Sobol Initial Design", "Local Search").
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Sets the origin; returns the configuration for chaining.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Sets the origin in place.
    pub fn set_origin(&mut self, origin: impl Into<String>) {
        self.origin = Some(origin.into());
    }

    /// A stable 64-bit hash of the configuration (same across runs and machines).
    pub fn stable_hash(&self) -> u64 {
        let mut h = Fnv64::default();
        self.hash(&mut h);
        h.finish()
    }
}

/// Stores numbers in the hyperparameter's own kind (`Int` for integers, `Float` for floats,
/// the choice itself for categoricals) whatever numeric form the user gave.
fn normalize(hp: &super::Hyperparameter, v: Value) -> Value {
    use super::HpKind;
    match &hp.kind {
        HpKind::Float(_) => {
            v.as_f64().map(|x| Value::Float(crate::json_compat::round_places(x))).unwrap_or(v)
        }
        HpKind::Integer(_) => v.as_i64().map(Value::Int).unwrap_or(v),
        HpKind::Categorical(c) => {
            super::hyperparameter::index_of(&c.choices, &v).map(|k| c.choices[k].clone()).unwrap_or(v)
        }
        HpKind::Ordinal(o) => {
            super::hyperparameter::index_of(&o.sequence, &v).map(|k| o.sequence[k].clone()).unwrap_or(v)
        }
        HpKind::Constant(c) => c.clone(),
    }
}

impl PartialEq for Configuration {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && (Arc::ptr_eq(&self.space, &other.space) || self.space == other.space)
    }
}

impl Eq for Configuration {}

impl Hash for Configuration {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in &self.values {
            match v {
                None => 0u8.hash(state),
                Some(Value::Float(x)) => (1u8, canonical_bits(*x)).hash(state),
                Some(Value::Int(i)) => (2u8, *i).hash(state),
                Some(Value::Bool(b)) => (3u8, *b).hash(state),
                Some(Value::Str(s)) => (4u8, s).hash(state),
            }
        }
    }
}

fn canonical_bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

/// FNV-1a: a hasher whose output does not change between Rust versions, unlike `DefaultHasher`.
#[derive(Default)]
struct Fnv64(Option<u64>);

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0.unwrap_or(0xcbf29ce484222325)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.finish();
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        self.0 = Some(h);
    }
}

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Configuration({self})")
    }
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (k, (name, v)) in self.iter().enumerate() {
            if k > 0 {
                write!(f, ", ")?;
            }
            match v {
                Value::Str(s) => write!(f, "{name}: '{s}'")?,
                other => write!(f, "{name}: {other}")?,
            }
        }
        write!(f, "}}")
    }
}

impl std::ops::Index<&str> for Configuration {
    type Output = Value;
    /// Panics when the hyperparameter is unknown or inactive; use [`Configuration::get`] otherwise.
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or_else(|| panic!("hyperparameter '{name}' is unknown or inactive"))
    }
}

/// Wire form: the space travels with its values so a worker can rebuild and check the
/// configuration without any other context.
#[derive(Serialize)]
struct ReprRef<'a> {
    space: &'a ConfigSpace,
    values: &'a [Option<Value>],
    origin: &'a Option<String>,
}

#[derive(Deserialize)]
struct Repr {
    space: ConfigSpace,
    values: Vec<Option<Value>>,
    origin: Option<String>,
}

impl Serialize for Configuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ReprRef { space: &self.space, values: &self.values, origin: &self.origin }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Configuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = Repr::deserialize(d)?;
        let space = Arc::new(r.space);
        if r.values.len() != space.len() {
            return Err(D::Error::custom(format!(
                "configuration has {} values for {} hyperparameters",
                r.values.len(),
                space.len()
            )));
        }
        let names: Vec<String> = space.hyperparameters().iter().map(|h| h.name.clone()).collect();
        let pairs = names.iter().zip(r.values).filter_map(|(n, v)| v.map(|v| (n.as_str(), v)));
        let mut c = Configuration::new(&space, pairs).map_err(D::Error::custom)?;
        c.origin = r.origin;
        Ok(c)
    }
}
