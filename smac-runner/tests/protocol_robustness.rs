//! Hostile or broken peers on the scheduler's port never hurt the runner.

mod common;

use common::*;
use smac_core::{Runner, StatusType};
use smac_runner::protocol::{
    auth, authenticate_blocking, encode_frame, FrameDecoder, HandshakeError, Peer, Token, PROTOCOL_VERSION,
};
use smac_runner::{DaskStyleParallelRunner, ParallelOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Writes `bytes` on `s` and waits until the scheduler closes the connection.
fn closed_after_on(mut s: TcpStream, bytes: &[u8]) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. the challenge or the welcome
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Connects and writes `bytes` before any handshake.
fn closed_after(addr: std::net::SocketAddr, bytes: &[u8]) -> bool {
    closed_after_on(TcpStream::connect(addr).unwrap(), bytes)
}

/// A connection that completed the mutual handshake as a worker.
fn authenticated(addr: std::net::SocketAddr, token: &Token) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut dec = FrameDecoder::new(1 << 20);
    authenticate_blocking(&mut s, &mut dec, Peer::Worker, token).unwrap();
    s
}

#[test]
fn garbage_bad_tokens_and_oversize_frames_close_only_that_connection() {
    let cluster = processes(1).max_frame(1 << 20).start().unwrap();
    let client = cluster.client();
    let addr = client.address().unwrap();
    let token = Token::from_hex(&client.token_hex()).unwrap();

    assert!(closed_after(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    // A peer with another token sees that the scheduler's proof does not check out and leaves.
    let mut s = TcpStream::connect(addr).unwrap();
    let err = authenticate_blocking(&mut s, &mut FrameDecoder::new(1 << 20), Peer::Worker, &Token::random());
    assert!(matches!(err, Err(HandshakeError::Rejected(_))), "{err:?}");
    assert!(closed_after_on(s, &[]));
    // A peer that answers the challenge with a proof made from another token is refused.
    {
        let mut s = TcpStream::connect(addr).unwrap();
        let nonce = auth::fresh_nonce();
        s.write_all(&auth::hello_frame(Peer::Worker, &nonce)).unwrap();
        let mut challenge = [0u8; 4 + 1 + 8 + 32 + 32];
        s.read_exact(&mut challenge).unwrap();
        let scheduler_nonce: auth::Nonce = challenge[13..45].try_into().unwrap();
        let forged = auth::proof_frame(&Token::random(), Peer::Worker, &nonce, &scheduler_nonce);
        assert!(closed_after_on(s, &forged), "forged proof");
    }
    assert!(closed_after(addr, &[0, 0, 0, 0]), "empty frame");
    assert!(closed_after(addr, &[0xff, 0xff, 0xff, 0xff, PROTOCOL_VERSION]), "oversize handshake");
    let mut wrong_version = auth::hello_frame(Peer::Worker, &auth::fresh_nonce());
    wrong_version[4] = PROTOCOL_VERSION + 1;
    assert!(closed_after(addr, &wrong_version));
    assert!(
        eventually(Duration::from_secs(5), || client.stats().handshakes_rejected == 6),
        "{:?}",
        client.stats()
    );

    // Authenticated, then garbage or an oversize frame: the connection is dropped.
    assert!(closed_after_on(authenticated(addr, &token), &[0, 0, 0, 4, PROTOCOL_VERSION, 0xde, 0xad, 0xbe]));
    let mut oversize = (2u32 << 20).to_be_bytes().to_vec();
    oversize.push(PROTOCOL_VERSION);
    assert!(closed_after_on(authenticated(addr, &token), &oversize));
    // A hello that is not a hello.
    let mut not_hello = Vec::new();
    encode_frame(&smac_runner::protocol::ToScheduler::Heartbeat, 1 << 20, &mut not_hello).unwrap();
    assert!(closed_after_on(authenticated(addr, &token), &not_hello));
    // Truncated mid-frame, then the peer leaves.
    {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut t = auth::hello_frame(Peer::Worker, &auth::fresh_nonce());
        t.truncate(20);
        s.write_all(&t).unwrap();
    }

    // The real worker and the runner are unaffected.
    assert_eq!(client.n_workers(), 1);
    let mut r = DaskStyleParallelRunner::attach(
        single(Mode::Quadratic),
        client.clone(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )
    .unwrap();
    r.submit_trial(trial(0.3, 1)).unwrap();
    let (_, v) = collect(&mut r, 1, Duration::from_secs(10)).pop().unwrap();
    assert_eq!((v.status, v.cost[0]), (StatusType::Success, 0.0));
    assert!(client.stats().frames_rejected >= 2, "{:?}", client.stats());
}

/// Idle connections that never authenticate cannot starve real workers: beyond the cap on
/// pending handshakes the oldest are closed, so the scheduler holds at most 64 of them, and a
/// real worker joins at once although 64 idle connections are still waiting.
#[test]
fn idle_unauthenticated_connections_cannot_starve_real_workers() {
    let mut s = common::procs::Scheduler::start(&[]);
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&s.file).unwrap()).unwrap();
    let addr: std::net::SocketAddr = file["address"].as_str().unwrap().parse().unwrap();
    const IDLE: usize = 300;
    let idle: Vec<TcpStream> = (0..IDLE).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // A real worker arrives while the last 64 idle ones still wait (their timeout is 5 s).
    let started = std::time::Instant::now();
    let _worker = s.worker(&[]);
    let client = s.client();
    client.wait_for_workers(1, Duration::from_secs(4)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "the worker was kept out");
    // The oldest idle connections were closed without a byte.
    let mut closed = 0;
    for c in &idle[..IDLE - 64] {
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 16];
        match (&*c).read(&mut buf) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, IDLE - 64, "the scheduler held more than 64 unauthenticated connections");
    drop(idle);
}
