//! A real Dask cluster on loopback for the Dask tests: `dask scheduler --scheduler-file` and
//! `dask worker --nthreads 1` processes in their own process groups, killed on drop, a watchdog
//! that kills them and fails the test binary when a test outlives its budget, and the choice of
//! the Python with `distributed`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Python to use, or `None` (after a loud message) when there is none.
pub fn python(test: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Some(p) = std::env::var_os("SMAC_DASK_PYTHON") {
        let mut p = PathBuf::from(p);
        if p.is_relative() && !p.exists() {
            p = root.join(p);
        }
        match distributed_version(&p) {
            Ok(v) => eprintln!("{test}: using {} (distributed {v})", p.display()),
            Err(e) => panic!("SMAC_DASK_PYTHON={} is set but cannot run the Dask tests: {e}", p.display()),
        }
        return Some(p);
    }
    let venv = root.join(".venv-dask/bin/python");
    if venv.exists() {
        match distributed_version(&venv) {
            Ok(v) => eprintln!("{test}: using {} (distributed {v})", venv.display()),
            Err(e) => panic!("{} exists but is unusable: {e}; delete it or rerun .ci/run", venv.display()),
        }
        return Some(venv);
    }
    eprintln!(
        "\n*** SKIPPED {test}: no Python with `distributed` for the Dask tests. Set SMAC_DASK_PYTHON to a \
         Python that has `pip install \"distributed>=2024\"`, or run .ci/run (it creates .venv-dask). ***\n"
    );
    None
}

fn distributed_version(python: &Path) -> Result<String, String> {
    let out = Command::new(python)
        .args(["-c", "import distributed; print(distributed.__version__)"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A Dask scheduler and workers on 127.0.0.1; every process (group) is killed on drop.
pub struct Cluster {
    /// Logs, worker directories; tests put their run directories here too.
    pub dir: tempfile::TempDir,
    /// The file the scheduler writes its address to.
    pub scheduler_file: PathBuf,
    procs: Vec<(String, Child)>,
    groups: Arc<Mutex<Vec<i32>>>,
}

impl Cluster {
    pub fn start(python: &Path, n_workers: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let scheduler_file = dir.path().join("scheduler.json");
        let mut cluster = Cluster { scheduler_file, procs: Vec::new(), groups: Default::default(), dir };
        let file = cluster.scheduler_file.display().to_string();
        #[rustfmt::skip]
        let args = ["scheduler", "--scheduler-file", &file, "--host", "127.0.0.1", "--port", "0", "--no-dashboard"];
        cluster.spawn(python, "scheduler", &args);
        let deadline = Instant::now() + Duration::from_secs(30);
        while cluster.address().is_none() {
            let up = Instant::now() < deadline && cluster.alive("scheduler");
            assert!(up, "the Dask scheduler did not start:\n{}", cluster.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
        for k in 0..n_workers {
            cluster.add_worker(python, &format!("w{k}"));
        }
        cluster
    }

    /// Starts `dask worker --nthreads 1` named `name`.
    pub fn add_worker(&mut self, python: &Path, name: &str) {
        let file = self.scheduler_file.display().to_string();
        let local = self.dir.path().join(name).display().to_string();
        #[rustfmt::skip]
        let args = ["worker", "--scheduler-file", &file, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
            "--name", name, "--local-directory", &local, "--memory-limit", "0", "--no-dashboard"];
        self.spawn(python, name, &args);
    }

    fn spawn(&mut self, python: &Path, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        let mut cmd = Command::new(python);
        cmd.args(["-m", "dask"]).args(args).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        // Own process group: killing it takes the worker's trial processes along.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start dask {name}: {e}"));
        self.groups.lock().unwrap().push(child.id() as i32);
        self.procs.push((name.to_string(), child));
    }

    /// The scheduler's address, once its file is written.
    pub fn address(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.scheduler_file).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["address"].as_str().map(str::to_string)
    }

    pub fn pid(&self, name: &str) -> u32 {
        self.procs.iter().find(|(n, _)| n == name).unwrap().1.id()
    }

    pub fn alive(&mut self, name: &str) -> bool {
        let child = &mut self.procs.iter_mut().find(|(n, _)| n == name).unwrap().1;
        matches!(child.try_wait(), Ok(None))
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.procs {
            let text =
                std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out += &format!(
                "--- {name}.log (last lines)\n{}\n",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for (_, child) in &mut self.procs {
            kill_group(child.id() as i32);
            let _ = child.wait();
        }
    }
}

pub fn kill_group(pgid: i32) {
    // SAFETY: signals a process group this test created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Kills the cluster and fails the whole test binary if a test outlives its budget (a hang
/// must not stall CI, and must not leave Dask processes behind).
pub struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    pub fn start(test: &'static str, cluster: &Cluster, limit: Duration) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let (flag, groups) = (done.clone(), cluster.groups.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("{test} exceeded its {limit:?} budget; killing its Dask cluster and failing");
            for g in groups.lock().unwrap().iter() {
                kill_group(*g);
            }
            let _ = std::io::stderr().flush();
            std::process::exit(101);
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
