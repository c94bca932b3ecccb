//! The Dask entry points of a worker program: the long-lived **executor** the Dask tasks send
//! trials to ([`ENV_EXECUTOR`], see [`crate::dask`] for the design), and the older one-shot
//! **trial process** ([`ENV_TRIAL`], one process per trial, kept for sidecars of earlier
//! versions).
//!
//! # Executor mode
//!
//! Started by the Dask task with [`ENV_EXECUTOR`] set, the program serves trials until its stdin
//! closes, its Dask worker dies, or it stays idle for [`ENV_EXECUTOR_IDLE`] seconds (default
//! 600). stdin carries `SMACDX01`, then frames `[op: u8][len: u32 BE][payload]`:
//!
//! - `T`: the target payload (sent once per executor; decoded once per target type);
//! - `S`: a scattered blob, sections (name, file path): read once, then served by
//!   [`crate::worker::scattered`];
//! - `R`: a trial, sections (bincode `TrialRequest`), then a `u32` count of environment pairs
//!   and that many (name, value) sections, set while the trial runs.
//!
//! Each `R` is answered with `[len: u32 BE][bincode TrialValue]` on the file descriptor that
//! was stdout at start; stdout itself is pointed at stderr, so a target that prints cannot
//! corrupt the answers. A memory limit is an address-space cap for the trial's duration: a
//! trial over it aborts the executor, the task reports the exit as today, and a fresh
//! executor serves the next trial.
//!
//! # Trial mode (one process per trial)
//!
//! The Dask task starts the worker program (the user's binary, which calls
//! [`crate::worker::serve_if_worker`] first thing in `main`, or `smac-worker`) with
//! [`ENV_TRIAL`] set. [`crate::worker::Worker::run_if_worker`] then lands here: read the
//! request from stdin, decode the runner with the worker's decoders, make the scattered blobs
//! readable through [`crate::worker::scattered`], run the trial and write the bincode
//! `TrialValue` to the result file the task named. The result goes to a file, not stdout, so a
//! target that prints cannot corrupt it.
//!
//! stdin layout (written by the Python task): `SMACDT01`, then the sections request, runner
//! payload, result path, a `u32` count and that many (name, file path) pairs, each section a
//! `u32` big-endian length and its bytes.

use crate::command::CommandTarget;
use crate::core::{ShippableTarget, TargetDecoder};
use crate::worker::config::WORKER_ENV_VARS;
use crate::worker::env_guard::EnvGuard;
use crate::worker::scatter::set_scattered;
use serde::{Deserialize, Serialize};
use smac_core::{evaluate_trial, StatusType, TargetFunction, TrialInfo, TrialValue};
use std::any::TypeId;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Env var that starts a worker program in trial mode.
pub const ENV_TRIAL: &str = "SMAC_DASK_TRIAL";
/// First bytes of the trial input.
pub(crate) const TRIAL_MAGIC: &[u8; 8] = b"SMACDT01";
/// Env var that starts a worker program as a long-lived Dask executor.
pub const ENV_EXECUTOR: &str = "SMAC_DASK_EXECUTOR";
/// Env var: seconds an idle executor waits for a trial before it exits (default 600).
pub const ENV_EXECUTOR_IDLE: &str = "SMAC_DASK_EXECUTOR_IDLE_S";
/// First bytes of an executor's input.
pub(crate) const EXECUTOR_MAGIC: &[u8; 8] = b"SMACDX01";
/// Largest frame an executor accepts (a target payload or a trial request).
const MAX_EXECUTOR_FRAME: usize = 1 << 31;

/// What the optimizer sends for one trial (bincode, inside the Dask task's arguments).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TrialRequest {
    /// The target type's declared name ([`ShippableTarget::NAME`]).
    pub tag: String,
    /// The trial.
    pub trial: TrialInfo,
    /// Memory limit of an in-process Rust target, MB above the process's size at start.
    pub memory_mb: Option<u64>,
}

/// Why the entry point could not even report a failed trial.
#[derive(Debug, Error)]
pub enum EntryError {
    /// stdin or the result file failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// stdin is not a trial request.
    #[error("malformed trial input: {0}")]
    Input(String),
}

/// The decoded stdin.
struct Input {
    request: Vec<u8>,
    runner: Vec<u8>,
    result: PathBuf,
    scattered: Vec<(String, PathBuf)>,
}

/// Whether this process was started by a Dask task to run one trial.
pub fn is_trial_process() -> bool {
    std::env::var_os(ENV_TRIAL).is_some() || std::env::var_os(ENV_EXECUTOR).is_some()
}

/// Runs the trial and exits the process when started in trial mode; returns otherwise.
/// Called first thing by `Worker::run_if_worker`, before any thread exists.
pub(crate) fn run_trial_if_requested(decoders: &[(String, TypeId, TargetDecoder)]) {
    if !is_trial_process() {
        return;
    }
    let executor = std::env::var_os(ENV_EXECUTOR).is_some();
    let idle = std::env::var(ENV_EXECUTOR_IDLE).ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(600.0);
    // Programs the target starts must not believe they are workers or trials too.
    std::env::remove_var(ENV_TRIAL);
    std::env::remove_var(ENV_EXECUTOR);
    std::env::remove_var(ENV_EXECUTOR_IDLE);
    for var in WORKER_ENV_VARS {
        std::env::remove_var(var);
    }
    if executor {
        let code = match serve_executor(decoders, Duration::from_secs_f64(idle.max(1.0))) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("smac dask executor: {e}");
                2
            }
        };
        std::process::exit(code)
    }
    let code = match run(decoders) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("smac dask trial: {e}");
            eprintln!("smac dask trial: {e}");
            2
        }
    };
    std::process::exit(code)
}

fn run(decoders: &[(String, TypeId, TargetDecoder)]) -> Result<(), EntryError> {
    let mut raw = Vec::new();
    std::io::stdin().lock().read_to_end(&mut raw)?;
    let input = parse(&raw)?;
    drop(raw);
    exit_with_parent();
    let start = smac_core::trial::unix_now();
    let value = evaluate(decoders, &input)
        .unwrap_or_else(|message| TrialValue::failure(StatusType::Crashed, message, start));
    let bytes = bincode::serialize(&value).map_err(|e| EntryError::Input(format!("cannot encode: {e}")))?;
    std::fs::write(&input.result, bytes)?;
    Ok(())
}

/// Decodes the target, installs the scattered data and runs the trial; an error is the
/// message of the failed trial.
fn evaluate(decoders: &[(String, TypeId, TargetDecoder)], input: &Input) -> Result<TrialValue, String> {
    let request: TrialRequest = bincode::deserialize(&input.request)
        .map_err(|e| format!("cannot decode the trial request (smac-rs version mismatch?): {e}"))?;
    let decode = find_decoder(decoders, &request.tag)?;
    let target = decode(&input.runner)?;
    for (name, path) in &input.scattered {
        let data = std::fs::read(path)
            .map_err(|e| format!("cannot read scattered data '{name}' from {}: {e}", path.display()))?;
        set_scattered(name.clone(), data);
    }
    // Command targets enforce their own limits on the program they start.
    if let (Some(mb), false) = (request.memory_mb, request.tag == CommandTarget::NAME) {
        if let Err(e) = limit_address_space(mb) {
            tracing::warn!("cannot apply the memory limit of {mb} MB: {e}");
        }
    }
    Ok(evaluate_trial(&*target, &request.trial))
}

/// What an executor keeps between trials.
struct Executor<'a> {
    decoders: &'a [(String, TypeId, TargetDecoder)],
    payload: Vec<u8>,
    targets: HashMap<String, Arc<dyn TargetFunction>>,
}

impl Executor<'_> {
    /// Runs one `R` frame and returns the encoded `TrialValue`.
    fn trial(&mut self, payload: &[u8]) -> Result<Vec<u8>, EntryError> {
        let start = smac_core::trial::unix_now();
        let mut cur = Sections(payload);
        let request = cur.bytes("request")?;
        let n = cur.u32("env count")? as usize;
        let mut env = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let k = cur.text("env name")?;
            env.push((k, cur.text("env value")?));
        }
        let value = self
            .evaluate(request, &env)
            .unwrap_or_else(|m| TrialValue::failure(StatusType::Crashed, m, start));
        bincode::serialize(&value).map_err(|e| EntryError::Input(format!("cannot encode: {e}")))
    }

    fn evaluate(&mut self, request: &[u8], env: &[(String, String)]) -> Result<TrialValue, String> {
        let request: TrialRequest = bincode::deserialize(request)
            .map_err(|e| format!("cannot decode the trial request (smac-rs version mismatch?): {e}"))?;
        let target = match self.targets.get(&request.tag) {
            Some(t) => t.clone(),
            None => {
                let decode = find_decoder(self.decoders, &request.tag)?;
                let t = decode(&self.payload)?;
                self.targets.insert(request.tag.clone(), t.clone());
                t
            }
        };
        let _env = EnvGuard::apply(env);
        let _cap = match (request.memory_mb, request.tag == CommandTarget::NAME) {
            // Command targets enforce their own limits on the program they start.
            (Some(mb), false) => match limit_address_space(mb) {
                Ok(()) => Some(AddressCap),
                Err(e) => {
                    tracing::warn!("cannot apply the memory limit of {mb} MB: {e}");
                    None
                }
            },
            _ => None,
        };
        Ok(evaluate_trial(&*target, &request.trial))
    }
}

/// Lifts the address-space cap of a trial when it ends.
struct AddressCap;

impl Drop for AddressCap {
    fn drop(&mut self) {
        let rl = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
        // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the
        // (infinite) hard limit is always allowed.
        unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) };
    }
}

fn find_decoder(decoders: &[(String, TypeId, TargetDecoder)], tag: &str) -> Result<TargetDecoder, String> {
    match decoders.iter().find(|(t, _, _)| t == tag) {
        Some((_, _, decode)) => Ok(*decode),
        None => {
            let known: Vec<&str> = decoders.iter().map(|(t, _, _)| t.as_str()).collect();
            Err(format!(
                "this worker program cannot run targets of type '{tag}'; it serves {known:?}. Call \
                 smac_runner::worker::serve_if_worker::<YourTarget>() first thing in its main"
            ))
        }
    }
}

/// Serves executor frames on stdin until it closes (see the module docs).
fn serve_executor(decoders: &[(String, TypeId, TargetDecoder)], idle: Duration) -> Result<(), EntryError> {
    // Answers go to what stdout was at start; the target's prints go to stderr.
    // SAFETY: dup/dup2 on the process's own standard descriptors.
    let answers = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(EntryError::Io(std::io::Error::last_os_error()));
        }
        std::fs::File::from_raw_fd(fd)
    };
    let mut answers = std::io::BufWriter::new(answers);
    exit_with_parent();
    let busy = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU64::new(0));
    let born = Instant::now();
    {
        let (busy, last) = (busy.clone(), last.clone());
        let _ = std::thread::Builder::new().name("smac-idle-watch".into()).spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let since = born.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Acquire)));
            if !busy.load(Ordering::Acquire) && since > idle {
                eprintln!("smac dask executor: idle for {idle:?}; exiting");
                std::process::exit(0);
            }
        });
    }
    let stdin = std::io::stdin();
    let mut input = std::io::BufReader::new(stdin.lock());
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic)?;
    if &magic != EXECUTOR_MAGIC {
        return Err(EntryError::Input("no SMACDX01 magic: not a smac-rs executor".into()));
    }
    let mut executor = Executor { decoders, payload: Vec::new(), targets: HashMap::new() };
    let mut head = [0u8; 5];
    loop {
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        busy.store(true, Ordering::Release);
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_EXECUTOR_FRAME {
            return Err(EntryError::Input(format!("frame of {len} bytes is too large")));
        }
        let mut payload = vec![0u8; len];
        input.read_exact(&mut payload)?;
        match head[0] {
            b'T' => {
                executor.payload = payload;
                executor.targets.clear();
            }
            b'S' => {
                let mut cur = Sections(&payload);
                let name = cur.text("scatter name")?;
                let path = PathBuf::from(cur.text("scatter path")?);
                let data = std::fs::read(&path).map_err(|e| {
                    EntryError::Input(format!(
                        "cannot read scattered data '{name}' from {}: {e}",
                        path.display()
                    ))
                })?;
                set_scattered(name, data);
            }
            b'R' => {
                let value = executor.trial(&payload)?;
                answers.write_all(&(value.len() as u32).to_be_bytes())?;
                answers.write_all(&value)?;
                answers.flush()?;
            }
            op => return Err(EntryError::Input(format!("unknown executor frame {op}"))),
        }
        last.store(born.elapsed().as_millis() as u64, Ordering::Release);
        busy.store(false, Ordering::Release);
    }
}

fn parse(raw: &[u8]) -> Result<Input, EntryError> {
    let rest = raw
        .strip_prefix(TRIAL_MAGIC.as_slice())
        .ok_or_else(|| EntryError::Input("no SMACDT01 magic: not a smac-rs trial".into()))?;
    let mut cur = Sections(rest);
    let request = cur.bytes("request")?.to_vec();
    let runner = cur.bytes("runner payload")?.to_vec();
    let result = PathBuf::from(cur.text("result path")?);
    let n = cur.u32("scatter count")? as usize;
    let mut scattered = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = cur.text("scatter name")?;
        scattered.push((name, PathBuf::from(cur.text("scatter path")?)));
    }
    Ok(Input { request, runner, result, scattered })
}

/// A cursor over length-prefixed sections.
struct Sections<'a>(&'a [u8]);

impl<'a> Sections<'a> {
    fn u32(&mut self, what: &str) -> Result<u32, EntryError> {
        let b: [u8; 4] = self.0.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(|| truncated(what))?;
        self.0 = &self.0[4..];
        Ok(u32::from_be_bytes(b))
    }

    fn bytes(&mut self, what: &str) -> Result<&'a [u8], EntryError> {
        let n = self.u32(what)? as usize;
        let body = self.0.get(..n).ok_or_else(|| truncated(what))?;
        self.0 = &self.0[n..];
        Ok(body)
    }

    fn text(&mut self, what: &str) -> Result<String, EntryError> {
        String::from_utf8(self.bytes(what)?.to_vec())
            .map_err(|_| EntryError::Input(format!("{what} is not UTF-8")))
    }
}

fn truncated(what: &str) -> EntryError {
    EntryError::Input(format!("truncated {what}"))
}

/// Ends this process soon after the Dask worker that started it dies (SIGKILL, node loss), so
/// a lost trial does not keep burning a core. Polling survives what `PR_SET_PDEATHSIG` does
/// not: the signal fires when the *thread* that forked exits, and Dask's task threads may.
fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    let _ = std::thread::Builder::new().name("smac-parent-watch".into()).spawn(move || loop {
        std::thread::sleep(Duration::from_millis(250));
        if std::os::unix::process::parent_id() != parent {
            eprintln!("smac dask trial: the Dask worker that started this trial is gone; exiting");
            std::process::exit(3);
        }
    });
}

/// Caps the address space at its current size plus `mb` MB: allocations beyond fail, and
/// Rust aborts with "memory allocation of N bytes failed", which the runner reports as
/// `MemoryOut`.
fn limit_address_space(mb: u64) -> std::io::Result<()> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let limit = pages * page + (mb << 20);
    let rl = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn parses_the_layout_the_python_task_writes() {
        let mut raw = TRIAL_MAGIC.to_vec();
        for s in [&b"req"[..], b"runner", b"/tmp/r"] {
            raw.extend(section(s));
        }
        raw.extend(1u32.to_be_bytes());
        raw.extend(section(b"data"));
        raw.extend(section(b"/tmp/data"));
        let input = parse(&raw).unwrap();
        assert_eq!((input.request.as_slice(), input.runner.as_slice()), (&b"req"[..], &b"runner"[..]));
        assert_eq!(input.result, PathBuf::from("/tmp/r"));
        assert_eq!(input.scattered, vec![("data".to_string(), PathBuf::from("/tmp/data"))]);
        assert!(parse(&raw[..raw.len() - 3]).is_err());
        assert!(parse(b"nonsense").is_err());
    }
}
