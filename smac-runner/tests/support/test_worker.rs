//! Test support for smac-runner's integration tests (not a user tool).
//!
//! As a worker (started by a `LocalCluster`), it serves [`TestTarget`], whose modes misbehave
//! on purpose: sleep, panic, fail, return NaN, hang, allocate, read scattered data, or kill
//! their own process, or report an env var. Run as `smac-test-worker cmd MODE --x V [--seed S] ...`, it is a command
//! target for `CommandTarget` tests.

use serde::{Deserialize, Serialize};
use smac_core::{TargetFunction, TargetOutput, TrialInfo};
use std::time::Duration;

/// How the target behaves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Mode {
    /// Cost `(x - 0.3)^2`.
    Quadratic,
    /// Sleeps, then cost `x`; reports its pid.
    Sleep { ms: u64 },
    /// Sleeps 0-29 ms depending on `x`, then cost `x^2`.
    Jitter,
    /// Panics.
    Panic,
    /// Returns an error.
    Error,
    /// Returns NaN.
    Nan,
    /// Never returns.
    Hang,
    /// Allocates and touches `mb` MB, holds them for a second.
    Alloc { mb: usize },
    /// Cost = length of the scattered blob `name`; reports receipts and pid.
    Scattered { name: String },
    /// Kills its own process.
    Suicide,
    /// Sleeps, then reports the value of the environment variable `var` (`env`) and its pid.
    Env { var: String, ms: u64 },
    /// Sleeps, then succeeds whether or not the scattered blob `name` is there: cost 1 if it
    /// is, else 0; reports the bytes of scattered data its process holds (`scattered_bytes`)
    /// and its pid.
    ScatterProbe { name: String, ms: u64 },
}

/// A target whose behaviour is chosen by its mode.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestTarget {
    /// The behaviour.
    pub mode: Mode,
}

fn info(pairs: &[(&str, serde_json::Value)]) -> smac_core::trial::AdditionalInfo {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

impl smac_runner::ShippableTarget for TestTarget {
    const NAME: &'static str = "smac-test.target";
}

impl TargetFunction for TestTarget {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        let x = t.config.get_f64("x").unwrap_or(0.0);
        let pid = serde_json::json!(std::process::id());
        match &self.mode {
            Mode::Quadratic => Ok(((x - 0.3) * (x - 0.3)).into()),
            Mode::Sleep { ms } => {
                std::thread::sleep(Duration::from_millis(*ms));
                Ok((x, info(&[("pid", pid)])).into())
            }
            Mode::Jitter => {
                std::thread::sleep(Duration::from_millis((x * 1000.0) as u64 % 30));
                Ok((x * x).into())
            }
            Mode::Panic => panic!("the target panicked on purpose"),
            Mode::Error => Err("the target failed on purpose".into()),
            Mode::Nan => Ok(f64::NAN.into()),
            Mode::Hang => loop {
                std::thread::sleep(Duration::from_secs(1));
            },
            Mode::Alloc { mb } => {
                let mut v = vec![0u8; mb << 20];
                for i in (0..v.len()).step_by(4096) {
                    v[i] = 1;
                }
                std::thread::sleep(Duration::from_secs(1));
                Ok((v.iter().step_by(4096).map(|&b| b as f64).sum::<f64>() * 0.0).into())
            }
            Mode::Scattered { name } => {
                let data =
                    smac_runner::worker::scattered(name).ok_or_else(|| format!("no scattered '{name}'"))?;
                let receipts = smac_runner::worker::scatter_receipts(name);
                Ok((data.len() as f64, info(&[("pid", pid), ("receipts", receipts.into())])).into())
            }
            Mode::Env { var, ms } => {
                std::thread::sleep(Duration::from_millis(*ms));
                let value = std::env::var(var).unwrap_or_default();
                Ok((0.0, info(&[("env", value.into()), ("pid", pid)])).into())
            }
            Mode::ScatterProbe { name, ms } => {
                std::thread::sleep(Duration::from_millis(*ms));
                let found = smac_runner::worker::scattered(name).is_some();
                let bytes = smac_runner::worker::scattered_bytes();
                Ok((f64::from(u8::from(found)), info(&[("pid", pid), ("bytes", bytes.into())])).into())
            }
            Mode::Suicide => {
                // SAFETY: signals this very process.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                unreachable!("killed")
            }
        }
    }
}

/// Command-target mode: `cmd MODE --name value ...`.
fn command(mode: &str, args: &[String]) -> i32 {
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let x: f64 = arg("--x").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let seed: u64 = arg("--seed").and_then(|v| v.parse().ok()).unwrap_or(0);
    match mode {
        "ok" => {
            println!("evaluating x={x}");
            println!("cost={}; pid={}", (x - 0.3) * (x - 0.3), std::process::id());
        }
        "json" => {
            println!("{}", serde_json::json!({"cost": [x, seed as f64], "additional_info": {"mode": "json"}}))
        }
        "nap" => {
            // 100-300 ms; reports the worker that started it (its parent).
            std::thread::sleep(Duration::from_millis(100 + (x * 200.0) as u64));
            // SAFETY: getppid has no preconditions.
            println!(
                "cost={x}; worker={}; gpu={}",
                unsafe { libc::getppid() },
                std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_default()
            );
        }
        "fail" => {
            eprintln!("something went badly wrong");
            return 3;
        }
        "sleep" => std::thread::sleep(Duration::from_secs(30)),
        "hold" => {
            // Touches `--mb` MB (every page written), then holds them until killed.
            let mb: usize = arg("--mb").and_then(|v| v.parse().ok()).unwrap_or(100);
            let v = vec![1u8; mb << 20];
            std::thread::sleep(Duration::from_secs(60));
            println!("cost={}", v[v.len() / 2]);
        }
        "alloc" => {
            // Under RLIMIT_AS this allocation fails and Rust aborts with an allocator message.
            let v = vec![1u8; 4 << 30];
            println!("cost={}", v[v.len() - 1]);
        }
        other => {
            eprintln!("unknown mode {other}");
            return 2;
        }
    }
    0
}

fn main() {
    smac_runner::worker::serve_if_worker::<TestTarget>();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("cmd") {
        let mode = args.get(2).cloned().unwrap_or_default();
        std::process::exit(command(&mode, &args[3..]));
    }
    eprintln!("smac-test-worker: test support binary; run by smac-runner's tests");
    std::process::exit(2);
}
