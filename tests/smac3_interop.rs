//! SMAC3's ecosystem both ways, with the real Python packages: DeepCAVE 1.4.1's SMAC3v2 converter
//! opens the runs we write (single objective with a crash, two objectives, multi-fidelity),
//! SMAC3 2.4.1 continues them (and our `bb` and instance-based `ac` runs), we continue what it
//! saved and runs it wrote itself, ConfigSpace 1.2.2 accepts our samples of 200 spaces, and a
//! CLI run whose trials name their worker in `additional_info` (for the dashboard's Gantt chart)
//! stays readable by both.
//!
//! Needs `SMAC_SMAC3_PYTHON` (a Python with smac 2.4.1 and ConfigSpace 1.2.2) and
//! `SMAC_DEEPCAVE_PYTHON` (a Python < 3.11 with deepcave 1.4.1), which `.ci/run` exports after
//! creating `.venv-smac3` and `.venv-deepcave`; the venvs themselves are found without the
//! variables. Without them the tests skip with a loud message, except under `CI=true`, where
//! they fail. The Python side is in `tests/python/`.

use serde_json::{json, Value as Json};
use smac::{
    AlgorithmConfigurationFacade, BlackBoxFacade, ConfigSpace, Hyperparameter,
    HyperparameterOptimizationFacade, MultiFidelityFacade, RunHistory, Scenario, TrialInfo,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The Python in `var` or in the venv `.venv-<venv>`, checked to import `module`; `None` after
/// a loud message outside CI.
fn python(test: &str, var: &str, venv: &str, module: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidate = match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None => Some(root.join(format!(".venv-{venv}/bin/python"))).filter(|p| p.exists()),
    };
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(p) = candidate else {
        if in_ci {
            panic!("{test}: CI=true but neither {var} nor .venv-{venv} is there; .ci/run creates them");
        }
        eprintln!(
            "\n*** SKIPPED {test}: no Python with `{module}`. Set {var} or run .ci/run (it creates \
             .venv-{venv}). ***\n"
        );
        return None;
    };
    let out = Command::new(&p).args(["-c", &format!("import {module}")]).output();
    match out {
        Ok(o) if o.status.success() => Some(p),
        Ok(o) => panic!("{}: cannot import {module}: {}", p.display(), String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("{}: cannot start: {e}", p.display()),
    }
}

/// Runs a script of tests/python/ and parses the JSON it prints last.
fn script(python: &Path, name: &str, args: &[&str]) -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(name);
    let out = Command::new(python).arg(&path).args(args).output().expect("python starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{name} printed no JSON ({e}):\n{stdout}"))
}

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("interop");
    cs.add_all([
        Hyperparameter::categorical("c", ["a", "b", "c"]),
        Hyperparameter::integer("n", 1, 8),
        Hyperparameter::float("x", -5.0, 10.0),
    ])
    .unwrap();
    // The space as configspace.json gives it back, so runs compare equal after a reload.
    Arc::new(ConfigSpace::from_configspace_json(&cs.to_configspace_json()).unwrap())
}

/// The kinds of run we write.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// One objective; the third trial crashes.
    Single,
    /// Two objectives.
    MultiObjective,
    /// Budgets 1..9 with Hyperband.
    MultiFidelity,
    /// The Gaussian-process facade.
    BlackBox,
    /// The algorithm-configuration facade: two instances with features, a noisy target.
    Instances,
}

fn scenario(kind: Kind, dir: &Path, n_trials: usize) -> Scenario {
    let b =
        Scenario::builder(space()).name(format!("{kind:?}")).output_directory(dir).seed(0).n_trials(n_trials);
    match kind {
        // A finite crash cost: SMAC3's log-scaled encoder turns an infinite one into NaN.
        Kind::Single => b.deterministic(true).crash_cost(vec![1000.0]),
        Kind::MultiObjective => b.deterministic(true).objectives(["loss", "size"]),
        Kind::MultiFidelity => b.deterministic(true).budgets(1.0, 9.0),
        Kind::BlackBox => b.deterministic(true),
        Kind::Instances => {
            let features =
                [("i0".to_string(), vec![0.0]), ("i1".to_string(), vec![1.0])].into_iter().collect();
            b.instances(["i0", "i1"]).instance_features(features)
        }
    }
    .build()
    .unwrap()
}

fn value(t: &TrialInfo) -> f64 {
    let x = t.config.get_f64("x").unwrap();
    let n = t.config.get_i64("n").unwrap() as f64;
    let c = if t.config.get_str("c") == Some("b") { 0.0 } else { 3.0 };
    (x - 1.0).powi(2) + n + c
}

/// Runs (or continues) our optimizer on `kind` in `dir`; returns the run directory.
fn run_ours(kind: Kind, dir: &Path, n_trials: usize) -> (PathBuf, RunHistory, Vec<Json>) {
    let sc = scenario(kind, dir, n_trials);
    let run_dir = sc.run_directory();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut opt = match kind {
        Kind::Single => HyperparameterOptimizationFacade::new(sc, move |t: &TrialInfo| {
            if calls.fetch_add(1, Ordering::SeqCst) == 2 {
                return Err("the third trial crashes".to_string());
            }
            Ok(vec![value(t)])
        }),
        Kind::MultiObjective => HyperparameterOptimizationFacade::new(sc, |t: &TrialInfo| {
            Ok::<_, String>(vec![value(t), t.config.get_i64("n").unwrap() as f64])
        }),
        Kind::MultiFidelity => MultiFidelityFacade::new(sc, |t: &TrialInfo| {
            Ok::<_, String>(vec![value(t) / t.budget.unwrap_or(1.0)])
        }),
        Kind::BlackBox => BlackBoxFacade::new(sc, |t: &TrialInfo| Ok::<_, String>(vec![value(t)])),
        Kind::Instances => AlgorithmConfigurationFacade::new(sc, |t: &TrialInfo| {
            let shift = if t.instance.as_deref() == Some("i1") { 1.0 } else { 0.0 };
            Ok::<_, String>(vec![value(t) + shift + (t.seed.unwrap_or(0) % 7) as f64 * 0.01])
        }),
    }
    .unwrap();
    opt.optimize().unwrap();
    let incumbents = opt.incumbents().iter().map(|c| c.to_json()).collect();
    (run_dir, opt.runhistory().clone(), incumbents)
}

fn status_name(v: &smac::TrialValue) -> String {
    format!("{:?}", v.status).to_uppercase()
}

#[test]
fn deepcave_loads_every_kind_of_run_we_write() {
    const TEST: &str = "deepcave_loads_every_kind_of_run_we_write";
    let Some(py) = python(TEST, "SMAC_DEEPCAVE_PYTHON", "deepcave", "deepcave") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let kinds = [(Kind::Single, 12), (Kind::MultiObjective, 10), (Kind::MultiFidelity, 20)];
    let runs: Vec<_> = kinds.iter().map(|(k, n)| (*k, run_ours(*k, tmp.path(), *n))).collect();
    let args: Vec<String> = runs.iter().map(|(_, (d, _, _))| d.display().to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let seen = script(&py, "deepcave_load.py", &args);
    for ((kind, (dir, rh, incumbents)), seen) in runs.iter().zip(seen.as_array().unwrap()) {
        let trials = seen["trials"].as_array().unwrap();
        assert_eq!(trials.len(), rh.len(), "{kind:?}: DeepCAVE sees every trial of {}", dir.display());
        for ((key, v), t) in rh.iter().zip(trials) {
            let config = rh.config(key.config_id).unwrap().to_json();
            assert_eq!(t[0], config, "{kind:?}: configuration");
            assert_eq!(t[1].as_f64().unwrap(), key.budget.unwrap_or(0.0), "{kind:?}: budget");
            assert_eq!(t[2].as_u64(), key.seed, "{kind:?}: seed");
            assert_eq!(t[4], json!(status_name(v)), "{kind:?}: status");
            let costs: Vec<Option<f64>> = t[3].as_array().unwrap().iter().map(Json::as_f64).collect();
            if t[4] == "SUCCESS" {
                let ours: Vec<Option<f64>> = v.cost.iter().map(|c| Some(*c)).collect();
                assert_eq!(costs, ours, "{kind:?}: costs");
            } else {
                assert!(costs.iter().all(Option::is_none), "{kind:?}: a failed trial has no cost");
            }
        }
        if !seen["incumbent"].is_null() {
            assert_eq!(seen["incumbent"], incumbents[0], "{kind:?}: incumbent");
        }
        eprintln!("{TEST}: {kind:?}: {} trials agree", trials.len());
    }
    let crashed = runs[0].1 .1.iter().filter(|(_, v)| v.status == smac::StatusType::Crashed).count();
    assert_eq!(crashed, 1, "the single-objective run has its crash");
    assert!(seen[2]["budgets"].as_array().unwrap().len() > 1, "DeepCAVE sees several budgets");
}

#[test]
fn smac3_continues_our_runs_and_we_continue_theirs() {
    const TEST: &str = "smac3_continues_our_runs_and_we_continue_theirs";
    let Some(py) = python(TEST, "SMAC_SMAC3_PYTHON", "smac3", "smac") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let kinds = [
        (Kind::Single, 10),
        (Kind::MultiObjective, 10),
        (Kind::MultiFidelity, 20),
        (Kind::BlackBox, 8),
        (Kind::Instances, 12),
    ];
    for (kind, n) in kinds {
        let (dir, rh, incumbents) = run_ours(kind, tmp.path(), n);
        let seen = script(&py, "smac3_continue.py", &[&dir.display().to_string(), "3"]);
        assert_eq!(seen["loaded"].as_u64(), Some(rh.len() as u64), "{kind:?}: SMAC3 loaded our trials");
        let mut theirs: Vec<String> =
            seen["incumbents"].as_array().unwrap().iter().map(|c| c.to_string()).collect();
        let mut ours: Vec<String> = incumbents.iter().map(|c| c.to_string()).collect();
        theirs.sort();
        ours.sort();
        assert_eq!(theirs, ours, "{kind:?}: SMAC3 restored our incumbents");
        assert_eq!(seen["after"].as_u64(), Some(rh.len() as u64 + 3), "{kind:?}: SMAC3 added 3 trials");
        // And we continue what SMAC3 saved.
        let (_, after, _) = run_ours(kind, tmp.path(), rh.len() + 3 + 4);
        assert!(after.len() > rh.len() + 3, "{kind:?}: we continued SMAC3's session ({})", after.len());
        let theirs_on_disk =
            RunHistory::load(&dir.join("runhistory.json"), &space(), after.n_objectives()).unwrap();
        assert_eq!(theirs_on_disk.len(), after.len());
        eprintln!("{TEST}: {kind:?}: ours {} → SMAC3 {} → ours {}", rh.len(), rh.len() + 3, after.len());
    }
}

#[test]
fn we_continue_a_run_smac3_wrote() {
    const TEST: &str = "we_continue_a_run_smac3_wrote";
    let Some(py) = python(TEST, "SMAC_SMAC3_PYTHON", "smac3", "smac") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    let status = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/smac3_write.py"))
        .args([out.as_str(), "theirs", "10"])
        .status()
        .unwrap();
    assert!(status.success(), "SMAC3 wrote its run");
    let dir = tmp.path().join("theirs/0");
    let space = Arc::new(ConfigSpace::load_json(&dir.join("configspace.json")).unwrap());
    let text = std::fs::read_to_string(dir.join("scenario.json")).unwrap();
    let mut sc = Scenario::from_json(&text, space.clone(), &dir.join("scenario.json")).unwrap();
    assert_eq!(sc.output_directory, tmp.path(), "output_directory read as SMAC3 wrote it");
    let before = RunHistory::load(&dir.join("runhistory.json"), &space, 1).unwrap();
    assert_eq!(before.len(), 10);
    sc.n_trials = 14;
    let mut opt = HyperparameterOptimizationFacade::new(sc, |t: &TrialInfo| {
        let (x, y) = (t.config.get_f64("x").unwrap(), t.config.get_f64("y").unwrap());
        Ok::<_, String>((x - 1.0).powi(2) + (y + 2.0).powi(2))
    })
    .unwrap();
    opt.optimize().unwrap();
    let after = opt.runhistory();
    assert_eq!(after.len(), 14, "continued to 14 trials");
    for ((k0, v0), (k1, v1)) in before.iter().zip(after.iter()) {
        assert_eq!((k0, v0.cost.clone()), (k1, v1.cost.clone()), "SMAC3's trials are kept");
    }
    // SMAC3 continues it again with the raised n_trials.
    let seen = script(&py, "smac3_continue.py", &[&dir.display().to_string(), "1"]);
    assert_eq!(seen["loaded"].as_u64(), Some(14));
    eprintln!("{TEST}: SMAC3 10 → ours 14 → SMAC3 15");
}

#[test]
fn configspace_accepts_our_samples_of_200_generated_spaces() {
    const TEST: &str = "configspace_accepts_our_samples_of_200_generated_spaces";
    let Some(py) = python(TEST, "SMAC_SMAC3_PYTHON", "smac3", "ConfigSpace") else { return };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configspace/generated/spaces.json");
    let root: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1000);
    let mut cases = Vec::new();
    for raw in root["spaces"].as_array().unwrap() {
        let space = Arc::new(ConfigSpace::from_configspace_json(&raw.to_string()).unwrap());
        let samples: Vec<Json> = space.sample(1000, &mut rng).unwrap().iter().map(|c| c.to_json()).collect();
        let written: Json = serde_json::from_str(&space.to_configspace_json()).unwrap();
        cases.push(json!({"space": written, "samples": samples}));
    }
    assert!(cases.len() >= 200);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cases.json");
    std::fs::write(&file, json!({ "cases": cases }).to_string()).unwrap();
    let seen = script(&py, "check_samples.py", &[&file.display().to_string()]);
    assert_eq!(seen["checked"].as_u64(), Some(cases.len() as u64 * 1000));
    assert_eq!(
        seen["failures"],
        json!([]),
        "ConfigSpace rejects some of our samples: {}",
        seen["failing_spaces"]
    );
    eprintln!("{TEST}: {} spaces, {} samples accepted", seen["spaces"], seen["checked"]);
}

/// The scheduler names each trial's worker in `additional_info` (for the dashboard's Gantt
/// chart); SMAC3's RunHistory and DeepCAVE still load such a run.
#[test]
fn smac3_and_deepcave_read_runs_whose_trials_name_their_worker() {
    const TEST: &str = "smac3_and_deepcave_read_runs_whose_trials_name_their_worker";
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cli/quadratic");
    let dir = tempfile::tempdir().unwrap();
    for f in ["scenario.toml", "target.sh"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_smac"))
        .args(["optimize", "--scenario", "scenario.toml", "-q", "-n", "6"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = dir.path().join("smac3_output/quadratic/1");
    let rh: Json =
        serde_json::from_str(&std::fs::read_to_string(run.join("runhistory.json")).unwrap()).unwrap();
    let workers: std::collections::BTreeSet<&str> = rh["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["additional_info"]["worker"].as_str().unwrap())
        .collect();
    assert!(!workers.is_empty() && workers.len() <= 2, "{workers:?}");
    let run = run.to_str().unwrap();
    if let Some(py) = python(TEST, "SMAC_SMAC3_PYTHON", "smac3", "smac") {
        let v = script(&py, "smac3_read_info.py", &[run]);
        assert_eq!(v["trials"], json!(6), "{v}");
        assert!(v["additional_info"].as_array().unwrap().iter().all(|i| i["worker"].is_string()), "{v}");
    }
    if let Some(py) = python(TEST, "SMAC_DEEPCAVE_PYTHON", "deepcave", "deepcave") {
        let v = script(&py, "deepcave_load.py", &[run]);
        assert_eq!(v[0]["trials"].as_array().unwrap().len(), 6, "{v}");
    }
}
