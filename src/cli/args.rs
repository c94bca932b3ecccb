//! Command-line arguments of `smac` (clap).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Sequential Model-based Algorithm Configuration: tune any program's parameters.
#[derive(Debug, Parser)]
#[command(name = "smac", version, about, long_about = None, propagate_version = true, args_override_self = true)]
pub struct Cli {
    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bar and no summary; errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Optimize a target command over a search space (resumes a stopped run of the same scenario).
    Optimize(Box<OptimizeArgs>),
    /// Summarize a run directory (ours or SMAC3's): incumbent, best configurations, trial status.
    Show(ShowArgs),
    /// Plot a run directory: convergence (best cost vs trials and time) or per-hyperparameter scatter.
    Plot(PlotArgs),
    /// Start a scheduler that workers and `optimize --scheduler-file` runs join.
    Scheduler(SchedulerCommandArgs),
    /// Join a scheduler as a worker that runs command targets.
    Worker(WorkerArgs),
    /// Serve a live web page of run directories (ours and SMAC3's).
    Dashboard(super::dashboard::DashboardArgs),
}

/// The optimizer presets (SMAC3's facades).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FacadeKind {
    /// Random forest + log-EI, Sobol design: expensive, mixed or conditional spaces.
    Hpo,
    /// Gaussian process + EI: low-dimensional continuous problems.
    Bb,
    /// Random search (the default configuration first).
    Random,
    /// Algorithm configuration: random forest with instance features, racing over instances.
    Ac,
    /// Multi-fidelity: the HPO model with Hyperband over min_budget..max_budget.
    Mf,
    /// Hyperband: random configurations raced over min_budget..max_budget.
    Hb,
}

impl std::fmt::Display for FacadeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.to_possible_value().expect("no skipped variants");
        f.write_str(v.get_name())
    }
}

/// `smac optimize`: every flag overrides the scenario file's value of the same name.
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Scenario file (TOML): search space, target command, budget. Flags override its values.
    #[arg(short, long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Search space as a ConfigSpace JSON file (instead of `[space.*]` in the scenario file).
    #[arg(long, value_name = "FILE")]
    pub configspace: Option<PathBuf>,
    /// Optimizer preset.
    #[arg(long, value_enum)]
    pub facade: Option<FacadeKind>,
    /// Number of trials to run in total (a resumed run counts the earlier ones).
    #[arg(short = 'n', long)]
    pub n_trials: Option<usize>,
    /// Wall-clock seconds the whole optimization may take.
    #[arg(long, value_name = "SECONDS")]
    pub walltime_limit: Option<f64>,
    /// CPU seconds the optimizer process may use.
    #[arg(long, value_name = "SECONDS")]
    pub cputime_limit: Option<f64>,
    /// Trials evaluated in parallel (local worker processes).
    #[arg(short = 'j', long)]
    pub n_workers: Option<usize>,
    /// Kill a trial after this many seconds (status TIMEOUT).
    #[arg(long, value_name = "SECONDS")]
    pub trial_walltime_limit: Option<f64>,
    /// Limit a trial's memory to this many megabytes (status MEMORYOUT).
    #[arg(long, value_name = "MB")]
    pub trial_memory_limit: Option<u64>,
    /// Base directory of run directories (`<output-directory>/<name>/<seed>/`).
    #[arg(short, long, value_name = "DIR")]
    pub output_directory: Option<PathBuf>,
    /// Name of the run (default: a hash of the scenario).
    #[arg(long)]
    pub name: Option<String>,
    /// Seed of the optimizer's random decisions.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The target gives the same cost for the same configuration whatever the seed.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub deterministic: Option<bool>,
    /// Smallest budget of multi-fidelity runs (passed to the target as `--budget B`).
    #[arg(long)]
    pub min_budget: Option<f64>,
    /// Largest budget of multi-fidelity runs.
    #[arg(long)]
    pub max_budget: Option<f64>,
    /// Problem instances, comma-separated (passed to the target as `--instance I`).
    #[arg(long, value_delimiter = ',', value_name = "I1,I2,...")]
    pub instances: Option<Vec<String>>,
    /// Objective names, comma-separated (the target prints one cost per objective).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub objectives: Option<Vec<String>>,
    /// Cost recorded for failed trials (one per objective, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "COST")]
    pub crash_cost: Option<Vec<f64>>,
    /// Run the trials on an existing cluster: the scheduler file of `smac scheduler` or of
    /// `dask scheduler --scheduler-file` (told apart by content). Default: $SMAC_SCHEDULER_FILE
    /// when set (the `utils/` cluster scripts export it), else local workers.
    #[arg(long, value_name = "FILE", help_heading = "Cluster")]
    pub scheduler_file: Option<PathBuf>,
    /// Run the trials on the Dask scheduler at this address (`tcp://host:8786`).
    #[arg(long, value_name = "ADDRESS", help_heading = "Cluster")]
    pub dask_address: Option<String>,
    /// Seconds to wait for a worker when none is connected (default 10 locally, 120 on a cluster).
    #[arg(long, value_name = "SECONDS", help_heading = "Cluster")]
    pub patience: Option<f64>,
    /// Resources each trial claims, e.g. GPU=1 (only workers offering them run it; Dask's resources=).
    #[arg(long, value_name = "SPEC", help_heading = "Cluster")]
    pub resources: Option<String>,
    /// Resources each local worker offers (default: what a trial claims).
    #[arg(long, value_name = "SPEC", help_heading = "Cluster")]
    pub worker_resources: Option<String>,
    /// Give each trial CUDA_VISIBLE_DEVICES with this node's least-loaded GPU first.
    #[arg(long, help_heading = "Cluster")]
    pub single_node_with_gpus: bool,
    /// The GPUs for --single-node-with-gpus (default: CUDA_VISIBLE_DEVICES or nvidia-smi).
    #[arg(long, value_delimiter = ',', value_name = "ID,...", help_heading = "Cluster")]
    pub gpus: Option<Vec<String>>,
    /// Re-runs of a trial whose worker was lost, before it counts as crashed (default 1).
    #[arg(long, value_name = "N", help_heading = "Cluster")]
    pub max_retries: Option<u32>,
    /// Deliver results in submission order, so that parallel runs repeat exactly.
    #[arg(long, help_heading = "Cluster")]
    pub reproducible: bool,
    /// Dask: the Python with `distributed` that talks to the scheduler (default $SMAC_DASK_PYTHON or python3).
    #[arg(long, value_name = "PYTHON", help_heading = "Cluster")]
    pub dask_python: Option<PathBuf>,
    /// Dask: the program the Dask workers run trials with, as a path on them (default: this smac).
    #[arg(long, value_name = "PATH", help_heading = "Cluster")]
    pub worker_program: Option<PathBuf>,
    /// Start over: replace a different run found in the run directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Print one JSON line per finished trial on stdout (and a final summary line).
    #[arg(long)]
    pub json: bool,
    /// Serve a live dashboard of this run while it goes on (default 127.0.0.1 on a free port).
    #[arg(long, num_args = 0..=1, default_missing_value = "127.0.0.1:0", value_name = "HOST:PORT")]
    pub dashboard: Option<String>,
    /// The target command and its fixed arguments (after `--`), e.g. `-- python3 train.py`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `smac show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run directory (`<output>/<name>/<seed>`), or a directory containing run directories.
    pub run_dir: PathBuf,
    /// How many of the best configurations to list.
    #[arg(short = 'k', long, default_value_t = 5)]
    pub top: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `smac plot` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlotKind {
    /// Best cost so far vs trials and vs wall time.
    Convergence,
    /// Cost against each hyperparameter's value.
    Scatter,
}

/// `smac plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A run directory (`<output>/<name>/<seed>`).
    pub run_dir: PathBuf,
    /// Output image: `.svg` or `.png`.
    #[arg(short, long, value_name = "FILE", default_value = "convergence.svg")]
    pub output: PathBuf,
    /// What to draw.
    #[arg(long, value_enum, default_value_t = PlotKind::Convergence)]
    pub kind: PlotKind,
    /// Also write the plotted data as JSON here.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Objective to plot, by name (default: the first).
    #[arg(long)]
    pub objective: Option<String>,
    /// Logarithmic cost axis (costs must be positive).
    #[arg(long)]
    pub log_y: bool,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 600)]
    pub height: u32,
}

/// `smac scheduler`: the flags of `smac-scheduler`.
pub use smac_runner::scheduler::standalone::SchedulerArgs;

/// `smac scheduler`: the flags of `smac-scheduler` and a dashboard of the cluster.
#[derive(Debug, Args)]
pub struct SchedulerCommandArgs {
    /// The scheduler's own flags.
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
    /// Serve a live dashboard of this cluster's workers and trials (default 127.0.0.1 on a free
    /// port; a token off loopback).
    #[arg(long, num_args = 0..=1, default_missing_value = "127.0.0.1:0", value_name = "HOST:PORT")]
    pub dashboard: Option<String>,
    /// Run directories (or folders of them) the dashboard shows beside the cluster.
    #[arg(long = "dashboard-runs", value_name = "DIR", requires = "dashboard")]
    pub dashboard_runs: Vec<std::path::PathBuf>,
}
/// `smac worker`: the flags of `smac-worker`.
pub use smac_runner::worker::standalone::WorkerArgs;
