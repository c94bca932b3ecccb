"""SMAC3's ``smac.runhistory``: the run history and its data classes."""

from smac_rs.runhistory.dataclasses import (
    StatusType,
    TrajectoryItem,
    TrialInfo,
    TrialKey,
    TrialValue,
)
from smac_rs.runhistory.runhistory import RunHistory

__all__ = ["RunHistory", "StatusType", "TrajectoryItem", "TrialInfo", "TrialKey", "TrialValue"]
