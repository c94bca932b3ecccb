//! Bounded fuzzing (proptest, run in CI) of the scenario file and of `active_if` conditions:
//! random token soups and TOML assembled from real keys and hostile values are a run
//! specification or a typed error — never a panic, a stack overflow or a hang.

use super::args::OptimizeArgs;
use super::{condition, scenario_file};
use clap::Parser;
use proptest::prelude::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    optimize: OptimizeArgs,
}

/// Tokens of the condition language, and some that are not.
fn condition_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("a"),
        Just("b"),
        Just("kernel"),
        Just("=="),
        Just("!="),
        Just("<"),
        Just(">"),
        Just("in"),
        Just("&&"),
        Just("||"),
        Just("and"),
        Just("or"),
        Just("("),
        Just(")"),
        Just("{"),
        Just("}"),
        Just(","),
        Just("'rbf'"),
        Just("\"x\""),
        Just("1"),
        Just("-2.5e3"),
        Just("nan"),
        Just("'"),
        Just("\u{e9}"),
        Just("\\"),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|t| t.join(" "))
}

/// One value of a scenario key: the right type or not.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("-1".to_string()),
        Just("0.5".to_string()),
        Just("1e400".to_string()),
        Just("nan".to_string()),
        Just("true".to_string()),
        Just("\"float\"".to_string()),
        Just("\"integer\"".to_string()),
        Just("\"categorical\"".to_string()),
        Just("\"hpo\"".to_string()),
        Just("[\"a\", \"b\"]".to_string()),
        Just("[]".to_string()),
        Just("[1, \"x\", true]".to_string()),
        Just("{ GPU = 1 }".to_string()),
        condition_text().prop_map(|c| format!("{c:?}")),
        (0usize..200).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
    ]
}

/// Unique `key = value` lines, each present or not: mostly a value of the key's type (so the
/// checks behind the TOML parser are reached), sometimes a hostile one.
fn entries(keys: &'static [(&'static str, &'static [&'static str])]) -> impl Strategy<Value = Vec<String>> {
    let one = |(k, good): (&'static str, &'static [&'static str])| {
        let value = prop_oneof![
            12 => proptest::sample::select(good).prop_map(str::to_string),
            1 => toml_value(),
        ];
        proptest::option::weighted(0.5, value).prop_map(move |v| v.map(|v| format!("{k} = {v}")))
    };
    keys.iter().map(|&kv| one(kv)).collect::<Vec<_>>().prop_map(|v| v.into_iter().flatten().collect())
}

/// A scenario file with real keys, real tables and hostile values, sometimes with a line of
/// garbage.
fn scenario_text() -> impl Strategy<Value = String> {
    const TOP: &[(&str, &[&str])] = &[
        ("n_trials", &["0", "5", "100000000000"]),
        ("facade", &["\"hpo\"", "\"bb\"", "\"mf\"", "\"ac\"", "\"hb\"", "\"random\"", "\"x\""]),
        ("seed", &["0", "7"]),
        ("n_workers", &["0", "1", "4"]),
        ("deterministic", &["true", "false"]),
        ("min_budget", &["1", "0", "-1", "100"]),
        ("max_budget", &["1", "27", "0.5"]),
        ("instances", &["[\"i1\", \"i2\"]", "[]"]),
        ("objectives", &["\"cost\"", "[\"a\", \"b\"]", "[]"]),
        ("crash_cost", &["1e9", "[1, 2]", "inf"]),
        ("trial_memory_limit", &["0", "100"]),
        ("walltime_limit", &["0", "-5", "10.5", "inf"]),
    ];
    const HP: &[(&str, &[&str])] = &[
        ("type", &["\"float\"", "\"integer\"", "\"categorical\"", "\"ordinal\"", "\"constant\"", "\"?\""]),
        ("lower", &["0", "-1e308", "1", "5"]),
        ("upper", &["1", "1e308", "0", "10"]),
        ("log", &["true", "false"]),
        ("default", &["0.5", "1", "\"rbf\"", "-3"]),
        ("choices", &["[\"rbf\", \"linear\"]", "[1, 2, 2]", "[]"]),
        (
            "active_if",
            &["\"kernel == 'rbf'\"", "\"a > 0.5 && b < 3\"", "\"b in {1, 2}\"", "\"a == 1 || (b != 2)\""],
        ),
    ];
    const TARGET: &[(&str, &[&str])] = &[("command", &["[\"./t.sh\"]", "[]", "\"t.sh\""])];
    const CLUSTER: &[(&str, &[&str])] = &[
        ("scheduler_file", &["\"s.json\""]),
        ("resources", &["{ GPU = 1 }", "\"GPU=1\"", "{ GPU = -1 }"]),
        ("patience", &["0", "5", "-1"]),
        ("max_retries", &["0", "3"]),
    ];
    (
        entries(TOP),
        proptest::collection::vec((prop_oneof![Just("a"), Just("b"), Just("kernel")], entries(HP)), 0..4),
        entries(TARGET),
        entries(CLUSTER),
        proptest::option::weighted(0.1, "\\PC{0,30}"),
    )
        .prop_map(|(top, hps, target, cluster, garbage)| {
            let mut out = top;
            let mut seen = std::collections::BTreeSet::new();
            for (name, lines) in hps {
                if seen.insert(name) {
                    out.push(format!("[space.{name}]"));
                    out.extend(lines);
                }
            }
            out.push("[target]".into());
            out.extend(target);
            out.push("[cluster]".into());
            out.extend(cluster);
            out.extend(garbage);
            out.join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_condition_text_parses_or_is_an_error(text in condition_text()) {
        let _ = condition::parse(&text);
    }

    #[test]
    fn any_scenario_file_is_a_run_spec_or_a_typed_error(text in scenario_text()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scenario.toml");
        std::fs::write(&path, &text).unwrap();
        let cli = Cli::try_parse_from(["smac", "--scenario", path.to_str().unwrap()]).unwrap();
        let _ = scenario_file::resolve(&cli.optimize);
    }
}
