//! The scheduler's side of connections: accept, handshake, then worker read and write tasks
//! (client connections continue in [`crate::scheduler::client_conn`]).
//!
//! Each worker connection gets a reader (this task) and a writer task. The reader runs the
//! mutual handshake ([`crate::protocol::auth`]) before anything is deserialized — a peer that
//! cannot prove the token is refused and logged with its address — then forwards every decoded frame to the scheduler; any
//! bad frame closes only this connection. The writer turns [`Outgoing`]
//! messages into frames, sends each configuration space once per connection, and coalesces
//! whatever is queued into one write (fewer syscalls under load, no delay when idle).

use crate::protocol::{
    auth, decode_message, encode_frame, Blob, FrameDecoder, Peer, ToScheduler, ToWorker, WireTrial,
    HANDSHAKE_MAX_FRAME, RETAINED_BUFFER,
};
use crate::scheduler::context::ConnContext;
use crate::scheduler::stats::bump;
use crate::scheduler::{Hello, Link, Msg, Outgoing, Shared};
use smac_core::{ConfigSpace, StatusType, TrialValue};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// Connections that have not completed their handshake, oldest first, with the means to end
/// each; shared by the accept loop and the connection tasks (all on the scheduler's thread).
type Pending = Arc<std::sync::Mutex<std::collections::BTreeMap<u64, oneshot::Sender<()>>>>;

/// Accepts worker connections until the runtime stops. At most `max_pending_handshakes`
/// connections may wait for their handshake at once: a new one beyond that ends the *oldest*
/// waiting connection. A real peer sends its handshake within microseconds of connecting, so
/// idle or hostile connections are the ones evicted, and they can neither exhaust the
/// scheduler's descriptors nor keep a real worker out.
pub(crate) async fn accept_loop(listener: TcpListener, ctx: Arc<ConnContext>) {
    let pending: Pending = Arc::default();
    let mut next_id = 0u64;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (cancel, cancelled) = oneshot::channel();
                {
                    let mut waiting = pending.lock().unwrap_or_else(|e| e.into_inner());
                    while waiting.len() >= ctx.cfg.max_pending_handshakes.max(1) {
                        if let Some((_, oldest)) = waiting.pop_first() {
                            let _ = oldest.send(());
                        }
                    }
                    waiting.insert(next_id, cancel);
                }
                tokio::spawn(serve(stream, peer, ctx.clone(), (next_id, pending.clone(), cancelled)));
                next_id += 1;
            }
            Err(e) => {
                tracing::warn!("accepting a worker connection failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// A connection's place among those waiting for their handshake.
type Admission = (u64, Pending, oneshot::Receiver<()>);

async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<ConnContext>, admission: Admission) {
    if let Err(reason) = serve_inner(stream, peer, &ctx, admission).await {
        tracing::warn!(%peer, "connection refused: {reason}");
    }
}

async fn serve_inner(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: &Arc<ConnContext>,
    (id, pending, mut cancelled): Admission,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &ctx.tls else {
        let (rd, wr) = stream.into_split();
        return serve_halves(rd, wr, peer, ctx, (id, pending, cancelled)).await;
    };
    // TLS first, within the same deadline and under the same cap as the mutual handshake.
    let deadline = ctx.cfg.handshake_timeout;
    let accepted = tokio::select! {
        r = tokio::time::timeout(deadline, tls.acceptor().accept(stream)) => match r {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err(format!("no TLS handshake within {deadline:?}")),
        },
        _ = &mut cancelled => Err("closed to admit a newer connection: too many were waiting for their handshake".into()),
    };
    match accepted {
        Ok(s) => {
            let (rd, wr) = tokio::io::split(s);
            serve_halves(rd, wr, peer, ctx, (id, pending, cancelled)).await
        }
        Err(e) => {
            pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            bump(&ctx.shared.stats.handshakes_rejected);
            Err(e)
        }
    }
}

/// Serves one connection over its read and write halves (plain TCP or TLS).
async fn serve_halves<R, W>(
    mut rd: R,
    mut wr: W,
    peer: SocketAddr,
    ctx: &Arc<ConnContext>,
    (id, pending, cancelled): Admission,
) -> Result<(), String>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut dec = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
    let deadline = ctx.cfg.handshake_timeout;
    let handshake = tokio::select! {
        r = tokio::time::timeout(deadline, authenticate(&mut rd, &mut wr, &mut dec, &ctx.token)) => r.unwrap_or_else(|_| Err(format!("no handshake within {deadline:?}"))),
        _ = cancelled => Err("closed to admit a newer connection: too many were waiting for their handshake".into()),
    };
    // Authenticated or not, this connection no longer waits for its handshake.
    pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    let kind = match handshake {
        Ok(kind) => kind,
        Err(e) => {
            bump(&ctx.shared.stats.handshakes_rejected);
            return Err(e);
        }
    };
    dec.set_max_frame(ctx.cfg.max_frame);
    if kind == Peer::Client {
        return crate::scheduler::client_conn::serve(rd, wr, dec, peer, ctx.clone()).await;
    }
    let worker_id = ctx.shared.next_worker_id.fetch_add(1, Ordering::Relaxed);
    let (otx, orx) = mpsc::unbounded_channel();
    tokio::spawn(writer(wr, orx, worker_id, ctx.clone()));
    let hello = tokio::time::timeout(deadline, next_message::<ToScheduler>(&mut rd, &mut dec))
        .await
        .unwrap_or_else(|_| Err(format!("no hello within {deadline:?}")));
    let Ok(ToScheduler::Hello { tags, pid, host, resources }) = hello else {
        bump(&ctx.shared.stats.frames_rejected);
        return Err(match hello {
            Err(e) => format!("invalid hello: {e}"),
            Ok(_) => "the first message after the handshake must be a hello".into(),
        });
    };
    let (closer, mut closed) = oneshot::channel();
    let hello = Hello { tags, pid, host, resources };
    if ctx.tx.send(Msg::Joined { worker_id, link: Link::Tcp(otx), hello, closer: Some(closer) }).is_err() {
        return Ok(());
    }
    let reason = loop {
        match drain_frames(&mut dec, worker_id, ctx) {
            Ok(()) => {}
            Err(e) => {
                bump(&ctx.shared.stats.frames_rejected);
                tracing::error!(%peer, worker_id, "closing the connection after an invalid frame: {e}");
                break e;
            }
        }
        let want = dec.wanted().clamp(16 << 10, 1 << 20);
        let buf = dec.spare(want);
        let read = tokio::select! {
            r = rd.read(buf) => Some(r),
            _ = &mut closed => None,
        };
        match read {
            None => break "closed by the scheduler".to_string(),
            Some(Ok(0)) => break "the worker closed the connection".to_string(),
            Some(Ok(n)) => dec.commit(want, n),
            Some(Err(e)) => break format!("read error: {e}"),
        }
    };
    let _ = ctx.tx.send(Msg::Gone { worker_id, reason });
    Ok(())
}

/// The scheduler's side of the mutual handshake: read the peer's hello, prove the token over
/// its nonce, then check the peer's proof over ours. Nothing is deserialized before it passes.
async fn authenticate(
    rd: &mut (impl AsyncRead + Unpin),
    wr: &mut (impl AsyncWrite + Unpin),
    dec: &mut FrameDecoder,
    token: &crate::protocol::Token,
) -> Result<Peer, String> {
    let hello = next_payload(rd, dec).await?;
    let (peer, peer_nonce) = auth::parse_hello(&hello).map_err(|e| e.to_string())?;
    let nonce = auth::fresh_nonce();
    wr.write_all(&auth::challenge_frame(token, peer, &peer_nonce, &nonce))
        .await
        .map_err(|e| e.to_string())?;
    let proof = next_payload(rd, dec).await.map_err(|e| {
        format!("handshake rejected: {e} before proving the token (a peer with another token leaves here)")
    })?;
    auth::verify_proof(&proof, token, peer, &peer_nonce, &nonce).map_err(|e| e.to_string())?;
    Ok(peer)
}

/// Forwards every complete frame to the scheduler.
fn drain_frames(dec: &mut FrameDecoder, worker_id: u64, ctx: &ConnContext) -> Result<(), String> {
    while let Some(payload) = dec.next_frame().map_err(|e| e.to_string())? {
        let msg: ToScheduler = decode_message(payload).map_err(|e| e.to_string())?;
        if ctx.tx.send(Msg::FromWorker { worker_id, msg }).is_err() {
            return Err("the scheduler stopped".into());
        }
    }
    Ok(())
}

/// Reads more bytes into `dec`; an end of stream is an error.
pub(crate) async fn fill(rd: &mut (impl AsyncRead + Unpin), dec: &mut FrameDecoder) -> Result<(), String> {
    let want = dec.wanted().clamp(1 << 10, 1 << 20);
    let buf = dec.spare(want);
    let r = rd.read(buf).await;
    match r {
        Ok(0) => {
            dec.commit(want, 0);
            Err("the peer closed the connection".into())
        }
        Ok(n) => {
            dec.commit(want, n);
            Ok(())
        }
        Err(e) => {
            dec.commit(want, 0);
            Err(e.to_string())
        }
    }
}

/// Reads the next complete frame's payload.
pub(crate) async fn next_payload(
    rd: &mut (impl AsyncRead + Unpin),
    dec: &mut FrameDecoder,
) -> Result<Vec<u8>, String> {
    loop {
        if let Some(p) = dec.next_frame().map_err(|e| e.to_string())? {
            return Ok(p.to_vec());
        }
        fill(rd, dec).await?;
    }
}

/// Reads the next complete message of type `M`.
pub(crate) async fn next_message<M: serde::de::DeserializeOwned>(
    rd: &mut (impl AsyncRead + Unpin),
    dec: &mut FrameDecoder,
) -> Result<M, String> {
    loop {
        if let Some(p) = dec.next_frame().map_err(|e| e.to_string())? {
            return decode_message(p).map_err(|e| e.to_string());
        }
        fill(rd, dec).await?;
    }
}

/// Decrements the live-writer count however the writer ends.
struct WriterGuard(Arc<Shared>);
impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.0.live_writers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Spaces the peer of a connection already has, by id.
#[derive(Default)]
pub(crate) struct SpaceCache {
    spaces: Vec<Arc<ConfigSpace>>,
}

impl SpaceCache {
    /// The id of `space` and whether it is new to the worker. Pointer equality first (the
    /// common case: all configurations share the scenario's space), content equality second.
    pub fn id_for(&mut self, space: &Arc<ConfigSpace>) -> (u32, bool) {
        if let Some(i) = self.spaces.iter().position(|s| Arc::ptr_eq(s, space)) {
            return (i as u32, false);
        }
        if let Some(i) = self.spaces.iter().position(|s| **s == **space) {
            return (i as u32, false);
        }
        self.spaces.push(space.clone());
        ((self.spaces.len() - 1) as u32, true)
    }
}

async fn writer(
    mut wr: impl AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    worker_id: u64,
    ctx: Arc<ConnContext>,
) {
    ctx.shared.live_writers.fetch_add(1, Ordering::AcqRel);
    let _guard = WriterGuard(ctx.shared.clone());
    let max = ctx.cfg.max_frame;
    let mut buf = Vec::with_capacity(4096);
    let welcome = ToWorker::Welcome {
        worker_id,
        heartbeat_interval_ms: ctx.cfg.heartbeat_interval.as_millis() as u64,
        heartbeat_timeout_ms: ctx.cfg.heartbeat_timeout.as_millis() as u64,
    };
    encode_frame(&welcome, max, &mut buf).expect("welcome encodes");
    let mut spaces = SpaceCache::default();
    let mut stop = false;
    loop {
        if !buf.is_empty() {
            if let Err(e) = wr.write_all(&buf).await {
                tracing::debug!(worker_id, "writing to a worker failed: {e}");
                return;
            }
            buf.clear();
            // A scattered blob went out: do not keep its size as capacity.
            if buf.capacity() > RETAINED_BUFFER {
                buf.shrink_to(RETAINED_BUFFER / 2);
            }
        }
        if stop {
            let _ = wr.shutdown().await;
            return;
        }
        let Some(first) = rx.recv().await else { return };
        stop |= encode(first, &mut buf, &mut spaces, worker_id, &ctx);
        while !stop && buf.len() < (1 << 20) {
            match rx.try_recv() {
                Ok(m) => stop |= encode(m, &mut buf, &mut spaces, worker_id, &ctx),
                Err(_) => break,
            }
        }
    }
}

/// Appends the frame(s) for `m` to `buf`; `true` for the shutdown message.
fn encode(
    m: Outgoing,
    buf: &mut Vec<u8>,
    spaces: &mut SpaceCache,
    worker_id: u64,
    ctx: &ConnContext,
) -> bool {
    let max = ctx.cfg.max_frame;
    let (msg, run_key) = match m {
        Outgoing::Heartbeat => (ToWorker::Heartbeat, None),
        Outgoing::Shutdown => {
            let _ = encode_frame(&ToWorker::Shutdown, max, buf);
            return true;
        }
        Outgoing::DropRunner(runner_id) => (ToWorker::DropRunner { runner_id }, None),
        Outgoing::Scatter { runner_id, name, data } => {
            (ToWorker::Scatter { runner_id, name, data: Blob(data) }, None)
        }
        Outgoing::SetRunner(spec) => (
            ToWorker::SetRunner {
                runner_id: spec.id,
                tag: spec.tag.clone().unwrap_or_default(),
                payload: Blob(spec.payload.clone().unwrap_or_else(|| Arc::from(Vec::new()))),
                limits: spec.limits,
            },
            None,
        ),
        Outgoing::Run { key, runner_id, trial, env } => {
            let (space_id, new) = spaces.id_for(trial.config.space());
            if new {
                let space = ToWorker::Space { space_id, space: (**trial.config.space()).clone() };
                match encode_frame(&space, max, buf) {
                    Ok(()) => bump(&ctx.shared.stats.space_transfers),
                    Err(e) => tracing::error!(worker_id, "cannot send a configuration space: {e}"),
                }
            }
            let trial = WireTrial::from_trial(&trial, space_id);
            (ToWorker::Run { key, runner_id, trial, env: env.to_vec() }, Some(key))
        }
    };
    if let Err(e) = encode_frame(&msg, max, buf) {
        tracing::error!(worker_id, "cannot send a message to a worker: {e}");
        if let Some(key) = run_key {
            // Answer for the worker so the trial is reported instead of waiting forever.
            let value = TrialValue::failure(
                StatusType::Crashed,
                format!("the trial could not be sent to a worker: {e}"),
                smac_core::trial::unix_now(),
            );
            let _ = ctx.tx.send(Msg::FromWorker { worker_id, msg: ToScheduler::Result { key, value } });
        }
    }
    false
}
