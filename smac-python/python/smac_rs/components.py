"""The components users pick with the facades' ``get_*`` helpers, as in SMAC3: initial designs,
intensifiers, the random design and the multi-objective algorithm.

They are descriptions handed to smac-core, which builds the real components; models,
acquisition functions and maximizers are the facades' own (see docs/python.md).
"""

from __future__ import annotations

from typing import Any

from ConfigSpace import Configuration

from smac_rs.scenario import Scenario


class AbstractInitialDesign:
    """An initial design (SMAC3's ``smac.initial_design``)."""

    _kind = ""

    def __init__(
        self,
        scenario: Scenario,
        n_configs: int | None = None,
        n_configs_per_hyperparameter: int | None = 10,
        max_ratio: float = 0.25,
        additional_configs: list[Configuration] | None = None,
        seed: int | None = None,
    ) -> None:
        self._scenario = scenario
        self.n_configs = n_configs
        self.n_configs_per_hyperparameter = n_configs_per_hyperparameter
        self.max_ratio = max_ratio
        self.additional_configs = list(additional_configs or [])

    def _spec(self) -> dict[str, Any]:
        return {
            "kind": self._kind,
            "n_configs": self.n_configs,
            "n_configs_per_hyperparameter": self.n_configs_per_hyperparameter,
            "max_ratio": self.max_ratio,
            "additional_configs": [dict(c) for c in self.additional_configs],
        }


class SobolInitialDesign(AbstractInitialDesign):
    """Scrambled Sobol points."""

    _kind = "sobol"


class RandomInitialDesign(AbstractInitialDesign):
    """Uniform random configurations."""

    _kind = "random"


class LatinHypercubeInitialDesign(AbstractInitialDesign):
    """A Latin hypercube."""

    _kind = "latin_hypercube"


class FactorialInitialDesign(AbstractInitialDesign):
    """The default, the centre and every corner."""

    _kind = "factorial"


class DefaultInitialDesign(AbstractInitialDesign):
    """Only the default configuration."""

    _kind = "default"


class Intensifier:
    """SMAC3's racing ``Intensifier``: each configuration runs on up to ``max_config_calls``
    instance-seed pairs and races the incumbent."""

    def __init__(self, scenario: Scenario, max_config_calls: int = 3, max_incumbents: int = 10, seed: int | None = None) -> None:
        self._scenario = scenario
        self.max_config_calls = max_config_calls
        self.max_incumbents = max_incumbents

    def _spec(self) -> dict[str, Any]:
        return {"kind": "intensifier", "max_config_calls": self.max_config_calls, "max_incumbents": self.max_incumbents}


class SuccessiveHalving:
    """SMAC3's ``SuccessiveHalving`` over the scenario's budgets (or instances)."""

    _kind = "successive_halving"

    def __init__(
        self,
        scenario: Scenario,
        eta: int = 3,
        n_seeds: int = 1,
        max_incumbents: int = 10,
        incumbent_selection: str = "highest_observed_budget",
        seed: int | None = None,
    ) -> None:
        self._scenario = scenario
        self.eta = eta
        self.n_seeds = n_seeds
        self.max_incumbents = max_incumbents
        self.incumbent_selection = incumbent_selection

    def _spec(self) -> dict[str, Any]:
        return {
            "kind": self._kind,
            "eta": self.eta,
            "n_seeds": self.n_seeds,
            "max_incumbents": self.max_incumbents,
            "incumbent_selection": self.incumbent_selection,
        }


class Hyperband(SuccessiveHalving):
    """SMAC3's ``Hyperband``."""

    _kind = "hyperband"


class ProbabilityRandomDesign:
    """Interleaves a random configuration with this probability (SMAC3's
    ``ProbabilityRandomDesign``)."""

    _interleaved = "random"

    def __init__(self, probability: float, seed: int = 0) -> None:
        self.probability = probability


class ProbabilityTPEDesign(ProbabilityRandomDesign):
    """Interleaves a proposal of a tree-structured Parzen estimator over the finished trials
    with this probability (random until two have finished): the HPO facade's default in smac-rs,
    where SMAC3 interleaves random configurations (docs/differences-from-smac3.md)."""

    _interleaved = "tpe"


class ConfigSelector:
    """SMAC3's ``ConfigSelector``: ``retrain_after`` new configurations per model fit (what
    ``get_config_selector`` returns). smac-rs's facades default to 1 for the HPO and BlackBox
    facades and 8 for the others (docs/python.md); the retry and minimum-trial settings are
    SMAC3's defaults and cannot be changed."""

    def __init__(
        self, scenario: Scenario, *, retrain_after: int = 8, max_new_config_tries: int = 16, min_trials: int = 1
    ) -> None:
        if int(retrain_after) < 1:
            raise ValueError(f"retrain_after must be at least 1, got {retrain_after}")
        if max_new_config_tries != 16 or min_trials != 1:
            raise NotImplementedError(
                "ConfigSelector: smac-rs supports retrain_after only (max_new_config_tries=16, min_trials=1)"
            )
        self.retrain_after = int(retrain_after)

    def _spec(self) -> int:
        return self.retrain_after


class MeanAggregationStrategy:
    """SMAC3's ``MeanAggregationStrategy``: the model learns the (weighted) mean of the
    normalized objectives. What ``get_multi_objective_algorithm`` returns, as in SMAC3."""

    def __init__(self, scenario: Scenario, objective_weights: list[float] | None = None) -> None:
        if objective_weights is not None:
            objective_weights = [float(w) for w in objective_weights]
            if len(objective_weights) != scenario.count_objectives():
                raise ValueError("Number of objectives and number of weights must be equal.")
        self._objective_weights = objective_weights

    def _spec(self) -> dict[str, Any]:
        return {"objective_weights": self._objective_weights}


class ParEGO:
    """SMAC3's ``ParEGO``: several objectives scalarized with random weights each iteration
    (smac-core uses it for every multi-objective run; ``rho`` is fixed at 0.05)."""

    def __init__(self, scenario: Scenario, rho: float = 0.05, seed: int | None = None) -> None:
        if rho != 0.05:
            raise NotImplementedError("ParEGO: smac-rs uses rho=0.05 (SMAC3's default) only")
        self.rho = rho
