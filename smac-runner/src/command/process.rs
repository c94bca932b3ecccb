//! Supervising a command target's process: output capture, waiting with limits, killing.

use crate::worker::watchdog::process_resident_bytes;
use std::io::Read;
use std::time::{Duration, Instant};

/// Most bytes of stdout/stderr kept per trial (the end is kept: the cost is printed last).
const MAX_CAPTURE: usize = 8 << 20;

/// Reads a pipe to its end on a thread, keeping at most the last `MAX_CAPTURE` bytes.
pub(super) fn capture(pipe: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        all.extend_from_slice(&buf[..n]);
                        if all.len() > 2 * MAX_CAPTURE {
                            all.drain(..all.len() - MAX_CAPTURE);
                        }
                    }
                }
            }
            let _ = tx.send(all);
        });
    } else {
        let _ = tx.send(Vec::new());
    }
    rx
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
                let rss = process_resident_bytes(&pid.to_string());
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

fn kill_group(pid: i32) {
    // SAFETY: signals the process group we created for the child (pgid == pid).
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}
