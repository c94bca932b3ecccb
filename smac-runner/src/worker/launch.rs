//! Process plumbing for the command-line tools: termination signals, and `--nworkers N` (one
//! command that starts N worker processes and supervises them, as `dask worker --nworkers`).
//!
//! The supervisor blocks `SIGTERM`/`SIGINT`/`SIGHUP` and waits for them synchronously (no
//! signal handlers), forwards the first one to its workers and waits for them to leave. A
//! worker that exits abnormally (a crash, a trial that hit its limits and ended its process,
//! a kill) is replaced, at most `3 × N` times; one that exits normally (its scheduler shut
//! down), cannot reach its scheduler or is misconfigured is not. Workers get `SIGTERM` if the supervisor itself dies (`PR_SET_PDEATHSIG`), so
//! none outlives it.

use crate::worker::config::{EXIT_CONFIG, EXIT_NO_SCHEDULER};
use std::ffi::OsString;
use std::mem::MaybeUninit;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long workers have to leave after the supervisor forwarded a termination signal.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The signals that end the tools cleanly.
pub const TERMINATION_SIGNALS: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// A set of blocked signals that [`SignalSet::wait`] takes synchronously.
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// Blocks the termination signals in this thread (and threads it starts later); call it
    /// first thing in `main`, before any thread exists.
    pub fn block_termination() -> std::io::Result<SignalSet> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initializes the set; sigaddset and pthread_sigmask read it.
        let set = unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            let mut set = set.assume_init();
            for s in TERMINATION_SIGNALS {
                libc::sigaddset(&mut set, s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            set
        };
        Ok(SignalSet(set))
    }

    /// Waits for one of the signals, at most `timeout` (forever when `None`).
    pub fn wait(&self, timeout: Option<Duration>) -> Option<i32> {
        loop {
            // SAFETY: the set is initialized; the timespec outlives the call.
            let sig = unsafe {
                match timeout {
                    Some(t) => {
                        let ts = libc::timespec {
                            tv_sec: t.as_secs() as libc::time_t,
                            tv_nsec: t.subsec_nanos() as libc::c_long,
                        };
                        libc::sigtimedwait(&self.0, std::ptr::null_mut(), &ts)
                    }
                    None => libc::sigwaitinfo(&self.0, std::ptr::null_mut()),
                }
            };
            if sig > 0 {
                return Some(sig);
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted || timeout.is_some()
            {
                return None;
            }
        }
    }
}

/// The name of a signal, for logs.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Starts `n` copies of `program args` (with `envs` and `SMAC_WORKER_INDEX`), replaces those
/// that fail, and returns the exit code once all have exited.
pub fn supervise(program: &Path, args: &[OsString], envs: &[(OsString, OsString)], n: usize) -> i32 {
    let signals = match SignalSet::block_termination() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smac worker supervisor: cannot block signals: {e}");
            return 1;
        }
    };
    let spawn = |k: usize| -> std::io::Result<Child> {
        let mut cmd = Command::new(program);
        cmd.args(args).envs(envs.iter().map(|(k, v)| (k, v))).env("SMAC_WORKER_INDEX", k.to_string());
        cmd.stdin(Stdio::null());
        // SAFETY: getpid is async-signal-safe and runs before fork.
        let parent = unsafe { libc::getpid() };
        // SAFETY: between fork and exec only async-signal-safe calls are made (prctl,
        // getppid, sigprocmask), touching no locks or allocations.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 || libc::getppid() != parent {
                    return Err(std::io::Error::other("the supervisor is gone"));
                }
                let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
                libc::sigemptyset(empty.as_mut_ptr());
                libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
                Ok(())
            });
        }
        cmd.spawn()
    };
    let mut children: Vec<Option<Child>> = Vec::with_capacity(n);
    for k in 0..n {
        match spawn(k) {
            Ok(c) => children.push(Some(c)),
            Err(e) => {
                eprintln!("smac worker supervisor: cannot start {}: {e}", program.display());
                children.push(None);
            }
        }
    }
    tracing::info!(n, "started worker processes");
    let (mut budget, mut failed, mut stopping) = (3 * n, false, None::<Instant>);
    loop {
        if let Some(sig) = signals.wait(Some(Duration::from_millis(100))) {
            if stopping.is_none() {
                tracing::info!("{}: stopping the workers", signal_name(sig));
                stopping = Some(Instant::now() + STOP_GRACE);
                for c in children.iter().flatten() {
                    // SAFETY: signals a child we started and have not reaped.
                    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
                }
            }
        }
        for (k, slot) in children.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            let Ok(Some(status)) = child.try_wait() else { continue };
            *slot = None;
            // Exited normally, or for a reason a restart cannot fix (bad settings, no scheduler).
            let final_code = matches!(status.code(), Some(0 | EXIT_CONFIG | EXIT_NO_SCHEDULER));
            if stopping.is_some() || final_code {
                failed |= stopping.is_none() && !status.success();
                continue;
            }
            if budget == 0 {
                tracing::error!(k, %status, "worker process exited; no restarts left");
                failed = true;
                continue;
            }
            budget -= 1;
            tracing::warn!(k, %status, "worker process exited; starting a replacement");
            *slot = spawn(k).map_err(|e| tracing::error!("restart failed: {e}")).ok();
        }
        if children.iter().all(Option::is_none) {
            return i32::from(failed && stopping.is_none());
        }
        if stopping.is_some_and(|d| Instant::now() > d) {
            for c in children.iter_mut().flatten() {
                let _ = c.kill();
            }
        }
    }
}
