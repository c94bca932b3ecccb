//! The scikit-learn HPO tasks of `benchmarks/hpo_tasks/sklearn_tasks.py`, driven through one
//! persistent Python process per task (JSON lines: one configuration in, one cost out), so a
//! trial does not pay for starting Python and importing scikit-learn.

use smac::{ConfigSpace, Configuration};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// The task script, found from the crate root so the example runs from any directory.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/hpo_tasks/sklearn_tasks.py")
}

/// The Python to use: `path` as given if it exists, else relative to the crate root; an error
/// that says how to create it otherwise.
pub fn find_python(path: &Path) -> Result<PathBuf, String> {
    let candidates = [path.to_path_buf(), Path::new(env!("CARGO_MANIFEST_DIR")).join(path)];
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        format!(
            "the HPO tasks need a Python with scikit-learn and ConfigSpace 1.2.2, and {} does not \
             exist. Create it with `python3 -m venv .venv-bench && .venv-bench/bin/pip install \
             scikit-learn ConfigSpace==1.2.2`, or pass --python PATH.",
            path.display()
        )
    })
}

fn run_script(python: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(python)
        .arg(script())
        .args(args)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} {args:?} failed: {}",
            python.display(),
            script().display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("non-UTF-8 output: {e}"))
}

/// The task names, in the script's order.
pub fn task_names(python: &Path) -> Result<Vec<String>, String> {
    serde_json::from_str(&run_script(python, &["--list"])?).map_err(|e| format!("--list: {e}"))
}

/// A task's space, as the script defines it (read with the ConfigSpace JSON reader).
pub fn task_space(python: &Path, task: &str) -> Result<ConfigSpace, String> {
    ConfigSpace::from_configspace_json(&run_script(python, &["--space", task])?)
        .map_err(|e| format!("the space of {task}: {e}"))
}

/// A running evaluator process for one task.
pub struct Evaluator {
    task: String,
    child: Child,
    io: Mutex<Option<(ChildStdin, BufReader<ChildStdout>)>>,
}

impl Evaluator {
    /// Starts `sklearn_tasks.py --serve task` (the data set is loaded once, here).
    pub fn start(python: &Path, task: &str) -> Result<Self, String> {
        let mut child = Command::new(python)
            .arg(script())
            .args(["--serve", task])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Evaluator { task: task.to_string(), child, io: Mutex::new(Some((stdin, stdout))) })
    }

    /// The cost of one configuration (1 − mean CV accuracy). Calls are serialized: one process
    /// evaluates one configuration at a time.
    pub fn cost(&self, config: &Configuration) -> Result<f64, String> {
        let mut io = self.io.lock().map_err(|_| "the evaluator lock is poisoned".to_string())?;
        let (stdin, stdout) = io.as_mut().ok_or_else(|| format!("{}: the evaluator is closed", self.task))?;
        writeln!(stdin, "{}", config.to_json())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: writing to the evaluator: {e}", self.task))?;
        let mut line = String::new();
        let n =
            stdout.read_line(&mut line).map_err(|e| format!("{}: reading the evaluator: {e}", self.task))?;
        if n == 0 {
            return Err(format!("{}: the evaluator exited", self.task));
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Number(x)) => {
                x.as_f64().ok_or_else(|| format!("{}: bad cost {x}", self.task))
            }
            Ok(other) => Err(format!("{}: {other}", self.task)),
            Err(e) => Err(format!("{}: unreadable answer {line:?}: {e}", self.task)),
        }
    }
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        // Closing stdin ends the serve loop; wait so no process outlives the run.
        if let Ok(mut io) = self.io.lock() {
            io.take();
        }
        let _ = self.child.wait();
    }
}
