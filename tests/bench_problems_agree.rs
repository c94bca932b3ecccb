//! The benchmark catalogue is the same problem set in Rust (`smac::benchmarks`, what
//! `bench_suite` runs) and in Python (`benchmarks/peers/problems.py`, what the peers run):
//! same names, kinds and optima, the same spaces (names in order, types, bounds, defaults, conditions),
//! the same values, to the bit, at random configurations and at the minimizers,
//! and HPO tasks whose cost is deterministic and in [0, 1], whichever way they are called.
//!
//! Needs `SMAC_SMAC3_PYTHON` (a Python with smac 2.4.1, ConfigSpace 1.2.2 and scikit-learn, which
//! smac requires); `.venv-smac3` is found without it. Without either the test skips with a loud
//! message, except under `CI=true`, where it fails.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value as Json};
use smac::benchmarks;
use smac::core::configspace::HpKind;
use smac::{ConfigSpace, Configuration};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

fn python(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let var = "SMAC_SMAC3_PYTHON";
    let candidate = match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None => Some(root.join(".venv-smac3/bin/python")).filter(|p| p.exists()),
    };
    let Some(p) = candidate else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{test}: CI=true but neither {var} nor .venv-smac3 is there; utils/run-tests.sh creates it"
            );
        }
        eprintln!(
            "\n*** SKIPPED {test}: no Python with ConfigSpace 1.2.2 and scikit-learn. Set {var} or run \
             utils/run-tests.sh (it creates .venv-smac3). ***\n"
        );
        return None;
    };
    let out = Command::new(&p).args(["-c", "import ConfigSpace, sklearn, numpy"]).output();
    match out {
        Ok(o) if o.status.success() => Some(p),
        Ok(o) => panic!("{}: cannot import: {}", p.display(), String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("{}: cannot start: {e}", p.display()),
    }
}

/// Runs `script` with `args`, feeding `stdin` lines; returns stdout.
fn run(python: &Path, script: &str, args: &[&str], stdin: &[String]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut child = Command::new(python)
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        let mut input = child.stdin.take().expect("piped");
        for line in stdin {
            writeln!(input, "{line}").expect("write to python");
        }
    }
    let out = child.wait_with_output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One number per line, parsed exactly (std's parser rounds correctly; Python prints the
/// shortest text that reads back as the same double).
fn numbers(out: &str) -> Vec<f64> {
    out.lines()
        .map(|l| l.trim().parse::<f64>().unwrap_or_else(|e| panic!("not a number: {l:?} ({e})")))
        .collect()
}

/// The Rust side of every function and mixed problem: space, objective, optimum, a minimizer.
struct RustProblem {
    space: ConfigSpace,
    f: Box<dyn Fn(&Configuration) -> f64>,
    optimum: f64,
    minimizer: Vec<(String, smac::Value)>,
    kind: &'static str,
}

fn rust_problems() -> BTreeMap<String, RustProblem> {
    let mut all = BTreeMap::new();
    for b in benchmarks::functions() {
        let minimizer = b.minimizer.iter().enumerate().map(|(i, v)| (format!("x{i}"), (*v).into())).collect();
        let (space, optimum, name) = (b.configspace(), b.optimum, b.name.to_string());
        all.insert(
            name,
            RustProblem {
                space,
                f: Box::new(move |c| b.eval_config(c)),
                optimum,
                minimizer,
                kind: "function",
            },
        );
    }
    for p in benchmarks::mixed_problems() {
        let minimizer = p.minimizer().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let (space, optimum, name) = (p.configspace(), p.optimum, p.name.to_string());
        all.insert(
            name,
            RustProblem { space, f: Box::new(move |c| p.eval(c)), optimum, minimizer, kind: "mixed" },
        );
    }
    all
}

/// Hyperparameters in the same order (ConfigSpace's: by condition depth, then by name — the
/// Rust definitions follow it, so that both encode configurations as the same vectors and a run
/// of the Rust API and one of the Python package can be identical), and conditions as sorted text.
fn assert_same_space(name: &str, rust: &ConfigSpace, python: &ConfigSpace) {
    let names = |cs: &ConfigSpace| cs.hyperparameters().iter().map(|h| h.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(rust), names(python), "{name}: hyperparameter names in order");
    for h in rust.hyperparameters() {
        let p = python.get(&h.name).unwrap();
        let same = match (&h.kind, &p.kind) {
            // ConfigSpace keeps float bounds to 13 significant digits (π becomes 3.1415926535898).
            (HpKind::Float(a), HpKind::Float(b)) => {
                let near = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0);
                near(a.lower, b.lower)
                    && near(a.upper, b.upper)
                    && a.log == b.log
                    && a.prior == b.prior
                    && near(h.default().as_f64().unwrap(), p.default().as_f64().unwrap())
            }
            _ => h.same_definition(p),
        };
        assert!(same, "{name}: {h:?}\nvs Python's {p:?}");
    }
    let conds = |cs: &ConfigSpace| {
        let mut v: Vec<String> = cs.conditions().iter().map(|c| format!("{c:?}")).collect();
        v.sort();
        v
    };
    assert_eq!(conds(rust), conds(python), "{name}: conditions");
    assert!(rust.forbiddens().is_empty() && python.forbiddens().is_empty(), "{name}: forbiddens");
}

#[test]
fn python_and_rust_define_the_same_problems() {
    let Some(py) = python("python_and_rust_define_the_same_problems") else { return };
    let problems = "benchmarks/peers/problems.py";
    let rust = rust_problems();

    // Names, kinds and optima.
    let list: Vec<Json> = serde_json::from_str(&run(&py, problems, &["--list"], &[])).unwrap();
    let mut py_names = Vec::new();
    for item in &list {
        let name = item["name"].as_str().unwrap().to_string();
        let kind = item["kind"].as_str().unwrap();
        if kind == "hpo" {
            assert!(item["optimum"].is_null(), "{name}: an HPO task has no known optimum");
            continue;
        }
        let r = rust.get(&name).unwrap_or_else(|| panic!("{name} is in problems.py but not in Rust"));
        assert_eq!(kind, r.kind, "{name}: kind");
        assert_eq!(item["optimum"].as_f64(), Some(r.optimum), "{name}: optimum");
        py_names.push(name);
    }
    assert_eq!(py_names.len(), rust.len(), "problems.py has {py_names:?}");
    assert!(list.iter().filter(|i| i["kind"] == "hpo").count() >= 3);

    // Spaces.
    let spaces: BTreeMap<String, Json> =
        serde_json::from_str(&run(&py, problems, &["--spaces"], &[])).unwrap();
    for (name, r) in &rust {
        let py_space = ConfigSpace::from_configspace_json(&spaces[name].to_string())
            .unwrap_or_else(|e| panic!("{name}: Python's space does not load: {e}"));
        assert_same_space(name, &r.space, &py_space);
    }

    // Values at 100 random configurations per problem and at the minimizer.
    let mut rng = StdRng::seed_from_u64(2026);
    let mut queries = Vec::new();
    let mut expected = Vec::new();
    for (name, r) in &rust {
        let cs = Arc::new(r.space.clone());
        let mut configs = cs.sample(100, &mut rng).unwrap();
        configs.push(Configuration::new(&cs, r.minimizer.iter().cloned()).unwrap());
        for c in configs {
            queries.push(json!({"problem": name, "config": c.to_json()}).to_string());
            expected.push((name.clone(), (r.f)(&c), c));
        }
    }
    let got = numbers(&run(&py, problems, &["--eval-batch"], &queries));
    assert_eq!(got.len(), expected.len());
    // The same bits: both sides do the same operations in the same order with libm's functions,
    // so that a Rust run and a Python run can be compared trial by trial (docs/python.md).
    for (v, (name, want, c)) in got.iter().zip(&expected) {
        assert_eq!(v.to_bits(), want.to_bits(), "{name}: Python {v:e} vs Rust {want:e} at {c:?}");
    }
}

#[test]
fn hpo_tasks_are_deterministic_costs_in_the_unit_interval() {
    let Some(py) = python("hpo_tasks_are_deterministic_costs_in_the_unit_interval") else { return };
    let tasks_script = "benchmarks/hpo_tasks/sklearn_tasks.py";
    let tasks: Vec<String> = serde_json::from_str(&run(&py, tasks_script, &["--list"], &[])).unwrap();
    assert!(tasks.len() >= 3, "{tasks:?}");
    let spaces: BTreeMap<String, Json> =
        serde_json::from_str(&run(&py, "benchmarks/peers/problems.py", &["--spaces"], &[])).unwrap();
    let mut rng = StdRng::seed_from_u64(17);
    for task in &tasks {
        // The space `bench_suite` reads (`--space`) is the one the peers get from problems.py.
        let space = Arc::new(
            ConfigSpace::from_configspace_json(&run(&py, tasks_script, &["--space", task], &[])).unwrap(),
        );
        let peer_space = ConfigSpace::from_configspace_json(&spaces[task].to_string()).unwrap();
        assert_same_space(task, &space, &peer_space);
        let mut configs = vec![space.default_configuration()];
        configs.extend(space.sample(2, &mut rng).unwrap());
        let lines: Vec<String> = configs.iter().map(|c| c.to_json().to_string()).collect();
        // The persistent evaluator, twice over the same configurations in one process ...
        let twice: Vec<String> = lines.iter().chain(&lines).cloned().collect();
        let served = numbers(&run(&py, tasks_script, &["--serve", task], &twice));
        let n = lines.len();
        assert_eq!(served.len(), 2 * n);
        assert_eq!(served[..n], served[n..], "{task}: a repeated configuration gets another cost");
        // ... and the import path of the peers, in another process.
        let queries: Vec<String> =
            configs.iter().map(|c| json!({"problem": task, "config": c.to_json()}).to_string()).collect();
        let imported = numbers(&run(&py, "benchmarks/peers/problems.py", &["--eval-batch"], &queries));
        assert_eq!(imported, served[..n], "{task}: problems.py and the evaluator disagree");
        for v in &served {
            assert!((0.0..=1.0).contains(v), "{task}: cost {v} outside [0, 1]");
        }
        // A tuned-looking default is better than chance on every task (the data are real).
        assert!(served[0] < 0.5, "{task}: default cost {}", served[0]);
    }
}
