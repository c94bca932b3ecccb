//! Bounded fuzzing (proptest, run in CI) of the ConfigSpace JSON reader: arbitrary text and
//! structured mutations of real ConfigSpace files are either a space or a typed error — never a
//! panic, an abort or a hang. A space that loads must also survive writing and re-reading and
//! sampling (the reader must not admit a space the rest of the code cannot handle).

use proptest::prelude::*;
use rand::SeedableRng;
use serde_json::Value as Json;
use smac_core::ConfigSpace;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The fixtures that Python's ConfigSpace 1.2 wrote, parsed.
fn seeds() -> &'static [Json] {
    static SEEDS: OnceLock<Vec<Json>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/configspace");
        ["hyperparameter_types", "svm", "mixed_conditional", "nested_conditions", "forbiddens"]
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(dir.join(format!("{n}.json"))).unwrap();
                serde_json::from_str(&text).unwrap()
            })
            .collect()
    })
}

/// Values a mutation may put anywhere: wrong types, extremes, odd strings, deep nesting.
fn hostile_value() -> impl Strategy<Value = Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        prop_oneof![
            Just(f64::MAX),
            Just(-f64::MAX),
            Just(f64::MIN_POSITIVE),
            Just(0.0),
            Just(-1.0),
            Just(1e300)
        ]
        .prop_map(Json::from),
        "[a-z_]{0,6}".prop_map(Json::from),
        Just(Json::from("uniform_float")),
        Just(Json::from("categorical")),
        Just(Json::from("EQ")),
        Just(Json::from("AND")),
        (0usize..3000).prop_map(|d| (0..d).fold(Json::Null, |inner, _| Json::Array(vec![inner]))),
        proptest::collection::vec(any::<i32>().prop_map(Json::from), 0..40).prop_map(Json::Array),
    ]
}

/// Replaces the value at a pseudo-random path of `doc` (chosen by `pick`) with `with`.
fn mutate(doc: &mut Json, mut pick: u64, with: Json) {
    let mut at = doc;
    loop {
        let len = match at {
            Json::Object(m) => m.len(),
            Json::Array(a) => a.len(),
            _ => 0,
        };
        if len == 0 || pick % 3 == 0 {
            *at = with;
            return;
        }
        let i = (pick / 3) as usize % len;
        pick /= 7;
        at = match at {
            Json::Object(m) => m.values_mut().nth(i).unwrap(),
            Json::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
}

/// Loads `text`; if it is a space, round-trips and samples it.
fn exercise(text: &str) {
    if let Ok(space) = ConfigSpace::from_configspace_json(text) {
        let again = ConfigSpace::from_configspace_json(&space.to_configspace_json())
            .expect("a space we wrote must load again");
        let space = Arc::new(again);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let _ = space.sample(3, &mut rng);
        let _ = space.default_configuration();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_is_a_space_or_an_error(text in "\\PC{0,400}") {
        exercise(&text);
    }

    #[test]
    fn mutated_configspace_files_are_a_space_or_an_error(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<u64>(), hostile_value()), 1..4),
        cut in proptest::option::weighted(0.15, any::<usize>()),
    ) {
        let mut doc = seeds()[which].clone();
        for (pick, with) in edits {
            mutate(&mut doc, pick, with);
        }
        let mut text = serde_json::to_string(&doc).unwrap();
        if let Some(cut) = cut {
            let mut at = cut % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        exercise(&text);
    }
}
