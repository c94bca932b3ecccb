//! Facades: SMAC3's presets wired to a default runner.
//!
//! `RandomFacade::new(scenario, target)` gives a ready [`Optimizer`]; `RandomFacade::builder`
//! lets you override components, add callbacks, say where trials run
//! ([`FacadeBuilder::cluster`], a [`ClusterConfig`]) or bring your own [`Runner`]. Runner
//! choice for a target:
//! - a cluster (a scheduler file of ours or Dask's, a Dask address, `$SMAC_SCHEDULER_FILE`):
//!   a serializable target ([`FacadeBuilder::target_processes`]) runs on its workers, and the
//!   cluster is never closed by us;
//! - otherwise `scenario.n_workers == 1`: the target runs in the optimizer's thread, no runner
//!   overhead;
//! - `n_workers > 1` with a closure ([`FacadeBuilder::target_fn`]): a pool of worker threads
//!   (closures cannot travel to other processes);
//! - `n_workers > 1` with a serializable target: local worker processes started from the
//!   current executable, which must call `smac::runner::worker::serve_if_worker::<Target>()`
//!   first thing in `main`.
//!
//! Local workers belong to the run and are shut down at its end.

use smac_core::{
    Callback, InitialDesign, Intensifier, Runner, Scenario, SmacError, Smbo, SmboBuilder, TargetFunction,
    TargetOutput, TrialInfo,
};
use smac_runner::{ClusterConfig, ShippableTarget};
use std::fmt::Display;
use std::sync::Arc;

/// The optimization loop over any runner, as the facades build it.
pub type Optimizer = Smbo<Box<dyn Runner>>;

/// Builds the runner once the cluster settings are final.
type MakeRunner =
    Box<dyn FnOnce(&ClusterConfig, &Scenario) -> Result<Box<dyn Runner>, smac_core::RunnerError>>;

/// Builder shared by all facades: a component preset plus where and how trials run.
pub struct FacadeBuilder {
    inner: SmboBuilder,
    runner: Option<MakeRunner>,
    cluster: ClusterConfig,
}

impl FacadeBuilder {
    fn new(inner: SmboBuilder) -> Self {
        FacadeBuilder { inner, runner: None, cluster: ClusterConfig::default() }
    }

    /// Evaluates trials with any target, a closure too: in the optimizer's thread with one
    /// worker, on `n_workers` threads otherwise (a closure cannot travel to other processes).
    pub fn target(mut self, target: impl TargetFunction + 'static) -> Self {
        let target: Arc<dyn TargetFunction> = Arc::new(target);
        self.runner = Some(Box::new(move |cluster, scenario| cluster.runner_in_process(target, scenario)));
        self
    }

    /// Evaluates trials of a serializable target wherever the cluster settings say: in the
    /// optimizer's thread with one worker, on `n_workers` local worker processes, or on a
    /// cluster ([`FacadeBuilder::cluster`]). Local worker processes are this executable, which
    /// must serve workers at the top of `main` with `smac::runner::worker::serve_if_worker::<T>()`.
    pub fn target_processes<T: ShippableTarget>(mut self, target: T) -> Self {
        self.runner = Some(Box::new(move |cluster, scenario| cluster.runner(target, scenario)));
        self
    }

    /// Evaluates trials with a closure `Fn(&TrialInfo) -> Result<cost(s), error>`.
    pub fn target_fn<F, O, E>(self, f: F) -> Self
    where
        F: Fn(&TrialInfo) -> Result<O, E> + Send + Sync + 'static,
        O: Into<TargetOutput>,
        E: Display,
    {
        self.target(f)
    }

    /// Where and how trials run: a scheduler file (ours or Dask's), a Dask address, patience,
    /// resource claims, GPUs, retries, reproducible mode. Without it: `n_workers` local
    /// workers, or the cluster of `$SMAC_SCHEDULER_FILE`.
    pub fn cluster(mut self, cluster: ClusterConfig) -> Self {
        self.cluster = cluster;
        self
    }

    /// Evaluates trials with any runner (a parallel runner over any backend, …).
    pub fn runner(mut self, runner: impl Runner + 'static) -> Self {
        self.runner = Some(Box::new(move |_, _| Ok(Box::new(runner) as Box<dyn Runner>)));
        self
    }

    /// Replaces the initial design.
    pub fn initial_design(mut self, design: InitialDesign) -> Self {
        self.inner = self.inner.initial_design(design);
        self
    }

    /// Replaces the intensifier.
    pub fn intensifier(mut self, intensifier: Box<dyn Intensifier>) -> Self {
        self.inner = self.inner.intensifier(intensifier);
        self
    }

    /// Adds a callback.
    pub fn callback(mut self, cb: impl Callback + 'static) -> Self {
        self.inner = self.inner.callback(cb);
        self
    }

    /// Replaces a different run found in the run directory.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.inner = self.inner.overwrite(overwrite);
        self
    }

    /// Whether to write (and continue) the run directory; default true.
    pub fn persist(mut self, persist: bool) -> Self {
        self.inner = self.inner.persist(persist);
        self
    }

    /// Gives access to the underlying component builder.
    pub fn map(mut self, f: impl FnOnce(SmboBuilder) -> SmboBuilder) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// Assembles the optimizer (and starts local workers or attaches to the cluster).
    pub fn build(self) -> Result<Optimizer, SmacError> {
        let make = self.runner.ok_or_else(|| {
            SmacError::Runner(smac_core::RunnerError::Other(
                "no target or runner was given to the facade".into(),
            ))
        })?;
        // Validate the scenario before any worker starts.
        self.inner.scenario().validate()?;
        let runner = make(&self.cluster, self.inner.scenario())?;
        self.inner.build(runner)
    }
}

macro_rules! facade {
    ($(#[$doc:meta])* $name:ident, $preset:path) => {
        $(#[$doc])*
        pub struct $name;

        impl $name {
            /// An optimizer with this facade's defaults for a closure target
            /// `Fn(&TrialInfo) -> Result<cost(s), error>`.
            // Facades are presets that assemble an `Optimizer`, as in SMAC3.
            #[allow(clippy::new_ret_no_self)]
            pub fn new<F, O, E>(scenario: Scenario, target: F) -> Result<Optimizer, SmacError>
            where
                F: Fn(&TrialInfo) -> Result<O, E> + Send + Sync + 'static,
                O: Into<TargetOutput>,
                E: Display,
            {
                Self::builder(scenario).target_fn(target).build()
            }

            /// A builder with this facade's defaults, to override components or the runner.
            pub fn builder(scenario: Scenario) -> FacadeBuilder {
                FacadeBuilder::new($preset(scenario))
            }
        }
    };
}

facade!(
    /// SMAC3's `HyperparameterOptimizationFacade`: random forest on log-scaled costs, log-EI,
    /// Sobol initial design; the default choice for expensive, mixed or conditional spaces.
    HyperparameterOptimizationFacade,
    SmboBuilder::hpo
);
facade!(
    /// SMAC3's `BlackBoxFacade`: Gaussian process with EI for low-dimensional continuous problems.
    BlackBoxFacade,
    SmboBuilder::blackbox
);
facade!(
    /// SMAC3's `RandomFacade`: random search (the default configuration first).
    RandomFacade,
    SmboBuilder::random
);
facade!(
    /// SMAC3's `AlgorithmConfigurationFacade`: random forest on plain costs with instance features,
    /// EI, half random configurations, the default configuration first, and racing over instances.
    AlgorithmConfigurationFacade,
    SmboBuilder::algorithm_configuration
);
facade!(
    /// SMAC3's `MultiFidelityFacade`: the HPO facade's model with Hyperband over the scenario's
    /// `min_budget..max_budget`; the forest trains on the highest budget with data.
    MultiFidelityFacade,
    SmboBuilder::multi_fidelity
);
facade!(
    /// SMAC3's `HyperbandFacade`: random configurations raced by Hyperband over the budgets.
    HyperbandFacade,
    SmboBuilder::hyperband
);
