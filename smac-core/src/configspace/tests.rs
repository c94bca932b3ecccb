use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// kernel → degree (poly) / gamma (rbf, poly) → coef (gamma > 0.5, three levels deep).
fn svm_space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("svm");
    cs.add_all([
        Hyperparameter::categorical("kernel", ["linear", "poly", "rbf"]).default_value("rbf"),
        Hyperparameter::integer("degree", 1, 5).default_value(2),
        Hyperparameter::float("gamma", 1e-4, 10.0).log().default_value(0.1),
        Hyperparameter::float("coef", 0.0, 1.0),
        Hyperparameter::float("C", 1e-3, 1e3).log(),
        Hyperparameter::categorical("shrinking", [true, false]),
    ])
    .unwrap();
    cs.add_condition(Condition::equals("degree", "kernel", "poly")).unwrap();
    cs.add_condition(Condition::is_in("gamma", "kernel", ["rbf", "poly"])).unwrap();
    cs.add_condition(Condition::greater_than("coef", "gamma", 0.5)).unwrap();
    cs.add_forbidden(Forbidden::and([Forbidden::equals("kernel", "poly"), Forbidden::equals("degree", 5)]))
        .unwrap();
    cs.add_forbidden(Forbidden::and([
        Forbidden::equals("shrinking", false),
        Forbidden::equals("kernel", "linear"),
    ]))
    .unwrap();
    Arc::new(cs)
}

fn check_by_hand(c: &Configuration) {
    let kernel = c.get_str("kernel").unwrap();
    assert_eq!(c.is_active("degree"), kernel == "poly", "{c}");
    assert_eq!(c.is_active("gamma"), kernel != "linear", "{c}");
    assert_eq!(c.is_active("coef"), c.get_f64("gamma").is_some_and(|g| g > 0.5), "{c}");
    assert!(!(kernel == "poly" && c.get_i64("degree") == Some(5)), "{c}");
    assert!(!(kernel == "linear" && c.get_bool("shrinking") == Some(false)), "{c}");
}

#[test]
fn samples_satisfy_conditions_and_forbiddens() {
    let cs = svm_space();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let samples = cs.sample(5_000, &mut rng).unwrap();
    for c in &samples {
        check_by_hand(c);
        cs.check_vector(c.vector()).unwrap();
    }
    // Every level of nesting is actually exercised.
    assert!(samples.iter().any(|c| c.is_active("coef")));
    assert!(samples.iter().any(|c| c.is_active("degree")));
}

#[test]
fn default_configuration_follows_conditions() {
    let cs = svm_space();
    let d = cs.default_configuration();
    assert_eq!(d.get_str("kernel"), Some("rbf"));
    assert!(!d.is_active("degree"));
    assert_eq!(d.get_f64("gamma"), Some(0.1));
    assert!(!d.is_active("coef"));
    assert_eq!(d.get_bool("shrinking"), Some(true));
}

#[test]
fn neighbours_are_valid_one_exchange_moves() {
    let cs = svm_space();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for c in cs.sample(200, &mut rng).unwrap() {
        let ns = c.neighbours(&mut rng);
        assert!(!ns.is_empty());
        for n in ns {
            check_by_hand(&n);
            cs.check_vector(n.vector()).unwrap();
            assert_ne!(n, c);
            // Exactly one of the hyperparameters active in both differs.
            let changed = cs
                .hyperparameters()
                .iter()
                .filter(|h| c.get(&h.name).is_some() && n.get(&h.name).is_some())
                .filter(|h| c.get(&h.name) != n.get(&h.name))
                .count();
            assert!(changed <= 1, "{c} -> {n}");
        }
    }
}

#[test]
fn user_configurations_are_validated() {
    let cs = svm_space();
    let ok = Configuration::new(
        &cs,
        [("kernel", Value::from("linear")), ("C", 1.0.into()), ("shrinking", true.into())],
    )
    .unwrap();
    assert_eq!(ok.get_f64("C"), Some(1.0));
    let missing =
        Configuration::new(&cs, [("kernel", Value::from("linear")), ("C", 1.0.into())]).unwrap_err();
    assert_eq!(missing, ConfigSpaceError::MissingValue { name: "shrinking".into() });
    let extra = Configuration::new(
        &cs,
        [
            ("kernel", Value::from("linear")),
            ("C", 1.0.into()),
            ("shrinking", true.into()),
            ("degree", 2.into()),
        ],
    )
    .unwrap_err();
    assert_eq!(extra, ConfigSpaceError::InactiveValue { name: "degree".into() });
    let unknown = Configuration::new(&cs, [("nope", 1)]).unwrap_err();
    assert!(matches!(unknown, ConfigSpaceError::UnknownHyperparameter { ref name, .. } if name == "nope"));
    let illegal = Configuration::new(
        &cs,
        [("kernel", Value::from("linear")), ("C", 1e9.into()), ("shrinking", true.into())],
    )
    .unwrap_err();
    assert!(matches!(illegal, ConfigSpaceError::IllegalValue { ref name, .. } if name == "C"));
    let forbidden = Configuration::new(
        &cs,
        [("kernel", Value::from("linear")), ("C", 1.0.into()), ("shrinking", false.into())],
    )
    .unwrap_err();
    assert!(matches!(forbidden, ConfigSpaceError::ForbiddenConfiguration { .. }), "{forbidden}");
    // Integers given as floats are accepted and stored as integers.
    let c = Configuration::new(
        &cs,
        [
            ("kernel", Value::from("poly")),
            ("degree", 3.0.into()),
            ("gamma", 0.1.into()),
            ("C", 1.into()),
            ("shrinking", true.into()),
        ],
    )
    .unwrap();
    assert_eq!(c.get("degree"), Some(&Value::Int(3)));
    assert_eq!(Configuration::from_json(&cs, &c.to_json()).unwrap(), c);
}

#[test]
fn malformed_spaces_are_rejected_with_names() {
    let mut cs = ConfigSpace::new("bad");
    cs.add(Hyperparameter::float("a", 0.0, 1.0)).unwrap();
    cs.add(Hyperparameter::float("b", 0.0, 1.0)).unwrap();
    assert!(matches!(
        cs.add(Hyperparameter::float("a", 0.0, 2.0)),
        Err(ConfigSpaceError::DuplicateHyperparameter { .. })
    ));
    let e = cs.add_condition(Condition::equals("b", "zz", 1.0)).unwrap_err();
    assert!(matches!(e, ConfigSpaceError::UnknownHyperparameter { ref name, .. } if name == "zz"));
    cs.add_condition(Condition::greater_than("b", "a", 0.5)).unwrap();
    let e = cs.add_condition(Condition::greater_than("a", "b", 0.5)).unwrap_err();
    assert!(matches!(e, ConfigSpaceError::CyclicConditions { .. }), "{e}");
    // The failed cycle left the space usable.
    assert_eq!(cs.conditions().len(), 1);
    let e = cs.add_condition(Condition::greater_than("b", "a", 0.2)).unwrap_err();
    assert!(matches!(e, ConfigSpaceError::DuplicateCondition { .. }));
    let e = cs.add_forbidden(Forbidden::equals("a", 0.5)).unwrap_err();
    assert!(matches!(e, ConfigSpaceError::ForbiddenDefault { .. }), "{e}");
    let mut cat = ConfigSpace::new("cat");
    cat.add(Hyperparameter::categorical("k", ["x", "y"])).unwrap();
    cat.add(Hyperparameter::float("v", 0.0, 1.0)).unwrap();
    let e = cat.add_condition(Condition::less_than("v", "k", "y")).unwrap_err();
    assert!(matches!(e, ConfigSpaceError::InvalidCondition { .. }), "{e}");
}

#[test]
fn space_serializes_and_rebuilds() {
    let cs = svm_space();
    let json = serde_json::to_string(&*cs).unwrap();
    let back: ConfigSpace = serde_json::from_str(&json).unwrap();
    assert_eq!(back, *cs);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let c = cs.sample(1, &mut rng).unwrap().pop().unwrap();
    let back: Configuration = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn unit_points_map_to_valid_vectors() {
    let cs = svm_space();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut n_valid = 0;
    for _ in 0..1_000 {
        let p: Vec<f64> = (0..cs.len()).map(|_| rng.random()).collect();
        if let Some(v) = cs.vector_from_unit_point(&p) {
            cs.check_vector(&v).unwrap();
            n_valid += 1;
        }
    }
    // About 23% of the cube is forbidden (poly∧degree=5: 1/15, linear∧¬shrinking: 1/6).
    assert!((700..850).contains(&n_valid), "{n_valid}");
}
