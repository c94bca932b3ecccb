//! Process groups of running targets die with the process that started them, however it ends
//! — `kill -9` included, which no code of the dying process can react to.
//!
//! On first use, a process forks a *reaper*: a tiny process in its own session that holds the
//! read end of a pipe whose only write end this process holds (close-on-exec, so targets do not
//! inherit it). Every target's process group is registered on the pipe as soon as it is
//! spawned and unregistered when its trial ends (after the group was killed). When the starting process dies, the kernel closes the write end, the
//! reaper reads end-of-file, kills every group still registered and exits.
//!
//! `PR_SET_PDEATHSIG` alone would not do: it reaches only the direct child, not the children a
//! target started (data loaders, `sleep &`), and it fires when the *thread* that forked exits.
//! A cgroup would also catch processes that leave the group (`setsid`), but needs a delegated
//! cgroup v2 subtree, which most clusters do not give to jobs; a target that starts its own
//! session escapes this mechanism (documented in docs/command-runner.md).

use std::os::fd::RawFd;
use std::sync::OnceLock;

/// Most groups the reaper tracks at once (targets running at once in one process); beyond
/// that, further groups are not tracked.
const MAX_GROUPS: usize = 4096;

/// The write end of the pipe to this process's reaper, once started; `None` when it could not
/// be started (logged once; targets then run without this guarantee).
static REAPER: OnceLock<Option<RawFd>> = OnceLock::new();

/// The pipe to this process's reaper, started on first use.
pub(super) fn pipe() -> Option<RawFd> {
    *REAPER.get_or_init(|| match start() {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::warn!("cannot start the process that kills targets left behind by a dying worker: {e}");
            None
        }
    })
}

/// Registers (`pgid > 0`) or unregisters (`-pgid`) a group. A 4-byte write to a pipe is
/// atomic, so threads need no lock.
pub(super) fn send(fd: RawFd, signed_pgid: i32) {
    let bytes = signed_pgid.to_ne_bytes();
    // SAFETY: writes 4 bytes from a local array to a descriptor we own.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

fn start() -> std::io::Result<RawFd> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: getrlimit fills a local struct; read before fork so the child need not.
    let max_fd = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur != libc::RLIM_INFINITY {
            (lim.rlim_cur as i64).min(1 << 20) as RawFd
        } else {
            65536
        }
    };
    // SAFETY: the child only makes async-signal-safe calls on stack data and never returns.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => unsafe { reap(read_end, max_fd) },
        _ => {
            // SAFETY: the read end belongs to the reaper now.
            unsafe { libc::close(read_end) };
            Ok(write_end)
        }
    }
}

/// The reaper's whole life, in the forked child: no allocation, no locks, async-signal-safe
/// calls only (the parent may have had other threads holding locks at the fork).
///
/// # Safety
/// Only to be called in a freshly forked child.
unsafe fn reap(read_end: RawFd, max_fd: RawFd) -> ! {
    // Hold no descriptor of the parent: an inherited socket would keep the worker's connection
    // open in the scheduler's eyes after the worker died, and an inherited pipe a target's
    // output open.
    if read_end > 0 && libc::syscall(libc::SYS_close_range, 0u32, (read_end - 1) as u32, 0u32) != 0 {
        for fd in 0..read_end {
            libc::close(fd);
        }
    }
    if libc::syscall(libc::SYS_close_range, (read_end + 1) as u32, u32::MAX, 0u32) != 0 {
        for fd in read_end + 1..max_fd {
            libc::close(fd);
        }
    }
    // Own session: a Ctrl-C to the terminal or a kill of the worker's process group must not
    // take the reaper with it. Only end-of-file (or SIGKILL) ends it.
    libc::setsid();
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGPIPE,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        libc::signal(sig, libc::SIG_IGN);
    }
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    libc::sigemptyset(set.as_mut_ptr());
    libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());

    let mut groups = [0i32; MAX_GROUPS];
    let mut buf = [0u8; 4 * 256];
    let mut have = 0usize;
    loop {
        let n = libc::read(read_end, buf.as_mut_ptr().add(have).cast(), buf.len() - have);
        if n < 0 && *libc::__errno_location() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        have += n as usize;
        let whole = have - have % 4;
        for rec in buf[..whole].chunks_exact(4) {
            let v = i32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
            if v > 0 {
                if let Some(slot) = groups.iter_mut().find(|g| **g == 0) {
                    *slot = v;
                }
            } else if let Some(slot) = groups.iter_mut().find(|g| **g == -v) {
                *slot = 0;
            }
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
    // The process that started the targets is gone: nothing it started may outlive it.
    for &g in groups.iter().filter(|g| **g > 0) {
        libc::kill(-g, libc::SIGKILL);
    }
    libc::_exit(0)
}
