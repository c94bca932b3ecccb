//! Scattered data as workers see it: named blobs received once, read by targets by name.
//!
//! Blobs belong to the parallel runner that scattered them: a worker keeps them per runner and
//! frees them when the runner detaches, so a later, unrelated run on the same workers never
//! sees them. While a trial runs, its runner is the thread's *current runner*, which is how
//! [`scattered`] finds the blob without the target knowing any runner id.
//!
//! A worker process keeps one process-wide store. In-process thread workers each install their
//! own store for their thread, so that several in-process clusters in one process (tests, or
//! a program running two optimizations) do not see each other's data.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The runner key of blobs set outside any parallel runner ([`set_scattered`]).
const NO_RUNNER: u64 = u64::MAX;

/// One runner's blobs by name.
type Blobs = HashMap<String, Arc<[u8]>>;

/// Named blobs a worker received per runner, and how many times each name arrived.
#[derive(Debug, Default)]
pub struct ScatterStore {
    data: RwLock<HashMap<u64, Blobs>>,
    receipts: Mutex<HashMap<String, u64>>,
}

impl ScatterStore {
    /// Stores (or replaces) a blob of `runner` and counts its arrival.
    pub fn insert(&self, runner: u64, name: String, data: Arc<[u8]>) {
        *self.receipts.lock().unwrap_or_else(|e| e.into_inner()).entry(name.clone()).or_default() += 1;
        self.data.write().unwrap_or_else(|e| e.into_inner()).entry(runner).or_default().insert(name, data);
    }

    /// The blob `runner` stored under `name`.
    pub fn get(&self, runner: u64, name: &str) -> Option<Arc<[u8]>> {
        self.data.read().unwrap_or_else(|e| e.into_inner()).get(&runner).and_then(|m| m.get(name)).cloned()
    }

    /// Frees every blob of `runner`.
    pub fn drop_runner(&self, runner: u64) {
        self.data.write().unwrap_or_else(|e| e.into_inner()).remove(&runner);
    }

    /// Bytes held, over all runners.
    pub fn bytes(&self) -> usize {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.values().flat_map(|m| m.values()).map(|b| b.len()).sum()
    }

    /// How many times a blob named `name` arrived at this worker.
    pub fn receipts(&self, name: &str) -> u64 {
        self.receipts.lock().unwrap_or_else(|e| e.into_inner()).get(name).copied().unwrap_or(0)
    }
}

thread_local! {
    static THREAD_STORE: RefCell<Option<Arc<ScatterStore>>> = const { RefCell::new(None) };
    static CURRENT_RUNNER: Cell<u64> = const { Cell::new(NO_RUNNER) };
}

/// The store of this worker process.
pub(crate) fn process_store() -> &'static ScatterStore {
    static STORE: OnceLock<ScatterStore> = OnceLock::new();
    STORE.get_or_init(ScatterStore::default)
}

/// Makes `store` the one targets on this thread read from (in-process workers).
pub(crate) fn install_thread_store(store: Arc<ScatterStore>) {
    THREAD_STORE.with(|s| *s.borrow_mut() = Some(store));
}

/// Runs `f` with `runner` as this thread's current runner (a trial of that runner).
pub(crate) fn with_runner<T>(runner: u64, f: impl FnOnce() -> T) -> T {
    let before = CURRENT_RUNNER.with(|c| c.replace(runner));
    let out = f();
    CURRENT_RUNNER.with(|c| c.set(before));
    out
}

fn with_store<T>(f: impl FnOnce(&ScatterStore) -> T) -> T {
    let local = THREAD_STORE.with(|s| s.borrow().clone());
    match local {
        Some(store) => f(&store),
        None => f(process_store()),
    }
}

/// The blob scattered under `name` by the runner of the current trial.
pub fn scattered(name: &str) -> Option<Arc<[u8]>> {
    let runner = CURRENT_RUNNER.with(Cell::get);
    with_store(|s| s.get(runner, name).or_else(|| s.get(NO_RUNNER, name)))
}

/// How many times the blob `name` was delivered to this worker (1 after a scatter, whatever
/// the number of trials): lets tests and users check that data is not resent per trial.
pub fn scatter_receipts(name: &str) -> u64 {
    with_store(|s| s.receipts(name))
}

/// Bytes of scattered data this worker holds (all runners).
pub fn scattered_bytes() -> usize {
    with_store(|s| s.bytes())
}

/// Makes a blob readable by [`scattered`] in this process, for targets run in-process by a
/// serial runner (so the same target code works with one worker or many).
pub fn set_scattered(name: impl Into<String>, data: impl Into<Arc<[u8]>>) {
    with_store(|s| s.insert(NO_RUNNER, name.into(), data.into()))
}
