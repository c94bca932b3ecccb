//! Log output: `tracing` events on stderr, above the progress bar.
//!
//! Default level `warn`; `-v` info (the core's progress and incumbent changes), `-vv` debug,
//! `-vvv` trace; `--quiet` errors only. `RUST_LOG` overrides all of these.

use super::output::StderrWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber for a verbosity count.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // A second call (tests calling into the CLI twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrWriter)
        .with_target(verbose >= 2)
        .try_init();
}
