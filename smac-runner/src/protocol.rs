//! The scheduler ↔ worker wire protocol.
//!
//! Every frame is `[len: u32 big-endian][version: u8][payload: len - 1 bytes]`. The payload is
//! bincode (varint encoding, with a size limit) of [`ToWorker`] or [`ToScheduler`], except for
//! the very first frame of a connection: the worker's handshake, a fixed 40-byte layout
//! (`HANDSHAKE_MAGIC` + the 32-byte token) that the scheduler checks *before* it deserializes
//! anything, so an unauthenticated peer can never reach serde.
//!
//! Frames are checked as they are read ([`FrameDecoder`]): an empty frame, a length above the
//! maximum, a wrong version byte or an undecodable payload is an error that closes only that
//! connection. Configurations travel as [`WireTrial`]s (values only) and their space is sent
//! once per connection ([`ToWorker::Space`]), because a `Configuration` serializes its whole
//! space and re-parsing it for every trial would dominate the cost of cheap trials.

use bincode::Options;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smac_core::{ConfigSpace, Configuration, TrialInfo, TrialValue, Value};
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// The protocol version carried by every frame; peers with another version are refused.
pub const PROTOCOL_VERSION: u8 = 1;
/// Default largest frame accepted (the length prefix included), 1 GiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 30;
/// Largest frame accepted before the handshake is verified.
pub const HANDSHAKE_MAX_FRAME: usize = 64;
/// First bytes of the handshake payload.
pub const HANDSHAKE_MAGIC: &[u8; 8] = b"SMACWRK1";
/// Length of the shared secret token in bytes.
pub const TOKEN_LEN: usize = 32;

/// Why a frame or message was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// A zero-length frame (it cannot even hold the version byte).
    #[error("empty frame")]
    Empty,
    /// The length prefix exceeds the maximum frame size.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    Oversize {
        /// The announced frame size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The version byte is not ours.
    #[error("protocol version {got} is not supported (expected {PROTOCOL_VERSION})")]
    Version {
        /// The version byte received.
        got: u8,
    },
    /// The payload is not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The handshake was not the expected magic and token.
    #[error("handshake rejected: {0}")]
    Handshake(&'static str),
}

/// A 32-byte shared secret; workers must present it before they are trusted.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub [u8; TOKEN_LEN]);

impl Token {
    /// A fresh random token from the OS-seeded CSPRNG.
    pub fn random() -> Token {
        let mut t = [0u8; TOKEN_LEN];
        rand::Rng::fill(&mut rand::rng(), &mut t[..]);
        Token(t)
    }

    /// The token as 64 lowercase hex digits (as written to env vars and scheduler files).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Token> {
        let s = s.trim();
        if s.len() != 2 * TOKEN_LEN || !s.is_ascii() {
            return None;
        }
        let mut t = [0u8; TOKEN_LEN];
        for (k, b) in t.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * k..2 * k + 2], 16).ok()?;
        }
        Some(Token(t))
    }

    /// Compares in constant time so the token cannot be guessed byte by byte from timings.
    pub fn verify(&self, candidate: &[u8]) -> bool {
        candidate.len() == TOKEN_LEN
            && self.0.iter().zip(candidate).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret itself.
        write!(f, "Token(..)")
    }
}

/// A byte blob that bincode writes and reads in bulk (a plain `Vec<u8>` goes byte by byte).
#[derive(Clone, PartialEq, Eq)]
pub struct Blob(pub Arc<[u8]>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte array")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(Arc::from(v)))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(Arc::from(v)))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// Per-trial limits a worker enforces on in-process Rust targets (command targets enforce
/// their own on the child process).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialLimits {
    /// Wall-clock seconds one trial may take.
    pub walltime_s: Option<f64>,
    /// Megabytes the worker's resident memory may grow by during one trial.
    pub memory_mb: Option<u64>,
}

/// A trial on the wire: the configuration's values refer to a space sent earlier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireTrial {
    /// Id of a space previously sent with [`ToWorker::Space`] on this connection.
    pub space_id: u32,
    /// One entry per hyperparameter of the space, `None` when inactive.
    pub values: Vec<Option<Value>>,
    /// Where the configuration came from (informational).
    pub origin: Option<String>,
    /// The instance.
    pub instance: Option<String>,
    /// The seed.
    pub seed: Option<u64>,
    /// The budget.
    pub budget: Option<f64>,
}

impl WireTrial {
    /// The wire form of `trial`, whose space is known to the peer as `space_id`.
    pub fn from_trial(trial: &TrialInfo, space_id: u32) -> WireTrial {
        let config = &trial.config;
        let values =
            config.space().hyperparameters().iter().map(|hp| config.get(&hp.name).cloned()).collect();
        WireTrial {
            space_id,
            values,
            origin: config.origin().map(str::to_string),
            instance: trial.instance.clone(),
            seed: trial.seed,
            budget: trial.budget,
        }
    }

    /// Rebuilds (and validates) the trial against its space.
    pub fn into_trial(self, space: &Arc<ConfigSpace>) -> Result<TrialInfo, String> {
        if self.values.len() != space.len() {
            return Err(format!(
                "trial has {} values for the {} hyperparameters of its space",
                self.values.len(),
                space.len()
            ));
        }
        let pairs =
            space.hyperparameters().iter().zip(self.values).filter_map(|(hp, v)| v.map(|v| (&hp.name, v)));
        let mut config = Configuration::new(space, pairs).map_err(|e| e.to_string())?;
        if let Some(origin) = self.origin {
            config.set_origin(origin);
        }
        Ok(TrialInfo { config, instance: self.instance, seed: self.seed, budget: self.budget })
    }
}

/// Messages from the scheduler to a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Accepts the handshake and tells the worker its id and heartbeat timing.
    Welcome {
        /// The scheduler's id for this worker.
        worker_id: u64,
        /// How often the worker sends heartbeats.
        heartbeat_interval_ms: u64,
        /// Silence after which the scheduler declares the worker dead.
        heartbeat_timeout_ms: u64,
    },
    /// Liveness signal; carries nothing.
    Heartbeat,
    /// The serialized single-worker runner of one parallel runner, sent once per worker.
    SetRunner {
        /// The parallel runner's id, repeated in each [`ToWorker::Run`].
        runner_id: u64,
        /// The runner type's tag ([`crate::executor::runner_tag`]).
        tag: String,
        /// The bincode-serialized single-worker runner.
        payload: Blob,
        /// Limits to enforce on each trial.
        limits: TrialLimits,
    },
    /// The parallel runner is gone; the worker may free its runner.
    DropRunner {
        /// The parallel runner's id.
        runner_id: u64,
    },
    /// A configuration space later trials refer to by id.
    Space {
        /// Connection-local id of the space.
        space_id: u32,
        /// The space.
        space: ConfigSpace,
    },
    /// A named blob targets read with [`crate::worker::scattered`].
    Scatter {
        /// The name targets look the blob up by.
        name: String,
        /// The blob.
        data: Blob,
    },
    /// Runs one trial with the runner `runner_id` and answers with [`ToScheduler::Result`].
    Run {
        /// Identifies this dispatch; the result carries it back.
        key: u64,
        /// Which runner evaluates the trial.
        runner_id: u64,
        /// The trial.
        trial: WireTrial,
    },
    /// Asks the worker to exit.
    Shutdown,
}

/// Messages from a worker to the scheduler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToScheduler {
    /// Sent once after the handshake: what the worker can run and who it is.
    Hello {
        /// Tags of the runner types the worker can decode.
        tags: Vec<String>,
        /// The worker's process id.
        pid: u32,
        /// The worker's host name.
        host: String,
    },
    /// Liveness signal; carries nothing.
    Heartbeat,
    /// The outcome of [`ToWorker::Run`] `key`.
    Result {
        /// The `key` of the [`ToWorker::Run`].
        key: u64,
        /// The trial's value.
        value: TrialValue,
    },
    /// The worker cannot run this runner (unknown type or undecodable payload).
    RunnerRejected {
        /// The runner's id.
        runner_id: u64,
        /// Why.
        message: String,
    },
}

/// The bincode options of the protocol: varint integers and a hard size limit, so a hostile
/// length inside a payload cannot make us allocate more than the frame itself.
fn options(limit: usize) -> impl Options {
    bincode::DefaultOptions::new().with_limit(limit as u64)
}

/// Appends one frame holding `msg` to `out`; fails when it would exceed `max_frame`.
pub fn encode_frame<M: Serialize>(msg: &M, max_frame: usize, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, PROTOCOL_VERSION]);
    if let Err(e) = options(max_frame).serialize_into(&mut *out, msg) {
        let written = out.len() - start;
        out.truncate(start);
        return Err(match *e {
            bincode::ErrorKind::SizeLimit => {
                FrameError::Oversize { len: written.max(max_frame + 1), max: max_frame }
            }
            other => FrameError::Malformed(other.to_string()),
        });
    }
    let len = out.len() - start - 4;
    if len + 4 > max_frame || len > u32::MAX as usize {
        out.truncate(start);
        return Err(FrameError::Oversize { len: len + 4, max: max_frame });
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(())
}

/// Encodes `msg` as a fresh frame.
pub fn frame<M: Serialize>(msg: &M, max_frame: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame(msg, max_frame, &mut out)?;
    Ok(out)
}

/// Decodes a frame payload (after the version byte) into a message.
pub fn decode_message<M: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<M, FrameError> {
    options(payload.len()).deserialize(payload).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// The worker's handshake frame: magic and token, no serde involved.
pub fn handshake_frame(token: &Token) -> Vec<u8> {
    let len = 1 + HANDSHAKE_MAGIC.len() + TOKEN_LEN;
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(PROTOCOL_VERSION);
    out.extend_from_slice(HANDSHAKE_MAGIC);
    out.extend_from_slice(&token.0);
    out
}

/// Checks a handshake payload (after the version byte) against the expected token.
pub fn check_handshake(payload: &[u8], token: &Token) -> Result<(), FrameError> {
    let (magic, rest) = payload.split_at(payload.len().min(HANDSHAKE_MAGIC.len()));
    if magic != HANDSHAKE_MAGIC {
        return Err(FrameError::Handshake("not an smac worker handshake"));
    }
    if !token.verify(rest) {
        return Err(FrameError::Handshake("wrong token"));
    }
    Ok(())
}

/// Incremental frame splitter over a byte stream; never panics on any input.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max_frame` bytes (length prefix included).
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder { buf: Vec::new(), start: 0, max_frame }
    }

    /// Changes the size limit (raised once the handshake is verified).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read into directly (avoids a copy): call [`FrameDecoder::commit`] after.
    pub fn spare(&mut self, at_least: usize) -> &mut [u8] {
        self.compact();
        let len = self.buf.len();
        self.buf.resize(len + at_least, 0);
        &mut self.buf[len..]
    }

    /// Keeps `n` bytes of the last [`FrameDecoder::spare`] buffer and drops the rest.
    pub fn commit(&mut self, spare_len: usize, n: usize) {
        let new_len = self.buf.len() - spare_len + n;
        self.buf.truncate(new_len);
    }

    /// How many more bytes the frame being read needs (a read-size hint; callers cap it so
    /// that a peer announcing a huge frame cannot make us allocate it up front).
    pub fn wanted(&self) -> usize {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return 4 - avail.len();
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        (4 + len.min(self.max_frame)).saturating_sub(avail.len())
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame's payload (after the version byte), `Ok(None)` if more bytes
    /// are needed, or an error after which the stream must be abandoned.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len == 0 {
            return Err(FrameError::Empty);
        }
        if len.saturating_add(4) > self.max_frame {
            return Err(FrameError::Oversize { len: len.saturating_add(4), max: self.max_frame });
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        if avail[4] != PROTOCOL_VERSION {
            return Err(FrameError::Version { got: avail[4] });
        }
        let begin = self.start + 5;
        self.start += 4 + len;
        Ok(Some(&self.buf[begin..self.start]))
    }

    /// Drops consumed bytes once they dominate the buffer, keeping appends amortized O(1).
    fn compact(&mut self) {
        if self.start > 0 && (self.start == self.buf.len() || self.start >= 64 * 1024) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use smac_core::{Hyperparameter, StatusType};

    fn space() -> Arc<ConfigSpace> {
        let mut cs = ConfigSpace::new("p");
        cs.add(Hyperparameter::float("x", 0.0, 1.0)).unwrap();
        cs.add(Hyperparameter::categorical("c", ["a", "b"])).unwrap();
        Arc::new(cs)
    }

    #[test]
    fn frames_round_trip_and_split_anywhere() {
        let value = TrialValue::success(vec![1.5], 0.0);
        let msgs = vec![
            ToScheduler::Hello { tags: vec!["t".into()], pid: 7, host: "h".into() },
            ToScheduler::Result { key: 3, value },
            ToScheduler::Heartbeat,
        ];
        let mut bytes = Vec::new();
        for m in &msgs {
            encode_frame(m, DEFAULT_MAX_FRAME, &mut bytes).unwrap();
        }
        for chunk in [1, 2, 7, bytes.len()] {
            let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                dec.push(piece);
                while let Some(p) = dec.next_frame().unwrap() {
                    got.push(decode_message::<ToScheduler>(p).unwrap());
                }
            }
            assert_eq!(got, msgs);
        }
    }

    #[test]
    fn wire_trials_rebuild_the_configuration() {
        let cs = space();
        let t = TrialInfo {
            config: cs.default_configuration().with_origin("default"),
            instance: Some("i".into()),
            seed: Some(4),
            budget: Some(2.0),
        };
        let w = WireTrial::from_trial(&t, 0);
        let msg = ToWorker::Run { key: 1, runner_id: 2, trial: w };
        let bytes = frame(&msg, DEFAULT_MAX_FRAME).unwrap();
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        dec.push(&bytes);
        let ToWorker::Run { trial, .. } = decode_message(dec.next_frame().unwrap().unwrap()).unwrap() else {
            panic!("not a run")
        };
        let back = trial.into_trial(&cs).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.config.origin(), Some("default"));
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut dec = FrameDecoder::new(100);
        dec.push(&[0, 0, 0, 0]);
        assert_eq!(dec.next_frame(), Err(FrameError::Empty));
        let mut dec = FrameDecoder::new(100);
        dec.push(&[0, 0, 1, 0]);
        assert!(matches!(dec.next_frame(), Err(FrameError::Oversize { .. })));
        let mut dec = FrameDecoder::new(100);
        dec.push(&[0, 0, 0, 2, 99, 0]);
        assert_eq!(dec.next_frame(), Err(FrameError::Version { got: 99 }));
        let mut dec = FrameDecoder::new(100);
        dec.push(&[0, 0, 0, 3, PROTOCOL_VERSION]);
        assert_eq!(dec.next_frame(), Ok(None), "truncated frames wait for more bytes");
        assert!(decode_message::<ToWorker>(&[200, 1, 2]).is_err());
        let big = ToWorker::Scatter { name: "d".into(), data: Blob(Arc::from(vec![0u8; 200])) };
        assert!(matches!(frame(&big, 100), Err(FrameError::Oversize { .. })));
        let v = TrialValue::failure(StatusType::Crashed, vec![1.0], "boom", 0.0);
        assert!(frame(&ToScheduler::Result { key: 0, value: v }, 1000).is_ok());
    }

    #[test]
    fn handshake_requires_magic_and_token() {
        let token = Token::random();
        let f = handshake_frame(&token);
        let mut dec = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
        dec.push(&f);
        let p = dec.next_frame().unwrap().unwrap().to_vec();
        assert_eq!(check_handshake(&p, &token), Ok(()));
        assert!(check_handshake(&p, &Token::random()).is_err());
        assert!(check_handshake(&p[..10], &token).is_err());
        assert!(check_handshake(b"GARBAGE!0123", &token).is_err());
        assert_eq!(Token::from_hex(&token.to_hex()), Some(token));
        assert_eq!(Token::from_hex("zz"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary bytes, fed in arbitrary pieces, never panic the decoder or the message
        /// parser: every frame is either a message, an error, or a wait for more bytes.
        #[test]
        fn decoder_survives_garbage(data in proptest::collection::vec(any::<u8>(), 0..2048),
                                    cut in 1usize..64, max in 1usize..4096) {
            let mut dec = FrameDecoder::new(max);
            'outer: for piece in data.chunks(cut) {
                dec.push(piece);
                loop {
                    match dec.next_frame() {
                        Ok(Some(p)) => {
                            let _ = decode_message::<ToWorker>(p);
                            let _ = decode_message::<ToScheduler>(p);
                            let _ = check_handshake(p, &Token([0; TOKEN_LEN]));
                        }
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }

        /// A valid frame with corrupted bytes is rejected or decoded, never a panic; truncated
        /// valid frames are never returned.
        #[test]
        fn corrupted_frames_are_contained(flip in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
            let v = TrialValue::success(vec![0.25, 3.0], 1.0);
            let mut f = frame(&ToScheduler::Result { key: 42, value: v }, DEFAULT_MAX_FRAME).unwrap();
            let truncated = &f[..cut % f.len()];
            let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
            dec.push(truncated);
            prop_assert_eq!(dec.next_frame(), Ok(None));
            let i = flip % f.len();
            f[i] = byte;
            let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
            dec.push(&f);
            if let Ok(Some(p)) = dec.next_frame() {
                let _ = decode_message::<ToScheduler>(p);
            }
        }
    }
}
