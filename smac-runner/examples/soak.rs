//! Soak benchmark (not a CI test): `cargo run --release -p smac-runner --example soak`.
//!
//! Runs 100,000 trivial trials over 64 local worker processes (this executable is the worker
//! program; the scheduler runs in this process and talks to them over loopback TCP, as on a
//! cluster) and watches for stalls and memory growth. Prints one JSON line per 10,000 trials —
//! throughput, the longest gap between two results, this process's resident memory (optimizer
//! and scheduler) and the workers' summed resident memory — then a summary line with the
//! longest gap overall and the memory growth from the first window to the last.
//! `SOAK_TRIALS` and `SOAK_WORKERS` override the sizes.

use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use smac_core::{ConfigSpace, Hyperparameter, Runner, TargetFunction, TargetOutput, TrialInfo};
use smac_runner::{DaskStyleParallelRunner, LocalCluster, ParallelOptions, ShippableTarget};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A trial that costs nothing: what is measured is the runner.
#[derive(Serialize, Deserialize)]
struct Trivial;

impl TargetFunction for Trivial {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        Ok(t.config.get_f64("x").unwrap_or(0.0).into())
    }
}

impl ShippableTarget for Trivial {
    const NAME: &'static str = "soak.trivial";
}

/// Resident bytes of `pid` (0 when it is gone).
fn rss(pid: u32) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else { return 0 };
    text.split_whitespace().nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) * 4096
}

/// Summed resident bytes of this process's children (the worker processes).
fn children_rss() -> (usize, u64) {
    let me = std::process::id().to_string();
    let mut n = 0;
    let mut total = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        if rest.split_whitespace().nth(1) == Some(me.as_str()) {
            n += 1;
            total += rss(pid);
        }
    }
    (n, total)
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smac_runner::worker::Worker::new().serve::<Trivial>().run_if_worker();
    let (n_trials, n_workers) = (env_or("SOAK_TRIALS", 100_000), env_or("SOAK_WORKERS", 64));
    let window = (n_trials / 10).max(1);

    let mut cs = ConfigSpace::new("soak");
    cs.add(Hyperparameter::float("x", 0.0, 1.0))?;
    cs.add(Hyperparameter::integer("n", 1, 100))?;
    cs.add(Hyperparameter::categorical("kind", ["a", "b", "c"]))?;
    let cs = Arc::new(cs);
    let configs = cs.sample(1000, &mut rand::rngs::StdRng::seed_from_u64(0))?;
    let trial = |k: usize| TrialInfo::new(configs[k % configs.len()].clone(), Some(k as u64));

    let started = Instant::now();
    let cluster = LocalCluster::processes(n_workers)?;
    let mut runner = DaskStyleParallelRunner::attach(
        Trivial,
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(60)),
    )?;
    runner.wait_for_workers(n_workers, Duration::from_secs(120))?;
    let startup_s = started.elapsed().as_secs_f64();

    let me = std::process::id();
    let (mut submitted, mut done) = (0usize, 0usize);
    let (mut last_result, mut window_start, mut window_gap) =
        (Instant::now(), Instant::now(), Duration::ZERO);
    let mut max_gap = Duration::ZERO;
    let mut window_first = 0usize;
    let mut windows: Vec<(u64, u64)> = Vec::new();
    let run_start = Instant::now();
    while done < n_trials {
        while submitted < n_trials && runner.count_available_workers() > 0 {
            runner.submit_trial(trial(submitted))?;
            submitted += 1;
        }
        runner.wait(Some(Duration::from_secs(30)))?;
        let got = runner.iter_results();
        if got.is_empty() {
            continue;
        }
        let now = Instant::now();
        window_gap = window_gap.max(now - last_result);
        last_result = now;
        let before = done;
        done += got.len();
        if done / window > before / window || done == n_trials {
            let (n_children, workers_rss) = children_rss();
            let own = rss(me);
            windows.push((own, workers_rss));
            max_gap = max_gap.max(window_gap);
            let secs = window_start.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "trials": done,
                    "trials_per_s": (done - window_first) as f64 / secs,
                    "max_gap_ms": window_gap.as_secs_f64() * 1e3,
                    "optimizer_rss_mb": own as f64 / 1e6,
                    "workers": n_children,
                    "workers_rss_mb": workers_rss as f64 / 1e6,
                })
            );
            window_start = Instant::now();
            window_first = done;
            window_gap = Duration::ZERO;
        }
    }
    let total_s = run_start.elapsed().as_secs_f64();
    let (first, last) = (windows[0], windows[windows.len() - 1]);
    println!(
        "{}",
        serde_json::json!({
            "summary": true,
            "trials": n_trials,
            "workers": n_workers,
            "startup_s": startup_s,
            "total_s": total_s,
            "trials_per_s": n_trials as f64 / total_s,
            "max_gap_ms": max_gap.as_secs_f64() * 1e3,
            "optimizer_rss_growth_mb": (last.0 as f64 - first.0 as f64) / 1e6,
            "workers_rss_growth_mb": (last.1 as f64 - first.1 as f64) / 1e6,
            "retried": runner.retried(),
        })
    );
    Ok(())
}
