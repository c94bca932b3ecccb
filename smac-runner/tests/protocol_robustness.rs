//! Hostile or broken peers on the scheduler's port never hurt the runner.

mod common;

use common::*;
use smac_core::{Runner, StatusType};
use smac_runner::protocol::{encode_frame, handshake_frame, Token, PROTOCOL_VERSION};
use smac_runner::{DaskStyleParallelRunner, ParallelOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Writes `bytes` and waits until the scheduler closes the connection.
fn closed_after(addr: std::net::SocketAddr, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. the welcome after a valid handshake
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn garbage_bad_tokens_and_oversize_frames_close_only_that_connection() {
    let cluster = processes(1).max_frame(1 << 20).start().unwrap();
    let client = cluster.client();
    let addr = client.address().unwrap();
    let token = Token::from_hex(&client.token_hex()).unwrap();

    assert!(closed_after(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(closed_after(addr, &handshake_frame(&Token::random())), "wrong token");
    assert!(closed_after(addr, &[0, 0, 0, 0]), "empty frame");
    assert!(closed_after(addr, &[0xff, 0xff, 0xff, 0xff, PROTOCOL_VERSION]), "oversize handshake");
    let mut wrong_version = handshake_frame(&token);
    wrong_version[4] = PROTOCOL_VERSION + 1;
    assert!(closed_after(addr, &wrong_version));
    assert_eq!(client.stats().handshakes_rejected, 5);

    // Authenticated, then garbage or an oversize frame: the connection is dropped.
    let mut garbage = handshake_frame(&token);
    garbage.extend_from_slice(&[0, 0, 0, 4, PROTOCOL_VERSION, 0xde, 0xad, 0xbe]);
    assert!(closed_after(addr, &garbage));
    let mut oversize = handshake_frame(&token);
    oversize.extend_from_slice(&((2u32 << 20).to_be_bytes()));
    oversize.push(PROTOCOL_VERSION);
    assert!(closed_after(addr, &oversize));
    // A hello that is not a hello.
    let mut not_hello = handshake_frame(&token);
    encode_frame(&smac_runner::protocol::ToScheduler::Heartbeat, 1 << 20, &mut not_hello).unwrap();
    assert!(closed_after(addr, &not_hello));
    // Truncated mid-frame, then the peer leaves.
    {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut t = handshake_frame(&token);
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
