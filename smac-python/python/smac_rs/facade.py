"""SMAC3's facades over smac-rs: ``HyperparameterOptimizationFacade``, ``BlackBoxFacade``,
``MultiFidelityFacade``, ``HyperbandFacade``, ``AlgorithmConfigurationFacade`` and
``RandomFacade``, with SMAC3's constructor, ``optimize``, ``ask``/``tell``, ``validate``,
``runhistory``, ``intensifier`` and the static ``get_*`` helpers.

Where trials run: in this process with one worker (the target is called with the GIL held
for the call only; the optimizer releases it), in ``scenario.n_workers`` worker processes
(``smac_rs._worker``, the target cloudpickled once per worker; also with one worker when a
per-trial walltime or memory limit is set, since a call in this process cannot be bounded), or
on the Dask cluster of ``dask_client=`` (never closed by us). The latter two go through smac-runner's parallel
runner core, which retries a trial whose worker died instead of recording it as a failure.
"""

from __future__ import annotations

import json
import random
from typing import Any, Callable

import ConfigSpace.read_and_write.json as cs_json
from ConfigSpace import Configuration

from smac_rs import _core
from smac_rs._target import Evaluator, accepts_keyword
from smac_rs._views import IntensifierView, SMBOView, _Listener, _trajectory
from smac_rs.callback import Callback
from smac_rs.components import (
    AbstractInitialDesign,
    ConfigSelector,
    DefaultInitialDesign,
    Hyperband,
    Intensifier,
    MeanAggregationStrategy,
    ParEGO,
    ProbabilityRandomDesign,
    ProbabilityTPEDesign,
    RandomInitialDesign,
    SobolInitialDesign,
    SuccessiveHalving,
)
from smac_rs.runhistory import RunHistory, StatusType, TrialInfo, TrialKey, TrialValue
from smac_rs.runhistory.dataclasses import config_to_json, value_from_dict, value_to_json
from smac_rs.scenario import Scenario

_UNSUPPORTED = ("model", "acquisition_function", "acquisition_maximizer", "runhistory_encoder", "runner")


def _space_json(space: Any) -> str:
    """The space as ConfigSpace 1.x JSON text."""
    to_json = getattr(space, "to_json", None)
    if to_json is not None:
        import io

        buffer = io.StringIO()
        try:
            to_json(buffer)
            return buffer.getvalue()
        except TypeError:
            pass
    return cs_json.write(space)


def _no_target(trial_json: str) -> str:
    raise RuntimeError("this facade was built without a target function: use ask() and tell()")


class AbstractFacade:
    """The facade shared by all presets; see the module docs."""

    _facade = ""

    def __init__(
        self,
        scenario: Scenario,
        target_function: Callable[..., Any] | None,
        *,
        model: Any = None,
        acquisition_function: Any = None,
        acquisition_maximizer: Any = None,
        initial_design: AbstractInitialDesign | None = None,
        random_design: ProbabilityRandomDesign | None = None,
        intensifier: Intensifier | SuccessiveHalving | None = None,
        runhistory_encoder: Any = None,
        config_selector: Any = None,
        multi_objective_algorithm: Any = None,
        runner: Any = None,
        overwrite: bool = False,
        dask_client: Any = None,
        logging_level: int | None = None,
        callbacks: list[Callback] | None = None,
    ) -> None:
        given = dict(model=model, acquisition_function=acquisition_function, acquisition_maximizer=acquisition_maximizer,
                     runhistory_encoder=runhistory_encoder, runner=runner)
        for name in _UNSUPPORTED:
            if given[name] is not None:
                raise NotImplementedError(
                    f"{type(self).__name__}({name}=...): smac-rs uses the facade's own {name.replace('_', ' ')}; "
                    "see docs/python.md for what can be changed"
                )
        if multi_objective_algorithm is not None and not isinstance(
            multi_objective_algorithm, (ParEGO, MeanAggregationStrategy)
        ):
            raise NotImplementedError(
                "multi_objective_algorithm: smac-rs supports ParEGO and MeanAggregationStrategy"
            )
        if config_selector is not None and not isinstance(config_selector, ConfigSelector):
            raise NotImplementedError("config_selector: smac-rs supports get_config_selector(scenario, retrain_after=…)")
        if not isinstance(scenario, Scenario):
            raise TypeError(f"scenario must be a smac_rs.Scenario, got {type(scenario).__name__}")
        if logging_level is not False:
            _core.set_logging_level(20 if logging_level in (None, True) else int(logging_level))
        self._scenario = scenario
        self._callbacks = list(callbacks or [])
        for cb in self._callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be smac_rs.Callback instances, got {type(cb).__name__}")
        self._smbo = SMBOView(self)
        n_objectives = scenario.count_objectives()
        self._runhistory = RunHistory(scenario.configspace, n_objectives)
        self._evaluator = (
            None
            if target_function is None
            else Evaluator(
                target_function,
                scenario.configspace,
                scenario.objective_names(),
                needs_instance=scenario.instances is not None,
                needs_budget=scenario.min_budget is not None,
            )
        )
        components: dict[str, Any] = {}
        if initial_design is None:
            initial_design = self._default_initial_design(scenario)
        if initial_design is not None:
            components["initial_design"] = initial_design._spec()
        if intensifier is not None:
            components["intensifier"] = intensifier._spec()
        if random_design is not None:
            components["random_design_probability"] = float(random_design.probability)
            components["interleaved"] = random_design._interleaved
        if config_selector is not None:
            components["retrain_after"] = config_selector._spec()
        if isinstance(multi_objective_algorithm, MeanAggregationStrategy):
            components["mean_aggregation"] = multi_objective_algorithm._spec()
        self.intensifier = IntensifierView(self, intensifier)
        backend = None
        self._backend: Any = None
        limited = scenario.trial_walltime_limit is not None or scenario.trial_memory_limit is not None
        memory_mb = None if scenario.trial_memory_limit is None else int(scenario.trial_memory_limit)
        # Per-trial limits cannot be enforced on a call in this process (SMAC3 runs such trials
        # in a pynisher subprocess): with a limit, a single worker runs in a worker process too.
        if self._evaluator is not None and (dask_client is not None or scenario.n_workers > 1 or limited):
            import cloudpickle

            from smac_rs._backends import DaskBackend, ProcessBackend

            try:
                payload = cloudpickle.dumps(self._evaluator)
            except Exception as e:
                if dask_client is not None:
                    where = "on Dask workers"
                elif scenario.n_workers > 1:
                    where = f"in {scenario.n_workers} worker processes"
                else:
                    where = "in a worker process, where trial_walltime_limit and trial_memory_limit are enforced"
                raise TypeError(f"the target function cannot be pickled (cloudpickle) to run {where}: {e}") from e
            if dask_client is not None:
                backend = DaskBackend(dask_client, payload, scenario.trial_walltime_limit, memory_mb)
            else:
                backend = ProcessBackend(max(1, scenario.n_workers), payload, scenario.trial_walltime_limit, memory_mb)
        try:
            self._core = _core.Optimizer(
                self._facade,
                json.dumps(scenario._fields()),
                _space_json(scenario.configspace),
                json.dumps(components),
                _Listener(self),
                evaluator=None if backend is not None else (self._evaluator or _no_target),
                backend=backend,
                overwrite=overwrite,
            )
        except BaseException:
            if backend is not None:
                backend.close()
            raise
        self._backend = backend
        self._sync()

    # -- the facade's component defaults, overridden by the presets below ---------------------
    @classmethod
    def _default_initial_design(cls, scenario: Scenario) -> AbstractInitialDesign | None:
        return None

    @classmethod
    def get_config_selector(cls, scenario: Scenario, *, retrain_after: int | None = None, retries: int = 16) -> ConfigSelector:
        """``retrain_after`` new configurations per model fit (default: this facade's, 1 for the
        HPO and BlackBox facades, 8 for the others; SMAC3's HPO facade uses 8)."""
        n = _core.default_retrain_after(cls._facade) if retrain_after is None else retrain_after
        return ConfigSelector(scenario, retrain_after=n, max_new_config_tries=retries)

    @staticmethod
    def get_intensifier(scenario: Scenario, *, max_config_calls: int = 3, max_incumbents: int = 10) -> Intensifier:
        """SMAC3's racing intensifier."""
        return Intensifier(scenario, max_config_calls=max_config_calls, max_incumbents=max_incumbents)

    @staticmethod
    def get_multi_objective_algorithm(
        scenario: Scenario, *, objective_weights: list[float] | None = None
    ) -> MeanAggregationStrategy:
        """SMAC3's ``MeanAggregationStrategy`` with ``objective_weights`` (a facade given no
        ``multi_objective_algorithm`` uses ParEGO, see docs/python.md)."""
        return MeanAggregationStrategy(scenario, objective_weights=objective_weights)

    # -- state -------------------------------------------------------------------------------
    def _sync(self) -> None:
        state = json.loads(self._core.state())
        rh = self._runhistory
        for i, values in enumerate(state["configs"], start=1):
            rh._config(i, values)
        for t in state["trials"]:
            rh._add(TrialKey(t["config_id"], t["instance"], t["seed"], t["budget"]), value_from_dict(t["value"]))
        rh._running = state["n_running"]
        rh._submitted = len(rh) + rh._running
        self.intensifier._incumbent_ids = state["incumbents"]
        self.intensifier.trajectory = _trajectory(state["trajectory"])
        run_dir = state["run_directory"]
        if run_dir:
            from pathlib import Path

            if self._scenario.name is None:
                self._scenario.name = Path(run_dir).parent.name
            # The run's meta data, so that scenario.save() writes what the run directory has.
            try:
                meta = json.loads((Path(run_dir) / "scenario.json").read_text()).get("_meta")
            except (OSError, ValueError):
                meta = None
            if isinstance(meta, dict):
                self._scenario._meta = meta

    def _trial_info(self, t: dict[str, Any]) -> TrialInfo:
        if "config_id" in t:
            config = self._runhistory._config(t["config_id"], t["config"])
        else:
            config = Configuration(self._scenario.configspace, values=t["config"])
        return TrialInfo(config=config, instance=t["instance"], seed=t["seed"], budget=t["budget"])

    @property
    def scenario(self) -> Scenario:
        """The scenario."""
        return self._scenario

    @property
    def runhistory(self) -> RunHistory:
        """Every finished trial."""
        return self._runhistory

    @property
    def incumbent(self) -> Configuration | list[Configuration] | None:
        """The incumbent (the Pareto front as a list for several objectives)."""
        if self._scenario.count_objectives() > 1:
            return self.intensifier.get_incumbents()
        return self.intensifier.get_incumbent()

    @property
    def meta(self) -> dict[str, Any]:
        """What the run's ``scenario.json`` describes."""
        return {"facade": {"name": type(self).__name__}}

    # -- running -----------------------------------------------------------------------------
    def optimize(self, *, data_to_scatter: dict[str, Any] | None = None) -> Configuration | list[Configuration] | None:
        """Runs until ``n_trials``, the walltime or CPU limit is reached or a callback stops;
        returns the incumbent (a list for several objectives). Ctrl-C raises
        ``KeyboardInterrupt`` after the finished trials are saved.

        ``data_to_scatter`` (a non-empty dict) reaches every trial of this call as the target's
        keyword argument ``data_to_scatter``, as in SMAC3. It is sent once per worker: in this
        process it is passed as is, worker processes receive it once when the call starts (and
        replacement workers when they start), and on Dask it is ``client.scatter``-ed with
        ``broadcast=True`` once (Dask's active memory manager, when on, may drop a worker's copy
        between trials; the worker then fetches it again)."""
        if data_to_scatter is None:
            self._core.optimize()
            return self.incumbent
        if isinstance(data_to_scatter, dict) and len(data_to_scatter) == 0:
            raise ValueError("data_to_scatter must be None or a dict with some elements, but got an empty dict")
        if self._evaluator is None:
            raise RuntimeError("data_to_scatter needs a target function")
        if not accepts_keyword(self._evaluator.target, "data_to_scatter"):
            raise TypeError(
                "optimize(data_to_scatter=...) passes the data to the target function as the keyword "
                "argument 'data_to_scatter' (as SMAC3 does), but the target takes no such parameter "
                "(add data_to_scatter=None or **kwargs to its signature)"
            )
        if self._backend is not None:
            try:
                self._backend.set_data(data_to_scatter)
            except Exception as e:
                raise TypeError(f"data_to_scatter cannot be sent to the workers: {e}") from e
        else:
            self._evaluator.extra_kwargs = {"data_to_scatter": data_to_scatter}
        try:
            self._core.optimize()
        finally:
            if self._backend is not None:
                self._backend.set_data(None)
            else:
                self._evaluator.extra_kwargs = {}
        return self.incumbent

    def ask(self) -> TrialInfo:
        """The next trial to run."""
        return self._trial_info(json.loads(self._core.ask()))

    def tell(self, info: TrialInfo, value: TrialValue, save: bool = True) -> None:
        """Records the result of a trial (asked for, or any configuration of the space)."""
        if not isinstance(info, TrialInfo) or not isinstance(value, TrialValue):
            raise TypeError("tell(info, value) takes a TrialInfo and a TrialValue")
        if info.config.config_space != self._scenario.configspace:
            raise ValueError("the trial's configuration is not from this run's configuration space")
        trial = {
            "config": json.loads(config_to_json(info.config)),
            "instance": info.instance,
            "seed": info.seed,
            "budget": info.budget,
        }
        self._core.tell(json.dumps(trial), value_to_json(value, self._scenario.count_objectives()))

    def validate(self, config: Configuration, *, seed: int | None = None) -> float | list[float]:
        """Evaluates ``config`` on every instance (at the highest budget) with seeds other than
        the optimization's, without recording it; returns the average cost."""
        if self._evaluator is None:
            raise RuntimeError("validate needs a target function")
        rng = random.Random(self._scenario.seed if seed is None else seed)
        n_seeds = 1 if self._scenario.deterministic else 3
        seeds = [rng.randint(0, 2**31 - 1) for _ in range(n_seeds)]
        instances = self._scenario.instances or [None]
        costs = []
        for instance in instances:
            for s in seeds:
                kwargs = {"seed": s, "instance": instance, "budget": self._scenario.max_budget}
                kwargs = {k: v for k, v in kwargs.items() if k in self._evaluator.keywords}
                v = json.loads(self._evaluator.evaluate(config, kwargs))
                if v["status"] != StatusType.SUCCESS:
                    raise RuntimeError(f"validation of {dict(config)} failed: {v['additional_info'].get('error')}")
                costs.append(v["cost"])
        mean = [sum(c) / len(c) for c in zip(*costs)]
        return mean[0] if len(mean) == 1 else mean

    def close(self) -> None:
        """Stops the worker processes now (they also stop when the facade is garbage-collected)."""
        self._core.close()


class HyperparameterOptimizationFacade(AbstractFacade):
    """Random forest on log costs, log-EI, Sobol design plus the default configuration."""

    _facade = "hpo"

    @staticmethod
    def get_initial_design(
        scenario: Scenario,
        *,
        n_configs: int | None = None,
        n_configs_per_hyperparamter: int = 10,
        max_ratio: float = 0.25,
        additional_configs: list[Configuration] | None = None,
        n_configs_per_hyperparameter: int | None = None,
    ) -> SobolInitialDesign:
        """A Sobol design (plus the default configuration unless ``additional_configs`` is given)."""
        if additional_configs is None:
            additional_configs = [scenario.configspace.get_default_configuration()]
        return SobolInitialDesign(
            scenario,
            n_configs=n_configs,
            n_configs_per_hyperparameter=n_configs_per_hyperparameter or n_configs_per_hyperparamter,
            max_ratio=max_ratio,
            additional_configs=additional_configs,
        )

    @staticmethod
    def get_random_design(scenario: Scenario, *, probability: float = 0.2) -> ProbabilityRandomDesign:
        """TPE proposals interleaved with this probability (this facade's default in smac-rs;
        pass ``ProbabilityRandomDesign(probability)`` for SMAC3's random configurations)."""
        return ProbabilityTPEDesign(probability)


class BlackBoxFacade(AbstractFacade):
    """Gaussian process with EI for low-dimensional continuous problems."""

    _facade = "blackbox"

    @staticmethod
    def get_initial_design(
        scenario: Scenario,
        *,
        n_configs: int | None = None,
        n_configs_per_hyperparamter: int = 8,
        max_ratio: float = 0.25,
        additional_configs: list[Configuration] | None = None,
        n_configs_per_hyperparameter: int | None = None,
    ) -> SobolInitialDesign:
        """A Sobol design."""
        return SobolInitialDesign(
            scenario,
            n_configs=n_configs,
            n_configs_per_hyperparameter=n_configs_per_hyperparameter or n_configs_per_hyperparamter,
            max_ratio=max_ratio,
            additional_configs=additional_configs,
        )

    @staticmethod
    def get_random_design(scenario: Scenario, *, probability: float = 0.08447232371720552) -> ProbabilityRandomDesign:
        """Random configurations interleaved with this probability."""
        return ProbabilityRandomDesign(probability)


class RandomFacade(AbstractFacade):
    """Random search, the default configuration first."""

    _facade = "random"

    @staticmethod
    def get_initial_design(scenario: Scenario, *, additional_configs: list[Configuration] | None = None) -> DefaultInitialDesign:
        """The default configuration."""
        return DefaultInitialDesign(scenario, additional_configs=additional_configs)


class AlgorithmConfigurationFacade(AbstractFacade):
    """Random forest with instance features, EI, racing over instances."""

    _facade = "algorithm_configuration"

    @staticmethod
    def get_initial_design(scenario: Scenario, *, additional_configs: list[Configuration] | None = None) -> DefaultInitialDesign:
        """The default configuration."""
        return DefaultInitialDesign(scenario, additional_configs=additional_configs)

    @staticmethod
    def get_intensifier(scenario: Scenario, *, max_config_calls: int = 2000, max_incumbents: int = 10) -> Intensifier:
        """Racing over up to ``max_config_calls`` instance-seed pairs."""
        return Intensifier(scenario, max_config_calls=max_config_calls, max_incumbents=max_incumbents)

    @staticmethod
    def get_random_design(scenario: Scenario, *, probability: float = 0.5) -> ProbabilityRandomDesign:
        """Random configurations interleaved with this probability."""
        return ProbabilityRandomDesign(probability)


class MultiFidelityFacade(HyperparameterOptimizationFacade):
    """The HPO facade's model with Hyperband over ``min_budget..max_budget``."""

    _facade = "multi_fidelity"

    @staticmethod
    def get_initial_design(
        scenario: Scenario,
        *,
        n_configs: int | None = None,
        n_configs_per_hyperparamter: int = 10,
        max_ratio: float = 0.25,
        additional_configs: list[Configuration] | None = None,
        n_configs_per_hyperparameter: int | None = None,
    ) -> RandomInitialDesign:
        """A random design."""
        return RandomInitialDesign(
            scenario,
            n_configs=n_configs,
            n_configs_per_hyperparameter=n_configs_per_hyperparameter or n_configs_per_hyperparamter,
            max_ratio=max_ratio,
            additional_configs=additional_configs,
        )

    @staticmethod
    def get_intensifier(  # type: ignore[override]
        scenario: Scenario,
        *,
        eta: int = 3,
        n_seeds: int = 1,
        instance_seed_order: str | None = "shuffle_once",
        max_incumbents: int = 10,
        incumbent_selection: str = "highest_observed_budget",
    ) -> Hyperband:
        """Hyperband."""
        if instance_seed_order != "shuffle_once":
            raise NotImplementedError("instance_seed_order: smac-rs shuffles the instance-seed pairs once")
        return Hyperband(scenario, eta=eta, n_seeds=n_seeds, max_incumbents=max_incumbents, incumbent_selection=incumbent_selection)

    @staticmethod
    def get_random_design(scenario: Scenario, *, probability: float = 0.2) -> ProbabilityRandomDesign:
        """Random configurations interleaved with this probability (as in SMAC3)."""
        return ProbabilityRandomDesign(probability)


class HyperbandFacade(RandomFacade):
    """Random configurations raced by Hyperband."""

    _facade = "hyperband"

    get_intensifier = MultiFidelityFacade.get_intensifier


HPOFacade = HyperparameterOptimizationFacade
