//! The inline search space of a scenario file: one `[space.NAME]` table per hyperparameter.
//!
//! ```toml
//! [space.lr]
//! type = "float"
//! lower = 1e-5
//! upper = 1e-1
//! log = true
//! default = 1e-3
//!
//! [space.kernel]
//! type = "categorical"
//! choices = ["linear", "rbf"]
//!
//! [space.gamma]
//! type = "float"
//! lower = 1e-4
//! upper = 1.0
//! active_if = "kernel == rbf"
//! ```
//!
//! Types: `float`, `integer` (`lower`, `upper`, `log`, `default`), `categorical` (`choices`,
//! `default`, `weights`), `ordinal` (`sequence`, `default`), `constant` (`value`). Hyperparameters
//! keep the file's order. `active_if` takes the expressions of [`super::condition`].

use super::condition;
use super::error::CliError;
use serde::Deserialize;
use smac_core::{ConfigSpace, Hyperparameter, Value};

/// One `[space.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HpDef {
    #[serde(rename = "type")]
    kind: String,
    lower: Option<toml::Value>,
    upper: Option<toml::Value>,
    log: Option<bool>,
    default: Option<toml::Value>,
    choices: Option<Vec<toml::Value>>,
    sequence: Option<Vec<toml::Value>>,
    weights: Option<Vec<f64>>,
    value: Option<toml::Value>,
    active_if: Option<String>,
}

/// Builds a config space from the `space` table of a scenario file.
pub fn from_toml(name: &str, table: &toml::Table) -> Result<ConfigSpace, CliError> {
    if table.is_empty() {
        return Err(CliError::Usage("the [space] table defines no hyperparameter".into()));
    }
    let mut hps = Vec::with_capacity(table.len());
    let mut conditions = Vec::new();
    for (hp_name, raw) in table {
        let err = |reason: String| CliError::Space { name: hp_name.clone(), reason };
        let def: HpDef = raw.clone().try_into().map_err(|e: toml::de::Error| {
            err(format!("{} (expected a table like [space.{hp_name}])", e.message()))
        })?;
        hps.push(hyperparameter(hp_name, &def).map_err(err)?);
        if let Some(expr) = &def.active_if {
            conditions.push((hp_name.clone(), expr.clone()));
        }
    }
    let mut space = ConfigSpace::new(name);
    space.add_all(hps)?;
    for (child, text) in conditions {
        let cerr = |reason: String| CliError::Condition { child: child.clone(), reason };
        let expr = condition::parse(&text).map_err(cerr)?;
        let snapshot = space.clone();
        let lookup = |n: &str| snapshot.get(n);
        let cond = expr.to_condition(&child, &lookup).map_err(cerr)?;
        space.add_condition(cond).map_err(|e| cerr(e.to_string()))?;
    }
    Ok(space)
}

fn hyperparameter(name: &str, d: &HpDef) -> Result<Hyperparameter, String> {
    let kind = d.kind.to_ascii_lowercase();
    let allowed: &[&str] = match kind.as_str() {
        "float" | "integer" | "int" => &["lower", "upper", "log", "default"],
        "categorical" => &["choices", "default", "weights"],
        "ordinal" => &["sequence", "default"],
        "constant" => &["value"],
        other => {
            return Err(format!(
                "unknown type '{other}'; use float, integer, categorical, ordinal or constant"
            ))
        }
    };
    let given = [
        ("lower", d.lower.is_some()),
        ("upper", d.upper.is_some()),
        ("log", d.log.is_some()),
        ("default", d.default.is_some()),
        ("choices", d.choices.is_some()),
        ("sequence", d.sequence.is_some()),
        ("weights", d.weights.is_some()),
        ("value", d.value.is_some()),
    ];
    if let Some((key, _)) = given.iter().find(|(k, set)| *set && !allowed.contains(k)) {
        return Err(format!("'{key}' does not apply to type {kind}"));
    }
    let need =
        |v: &Option<toml::Value>, key: &str| v.clone().ok_or_else(|| format!("type {kind} needs '{key}'"));
    let mut hp = match kind.as_str() {
        "float" => {
            Hyperparameter::float(name, float(&need(&d.lower, "lower")?)?, float(&need(&d.upper, "upper")?)?)
        }
        "integer" | "int" => {
            Hyperparameter::integer(name, int(&need(&d.lower, "lower")?)?, int(&need(&d.upper, "upper")?)?)
        }
        "categorical" => {
            let choices = d.choices.as_ref().ok_or("type categorical needs 'choices'")?;
            let mut hp = Hyperparameter::categorical(name, values(choices)?);
            if let Some(w) = &d.weights {
                hp = hp.weights(w.iter().copied());
            }
            hp
        }
        "ordinal" => Hyperparameter::ordinal(
            name,
            values(d.sequence.as_ref().ok_or("type ordinal needs 'sequence'")?)?,
        ),
        _ => Hyperparameter::constant(name, value(&need(&d.value, "value")?)?),
    };
    if d.log == Some(true) {
        hp = hp.log();
    }
    if let Some(default) = &d.default {
        hp = hp.default_value(value(default)?);
    }
    hp.validate().map_err(|e| e.to_string())?;
    Ok(hp)
}

fn float(v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Float(x) => Ok(*x),
        toml::Value::Integer(i) => Ok(*i as f64),
        other => Err(format!("expected a number, found {other}")),
    }
}

fn int(v: &toml::Value) -> Result<i64, String> {
    match v {
        toml::Value::Integer(i) => Ok(*i),
        toml::Value::Float(x) if x.fract() == 0.0 && x.is_finite() => Ok(*x as i64),
        other => Err(format!("expected an integer, found {other}")),
    }
}

fn value(v: &toml::Value) -> Result<Value, String> {
    match v {
        toml::Value::Float(x) => Ok(Value::Float(*x)),
        toml::Value::Integer(i) => Ok(Value::Int(*i)),
        toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
        toml::Value::String(s) => Ok(Value::Str(s.clone())),
        other => Err(format!("expected a number, string or boolean, found {other}")),
    }
}

fn values(vs: &[toml::Value]) -> Result<Vec<Value>, String> {
    vs.iter().map(value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smac_core::configspace::HpKind;

    fn space(text: &str) -> Result<ConfigSpace, CliError> {
        let t: toml::Table = toml::from_str(text).unwrap();
        from_toml("t", t["space"].as_table().unwrap())
    }

    #[test]
    fn every_type_and_a_condition() {
        let cs = space(
            r#"
            [space.lr]
            type = "float"
            lower = 1e-5
            upper = 1
            log = true
            default = 0.001
            [space.layers]
            type = "integer"
            lower = 1
            upper = 8
            [space.kernel]
            type = "categorical"
            choices = ["linear", "rbf"]
            default = "rbf"
            [space.gamma]
            type = "float"
            lower = 0.0
            upper = 1.0
            active_if = "kernel == rbf"
            [space.size]
            type = "ordinal"
            sequence = ["s", "m", "l"]
            [space.mode]
            type = "constant"
            value = "fast"
            "#,
        )
        .unwrap();
        let names: Vec<&str> = cs.hyperparameters().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["lr", "layers", "kernel", "gamma", "size", "mode"], "file order is kept");
        assert!(matches!(&cs.get("lr").unwrap().kind, HpKind::Float(f) if f.log && f.default == Some(0.001)));
        assert_eq!(cs.conditions().len(), 1);
        let cs = std::sync::Arc::new(cs);
        assert!(cs.default_configuration().is_active("gamma"));
    }

    #[test]
    fn errors_name_the_hyperparameter() {
        let msg = |t: &str| space(t).unwrap_err().to_string();
        assert!(msg("[space.x]\ntype = \"float\"\nlower = 0").contains("'x': type float needs 'upper'"));
        assert!(msg("[space.x]\ntype = \"float\"\nlower = 0\nupper = 1\nchoices = [1]").contains("'choices'"));
        assert!(msg("[space.x]\ntype = \"real\"").contains("unknown type 'real'"));
        assert!(msg("[space.x]\ntype = \"float\"\nlower = 2\nupper = 1").contains("'x'"));
        assert!(msg("[space.x]\ntype = \"float\"\nlower = 0\nupper = 1\nactive_if = \"y == 1\"")
            .contains("unknown hyperparameter 'y'"));
        assert!(msg("[space.x]\ntype = \"float\"\nlower = 0\nupper = 1\nlowr = 3").contains("lowr"));
    }
}
