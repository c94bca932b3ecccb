//! Quickstart: minimize Branin (as defined in the shared benchmark suite) and print the progress
//! and the incumbent.
//!
//! `cargo run --release --example quickstart`

use smac::{Callback, HyperparameterOptimizationFacade, RunState, Scenario, TrialInfo, TrialValue};

/// Prints a line whenever the incumbent improves.
struct Progress {
    best: f64,
}

impl Callback for Progress {
    fn on_tell(&mut self, state: &RunState<'_>, _trial: &TrialInfo, value: &TrialValue) -> bool {
        let cost = value.single_cost();
        if cost < self.best {
            self.best = cost;
            println!("trial {:>4}  {:>8.3}s  new best {:.6}", state.runhistory.len(), state.elapsed, cost);
        }
        true
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let branin = smac::benchmarks::by_name("branin").expect("branin is in the suite");
    let scenario = Scenario::builder(branin.configspace())
        .name("quickstart_branin")
        .n_trials(100)
        .deterministic(true)
        .seed(0)
        .build()?;
    let mut smac = HyperparameterOptimizationFacade::builder(scenario)
        .target_fn(move |t: &TrialInfo| Ok::<_, String>(branin.eval_config(&t.config)))
        .callback(Progress { best: f64::INFINITY })
        .overwrite(true)
        .build()?;
    let incumbent = smac.optimize()?.expect("at least one trial finished");
    let cost = smac.runhistory().cost(&incumbent).expect("the incumbent has a cost");
    let branin = smac::benchmarks::by_name("branin").expect("branin");
    println!("incumbent: {incumbent}");
    println!(
        "cost: {cost:.6}  (optimum {:.6}, regret {:.6})",
        branin.optimum,
        smac::benchmarks::regret(cost, branin.optimum)
    );
    println!("run directory: {}", smac.run_directory().expect("persisted").path().display());
    Ok(())
}
