//! `smac dashboard`: a live web page for run directories (ours and SMAC3's) — runs overview,
//! convergence, trials table, parameters, parameter importance (fANOVA), workers, the cluster
//! (a live scheduler's workers and running trials, when served beside one), Pareto front, cost
//! per budget.
//!
//! The server binds 127.0.0.1 on a free port by default; bound to any other address it requires
//! a random token, carried in the printed URL. It polls the run directories, reloads a run when
//! its files change and tells open pages through server-sent events. It never writes to a run
//! directory. The user guide is `docs/dashboard.md`.

pub mod brackets;
pub mod http;
pub mod importance;
pub mod model;
pub mod trials;
pub mod views;
pub mod watch;

use super::error::CliError;
use clap::Args;
use rand::Rng;
use std::future::IntoFuture;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use watch::Watcher;

/// `smac dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Run directories, or folders with run directories below them (default: the current folder).
    #[arg(value_name = "RUN_DIR")]
    pub run_dirs: Vec<PathBuf>,
    /// Address to listen on; anything but a loopback address requires the printed token.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Milliseconds between looks at the run directories' files.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub poll_ms: u64,
}

/// A dashboard serving in the background (for `smac optimize --dashboard`).
pub struct Dashboard {
    /// The address to open, with the token if one is required.
    pub url: String,
    watcher: Arc<Watcher>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        // Open pages get the run's final state before the server goes away with the run.
        self.watcher.refresh();
        std::thread::sleep(Duration::from_millis(300));
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn is_loopback(host: &str) -> Result<bool, CliError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip.is_loopback());
    }
    let addrs: Vec<SocketAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| CliError::Usage(format!("--host {host}: cannot resolve it: {e}")))?
        .collect();
    Ok(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()))
}

/// Binds the listener and works out the URL and token.
fn bind(host: &str, port: u16) -> Result<(TcpListener, String, Option<String>), CliError> {
    let listener = TcpListener::bind((host, port))
        .map_err(|e| CliError::Usage(format!("cannot listen on {host}:{port}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| CliError::Usage(format!("listening address: {e}")))?;
    let token = if is_loopback(host)? {
        None
    } else {
        let bytes: [u8; 16] = rand::rng().random();
        Some(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    let shown = if addr.ip().is_unspecified() { "<this-host>".to_string() } else { addr.ip().to_string() };
    let shown = if shown.contains(':') { format!("[{shown}]") } else { shown };
    let mut url = format!("http://{shown}:{}/", addr.port());
    if let Some(t) = &token {
        url.push_str(&format!("?token={t}"));
    }
    Ok((listener, url, token))
}

async fn serve(
    listener: TcpListener,
    watcher: Arc<Watcher>,
    cluster: Option<smac_runner::Client>,
    token: Option<String>,
    poll: Duration,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let w = watcher.clone();
    let poller = tokio::spawn(async move {
        loop {
            let w2 = w.clone();
            if tokio::task::spawn_blocking(move || w2.refresh()).await.is_err() {
                tracing::error!("the run directory watcher failed");
            }
            tokio::time::sleep(poll).await;
        }
    });
    let app = http::router(http::AppState { watcher, cluster, token, importance: Default::default() });
    // Not a graceful shutdown: open event streams never end, and would hold it forever.
    let result = tokio::select! {
        r = axum::serve(listener, app).into_future() => r,
        _ = stop => Ok(()),
    };
    poller.abort();
    result
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the dashboard's runtime: {e}")))
}

/// Runs `smac dashboard` until interrupted.
pub fn run(args: &DashboardArgs) -> Result<(), CliError> {
    let roots = if args.run_dirs.is_empty() { vec![PathBuf::from(".")] } else { args.run_dirs.clone() };
    let (listener, url, token) = bind(&args.host, args.port)?;
    let watcher = Arc::new(Watcher::new(roots));
    watcher.refresh();
    let snap = watcher.snapshot();
    println!("smac dashboard: {} run(s) at {url}", snap.runs.len());
    for n in &snap.notes {
        eprintln!("smac dashboard: {n}");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let rt = runtime()?;
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result =
        rt.block_on(serve(listener, watcher, None, token, Duration::from_millis(args.poll_ms.max(50)), stop));
    // A reload in progress is not waited for longer than this.
    rt.shutdown_timeout(Duration::from_secs(2));
    result.map_err(|e| CliError::Usage(format!("the dashboard server failed: {e}")))
}

/// Starts a dashboard of `run_dirs` and, given its client, of a scheduler's cluster in a
/// background thread (`smac optimize --dashboard`, `smac scheduler --dashboard`); it stops
/// when the returned value is dropped.
pub fn spawn(
    run_dirs: Vec<PathBuf>,
    address: &str,
    cluster: Option<smac_runner::Client>,
) -> Result<Dashboard, CliError> {
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse::<u16>()
                .map_err(|_| CliError::Usage(format!("--dashboard {address}: the port is not a number")))?,
        ),
        None => (address.to_string(), 0),
    };
    let (listener, url, token) = bind(&host, port)?;
    let watcher = Arc::new(Watcher::new(run_dirs));
    let served = watcher.clone();
    let rt = runtime()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("smac-dashboard".into())
        .spawn(move || {
            let stop = async {
                let _ = rx.await;
            };
            if let Err(e) =
                rt.block_on(serve(listener, served, cluster, token, Duration::from_millis(500), stop))
            {
                tracing::error!("the dashboard server failed: {e}");
            }
            rt.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(|e| CliError::Usage(format!("cannot start the dashboard thread: {e}")))?;
    Ok(Dashboard { url, watcher, stop: Some(tx), thread: Some(thread) })
}
