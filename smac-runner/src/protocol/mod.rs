//! The wire protocol between the scheduler and its peers: workers and remote clients.
//!
//! Every frame is `[len: u32 big-endian][version: u8][payload: len - 1 bytes]`. The payload is
//! bincode (varint encoding, with a size limit) of a message ([`ToWorker`] / [`ToScheduler`]
//! for workers, [`FromClient`] / [`ToClient`] for clients), except for the first three frames of
//! a connection: the mutual handshake ([`auth`]), fixed layouts of magic bytes, nonces and
//! HMACs in which both ends prove they hold the token *before* anything is deserialized or
//! executed, so an unauthenticated peer never reaches serde and a worker never runs a trial for
//! a scheduler that could not prove the token.
//!
//! Frames are checked as they are read ([`FrameDecoder`]): an empty frame, a length above the
//! maximum, a wrong version byte or an undecodable payload is an error that closes only that
//! connection. Configurations travel as [`WireTrial`]s (values only) and their space is sent
//! once per connection ([`ToWorker::Space`], [`FromClient::Space`]), because a `Configuration`
//! serializes its whole space and re-parsing it for every trial would dominate the cost of
//! cheap trials.

pub mod auth;
mod client;
mod messages;
#[cfg(test)]
mod tests;
pub mod tls;

pub use auth::{authenticate_blocking, HandshakeError};
pub use client::{FromClient, ToClient};
pub use messages::{ToScheduler, ToWorker, TrialLimits, WireTrial};

use bincode::Options;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// The protocol version carried by every frame; peers with another version are refused.
/// Version 2 added remote clients, worker resources and per-trial environments; version 4 the
/// mutual HMAC handshake.
pub const PROTOCOL_VERSION: u8 = 4;
/// Default largest frame accepted (the length prefix included), 1 GiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 30;
/// Largest frame accepted before the handshake is verified (a challenge is 77 bytes).
pub const HANDSHAKE_MAX_FRAME: usize = 128;
/// First bytes of a worker's handshake payload.
pub const HANDSHAKE_MAGIC: &[u8; 8] = b"SMACWRK1";
/// First bytes of a remote client's handshake payload.
pub const CLIENT_HANDSHAKE_MAGIC: &[u8; 8] = b"SMACCLI1";
/// Length of the shared secret token in bytes.
pub const TOKEN_LEN: usize = 32;

/// Who opened a connection, as its verified handshake says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A worker that runs trials.
    Worker,
    /// A client (an optimizer) that submits trials.
    Client,
}

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
    /// The handshake was not the expected magic, nonce and MAC.
    #[error("handshake rejected: {0}")]
    Handshake(&'static str),
}

/// A 32-byte shared secret; workers, clients and the scheduler prove they hold it (never send it)
/// before they trust each other.
#[derive(Clone)]
pub struct Token(pub [u8; TOKEN_LEN]);

/// Compares in constant time, so a timing cannot tell how much of a guess was right.
impl PartialEq for Token {
    fn eq(&self, other: &Token) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl Eq for Token {}

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

/// Capacity above which an idle read or write buffer is shrunk: a connection that carried one
/// large frame (a scattered blob) must not keep that much memory for the rest of its life.
pub const RETAINED_BUFFER: usize = 1 << 20;

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

    /// Reads at most `want` more bytes from a blocking `stream` into the buffer (retrying an
    /// interrupted read); the number read, 0 at the end of the stream.
    pub fn read_from(&mut self, stream: &mut impl std::io::Read, want: usize) -> std::io::Result<usize> {
        loop {
            let spare = self.spare(want);
            let read = stream.read(spare);
            self.commit(want, *read.as_ref().unwrap_or(&0));
            match read {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
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
    /// Once a large frame (a scattered blob) is consumed, its memory is given back rather than
    /// kept as capacity for the life of the connection.
    fn compact(&mut self) {
        if self.start > 0 && (self.start == self.buf.len() || self.start >= 64 * 1024) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() > RETAINED_BUFFER && self.buf.len() <= RETAINED_BUFFER / 2 {
            self.buf.shrink_to(RETAINED_BUFFER / 2);
        }
    }
}
