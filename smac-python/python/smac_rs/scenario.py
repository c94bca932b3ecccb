"""SMAC3's ``Scenario``: the optimization problem and its limits."""

from __future__ import annotations

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

    @property
    def output_directory(self) -> Path:
        """The run directory, ``output_directory / name / seed`` (as in SMAC3)."""
        if self.name is None:
            return self._base_directory
        return self._base_directory / self.name / str(self.seed)

    def objective_names(self) -> list[str]:
        """The objectives as a list."""
        return [self.objectives] if isinstance(self.objectives, str) else list(self.objectives)

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

    def __repr__(self) -> str:
        return f"Scenario(name={self.name!r}, n_trials={self.n_trials}, seed={self.seed}, n_workers={self.n_workers})"
