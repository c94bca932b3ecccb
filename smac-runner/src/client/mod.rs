//! [`Client`]: a cheap, cloneable handle to a scheduler, and the embedded scheduler's thread.
//!
//! A client reaches either a scheduler embedded in this process (a [`crate::LocalCluster`]'s)
//! or, through [`Client::connect`] / [`Client::from_scheduler_file`], a scheduler running
//! elsewhere (`smac-scheduler`, or another process's cluster); runners cannot tell the
//! difference (see [`crate::client::remote`]).
//!
//! The scheduler runs on its own thread with a single-threaded tokio runtime: every task it
//! has (the scheduler itself, the accept loop, each connection's reader and writer) wakes on
//! that one thread, so handing work between them costs a queue push, not a cross-core wakeup.
//! The optimizer's thread never touches tokio; it sends messages and receives notices through
//! channels, which keeps the synchronous `Runner` methods at a few microseconds.

pub mod local;
pub mod remote;

use crate::core::TargetSpec;
use crate::protocol::{Token, PROTOCOL_VERSION};
use crate::scheduler::connection::accept_loop;
use crate::scheduler::context::ConnContext;
use crate::scheduler::stats::SchedulerStats;
use crate::scheduler::view::ClusterView;
use crate::scheduler::{self, Msg, Notice, NoticeSink, SchedulerConfig, Shared, TrialEnv};
use crate::worker::SchedulerFile;
use smac_core::{RunnerError, TrialInfo};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A handle to a scheduler and its workers; clones share the same scheduler.
///
/// A runner given a client never closes the cluster: whoever started the scheduler (a
/// [`crate::LocalCluster`], an `smac-scheduler` process) owns its lifetime, like a Dask
/// `Client` passed to SMAC3.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    tx: mpsc::UnboundedSender<Msg>,
    shared: Arc<Shared>,
    address: Option<SocketAddr>,
    /// The host name written to scheduler files instead of the bound address.
    contact: Option<String>,
    token: Token,
    remote: bool,
    /// The TLS certificate (PEM) of a scheduler started with TLS, for its scheduler file.
    tls_certificate: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.inner.address)
            .field("remote", &self.inner.remote)
            .field("n_workers", &self.n_workers())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A runner's registration with the scheduler.
pub(crate) struct Attachment {
    pub runner_id: u64,
    pub notices: std::sync::mpsc::Receiver<Notice>,
    pub slots: Arc<AtomicUsize>,
}

impl Client {
    pub(crate) fn from_parts(
        tx: mpsc::UnboundedSender<Msg>,
        shared: Arc<Shared>,
        address: Option<SocketAddr>,
        contact: Option<String>,
        token: Token,
        remote: bool,
        tls_certificate: Option<String>,
    ) -> Client {
        Client {
            inner: Arc::new(ClientInner { tx, shared, address, contact, token, remote, tls_certificate }),
        }
    }

    /// Whether the scheduler runs in another process (the client attached over TCP).
    pub fn is_remote(&self) -> bool {
        self.inner.remote
    }

    /// The scheduler's address (`None` for an embedded scheduler without a listener).
    pub fn address(&self) -> Option<SocketAddr> {
        self.inner.address
    }

    /// Connection details for workers and clients joining from elsewhere (address and token).
    /// A scheduler bound to all interfaces (`0.0.0.0`) is named by this machine's host name
    /// unless a contact host was given.
    pub fn scheduler_file(&self) -> Option<SchedulerFile> {
        self.inner.address.map(|a| {
            let host = match &self.inner.contact {
                Some(h) => h.clone(),
                None if a.ip().is_unspecified() => crate::worker::host_name(),
                None => a.ip().to_string(),
            };
            let address = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{}", a.port())
            } else {
                format!("{host}:{}", a.port())
            };
            SchedulerFile {
                address,
                token: self.inner.token.to_hex(),
                protocol: PROTOCOL_VERSION,
                tls_certificate: self.inner.tls_certificate.clone(),
            }
        })
    }

    /// Writes the scheduler file (owner-only permissions: it holds the token).
    pub fn write_scheduler_file(&self, path: &Path) -> Result<(), RunnerError> {
        let file = self
            .scheduler_file()
            .ok_or_else(|| RunnerError::Other("this scheduler does not accept remote workers".into()))?;
        file.write(path)?;
        Ok(())
    }

    /// The token workers must present (hex), for starting workers by hand.
    pub fn token_hex(&self) -> String {
        self.inner.token.to_hex()
    }

    /// Number of workers currently connected.
    pub fn n_workers(&self) -> usize {
        self.inner.shared.n_workers.load(Ordering::Acquire)
    }

    /// The scheduler's counters.
    pub fn stats(&self) -> SchedulerStats {
        self.inner.shared.stats.snapshot()
    }

    /// Whether the scheduler has shut down.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.closed.load(Ordering::Acquire) || self.inner.tx.is_closed()
    }

    /// Stores a named blob of runner `runner_id` for the workers that run its trials (sent to
    /// each once); it is freed when the runner detaches.
    pub(crate) fn scatter(&self, runner_id: u64, name: &str, data: Arc<[u8]>) -> Result<(), RunnerError> {
        self.send(Msg::Scatter { runner_id, name: name.to_string(), data })
    }

    /// Blocks until at least `n` workers are connected, or fails after `timeout`.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<(), RunnerError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(200);
        while self.n_workers() < n {
            if self.is_closed() {
                return Err(RunnerError::Closed);
            }
            if Instant::now() >= deadline {
                return Err(RunnerError::NoWorkerAvailable {
                    patience_s: timeout.as_secs_f64(),
                    detail: format!("only {} of {n} workers connected", self.n_workers()),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        Ok(())
    }

    /// A snapshot of the scheduler's workers, running trials, joins and leaves (for
    /// dashboards); `None` for a remote client (serve the dashboard where the scheduler runs:
    /// `smac scheduler --dashboard`) or a closed scheduler.
    pub async fn cluster_view(&self) -> Option<ClusterView> {
        if self.inner.remote {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Msg::View(tx)).ok()?;
        rx.await.ok()
    }

    pub(crate) fn send(&self, msg: Msg) -> Result<(), RunnerError> {
        self.inner.tx.send(msg).map_err(|_| RunnerError::Closed)
    }

    pub(crate) fn next_runner_id(&self) -> u64 {
        self.inner.shared.next_runner_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_worker_id(&self) -> u64 {
        self.inner.shared.next_worker_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<Msg> {
        self.inner.tx.clone()
    }

    /// Registers a runner; results and worker-count changes arrive on the attachment.
    pub(crate) fn attach(&self, spec: TargetSpec, patience: Duration) -> Result<Attachment, RunnerError> {
        let (ntx, nrx) = std::sync::mpsc::channel();
        // An impossible count, so the scheduler's first answer always differs and is notified.
        let slots = Arc::new(AtomicUsize::new(usize::MAX));
        let runner_id = spec.id;
        let notices = NoticeSink::Local(ntx);
        self.send(Msg::Attach { spec: Arc::new(spec), notices, slots: slots.clone(), patience })?;
        Ok(Attachment { runner_id, notices: nrx, slots })
    }

    pub(crate) fn submit(
        &self,
        runner_id: u64,
        seq: u64,
        trial: TrialInfo,
        env: TrialEnv,
    ) -> Result<(), RunnerError> {
        self.send(Msg::Submit { runner_id, seq, trial, env })
    }
}

/// A scheduler running on its own thread; stopping it shuts its workers down.
pub(crate) struct SchedulerThread {
    client: Client,
    thread: Option<JoinHandle<()>>,
}

impl SchedulerThread {
    /// Starts a scheduler, listening on `listen` for worker processes and clients when given;
    /// `contact` names the host in scheduler files.
    pub fn start(
        cfg: SchedulerConfig,
        listen: Option<SocketAddr>,
        contact: Option<String>,
    ) -> Result<Self, RunnerError> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let listener = match listen {
            Some(addr) => Some(rt.block_on(tokio::net::TcpListener::bind(addr))?),
            None => None,
        };
        let address = listener.as_ref().map(|l| l.local_addr()).transpose()?;
        let token = Token::random();
        let tls = if cfg.tls {
            let identity = crate::protocol::tls::TlsIdentity::generate().map_err(RunnerError::Other)?;
            Some(Arc::new(identity))
        } else {
            None
        };
        let certificate = tls.as_ref().map(|t| t.certificate_pem().to_string());
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let ctx = Arc::new(ConnContext {
            token: token.clone(),
            cfg: cfg.clone(),
            tx: tx.clone(),
            shared: shared.clone(),
            tls,
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new().name("smac-scheduler".into()).spawn(move || {
            rt.block_on(async move {
                if let Some(listener) = listener {
                    tokio::spawn(accept_loop(listener, ctx));
                } else {
                    drop(ctx);
                }
                scheduler::run(rx, cfg, thread_shared).await;
            });
        })?;
        if let Some(a) = address {
            tracing::info!(address = %a, "scheduler listening");
        }
        let client = Client::from_parts(tx, shared, address, contact, token, false, certificate);
        Ok(SchedulerThread { client, thread: Some(thread) })
    }

    /// A handle to this scheduler.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Shuts the scheduler down (workers are told to exit) and joins its thread.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.client.send(Msg::Shutdown);
            if thread.join().is_err() {
                tracing::error!("the scheduler thread panicked");
            }
        }
    }
}

impl Drop for SchedulerThread {
    fn drop(&mut self) {
        self.stop();
    }
}
