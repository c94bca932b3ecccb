//! Worker mode: with `n_workers > 1`, `smac optimize` starts local worker processes that are
//! the `smac` executable itself (SPMD, see `smac_runner::worker`); they run command targets.

/// Does nothing on SIGINT: Ctrl-C in a terminal reaches the whole foreground process group,
/// workers included, and the optimizer alone decides what an interrupt does to their trials.
/// A handler rather than `SIG_IGN`, so that target programs (after `exec`) get the default.
extern "C" fn ignore_signal(_: libc::c_int) {}

/// Serves trials and exits when this process was started as a worker; returns otherwise.
/// Must be the first thing `main` does.
pub fn serve_if_worker() {
    if !smac_runner::worker::is_worker_process() {
        return;
    }
    // SAFETY: installs an async-signal-safe no-op handler before any thread exists.
    unsafe {
        libc::signal(libc::SIGINT, ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    smac_runner::worker::Worker::new().run_if_worker();
}
