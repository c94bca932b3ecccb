//! Runner benchmark: `cargo run --release -p smac-runner --example bench_runner`.
//!
//! Prints one JSON object: `roundtrip_us`, the mean time from `submit_trial` to the result of
//! one trivial trial with 2 local worker processes, and `throughput_per_s`, trivial trials per
//! second with both workers kept busy (`roundtrip_p50_us` is the median round trip, less
//! sensitive to other load on the machine). `efficiency_4w` and `efficiency_16w` are ideal /
//! actual wall time of a whole HPO-facade optimization (4 workers × 40 trials, 16 × 160, each
//! trial sleeping 0.5 s, worker start-up included). This executable is its own worker program.
//!
//! Then, when `SMAC_DASK_PYTHON` names a Python with `distributed` (else those keys are left out
//! and a loud message says why), it starts a real Dask cluster on loopback (`dask scheduler` and
//! 4 × `dask worker --nthreads 1`) and measures on it, in this same run:
//! `dask_throughput_per_s`, trivial trials through `DaskStyleParallelRunner::dask`, one in
//! flight per worker thread as the runner keeps them; `dask_plain_tasks_per_s`, plain Dask tasks
//! of a trivial Python function submitted the same way (a `distributed.Client` on the same
//! cluster keeping 4 in flight, each next task submitted once a result is fetched); 7 rounds of
//! 400 of each alternate and the medians are reported (`dask_ratio` is the median over rounds
//! of ours / the plain round just before it).
//! `dask_efficiency_4w` is ideal / actual wall time of an HPO-facade run of 40 half-second
//! trials on the 4 Dask workers, timed from the attached runner (the cluster exists, as a Dask
//! cluster does before a run) to the end, executor start-up included, median of 3 runs;
//! `dask_efficiency_4w_with_connect` also counts starting the sidecar and connecting, and
//! `dask_plain_efficiency_4w` is plain Dask's own ceiling: 40 plain tasks sleeping 0.5 s, 4 in
//! flight, submitted as above (median of 3, interleaved with ours).

use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use smac_core::{
    ConfigSpace, Hyperparameter, Runner, Scenario, SmboBuilder, TargetFunction, TargetOutput, TrialInfo,
};
use smac_runner::dask::{DaskCluster, DaskOptions};
use smac_runner::{DaskStyleParallelRunner, LocalCluster, ParallelOptions, ShippableTarget};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A trial that costs nothing: what is measured is the runner.
#[derive(Serialize, Deserialize)]
struct Trivial;

impl TargetFunction for Trivial {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        Ok(t.config.get_f64("x").unwrap_or(0.0).into())
    }
}

impl ShippableTarget for Trivial {
    const NAME: &'static str = "bench.trivial";
}

/// A trial that takes half a second, as in the efficiency benchmark.
#[derive(Serialize, Deserialize)]
struct Sleepy;

impl TargetFunction for Sleepy {
    fn evaluate(&self, t: &TrialInfo) -> Result<TargetOutput, String> {
        std::thread::sleep(Duration::from_millis(500));
        let x = t.config.get_f64("x").unwrap_or(0.0);
        Ok(((x - 0.3).powi(2) + t.config.get_i64("n").unwrap_or(0) as f64 / 100.0).into())
    }
}

impl ShippableTarget for Sleepy {
    const NAME: &'static str = "bench.sleepy";
}

/// Ideal / actual wall time of an HPO-facade run of `n_trials` half-second trials on
/// `n_workers` local worker processes, start-up included.
fn efficiency(
    cs: &Arc<ConfigSpace>,
    n_workers: usize,
    n_trials: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let scenario = Scenario::builder(cs.clone())
        .n_trials(n_trials)
        .n_workers(n_workers)
        .deterministic(true)
        .seed(0)
        .build()?;
    let runner = DaskStyleParallelRunner::from_scenario(Sleepy, &scenario)?;
    let mut smbo = SmboBuilder::hpo(scenario).persist(false).build(runner)?;
    smbo.optimize()?;
    assert_eq!(smbo.runhistory().len(), n_trials, "every trial finished");
    drop(smbo);
    let ideal = n_trials as f64 * 0.5 / n_workers as f64;
    Ok(ideal / start.elapsed().as_secs_f64())
}

/// A Dask scheduler and workers on 127.0.0.1, killed (with their process groups) on drop.
struct DaskProcs {
    dir: tempfile::TempDir,
    procs: Vec<Child>,
}

impl DaskProcs {
    fn start(python: &Path, n_workers: usize) -> Result<DaskProcs, Box<dyn std::error::Error>> {
        let mut me = DaskProcs { dir: tempfile::tempdir()?, procs: Vec::new() };
        let file = me.scheduler_file().display().to_string();
        #[rustfmt::skip]
        me.spawn(python, "scheduler", &["scheduler", "--scheduler-file", &file, "--host", "127.0.0.1",
            "--port", "0", "--no-dashboard"])?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while !me.scheduler_file().exists() {
            if Instant::now() > deadline {
                return Err("the Dask scheduler did not write its file within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for k in 0..n_workers {
            let local = me.dir.path().join(format!("w{k}")).display().to_string();
            #[rustfmt::skip]
            me.spawn(python, &format!("w{k}"), &["worker", "--scheduler-file", &file, "--nthreads", "1",
                "--no-nanny", "--host", "127.0.0.1", "--local-directory", &local, "--memory-limit", "0",
                "--no-dashboard"])?;
        }
        Ok(me)
    }

    fn scheduler_file(&self) -> PathBuf {
        self.dir.path().join("scheduler.json")
    }

    fn spawn(&mut self, python: &Path, name: &str, args: &[&str]) -> std::io::Result<()> {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log")))?;
        let mut cmd = Command::new(python);
        cmd.args(["-m", "dask"]).args(args).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        self.procs.push(cmd.spawn()?);
        Ok(())
    }
}

impl Drop for DaskProcs {
    fn drop(&mut self) {
        for child in &mut self.procs {
            // SAFETY: signals a process group this benchmark created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

/// Plain Dask tasks, submitted as the sidecar submits trials: `concurrency` in flight, the next
/// one submitted from the main thread once a done callback has fetched a result. Reads a count
/// per line on stdin and answers with the tasks per second.
const PLAIN_DASK: &str = r#"
import queue, sys, time
from distributed import Client

def trivial(x):
    return x

client = Client(scheduler_file=sys.argv[1], set_as_default=False)
concurrency = int(sys.argv[2])
client.wait_for_workers(concurrency, timeout=60)
seq = 0

def rounds(n):
    global seq
    done = queue.Queue()
    def callback(f):
        f.result(timeout=60)
        f.release()
        done.put(1)
    start, submitted, finished = time.perf_counter(), 0, 0
    while finished < n:
        while submitted < n and submitted - finished < concurrency:
            seq += 1
            fut = client.submit(trivial, seq, key=f"plain-{seq}", pure=False, retries=1, resources=None)
            fut.add_done_callback(callback)
            submitted += 1
        done.get()
        finished += 1
    return n / (time.perf_counter() - start)

def sleepy(x):
    time.sleep(0.5)
    return x

def efficiency(n):
    """Ideal / actual time of n half-second tasks, `concurrency` in flight."""
    global seq
    done = queue.Queue()
    start, submitted, finished = time.perf_counter(), 0, 0
    while finished < n:
        while submitted < n and submitted - finished < concurrency:
            seq += 1
            fut = client.submit(sleepy, seq, key=f"plain-{seq}", pure=False, retries=1, resources=None)
            fut.add_done_callback(lambda f: (f.result(timeout=60), f.release(), done.put(1)))
            submitted += 1
        done.get()
        finished += 1
    return n * 0.5 / concurrency / (time.perf_counter() - start)

print("ready", flush=True)
for line in sys.stdin:
    word, n = line.split()
    print(rounds(int(n)) if word == "tasks" else efficiency(int(n)), flush=True)
client.close()
"#;

/// The Python for the Dask figures, or `None` with a loud message.
fn dask_python() -> Option<PathBuf> {
    let Some(p) = std::env::var_os("SMAC_DASK_PYTHON").map(PathBuf::from) else {
        eprintln!(
            "\n*** bench_runner: SMAC_DASK_PYTHON is not set: the Dask figures (dask_throughput_per_s, \
             dask_plain_tasks_per_s, dask_efficiency_4w) are SKIPPED. Point it at a Python with \
             `pip install distributed`. ***\n"
        );
        return None;
    };
    let ok = Command::new(&p).args(["-c", "import distributed"]).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "\n*** bench_runner: {} cannot import distributed: the Dask figures are SKIPPED ***\n",
            p.display()
        );
        return None;
    }
    Some(p)
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const DASK_WORKERS: usize = 4;
const DASK_TRIALS: usize = 400;
const DASK_ROUNDS: usize = 7;
const DASK_EFFICIENCY_RUNS: usize = 3;

/// The Dask figures as JSON fields.
fn dask_figures(
    python: &Path,
    cs: &Arc<ConfigSpace>,
    configs: &[smac_core::Configuration],
) -> Result<serde_json::Map<String, serde_json::Value>, Box<dyn std::error::Error>> {
    let cluster = DaskProcs::start(python, DASK_WORKERS)?;
    let file = cluster.scheduler_file();
    let dask = || DaskOptions { python: python.to_path_buf(), ..Default::default() };
    let trial = |k: usize| TrialInfo::new(configs[k % configs.len()].clone(), Some(k as u64));

    let mut plain_child = Command::new(python)
        .arg("-c")
        .arg(PLAIN_DASK)
        .arg(&file)
        .arg(DASK_WORKERS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut plain_in = plain_child.stdin.take().ok_or("no stdin")?;
    let mut plain_out = BufReader::new(plain_child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    plain_out.read_line(&mut line)?;
    if line.trim() != "ready" {
        return Err(format!("the plain Dask client did not start: {line:?}").into());
    }
    let mut plain = |what: &str, n: usize| -> Result<f64, Box<dyn std::error::Error>> {
        writeln!(plain_in, "{what} {n}")?;
        let mut line = String::new();
        plain_out.read_line(&mut line)?;
        Ok(line.trim().parse()?)
    };

    let mut runner = DaskStyleParallelRunner::dask(
        Trivial,
        DaskCluster::scheduler_file(&file),
        dask(),
        ParallelOptions::with_patience(Duration::from_secs(60)),
    )?;
    runner.wait_for_workers(DASK_WORKERS, Duration::from_secs(60))?;
    let mut ours_round = |n: usize| -> Result<f64, Box<dyn std::error::Error>> {
        let start = Instant::now();
        let (mut submitted, mut done) = (0, 0);
        while done < n {
            while submitted < n && runner.count_available_workers() > 0 {
                runner.submit_trial(trial(submitted))?;
                submitted += 1;
            }
            runner.wait(None)?;
            done += runner.iter_results().len();
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    };
    // Warm up both: executors, connections, caches.
    plain("tasks", 100)?;
    ours_round(100)?;
    let (mut ours, mut plains) = (Vec::new(), Vec::new());
    for _ in 0..DASK_ROUNDS {
        plains.push(plain("tasks", DASK_TRIALS)?);
        ours.push(ours_round(DASK_TRIALS)?);
    }
    runner.close()?;
    eprintln!("bench_runner: Dask rounds, ours {ours:?} /s, plain {plains:?} /s");

    // Efficiency: 4 workers, 40 half-second trials through the HPO facade (median of runs).
    // Plain Dask's own ceiling on this cluster: 40 tasks sleeping 0.5 s, 4 in flight.
    let (mut runs, mut totals, mut plain_eff) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..DASK_EFFICIENCY_RUNS {
        plain_eff.push(plain("sleep", 40)?);
        let (run, total) = dask_efficiency(python, cs, &file)?;
        runs.push(run);
        totals.push(total);
    }
    eprintln!(
        "bench_runner: Dask efficiency runs {runs:?}, with connect {totals:?}; plain Dask tasks {plain_eff:?}"
    );
    drop(plain_in);
    let _ = plain_child.wait();
    drop(cluster);

    // Each round of ours runs right after one of plain: their ratio cancels slow drifts of
    // the machine's load, which moves single rounds by ±15 % on a shared machine.
    let paired = median(ours.iter().zip(&plains).map(|(o, p)| o / p).collect());
    let (ours, plain) = (median(ours), median(plains));
    let mut out = serde_json::Map::new();
    out.insert("dask_throughput_per_s".into(), ours.round().into());
    out.insert("dask_plain_tasks_per_s".into(), plain.round().into());
    out.insert("dask_ratio".into(), r3(paired).into());
    out.insert("dask_efficiency_4w".into(), r3(median(runs)).into());
    out.insert("dask_efficiency_4w_with_connect".into(), r3(median(totals)).into());
    out.insert("dask_plain_efficiency_4w".into(), r3(median(plain_eff)).into());
    out.insert("dask_workers".into(), DASK_WORKERS.into());
    out.insert("dask_trials_per_round".into(), DASK_TRIALS.into());
    Ok(out)
}

/// Ideal / actual wall time of 40 half-second trials on the 4 Dask workers through the HPO
/// facade: from the attached runner, and from before connecting.
fn dask_efficiency(
    python: &Path,
    cs: &Arc<ConfigSpace>,
    file: &Path,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let n_trials = 40;
    let with_connect = Instant::now();
    let scenario = Scenario::builder(cs.clone())
        .n_trials(n_trials)
        .n_workers(DASK_WORKERS)
        .deterministic(true)
        .seed(0)
        .build()?;
    let options =
        ParallelOptions { patience: Duration::from_secs(60), ..ParallelOptions::from_scenario(&scenario) };
    let dask = DaskOptions { python: python.to_path_buf(), ..Default::default() };
    let mut runner = DaskStyleParallelRunner::dask(Sleepy, DaskCluster::scheduler_file(file), dask, options)?;
    runner.wait_for_workers(DASK_WORKERS, Duration::from_secs(60))?;
    let attached = Instant::now();
    let mut smbo = SmboBuilder::hpo(scenario).persist(false).build(runner)?;
    smbo.optimize()?;
    assert_eq!(smbo.runhistory().len(), n_trials, "every trial finished");
    let (run, total) = (attached.elapsed().as_secs_f64(), with_connect.elapsed().as_secs_f64());
    drop(smbo);
    let ideal = n_trials as f64 * 0.5 / DASK_WORKERS as f64;
    Ok((ideal / run, ideal / total))
}

/// 256 in-process worker threads, 2,000 trials of 50 ms: the busy time of all workers from the
/// first to the last submission, over their capacity in that window (how well the submit /
/// collect loop keeps many workers fed).
fn busy_fraction_256_threads(
    configs: &[smac_core::Configuration],
) -> Result<f64, Box<dyn std::error::Error>> {
    const WORKERS: usize = 256;
    const TRIALS: usize = 2000;
    let sleepy = |t: &TrialInfo| {
        std::thread::sleep(Duration::from_millis(50));
        Ok::<_, String>(t.config.get_f64("x").unwrap_or(0.0))
    };
    let mut r = DaskStyleParallelRunner::threads(sleepy, WORKERS, ParallelOptions::default())?;
    let (mut submitted, mut done) = (0usize, Vec::new());
    let start = smac_core::trial::unix_now();
    let mut last_submit = start;
    while done.len() < TRIALS {
        while submitted < TRIALS && r.count_available_workers() > 0 {
            r.submit_trial(TrialInfo::new(
                configs[submitted % configs.len()].clone(),
                Some(submitted as u64),
            ))?;
            submitted += 1;
            last_submit = smac_core::trial::unix_now();
        }
        r.wait(Some(Duration::from_secs(5)))?;
        done.extend(r.iter_results());
    }
    let window = last_submit - start;
    let busy: f64 = done
        .iter()
        .map(|(_, v): &(TrialInfo, smac_core::TrialValue)| {
            (v.endtime.min(last_submit) - v.starttime.max(start)).max(0.0)
        })
        .sum();
    Ok(busy / (WORKERS as f64 * window))
}

const ROUNDTRIPS: usize = 2_000;
const THROUGHPUT_TRIALS: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smac_runner::worker::Worker::new().serve::<Trivial>().serve::<Sleepy>().run_if_worker();

    let mut cs = ConfigSpace::new("bench");
    cs.add(Hyperparameter::float("x", 0.0, 1.0))?;
    cs.add(Hyperparameter::integer("n", 1, 100))?;
    cs.add(Hyperparameter::categorical("kind", ["a", "b", "c"]))?;
    let cs = Arc::new(cs);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let configs = cs.sample(1000, &mut rng)?;
    let trial = |k: usize| TrialInfo::new(configs[k % configs.len()].clone(), Some(k as u64));

    let cluster = LocalCluster::processes(2)?;
    let mut runner = DaskStyleParallelRunner::attach(
        Trivial,
        cluster.client(),
        ParallelOptions::with_patience(Duration::from_secs(5)),
    )?;

    // Warm up: connections, runner and space transfers, allocator, CPU frequency.
    for k in 0..500 {
        runner.submit_trial(trial(k))?;
        runner.wait(None)?;
        runner.iter_results();
    }

    let mut each = Vec::with_capacity(ROUNDTRIPS);
    let start = Instant::now();
    for k in 0..ROUNDTRIPS {
        let t = Instant::now();
        runner.submit_trial(trial(k))?;
        let mut got = 0;
        while got == 0 {
            runner.wait(None)?;
            got = runner.iter_results().len();
        }
        each.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let roundtrip_us = start.elapsed().as_secs_f64() * 1e6 / ROUNDTRIPS as f64;
    each.sort_by(f64::total_cmp);
    let roundtrip_p50_us = each[ROUNDTRIPS / 2];

    let start = Instant::now();
    let (mut submitted, mut done) = (0, 0);
    while done < THROUGHPUT_TRIALS {
        while submitted < THROUGHPUT_TRIALS && runner.count_available_workers() > 0 {
            runner.submit_trial(trial(submitted))?;
            submitted += 1;
        }
        runner.wait(None)?;
        done += runner.iter_results().len();
    }
    let throughput_per_s = THROUGHPUT_TRIALS as f64 / start.elapsed().as_secs_f64();

    runner.close()?;
    drop(cluster);
    let efficiency_4w = efficiency(&cs, 4, 40)?;
    let efficiency_16w = efficiency(&cs, 16, 160)?;
    let busy_256_threads = busy_fraction_256_threads(&configs)?;
    let dask = match dask_python() {
        Some(python) => dask_figures(&python, &cs, &configs)?,
        None => serde_json::Map::new(),
    };
    let mut out = serde_json::json!({
            "roundtrip_us": (roundtrip_us * 10.0).round() / 10.0,
            "roundtrip_p50_us": (roundtrip_p50_us * 10.0).round() / 10.0,
            "throughput_per_s": throughput_per_s.round(),
            "efficiency_4w": (efficiency_4w * 1000.0).round() / 1000.0,
            "efficiency_16w": (efficiency_16w * 1000.0).round() / 1000.0,
            "busy_256_threads": (busy_256_threads * 1000.0).round() / 1000.0,
            "workers": 2,
            "roundtrip_trials": ROUNDTRIPS,
            "throughput_trials": THROUGHPUT_TRIALS,
    });
    out.as_object_mut().expect("an object").extend(dask);
    println!("{out}");
    Ok(())
}
