//! The scheduler's side of a remote client's connection: an optimizer attached with
//! [`crate::Client::connect`] or [`crate::Client::from_scheduler_file`].
//!
//! The reader (this task) turns client messages into scheduler messages, mapping the client's
//! runner ids to scheduler-wide ones so that any number of clients can share the cluster; the
//! client's runners get their notices as [`ToClient`] frames through a writer task. Trials are
//! rebuilt against the spaces the client sent (which validates them); runner payloads stay
//! opaque bytes that only workers decode. The reader also sends heartbeats and, when the
//! cluster changes, the number of workers and the counters. When the client leaves or falls
//! silent its runners are detached (their queued trials dropped); the cluster stays up.

use crate::core::TargetSpec;
use crate::protocol::{decode_message, encode_frame, FrameDecoder, FromClient, ToClient, RETAINED_BUFFER};
use crate::scheduler::context::ConnContext;
use crate::scheduler::stats::{bump, SchedulerStats};
use crate::scheduler::{Msg, NoticeSink};
use smac_core::{ConfigSpace, StatusType, TrialValue};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Shortest silence after which a client is considered gone (an optimizer process may pause
/// for a while, e.g. in a debugger; a dead process closes its socket anyway).
pub(crate) const CLIENT_SILENCE: Duration = Duration::from_secs(60);

/// How long a peer may stay silent before it is given up, given the heartbeat timeout.
pub(crate) fn silence_limit(heartbeat_timeout: Duration) -> Duration {
    heartbeat_timeout.mul_f64(3.0).max(CLIENT_SILENCE)
}

/// One client connection's state.
struct ClientConn {
    ctx: Arc<ConnContext>,
    peer: SocketAddr,
    out: mpsc::UnboundedSender<ToClient>,
    /// Client runner id → (scheduler runner id, crash cost).
    runners: HashMap<u64, u64>,
    spaces: HashMap<u32, Arc<ConfigSpace>>,
    last_status: Option<(usize, SchedulerStats)>,
}

/// Serves an authenticated client until it leaves.
pub(crate) async fn serve(
    mut rd: impl AsyncRead + Unpin,
    wr: impl AsyncWrite + Unpin + Send + 'static,
    mut dec: FrameDecoder,
    peer: SocketAddr,
    ctx: Arc<ConnContext>,
) -> Result<(), String> {
    let (out, rx) = mpsc::unbounded_channel();
    tokio::spawn(writer(wr, rx, ctx.cfg.max_frame, peer));
    let interval = ctx.cfg.heartbeat_interval;
    let _ = out.send(ToClient::Welcome {
        heartbeat_interval_ms: interval.as_millis() as u64,
        heartbeat_timeout_ms: ctx.cfg.heartbeat_timeout.as_millis() as u64,
    });
    tracing::info!(%peer, "client attached");
    let silence = silence_limit(ctx.cfg.heartbeat_timeout);
    let mut conn =
        ClientConn { ctx, peer, out, runners: HashMap::new(), spaces: HashMap::new(), last_status: None };
    conn.status();
    let mut tick =
        tokio::time::interval((interval / 2).clamp(Duration::from_millis(10), Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last_seen, mut last_heartbeat) = (Instant::now(), Instant::now());
    let reason = loop {
        if let Err(e) = conn.drain(&mut dec) {
            bump(&conn.ctx.shared.stats.frames_rejected);
            tracing::error!(%peer, "closing the client connection after an invalid frame: {e}");
            break e;
        }
        let want = dec.wanted().clamp(16 << 10, 1 << 20);
        let buf = dec.spare(want);
        let read = tokio::select! {
            r = rd.read(buf) => Some(r),
            _ = tick.tick() => None,
        };
        match read {
            Some(Ok(0)) => break "the client closed the connection".to_string(),
            Some(Ok(n)) => {
                dec.commit(want, n);
                last_seen = Instant::now();
            }
            Some(Err(e)) => break format!("read error: {e}"),
            None => {
                dec.commit(want, 0);
                conn.status();
                if last_heartbeat.elapsed() >= interval {
                    last_heartbeat = Instant::now();
                    let _ = conn.out.send(ToClient::Heartbeat);
                }
                if last_seen.elapsed() > silence {
                    break format!("no message from the client for {silence:?}");
                }
            }
        }
    };
    tracing::info!(%peer, runners = conn.runners.len(), "client left: {reason}");
    for global in conn.runners.into_values() {
        let _ = conn.ctx.tx.send(Msg::Detach { runner_id: global });
    }
    Ok(())
}

impl ClientConn {
    /// Handles every complete frame.
    fn drain(&mut self, dec: &mut FrameDecoder) -> Result<(), String> {
        while let Some(payload) = dec.next_frame().map_err(|e| e.to_string())? {
            let msg: FromClient = decode_message(payload).map_err(|e| e.to_string())?;
            self.handle(msg)?;
        }
        Ok(())
    }

    fn to_scheduler(&self, msg: Msg) -> Result<(), String> {
        self.ctx.tx.send(msg).map_err(|_| "the scheduler stopped".to_string())
    }

    fn handle(&mut self, msg: FromClient) -> Result<(), String> {
        match msg {
            FromClient::Attach { runner_id, tag, payload, limits, resources, patience_ms } => {
                let global = self.ctx.shared.next_runner_id.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = %self.peer, runner_id, global, %tag, "remote runner");
                let slots = Arc::new(AtomicUsize::new(usize::MAX));
                let spec = TargetSpec {
                    id: global,
                    tag: Some(tag),
                    payload: Some(payload.0),
                    decoder: None,
                    local: None,
                    limits,
                    resources,
                };
                let notices = NoticeSink::Remote { runner_id, slots: slots.clone(), tx: self.out.clone() };
                if let Some(old) = self.runners.insert(runner_id, global) {
                    self.to_scheduler(Msg::Detach { runner_id: old })?;
                }
                let patience = Duration::from_millis(patience_ms);
                self.to_scheduler(Msg::Attach { spec: Arc::new(spec), notices, slots, patience })
            }
            FromClient::Detach { runner_id } => match self.runners.remove(&runner_id) {
                Some(global) => self.to_scheduler(Msg::Detach { runner_id: global }),
                None => Ok(()),
            },
            FromClient::Space { space_id, space } => {
                self.spaces.insert(space_id, Arc::new(space));
                Ok(())
            }
            FromClient::Submit { runner_id, seq, trial, env } => {
                let Some(&global) = self.runners.get(&runner_id) else {
                    return self.fail(runner_id, seq, format!("runner {runner_id} is not attached"));
                };
                let Some(space) = self.spaces.get(&trial.space_id) else {
                    let msg = format!("space {} was never sent", trial.space_id);
                    return self.fail(runner_id, seq, msg);
                };
                match trial.into_trial(space) {
                    Ok(trial) => {
                        self.to_scheduler(Msg::Submit { runner_id: global, seq, trial, env: env.into() })
                    }
                    Err(e) => self.fail(runner_id, seq, format!("invalid trial: {e}")),
                }
            }
            FromClient::Scatter { runner_id, name, data } => match self.runners.get(&runner_id) {
                Some(&global) => self.to_scheduler(Msg::Scatter { runner_id: global, name, data: data.0 }),
                None => Err(format!("scatter for runner {runner_id}, which is not attached")),
            },
            FromClient::Heartbeat => Ok(()),
        }
    }

    /// Answers a trial the scheduler cannot queue with a crashed value.
    fn fail(&self, runner_id: u64, seq: u64, message: String) -> Result<(), String> {
        tracing::warn!(peer = %self.peer, runner_id, seq, "rejected a client's trial: {message}");
        let value = TrialValue::failure(StatusType::Crashed, message, smac_core::trial::unix_now());
        let _ = self.out.send(ToClient::Result { runner_id, seq, value });
        Ok(())
    }

    /// Sends the number of workers and the counters when they changed.
    fn status(&mut self) {
        let now = (self.ctx.shared.n_workers.load(Ordering::Acquire), self.ctx.shared.stats.snapshot());
        if self.last_status != Some(now) {
            self.last_status = Some(now);
            let _ = self.out.send(ToClient::Status { n_workers: now.0 as u64, stats: now.1 });
        }
    }
}

/// Writes queued messages to the client, coalescing what is queued into one write.
async fn writer(
    mut wr: impl AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<ToClient>,
    max: usize,
    peer: SocketAddr,
) {
    let mut buf = Vec::with_capacity(4096);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(m) = next {
            if let Err(e) = encode_frame(&m, max, &mut buf) {
                tracing::error!(%peer, "cannot send a message to a client: {e}");
            }
            next = if buf.len() < (1 << 20) { rx.try_recv().ok() } else { None };
        }
        if let Err(e) = wr.write_all(&buf).await {
            tracing::debug!(%peer, "writing to a client failed: {e}");
            return;
        }
        buf.clear();
        if buf.capacity() > RETAINED_BUFFER {
            buf.shrink_to(RETAINED_BUFFER / 2);
        }
    }
    let _ = wr.shutdown().await;
}
