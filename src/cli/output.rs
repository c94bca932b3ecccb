//! Terminal output shared by the commands: stderr lines that do not tear the progress bar,
//! and SMAC3's status names.

use indicatif::ProgressBar;
use std::io::Write;
use std::sync::Mutex;

/// The live progress bar, if one is drawn (stderr lines are printed above it).
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Registers (or removes) the live progress bar.
pub fn set_bar(bar: Option<ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

fn with_bar_suspended(f: impl FnOnce()) {
    let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// Prints a line on stderr (above the progress bar).
pub fn notice(msg: &str) {
    with_bar_suspended(|| {
        let _ = writeln!(std::io::stderr(), "smac: {msg}");
    });
}

/// A `tracing` writer to stderr that keeps the progress bar intact.
#[derive(Clone, Copy, Debug, Default)]
pub struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut result = Ok(buf.len());
        with_bar_suspended(|| result = std::io::stderr().write_all(buf).map(|_| buf.len()));
        result
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;
    fn make_writer(&'a self) -> Self::Writer {
        StderrWriter
    }
}

/// A cost for humans: up to 6 significant digits, `inf` for crash costs.
pub fn fmt_cost(c: f64) -> String {
    if !c.is_finite() || c.abs() >= f64::MAX / 2.0 {
        return if c < 0.0 { "-inf".into() } else { "inf".into() };
    }
    let s = format!("{c:.6}");
    if c != 0.0 && (c.abs() >= 1e6 || c.abs() < 1e-4) {
        format!("{c:.4e}")
    } else {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Costs for humans: one number, or a bracketed list for several objectives.
pub fn fmt_costs(c: &[f64]) -> String {
    match c {
        [one] => fmt_cost(*one),
        many => format!("[{}]", many.iter().map(|x| fmt_cost(*x)).collect::<Vec<_>>().join(", ")),
    }
}

/// Costs as JSON: a number (null if not finite) for one objective, a list for several.
pub fn json_costs(c: &[f64]) -> serde_json::Value {
    let one = |x: f64| {
        if x.is_finite() && x.abs() < f64::MAX / 2.0 {
            serde_json::json!(x)
        } else {
            serde_json::Value::Null
        }
    };
    match c {
        [x] => one(*x),
        many => serde_json::Value::Array(many.iter().map(|x| one(*x)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_readable() {
        assert_eq!(fmt_cost(0.5), "0.5");
        assert_eq!(fmt_cost(3.0), "3");
        assert_eq!(fmt_cost(f64::INFINITY), "inf");
        assert_eq!(fmt_cost(f64::MAX), "inf");
        assert_eq!(fmt_cost(1.5e-7), "1.5000e-7");
        assert_eq!(fmt_costs(&[1.0, 2.5]), "[1, 2.5]");
        assert_eq!(json_costs(&[f64::INFINITY]), serde_json::Value::Null);
    }
}
