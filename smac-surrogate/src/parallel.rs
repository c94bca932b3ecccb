//! The thread pool the model's parallel parts run on: one rayon pool per process.
//!
//! Why not rayon's global pool: it is built once per address space, and a process forked after
//! it started (Python's `multiprocessing` with the `fork` start method, Linux's default up to
//! Python 3.13; a pre-forking server) inherits the pool without its threads, so its first
//! parallel call waits forever (rayon-rs/rayon#708). Here the pool is keyed by the process id:
//! a forked child builds a pool of its own, and the parent's is leaked there (its threads do
//! not exist in the child, so dropping it would wait on them). `RAYON_NUM_THREADS` sets the
//! number of threads as for rayon's own pools.

use std::sync::Mutex;

/// This process's pool, with the id of the process that built it.
static POOL: Mutex<Option<(u32, &'static rayon::ThreadPool)>> = Mutex::new(None);

/// Runs `f` on this process's pool, whose parallel iterators then use it; inside a pool
/// already (a caller's own, or a nested call) `f` runs where it is.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    match pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// The length of each range when `n` items are split among the current pool's threads, one
/// range per thread but no shorter than `min` (short ranges cost more to hand out than they
/// save). Call it inside [`install`], where the current pool is this process's.
pub fn range_len(n: usize, min: usize) -> usize {
    n.div_ceil(rayon::current_num_threads().max(1)).max(min)
}

/// The pool of this process, built on first use; `None` when no thread can be started (the
/// work then runs on the calling thread).
fn pool() -> Option<&'static rayon::ThreadPool> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, pool)) = *slot {
        if owner == pid {
            return Some(pool);
        }
    }
    let pool = match rayon::ThreadPoolBuilder::new().thread_name(|i| format!("smac-model-{i}")).build() {
        Ok(pool) => &*Box::leak(Box::new(pool)),
        Err(e) => {
            tracing::warn!("no thread pool for the model ({e}); it runs on one thread");
            return None;
        }
    };
    *slot = Some((pid, pool));
    Some(pool)
}
