//! The SMBO loop end to end with the in-process runner and a simulated parallel runner.

use smac_core::configspace::{ConfigSpace, Hyperparameter};
use smac_core::{
    Callback, RunHistory, RunState, Runner, RunnerError, Scenario, SerialRunner, SmacError, SmboBuilder,
    StatusType, TrialInfo, TrialValue,
};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn space() -> Arc<ConfigSpace> {
    let mut cs = ConfigSpace::new("quad");
    cs.add_all([Hyperparameter::float("x", -5.0, 5.0), Hyperparameter::integer("k", 0, 10)]).unwrap();
    Arc::new(cs)
}

fn quad(t: &TrialInfo) -> Result<f64, String> {
    let x = t.config.get_f64("x").unwrap();
    let k = t.config.get_i64("k").unwrap() as f64;
    Ok((x - 1.0).powi(2) + (k - 3.0).powi(2))
}

fn scenario(dir: &Path, n_trials: usize) -> Scenario {
    Scenario::builder(space())
        .name("quad")
        .output_directory(dir)
        .n_trials(n_trials)
        .deterministic(true)
        .seed(7)
        .build()
        .unwrap()
}

type Target = fn(&TrialInfo) -> Result<f64, String>;

fn in_process() -> SerialRunner {
    SerialRunner::new(quad as Target)
}

#[test]
fn random_facade_runs_all_trials_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let mut smbo = SmboBuilder::random(scenario(dir.path(), 30)).build(in_process()).unwrap();
    let inc = smbo.optimize().unwrap().unwrap();
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 30);
    assert!(rh.iter().all(|(_, v)| v.status == StatusType::Success));
    // The first trial is the default configuration (RandomFacade's design).
    assert_eq!(rh.config(1).unwrap(), &space().default_configuration());
    let best = rh.iter().map(|(_, v)| v.cost[0]).fold(f64::INFINITY, f64::min);
    assert_eq!(rh.cost(&inc), Some(best));
    let run_dir = smbo.run_directory().unwrap().path().to_path_buf();
    for f in smac_core::run_directory::FILES {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    let on_disk = RunHistory::load(&run_dir.join("runhistory.json"), &space(), 1).unwrap();
    assert_eq!(on_disk.len(), 30);
    let intensifier: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("intensifier.json")).unwrap()).unwrap();
    let last = intensifier["trajectory"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["costs"][0].as_f64(), Some(best));
}

#[test]
fn restart_continues_and_a_different_scenario_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<(smac_core::TrialKey, TrialValue)> = {
        let mut smbo = SmboBuilder::random(scenario(dir.path(), 10)).build(in_process()).unwrap();
        smbo.optimize().unwrap();
        smbo.runhistory().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let mut smbo = SmboBuilder::random(scenario(dir.path(), 25)).build(in_process()).unwrap();
    assert_eq!(smbo.runhistory().len(), 10, "continued from disk");
    smbo.optimize().unwrap();
    let rh = smbo.runhistory();
    assert_eq!(rh.len(), 25);
    for ((k1, v1), (k2, v2)) in first.iter().zip(rh.iter()) {
        assert_eq!((k1, v1), (k2, v2));
    }
    let unique: std::collections::HashSet<_> = rh.iter().map(|(k, _)| k.config_id).collect();
    assert_eq!(unique.len(), 25, "no configuration evaluated twice");
    drop(smbo);

    let other = Scenario::builder(space()).name("quad").output_directory(dir.path()).seed(7).build().unwrap();
    let err = SmboBuilder::random(other.clone()).build(in_process()).err().unwrap();
    assert!(
        matches!(err, SmacError::ScenarioMismatch { ref detail, .. } if detail.contains("deterministic")),
        "{err}"
    );
    let smbo = SmboBuilder::random(other).overwrite(true).build(in_process()).unwrap();
    assert_eq!(smbo.runhistory().len(), 0);
}

#[test]
fn non_finite_costs_and_panics_become_crashes_with_crash_cost() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::builder(space())
        .output_directory(dir.path())
        .n_trials(6)
        .crash_cost(vec![1e6])
        .build()
        .unwrap();
    let runner = SerialRunner::new(|t: &TrialInfo| {
        let x = t.config.get_f64("x").unwrap();
        if x < 0.0 {
            panic!("negative x");
        }
        Ok::<_, String>(if x > 2.0 { f64::NAN } else { x })
    });
    let mut smbo = SmboBuilder::random(s).persist(false).build(runner).unwrap();
    smbo.optimize().unwrap();
    for (k, v) in smbo.runhistory().iter() {
        let x = smbo.runhistory().config(k.config_id).unwrap().get_f64("x").unwrap();
        if (0.0..=2.0).contains(&x) {
            assert_eq!(v.status, StatusType::Success);
        } else {
            assert_eq!((v.status, v.cost.clone()), (StatusType::Crashed, vec![1e6]), "x={x}");
            assert!(v.error_message().is_some());
        }
    }

    // Ask/tell users who report NaN get the same treatment.
    let s = Scenario::builder(space()).n_trials(5).crash_cost(vec![1e6]).build().unwrap();
    let mut smbo = SmboBuilder::random(s).persist(false).build(in_process()).unwrap();
    let t = smbo.ask().unwrap();
    smbo.tell(t, TrialValue::success(vec![f64::NAN], 0.0)).unwrap();
    let (_, v) = smbo.runhistory().iter().next().unwrap();
    assert_eq!((v.status, v.cost.clone()), (StatusType::Crashed, vec![1e6]));
    assert!(v.error_message().unwrap().contains("non-finite"));
}

struct StopAfter(usize);
impl Callback for StopAfter {
    fn on_tell(&mut self, state: &RunState<'_>, _: &TrialInfo, _: &TrialValue) -> bool {
        state.runhistory.len() < self.0
    }
}

#[test]
fn callbacks_threshold_and_walltime_stop_the_run() {
    let s = Scenario::builder(space()).n_trials(100).build().unwrap();
    let mut smbo = SmboBuilder::random(s).persist(false).callback(StopAfter(7)).build(in_process()).unwrap();
    smbo.optimize().unwrap();
    assert_eq!(smbo.runhistory().len(), 7);

    let s =
        Scenario::builder(space()).n_trials(10_000).termination_cost_threshold(vec![5.0]).build().unwrap();
    let mut smbo = SmboBuilder::random(s).persist(false).build(in_process()).unwrap();
    let inc = smbo.optimize().unwrap().unwrap();
    assert!(smbo.runhistory().cost(&inc).unwrap() <= 5.0);
    assert!(smbo.runhistory().len() < 10_000);

    let s = Scenario::builder(space()).n_trials(1_000_000).walltime_limit(0.3).build().unwrap();
    let slow = SerialRunner::new(|_: &TrialInfo| {
        std::thread::sleep(Duration::from_millis(20));
        Ok::<_, String>(1.0)
    });
    let mut smbo = SmboBuilder::random(s).persist(false).build(slow).unwrap();
    smbo.optimize().unwrap();
    let n = smbo.runhistory().len();
    assert!((3..=30).contains(&n), "walltime limit should stop after ~15 trials, ran {n}");
}

/// A simulated pool of workers that finishes trials in reverse submission order.
struct ReversePool {
    capacity: usize,
    in_flight: VecDeque<TrialInfo>,
    max_in_flight: usize,
}

impl Runner for ReversePool {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        assert!(self.in_flight.len() < self.capacity, "submitted to a full pool");
        self.in_flight.push_back(trial);
        self.max_in_flight = self.max_in_flight.max(self.in_flight.len());
        Ok(())
    }
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        if self.in_flight.len() < self.capacity {
            return Vec::new();
        }
        let t = self.in_flight.pop_back().unwrap();
        let v = TrialValue::success(vec![quad(&t).unwrap()], 0.0);
        vec![(t, v)]
    }
    fn wait(&mut self, _: Option<Duration>) -> Result<(), RunnerError> {
        // Nothing is really running: flush everything so the loop can finish.
        self.capacity = self.in_flight.len().max(1);
        Ok(())
    }
    fn is_running(&self) -> bool {
        !self.in_flight.is_empty()
    }
    fn count_available_workers(&self) -> usize {
        self.capacity - self.in_flight.len()
    }
}

#[test]
fn loop_fills_workers_and_handles_out_of_order_results() {
    let s = Scenario::builder(space()).n_trials(40).n_workers(4).deterministic(true).build().unwrap();
    let pool = ReversePool { capacity: 4, in_flight: VecDeque::new(), max_in_flight: 0 };
    let mut smbo = SmboBuilder::random(s).persist(false).build(pool).unwrap();
    smbo.optimize().unwrap();
    assert_eq!(smbo.runhistory().len(), 40);
    assert_eq!(smbo.runhistory().n_running(), 0);
    assert_eq!(smbo.runner().max_in_flight, 4);
}

#[test]
fn resumed_hpo_run_on_a_log_scaled_space_repeats_no_configuration() {
    // Log-scaled floats do not survive vector → value → JSON → value → vector bit for bit;
    // configurations must still be recognized after a restart.
    let mut cs = ConfigSpace::new("log");
    cs.add_all([
        Hyperparameter::float("lr", 1e-5, 1.0).log(),
        Hyperparameter::integer("width", 8, 1024).log(),
        Hyperparameter::float("dropout", 0.0, 0.9),
    ])
    .unwrap();
    let cs = Arc::new(cs);
    let target = |t: &TrialInfo| -> Result<f64, String> {
        let lr = t.config.get_f64("lr").unwrap().log10();
        let w = (t.config.get_i64("width").unwrap() as f64).log2();
        Ok((lr + 3.0).powi(2) + (w - 7.0).powi(2) / 10.0 + t.config.get_f64("dropout").unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = |n| {
        Scenario::builder(cs.clone())
            .name("log")
            .output_directory(dir.path())
            .n_trials(n)
            .deterministic(true)
            .build()
            .unwrap()
    };
    let mut first = SmboBuilder::hpo(scenario(12)).build(SerialRunner::new(target)).unwrap();
    first.optimize().unwrap();
    drop(first);
    let mut second = SmboBuilder::hpo(scenario(40)).build(SerialRunner::new(target)).unwrap();
    assert_eq!(second.runhistory().len(), 12);
    second.optimize().unwrap();
    let rh = second.runhistory();
    assert_eq!(rh.len(), 40);
    let distinct: std::collections::HashSet<_> = rh.iter().map(|(k, _)| k.config_id).collect();
    assert_eq!(distinct.len(), 40, "a configuration from before the restart was evaluated again");
    let values: std::collections::HashSet<String> = rh.configs().iter().map(|c| c.to_string()).collect();
    assert_eq!(values.len(), rh.configs().len(), "two ids for the same values");
}

#[test]
fn noisy_targets_are_raced_over_several_seeds_by_default() {
    let s = Scenario::builder(space()).n_trials(40).deterministic(false).seed(3).build().unwrap();
    let noisy = |t: &TrialInfo| -> Result<f64, String> { Ok(quad(t)? + (t.seed.unwrap() % 7) as f64 * 0.01) };
    let mut smbo = SmboBuilder::random(s).persist(false).build(SerialRunner::new(noisy)).unwrap();
    let inc = smbo.optimize().unwrap().unwrap();
    let rh = smbo.runhistory();
    let id = rh.config_id(&inc).unwrap();
    let seeds: std::collections::HashSet<_> = rh.trials_of(id).map(|(k, _)| k.seed).collect();
    assert!(seeds.len() >= 2, "the incumbent was not intensified over new seeds: {seeds:?}");
    for id in 1..=rh.configs().len() {
        assert!(rh.n_trials_of(id) <= 3, "max_config_calls = 3 exceeded by config {id}");
    }
}

/// A "worker" runner: trials report one CPU second each, none of it spent in this process.
struct RemoteCpu(VecDeque<TrialInfo>);

impl Runner for RemoteCpu {
    fn submit_trial(&mut self, trial: TrialInfo) -> Result<(), RunnerError> {
        self.0.push_back(trial);
        Ok(())
    }
    fn iter_results(&mut self) -> Vec<(TrialInfo, TrialValue)> {
        self.0
            .drain(..)
            .map(|t| {
                let mut v = TrialValue::success(vec![quad(&t).unwrap()], 0.0);
                v.cpu_time = 1.0;
                (t, v)
            })
            .collect()
    }
    fn wait(&mut self, _: Option<Duration>) -> Result<(), RunnerError> {
        Ok(())
    }
    fn is_running(&self) -> bool {
        !self.0.is_empty()
    }
    fn count_available_workers(&self) -> usize {
        1 - self.0.len()
    }
}

#[test]
fn cputime_limit_counts_the_targets_cpu_time_as_smac3_does() {
    let s = Scenario::builder(space()).n_trials(50).deterministic(true).cputime_limit(3.5).build().unwrap();
    let mut smbo = SmboBuilder::random(s).persist(false).build(RemoteCpu(VecDeque::new())).unwrap();
    smbo.optimize().unwrap();
    // Trials start while the target has used less than 3.5 CPU seconds: after 0, 1, 2 and 3.
    assert_eq!(smbo.runhistory().len(), 4);
}

/// Records the hooks' order: `a` ask start, `s`/`e` next configurations start/end, `k` asked.
struct HookLog(std::sync::Arc<std::sync::Mutex<String>>);
impl Callback for HookLog {
    fn on_ask_start(&mut self, _: &RunState<'_>) {
        self.0.lock().unwrap().push('a');
    }
    fn on_next_configurations_start(&mut self) {
        self.0.lock().unwrap().push('s');
    }
    fn on_next_configurations_end(&mut self, config: &smac_core::Configuration) {
        assert!(config.get_f64("x").is_some());
        self.0.lock().unwrap().push('e');
    }
    fn on_ask(&mut self, _: &RunState<'_>, _: &TrialInfo) {
        self.0.lock().unwrap().push('k');
    }
}

#[test]
fn the_config_selector_calls_the_next_configurations_hooks_around_each_new_configuration() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    // HPO facade: an initial design, then model-based and random configurations.
    let s = Scenario::builder(space()).n_trials(15).seed(2).deterministic(true).build().unwrap();
    let mut smbo =
        SmboBuilder::hpo(s).persist(false).callback(HookLog(log.clone())).build(in_process()).unwrap();
    smbo.optimize().unwrap();
    // Every trial is a new configuration (a deterministic scenario runs each once).
    assert_eq!(*log.lock().unwrap(), "asek".repeat(15));

    // Without determinism the intensifier also reruns known configurations on new seeds:
    // those asks do not go through the selector.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let s = Scenario::builder(space()).n_trials(15).seed(2).build().unwrap();
    let mut smbo =
        SmboBuilder::hpo(s).persist(false).callback(HookLog(log.clone())).build(in_process()).unwrap();
    smbo.optimize().unwrap();
    let log = log.lock().unwrap().clone();
    let new_configs = smbo.runhistory().configs().len();
    assert_eq!(log.matches("asek").count(), new_configs, "{log}");
    assert_eq!(log.matches("ak").count(), 15 - new_configs, "{log}");
    assert!(new_configs < 15, "{log}");
}
