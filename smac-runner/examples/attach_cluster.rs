//! An optimizer attached to a running cluster, and its own worker program (SPMD).
//!
//! ```text
//! smac-scheduler --scheduler-file sched.json &                      # the cluster
//! SMAC_WORKER_SCHEDULER_FILE=sched.json SMAC_WORKER_NWORKERS=2 \
//!     cargo run -p smac-runner --example attach_cluster &           # 2 workers (this binary)
//! cargo run -p smac-runner --example attach_cluster -- sched.json   # the optimizer
//! ```
//!
//! Workers may join (start more) and leave (kill some) while it runs; the optimizer uses
//! whatever workers are there and leaves the cluster running when it is done.

use serde::{Deserialize, Serialize};
use smac_core::{
    ConfigSpace, Hyperparameter, Scenario, SmboBuilder, TargetFunction, TargetOutput, TrialInfo,
};
use smac_runner::{Client, DaskStyleParallelRunner, ParallelOptions, ShippableTarget};
use std::sync::Arc;
use std::time::Duration;

/// A target that takes a moment, so that several workers are worth having.
#[derive(Serialize, Deserialize)]
struct Branin;

impl TargetFunction for Branin {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        let (x, y) = (t.config.get_f64("x").unwrap_or(0.0), t.config.get_f64("y").unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(200));
        let (b, c) = (5.1 / (4.0 * std::f64::consts::PI.powi(2)), 5.0 / std::f64::consts::PI);
        let r = (y - b * x * x + c * x - 6.0).powi(2)
            + 10.0 * (1.0 - 1.0 / (8.0 * std::f64::consts::PI)) * x.cos();
        Ok((r + 10.0).into())
    }
}

impl ShippableTarget for Branin {
    const NAME: &'static str = "example.branin";
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Started with SMAC_WORKER_SCHEDULER_FILE, this process is a worker and never returns.
    smac_runner::worker::serve_if_worker::<Branin>();
    tracing_subscriber::fmt().with_env_filter("info").init();

    let file = std::env::args().nth(1).unwrap_or_else(|| "sched.json".into());
    let client = Client::from_scheduler_file(&file)?;
    println!("attached to {file}: {} worker(s)", client.n_workers());

    let mut cs = ConfigSpace::new("branin");
    cs.add(Hyperparameter::float("x", -5.0, 10.0))?;
    cs.add(Hyperparameter::float("y", 0.0, 15.0))?;
    let scenario = Scenario::builder(Arc::new(cs)).n_trials(40).deterministic(true).build()?;
    // Patience: how long a submit waits when no worker is there at all (e.g. all restarting).
    let runner = DaskStyleParallelRunner::attach(
        Branin,
        client,
        ParallelOptions::with_patience(Duration::from_secs(60)),
    )?;
    let mut smbo = SmboBuilder::random(scenario).persist(false).build(runner)?;
    let best = smbo.optimize()?;
    println!("best: {best:?} after {} trials", smbo.runhistory().len());
    Ok(())
}
