//! [`ClusterConfig`]: where a run's trials are evaluated, one description for the Rust API,
//! the scenario file's `[cluster]` table and `smac optimize`'s flags.
//!
//! The choice, in order:
//! 1. a Dask scheduler address (`dask_address`), or a scheduler file (`scheduler_file`, else
//!    `$SMAC_SCHEDULER_FILE` as the `utils/` cluster scripts export it) — ours or Dask's,
//!    told apart by content: trials run on that cluster, which is never closed by us;
//! 2. otherwise `n_workers == 1`: in the optimizer's thread, no runner overhead;
//! 3. otherwise `n_workers` local worker processes (a shippable target) or worker threads (a
//!    closure), started for the run and stopped at its end.
//!
//! Everything is checked before any worker starts, and errors name the field.

use super::scheduler_file::{read_scheduler_file, SchedulerFileKind};
use crate::backends::dask::{DaskBackend, DaskCluster, DaskOptions};
use crate::client::local::LocalCluster;
use crate::client::Client;
use crate::core::{DaskStyleParallelRunner, ParallelOptions, ShippableTarget};
use crate::resources::Resources;
use smac_core::{Runner, RunnerError, Scenario, SerialRunner, TargetFunction};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable the `utils/` cluster scripts export for the optimizer.
pub const ENV_SCHEDULER_FILE: &str = "SMAC_SCHEDULER_FILE";
/// Default patience with local workers (they are started before the first trial).
const LOCAL_PATIENCE: Duration = Duration::from_secs(10);
/// Default patience on a cluster, whose workers may still wait in a batch queue.
const CLUSTER_PATIENCE: Duration = Duration::from_secs(120);
/// Most worker threads or processes one machine is asked to start.
const MAX_LOCAL_WORKERS: usize = 8192;

/// Where trials run and how (see the module docs for how the place is chosen).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// A scheduler file: ours (`smac scheduler`) or Dask's (`dask scheduler --scheduler-file`).
    pub scheduler_file: Option<PathBuf>,
    /// A Dask scheduler's address, `tcp://host:8786`.
    pub dask_address: Option<String>,
    /// Whether `$SMAC_SCHEDULER_FILE` is used when neither of the above is given (default true).
    pub use_environment: bool,
    /// How long a submit waits for a worker when none is connected (default 10 s with local
    /// workers, 120 s on a cluster).
    pub patience: Option<Duration>,
    /// How long to wait for a scheduler file to appear and for the connection.
    pub connect_timeout: Duration,
    /// Resources each trial claims, e.g. `GPU=1` (Dask's `resources=`).
    pub resources: Resources,
    /// Resources each local worker offers (default: exactly the claims, one trial at a time).
    pub worker_resources: Option<Resources>,
    /// Spread trials over this node's GPUs by least load (`CUDA_VISIBLE_DEVICES`).
    pub single_node_with_gpus: bool,
    /// The GPUs for `single_node_with_gpus` (default: discovered).
    pub gpus: Option<Vec<String>>,
    /// Re-runs of a trial whose worker was lost before it reports crashed.
    pub max_retries: u32,
    /// Deliver results in submission order so parallel runs repeat exactly.
    pub reproducible: bool,
    /// How to reach a Dask cluster (its Python, the worker program on its workers, …).
    pub dask: DaskOptions,
    /// Set by a Ctrl-C handler: every wait returns at once.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            scheduler_file: None,
            dask_address: None,
            use_environment: true,
            patience: None,
            connect_timeout: Duration::from_secs(30),
            resources: Resources::new(),
            worker_resources: None,
            single_node_with_gpus: false,
            gpus: None,
            max_retries: 1,
            reproducible: false,
            dask: DaskOptions::default(),
            interrupt: None,
        }
    }
}

/// Where the trials of a run go, as decided by [`ClusterConfig::placement`].
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// In the optimizer's thread.
    InProcess,
    /// On this many local workers (processes for shippable targets, threads for closures).
    Local(usize),
    /// On our own scheduler, described by this scheduler file.
    Scheduler(PathBuf),
    /// On a Dask cluster.
    Dask(DaskCluster),
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Placement::InProcess => write!(f, "in-process"),
            Placement::Local(n) => write!(f, "{n} local worker(s)"),
            Placement::Scheduler(p) => write!(f, "the smac scheduler of {}", p.display()),
            Placement::Dask(DaskCluster::Address(a)) => write!(f, "the Dask scheduler {a}"),
            Placement::Dask(DaskCluster::SchedulerFile(p)) => {
                write!(f, "the Dask scheduler of {}", p.display())
            }
            Placement::Dask(c) => write!(f, "Dask cluster {c:?}"),
        }
    }
}

impl ClusterConfig {
    /// Decides where trials run for a scenario with `n_workers`, reading (and waiting for) a
    /// scheduler file when one is given; nothing is started yet.
    pub fn placement(&self, n_workers: usize) -> Result<Placement, RunnerError> {
        if let Some(address) = &self.dask_address {
            if !address.contains("://") && !address.contains(':') {
                return Err(RunnerError::Config {
                    field: "dask_address".into(),
                    message: format!("'{address}' is not a scheduler address such as tcp://host:8786"),
                });
            }
            return Ok(Placement::Dask(DaskCluster::Address(address.clone())));
        }
        let file = self.scheduler_file.clone().or_else(|| {
            self.use_environment.then(|| std::env::var_os(ENV_SCHEDULER_FILE).map(PathBuf::from)).flatten()
        });
        if let Some(path) = file {
            return match read_scheduler_file(&path, self.connect_timeout, self.interrupt.as_deref())? {
                SchedulerFileKind::Smac(_) => Ok(Placement::Scheduler(path)),
                SchedulerFileKind::Dask { .. } => Ok(Placement::Dask(DaskCluster::SchedulerFile(path))),
            };
        }
        match n_workers {
            0 => Err(RunnerError::Config { field: "n_workers".into(), message: "must be at least 1".into() }),
            1 => Ok(Placement::InProcess),
            n if n > MAX_LOCAL_WORKERS => Err(RunnerError::Config {
                field: "n_workers".into(),
                message: format!(
                    "{n} local workers are more than one machine can run (at most {MAX_LOCAL_WORKERS}); \
                     use a cluster (scheduler_file) for more"
                ),
            }),
            n => Ok(Placement::Local(n)),
        }
    }

    /// The run options for `placement` and `scenario`.
    pub fn parallel_options(
        &self,
        placement: &Placement,
        scenario: &Scenario,
    ) -> Result<ParallelOptions, RunnerError> {
        if self.gpus.as_ref().is_some_and(|g| g.iter().all(|d| d.trim().is_empty())) {
            return Err(RunnerError::Config {
                field: "gpus".into(),
                message: "the list names no device".into(),
            });
        }
        if let (Placement::Local(_), Some(offer)) = (placement, &self.worker_resources) {
            if !offer.satisfies(&self.resources) {
                return Err(RunnerError::Config {
                    field: "resources".into(),
                    message: format!(
                        "trials claim {} but the local workers offer {offer}: no trial could ever start",
                        self.resources
                    ),
                });
            }
        }
        let patience = self.patience.unwrap_or(match placement {
            Placement::InProcess | Placement::Local(_) => LOCAL_PATIENCE,
            _ => CLUSTER_PATIENCE,
        });
        Ok(ParallelOptions {
            patience,
            reproducible: self.reproducible,
            max_retries: self.max_retries,
            trial_walltime_limit: scenario.trial_walltime_limit,
            trial_memory_limit: scenario.trial_memory_limit,
            resources: self.resources.clone(),
            single_node_with_gpus: self.single_node_with_gpus,
            gpu_devices: self.gpus.clone(),
            interrupt: self.interrupt.clone(),
        })
    }

    /// A runner for a shippable target: in-process, local worker processes (this executable,
    /// or `dask.worker_program`), our scheduler or Dask.
    pub fn runner<T: ShippableTarget>(
        &self,
        target: T,
        scenario: &Scenario,
    ) -> Result<Box<dyn Runner>, RunnerError> {
        self.runner_and_client(target, scenario).map(|(r, _)| r)
    }

    /// [`Self::runner`] and, on local workers or our scheduler, the client of its scheduler
    /// (for a dashboard's cluster view; the runner owns a local cluster's lifetime).
    pub fn runner_and_client<T: ShippableTarget>(
        &self,
        target: T,
        scenario: &Scenario,
    ) -> Result<(Box<dyn Runner>, Option<Client>), RunnerError> {
        let placement = self.placement(scenario.n_workers)?;
        let options = self.parallel_options(&placement, scenario)?;
        Ok(match placement {
            Placement::InProcess => (Box::new(SerialRunner::new(target)), None),
            Placement::Local(n) => {
                let mut cluster = LocalCluster::builder().processes(n);
                if let Some(program) = &self.dask.worker_program {
                    cluster = cluster.program(program);
                }
                let offer = self.worker_resources.clone().unwrap_or_else(|| self.resources.clone());
                let cluster = cluster.resources(offer).start()?;
                let client = cluster.client();
                (Box::new(DaskStyleParallelRunner::on_cluster(target, cluster, options)?), Some(client))
            }
            Placement::Scheduler(path) => {
                let client =
                    Client::from_scheduler_file_timeout(&path, self.connect_timeout).map_err(|e| {
                        RunnerError::Config {
                            field: format!("scheduler_file {}", path.display()),
                            message: format!(
                                "{e}; if its scheduler is gone the file is stale: start a new scheduler \
                                 or remove the file"
                            ),
                        }
                    })?;
                (Box::new(DaskStyleParallelRunner::attach(target, client.clone(), options)?), Some(client))
            }
            Placement::Dask(cluster) => {
                let field = match &cluster {
                    DaskCluster::SchedulerFile(p) => format!("scheduler_file {}", p.display()),
                    _ => "dask_address".to_string(),
                };
                // One setting for how long to wait for a cluster, whichever kind it is.
                let dask = DaskOptions { connect_timeout: self.connect_timeout, ..self.dask.clone() };
                let backend = DaskBackend::connect(&target, cluster, dask, &options)
                    .map_err(|e| RunnerError::Config { field, message: e.to_string() })?;
                (Box::new(DaskStyleParallelRunner::new(backend, options)?), None)
            }
        })
    }

    /// A runner for any target, a closure too: in-process or on local worker threads. A closure
    /// cannot travel to other processes, so a cluster is refused with the reason.
    pub fn runner_in_process(
        &self,
        target: Arc<dyn TargetFunction>,
        scenario: &Scenario,
    ) -> Result<Box<dyn Runner>, RunnerError> {
        let placement = self.placement(scenario.n_workers)?;
        let options = self.parallel_options(&placement, scenario)?;
        Ok(match placement {
            Placement::InProcess => Box::new(SerialRunner::shared(target)),
            Placement::Local(n) => Box::new(DaskStyleParallelRunner::threads_shared(target, n, options)?),
            other => {
                return Err(RunnerError::Config {
                    field: "target".into(),
                    message: format!(
                        "a closure cannot run on {other}: give a ShippableTarget (a serializable struct) \
                         to run on other processes"
                    ),
                })
            }
        })
    }
}
