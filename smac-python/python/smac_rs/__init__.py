"""smac_rs: SMAC3's Python API backed by smac-rs.

Switching from SMAC3 is changing the import: ``from smac_rs import HyperparameterOptimizationFacade,
Scenario``. See docs/python.md for what is supported and where it differs.
"""

from smac_rs._core import __version__
from smac_rs.callback import Callback
from smac_rs.facade import (
    AlgorithmConfigurationFacade,
    BlackBoxFacade,
    HPOFacade,
    HyperbandFacade,
    HyperparameterOptimizationFacade,
    MultiFidelityFacade,
    RandomFacade,
)
from smac_rs.runhistory import RunHistory, StatusType, TrialInfo, TrialKey, TrialValue
from smac_rs.scenario import Scenario

__all__ = [
    "AlgorithmConfigurationFacade",
    "BlackBoxFacade",
    "Callback",
    "HPOFacade",
    "HyperbandFacade",
    "HyperparameterOptimizationFacade",
    "MultiFidelityFacade",
    "RandomFacade",
    "RunHistory",
    "Scenario",
    "StatusType",
    "TrialInfo",
    "TrialKey",
    "TrialValue",
    "__version__",
]
