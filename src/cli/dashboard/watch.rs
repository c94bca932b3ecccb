//! Watching run directories: polls the files' sizes and modification times, reloads a run when
//! they change, finds runs that appear below the watched folders, and counts versions so that
//! pages learn of changes. Only reads: the run's writer renames whole files into place, so a
//! read sees either the old or the new file.

use super::model::{Overview, RunData};
use crate::cli::rundir::{self, Run};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tokio::sync::watch;

/// The files whose change triggers a reload.
const WATCHED: [&str; 5] =
    ["scenario.json", "configspace.json", "runhistory.json", "intensifier.json", "optimization.json"];

type Stamp = Vec<Option<(u64, SystemTime)>>;

/// One run directory the dashboard knows.
pub struct Slot {
    /// The directory.
    pub path: PathBuf,
    stamp: Option<Stamp>,
    /// The last successfully loaded state.
    pub data: Option<Arc<RunData>>,
    /// Why the last load failed (the page shows it next to any older data).
    pub error: Option<String>,
}

/// What the page lists about a run.
#[derive(Serialize)]
pub struct RunEntry {
    /// Index of the run (stable while the server runs).
    pub id: usize,
    /// The directory.
    pub path: String,
    /// The overview, once loaded.
    pub overview: Option<Overview>,
    /// The last load error.
    pub error: Option<String>,
}

/// The state pages see: every run and the watched folders' problems.
#[derive(Serialize)]
pub struct Snapshot {
    /// Increases on every change.
    pub version: u64,
    /// Watched folders.
    pub roots: Vec<String>,
    /// Problems of watched folders (missing, no runs yet).
    pub notes: Vec<String>,
    /// The runs.
    pub runs: Vec<RunEntry>,
}

/// The watched runs, shared by the poller and the request handlers.
pub struct Watcher {
    roots: Vec<PathBuf>,
    slots: RwLock<Vec<Slot>>,
    notes: RwLock<Vec<String>>,
    version: watch::Sender<u64>,
}

fn stamp(dir: &Path) -> Stamp {
    WATCHED
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).ok().and_then(|m| Some((m.len(), m.modified().ok()?))))
        .collect()
}

impl Watcher {
    /// A watcher of the run directories at or below `roots` (nothing loaded until [`Self::refresh`]).
    pub fn new(roots: Vec<PathBuf>) -> Watcher {
        Watcher {
            roots,
            slots: RwLock::new(Vec::new()),
            notes: RwLock::new(Vec::new()),
            version: watch::channel(0).0,
        }
    }

    /// A receiver that sees every version change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Finds new runs and reloads changed ones; bumps the version if anything changed.
    pub fn refresh(&self) {
        let mut notes = Vec::new();
        let mut found = Vec::new();
        for root in &self.roots {
            if !root.is_dir() {
                notes.push(format!("{}: not a directory (yet)", root.display()));
                continue;
            }
            match rundir::find(root) {
                Ok(dirs) => found.extend(dirs),
                Err(_) => notes.push(format!(
                    "{}: no run directory here yet (waiting for a runhistory.json)",
                    root.display()
                )),
            }
        }
        let mut changed = false;
        let due: Vec<(usize, PathBuf, Stamp)> = {
            let mut slots = self.slots.write().expect("slots lock");
            for dir in found {
                if !slots.iter().any(|s| s.path == dir) {
                    slots.push(Slot { path: dir, stamp: None, data: None, error: None });
                }
            }
            slots
                .iter()
                .enumerate()
                .map(|(i, s)| (i, s.path.clone(), stamp(&s.path), &s.stamp))
                .filter(|(_, _, now, old)| old.as_ref() != Some(now))
                .map(|(i, p, now, _)| (i, p, now))
                .collect()
        };
        // Loading happens outside the lock: requests keep the previous state meanwhile.
        for (i, path, now) in due {
            let loaded = Run::load(&path).map(|run| Arc::new(RunData::new(run)));
            let mut slots = self.slots.write().expect("slots lock");
            let slot = &mut slots[i];
            changed = true;
            slot.stamp = Some(now);
            match loaded {
                Ok(d) => {
                    slot.data = Some(d);
                    slot.error = None;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "cannot read the run: {e}");
                    slot.error = Some(e.to_string());
                }
            }
        }
        let mut old = self.notes.write().expect("notes lock");
        if *old != notes {
            *old = notes;
            changed = true;
        }
        drop(old);
        if changed {
            self.version.send_modify(|v| *v += 1);
        }
    }

    /// The run with index `id`, if loaded.
    pub fn run(&self, id: usize) -> Option<Arc<RunData>> {
        self.slots.read().expect("slots lock").get(id).and_then(|s| s.data.clone())
    }

    /// All loaded runs with their labels.
    pub fn loaded(&self) -> Vec<(usize, String, Arc<RunData>)> {
        let slots = self.slots.read().expect("slots lock");
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let d = s.data.clone()?;
                let label = format!("{} (seed {})", d.overview.name, d.overview.seed);
                Some((i, label, d))
            })
            .collect()
    }

    /// What the page lists.
    pub fn snapshot(&self) -> Snapshot {
        let slots = self.slots.read().expect("slots lock");
        Snapshot {
            version: *self.version.borrow(),
            roots: self.roots.iter().map(|r| r.display().to_string()).collect(),
            notes: self.notes.read().expect("notes lock").clone(),
            runs: slots
                .iter()
                .enumerate()
                .map(|(id, s)| RunEntry {
                    id,
                    path: s.path.display().to_string(),
                    overview: s.data.as_ref().map(|d| d.overview.clone()),
                    error: s.error.clone(),
                })
                .collect(),
        }
    }
}
