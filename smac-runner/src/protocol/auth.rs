//! Mutual authentication: both ends of a connection prove that they hold the token, over fresh
//! nonces, before anything else is decoded or executed.
//!
//! ```text
//! peer      → scheduler   hello     = magic (who I am) ‖ peer nonce
//! scheduler → peer        challenge = "SMACSCH1" ‖ scheduler nonce ‖ HMAC(token, "scheduler" ‖ magic ‖ both nonces)
//! peer      → scheduler   proof     = "SMACPRF1" ‖ HMAC(token, "peer" ‖ magic ‖ both nonces)
//! ```
//!
//! A worker checks the scheduler's MAC before it reads any other frame, so a process that took
//! over a dead scheduler's port (or that a stale scheduler file points to) cannot make it run
//! anything; the scheduler checks the peer's MAC before it decodes any message. Each side's MAC
//! covers the other side's fresh nonce, so a recorded handshake cannot be replayed, and the two
//! MACs carry different labels, so one side's MAC can never be reflected back as the other's.
//! The token itself never crosses the wire. The comparison is constant-time (`hmac`'s
//! `verify_slice`, built on `subtle`).
//!
//! What this does not give is confidentiality or integrity *after* the handshake against someone
//! who can rewrite traffic on the network path; that is what the optional TLS layer is for
//! ([`super::tls`], `smac scheduler --tls`).

use super::{FrameError, Peer, Token, CLIENT_HANDSHAKE_MAGIC, HANDSHAKE_MAGIC, PROTOCOL_VERSION};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};

/// Length of a handshake nonce in bytes.
pub const NONCE_LEN: usize = 32;
/// Length of a handshake MAC (HMAC-SHA-256) in bytes.
pub const MAC_LEN: usize = 32;
/// First bytes of the scheduler's challenge.
pub const CHALLENGE_MAGIC: &[u8; 8] = b"SMACSCH1";
/// First bytes of the peer's proof.
pub const PROOF_MAGIC: &[u8; 8] = b"SMACPRF1";

/// A fresh random value that one side of a handshake contributes.
pub type Nonce = [u8; NONCE_LEN];

/// A fresh nonce from the OS-seeded CSPRNG.
pub fn fresh_nonce() -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    rand::Rng::fill(&mut rand::rng(), &mut n[..]);
    n
}

fn magic(peer: Peer) -> &'static [u8; 8] {
    match peer {
        Peer::Worker => HANDSHAKE_MAGIC,
        Peer::Client => CLIENT_HANDSHAKE_MAGIC,
    }
}

/// The MAC one side sends; `label` separates the scheduler's MAC from the peer's.
fn mac(token: &Token, label: &[u8], peer: Peer, peer_nonce: &Nonce, scheduler_nonce: &Nonce) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&token.0).expect("HMAC takes keys of any length");
    m.update(b"smac-rs handshake v4 ");
    m.update(label);
    m.update(magic(peer));
    m.update(peer_nonce);
    m.update(scheduler_nonce);
    m
}

fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(PROTOCOL_VERSION);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// The peer's first frame: who it is and its nonce.
pub fn hello_frame(peer: Peer, nonce: &Nonce) -> Vec<u8> {
    framed(&[magic(peer), nonce])
}

/// Reads a hello payload (after the version byte): the peer's kind and nonce.
pub fn parse_hello(payload: &[u8]) -> Result<(Peer, Nonce), FrameError> {
    let (head, rest) = payload.split_at(payload.len().min(HANDSHAKE_MAGIC.len()));
    let peer = if head == HANDSHAKE_MAGIC {
        Peer::Worker
    } else if head == CLIENT_HANDSHAKE_MAGIC {
        Peer::Client
    } else {
        return Err(FrameError::Handshake("not an smac handshake"));
    };
    let nonce: Nonce = rest.try_into().map_err(|_| FrameError::Handshake("missing nonce"))?;
    Ok((peer, nonce))
}

/// The scheduler's answer to a hello: its nonce and its proof of the token.
pub fn challenge_frame(token: &Token, peer: Peer, peer_nonce: &Nonce, scheduler_nonce: &Nonce) -> Vec<u8> {
    let tag = mac(token, b"scheduler", peer, peer_nonce, scheduler_nonce).finalize().into_bytes();
    framed(&[CHALLENGE_MAGIC, scheduler_nonce, &tag])
}

/// Checks the scheduler's challenge (after the version byte) and returns its nonce; fails
/// unless the scheduler proved the token over this peer's nonce.
pub fn verify_challenge(
    payload: &[u8],
    token: &Token,
    peer: Peer,
    peer_nonce: &Nonce,
) -> Result<Nonce, FrameError> {
    let rest = payload
        .strip_prefix(CHALLENGE_MAGIC.as_slice())
        .ok_or(FrameError::Handshake("the answer is not an smac scheduler's challenge"))?;
    if rest.len() != NONCE_LEN + MAC_LEN {
        return Err(FrameError::Handshake("truncated challenge"));
    }
    let (nonce, tag) = rest.split_at(NONCE_LEN);
    let nonce: Nonce = nonce.try_into().expect("split at NONCE_LEN");
    mac(token, b"scheduler", peer, peer_nonce, &nonce)
        .verify_slice(tag)
        .map_err(|_| FrameError::Handshake("the scheduler could not prove it holds the token"))?;
    Ok(nonce)
}

/// The peer's proof of the token over both nonces.
pub fn proof_frame(token: &Token, peer: Peer, peer_nonce: &Nonce, scheduler_nonce: &Nonce) -> Vec<u8> {
    let tag = mac(token, b"peer", peer, peer_nonce, scheduler_nonce).finalize().into_bytes();
    framed(&[PROOF_MAGIC, &tag])
}

/// Checks the peer's proof (after the version byte).
pub fn verify_proof(
    payload: &[u8],
    token: &Token,
    peer: Peer,
    peer_nonce: &Nonce,
    scheduler_nonce: &Nonce,
) -> Result<(), FrameError> {
    let tag = payload.strip_prefix(PROOF_MAGIC.as_slice()).ok_or(FrameError::Handshake("not a proof"))?;
    mac(token, b"peer", peer, peer_nonce, scheduler_nonce)
        .verify_slice(tag)
        .map_err(|_| FrameError::Handshake("wrong token"))
}

/// Why a peer's side of the handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Network failure (an end of stream included: a scheduler that refuses us just closes).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The answer was not a valid challenge, or its MAC was wrong.
    #[error("{0}")]
    Rejected(#[from] FrameError),
}

/// The peer's side of the handshake on a blocking stream (workers, tests): sends the hello,
/// checks the scheduler's challenge, sends the proof. Any bytes the scheduler sent after its
/// challenge stay in `dec`.
pub fn authenticate_blocking(
    stream: &mut (impl Read + Write),
    dec: &mut super::FrameDecoder,
    peer: Peer,
    token: &Token,
) -> Result<(), HandshakeError> {
    let nonce = fresh_nonce();
    stream.write_all(&hello_frame(peer, &nonce))?;
    let scheduler_nonce = loop {
        if let Some(payload) = dec.next_frame()? {
            break verify_challenge(payload, token, peer, &nonce)?;
        }
        if dec.read_from(stream, dec.wanted().clamp(1, 1 << 10))? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the scheduler closed the connection during the handshake",
            )
            .into());
        }
    };
    stream.write_all(&proof_frame(token, peer, &nonce, &scheduler_nonce))?;
    Ok(())
}
