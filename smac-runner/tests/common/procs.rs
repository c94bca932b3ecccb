//! Real processes for cluster tests: an `smac-scheduler` and `smac-worker`s, each in its own
//! process group and killed (with everything it started) when dropped.

use smac_runner::{Client, CommandTarget};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The standalone scheduler binary.
pub const SCHEDULER: &str = env!("CARGO_BIN_EXE_smac-scheduler");
/// The generic worker binary.
pub const SMAC_WORKER: &str = env!("CARGO_BIN_EXE_smac-worker");

/// A child process (and its process group), killed on drop.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// Starts `cmd` in a new process group, logging to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Proc {
        let err = std::fs::File::create(log).unwrap();
        cmd.stdin(Stdio::null()).stdout(err.try_clone().unwrap()).stderr(err).process_group(0);
        cmd.env("RUST_LOG", "info");
        Proc { child: cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")) }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` to the process itself.
    pub fn signal(&self, sig: i32) {
        // SAFETY: signals a child we started and have not reaped.
        unsafe { libc::kill(self.pid() as i32, sig) };
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pg = -(self.pid() as i32);
        // SAFETY: signals the process group of a child we started.
        unsafe {
            libc::kill(pg, libc::SIGCONT);
            libc::kill(pg, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// An `smac-scheduler` process with fast heartbeats, in a temporary directory.
pub struct Scheduler {
    pub proc: Proc,
    pub file: PathBuf,
    pub dir: tempfile::TempDir,
    workers: usize,
}

impl Scheduler {
    /// Starts the scheduler (extra `args` appended) and waits for its scheduler file.
    pub fn start(args: &[&str]) -> Scheduler {
        super::logs();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sched.json");
        let mut cmd = Command::new(SCHEDULER);
        cmd.arg("--scheduler-file").arg(&file);
        cmd.args(["--heartbeat-interval", "0.1", "--heartbeat-timeout", "2"]).args(args);
        let proc = Proc::spawn(cmd, &dir.path().join("scheduler.log"));
        assert!(super::eventually(Duration::from_secs(20), || file.exists()), "no scheduler file");
        Scheduler { proc, file, dir, workers: 0 }
    }

    /// The scheduler's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("scheduler.log")).unwrap_or_default()
    }

    /// Starts `smac-worker --scheduler-file FILE args...`.
    pub fn worker(&mut self, args: &[&str]) -> Proc {
        self.workers += 1;
        let mut cmd = Command::new(SMAC_WORKER);
        cmd.arg("--scheduler-file").arg(&self.file).args(["--timeout", "20"]).args(args);
        Proc::spawn(cmd, &self.dir.path().join(format!("worker-{}.log", self.workers)))
    }

    /// A client attached through the scheduler file.
    pub fn client(&self) -> Client {
        Client::from_scheduler_file_timeout(&self.file, Duration::from_secs(20)).unwrap()
    }
}

/// A command target sleeping 100-300 ms (by `x`) that reports the worker that ran it.
pub fn nap() -> CommandTarget {
    CommandTarget::new(super::WORKER).args(["cmd", "nap"])
}

/// The pid of the worker process that ran a `nap` trial.
pub fn worker_of(v: &smac_core::TrialValue) -> u32 {
    let w = &v.additional_info["worker"];
    w.as_u64().or_else(|| w.as_str().and_then(|s| s.parse().ok())).expect("a worker pid") as u32
}
