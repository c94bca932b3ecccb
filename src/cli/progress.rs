//! Progress reporting callbacks: a live progress bar for people, JSON lines for scripts.

use super::interrupt::Interrupt;
use super::output::{self, fmt_costs, json_costs};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smac_core::{Callback, RunState, TrialInfo, TrialValue};
use std::io::Write;
use std::time::Duration;

/// The incumbent's id and average cost, if there is one.
fn incumbent(state: &RunState<'_>) -> Option<(usize, Vec<f64>)> {
    let rh = state.runhistory;
    let id = state.incumbents.first().and_then(|c| rh.config_id(c))?;
    Some((id, rh.average_cost(id)?))
}

/// A live progress bar on stderr: trials done/total, incumbent cost, busy workers, elapsed, ETA.
pub struct ProgressReporter {
    bar: ProgressBar,
    interrupt: Interrupt,
}

impl ProgressReporter {
    /// A bar drawn on stderr (hidden when stderr is not a terminal).
    pub fn new(interrupt: Interrupt) -> Self {
        Self::with_target(ProgressDrawTarget::stderr(), interrupt)
    }

    /// A bar drawn on `target`.
    pub fn with_target(target: ProgressDrawTarget, interrupt: Interrupt) -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} trials  ETA {eta}  {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        ProgressReporter { bar, interrupt }
    }

    fn refresh(&self, state: &RunState<'_>) {
        let best = incumbent(state).map_or_else(|| "-".to_string(), |(_, c)| fmt_costs(&c));
        let busy = state.runhistory.n_running();
        let mut msg = format!("best {best}  {busy} running on {} worker(s)", state.n_workers);
        if self.interrupt.requested() {
            msg.push_str("  [stopping]");
        }
        self.bar.set_message(msg);
    }
}

impl Callback for ProgressReporter {
    fn on_start(&mut self, state: &RunState<'_>) {
        self.bar.set_length(state.scenario.n_trials as u64);
        self.bar.set_position(state.runhistory.len() as u64);
        self.bar.reset_eta();
        self.bar.enable_steady_tick(Duration::from_millis(200));
        output::set_bar(Some(self.bar.clone()));
        self.refresh(state);
    }

    fn on_ask(&mut self, state: &RunState<'_>, _trial: &TrialInfo) {
        self.refresh(state);
    }

    fn on_tell(&mut self, state: &RunState<'_>, _trial: &TrialInfo, _value: &TrialValue) -> bool {
        self.bar.set_position(state.runhistory.len() as u64);
        self.refresh(state);
        true
    }

    fn on_end(&mut self, _state: &RunState<'_>) {
        output::set_bar(None);
        self.bar.finish_and_clear();
    }
}

/// One JSON object per told trial on stdout, for scripts (`--json`).
#[derive(Default)]
pub struct JsonLines;

impl Callback for JsonLines {
    fn on_tell(&mut self, state: &RunState<'_>, trial: &TrialInfo, value: &TrialValue) -> bool {
        let rh = state.runhistory;
        let (inc_id, inc_cost) = match incumbent(state) {
            Some((id, c)) => (serde_json::json!(id), json_costs(&c)),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        let line = serde_json::json!({
            "event": "trial",
            "n": rh.len(),
            "n_trials": state.scenario.n_trials,
            "config_id": rh.config_id(&trial.config),
            "config": trial.config.to_json(),
            "instance": trial.instance,
            "seed": trial.seed,
            "budget": trial.budget,
            "status": value.status.name(),
            "cost": json_costs(&value.cost),
            "time": value.time,
            "error": value.error_message(),
            "incumbent_id": inc_id,
            "incumbent_cost": inc_cost,
            "elapsed": state.elapsed,
        });
        let mut out = std::io::stdout().lock();
        // A closed pipe (e.g. `| head`) must not stop the optimization.
        let _ = writeln!(out, "{line}").and_then(|_| out.flush());
        true
    }
}
