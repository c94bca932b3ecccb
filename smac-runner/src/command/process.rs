//! Supervising a command target's process: output capture, waiting with limits, killing.

use crate::worker::watchdog::process_resident_bytes;
use std::io::Read;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most bytes of stdout/stderr kept per trial (the end is kept: the cost is printed last).
const MAX_CAPTURE: usize = 8 << 20;

/// How long output pipes may stay open after the program's main process exited (a child it
/// left behind may still hold them) before the process group is killed.
pub(super) const OUTPUT_GRACE: Duration = Duration::from_millis(250);

/// A pipe read to its end on a thread; what was read so far is never lost.
pub(super) struct Capture {
    data: Arc<Mutex<Vec<u8>>>,
    done: Receiver<()>,
}

impl Capture {
    /// Waits until the pipe is closed, at most until `deadline`; whether it was.
    pub fn wait_closed(&self, deadline: Instant) -> bool {
        self.done.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
    }

    /// Everything read so far (the last `MAX_CAPTURE` bytes of it).
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.data.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Reads a pipe to its end on a thread, keeping at most the last `MAX_CAPTURE` bytes.
pub(super) fn capture(pipe: Option<impl Read + Send + 'static>) -> Capture {
    let (tx, done) = std::sync::mpsc::channel();
    let data = Arc::new(Mutex::new(Vec::new()));
    match pipe {
        Some(mut pipe) => {
            let sink = data.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut all = sink.lock().unwrap_or_else(|e| e.into_inner());
                            all.extend_from_slice(&buf[..n]);
                            if all.len() > 2 * MAX_CAPTURE {
                                let cut = all.len() - MAX_CAPTURE;
                                all.drain(..cut);
                            }
                        }
                    }
                }
                let _ = tx.send(());
            });
        }
        None => {
            let _ = tx.send(());
        }
    }
    Capture { data, done }
}

/// Kills the program's process group (pgid == pid: it called setpgid(0, 0)) and the program:
/// at a limit, and at the end of every trial, so that nothing a trial started outlives it.
pub(super) fn kill_group(pid: i32) {
    // SAFETY: plain signals to the group we created and to our own child; harmless when they
    // are already gone (an exited, reaped child's pid is only reused after the group is empty).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

/// How often a memory-limited trial's whole process group is measured (a scan of `/proc`).
const GROUP_SCAN: Duration = Duration::from_millis(50);

/// Resident memory of every process in group `pgid`, summed (from `/proc/*/stat`). A process
/// that left the group (`setsid`) is not counted.
pub(super) fn group_resident_bytes(pgid: i32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let mut pages = 0u64;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name (which may hold spaces and parentheses): state, ppid,
        // pgrp, ... with rss the 22nd of them.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            pages += fields.get(21).and_then(|r| r.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    pages * page
}

/// Why we killed a program.
#[derive(Debug)]
pub(super) enum Kill {
    Timeout,
    Memory(u64),
    Lost(String),
}

/// How a program ended.
#[derive(Debug)]
pub(super) struct Exit {
    pub status: i32,
    pub max_rss_bytes: u64,
    pub cpu_seconds: f64,
    pub killed: Option<Kill>,
}

/// Waits for `pid`, killing its process group at the walltime limit or when its resident
/// memory passes `mem_limit`. Uses a pidfd to sleep until exit when the kernel has them.
pub(super) fn wait_child(pid: i32, walltime: Option<f64>, mem_limit: Option<u64>) -> Exit {
    let deadline = walltime.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    // SAFETY: plain syscall; a negative result means unsupported and we fall back to sleeps.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let mut killed = None;
    let mut backoff = Duration::from_micros(50);
    let mut next_group_scan = Instant::now();
    let exit = loop {
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: we own the child `pid`; the pointers are to locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            break Exit {
                status,
                max_rss_bytes: (ru.ru_maxrss as u64).saturating_mul(1024),
                cpu_seconds: secs(ru.ru_utime) + secs(ru.ru_stime),
                killed,
            };
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break Exit {
                status: 0,
                max_rss_bytes: 0,
                cpu_seconds: 0.0,
                killed: Some(Kill::Lost(e.to_string())),
            };
        }
        let now = Instant::now();
        if killed.is_none() {
            if deadline.is_some_and(|d| now >= d) {
                kill_group(pid);
                killed = Some(Kill::Timeout);
            } else if let Some(limit) = mem_limit {
                // The limit holds for the trial, not per process: the main process is checked
                // at every turn, its whole group (children, data loaders) every GROUP_SCAN.
                let mut rss = process_resident_bytes(&pid.to_string());
                if now >= next_group_scan {
                    rss = rss.max(group_resident_bytes(pid));
                    next_group_scan = now + GROUP_SCAN;
                }
                if rss > limit {
                    kill_group(pid);
                    killed = Some(Kill::Memory(rss));
                }
            }
        }
        let mut pause = if killed.is_some() { Duration::from_millis(5) } else { Duration::from_secs(1) };
        if mem_limit.is_some() {
            pause = pause.min(Duration::from_millis(10));
        }
        if let Some(d) = deadline {
            pause = pause.min(d.saturating_duration_since(now) + Duration::from_millis(1));
        }
        if pidfd >= 0 {
            let mut fds = libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd; a timeout or EINTR just loops.
            unsafe { libc::poll(&mut fds, 1, pause.as_millis().max(1) as i32) };
        } else {
            std::thread::sleep(backoff.min(pause));
            backoff = (backoff * 2).min(Duration::from_millis(20));
        }
    };
    if pidfd >= 0 {
        // SAFETY: we opened this descriptor above and close it once.
        unsafe { libc::close(pidfd) };
    }
    exit
}
