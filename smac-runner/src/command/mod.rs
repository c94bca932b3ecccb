//! [`CommandTarget`]: evaluates trials by running an external program (any language), like
//! SMAC3's target-function-script runner. The full contract is in `docs/command-runner.md`.
//!
//! **Input.** The program is run as
//! `program [args...] [--instance I] [--seed S] [--budget B] --<name> <value>...` with one
//! `--name value` pair per active hyperparameter (floats in Rust's shortest round-trip form,
//! booleans as `True`/`False`). The same trial is given as one JSON object on stdin and in the
//! `SMAC_TRIAL_JSON` environment variable (over 64 KiB, in a file named by
//! `SMAC_TRIAL_JSON_FILE` instead):
//! `{"config": {...}, "instance": .., "seed": .., "budget": .., "walltime_limit": .., "memory_limit_mb": ..}`.
//!
//! **Output.** The cost is read from stdout; the *last* line that carries one wins:
//! `cost=1.23`, `cost: 1.23`, `cost=[1.0, 2.0]` or `cost=1.0,2.0` (several objectives), with
//! optional `; status=TIMEOUT; key=value` pairs on the same line, or a JSON object line such as
//! `{"cost": [1.0, 2.0], "status": "SUCCESS", "additional_info": {...}}`. Keys are
//! case-insensitive. Other output is ignored.
//!
//! **Failures.** A non-zero exit status or a death by signal is `Crashed` with the tail of
//! stderr in the message; no cost is `Crashed`; exceeding the walltime limit kills the whole
//! process group and gives `Timeout`; the memory limit is a hard `RLIMIT_AS` on the child
//! (and its children) plus a resident-memory watch, and a failure under that limit that looks
//! like an allocation failure (allocator messages on stderr, a kill, peak memory near the
//! limit) gives `MemoryOut`. Limits are enforced by whoever runs the command, so they hold on
//! every worker of a parallel run.

mod output;
mod process;
mod reaper;

pub use output::{parse_output, ParsedOutput};

use crate::core::ShippableTarget;
use process::{capture, kill_group, wait_child, Exit, Kill, OUTPUT_GRACE};
use serde::{Deserialize, Serialize};
use smac_core::trial::unix_now;
use smac_core::{Scenario, StatusType, TargetFunction, TargetOutput, TrialInfo, TrialValue, Value};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Environment variable that carries the trial as JSON.
pub const ENV_TRIAL_JSON: &str = "SMAC_TRIAL_JSON";
/// Environment variable naming a file with the trial's JSON, when it is too large for
/// [`ENV_TRIAL_JSON`].
pub const ENV_TRIAL_JSON_FILE: &str = "SMAC_TRIAL_JSON_FILE";
/// Largest trial JSON passed in [`ENV_TRIAL_JSON`]: Linux refuses a single environment string
/// over 128 KiB (`E2BIG`), and the program would not even start.
const MAX_ENV_JSON: usize = 64 << 10;
/// Bytes of stderr quoted in the message of a crashed trial.
const STDERR_TAIL: usize = 2000;

/// Runs an external program per trial; serializable, so it runs on workers too.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommandTarget {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    current_dir: Option<PathBuf>,
    walltime_limit: Option<f64>,
    memory_limit_mb: Option<u64>,
}

impl CommandTarget {
    /// Runs `program`.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        CommandTarget {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            walltime_limit: None,
            memory_limit_mb: None,
        }
    }

    /// Runs `program` with the scenario's per-trial limits.
    pub fn from_scenario(program: impl Into<PathBuf>, scenario: &Scenario) -> Self {
        let mut r = Self::new(program);
        r.walltime_limit = scenario.trial_walltime_limit;
        r.memory_limit_mb = scenario.trial_memory_limit;
        r
    }

    /// Fixed arguments placed before the trial's arguments.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// An extra environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The working directory of the program.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Kills the program after `seconds` (status `Timeout`).
    pub fn trial_walltime_limit(mut self, seconds: f64) -> Self {
        self.walltime_limit = Some(seconds);
        self
    }

    /// Limits the program's memory to `mb` megabytes (status `MemoryOut`).
    pub fn trial_memory_limit(mut self, mb: u64) -> Self {
        self.memory_limit_mb = Some(mb);
        self
    }

    /// The command line arguments for `trial` (after the fixed ones).
    pub fn trial_args(trial: &TrialInfo) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(i) = &trial.instance {
            a.extend(["--instance".to_string(), i.clone()]);
        }
        if let Some(s) = trial.seed {
            a.extend(["--seed".to_string(), s.to_string()]);
        }
        if let Some(b) = trial.budget {
            a.extend(["--budget".to_string(), format!("{b:?}")]);
        }
        for (name, v) in trial.config.iter() {
            let v = match v {
                Value::Float(x) => format!("{x:?}"),
                Value::Int(i) => i.to_string(),
                Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                Value::Str(s) => s.clone(),
            };
            a.extend([format!("--{name}"), v]);
        }
        a
    }

    /// The trial as the JSON object given on stdin and in `SMAC_TRIAL_JSON`.
    pub fn trial_json(&self, trial: &TrialInfo) -> String {
        serde_json::json!({
            "config": trial.config.to_json(),
            "instance": trial.instance,
            "seed": trial.seed,
            "budget": trial.budget,
            "walltime_limit": self.walltime_limit,
            "memory_limit_mb": self.memory_limit_mb,
        })
        .to_string()
    }

    /// Runs the program on `trial` and reports its value.
    pub fn run(&self, trial: &TrialInfo) -> TrialValue {
        let start = unix_now();
        let fail = |status, msg: String| TrialValue::failure(status, msg, start);
        let json = self.trial_json(trial);
        let mut cmd = Command::new(&self.program);
        for var in crate::worker::config::WORKER_ENV_VARS {
            cmd.env_remove(var);
        }
        // A large configuration travels in a file (removed when the trial ends) instead.
        let _json_file = if json.len() > MAX_ENV_JSON {
            let file = match tempfile::Builder::new().prefix("smac-trial-").suffix(".json").tempfile() {
                Ok(mut f) => match f.write_all(json.as_bytes()) {
                    Ok(()) => f,
                    Err(e) => return fail(StatusType::Crashed, format!("cannot write the trial file: {e}")),
                },
                Err(e) => return fail(StatusType::Crashed, format!("cannot create the trial file: {e}")),
            };
            cmd.env(ENV_TRIAL_JSON_FILE, file.path());
            Some(file)
        } else {
            cmd.env(ENV_TRIAL_JSON, &json);
            None
        };
        cmd.args(&self.args)
            .args(Self::trial_args(trial))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        let as_limit = self.memory_limit_mb.map(|mb| mb.saturating_mul(1 << 20));
        let reaper = reaper::pipe();
        // SAFETY: between fork and exec only async-signal-safe calls are made (setpgid,
        // setrlimit), touching no locks or allocations.
        unsafe {
            cmd.pre_exec(move || {
                // Own process group, so a timeout kills the program's children too.
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(bytes) = as_limit {
                    let lim =
                        libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                    if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return fail(StatusType::Crashed, format!("cannot start {}: {e}", self.program.display()))
            }
        };
        // From here on, if this process dies (even by SIGKILL), the program's group dies with
        // it. (Registered by us, not by the child before exec: a child whose exec failed would
        // leave a registration that a later, unrelated group could inherit with its pid.)
        if let Some(fd) = reaper {
            reaper::send(fd, child.id() as i32);
        }
        if let Some(mut stdin) = child.stdin.take() {
            // A program that never reads stdin must not block us on a full pipe.
            std::thread::spawn(move || {
                let _ = stdin.write_all(json.as_bytes());
            });
        }
        let stdout = capture(child.stdout.take());
        let stderr = capture(child.stderr.take());
        let pid = child.id() as i32;
        let exit = wait_child(pid, self.walltime_limit, as_limit);
        // The trial ends with its main process: children it left behind (data loaders, a
        // daemon, `sleep &`) get a short grace to close their output, then the whole group is
        // killed. What was read is kept either way.
        let grace = Instant::now() + OUTPUT_GRACE;
        let closed = stdout.wait_closed(grace) & stderr.wait_closed(grace);
        kill_group(pid);
        if let Some(fd) = reaper {
            reaper::send(fd, -pid);
        }
        if !closed {
            let after_kill = Instant::now() + OUTPUT_GRACE;
            let _ = stdout.wait_closed(after_kill) & stderr.wait_closed(after_kill);
        }
        let (stdout, stderr) = (stdout.take(), stderr.take());
        let mut value = self.classify(&exit, &stdout, &stderr, start);
        value.cpu_time = exit.cpu_seconds;
        value
    }

    fn classify(&self, exit: &Exit, stdout: &[u8], stderr: &[u8], start: f64) -> TrialValue {
        let fail = |status, msg: String| TrialValue::failure(status, msg, start);
        let tail = tail_text(stderr, STDERR_TAIL);
        match exit.killed {
            Some(Kill::Timeout) => {
                let limit = self.walltime_limit.unwrap_or(0.0);
                return fail(
                    StatusType::Timeout,
                    format!("the program exceeded its walltime limit of {limit} s"),
                );
            }
            Some(Kill::Memory(rss)) => {
                let limit = self.memory_limit_mb.unwrap_or(0);
                let msg = format!(
                    "the program and its child processes used {} MB, over the trial's memory limit of {limit} MB",
                    rss >> 20
                );
                return fail(StatusType::MemoryOut, msg);
            }
            Some(Kill::Lost(ref e)) => {
                return fail(StatusType::Crashed, format!("lost track of the program: {e}"))
            }
            None => {}
        }
        let status = exit.status;
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            let how = if libc::WIFSIGNALED(status) {
                format!("was killed by signal {}", libc::WTERMSIG(status))
            } else {
                format!("exited with status {}", libc::WEXITSTATUS(status))
            };
            if let Some(limit) = self.memory_limit_mb {
                if looks_like_memory_failure(&tail, status, exit.max_rss_bytes, limit) {
                    let msg = format!(
                        "the program {how}, out of memory under its limit of {limit} MB; stderr: {tail}"
                    );
                    return fail(StatusType::MemoryOut, msg);
                }
            }
            return fail(StatusType::Crashed, format!("the program {how}; stderr: {tail}"));
        }
        let out = parse_output(&String::from_utf8_lossy(stdout));
        let Some(cost) = out.cost else {
            let last = tail_text(stdout, 200);
            return fail(
                StatusType::Crashed,
                format!(
                    "the program printed no cost (expected a line like `cost=1.5`); stdout ends with: {last}"
                ),
            );
        };
        let mut value = match out.status.unwrap_or(StatusType::Success) {
            StatusType::Success if cost.iter().any(|c| !c.is_finite()) => {
                fail(StatusType::Crashed, format!("the program printed a non-finite cost {cost:?}"))
            }
            StatusType::Success => TrialValue::success(cost, start),
            other => fail(other, format!("the program reported status {other:?}")),
        };
        for (k, v) in out.info {
            value.additional_info.entry(k).or_insert(v);
        }
        value
    }
}

impl TargetFunction for CommandTarget {
    fn evaluate(&self, trial: &TrialInfo) -> Result<TargetOutput, String> {
        let v = self.run(trial);
        Ok(TargetOutput {
            cost: v.cost,
            status: v.status,
            additional_info: v.additional_info,
            cpu_time: Some(v.cpu_time),
        })
    }
}

impl ShippableTarget for CommandTarget {
    const NAME: &'static str = "smac.command";
}

/// Whether a failed program most likely ran out of memory under its limit.
fn looks_like_memory_failure(stderr_tail: &str, status: i32, max_rss: u64, limit_mb: u64) -> bool {
    const PATTERNS: [&str; 8] = [
        "memoryerror",
        "out of memory",
        "cannot allocate memory",
        "memory allocation of",
        "bad_alloc",
        "failed to allocate",
        "allocation failed",
        "enomem",
    ];
    let text = stderr_tail.to_ascii_lowercase();
    let limit = limit_mb.saturating_mul(1 << 20);
    PATTERNS.iter().any(|p| text.contains(p))
        // The kernel's OOM killer sends SIGKILL; we did not.
        || (libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL)
        || max_rss >= limit / 10 * 9
}

fn tail_text(bytes: &[u8], n: usize) -> String {
    let start = bytes.len().saturating_sub(n);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smac_core::{ConfigSpace, Hyperparameter};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn trial() -> TrialInfo {
        let mut cs = ConfigSpace::new("c");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        cs.add(Hyperparameter::categorical("flag", [true, false])).unwrap();
        let mut t = TrialInfo::new(Arc::new(cs).default_configuration(), Some(7));
        t.instance = Some("inst-1".into());
        t
    }

    fn sh(script: &str) -> CommandTarget {
        CommandTarget::new("/bin/sh").args(["-c", script, "target"])
    }

    #[test]
    fn arguments_stdin_and_env_carry_the_trial() {
        let t = trial();
        assert_eq!(
            CommandTarget::trial_args(&t),
            ["--instance", "inst-1", "--seed", "7", "--x", "0.5", "--flag", "True"].map(String::from)
        );
        // The script echoes its arguments' values and the JSON seed back as costs.
        let r = sh(
            r#"read -r line; s=$(echo "$line" | sed 's/.*"seed":\([0-9]*\).*/\1/'); echo "cost=[$6, $s]""#,
        );
        let v = r.run(&t);
        assert_eq!((v.status, v.cost.clone()), (StatusType::Success, vec![0.5, 7.0]), "{v:?}");
        let r = sh(r#"echo "$SMAC_TRIAL_JSON" | grep -q '"instance":"inst-1"' && echo cost=1"#);
        assert_eq!(r.run(&t).status, StatusType::Success);
    }

    #[test]
    fn failures_are_classified() {
        let t = trial();
        let v = sh("echo oops >&2; exit 3").run(&t);
        assert_eq!(v.status, StatusType::Crashed);
        assert!(
            v.error_message().unwrap().contains("status 3") && v.error_message().unwrap().contains("oops")
        );
        let v = sh("echo nothing").run(&t);
        assert!(v.error_message().unwrap().contains("no cost"));
        let v = sh("echo cost=nan").run(&t);
        assert!(v.error_message().unwrap().contains("non-finite"));
        let started = Instant::now();
        let v = sh("sleep 5 & sleep 5; echo cost=1").trial_walltime_limit(0.3).run(&t);
        assert_eq!(v.status, StatusType::Timeout, "{v:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "the process group is killed, not waited for");
        let v = CommandTarget::new("/nonexistent/program").run(&t);
        assert!(v.error_message().unwrap().contains("cannot start"));
        let v = sh("echo 'cost=1; status=DONOTEXIST'").run(&t);
        assert_eq!(v.status, StatusType::Doesnotexist);
    }

    #[test]
    fn a_child_left_holding_stdout_neither_loses_the_cost_nor_outlives_the_trial() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        // The background child inherits stdout and would hold it open for 30 s.
        let script = format!("sleep 30 & echo $! > {}; echo cost=0.25", pidfile.display());
        let started = Instant::now();
        let v = sh(&script).run(&trial());
        let took = started.elapsed();
        assert_eq!((v.status, v.cost.clone()), (StatusType::Success, vec![0.25]), "{v:?}");
        assert!(took < Duration::from_secs(2), "only the grace period is waited: {took:?}");
        let child: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // SAFETY: signal 0 only checks for existence (a zombie of a reaped group is gone soon).
        let gone = (0..200).any(|_| {
            let alive = unsafe { libc::kill(child, 0) } == 0
                && std::fs::read_to_string(format!("/proc/{child}/stat"))
                    .map(|st| !st.contains(") Z "))
                    .unwrap_or(false);
            if alive {
                std::thread::sleep(Duration::from_millis(10));
            }
            !alive
        });
        assert!(gone, "the trial's background child {child} was killed with it");
    }

    #[test]
    fn a_configuration_too_large_for_the_environment_travels_in_a_file() {
        let mut cs = ConfigSpace::new("wide");
        for k in 0..10_000 {
            cs.add(Hyperparameter::float(format!("x{k}"), 0.0, 1.0)).unwrap();
        }
        let t = TrialInfo::new(Arc::new(cs).default_configuration(), Some(1));
        let script =
            r#"test -z "$SMAC_TRIAL_JSON" && grep -q '"x9999":0.5' "$SMAC_TRIAL_JSON_FILE" && echo cost=1"#;
        let v = sh(script).run(&t);
        assert_eq!((v.status, v.cost.clone()), (StatusType::Success, vec![1.0]), "{v:?}");
        // Small configurations keep the environment variable.
        let v = sh(r#"test -z "$SMAC_TRIAL_JSON_FILE" && test -n "$SMAC_TRIAL_JSON" && echo cost=2"#)
            .run(&trial());
        assert_eq!(v.cost, vec![2.0], "{v:?}");
    }
}
