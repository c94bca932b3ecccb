//! Unit tests of hyperparameter encoding, defaults, validation and sampling.
use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn integer_encoding_round_trips_and_is_uniform() {
    let hp = Hyperparameter::integer("k", 1, 4);
    for v in 1..=4 {
        let x = hp.to_vector(&Value::Int(v)).unwrap();
        assert_eq!(hp.from_vector(x), Value::Int(v));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut counts = [0usize; 4];
    for _ in 0..40_000 {
        let v = hp.from_vector(hp.sample_vector(&mut rng)).as_i64().unwrap();
        counts[(v - 1) as usize] += 1;
    }
    for c in counts {
        assert!((9_000..11_000).contains(&c), "counts {counts:?}");
    }
}

#[test]
fn log_float_round_trips() {
    let hp = Hyperparameter::float("lr", 1e-5, 1.0).log();
    let x = hp.to_vector(&Value::Float(1e-3)).unwrap();
    assert!((x - 0.4).abs() < 1e-12);
    assert!((hp.from_vector(x).as_f64().unwrap() - 1e-3).abs() < 1e-15);
    assert!((hp.default().as_f64().unwrap() - 10f64.powf(-2.5)).abs() < 1e-12);
}

#[test]
fn unset_and_explicit_midpoint_defaults_define_the_same_hyperparameter() {
    let unset = Hyperparameter::float("x", 0.0, 4.0);
    assert!(unset.same_definition(&Hyperparameter::float("x", 0.0, 4.0).default_value(2.0)));
    assert!(!unset.same_definition(&Hyperparameter::float("x", 0.0, 4.0).default_value(1.0)));
    assert!(!unset.same_definition(&Hyperparameter::float("y", 0.0, 4.0)));
}

#[test]
fn validation_names_the_problem() {
    let e = Hyperparameter::float("x", 1.0, 1.0).validate().unwrap_err();
    assert!(e.to_string().contains("'x'") && e.to_string().contains("lower"), "{e}");
    let e = Hyperparameter::float("y", 0.0, 1.0).log().validate().unwrap_err();
    assert!(e.to_string().contains("log"), "{e}");
    let e = Hyperparameter::categorical("c", ["a", "b"]).default_value("z").validate().unwrap_err();
    assert!(e.to_string().contains("choices"), "{e}");
    let e = Hyperparameter::integer("i", 0, 5).default_value(9).validate().unwrap_err();
    assert!(e.to_string().contains("outside"), "{e}");
    assert!(Hyperparameter::categorical("c", ["a", "a"]).validate().is_err());
}

#[test]
fn neighbours_are_distinct_and_exclude_self() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let hp = Hyperparameter::integer("k", 0, 2);
    let x = hp.to_vector(&Value::Int(1)).unwrap();
    let n = hp.neighbours_vector(x, 4, NEIGHBOUR_STDEV, &mut rng);
    assert!(n.len() <= 2 && !n.contains(&x));
    let ord = Hyperparameter::ordinal("o", ["lo", "mid", "hi"]);
    let x = ord.to_vector(&"lo".into()).unwrap();
    let n = ord.neighbours_vector(x, 4, NEIGHBOUR_STDEV, &mut rng);
    assert_eq!(n.len(), 1);
    assert_eq!(ord.from_vector(n[0]), Value::from("mid"));
    let cat = Hyperparameter::categorical("c", [1, 2, 3]);
    assert_eq!(cat.neighbours_vector(1.0, 4, NEIGHBOUR_STDEV, &mut rng), vec![0.0, 2.0]);
    // A tiny step never leaves an integer stuck: its adjacent values are offered.
    let k = Hyperparameter::integer("k", 0, 100);
    let x = k.to_vector(&Value::Int(50)).unwrap();
    let n: Vec<Value> =
        k.neighbours_vector(x, 4, 1e-6, &mut rng).into_iter().map(|v| k.from_vector(v)).collect();
    assert_eq!(n, vec![Value::Int(49), Value::Int(51)]);
}

#[test]
fn weighted_categorical_samples_by_weight() {
    let hp = Hyperparameter::categorical("c", ["a", "b"]).weights([1.0, 3.0]);
    assert_eq!(hp.default(), Value::from("b"));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n_b = (0..10_000).filter(|_| hp.sample_vector(&mut rng) == 1.0).count();
    assert!((7_000..8_000).contains(&n_b), "{n_b}");
}
