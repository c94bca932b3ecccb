//! Writing to the scheduler from a worker's threads (trials, heartbeats, the watchdog), which
//! share one socket under a lock.

use crate::protocol::{encode_frame, ToScheduler};
use crate::worker::config::WorkerError;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};

/// Exit code of a worker that stopped itself because a trial exceeded its limits.
pub const EXIT_TRIAL_LIMIT: i32 = 86;

/// The socket, whatever a panicking writer left behind.
pub(crate) fn lock(out: &Mutex<TcpStream>) -> MutexGuard<'_, TcpStream> {
    out.lock().unwrap_or_else(|e| e.into_inner())
}

/// Encodes and writes one message under the writer lock (heartbeats share the socket).
pub(crate) fn send(out: &Mutex<TcpStream>, msg: &ToScheduler, max_frame: usize) -> Result<(), WorkerError> {
    let mut buf = Vec::with_capacity(256);
    encode_frame(msg, max_frame, &mut buf)?;
    lock(out).write_all(&buf)?;
    Ok(())
}
