//! The client side of a connection to a running scheduler ([`Client::connect`],
//! [`Client::from_scheduler_file`]): a proxy thread between the runners and the scheduler.
//!
//! Runners use a remote client exactly like an embedded scheduler's: they send [`Msg`]s on the
//! client's channel and receive [`Notice`]s. The proxy turns the messages into [`FromClient`]
//! frames and the scheduler's [`ToClient`] frames back into notices, and mirrors the number of
//! workers and the counters into the client. It keeps the trials in flight, so only sequence
//! numbers travel back and a lost connection reports each of them as lost (the runner core
//! then stops with `RunnerError::ClusterLost`) instead of leaving the optimizer waiting.
//! Dropping the last handle closes the connection; the cluster itself is never shut down by a
//! client.

use crate::client::Client;
use crate::protocol::PROTOCOL_VERSION;
use crate::protocol::{
    auth, decode_message, encode_frame, Blob, FrameDecoder, FromClient, Peer, ToClient, Token, WireTrial,
    DEFAULT_MAX_FRAME, HANDSHAKE_MAX_FRAME,
};
use crate::scheduler::client_conn::silence_limit;
use crate::scheduler::connection::{fill, next_message, next_payload, SpaceCache};
use crate::scheduler::{Msg, Notice, NoticeSink, Shared};
use crate::worker::SchedulerFile;
use smac_core::{RunnerError, StatusType, TrialValue};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

impl Client {
    /// Attaches to a running scheduler described by a scheduler file (as written by
    /// `smac-scheduler --scheduler-file`), waiting up to 30 s for the file and the connection.
    pub fn from_scheduler_file(path: impl AsRef<Path>) -> Result<Client, ConnectError> {
        Self::from_scheduler_file_timeout(path, CONNECT_TIMEOUT)
    }

    /// Like [`Client::from_scheduler_file`], waiting at most `timeout`.
    pub fn from_scheduler_file_timeout(
        path: impl AsRef<Path>,
        timeout: Duration,
    ) -> Result<Client, ConnectError> {
        let deadline = Instant::now() + timeout;
        let path = path.as_ref();
        let file =
            SchedulerFile::wait(path, timeout).map_err(|e| ConnectError::SchedulerFile(e.to_string()))?;
        if file.protocol != PROTOCOL_VERSION {
            return Err(ConnectError::Version { got: file.protocol, expected: PROTOCOL_VERSION });
        }
        let token = Token::from_hex(&file.token).ok_or_else(|| {
            ConnectError::SchedulerFile(format!("{}: the token is not 64 hex digits", path.display()))
        })?;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        connect(&file.address, token, file.tls_certificate.as_deref(), left)
    }

    /// Attaches to the scheduler at `address` (`host:port`) with its token, waiting up to 30 s
    /// for it to accept the connection.
    pub fn connect(address: &str, token: Token) -> Result<Client, ConnectError> {
        connect(address, token, None, CONNECT_TIMEOUT)
    }
}

/// How long a client waits for the scheduler file, the connection and the handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a client could not attach to a scheduler.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The scheduler file is missing, unreadable or invalid.
    #[error("scheduler file: {0}")]
    SchedulerFile(String),
    /// The scheduler file was written by a scheduler speaking another protocol version.
    #[error("the scheduler speaks protocol version {got}; this client speaks {expected}")]
    Version {
        /// The scheduler's version.
        got: u8,
        /// Ours.
        expected: u8,
    },
    /// No connection could be made.
    #[error("cannot reach the scheduler at {address}: {source}")]
    Unreachable {
        /// The address tried.
        address: String,
        /// The last connection error.
        source: std::io::Error,
    },
    /// The scheduler closed the connection or answered something unexpected.
    #[error("the scheduler at {address} refused this client: {reason}")]
    Refused {
        /// The scheduler's address.
        address: String,
        /// What happened.
        reason: String,
    },
    /// Any other I/O failure (e.g. starting the client's thread).
    #[error("client I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ConnectError> for RunnerError {
    fn from(e: ConnectError) -> Self {
        RunnerError::Other(e.to_string())
    }
}

/// Connects, authenticates and starts the proxy thread.
pub(crate) fn connect(
    address: &str,
    token: Token,
    tls: Option<&str>,
    timeout: Duration,
) -> Result<Client, ConnectError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let shared = Arc::new(Shared::default());
    let (stream, dec, interval, silence) = rt.block_on(handshake(address, &token, tls, timeout, &shared))?;
    // Through a TLS tunnel the socket's peer is the tunnel: name the scheduler's address.
    let peer = match tls {
        None => stream.peer_addr()?,
        Some(_) => std::net::ToSocketAddrs::to_socket_addrs(address)?.next().unwrap_or(stream.peer_addr()?),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let thread_shared = shared.clone();
    let name = address.to_string();
    std::thread::Builder::new().name("smac-client".into()).spawn(move || {
        rt.block_on(proxy(stream, dec, rx, thread_shared, (interval, silence), name));
    })?;
    tracing::info!(
        address,
        n_workers = shared.n_workers.load(Ordering::Acquire),
        "attached to the scheduler"
    );
    Ok(Client::from_parts(tx, shared, Some(peer), None, token, true, None))
}

/// Connects (retrying until `timeout`), sends the client handshake and reads the welcome and
/// the first status; returns the stream, its decoder, the heartbeat interval and how long the
/// scheduler may stay silent.
async fn handshake(
    address: &str,
    token: &Token,
    tls: Option<&str>,
    timeout: Duration,
    shared: &Shared,
) -> Result<(TcpStream, FrameDecoder, Duration, Duration), ConnectError> {
    let deadline = Instant::now() + timeout;
    let stream = match tls {
        Some(certificate) => {
            // Blocking here is fine: this runtime serves this connection only, and is idle.
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            let tunnel = crate::protocol::tls::connect_tunnel(address, certificate, left)
                .map_err(|source| ConnectError::Unreachable { address: address.into(), source })?;
            tunnel.set_nonblocking(true)?;
            TcpStream::from_std(tunnel)?
        }
        None => loop {
            match TcpStream::connect(address).await {
                Ok(s) => break s,
                Err(e) if Instant::now() + Duration::from_millis(100) < deadline => {
                    tracing::debug!("connecting to the scheduler at {address}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(source) => return Err(ConnectError::Unreachable { address: address.into(), source }),
            }
        },
    };
    let _ = stream.set_nodelay(true);
    let refused = |reason: String| ConnectError::Refused { address: address.into(), reason };
    let (mut rd, mut wr) = stream.into_split();
    let mut dec = FrameDecoder::new(HANDSHAKE_MAX_FRAME);
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
    let first = tokio::time::timeout(left, async {
        // The scheduler proves the token over our nonce before we read anything else from it.
        let nonce = auth::fresh_nonce();
        wr.write_all(&auth::hello_frame(Peer::Client, &nonce)).await.map_err(|e| e.to_string())?;
        let challenge = next_payload(&mut rd, &mut dec).await?;
        let scheduler_nonce =
            auth::verify_challenge(&challenge, token, Peer::Client, &nonce).map_err(|e| e.to_string())?;
        wr.write_all(&auth::proof_frame(token, Peer::Client, &nonce, &scheduler_nonce))
            .await
            .map_err(|e| e.to_string())?;
        dec.set_max_frame(DEFAULT_MAX_FRAME);
        let welcome = next_message::<ToClient>(&mut rd, &mut dec).await?;
        let status = next_message::<ToClient>(&mut rd, &mut dec).await?;
        Ok::<_, String>((welcome, status))
    })
    .await
    .map_err(|_| refused(format!("no answer to the handshake within {left:?}")))?
    .map_err(|e| {
        refused(format!("{e} during the handshake (wrong token, or a scheduler of another protocol version)"))
    })?;
    let (
        ToClient::Welcome { heartbeat_interval_ms, heartbeat_timeout_ms },
        ToClient::Status { n_workers, stats },
    ) = first
    else {
        return Err(refused(format!("unexpected first messages {first:?}")));
    };
    shared.n_workers.store(n_workers as usize, Ordering::Release);
    shared.stats.store(&stats);
    let stream = rd.reunite(wr).expect("halves of one stream");
    let silence = silence_limit(Duration::from_millis(heartbeat_timeout_ms));
    Ok((stream, dec, Duration::from_millis(heartbeat_interval_ms.max(1)), silence))
}

/// A runner as the proxy knows it.
struct RemoteRunner {
    notices: NoticeSink,
    slots: Arc<AtomicUsize>,
}

/// What both halves of the proxy share (one thread: a `RefCell`, never held across awaits).
#[derive(Default)]
struct State {
    runners: HashMap<u64, RemoteRunner>,
    in_flight: HashSet<(u64, u64)>,
}

impl State {
    /// Passes a trial's outcome to its runner, once.
    fn notify(&mut self, runner_id: u64, notice: Notice) {
        let seq = match &notice {
            Notice::Done { seq, .. } | Notice::Lost { seq, .. } => *seq,
            Notice::Workers => return,
        };
        if !self.in_flight.remove(&(runner_id, seq)) {
            return;
        }
        if let Some(r) = self.runners.get(&runner_id) {
            r.notices.send(notice);
        }
    }

    fn on_message(&mut self, msg: ToClient, shared: &Shared) {
        match msg {
            ToClient::Welcome { .. } | ToClient::Heartbeat => {}
            ToClient::Status { n_workers, stats } => {
                shared.n_workers.store(n_workers as usize, Ordering::Release);
                shared.stats.store(&stats);
            }
            ToClient::Workers { runner_id, n } => {
                if let Some(r) = self.runners.get(&runner_id) {
                    r.slots.store(n as usize, Ordering::Release);
                    r.notices.send(Notice::Workers);
                }
            }
            ToClient::Result { runner_id, seq, value } => self.notify(runner_id, Notice::Done { seq, value }),
            ToClient::Lost { runner_id, seq, reason } => self.notify(runner_id, Notice::Lost { seq, reason }),
        }
    }

    /// Reports every trial in flight as lost (not the target's failure) and tells the runners
    /// no worker is left.
    fn fail_all(&mut self, why: &str) {
        let keys: Vec<(u64, u64)> = self.in_flight.iter().copied().collect();
        for (runner_id, seq) in keys {
            self.notify(runner_id, Notice::Lost { seq, reason: why.to_string() });
        }
        for r in self.runners.values() {
            r.slots.store(0, Ordering::Release);
            r.notices.send(Notice::Workers);
        }
        self.runners.clear();
    }
}

/// Relays until the client is dropped or the connection is lost.
async fn proxy(
    stream: TcpStream,
    dec: FrameDecoder,
    rx: mpsc::UnboundedReceiver<Msg>,
    shared: Arc<Shared>,
    (interval, silence): (Duration, Duration),
    address: String,
) {
    let (rd, wr) = stream.into_split();
    let state = RefCell::new(State::default());
    let reason = tokio::select! {
        r = outbound(wr, rx, &state, interval) => r,
        r = inbound(rd, dec, &state, &shared, silence) => r,
    };
    shared.closed.store(true, Ordering::Release);
    shared.n_workers.store(0, Ordering::Release);
    let mut state = state.into_inner();
    if state.runners.is_empty() {
        tracing::debug!(%address, "client connection closed: {reason}");
    } else {
        tracing::error!(%address, "lost the connection to the scheduler: {reason}");
        state.fail_all(&format!("lost the connection to the scheduler at {address}: {reason}"));
    }
}

/// Runners' messages (and heartbeats) to the scheduler.
async fn outbound(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    state: &RefCell<State>,
    interval: Duration,
) -> String {
    let mut spaces = SpaceCache::default();
    let mut buf = Vec::with_capacity(4096);
    let mut beat = tokio::time::interval(interval);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            m = rx.recv() => {
                let Some(m) = m else {
                    let _ = wr.shutdown().await;
                    return "the client was dropped".into();
                };
                encode(m, &mut buf, &mut spaces, &mut state.borrow_mut());
                while buf.len() < (1 << 20) {
                    match rx.try_recv() {
                        Ok(m) => encode(m, &mut buf, &mut spaces, &mut state.borrow_mut()),
                        Err(_) => break,
                    }
                }
            }
            _ = beat.tick() => {
                encode_frame(&FromClient::Heartbeat, DEFAULT_MAX_FRAME, &mut buf).expect("heartbeat encodes");
            }
        }
        if let Err(e) = wr.write_all(&buf).await {
            return format!("write error: {e}");
        }
        buf.clear();
    }
}

/// Appends the frames for one runner message.
fn encode(m: Msg, buf: &mut Vec<u8>, spaces: &mut SpaceCache, state: &mut State) {
    let max = DEFAULT_MAX_FRAME;
    let msg = match m {
        Msg::Attach { spec, notices, slots, patience } => {
            let runner = RemoteRunner { notices, slots };
            let (Some(tag), Some(payload)) = (spec.tag.clone(), spec.payload.clone()) else {
                tracing::error!("an in-process target (a closure) cannot run on a remote cluster");
                runner.slots.store(0, Ordering::Release);
                runner.notices.send(Notice::Workers);
                return;
            };
            state.runners.insert(spec.id, runner);
            FromClient::Attach {
                runner_id: spec.id,
                tag,
                payload: Blob(payload),
                limits: spec.limits,
                resources: spec.resources.clone(),
                patience_ms: patience.as_millis() as u64,
            }
        }
        Msg::Detach { runner_id } => {
            state.runners.remove(&runner_id);
            state.in_flight.retain(|(r, _)| *r != runner_id);
            FromClient::Detach { runner_id }
        }
        Msg::Submit { runner_id, seq, trial, env } => {
            let (space_id, new) = spaces.id_for(trial.config.space());
            if new {
                let space = FromClient::Space { space_id, space: (**trial.config.space()).clone() };
                if let Err(e) = encode_frame(&space, max, buf) {
                    tracing::error!("cannot send a configuration space: {e}");
                }
            }
            let wire = FromClient::Submit {
                runner_id,
                seq,
                trial: WireTrial::from_trial(&trial, space_id),
                env: env.to_vec(),
            };
            state.in_flight.insert((runner_id, seq));
            if let Err(e) = encode_frame(&wire, max, buf) {
                let msg = format!("the trial could not be sent to the scheduler: {e}");
                let value = TrialValue::failure(StatusType::Crashed, msg, smac_core::trial::unix_now());
                state.notify(runner_id, Notice::Done { seq, value });
            }
            return;
        }
        Msg::Scatter { runner_id, name, data } => FromClient::Scatter { runner_id, name, data: Blob(data) },
        // A remote client has no view of the scheduler's workers: the sender is dropped, so the
        // caller learns it at once ([`crate::Client::cluster_view`] gives `None`).
        Msg::View(_) | Msg::Shutdown | Msg::Joined { .. } | Msg::FromWorker { .. } | Msg::Gone { .. } => {
            tracing::debug!("a remote client ignores cluster-management messages");
            return;
        }
    };
    if let Err(e) = encode_frame(&msg, max, buf) {
        tracing::error!("cannot send a message to the scheduler: {e}");
    }
}

/// The scheduler's messages to the runners, until the connection ends or falls silent.
async fn inbound(
    mut rd: OwnedReadHalf,
    mut dec: FrameDecoder,
    state: &RefCell<State>,
    shared: &Shared,
    silence: Duration,
) -> String {
    loop {
        loop {
            match dec.next_frame() {
                Ok(Some(p)) => match decode_message::<ToClient>(p) {
                    Ok(m) => state.borrow_mut().on_message(m, shared),
                    Err(e) => return format!("invalid message from the scheduler: {e}"),
                },
                Ok(None) => break,
                Err(e) => return format!("invalid frame from the scheduler: {e}"),
            }
        }
        match tokio::time::timeout(silence, fill(&mut rd, &mut dec)).await {
            Err(_) => return format!("no message from the scheduler for {silence:?}"),
            Ok(Err(e)) => return e,
            Ok(Ok(())) => {}
        }
    }
}
