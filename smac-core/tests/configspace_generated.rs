//! 200 random spaces written by Python ConfigSpace 1.2.2, together using every hyperparameter,
//! condition and forbidden type it has (`tests/fixtures/configspace/generated/make_spaces.py`),
//! are read and written back exactly, and sampled. Needs no Python; `tests/smac3_interop.rs`
//! has Python's `check_valid_configuration` check our samples of the same spaces.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value as Json;
use smac_core::configspace::{ConfigSpace, Value};
use smac_core::json_compat::round_places;
use std::path::Path;
use std::sync::Arc;

fn spaces() -> Vec<Json> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/configspace/generated/spaces.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let root: Json = serde_json::from_str(&text).unwrap();
    root["spaces"].as_array().unwrap().clone()
}

/// Weights are kept as floats: `[4, 3]` is written back as `[4.0, 3.0]` (equal in Python).
fn floats_in_weights(v: &Json) -> Json {
    let mut v = v.clone();
    if let Some(w) = v.get_mut("weights").and_then(Json::as_array_mut) {
        for x in w.iter_mut() {
            *x = Json::from(x.as_f64().unwrap());
        }
    }
    v
}

#[test]
fn every_generated_space_is_read_and_written_back_as_configspace_wrote_it() {
    let spaces = spaces();
    assert!(spaces.len() >= 200, "{} spaces", spaces.len());
    for raw in &spaces {
        let name = raw["name"].as_str().unwrap_or("?");
        let space = ConfigSpace::from_configspace_json(&raw.to_string())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{raw}"));
        let ours: Json = serde_json::from_str(&space.to_configspace_json()).unwrap();
        for key in ["hyperparameters", "conditions", "forbiddens"] {
            let (a, b) = (ours[key].as_array().unwrap(), raw[key].as_array().unwrap());
            assert_eq!(a.len(), b.len(), "{name}: number of {key}");
            for (x, y) in a.iter().zip(b) {
                assert_eq!(floats_in_weights(x), floats_in_weights(y), "{name}: {key} differ");
            }
        }
        let again = ConfigSpace::from_configspace_json(&space.to_configspace_json()).unwrap();
        assert_eq!(space, again, "{name}: reading our output gives the same space");
    }
}

#[test]
fn every_generated_space_samples() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for raw in spaces() {
        let space = Arc::new(ConfigSpace::from_configspace_json(&raw.to_string()).unwrap());
        let samples = space.sample(200, &mut rng).unwrap();
        assert_eq!(samples.len(), 200);
        // Float values carry ConfigSpace's rounding to 13 places, as SMAC3's runhistory has them.
        for c in &samples {
            for (name, v) in c.iter() {
                if let Value::Float(x) = v {
                    assert_eq!(*x, round_places(*x), "{name} = {x} is not rounded");
                }
            }
        }
    }
}
