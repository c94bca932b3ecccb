//! Helpers shared by the integration tests.
#![allow(dead_code)]

use smac_core::{ConfigSpace, Configuration, Hyperparameter, Runner, TrialInfo, TrialValue};
use smac_runner::LocalClusterBuilder;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

#[path = "../support/test_worker.rs"]
#[allow(dead_code)]
mod test_worker;
pub use test_worker::{Mode, TestTarget};

pub mod procs;

/// The test worker binary (serves `TestTarget` and command runners).
pub const WORKER: &str = env!("CARGO_BIN_EXE_smac-test-worker");

/// One float hyperparameter `x` in [0, 1].
pub fn space() -> Arc<ConfigSpace> {
    static SPACE: OnceLock<Arc<ConfigSpace>> = OnceLock::new();
    SPACE
        .get_or_init(|| {
            let mut cs = ConfigSpace::new("test");
            cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
            Arc::new(cs)
        })
        .clone()
}

/// A trial of `x` with `seed`.
pub fn trial(x: f64, seed: u64) -> TrialInfo {
    TrialInfo::new(Configuration::new(&space(), [("x", x)]).unwrap(), Some(seed))
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A cluster of `n` test-worker processes with fast heartbeats.
pub fn processes(n: usize) -> LocalClusterBuilder {
    logs();
    smac_runner::LocalCluster::builder()
        .processes(n)
        .program(WORKER)
        .heartbeat(Duration::from_millis(100), Duration::from_secs(3))
        .startup_timeout(Duration::from_secs(20))
}

/// The test target in `mode`.
pub fn single(mode: Mode) -> TestTarget {
    TestTarget { mode }
}

/// Waits for `n` results, failing the test after `timeout`.
pub fn collect(r: &mut impl Runner, n: usize, timeout: Duration) -> Vec<(TrialInfo, TrialValue)> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "only {} of {n} results within {timeout:?}: {out:?}", out.len());
        r.wait(Some(left.min(Duration::from_millis(200)))).unwrap();
        out.extend(r.iter_results());
    }
    out
}

/// Whether process `pid` exists.
pub fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Polls `cond` for up to `timeout`.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}
