//! Frames between the runner and the Python sidecar, over the sidecar's stdin and stdout.
//!
//! A frame is `[u32 BE header length][header: JSON object][blobs]`, where the header's `nblobs`
//! field says how many `[u64 BE length][bytes]` blobs follow. JSON keeps the control messages
//! readable and trivial to produce in Python; blobs carry bincode payloads and scattered data
//! as raw bytes (no base64), so a large scatter costs one copy through the pipe.

use super::DaskError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// Largest header accepted from the sidecar.
const MAX_HEADER: usize = 16 << 20;
/// Largest blob accepted from the sidecar (trial values are small; this bounds a corrupt length).
const MAX_BLOB: u64 = 1 << 32;

/// Messages to the sidecar.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Connect to a cluster (the first message).
    Connect {
        /// `tcp://host:port` of a running scheduler.
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        /// A scheduler file written by `dask scheduler --scheduler-file` or dask-mpi.
        #[serde(skip_serializing_if = "Option::is_none")]
        scheduler_file: Option<String>,
        /// A local cluster the sidecar starts and closes.
        #[serde(skip_serializing_if = "Option::is_none")]
        local: Option<LocalSpec>,
        /// Connection timeout.
        timeout_s: f64,
        /// How often the sidecar polls the scheduler for workers.
        poll_interval_s: f64,
        /// Resources each trial claims: usable threads are counted against them.
        claims: BTreeMap<String, f64>,
    },
    /// Scatter the one blob under `name`.
    Scatter {
        /// The name trials read it by.
        name: String,
        /// Replicate to every worker (survives the loss of workers).
        broadcast: bool,
        /// This blob is the serialized target: it travels with the session's executor-pool
        /// plugin (once per worker, workers joining later too), not as a dependency of every task.
        #[serde(default)]
        target: bool,
        /// With the target: the worker program and its environment, so that each worker starts
        /// its executors as soon as it receives the plugin rather than at its first trial.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exe: Option<String>,
        /// The executors' extra environment.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
    /// Submit one trial; the blob is the bincode trial request.
    Submit {
        /// Runner-wide sequence number, echoed in `done` / `failed`.
        seq: u64,
        /// The worker entry point, as a path on the Dask workers.
        exe: String,
        /// Name of the scattered runner payload.
        runner: String,
        /// Names of the scattered blobs the trial gets.
        scatter: Vec<String>,
        /// Walltime limit of the subprocess.
        timeout_s: Option<f64>,
        /// Extra environment of the subprocess.
        env: BTreeMap<String, String>,
        /// Dask `retries` for task exceptions.
        retries: u32,
        /// Dask `resources=` of the task (e.g. `{"GPU": 1}`).
        resources: BTreeMap<String, f64>,
    },
    /// Close our client (and a cluster we started), then exit.
    Close,
}

/// A local cluster the sidecar starts.
#[derive(Debug, Serialize)]
pub(crate) struct LocalSpec {
    /// Worker processes.
    pub n_workers: usize,
    /// Threads per worker process.
    pub threads_per_worker: usize,
}

/// Messages from the sidecar.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Event {
    /// Python and `distributed` are importable.
    Ready { distributed: String, python: String },
    /// The sidecar cannot go on (import or connection failure).
    Fatal { kind: String, error: String },
    /// Connected to the scheduler.
    Connected {
        scheduler: String,
        dashboard: Option<String>,
        distributed: String,
        owned_cluster: bool,
        workers: usize,
        threads: usize,
    },
    /// The cluster's workers or threads changed.
    Workers { workers: usize, threads: usize, error: Option<String> },
    /// The reply to a scatter: the blob is kept, and scattered now or, without workers, later.
    Stored {
        name: String,
        #[serde(default)]
        deferred: Option<String>,
        #[serde(default)]
        error: Option<String>,
    },
    /// A `client.scatter` call happened (`again`: the data was lost with its workers).
    Scattered { name: String, key: String, bytes: u64, again: bool },
    /// A trial's task was cancelled under us and submitted again.
    Resubmitted { seq: u64, reason: String },
    /// A trial finished; the blob is the bincode `TrialValue`.
    Done {
        seq: u64,
        worker: Option<String>,
        #[serde(default)]
        materialized: Vec<String>,
    },
    /// A trial produced no value.
    Failed {
        seq: u64,
        kind: String,
        #[serde(default)]
        error: String,
        #[serde(default)]
        returncode: Option<i32>,
        #[serde(default)]
        stderr: Option<String>,
        #[serde(default)]
        worker: Option<String>,
    },
    /// A request failed outside any trial.
    Error { error: String },
    /// The client is closed; the sidecar exits.
    Closed,
}

/// Writes one frame.
pub(crate) fn write_frame(out: &mut impl Write, request: &Request, blobs: &[&[u8]]) -> Result<(), DaskError> {
    let mut header = serde_json::to_value(request).map_err(|e| DaskError::Protocol(e.to_string()))?;
    header["nblobs"] = blobs.len().into();
    let header = serde_json::to_vec(&header).map_err(|e| DaskError::Protocol(e.to_string()))?;
    // Small frames (every trial) go out in one write: one wake-up of the sidecar, not four.
    let small = blobs.iter().map(|b| b.len() + 8).sum::<usize>() < 1 << 16;
    let mut frame = Vec::with_capacity(if small { 4 + header.len() + (1 << 10) } else { 0 });
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(&header);
    for blob in blobs {
        frame.extend_from_slice(&(blob.len() as u64).to_be_bytes());
        if small {
            frame.extend_from_slice(blob);
        } else {
            out.write_all(&std::mem::take(&mut frame))?;
            out.write_all(blob)?;
        }
    }
    out.write_all(&frame)?;
    out.flush()?;
    Ok(())
}

/// A message (or, when its op is unknown, the raw header as text) and its blobs.
pub(crate) type Frame = (Result<Event, String>, Vec<Vec<u8>>);

/// Reads one frame: `Ok(None)` at a clean end of stream, the raw header when its op is unknown.
pub(crate) fn read_frame(input: &mut impl Read) -> Result<Option<Frame>, DaskError> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_HEADER {
        return Err(DaskError::Protocol(format!("bad frame header length {len}")));
    }
    let mut header = vec![0u8; len];
    input.read_exact(&mut header)?;
    let value: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| DaskError::Protocol(format!("frame header is not JSON: {e}")))?;
    let nblobs = value.get("nblobs").and_then(|n| n.as_u64()).unwrap_or(0);
    let mut blobs = Vec::with_capacity(nblobs.min(16) as usize);
    for _ in 0..nblobs {
        let mut blen = [0u8; 8];
        input.read_exact(&mut blen)?;
        let blen = u64::from_be_bytes(blen);
        if blen > MAX_BLOB {
            return Err(DaskError::Protocol(format!("blob of {blen} bytes exceeds the maximum")));
        }
        let mut blob = vec![0u8; blen as usize];
        input.read_exact(&mut blob)?;
        blobs.push(blob);
    }
    let event = serde_json::from_value::<Event>(value.clone()).map_err(|e| format!("{e}: {value}"));
    Ok(Some((event, blobs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_python_layout() {
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &Request::Scatter {
                name: "data".into(),
                broadcast: true,
                target: false,
                exe: None,
                env: BTreeMap::new(),
            },
            &[b"abc"],
        )
        .unwrap();
        let hlen = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&buf[4..4 + hlen]).unwrap();
        assert_eq!(header["op"], "scatter");
        assert_eq!(header["nblobs"], 1);
        assert_eq!(&buf[4 + hlen + 8..], b"abc");

        let done = br#"{"op":"done","seq":7,"worker":"tcp://w","nblobs":1}"#;
        let mut frame = (done.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(done);
        frame.extend_from_slice(&2u64.to_be_bytes());
        frame.extend_from_slice(b"xy");
        let (event, blobs) = read_frame(&mut frame.as_slice()).unwrap().unwrap();
        assert!(matches!(event, Ok(Event::Done { seq: 7, .. })));
        assert_eq!(blobs, vec![b"xy".to_vec()]);
        assert!(read_frame(&mut &[][..]).unwrap().is_none());
        let bad = [0u8, 0, 0, 0];
        assert!(read_frame(&mut &bad[..]).is_err());
    }
}
