//! Reading and writing the JSON format of the Python ConfigSpace package (1.x).
//!
//! The format is described in `docs/configspace-json.md`. Every type ConfigSpace 1.x writes is
//! supported: `uniform_*`, `normal_*`, `beta_*` floats and integers, `categorical`, `ordinal`,
//! `constant`; the conditions `EQ`, `NEQ`, `LT`, `GT`, `IN`, `AND`, `OR`; the forbiddens
//! `EQUALS`, `IN`, `AND`, `OR`, `CLAUSE_LT`/`_LE`/`_GT`/`_GE`, `RELATION_EQ`/`_LT`/`_LE`/`_GT`/`_GE`
//! (and the legacy `RELATION`). Anything else is rejected with
//! [`ConfigSpaceError::UnsupportedType`]. Unknown keys are ignored when reading.
//!
//! Defaults are always written out; when reading, a default equal to the one smac-rs would
//! compute is stored as `None`, so a space built in Rust survives a save/load round trip.
//! ConfigSpace's `meta` (a JSON object) is kept as its compact JSON text in
//! [`Hyperparameter::meta`] and written back as an object.

use super::{
    CategoricalHp, Condition, ConfigSpace, ConfigSpaceError, FloatHp, Forbidden, HpKind, Hyperparameter,
    IntegerHp, OrdinalHp, Prior, Relation, Value,
};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::path::Path;

/// The serialization format version ConfigSpace 1.x writes and this module mirrors.
pub const FORMAT_VERSION: f64 = 0.4;

/// The ConfigSpace release whose output this writer mirrors (written as `python_module_version`).
pub const COMPATIBLE_CONFIGSPACE_VERSION: &str = "1.2.0";

impl ConfigSpace {
    /// Parses a space from ConfigSpace JSON (what `ConfigurationSpace.to_json` writes).
    pub fn from_configspace_json(s: &str) -> Result<ConfigSpace, ConfigSpaceError> {
        let root: Json = serde_json::from_str(s).map_err(|e| json_error(format!("invalid JSON: {e}")))?;
        let root = root.as_object().ok_or_else(|| json_error("the top level must be an object".into()))?;
        let name = match root.get("name") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => return Err(json_error(format!("'name' must be a string or null, got {other}"))),
        };
        let mut space = ConfigSpace { name, ..Default::default() };
        for item in list(root, "hyperparameters")? {
            space.add(read_hyperparameter(item)?)?;
        }
        for item in list(root, "conditions")? {
            space.add_condition(read_condition(item)?)?;
        }
        for item in list(root, "forbiddens")? {
            space.add_forbidden(read_forbidden(item)?)?;
        }
        Ok(space)
    }

    /// Writes the space as ConfigSpace JSON (2-space indented), readable by `ConfigurationSpace.from_json`.
    pub fn to_configspace_json(&self) -> String {
        let out = SpaceOut {
            name: self.name(),
            hyperparameters: self.hyperparameters().iter().map(hp_out).collect(),
            conditions: self.conditions().iter().map(condition_out).collect(),
            forbiddens: self.forbiddens().iter().map(forbidden_out).collect(),
            python_module_version: COMPATIBLE_CONFIGSPACE_VERSION,
            format_version: FORMAT_VERSION,
        };
        serde_json::to_string_pretty(&out).expect("a validated space serializes")
    }

    /// Reads a space from a ConfigSpace JSON file.
    pub fn load_json(path: &Path) -> Result<ConfigSpace, ConfigSpaceError> {
        let text = crate::files::read_utf8(path).map_err(|e| ConfigSpaceError::Json {
            path: Some(path.display().to_string()),
            reason: e.to_string(),
        })?;
        Self::from_configspace_json(&text).map_err(|e| match e {
            ConfigSpaceError::Json { path: None, reason } => {
                ConfigSpaceError::Json { path: Some(path.display().to_string()), reason }
            }
            other => other,
        })
    }

    /// Writes the space to a file as ConfigSpace JSON.
    pub fn save_json(&self, path: &Path) -> Result<(), ConfigSpaceError> {
        std::fs::write(path, self.to_configspace_json() + "\n").map_err(|e| ConfigSpaceError::Json {
            path: Some(path.display().to_string()),
            reason: e.to_string(),
        })
    }
}

fn json_error(reason: String) -> ConfigSpaceError {
    ConfigSpaceError::Json { path: None, reason }
}

/// A top-level list; a missing or null key is an empty list.
fn list<'a>(root: &'a Map<String, Json>, key: &str) -> Result<&'a [Json], ConfigSpaceError> {
    match root.get(key) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(items)) => Ok(items),
        Some(_) => Err(json_error(format!("'{key}' must be a list"))),
    }
}

/// One JSON object of the file with the description used in its error messages.
struct Item<'a> {
    map: &'a Map<String, Json>,
    what: String,
}

impl<'a> Item<'a> {
    fn new(v: &'a Json, section: &str) -> Result<Self, ConfigSpaceError> {
        let map =
            v.as_object().ok_or_else(|| json_error(format!("an entry of '{section}' is not an object")))?;
        Ok(Item { map, what: format!("an entry of '{section}'") })
    }

    fn err(&self, reason: impl std::fmt::Display) -> ConfigSpaceError {
        json_error(format!("{}: {reason}", self.what))
    }

    fn get(&self, key: &str) -> Result<&'a Json, ConfigSpaceError> {
        self.map.get(key).ok_or_else(|| self.err(format!("missing key '{key}'")))
    }

    /// A key that may be absent or null.
    fn opt(&self, key: &str) -> Option<&'a Json> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn str(&self, key: &str) -> Result<&'a str, ConfigSpaceError> {
        self.get(key)?.as_str().ok_or_else(|| self.err(format!("'{key}' must be a string")))
    }

    fn f64(&self, key: &str) -> Result<f64, ConfigSpaceError> {
        self.get(key)?.as_f64().ok_or_else(|| self.err(format!("'{key}' must be a number")))
    }

    fn i64(&self, key: &str) -> Result<i64, ConfigSpaceError> {
        let v = self.get(key)?;
        v.as_i64()
            .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15).map(|x| x as i64))
            .ok_or_else(|| self.err(format!("'{key}' must be an integer, got {v}")))
    }

    fn log(&self) -> Result<bool, ConfigSpaceError> {
        match self.opt("log") {
            None => Ok(false),
            Some(v) => v.as_bool().ok_or_else(|| self.err("'log' must be a boolean")),
        }
    }

    /// The key holding the default: `default_value`, or the legacy `default`; `None` if absent.
    fn default_key(&self) -> Option<&'static str> {
        ["default_value", "default"].into_iter().find(|k| self.opt(k).is_some())
    }

    fn value(&self, key: &str) -> Result<Value, ConfigSpaceError> {
        Value::from_json(self.get(key)?)
            .ok_or_else(|| self.err(format!("'{key}' must be a number, boolean or string")))
    }

    fn values(&self, key: &str) -> Result<Vec<Value>, ConfigSpaceError> {
        let bad = || self.err(format!("'{key}' must be a list of numbers, booleans or strings"));
        self.get(key)?
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|v| Value::from_json(v).ok_or_else(bad))
            .collect()
    }

    fn list(&self, key: &str) -> Result<&'a [Json], ConfigSpaceError> {
        self.get(key)?
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.err(format!("'{key}' must be a list")))
    }
}

fn unsupported(what: &str, name: &str, type_name: &str) -> ConfigSpaceError {
    ConfigSpaceError::UnsupportedType {
        what: what.to_string(),
        name: name.to_string(),
        type_name: type_name.to_string(),
    }
}

/// The prior a `normal_*`/`beta_*` type carries (`mu`, `sigma` / `alpha`, `beta`).
fn read_prior(it: &Item, type_name: &str) -> Result<Prior, ConfigSpaceError> {
    Ok(if type_name.starts_with("normal") {
        Prior::Normal { mu: it.f64("mu")?, sigma: it.f64("sigma")? }
    } else if type_name.starts_with("beta") {
        Prior::Beta { alpha: it.f64("alpha")?, beta: it.f64("beta")? }
    } else {
        Prior::Uniform
    })
}

fn read_hyperparameter(v: &Json) -> Result<Hyperparameter, ConfigSpaceError> {
    let mut it = Item::new(v, "hyperparameters")?;
    let name = it.str("name")?.to_string();
    it.what = format!("hyperparameter '{name}'");
    let kind = match it.str("type")? {
        t @ ("uniform_float" | "normal_float" | "beta_float") => HpKind::Float(FloatHp {
            lower: it.f64("lower")?,
            upper: it.f64("upper")?,
            log: it.log()?,
            default: it.default_key().map(|k| it.f64(k)).transpose()?,
            prior: read_prior(&it, t)?,
        }),
        t @ ("uniform_int" | "normal_int" | "beta_int") => HpKind::Integer(IntegerHp {
            lower: it.i64("lower")?,
            upper: it.i64("upper")?,
            log: it.log()?,
            default: it.default_key().map(|k| it.i64(k)).transpose()?,
            prior: read_prior(&it, t)?,
        }),
        "categorical" => {
            let weights = match it.opt("weights") {
                None => None,
                Some(w) => Some(
                    w.as_array()
                        .and_then(|a| a.iter().map(Json::as_f64).collect::<Option<Vec<f64>>>())
                        .ok_or_else(|| it.err("'weights' must be a list of numbers or null"))?,
                ),
            };
            let default = it.default_key().map(|k| it.value(k)).transpose()?;
            HpKind::Categorical(CategoricalHp { choices: it.values("choices")?, default, weights })
        }
        "ordinal" => HpKind::Ordinal(OrdinalHp {
            sequence: it.values("sequence")?,
            default: it.default_key().map(|k| it.value(k)).transpose()?,
        }),
        "constant" => HpKind::Constant(it.value("value")?),
        other => return Err(unsupported("hyperparameter", &name, other)),
    };
    let meta = it.opt("meta").map(|m| match m {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    });
    let mut hp = Hyperparameter { name, kind, meta };
    hp.validate()?;
    drop_computed_default(&mut hp);
    Ok(hp)
}

/// Forgets an explicit default that equals the computed one, so Rust-built spaces round-trip.
fn drop_computed_default(hp: &mut Hyperparameter) {
    let mut computed = hp.kind.clone();
    match &mut computed {
        HpKind::Float(f) => f.default = None,
        HpKind::Integer(i) => i.default = None,
        HpKind::Categorical(c) => c.default = None,
        HpKind::Ordinal(o) => o.default = None,
        HpKind::Constant(_) => {}
    }
    let computed = Hyperparameter { kind: computed, ..hp.clone() };
    if computed.default() == hp.default() {
        hp.kind = computed.kind;
    }
}

fn read_condition(v: &Json) -> Result<Condition, ConfigSpaceError> {
    let mut it = Item::new(v, "conditions")?;
    let type_name = it.str("type")?;
    let child = it.str("child").unwrap_or("?").to_string();
    it.what = format!("the {type_name} condition on '{child}'");
    if matches!(type_name, "AND" | "OR") {
        let parts = it.list("conditions")?.iter().map(read_condition).collect::<Result<Vec<_>, _>>()?;
        return Ok(if type_name == "AND" { Condition::And(parts) } else { Condition::Or(parts) });
    }
    let child = it.str("child")?.to_string();
    let parent = it.str("parent")?.to_string();
    Ok(match type_name {
        "EQ" => Condition::Equals { child, parent, value: it.value("value")? },
        "NEQ" => Condition::NotEquals { child, parent, value: it.value("value")? },
        "LT" => Condition::LessThan { child, parent, value: it.value("value")? },
        "GT" => Condition::GreaterThan { child, parent, value: it.value("value")? },
        "IN" => Condition::In { child, parent, values: it.values("values")? },
        other => return Err(unsupported("condition on", &child, other)),
    })
}

/// The first hyperparameter a forbidden clause names, looking into conjunctions.
fn first_name(v: &Json) -> Option<&str> {
    ["name", "left"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Json::as_str))
        .or_else(|| v.get("clauses").and_then(Json::as_array).and_then(|cs| cs.iter().find_map(first_name)))
}

fn read_forbidden(v: &Json) -> Result<Forbidden, ConfigSpaceError> {
    let mut it = Item::new(v, "forbiddens")?;
    let type_name = it.str("type")?;
    // The hyperparameter named first (also inside conjunctions), for messages.
    let first = first_name(v).unwrap_or("?");
    it.what = format!("the forbidden {type_name} clause on '{first}'");
    let relation = |relation| -> Result<Forbidden, ConfigSpaceError> {
        Ok(Forbidden::Relation { left: it.str("left")?.into(), right: it.str("right")?.into(), relation })
    };
    match type_name {
        "EQUALS" => Ok(Forbidden::Equals { name: it.str("name")?.into(), value: it.value("value")? }),
        "IN" => Ok(Forbidden::In { name: it.str("name")?.into(), values: it.values("values")? }),
        "AND" => {
            Ok(Forbidden::And(it.list("clauses")?.iter().map(read_forbidden).collect::<Result<_, _>>()?))
        }
        "OR" => Ok(Forbidden::Or(it.list("clauses")?.iter().map(read_forbidden).collect::<Result<_, _>>()?)),
        "CLAUSE_LT" | "CLAUSE_LE" | "CLAUSE_GT" | "CLAUSE_GE" => Ok(Forbidden::Compare {
            name: it.str("name")?.into(),
            relation: match type_name {
                "CLAUSE_LT" => Relation::LessThan,
                "CLAUSE_LE" => Relation::LessEquals,
                "CLAUSE_GT" => Relation::GreaterThan,
                _ => Relation::GreaterEquals,
            },
            value: it.value("value")?,
        }),
        "RELATION_EQ" => relation(Relation::Equals),
        "RELATION_LT" => relation(Relation::LessThan),
        "RELATION_GT" => relation(Relation::GreaterThan),
        "RELATION_LE" => relation(Relation::LessEquals),
        "RELATION_GE" => relation(Relation::GreaterEquals),
        "RELATION" => match it.str("lambda")? {
            "EQ" => relation(Relation::Equals),
            "LT" => relation(Relation::LessThan),
            "GT" => relation(Relation::GreaterThan),
            other => Err(unsupported("forbidden clause on", first, &format!("RELATION/{other}"))),
        },
        other => Err(unsupported("forbidden clause on", first, other)),
    }
}

#[derive(Serialize)]
struct SpaceOut<'a> {
    name: Option<&'a str>,
    hyperparameters: Vec<HpOut<'a>>,
    conditions: Vec<CondOut<'a>>,
    forbiddens: Vec<ForbOut<'a>>,
    python_module_version: &'static str,
    format_version: f64,
}

/// A hyperparameter as ConfigSpace writes it (`type` first, then the fields in its order).
#[derive(Serialize)]
#[serde(tag = "type")]
enum HpOut<'a> {
    #[serde(rename = "uniform_float")]
    Float { name: &'a str, lower: f64, upper: f64, default_value: f64, log: bool, meta: Option<Json> },
    #[serde(rename = "uniform_int")]
    Integer { name: &'a str, lower: i64, upper: i64, default_value: i64, log: bool, meta: Option<Json> },
    #[serde(rename = "normal_float")]
    NormalFloat {
        name: &'a str,
        mu: f64,
        sigma: f64,
        lower: f64,
        upper: f64,
        default_value: f64,
        log: bool,
        meta: Option<Json>,
    },
    #[serde(rename = "normal_int")]
    NormalInteger {
        name: &'a str,
        mu: f64,
        sigma: f64,
        lower: i64,
        upper: i64,
        default_value: i64,
        log: bool,
        meta: Option<Json>,
    },
    #[serde(rename = "beta_float")]
    BetaFloat {
        name: &'a str,
        alpha: f64,
        beta: f64,
        lower: f64,
        upper: f64,
        default_value: f64,
        log: bool,
        meta: Option<Json>,
    },
    #[serde(rename = "beta_int")]
    BetaInteger {
        name: &'a str,
        alpha: f64,
        beta: f64,
        lower: i64,
        upper: i64,
        default_value: i64,
        log: bool,
        meta: Option<Json>,
    },
    #[serde(rename = "categorical")]
    Categorical {
        name: &'a str,
        choices: &'a [Value],
        weights: Option<&'a [f64]>,
        default_value: Value,
        meta: Option<Json>,
    },
    #[serde(rename = "ordinal")]
    Ordinal { name: &'a str, sequence: &'a [Value], default_value: Value, meta: Option<Json> },
    #[serde(rename = "constant")]
    Constant { name: &'a str, value: &'a Value, meta: Option<Json> },
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum CondOut<'a> {
    #[serde(rename = "EQ")]
    Equals { child: &'a str, parent: &'a str, value: &'a Value },
    #[serde(rename = "NEQ")]
    NotEquals { child: &'a str, parent: &'a str, value: &'a Value },
    #[serde(rename = "LT")]
    LessThan { child: &'a str, parent: &'a str, value: &'a Value },
    #[serde(rename = "GT")]
    GreaterThan { child: &'a str, parent: &'a str, value: &'a Value },
    #[serde(rename = "IN")]
    In { child: &'a str, parent: &'a str, values: &'a [Value] },
    #[serde(rename = "AND")]
    And { child: &'a str, conditions: Vec<CondOut<'a>> },
    #[serde(rename = "OR")]
    Or { child: &'a str, conditions: Vec<CondOut<'a>> },
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum ForbOut<'a> {
    #[serde(rename = "EQUALS")]
    Equals { name: &'a str, value: &'a Value },
    #[serde(rename = "IN")]
    In { name: &'a str, values: &'a [Value] },
    #[serde(rename = "AND")]
    And { clauses: Vec<ForbOut<'a>> },
    #[serde(rename = "OR")]
    Or { clauses: Vec<ForbOut<'a>> },
    #[serde(rename = "CLAUSE_LT")]
    ClauseLessThan { name: &'a str, value: &'a Value },
    #[serde(rename = "CLAUSE_LE")]
    ClauseLessEquals { name: &'a str, value: &'a Value },
    #[serde(rename = "CLAUSE_GT")]
    ClauseGreaterThan { name: &'a str, value: &'a Value },
    #[serde(rename = "CLAUSE_GE")]
    ClauseGreaterEquals { name: &'a str, value: &'a Value },
    #[serde(rename = "RELATION_LE")]
    RelationLessEquals { left: &'a str, right: &'a str },
    #[serde(rename = "RELATION_GE")]
    RelationGreaterEquals { left: &'a str, right: &'a str },
    #[serde(rename = "RELATION_EQ")]
    RelationEquals { left: &'a str, right: &'a str },
    #[serde(rename = "RELATION_LT")]
    RelationLessThan { left: &'a str, right: &'a str },
    #[serde(rename = "RELATION_GT")]
    RelationGreaterThan { left: &'a str, right: &'a str },
}

/// `meta` back to JSON: text holding a JSON object becomes the object, other text a string.
fn meta_out(meta: &Option<String>) -> Option<Json> {
    meta.as_ref().map(|m| match serde_json::from_str::<Json>(m) {
        Ok(obj @ Json::Object(_)) => obj,
        _ => Json::String(m.clone()),
    })
}

fn hp_out(hp: &Hyperparameter) -> HpOut<'_> {
    let (name, meta, default) = (hp.name.as_str(), meta_out(&hp.meta), hp.default());
    match &hp.kind {
        HpKind::Float(f) => {
            let (lower, upper, log) = (f.lower, f.upper, f.log);
            let default_value = default.as_f64().expect("float default");
            match f.prior {
                Prior::Uniform => HpOut::Float { name, lower, upper, default_value, log, meta },
                Prior::Normal { mu, sigma } => {
                    HpOut::NormalFloat { name, mu, sigma, lower, upper, default_value, log, meta }
                }
                Prior::Beta { alpha, beta } => {
                    HpOut::BetaFloat { name, alpha, beta, lower, upper, default_value, log, meta }
                }
            }
        }
        HpKind::Integer(i) => {
            let (lower, upper, log) = (i.lower, i.upper, i.log);
            let default_value = default.as_i64().expect("integer default");
            match i.prior {
                Prior::Uniform => HpOut::Integer { name, lower, upper, default_value, log, meta },
                Prior::Normal { mu, sigma } => {
                    HpOut::NormalInteger { name, mu, sigma, lower, upper, default_value, log, meta }
                }
                Prior::Beta { alpha, beta } => {
                    HpOut::BetaInteger { name, alpha, beta, lower, upper, default_value, log, meta }
                }
            }
        }
        HpKind::Categorical(c) => HpOut::Categorical {
            name,
            choices: &c.choices,
            weights: c.weights.as_deref(),
            default_value: default,
            meta,
        },
        HpKind::Ordinal(o) => HpOut::Ordinal { name, sequence: &o.sequence, default_value: default, meta },
        HpKind::Constant(value) => HpOut::Constant { name, value, meta },
    }
}

fn condition_out(c: &Condition) -> CondOut<'_> {
    match c {
        Condition::Equals { child, parent, value } => CondOut::Equals { child, parent, value },
        Condition::NotEquals { child, parent, value } => CondOut::NotEquals { child, parent, value },
        Condition::LessThan { child, parent, value } => CondOut::LessThan { child, parent, value },
        Condition::GreaterThan { child, parent, value } => CondOut::GreaterThan { child, parent, value },
        Condition::In { child, parent, values } => CondOut::In { child, parent, values },
        Condition::And(parts) => CondOut::And {
            child: c.child().unwrap_or_default(),
            conditions: parts.iter().map(condition_out).collect(),
        },
        Condition::Or(parts) => CondOut::Or {
            child: c.child().unwrap_or_default(),
            conditions: parts.iter().map(condition_out).collect(),
        },
    }
}

fn forbidden_out(f: &Forbidden) -> ForbOut<'_> {
    match f {
        Forbidden::Equals { name, value } => ForbOut::Equals { name, value },
        Forbidden::In { name, values } => ForbOut::In { name, values },
        Forbidden::And(clauses) => ForbOut::And { clauses: clauses.iter().map(forbidden_out).collect() },
        Forbidden::Or(clauses) => ForbOut::Or { clauses: clauses.iter().map(forbidden_out).collect() },
        Forbidden::Compare { name, relation, value } => match relation {
            Relation::LessThan => ForbOut::ClauseLessThan { name, value },
            Relation::LessEquals => ForbOut::ClauseLessEquals { name, value },
            Relation::GreaterThan => ForbOut::ClauseGreaterThan { name, value },
            Relation::GreaterEquals | Relation::Equals => ForbOut::ClauseGreaterEquals { name, value },
        },
        Forbidden::Relation { left, right, relation } => match relation {
            Relation::Equals => ForbOut::RelationEquals { left, right },
            Relation::LessThan => ForbOut::RelationLessThan { left, right },
            Relation::GreaterThan => ForbOut::RelationGreaterThan { left, right },
            Relation::LessEquals => ForbOut::RelationLessEquals { left, right },
            Relation::GreaterEquals => ForbOut::RelationGreaterEquals { left, right },
        },
    }
}
