//! The optimizer's `tracing` logs on stderr, at the level of the facade's `logging_level`
//! (Python's numeric levels, as SMAC3 takes them).

use pyo3::prelude::*;
use std::sync::OnceLock;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Registry;

static LEVEL: OnceLock<reload::Handle<LevelFilter, Registry>> = OnceLock::new();

/// Sets the level of the optimizer's logs: Python's 10 (DEBUG), 20 (INFO), 30 (WARNING), 40
/// (ERROR), 50 (CRITICAL); above 50 silences them.
#[pyfunction]
pub fn set_logging_level(level: i64) {
    let filter = match level {
        i64::MIN..=10 => LevelFilter::DEBUG,
        11..=20 => LevelFilter::INFO,
        21..=30 => LevelFilter::WARN,
        31..=50 => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    };
    let handle = LEVEL.get_or_init(|| {
        let (layer, handle) = reload::Layer::new(filter);
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false);
        // Another subscriber may be installed already (a host process using tracing): keep it.
        let _ = tracing_subscriber::registry().with(layer).with(fmt).try_init();
        handle
    });
    if let Err(e) = handle.modify(|f| *f = filter) {
        tracing::warn!("could not change the log level: {e}");
    }
}
