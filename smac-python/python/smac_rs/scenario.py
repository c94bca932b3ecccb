"""SMAC3's ``Scenario``: the optimization problem and its limits."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from ConfigSpace import ConfigurationSpace


class Scenario:
    """The configuration space, objectives, budgets and limits of a run, with SMAC3's
    parameters and defaults. The run directory is ``output_directory / name / seed``; without
    a ``name`` it is a hash of the scenario (as in SMAC3), known once a facade is built."""

    def __init__(
        self,
        configspace: ConfigurationSpace,
        name: str | None = None,
        output_directory: str | Path = Path("smac3_output"),
        deterministic: bool = False,
        objectives: str | list[str] = "cost",
        crash_cost: float | list[float] = math.inf,
        termination_cost_threshold: float | list[float] = math.inf,
        walltime_limit: float = math.inf,
        cputime_limit: float = math.inf,
        trial_walltime_limit: float | None = None,
        trial_memory_limit: int | None = None,
        n_trials: int = 100,
        use_default_config: bool = False,
        instances: list[str] | None = None,
        instance_features: dict[str, list[float]] | None = None,
        min_budget: float | int | None = None,
        max_budget: float | int | None = None,
        seed: int = 0,
        n_workers: int = 1,
    ) -> None:
        if not isinstance(configspace, ConfigurationSpace):
            raise TypeError(f"configspace must be a ConfigSpace.ConfigurationSpace, got {type(configspace).__name__}")
        self.configspace = configspace
        self.name = name
        self._base_directory = Path(output_directory)
        self.deterministic = deterministic
        self.objectives = objectives
        self.crash_cost = crash_cost
        self.termination_cost_threshold = termination_cost_threshold
        self.walltime_limit = walltime_limit
        self.cputime_limit = cputime_limit
        self.trial_walltime_limit = trial_walltime_limit
        self.trial_memory_limit = trial_memory_limit
        self.n_trials = n_trials
        self.use_default_config = use_default_config
        self.instances = instances
        self.instance_features = instance_features
        self.min_budget = min_budget
        self.max_budget = max_budget
        self.seed = seed
        self.n_workers = n_workers
        #: The run's description (facade, components) as the run directory's scenario.json has
        #: it; filled when a facade is built on this scenario or by ``load``.
        self._meta: dict[str, Any] = {}

    @property
    def meta(self) -> dict[str, Any]:
        """The run's meta data (set by the facade, as in SMAC3)."""
        return self._meta

    @property
    def output_directory(self) -> Path:
        """The run directory, ``output_directory / name / seed`` (as in SMAC3)."""
        if self.name is None:
            return self._base_directory
        return self._base_directory / self.name / str(self.seed)

    def objective_names(self) -> list[str]:
        """The objectives as a list."""
        return [self.objectives] if isinstance(self.objectives, str) else list(self.objectives)

    def objectives_json(self) -> str | list[str]:
        """The objectives as SMAC3 writes them: one name as a string."""
        names = self.objective_names()
        return names[0] if len(names) == 1 else names

    def count_objectives(self) -> int:
        """The number of objectives."""
        return len(self.objective_names())

    def count_instance_features(self) -> int:
        """The length of the instance feature vectors (0 without features)."""
        if not self.instance_features:
            return 0
        return len(next(iter(self.instance_features.values())))

    def _fields(self) -> dict[str, Any]:
        """The fields smac-core reads (infinite limits as ``None``: JSON has no infinity)."""

        def finite(v: float | None) -> float | None:
            return None if v is None or (isinstance(v, float) and math.isinf(v)) else float(v)

        def per_objective(v: float | list[float]) -> list[float | None]:
            vals = list(v) if isinstance(v, (list, tuple)) else [v] * self.count_objectives()
            return [finite(x) for x in vals]

        crash = per_objective(self.crash_cost)
        return {
            "name": self.name,
            "output_directory": str(self._base_directory),
            "deterministic": bool(self.deterministic),
            "objectives": self.objective_names(),
            # An infinite crash cost is smac-core's default too.
            "crash_cost": None if all(c is None for c in crash) else [sys.float_info.max if c is None else c for c in crash],
            "termination_cost_threshold": per_objective(self.termination_cost_threshold),
            "walltime_limit": finite(self.walltime_limit),
            "cputime_limit": finite(self.cputime_limit),
            "trial_walltime_limit": finite(self.trial_walltime_limit),
            "trial_memory_limit": None if self.trial_memory_limit is None else int(self.trial_memory_limit),
            "n_trials": int(self.n_trials),
            "use_default_config": bool(self.use_default_config),
            "instances": None if self.instances is None else [str(i) for i in self.instances],
            "instance_features": None
            if self.instance_features is None
            else {str(k): [float(x) for x in v] for k, v in self.instance_features.items()},
            "min_budget": finite(self.min_budget),
            "max_budget": finite(self.max_budget),
            "seed": int(self.seed),
            "n_workers": int(self.n_workers),
        }

    # -- files: SMAC3's scenario.json and configspace.json ------------------------------
    def save(self) -> None:
        """Writes ``scenario.json`` and ``configspace.json`` into ``output_directory`` in
        SMAC3 2.x's format (the one the run directory has; a facade writes them itself)."""
        if self.name is None:
            raise RuntimeError("the scenario needs a name to be saved: pass name=... or build a facade on it first")
        directory = self.output_directory
        directory.mkdir(parents=True, exist_ok=True)

        def number(v: Any) -> Any:  # SMAC3 writes one objective's value as a scalar
            return list(v) if isinstance(v, (list, tuple)) else float(v)

        data = {
            "name": self.name,
            "deterministic": bool(self.deterministic),
            "objectives": self.objectives_json(),
            "crash_cost": number(self.crash_cost),
            "termination_cost_threshold": number(self.termination_cost_threshold),
            "walltime_limit": float(self.walltime_limit),
            "cputime_limit": float(self.cputime_limit),
            "trial_walltime_limit": None if self.trial_walltime_limit is None else float(self.trial_walltime_limit),
            "trial_memory_limit": None if self.trial_memory_limit is None else int(self.trial_memory_limit),
            "n_trials": int(self.n_trials),
            "use_default_config": bool(self.use_default_config),
            "instances": None if self.instances is None else [str(i) for i in self.instances],
            "instance_features": None
            if self.instance_features is None
            else {str(k): [float(x) for x in v] for k, v in self.instance_features.items()},
            # SMAC3's adaptive-capping keys, which smac-rs does not use: written so its readers find them.
            "adaptive_capping": False,
            "adaptive_capping_slackfactor": None,
            "runtime_cutoff": None,
            "min_budget": self.min_budget,
            "max_budget": self.max_budget,
            "seed": int(self.seed),
            "n_workers": int(self.n_workers),
            "_meta": self._meta,
            "output_directory": str(directory),
        }
        # Infinite limits as Python's Infinity token, as SMAC3 writes them.
        (directory / "scenario.json").write_text(json.dumps(data, indent=4))
        from smac_rs.facade import _space_json

        (directory / "configspace.json").write_text(_space_json(self.configspace))

    @staticmethod
    def load(path: str | Path) -> Scenario:
        """Reads a scenario from a directory with ``scenario.json`` and ``configspace.json``
        (a run directory of smac_rs, smac-rs or SMAC3, or what ``save`` wrote)."""
        path = Path(path)
        data = json.loads((path / "scenario.json").read_text())
        configspace = ConfigurationSpace.from_json(path / "configspace.json")
        name, seed = data.get("name"), int(data.get("seed", 0))
        directory = Path(data.get("output_directory", "smac3_output"))
        # scenario.json holds the run directory, output_directory / name / seed.
        if name is not None and directory.parts[-2:] == (str(name), str(seed)):
            directory = directory.parent.parent
        known = (
            "deterministic", "objectives", "crash_cost", "termination_cost_threshold", "walltime_limit",
            "cputime_limit", "trial_walltime_limit", "trial_memory_limit", "n_trials", "use_default_config",
            "instances", "instance_features", "min_budget", "max_budget", "n_workers",
        )
        kwargs = {k: data[k] for k in known if k in data}
        scenario = Scenario(configspace, name=name, output_directory=directory, seed=seed, **kwargs)
        scenario._meta = data.get("_meta") or {}
        return scenario

    def __repr__(self) -> str:
        return f"Scenario(name={self.name!r}, n_trials={self.n_trials}, seed={self.seed}, n_workers={self.n_workers})"
