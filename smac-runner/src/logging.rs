//! Logging of the command-line programs (`smac-scheduler`, `smac-worker`).

/// Logs to stderr at `info` (or as `RUST_LOG` says), with colours only on a terminal.
pub fn init_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
