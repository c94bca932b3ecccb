//! A run killed with SIGKILL mid-way restarts from its run directory without losing a trial.
//!
//! The test binary re-executes itself as the child run (selected by an environment variable),
//! so no extra binary is needed.

use smac::{ConfigSpace, Hyperparameter, RandomFacade, RunHistory, Scenario, TrialInfo};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SMAC_RESTART_TEST_DIR";
const N_TRIALS: usize = 60;

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("restart");
    cs.add_all([Hyperparameter::float("x", -5.0, 10.0), Hyperparameter::float("y", 0.0, 15.0)]).unwrap();
    Arc::new(cs)
}

fn run(dir: &Path, trial_sleep: Duration) -> RunHistory {
    let scenario = Scenario::builder(space())
        .name("restart")
        .output_directory(dir)
        .n_trials(N_TRIALS)
        .deterministic(true)
        .seed(3)
        .build()
        .unwrap();
    let mut smac = RandomFacade::new(scenario, move |t: &TrialInfo| {
        std::thread::sleep(trial_sleep);
        Ok::<_, String>(t.config.get_f64("x").unwrap().abs() + t.config.get_f64("y").unwrap())
    })
    .unwrap();
    smac.optimize().unwrap();
    smac.runhistory().clone()
}

fn on_disk(dir: &Path) -> Option<RunHistory> {
    let path = dir.join("restart/3/runhistory.json");
    RunHistory::load(&path, &space(), 1).ok()
}

#[test]
fn sigkill_mid_run_then_restart_loses_nothing() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        // Child: a slow run that the parent kills.
        run(Path::new(&dir), Duration::from_millis(50));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sigkill_mid_run_then_restart_loses_nothing", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let before_kill = loop {
        if let Some(rh) = on_disk(dir.path()).filter(|rh| rh.len() >= 10) {
            break rh;
        }
        assert!(Instant::now() < deadline, "the child run made no progress");
        assert!(child.try_wait().unwrap().is_none(), "the child exited before it was killed");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Whatever was told before the kill is on disk: at least what we saw, maybe a few more.
    let at_kill = on_disk(dir.path()).expect("the run history survives a SIGKILL intact");
    assert!(
        at_kill.len() >= before_kill.len() && at_kill.len() < N_TRIALS,
        "killed too late: {}",
        at_kill.len()
    );

    let finished = run(dir.path(), Duration::ZERO);
    assert_eq!(finished.len(), N_TRIALS, "the restarted run reaches n_trials");
    for (key, value) in at_kill.iter() {
        assert_eq!(finished.get(key), Some(value), "trial {key:?} told before the kill was lost");
    }
    let ids: std::collections::HashSet<_> = finished.iter().map(|(k, _)| k.config_id).collect();
    assert_eq!(ids.len(), N_TRIALS, "no configuration was evaluated twice");
}
