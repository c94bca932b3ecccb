//! Telling scheduler files apart: ours (`smac scheduler`, `smac-scheduler`) or Dask's (`dask
//! scheduler --scheduler-file`, dask-mpi, dask-jobqueue), by content, so that one
//! `--scheduler-file` flag serves both backends.

use crate::worker::SchedulerFile;
use smac_core::RunnerError;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a scheduler file describes.
#[derive(Clone, Debug, PartialEq)]
pub enum SchedulerFileKind {
    /// Our own scheduler: address, token and protocol version.
    Smac(SchedulerFile),
    /// A Dask scheduler at this address (`tcp://host:port`).
    Dask {
        /// The scheduler's address.
        address: String,
    },
}

/// Reads and classifies the scheduler file at `path`, waiting up to `timeout` for it to appear
/// (batch jobs write it after the optimizer starts) unless `interrupt` is set meanwhile.
pub fn read_scheduler_file(
    path: &Path,
    timeout: Duration,
    interrupt: Option<&AtomicBool>,
) -> Result<SchedulerFileKind, RunnerError> {
    let deadline = Instant::now() + timeout;
    let text = loop {
        match std::fs::read_to_string(path) {
            // A file being written may be empty or truncated for a moment.
            Ok(t) if serde_json::from_str::<serde_json::Value>(&t).is_ok() => break t,
            Ok(t) if Instant::now() >= deadline => break t,
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(config(path, format!("cannot be read: {e}")))
            }
            Err(_) if Instant::now() >= deadline => {
                return Err(config(
                    path,
                    format!(
                        "does not exist (waited {:.0} s): start `smac scheduler` (our own) or `dask \
                         scheduler` with `--scheduler-file` pointing at it first",
                        timeout.as_secs_f64()
                    ),
                ))
            }
            _ => {}
        }
        if interrupt.is_some_and(|f| f.load(Ordering::Relaxed)) {
            return Err(RunnerError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    classify(path, &text)
}

/// Classifies the text of a scheduler file.
pub fn classify(path: &Path, text: &str) -> Result<SchedulerFileKind, RunnerError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| config(path, format!("is not JSON ({e})")))?;
    let Some(obj) = json.as_object() else {
        return Err(config(path, "is JSON but not an object".into()));
    };
    if obj.contains_key("token") && obj.contains_key("protocol") {
        let file: SchedulerFile = serde_json::from_value(json.clone())
            .map_err(|e| config(path, format!("looks like an smac scheduler file but {e}")))?;
        return Ok(SchedulerFileKind::Smac(file));
    }
    let address = obj.get("address").and_then(|a| a.as_str()).unwrap_or_default();
    let dask_type = obj.get("type").and_then(|t| t.as_str()) == Some("Scheduler");
    if dask_type || address.contains("://") {
        if address.is_empty() {
            return Err(config(path, "is a Dask scheduler file without an address".into()));
        }
        return Ok(SchedulerFileKind::Dask { address: address.to_string() });
    }
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    Err(config(
        path,
        format!(
            "is neither an smac scheduler file (address, token, protocol) nor a Dask one (type \
             \"Scheduler\", address tcp://…); its keys are {keys:?}"
        ),
    ))
}

fn config(path: &Path, message: String) -> RunnerError {
    RunnerError::Config { field: format!("scheduler_file {}", path.display()), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_are_recognized_and_others_named() {
        let p = Path::new("s.json");
        let ours = r#"{"address": "127.0.0.1:4000", "token": "ab", "protocol": 3}"#;
        assert!(matches!(classify(p, ours), Ok(SchedulerFileKind::Smac(f)) if f.address == "127.0.0.1:4000"));
        let dask = r#"{"type": "Scheduler", "id": "Scheduler-1", "address": "tcp://10.0.0.1:8786",
                       "services": {"dashboard": 8787}, "started": 1.0, "workers": {}}"#;
        assert_eq!(
            classify(p, dask).unwrap(),
            SchedulerFileKind::Dask { address: "tcp://10.0.0.1:8786".into() }
        );
        let other = classify(p, r#"{"host": "x"}"#).unwrap_err().to_string();
        assert!(other.contains("s.json") && other.contains("neither") && other.contains("host"), "{other}");
        assert!(classify(p, "not json").unwrap_err().to_string().contains("not JSON"));
    }

    #[test]
    fn a_missing_file_names_itself_once_and_what_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sched.json");
        let err = read_scheduler_file(&path, Duration::from_millis(100), None).unwrap_err().to_string();
        assert_eq!(err.matches("sched.json").count(), 1, "the file is named once: {err}");
        assert!(err.contains("does not exist") && err.contains("dask scheduler"), "{err}");
        let stop = AtomicBool::new(true);
        let err = read_scheduler_file(&path, Duration::from_secs(30), Some(&stop)).unwrap_err();
        assert!(matches!(err, RunnerError::Interrupted));
    }
}
