//! The SMBO loop: ask the intensifier for trials, hand them to the runner, tell the results.
//!
//! The loop runs on the caller's thread and keeps every available worker busy: it submits while
//! [`Runner::count_available_workers`] is positive and otherwise waits for the next result, so
//! work on the optimizer side (training the surrogate, maximizing the acquisition) overlaps with
//! trials that are already running. Every told result is written to the run directory before the
//! loop asks for the next trial (once per batch of results that arrived together), which is
//! what makes a killed run restartable without losing a trial.

use crate::callback::{Callback, RunState};
use crate::config_selector::ConfigSelector;
use crate::configspace::Configuration;
use crate::error::SmacError;
use crate::intensifier::{Intensifier, NextTrial};
use crate::run_directory::{OptimizationState, RunDirectory, TrajectoryEntry};
use crate::runhistory::RunHistory;
use crate::runner::Runner;
use crate::scenario::Scenario;
use crate::target::check_costs;
use crate::trial::{unix_now, StatusType, TrialInfo, TrialValue};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Longest single wait for results, so stop conditions are checked regularly.
const WAIT_SLICE: Duration = Duration::from_millis(500);

/// The optimization loop over a runner `R`.
pub struct Smbo<R: Runner> {
    scenario: Arc<Scenario>,
    runhistory: RunHistory,
    intensifier: Box<dyn Intensifier>,
    selector: ConfigSelector,
    runner: R,
    callbacks: Vec<Box<dyn Callback>>,
    rng: ChaCha8Rng,
    run_dir: Option<RunDirectory>,
    clock: Option<Instant>,
    walltime_before: f64,
    target_walltime: f64,
    target_cputime: f64,
    stop_requested: bool,
    started: bool,
    trajectory: Vec<TrajectoryEntry>,
}

/// The parts an [`Smbo`] is assembled from (see `SmboBuilder`).
pub struct SmboParts<R: Runner> {
    /// The scenario.
    pub scenario: Scenario,
    /// The intensifier.
    pub intensifier: Box<dyn Intensifier>,
    /// The config selector.
    pub selector: ConfigSelector,
    /// The runner.
    pub runner: R,
    /// Callbacks.
    pub callbacks: Vec<Box<dyn Callback>>,
    /// Write the run directory (and continue a run found there).
    pub persist: bool,
    /// Replace a different run found in the directory.
    pub overwrite: bool,
    /// `_meta` of `scenario.json`: the SMAC3 facade the run corresponds to.
    pub meta: serde_json::Value,
}

impl<R: Runner> Smbo<R> {
    /// Assembles the loop; with `persist`, opens the run directory and continues a run found
    /// there.
    pub fn new(parts: SmboParts<R>) -> Result<Self, SmacError> {
        let SmboParts { scenario, mut intensifier, selector, runner, callbacks, persist, overwrite, meta } =
            parts;
        scenario.validate()?;
        let mut runhistory = RunHistory::new(scenario.n_objectives());
        let mut walltime_before = 0.0;
        let mut target_walltime = 0.0;
        let mut target_cputime = 0.0;
        let mut trajectory = Vec::new();
        let run_dir = if persist {
            let (dir, restored) = RunDirectory::open(&scenario, overwrite, &meta)?;
            if let Some(r) = restored {
                runhistory = r.runhistory;
                walltime_before = r.optimization.used_walltime;
                target_walltime = r.optimization.used_target_function_walltime;
                target_cputime = r.optimization.used_target_function_cputime;
                trajectory = r.trajectory;
                intensifier.restore(&runhistory);
            }
            Some(dir)
        } else {
            None
        };
        // A continued run draws new random numbers rather than repeating the first session's.
        let rng =
            ChaCha8Rng::seed_from_u64(scenario.seed.wrapping_add(runhistory.len() as u64 * 0x9e37_79b9));
        Ok(Smbo {
            scenario: Arc::new(scenario),
            runhistory,
            intensifier,
            selector,
            runner,
            callbacks,
            rng,
            run_dir,
            clock: None,
            walltime_before,
            target_walltime,
            target_cputime,
            stop_requested: false,
            started: false,
            trajectory,
        })
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Every trial so far.
    pub fn runhistory(&self) -> &RunHistory {
        &self.runhistory
    }

    /// The runner.
    pub fn runner(&self) -> &R {
        &self.runner
    }

    /// The runner, mutably (e.g. to scatter data).
    pub fn runner_mut(&mut self) -> &mut R {
        &mut self.runner
    }

    /// The incumbent of a single-objective run (the first of the Pareto front otherwise).
    pub fn incumbent(&self) -> Option<Configuration> {
        self.intensifier.incumbents().first().cloned()
    }

    /// All incumbents (the Pareto front for several objectives).
    pub fn incumbents(&self) -> &[Configuration] {
        self.intensifier.incumbents()
    }

    /// The incumbent changes so far.
    pub fn trajectory(&self) -> &[TrajectoryEntry] {
        &self.trajectory
    }

    /// The run directory, when the run persists.
    pub fn run_directory(&self) -> Option<&RunDirectory> {
        self.run_dir.as_ref()
    }

    /// Wall-clock seconds used by the run, including earlier sessions.
    pub fn elapsed(&self) -> f64 {
        self.walltime_before + self.clock.map_or(0.0, |c| c.elapsed().as_secs_f64())
    }

    /// Asks for the next trial and marks it running.
    pub fn ask(&mut self) -> Result<TrialInfo, SmacError> {
        self.ensure_started();
        self.with_callbacks(|cb, state| cb.on_ask_start(state));
        // The selector calls the callbacks' on_next_configurations_* hooks while it chooses.
        self.selector.lend_observers(std::mem::take(&mut self.callbacks));
        let next = self.intensifier.next_trial(&self.runhistory, &mut self.selector, &mut self.rng);
        self.callbacks = self.selector.return_observers();
        let trial = match next? {
            NextTrial::Run(t) => t,
            NextTrial::Wait => return Err(SmacError::WaitForResults(self.runhistory.n_running())),
            NextTrial::Exhausted => {
                return Err(SmacError::NoTrialAvailable(
                    "every configuration of the space has been tried".into(),
                ))
            }
        };
        self.runhistory.add_running(&trial);
        self.with_callbacks(|cb, state| cb.on_ask(state, &trial));
        Ok(trial)
    }

    /// Records a result and writes the run directory. A wrong number of costs or a non-finite
    /// cost turns the trial into a crash with the scenario's crash cost and the reason in
    /// `additional_info["error"]`.
    pub fn tell(&mut self, trial: TrialInfo, value: TrialValue) -> Result<(), SmacError> {
        self.record(trial, value)?;
        self.persist(false)
    }

    /// [`Self::tell`] without writing the run directory (the loop writes once per batch).
    fn record(&mut self, trial: TrialInfo, value: TrialValue) -> Result<(), SmacError> {
        self.ensure_started();
        if self.runhistory.config_id(&trial.config).is_none()
            && **trial.config.space() != *self.scenario.configspace
        {
            return Err(SmacError::InvalidTrial(format!(
                "configuration {} is not from this run's space",
                trial.config
            )));
        }
        let value = self.sanitize(value);
        self.with_callbacks(|cb, state| cb.on_tell_start(state, &trial, &value));
        let incumbents_before: Vec<Configuration> = self.intensifier.incumbents().to_vec();
        self.target_walltime += value.time;
        self.target_cputime += value.cpu_time;
        self.runhistory.add(&trial, value.clone());
        self.intensifier.on_result(&self.runhistory, &trial, &value);
        if self.intensifier.incumbents() != incumbents_before.as_slice() {
            self.record_incumbent_change();
        }
        debug!(n = self.runhistory.len(), status = ?value.status, cost = ?value.cost, "told trial");
        self.log_progress();
        let mut go_on = true;
        self.with_callbacks(|cb, state| go_on &= cb.on_tell(state, &trial, &value));
        if !go_on {
            info!("a callback stopped the optimization");
            self.stop_requested = true;
        }
        if self.threshold_reached() {
            info!("the incumbent reached the termination cost threshold");
            self.stop_requested = true;
        }
        Ok(())
    }

    /// Runs until the budget (`n_trials`, walltime, CPU time) is used or a callback stops, then
    /// waits for the trials still running and returns the incumbent.
    pub fn optimize(&mut self) -> Result<Option<Configuration>, SmacError> {
        self.ensure_started();
        info!(
            n_trials = self.scenario.n_trials,
            done = self.runhistory.len(),
            n_workers = self.scenario.n_workers,
            "starting the optimization"
        );
        let result = self.run_loop();
        // Results that arrived are kept even when the loop failed (e.g. all workers died).
        let drained = self.drain();
        self.persist(true)?;
        self.with_callbacks(|cb, state| cb.on_end(state));
        result?;
        drained?;
        if let Some(inc) = self.incumbent() {
            let cost = self.runhistory.config_id(&inc).and_then(|id| self.runhistory.average_cost(id));
            info!(trials = self.runhistory.len(), incumbent = %inc, cost = ?cost, "optimization finished");
        }
        Ok(self.incumbent())
    }

    fn run_loop(&mut self) -> Result<(), SmacError> {
        loop {
            while self.may_submit()
                && (self.runner.count_available_workers() > 0 || !self.runner.is_running())
            {
                self.selector
                    .expect_batch(self.runner.count_available_workers(), self.runhistory.n_running());
                let trial = match self.ask() {
                    Ok(t) => t,
                    // Running trials decide what comes next (a race, a bracket): wait for one.
                    Err(SmacError::WaitForResults(n)) if self.runner.is_running() => {
                        debug!(running = n, "the intensifier waits for results");
                        break;
                    }
                    Err(SmacError::NoTrialAvailable(why)) => {
                        warn!("{why}; stopping once the running trials finish");
                        self.stop_requested = true;
                        break;
                    }
                    Err(SmacError::WaitForResults(n)) => {
                        return Err(SmacError::NoTrialAvailable(format!(
                            "the intensifier waits for {n} trial(s) the runner does not have"
                        )))
                    }
                    Err(e) => return Err(e),
                };
                if let Err(e) = self.runner.submit_trial(trial.clone()) {
                    // Never started: forget it rather than record a result it does not have.
                    self.runhistory.cancel_running(&trial);
                    return Err(e.into());
                }
                self.collect()?;
            }
            if !self.runner.is_running() {
                if self.may_submit() {
                    continue;
                }
                return Ok(());
            }
            let timeout = self.remaining_walltime().min(WAIT_SLICE.as_secs_f64()).max(0.001);
            self.runner.wait(Some(Duration::from_secs_f64(timeout)))?;
            self.collect()?;
            if !self.may_submit() && !self.budget_left() {
                return Ok(());
            }
        }
    }

    /// Tells every result the runner has, then writes the run directory once: rewriting it
    /// per result costs O(n) each, which with hundreds of workers reporting at once made the
    /// loop, not the trials, the bottleneck. Nothing is asked between the results and the
    /// write, so a killed run still loses no told result.
    fn collect(&mut self) -> Result<(), SmacError> {
        let results = self.runner.iter_results();
        if results.is_empty() {
            return Ok(());
        }
        let mut outcome = Ok(());
        for (trial, value) in results {
            outcome = self.record(trial, value);
            if outcome.is_err() {
                break;
            }
        }
        // Whatever was recorded is written, even when a later result failed.
        self.persist(false)?;
        outcome
    }

    /// Waits for the trials still running and tells their results.
    fn drain(&mut self) -> Result<(), SmacError> {
        while self.runner.is_running() {
            self.runner.wait(Some(WAIT_SLICE))?;
            self.collect()?;
        }
        Ok(())
    }

    fn may_submit(&self) -> bool {
        !self.stop_requested && self.runhistory.submitted() < self.scenario.n_trials && self.budget_left()
    }

    fn budget_left(&self) -> bool {
        // As SMAC3: the CPU time of the target (each trial's `cpu_time`, measured wherever the
        // trial ran, worker processes included), over all sessions of the run.
        self.remaining_walltime() > 0.0 && self.target_cputime < self.scenario.cputime_limit
    }

    fn remaining_walltime(&self) -> f64 {
        self.scenario.walltime_limit - self.elapsed()
    }

    fn threshold_reached(&self) -> bool {
        let Some(inc) = self.intensifier.incumbents().first() else { return false };
        let Some(cost) = self.runhistory.config_id(inc).and_then(|id| self.runhistory.average_cost(id))
        else {
            return false;
        };
        // SMAC3: an infinite threshold (its default) means none; otherwise every objective's
        // average cost must be below its threshold.
        let thresholds = &self.scenario.termination_cost_threshold;
        thresholds.iter().any(|t| t.is_finite()) && cost.iter().zip(thresholds).all(|(c, t)| c < t)
    }

    /// The one place where failed trials get the crash cost: every status other than success,
    /// and successes whose costs are missing or not finite (then recorded as crashed).
    fn sanitize(&self, mut value: TrialValue) -> TrialValue {
        let crash = &self.scenario.crash_cost;
        if value.status == StatusType::Success {
            if let Err(reason) = check_costs(&value.cost, crash.len()) {
                warn!("{reason}: recording the trial as crashed");
                value.status = StatusType::Crashed;
                value.additional_info.insert("error".into(), reason.into());
            }
        }
        if value.status != StatusType::Success {
            value.cost = crash.clone();
        }
        value
    }

    fn record_incumbent_change(&mut self) {
        let incumbents = self.intensifier.incumbents();
        let ids: Vec<usize> = incumbents.iter().filter_map(|c| self.runhistory.config_id(c)).collect();
        let costs: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| {
                let c = self.runhistory.average_cost(*id).unwrap_or_default();
                if c.len() == 1 {
                    serde_json::json!(c[0])
                } else {
                    serde_json::json!(c)
                }
            })
            .collect();
        if let (Some(first), Some(cost)) = (incumbents.first(), costs.first()) {
            info!(trial = self.runhistory.len(), cost = %cost, config = %first, "new incumbent");
        }
        self.trajectory.push(TrajectoryEntry {
            config_ids: ids,
            costs,
            trial: self.runhistory.len(),
            walltime: self.elapsed(),
        });
    }

    /// An info line every tenth of the trial budget, so long runs show progress in the logs.
    fn log_progress(&self) {
        let n = self.runhistory.len();
        let step = (self.scenario.n_trials / 10).max(1);
        if n % step == 0 {
            let best = self
                .intensifier
                .incumbents()
                .first()
                .and_then(|c| self.runhistory.config_id(c))
                .and_then(|id| self.runhistory.average_cost(id));
            info!(
                done = n,
                total = self.scenario.n_trials,
                running = self.runhistory.n_running(),
                elapsed_s = format!("{:.1}", self.elapsed()),
                incumbent_cost = ?best,
                "progress"
            );
        }
    }

    fn ensure_started(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        self.clock = Some(Instant::now());
        self.with_callbacks(|cb, state| cb.on_start(state));
    }

    fn persist(&self, finished: bool) -> Result<(), SmacError> {
        let Some(dir) = &self.run_dir else { return Ok(()) };
        dir.save_runhistory(&self.runhistory)?;
        dir.save_intensifier(
            &self.runhistory,
            self.intensifier.incumbents(),
            &self.trajectory,
            self.intensifier.state_json(),
        )?;
        dir.save_optimization(&OptimizationState {
            used_walltime: self.elapsed(),
            used_target_function_walltime: self.target_walltime,
            used_target_function_cputime: self.target_cputime,
            last_update: unix_now(),
            finished,
        })
    }

    fn with_callbacks(&mut self, mut f: impl FnMut(&mut Box<dyn Callback>, &RunState<'_>)) {
        if self.callbacks.is_empty() {
            return;
        }
        let mut callbacks = std::mem::take(&mut self.callbacks);
        let state = RunState {
            scenario: &self.scenario,
            runhistory: &self.runhistory,
            incumbents: self.intensifier.incumbents(),
            elapsed: self.elapsed(),
            n_workers: self.runner.n_workers(),
            trajectory: &self.trajectory,
        };
        for cb in &mut callbacks {
            f(cb, &state);
        }
        self.callbacks = callbacks;
    }
}

impl<R: Runner> Drop for Smbo<R> {
    fn drop(&mut self) {
        if let Err(e) = self.runner.close() {
            warn!("closing the runner failed: {e}");
        }
    }
}
