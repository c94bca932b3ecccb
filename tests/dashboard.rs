//! `smac dashboard` driven in headless Chromium (chromedriver + fantoccini): while a run on 2
//! worker processes is in progress its trial count rises on the page without a reload, the
//! trials table filters by status, a click shows a crashed trial's error text and the Gantt
//! chart has one row per worker with the running trials drawn; the Cluster view shows each
//! worker's running trial, GPU devices and resources, growing without a reload, and for `smac
//! scheduler --dashboard` workers joining and leaving; SMAC3's run directories open and a broken run shows its error;
//! the importance view names its method (fANOVA) and says when a run has too few trials.
//! Screenshots of every view go to `target/tmp/dashboard-screenshots/` (docs/dashboard.md).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`utils/run-tests.sh` installs them): without
//! them the test prints SKIP, and fails under CI=true.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value as Json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SMAC: &str = env!("CARGO_BIN_EXE_smac");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n))).find(|p| p.is_file())
}

/// Chromium and chromedriver, or a loud skip (a failure under CI=true).
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program("SMAC_CHROMIUM", &["chromium", "chromium-browser"]);
    let driver = find_program("SMAC_CHROMEDRIVER", &["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let msg = format!(
                "SKIP tests/dashboard.rs: needs chromium ({c:?}) and chromedriver ({d:?}); `bash utils/run-tests.sh` \
                 installs Debian's chromium and chromium-driver"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg} (CI=true: failing instead of skipping)");
            }
            eprintln!("\n!!!!!!!! {msg}\n");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it gives a value or the deadline passes.
async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts chromedriver and a headless Chromium session with a fresh profile.
async fn browser(chromium: &Path, driver: &Path, profile: &Path) -> (Proc, Client) {
    let port = free_port();
    let proc = Proc(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_for("chromedriver to listen", 30, || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ];
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = json!({"goog:chromeOptions": {"binary": chromium, "args": args}});
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session in headless Chromium");
    (proc, client)
}

async fn js(c: &Client, script: &str) -> Json {
    c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {script}: {e}"))
}

/// The text of the first element matching `css`, if any.
async fn text(c: &Client, css: &str) -> Option<String> {
    let v =
        js(c, &format!("const e = document.querySelector({css:?}); return e ? e.textContent : null;")).await;
    v.as_str().map(|s| s.trim().to_string())
}

async fn count(c: &Client, css: &str) -> usize {
    js(c, &format!("return document.querySelectorAll({css:?}).length;")).await.as_u64().unwrap() as usize
}

async fn view(c: &Client, name: &str) {
    c.find(Locator::Css(&format!("#nav-{name}"))).await.unwrap().click().await.unwrap();
    wait_for("the view to show", 10, || async {
        (js(c, &format!("return !document.querySelector('#view-{name}').hidden;")).await == json!(true))
            .then_some(())
    })
    .await;
}

async fn pick_run(c: &Client, path_part: &str) {
    let script = format!(
        "const s = document.querySelector('#run-select');
         const o = [...s.options].find(o => o.textContent.includes({path_part:?}));
         if (!o) return false;
         s.value = o.value; s.dispatchEvent(new Event('change')); return true;"
    );
    wait_for("the run in the run menu", 10, || async { (js(c, &script).await == json!(true)).then_some(()) })
        .await;
}

/// Waits for the view's charts to be drawn, then writes a screenshot.
async fn screenshot(c: &Client, name: &str, ready_css: &str) {
    wait_for(&format!("{ready_css} for the {name} screenshot"), 15, || async {
        (count(c, ready_css).await > 0).then_some(())
    })
    .await;
    let dir = std::env::var_os("SMAC_DASHBOARD_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Streams a child's stderr lines through a channel.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    lines(child.stderr.take().unwrap())
}

/// Streams the lines of a pipe through a channel. The pipe is drained to its end even once
/// nobody listens, so the child never writes into a closed pipe.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

fn url_in(rx: &mpsc::Receiver<String>, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(at) = line.find(marker) {
                return line[at + marker.len()..].split_whitespace().next().unwrap().to_string();
            }
            seen.push(line);
        }
    }
    panic!("no '{marker}' line; output so far:\n{}", seen.join("\n"));
}

/// A target that takes a ticket (1, 2, ...) and waits until `release` holds at least its
/// number; ticket 1 crashes with a known message.
fn live_run_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = format!(
        r#"#!/bin/sh
k=1; while ! mkdir "{d}/tickets/$k" 2>/dev/null; do k=$((k+1)); done
while [ "$(cat "{d}/release" 2>/dev/null || echo 0)" -lt "$k" ]; do sleep 0.02; done
if [ "$k" = 1 ]; then echo "deliberate crash of ticket 1 for the dashboard test" >&2; exit 3; fi
x=0; while [ $# -gt 0 ]; do case "$1" in --x) x=$2; shift ;; esac; shift; done
awk -v x="$x" 'BEGIN {{ printf "cost=%.6f\n", (x - 1)^2 }}'
"#
    );
    std::fs::create_dir(dir.path().join("tickets")).unwrap();
    let target = dir.path().join("target.sh");
    std::fs::write(&target, script).unwrap();
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let scenario = r#"name = "live"
output_directory = "out"
facade = "random"
n_trials = 8
n_workers = 2
seed = 1
deterministic = true
trial_walltime_limit = 120

[target]
command = ["./target.sh"]

[space.x]
type = "float"
lower = -5
upper = 5

[space.kind]
type = "categorical"
choices = ["a", "b"]

[space.z]
type = "float"
lower = 0.01
upper = 10
log = true
active_if = "kind == b"

[cluster]
single_node_with_gpus = true
gpus = ["0", "1"]
worker_resources = { GPU = 1 }
"#;
    std::fs::write(dir.path().join("scenario.toml"), scenario).unwrap();
    dir
}

/// Starts `cmd` (a `smac` command with `--dashboard`) and returns it with the address it prints
/// on stderr (`smac: dashboard at URL`).
fn with_dashboard(mut cmd: Command) -> (Proc, String) {
    let mut child = cmd.env_remove("RUST_LOG").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = stderr_lines(&mut child);
    let proc = Proc(child);
    let url = url_in(&stderr, "dashboard at ");
    (proc, url)
}

fn release(dir: &Path, n: usize) {
    let tmp = dir.join("release.tmp");
    std::fs::write(&tmp, format!("{n}\n")).unwrap();
    std::fs::rename(tmp, dir.join("release")).unwrap();
}

async fn finished_on_page(c: &Client) -> Option<usize> {
    text(c, "#runs .finished").await.and_then(|t| t.parse().ok())
}

async fn wait_finished(c: &Client, n: usize) {
    wait_for(&format!("{n} finished trials on the page"), 60, || async {
        (finished_on_page(c).await == Some(n)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let Some((chromium, driver)) = browser_programs() else { return };
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(&chromium, &driver, profile.path()).await;

    // ---- a live run on 2 worker processes -------------------------------------------------
    let dir = live_run_dir();
    let mut optimize = Command::new(SMAC);
    optimize
        .args(["optimize", "--scenario", "scenario.toml", "--json", "--dashboard"])
        .current_dir(dir.path());
    let (mut run, url) = with_dashboard(optimize);
    c.goto(&url).await.unwrap();
    // Nothing finished yet: no run history, the page says it waits.
    wait_for("the page's note that no run exists yet", 30, || async {
        text(&c, "#notes").await.filter(|t| t.contains("no run directory here yet"))
    })
    .await;
    js(&c, "window.__smacMarker = 'same page'; return null;").await;

    release(dir.path(), 3);
    wait_finished(&c, 3).await;
    release(dir.path(), 5);
    wait_finished(&c, 5).await;
    assert_eq!(js(&c, "return window.__smacMarker;").await, json!("same page"), "the page was reloaded");
    assert!(text(&c, "#runs tbody").await.unwrap().contains("1 crashed, 4 success"));

    // Workers: one Gantt row per worker process, while the run is still in progress.
    view(&c, "workers").await;
    let rows = wait_for("the Gantt chart's worker rows", 15, || async {
        let n = count(&c, "#gantt-workers tbody tr[data-worker]").await;
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(rows, 2, "one row per worker: {:?}", text(&c, "#gantt-workers tbody").await);
    assert!(count(&c, "#gantt canvas").await > 0, "the Gantt chart is drawn");
    // Tickets 6 and 7 wait for their release: two trials run now, drawn as growing bars.
    wait_for("two running trials on the Gantt chart", 15, || async {
        text(&c, "#gantt-info").await.filter(|t| t.contains("2 running now"))
    })
    .await;

    // Cluster: the scheduler's two workers, each with its running trial, the GPU devices the
    // run gave it and the resources it offers; the running time grows without a reload.
    view(&c, "cluster").await;
    wait_for("both workers running a trial in the cluster view", 15, || async {
        let t = text(&c, "#cluster-workers tbody").await?;
        let rows = count(&c, "#cluster-workers tbody tr[data-worker]").await;
        (rows == 2 && t.matches("running for").count() == 2).then_some(())
    })
    .await;
    let cells = |k: usize| {
        format!("return [...document.querySelectorAll('#cluster-workers tbody tr')].map(r => r.cells[{k}].textContent).sort();")
    };
    assert_eq!(js(&c, &cells(4)).await, json!(["0,1", "1,0"]), "each running trial's CUDA_VISIBLE_DEVICES");
    assert_eq!(js(&c, &cells(5)).await, json!(["GPU=1", "GPU=1"]), "the resources each worker offers");
    let before = js(&c, &cells(2)).await;
    wait_for("the running trials' time to grow on the page", 15, || async {
        let now = js(&c, &cells(2)).await;
        (now != before).then_some(())
    })
    .await;
    assert_eq!(js(&c, "return window.__smacMarker;").await, json!("same page"), "the page was reloaded");
    let joined = text(&c, "#cluster-events tbody").await.unwrap();
    assert_eq!(joined.matches("joined").count(), 2, "{joined}");
    screenshot(&c, "cluster", "#cluster-workers tbody tr").await;

    // Trials: the status filter and a crashed trial's error text.
    view(&c, "trials").await;
    wait_for("5 trials in the table", 15, || async {
        text(&c, "#t-count").await.filter(|t| t.starts_with("5 of 5"))
    })
    .await;
    c.find(Locator::Css("#f-status")).await.unwrap().select_by_value("CRASHED").await.unwrap();
    wait_for("the table filtered to crashed trials", 15, || async {
        text(&c, "#t-count").await.filter(|t| t.starts_with("1 of 5"))
    })
    .await;
    assert_eq!(count(&c, "#trials tbody tr").await, 1);
    assert_eq!(text(&c, "#trials tbody td.status").await.as_deref(), Some("CRASHED"));
    c.find(Locator::Css("#trials tbody tr")).await.unwrap().click().await.unwrap();
    let err =
        wait_for("the crashed trial's error text", 15, || async { text(&c, "#trial-error").await }).await;
    assert!(err.contains("deliberate crash of ticket 1 for the dashboard test"), "{err}");
    screenshot(&c, "trials", "#trial-error").await;

    // The rest of the run finishes (its dashboard stops with it).
    release(dir.path(), 1000);
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = run.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "smac optimize did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "smac optimize failed: {status:?}");
    // The run directory holds only what the run wrote (the dashboard never writes).
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("out/live/1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["configspace.json", "intensifier.json", "optimization.json", "runhistory.json", "scenario.json"]
    );

    // ---- SMAC3's run directories and a broken one, with `smac dashboard` -------------------
    let broken = tempfile::tempdir().unwrap();
    let bad = broken.path().join("broken_run/0");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("scenario.json"), "{ not json").unwrap();
    std::fs::write(bad.join("configspace.json"), "{}").unwrap();
    std::fs::write(bad.join("runhistory.json"), "{}").unwrap();
    let mut child = Command::new(SMAC)
        .arg("dashboard")
        .arg(Path::new(FIXTURES).join("smac3_run"))
        .arg(broken.path())
        .arg(dir.path().join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines(child.stdout.take().unwrap());
    let _server = Proc(child);
    let url = url_in(&rx, " at ");
    c.goto(&url).await.unwrap();
    wait_for("SMAC3's runs on the page", 30, || async {
        let t = text(&c, "#runs tbody").await?;
        (t.contains("branin_smac3") && t.contains("mo_smac3") && t.contains("mf_smac3")).then_some(())
    })
    .await;
    let err = text(&c, "#runs tr.run-error").await.expect("the broken run's error");
    assert!(err.contains("broken_run") && err.contains("scenario.json"), "{err}");
    let live = text(&c, "#runs tbody").await.unwrap();
    assert!(live.contains("live (seed 1)") && live.contains("8 / 8"), "the other runs still show: {live}");
    screenshot(&c, "runs", "#runs tr.run-error").await;

    pick_run(&c, "branin_instances_smac3").await;
    view(&c, "trials").await;
    wait_for("the SMAC3 run's trials", 15, || async {
        text(&c, "#t-count").await.filter(|t| t == "12 of 12 trials")
    })
    .await;

    view(&c, "convergence").await;
    wait_for("one run's convergence", 15, || async {
        text(&c, "#conv-info").await.filter(|t| t == "1 run(s)")
    })
    .await;
    c.find(Locator::Css("#conv-all")).await.unwrap().click().await.unwrap();
    wait_for("all runs' convergence", 15, || async {
        text(&c, "#conv-info").await.filter(|t| t == "5 run(s)")
    })
    .await;
    screenshot(&c, "convergence", "#conv-trials canvas").await;
    pick_run(&c, "live/1").await;
    view(&c, "parameters").await;
    screenshot(&c, "parameters", "#scatter-panels canvas").await;
    view(&c, "workers").await;
    screenshot(&c, "workers", "#gantt-workers tbody tr").await;
    view(&c, "importance").await;
    wait_for("too few trials for parameter importance", 30, || async {
        text(&c, "#imp-message").await.filter(|t| t.starts_with("not enough trials"))
    })
    .await;
    pick_run(&c, "branin_smac3").await;
    let method = wait_for("the parameter importance of SMAC3's branin run", 30, || async {
        text(&c, "#imp-method").await.filter(|t| t.contains("fitted to 20 successful trials"))
    })
    .await;
    assert!(
        method.contains("fANOVA") && method.contains("Hutter") && method.contains("10 trees"),
        "{method}"
    );
    assert_eq!(count(&c, "#imp-table tbody tr").await, 2, "one bar per hyperparameter");
    screenshot(&c, "importance", "#imp-table tbody tr").await;
    pick_run(&c, "mo_smac3").await;
    view(&c, "pareto").await;
    wait_for("the Pareto front", 15, || async {
        text(&c, "#pareto-info").await.filter(|t| t.contains("Pareto front"))
    })
    .await;
    screenshot(&c, "pareto", "#pareto-chart canvas").await;
    pick_run(&c, "mf_smac3").await;
    view(&c, "budgets").await;
    // SMAC3's Hyperband over budgets 1..9 (eta 3): brackets of 3, 2 and 1 stages.
    wait_for("the Hyperband brackets", 15, || async {
        (count(&c, "#bracket-table tbody tr").await == 6).then_some(())
    })
    .await;
    let title = text(&c, "#bracket-title").await.unwrap();
    assert!(title.starts_with("Hyperband brackets (eta 3, budgets 1 to 9)"), "{title}");
    screenshot(&c, "budgets", "#bracket-table tbody tr").await;

    // ---- `smac scheduler --dashboard`: workers joining and leaving -------------------------
    let sdir = tempfile::tempdir().unwrap();
    let file = sdir.path().join("scheduler.json");
    let mut scheduler = Command::new(SMAC);
    scheduler.args(["scheduler", "--dashboard", "--scheduler-file"]).arg(&file);
    let (scheduler, url) = with_dashboard(scheduler);
    let worker = |gpu: &str| {
        let child = Command::new(SMAC)
            .args(["worker", "--resources", gpu, "--scheduler-file"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Proc(child)
    };
    let mut first = worker("GPU=1");
    let _second = worker("GPU=2");
    c.goto(&url).await.unwrap();
    view(&c, "cluster").await;
    wait_for("two workers in the scheduler's cluster view", 30, || async {
        (count(&c, "#cluster-workers tbody tr[data-worker]").await == 2).then_some(())
    })
    .await;
    assert_eq!(js(&c, &cells(5)).await, json!(["GPU=1", "GPU=2"]));
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let left = wait_for("the killed worker's leave in the events table", 30, || async {
        let t = text(&c, "#cluster-events tbody").await?;
        (count(&c, "#cluster-workers tbody tr[data-worker]").await == 1 && t.contains("left")).then_some(t)
    })
    .await;
    assert!(left.contains(&format!(":{}", first.0.id())), "the leave names the killed worker: {left}");
    drop(scheduler);
    c.close().await.unwrap();
}

/// Status line and body of a plain HTTP/1.0 GET on loopback.
fn get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

#[test]
fn a_dashboard_bound_beyond_loopback_requires_its_token() {
    let mut child = Command::new(SMAC)
        .args(["dashboard", "--host", "0.0.0.0"])
        .arg(Path::new(FIXTURES).join("smac3_run"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines(child.stdout.take().unwrap());
    let _server = Proc(child);
    let url = url_in(&rx, " at ");
    let (addr, token) = url.split_once("/?token=").expect("a token in the printed URL");
    assert_eq!(token.len(), 32, "{url}");
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let (status, _) = get(port, "/api/runs");
    assert!(status.contains(" 401 "), "{status}");
    let (status, _) = get(port, "/api/runs?token=wrong");
    assert!(status.contains(" 401 "), "{status}");
    let (status, body) = get(port, &format!("/api/runs?token={token}"));
    assert!(status.contains(" 200 ") && body.contains("branin_smac3"), "{status}");
    // The plotting library is not run data and loads without the token.
    let (status, body) = get(port, "/assets/uPlot.iife.min.js");
    assert!(status.contains(" 200 ") && body.contains("uPlot"), "{status}");
}
