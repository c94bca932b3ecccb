//! Compatibility with the JSON format of Python ConfigSpace 1.x, checked against fixtures that
//! the real package wrote (`tests/fixtures/configspace/make_fixtures.py`). Needs no Python.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value as Json};
use smac_core::{
    Condition, ConfigSpace, ConfigSpaceError, Configuration, Forbidden, Hyperparameter, Relation,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The spaces written by ConfigSpace (each with `.samples.json` and `.default.json`).
const FIXTURES: [&str; 5] =
    ["hyperparameter_types", "svm", "mixed_conditional", "nested_conditions", "forbiddens"];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/configspace")
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str) -> (Arc<ConfigSpace>, Json) {
    let path = fixture_dir().join(format!("{name}.json"));
    let space = ConfigSpace::load_json(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    (Arc::new(space), read_json(&path))
}

#[test]
fn fixtures_load_and_are_written_back_exactly_as_python_wrote_them() {
    for name in FIXTURES {
        let (space, raw) = load(name);
        assert_eq!(space.name(), Some(name));
        assert_eq!(space.len(), raw["hyperparameters"].as_array().unwrap().len(), "{name}");
        // Same keys, type strings, values and order as ConfigSpace's own output.
        let ours: Json = serde_json::from_str(&space.to_configspace_json()).unwrap();
        assert_eq!(ours, raw, "{name}: our JSON differs from ConfigSpace's");
    }
}

#[test]
fn load_save_load_gives_an_equal_space() {
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let (space, _) = load(name);
        let again = ConfigSpace::from_configspace_json(&space.to_configspace_json()).unwrap();
        assert_eq!(*space, again, "{name}");
        let path = dir.path().join(format!("{name}.json"));
        space.save_json(&path).unwrap();
        assert_eq!(*space, ConfigSpace::load_json(&path).unwrap(), "{name}");
    }
}

/// A space built with the Rust API: computed defaults, weights, meta, OR, a relation.
fn built_space() -> ConfigSpace {
    let mut cs = ConfigSpace::new("built");
    let mut lr = Hyperparameter::float("lr", 1e-4, 1.0).log();
    lr.meta = Some(r#"{"unit":"1/step"}"#.into());
    cs.add_all([
        Hyperparameter::categorical("opt", ["sgd", "adam"]).weights([1.0, 3.0]),
        lr,
        Hyperparameter::integer("layers", 0, 5),
        Hyperparameter::ordinal("size", [16, 32, 64]).default_value(32),
        Hyperparameter::constant("seed", 3),
        Hyperparameter::categorical("nesterov", [true, false]),
    ])
    .unwrap();
    cs.add_condition(Condition::equals("nesterov", "opt", "sgd")).unwrap();
    cs.add_condition(Condition::Or(vec![
        Condition::less_than("layers", "lr", 0.5),
        Condition::greater_than("layers", "size", 16),
    ]))
    .unwrap();
    cs.add_forbidden(Forbidden::relation("layers", Relation::GreaterThan, "seed")).unwrap();
    cs
}

#[test]
fn a_space_built_in_rust_round_trips() {
    let cs = built_space();
    let text = cs.to_configspace_json();
    assert_eq!(ConfigSpace::from_configspace_json(&text).unwrap(), cs);
    let raw: Json = serde_json::from_str(&text).unwrap();
    let hps = raw["hyperparameters"].as_array().unwrap();
    assert_eq!(hps[0]["default_value"], "adam", "computed defaults are written out");
    assert_eq!(hps[1]["meta"]["unit"], "1/step", "meta is written as an object");
    assert_eq!(raw["conditions"][1]["type"], "OR");
    assert_eq!(raw["conditions"][1]["child"], "layers");
    assert_eq!(raw["forbiddens"][0]["type"], "RELATION_GT");
}

#[test]
fn every_python_sample_is_a_valid_configuration() {
    for name in FIXTURES {
        let (space, raw) = load(name);
        let samples = read_json(&fixture_dir().join(format!("{name}.samples.json")));
        let samples = samples.as_array().unwrap();
        assert_eq!(samples.len(), 200);
        for s in samples {
            Configuration::from_json(&space, s).unwrap_or_else(|e| panic!("{name}: {s} rejected: {e}"));
            // Also validates the independent checker against ConfigSpace's own sampler.
            check_by_hand(&raw, s.as_object().unwrap()).unwrap_or_else(|e| panic!("{name}: {s}: {e}"));
        }
    }
}

#[test]
fn defaults_equal_pythons() {
    for name in FIXTURES {
        let (space, _) = load(name);
        let python = read_json(&fixture_dir().join(format!("{name}.default.json")));
        let ours = space.default_configuration().to_json();
        let (python, ours) = (python.as_object().unwrap(), ours.as_object().unwrap());
        assert_eq!(python.keys().collect::<Vec<_>>().len(), ours.len(), "{name}: {ours:?} vs {python:?}");
        for (k, v) in python {
            let mine = ours.get(k).unwrap_or_else(|| panic!("{name}: default lacks '{k}'"));
            assert!(same(mine, v), "{name}: default of '{k}' is {mine}, ConfigSpace says {v}");
        }
    }
}

#[test]
fn thousands_of_our_samples_satisfy_conditions_and_forbiddens() {
    for name in FIXTURES {
        let (space, raw) = load(name);
        let hps = raw["hyperparameters"].as_array().unwrap();
        let mut active = vec![0usize; hps.len()];
        let n_seeds = 1_000;
        for seed in 0..n_seeds {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for c in space.sample(4, &mut rng).unwrap() {
                let json = c.to_json();
                check_by_hand(&raw, json.as_object().unwrap()).unwrap_or_else(|e| panic!("{name}: {c}: {e}"));
                for (k, hp) in hps.iter().enumerate() {
                    active[k] += c.is_active(hp["name"].as_str().unwrap()) as usize;
                }
            }
        }
        // Every hyperparameter is sometimes active, and every conditional one sometimes not.
        for (hp, n) in hps.iter().zip(active) {
            let conditional = condition_of(&raw, hp["name"].as_str().unwrap()).is_some();
            assert!(
                n > 0 && (!conditional || n < 4 * n_seeds as usize),
                "{name}: {} active {n}×",
                hp["name"]
            );
        }
    }
}

#[test]
fn the_independent_checker_catches_violations() {
    let (_, raw) = load("forbiddens");
    let ok = serde_json::json!({"a": 0, "algo": "adam", "b": 3, "batch": 32, "hi": 8, "lo": 2,
                                "loss": "log", "x": 0.2, "y": 0.8});
    let ok = ok.as_object().unwrap();
    check_by_hand(&raw, ok).unwrap();
    let with = |k: &str, v: Json| {
        let mut c = ok.clone();
        c.insert(k.into(), v);
        check_by_hand(&raw, &c)
    };
    assert!(with("loss", "squared".into()).is_err(), "EQUALS");
    assert!(with("batch", 2.into()).is_err(), "IN");
    assert!(with("b", 0.into()).is_err(), "RELATION_EQ");
    assert!(with("lo", 9.into()).is_err(), "RELATION_GT");
    assert!(with("y", 0.1.into()).is_err(), "RELATION_LT");
    assert!(with("momentum", 0.5.into()).is_err(), "inactive child set");
    assert!(with("x", 1.5.into()).is_err(), "out of bounds");
    let mut sgd = ok.clone();
    sgd.insert("algo".into(), "sgd".into());
    assert!(check_by_hand(&raw, &sgd).is_err(), "active children missing");
    sgd.insert("momentum".into(), 0.5.into());
    sgd.insert("nesterov".into(), true.into());
    assert!(check_by_hand(&raw, &sgd).is_err(), "AND over a conditional hyperparameter");
    sgd.insert("nesterov".into(), false.into());
    check_by_hand(&raw, &sgd).unwrap();

    let (_, raw) = load("nested_conditions");
    let deep = serde_json::json!({"level": "low", "model": "tree", "depth": 5, "min_split": 5,
                                  "split_frac": 0.5});
    let mut deep = deep.as_object().unwrap().clone();
    check_by_hand(&raw, &deep).unwrap();
    deep.insert("min_split".into(), 20.into()); // great-grandchild must now be inactive
    assert!(check_by_hand(&raw, &deep).is_err());
    deep.remove("split_frac");
    check_by_hand(&raw, &deep).unwrap();
    deep.insert("level".into(), "medium".into()); // ordinal GT: verbose becomes active
    assert!(check_by_hand(&raw, &deep).is_err());
}

#[test]
fn invalid_fixtures_give_typed_errors() {
    let load_invalid =
        |file: &str| ConfigSpace::load_json(&fixture_dir().join("invalid").join(file)).unwrap_err();
    match load_invalid("unknown_hyperparameter_type.json") {
        ConfigSpaceError::UnsupportedType { name, type_name, .. } => {
            assert_eq!((name.as_str(), type_name.as_str()), ("z", "uniform_complex"))
        }
        e => panic!("unexpected {e:?}"),
    }
    match load_invalid("unknown_condition_parent.json") {
        ConfigSpaceError::UnknownHyperparameter { name, context } => {
            assert_eq!(name, "kernal");
            assert!(context.contains("gamma"), "{context}");
        }
        e => panic!("unexpected {e:?}"),
    }
    match load_invalid("lower_greater_than_upper.json") {
        ConfigSpaceError::InvalidHyperparameter { name, .. } => assert_eq!(name, "n"),
        e => panic!("unexpected {e:?}"),
    }
    match load_invalid("does_not_exist.json") {
        ConfigSpaceError::Json { path: Some(p), .. } => assert!(p.ends_with("does_not_exist.json")),
        e => panic!("unexpected {e:?}"),
    }
}

/// JSON text of a space with an integer `a`, the given hyperparameter, conditions and forbiddens.
fn space_with(hp: &str, conditions: &str, forbiddens: &str) -> String {
    format!(
        r#"{{"hyperparameters": [{{"type": "uniform_int", "name": "a", "lower": 0, "upper": 9}}, {hp}],
            "conditions": [{conditions}], "forbiddens": [{forbiddens}]}}"#
    )
}

#[test]
fn malformed_items_are_named_and_legacy_forms_are_read() {
    let x = r#"{"type": "uniform_float", "name": "x", "lower": 0.0, "upper": 1.0}"#;
    // Missing key: the error names the hyperparameter and the key.
    let e =
        ConfigSpace::from_configspace_json(&space_with(r#"{"type": "uniform_float", "name": "x"}"#, "", ""))
            .unwrap_err();
    assert!(
        matches!(&e, ConfigSpaceError::Json { reason, .. } if reason.contains("'x'") && reason.contains("lower"))
    );
    // Every ConfigSpace 1.x forbidden kind is read, and an error inside an OR nested in an AND
    // names the hyperparameter.
    let all = r#"{"type": "OR", "clauses": [{"type": "CLAUSE_LT", "name": "x", "value": 0.1},
        {"type": "AND", "clauses": [{"type": "CLAUSE_GE", "name": "a", "value": 8},
            {"type": "RELATION_LE", "left": "a", "right": "x"}]}]}"#;
    let cs = ConfigSpace::from_configspace_json(&space_with(x, "", all)).unwrap();
    assert!(matches!(&cs.forbiddens()[0], Forbidden::Or(c) if c.len() == 2));
    let back = ConfigSpace::from_configspace_json(&cs.to_configspace_json()).unwrap();
    assert_eq!(back.forbiddens(), cs.forbiddens());
    let bad = r#"{"type": "AND", "clauses": [{"type": "OR", "clauses": [{"type": "CLAUSE_XX", "name": "x", "value": 0.1}]}]}"#;
    let e = ConfigSpace::from_configspace_json(&space_with(x, "", bad)).unwrap_err();
    assert!(
        matches!(&e, ConfigSpaceError::UnsupportedType { name, type_name, .. } if name == "x" && type_name == "CLAUSE_XX"),
        "{e}"
    );
    // A condition whose type is unknown names its child.
    let cond = r#"{"type": "LE", "child": "x", "parent": "a", "value": 3}"#;
    let e = ConfigSpace::from_configspace_json(&space_with(x, cond, "")).unwrap_err();
    assert!(matches!(&e, ConfigSpaceError::UnsupportedType { name, .. } if name == "x"), "{e}");
    // Legacy `default` key and `RELATION` forbiddens (older ConfigSpace) are read.
    let legacy =
        r#"{"type": "uniform_float", "name": "x", "lower": 0.0, "upper": 1.0, "default": 0.25, "q": null}"#;
    let relation = r#"{"type": "RELATION", "left": "a", "right": "x", "lambda": "LT"}"#;
    let cs = ConfigSpace::from_configspace_json(&space_with(legacy, "", relation)).unwrap();
    assert_eq!(cs.get("x").unwrap().default().as_f64(), Some(0.25));
    assert_eq!(cs.forbiddens(), &[Forbidden::relation("a", Relation::LessThan, "x")]);
}

/// Writes every fixture (and a Rust-built space) back out for a check with Python ConfigSpace:
/// `CONFIGSPACE_EXPORT_DIR=/tmp/out cargo test -p smac-core --test configspace_json -- --ignored`.
#[test]
#[ignore = "writes files for a manual check with Python ConfigSpace"]
fn export_for_python() {
    let dir = PathBuf::from(std::env::var("CONFIGSPACE_EXPORT_DIR").expect("set CONFIGSPACE_EXPORT_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    for name in FIXTURES {
        load(name).0.save_json(&dir.join(format!("{name}.json"))).unwrap();
    }
    built_space().save_json(&dir.join("built.json")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// An independent checker that works on the fixture's raw JSON, not on our compiled space.

/// Loose equality of JSON scalars: numbers by value, everything else exactly.
fn same(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

fn hyperparameter<'a>(raw: &'a Json, name: &str) -> &'a Json {
    raw["hyperparameters"].as_array().unwrap().iter().find(|h| h["name"] == name).unwrap()
}

fn condition_of<'a>(raw: &'a Json, child: &str) -> Option<&'a Json> {
    raw["conditions"].as_array().unwrap().iter().find(|c| c["child"] == child)
}

/// A position on the hyperparameter's order: the value itself, or the index in an ordinal.
fn rank(hp: &Json, v: &Json) -> f64 {
    match hp["type"].as_str().unwrap() {
        "ordinal" => hp["sequence"].as_array().unwrap().iter().position(|s| same(s, v)).unwrap() as f64,
        _ => v.as_f64().unwrap(),
    }
}

fn condition_holds(raw: &Json, c: &Json, config: &Map<String, Json>) -> bool {
    let parts = || c["conditions"].as_array().unwrap().iter();
    match c["type"].as_str().unwrap() {
        "AND" => parts().all(|p| condition_holds(raw, p, config)),
        "OR" => parts().any(|p| condition_holds(raw, p, config)),
        t => {
            let parent = c["parent"].as_str().unwrap();
            let Some(v) = config.get(parent) else { return false }; // inactive parent
            let hp = hyperparameter(raw, parent);
            match t {
                "EQ" => same(v, &c["value"]),
                "NEQ" => !same(v, &c["value"]),
                "IN" => c["values"].as_array().unwrap().iter().any(|x| same(v, x)),
                "LT" => rank(hp, v) < rank(hp, &c["value"]),
                "GT" => rank(hp, v) > rank(hp, &c["value"]),
                other => panic!("unknown condition {other}"),
            }
        }
    }
}

fn forbidden_matches(f: &Json, config: &Map<String, Json>) -> bool {
    let get = |key: &str| config.get(f[key].as_str().unwrap());
    let num = |key: &str| get(key).map(|v| v.as_f64().unwrap());
    match f["type"].as_str().unwrap() {
        "EQUALS" => get("name").is_some_and(|v| same(v, &f["value"])),
        "IN" => get("name").is_some_and(|v| f["values"].as_array().unwrap().iter().any(|x| same(v, x))),
        "AND" => f["clauses"].as_array().unwrap().iter().all(|c| forbidden_matches(c, config)),
        "RELATION_EQ" => matches!((get("left"), get("right")), (Some(l), Some(r)) if same(l, r)),
        "RELATION_LT" => matches!((num("left"), num("right")), (Some(l), Some(r)) if l < r),
        "RELATION_GT" => matches!((num("left"), num("right")), (Some(l), Some(r)) if l > r),
        other => panic!("unknown forbidden {other}"),
    }
}

fn legal(hp: &Json, v: &Json) -> bool {
    let in_list = |key: &str| hp[key].as_array().unwrap().iter().any(|x| same(x, v));
    match hp["type"].as_str().unwrap() {
        "uniform_float" => v
            .as_f64()
            .is_some_and(|x| hp["lower"].as_f64().unwrap() <= x && x <= hp["upper"].as_f64().unwrap()),
        "uniform_int" => v
            .as_i64()
            .is_some_and(|x| hp["lower"].as_i64().unwrap() <= x && x <= hp["upper"].as_i64().unwrap()),
        "categorical" => in_list("choices"),
        "ordinal" => in_list("sequence"),
        "constant" => same(&hp["value"], v),
        other => panic!("unknown hyperparameter type {other}"),
    }
}

/// Checks a configuration (active values only) against the raw JSON of its space.
fn check_by_hand(raw: &Json, config: &Map<String, Json>) -> Result<(), String> {
    for name in config.keys() {
        if !raw["hyperparameters"].as_array().unwrap().iter().any(|h| h["name"] == name.as_str()) {
            return Err(format!("unknown hyperparameter '{name}'"));
        }
    }
    for hp in raw["hyperparameters"].as_array().unwrap() {
        let name = hp["name"].as_str().unwrap();
        let should_be_active = condition_of(raw, name).is_none_or(|c| condition_holds(raw, c, config));
        match config.get(name) {
            Some(v) if !should_be_active => return Err(format!("'{name}' = {v} but its condition fails")),
            Some(v) if !legal(hp, v) => return Err(format!("'{name}' = {v} is not legal")),
            None if should_be_active => return Err(format!("'{name}' is missing but active")),
            _ => {}
        }
    }
    match raw["forbiddens"].as_array().unwrap().iter().find(|f| forbidden_matches(f, config)) {
        Some(f) => Err(format!("violates forbidden {f}")),
        None => Ok(()),
    }
}

#[test]
fn a_categorical_with_a_hundred_thousand_choices_loads_and_names_a_duplicate() {
    // Pairwise duplicate checks made 40k choices take seconds and 4M never finish.
    let choices: Vec<serde_json::Value> = (0..100_000).map(|i| format!("v{i}").into()).collect();
    let space = |choices: &[serde_json::Value]| {
        serde_json::json!({
            "name": "wide",
            "hyperparameters": [{"type": "categorical", "name": "c", "choices": choices,
                                 "weights": null, "default_value": "v0", "meta": null}],
            "conditions": [], "forbiddens": [], "python_module_version": "1.2.2", "format_version": 0.4
        })
        .to_string()
    };
    let cs = ConfigSpace::from_configspace_json(&space(&choices)).unwrap();
    let back = ConfigSpace::from_configspace_json(&cs.to_configspace_json()).unwrap();
    assert_eq!(cs, back);
    let mut dup = choices.clone();
    dup.push("v99999".into());
    let err = ConfigSpace::from_configspace_json(&space(&dup)).unwrap_err().to_string();
    assert!(err.contains("v99999") && err.contains("twice"), "{err}");
    // Numbers compare by value: 1 and 1.0 are the same choice.
    let nums = serde_json::json!([1, 2, 1.0]);
    let err = ConfigSpace::from_configspace_json(&space(nums.as_array().unwrap())).unwrap_err().to_string();
    assert!(err.contains("twice"), "{err}");
}
