//! Parallel optimization on local worker processes, SPMD style: this very executable is also the
//! worker program. `serve_if_worker` at the top of `main` turns the spawned copies into workers;
//! in the optimizer process it returns at once.
//!
//! `cargo run --release --example parallel`

use serde::{Deserialize, Serialize};
use smac::runner::worker::serve_if_worker;
use smac::{HyperparameterOptimizationFacade, Scenario, TargetFunction, TargetOutput, TrialInfo};
use std::time::{Duration, Instant};

/// The target travels to the workers (serde), so it is a struct rather than a closure.
#[derive(Serialize, Deserialize)]
struct SlowBranin {
    /// Simulated cost of one evaluation.
    sleep_ms: u64,
}

impl TargetFunction for SlowBranin {
    fn evaluate(&self, trial: &TrialInfo) -> Result<TargetOutput, String> {
        std::thread::sleep(Duration::from_millis(self.sleep_ms));
        let branin = smac::benchmarks::by_name("branin").ok_or("branin missing")?;
        Ok(branin.eval_config(&trial.config).into())
    }
}

/// The stable name the optimizer and its worker processes know the target by.
impl smac::runner::ShippableTarget for SlowBranin {
    const NAME: &'static str = "example.slow-branin";
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_if_worker::<SlowBranin>();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let branin = smac::benchmarks::by_name("branin").expect("branin");
    let scenario = Scenario::builder(branin.configspace())
        .name("parallel_branin")
        .n_trials(64)
        .n_workers(4)
        .deterministic(true)
        .trial_walltime_limit(10.0)
        .build()?;
    let start = Instant::now();
    let mut smac = HyperparameterOptimizationFacade::builder(scenario)
        .target_processes(SlowBranin { sleep_ms: 100 })
        .overwrite(true)
        .build()?;
    let incumbent = smac.optimize()?.expect("trials finished");
    println!(
        "{} trials on 4 worker processes in {:.1} s (sequentially: {:.1} s)",
        smac.runhistory().len(),
        start.elapsed().as_secs_f64(),
        smac.runhistory().len() as f64 * 0.1
    );
    println!("incumbent {incumbent} with cost {:.5}", smac.runhistory().cost(&incumbent).unwrap_or(f64::NAN));
    Ok(())
}
