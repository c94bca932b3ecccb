//! Unit tests of the wire protocol.

use super::*;
use proptest::prelude::*;
use smac_core::{ConfigSpace, Hyperparameter, StatusType, TrialInfo, TrialValue};

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
        ToScheduler::Hello {
            tags: vec!["t".into()],
            pid: 7,
            host: "h".into(),
            resources: "GPU=1".parse().unwrap(),
        },
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
    let msg = ToWorker::Run { key: 1, runner_id: 2, trial: w, env: vec![("A".into(), "1".into())] };
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
    let big = ToWorker::Scatter { runner_id: 0, name: "d".into(), data: Blob(Arc::from(vec![0u8; 200])) };
    assert!(matches!(frame(&big, 100), Err(FrameError::Oversize { .. })));
    let v = TrialValue::failure(StatusType::Crashed, "boom", 0.0);
    assert!(frame(&ToScheduler::Result { key: 0, value: v }, 1000).is_ok());
}

/// The payload of the single frame in `bytes`.
fn payload_of(bytes: &[u8]) -> Vec<u8> {
    let mut dec = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
    dec.push(bytes);
    dec.next_frame().unwrap().unwrap().to_vec()
}

/// Runs both sides of the handshake in memory; `Ok(peer)` when the scheduler accepts.
fn handshake(peer: Peer, peer_token: &Token, scheduler_token: &Token) -> Result<Peer, FrameError> {
    let peer_nonce = auth::fresh_nonce();
    let (kind, seen_nonce) = auth::parse_hello(&payload_of(&auth::hello_frame(peer, &peer_nonce)))?;
    let scheduler_nonce = auth::fresh_nonce();
    let challenge = payload_of(&auth::challenge_frame(scheduler_token, kind, &seen_nonce, &scheduler_nonce));
    let got = auth::verify_challenge(&challenge, peer_token, peer, &peer_nonce)?;
    let proof = payload_of(&auth::proof_frame(peer_token, peer, &peer_nonce, &got));
    auth::verify_proof(&proof, scheduler_token, kind, &seen_nonce, &scheduler_nonce)?;
    Ok(kind)
}

#[test]
fn both_sides_prove_the_token_and_peers_are_told_apart() {
    let token = Token::random();
    assert_eq!(handshake(Peer::Worker, &token, &token), Ok(Peer::Worker));
    assert_eq!(handshake(Peer::Client, &token, &token), Ok(Peer::Client));
    // A scheduler without our token is caught by the peer, before the peer proves anything.
    assert_eq!(
        handshake(Peer::Worker, &token, &Token::random()),
        Err(FrameError::Handshake("the scheduler could not prove it holds the token"))
    );
    assert!(auth::parse_hello(b"GARBAGE!0123").is_err());
    assert_eq!(
        auth::parse_hello(&payload_of(&auth::hello_frame(Peer::Worker, &[7; 32]))[..20]),
        Err(FrameError::Handshake("missing nonce"))
    );
    assert_eq!(Token::from_hex(&token.to_hex()), Some(token));
    assert_eq!(Token::from_hex("zz"), None);
}

#[test]
fn recorded_handshakes_cannot_be_replayed_or_reflected() {
    let token = Token::random();
    let (peer_nonce, scheduler_nonce) = (auth::fresh_nonce(), auth::fresh_nonce());
    let challenge = payload_of(&auth::challenge_frame(&token, Peer::Worker, &peer_nonce, &scheduler_nonce));
    let proof = payload_of(&auth::proof_frame(&token, Peer::Worker, &peer_nonce, &scheduler_nonce));
    // The genuine exchange passes.
    assert_eq!(auth::verify_challenge(&challenge, &token, Peer::Worker, &peer_nonce), Ok(scheduler_nonce));
    assert_eq!(auth::verify_proof(&proof, &token, Peer::Worker, &peer_nonce, &scheduler_nonce), Ok(()));
    // Replayed to a worker that chose a fresh nonce: refused.
    assert!(auth::verify_challenge(&challenge, &token, Peer::Worker, &auth::fresh_nonce()).is_err());
    // A recorded proof replayed against a fresh scheduler nonce: refused.
    assert_eq!(
        auth::verify_proof(&proof, &token, Peer::Worker, &peer_nonce, &auth::fresh_nonce()),
        Err(FrameError::Handshake("wrong token"))
    );
    // A worker's proof does not admit a client, nor the scheduler's MAC pass as a peer's proof.
    assert!(auth::verify_proof(&proof, &token, Peer::Client, &peer_nonce, &scheduler_nonce).is_err());
    let mut reflected = auth::PROOF_MAGIC.to_vec();
    reflected.extend_from_slice(&challenge[8 + auth::NONCE_LEN..]);
    assert!(auth::verify_proof(&reflected, &token, Peer::Worker, &peer_nonce, &scheduler_nonce).is_err());
    // Truncated or altered answers.
    assert!(auth::verify_challenge(&challenge[..40], &token, Peer::Worker, &peer_nonce).is_err());
    let mut flipped = challenge.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(auth::verify_challenge(&flipped, &token, Peer::Worker, &peer_nonce).is_err());
}

#[test]
fn client_messages_round_trip() {
    let cs = space();
    let trial = TrialInfo::new(cs.default_configuration(), Some(3));
    let out = vec![
        FromClient::Attach {
            runner_id: 1,
            tag: "smac.command".into(),
            payload: Blob(Arc::from(vec![1u8, 2, 3])),
            limits: TrialLimits::default(),
            resources: "GPU=1".parse().unwrap(),
            patience_ms: 500,
        },
        FromClient::Space { space_id: 0, space: (*cs).clone() },
        FromClient::Submit {
            runner_id: 1,
            seq: 7,
            trial: WireTrial::from_trial(&trial, 0),
            env: vec![("CUDA_VISIBLE_DEVICES".into(), "1,0".into())],
        },
        FromClient::Heartbeat,
    ];
    let back = vec![
        ToClient::Status { n_workers: 3, stats: Default::default() },
        ToClient::Workers { runner_id: 1, n: 2 },
        ToClient::Result { runner_id: 1, seq: 7, value: TrialValue::success(vec![0.5], 1.0) },
        ToClient::Lost { runner_id: 1, seq: 8, reason: "worker died".into() },
    ];
    let mut bytes = Vec::new();
    for m in &out {
        encode_frame(m, DEFAULT_MAX_FRAME, &mut bytes).unwrap();
    }
    let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
    dec.push(&bytes);
    for m in &out {
        assert_eq!(&decode_message::<FromClient>(dec.next_frame().unwrap().unwrap()).unwrap(), m);
    }
    for m in &back {
        assert_eq!(&decode_message::<ToClient>(&frame(m, DEFAULT_MAX_FRAME).unwrap()[5..]).unwrap(), m);
    }
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
                        let _ = decode_message::<FromClient>(p);
                        let _ = decode_message::<ToClient>(p);
                        let token = Token([0; TOKEN_LEN]);
                        let _ = auth::parse_hello(p);
                        let _ = auth::verify_challenge(p, &token, Peer::Worker, &[0; auth::NONCE_LEN]);
                        let _ = auth::verify_proof(p, &token, Peer::Client, &[0; 32], &[1; 32]);
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
