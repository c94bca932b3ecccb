//! Scattered data as workers see it: named blobs received once, read by targets by name.
//!
//! A worker process keeps one process-wide store. In-process thread workers each install their
//! own store for their thread, so that several in-process clusters in one process (tests, or
//! a program running two optimizations) do not see each other's data.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// Named blobs a worker received, and how many times each arrived.
#[derive(Debug, Default)]
pub struct ScatterStore {
    data: RwLock<HashMap<String, Arc<[u8]>>>,
    receipts: Mutex<HashMap<String, u64>>,
}

impl ScatterStore {
    /// Stores (or replaces) a blob and counts its arrival.
    pub fn insert(&self, name: String, data: Arc<[u8]>) {
        *self.receipts.lock().unwrap_or_else(|e| e.into_inner()).entry(name.clone()).or_default() += 1;
        self.data.write().unwrap_or_else(|e| e.into_inner()).insert(name, data);
    }

    /// The blob stored under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<[u8]>> {
        self.data.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// How many times a blob named `name` arrived at this worker.
    pub fn receipts(&self, name: &str) -> u64 {
        self.receipts.lock().unwrap_or_else(|e| e.into_inner()).get(name).copied().unwrap_or(0)
    }
}

thread_local! {
    static THREAD_STORE: RefCell<Option<Arc<ScatterStore>>> = const { RefCell::new(None) };
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

fn with_store<T>(f: impl FnOnce(&ScatterStore) -> T) -> T {
    let local = THREAD_STORE.with(|s| s.borrow().clone());
    match local {
        Some(store) => f(&store),
        None => f(process_store()),
    }
}

/// The blob scattered under `name`, as seen by the worker running the current trial.
pub fn scattered(name: &str) -> Option<Arc<[u8]>> {
    with_store(|s| s.get(name))
}

/// How many times the blob `name` was delivered to this worker (1 after a scatter, whatever
/// the number of trials): lets tests and users check that data is not resent per trial.
pub fn scatter_receipts(name: &str) -> u64 {
    with_store(|s| s.receipts(name))
}

/// Makes a blob readable by [`scattered`] in this process, for targets run in-process by a
/// sequential runner (so the same target code works with one worker or many).
pub fn set_scattered(name: impl Into<String>, data: impl Into<Arc<[u8]>>) {
    with_store(|s| s.insert(name.into(), data.into()))
}
