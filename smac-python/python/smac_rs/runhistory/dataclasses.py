"""SMAC3's trial data classes: ``TrialInfo``, ``TrialValue``, ``TrialKey``, ``TrajectoryItem``."""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ConfigSpace import Configuration


class StatusType(enum.IntEnum):
    """The outcome of a trial, with SMAC3's codes (as written to ``runhistory.json``)."""

    RUNNING = 0
    SUCCESS = 1
    CRASHED = 2
    TIMEOUT = 3
    MEMORYOUT = 4
    #: smac-rs only: the target says the configuration cannot be evaluated at all.
    DONOTEXIST = 5


@dataclass(frozen=True)
class TrialInfo:
    """A trial to run: a configuration on an instance with a seed and a budget."""

    config: Configuration
    instance: str | None = None
    seed: int | None = None
    budget: float | None = None


@dataclass(frozen=True)
class TrialValue:
    """The result of a trial. ``cost`` is a float, or a list with one entry per objective."""

    cost: float | list[float]
    time: float = 0.0
    cpu_time: float = 0.0
    status: StatusType = StatusType.SUCCESS
    starttime: float = 0.0
    endtime: float = 0.0
    additional_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialKey:
    """Identifies a trial in the run history."""

    config_id: int
    instance: str | None = None
    seed: int | None = None
    budget: float | None = None


@dataclass(frozen=True)
class TrajectoryItem:
    """One change of the incumbent(s)."""

    config_ids: list[int]
    costs: list[float | list[float]]
    trial: int
    walltime: float


def _plain(o: Any) -> Any:
    """JSON fallback for numpy scalars and other objects in ``additional_info``."""
    item = getattr(o, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    return str(o)


def config_to_json(config: Configuration) -> str:
    """The active values of a configuration as JSON."""
    return json.dumps(dict(config), default=_plain)


def value_to_json(value: TrialValue, n_objectives: int) -> str:
    """A trial value as the JSON smac-core reads; non-finite or missing costs make a crash."""
    info = dict(value.additional_info or {})
    status = int(value.status)
    costs = value.cost if isinstance(value.cost, (list, tuple)) else [value.cost]
    try:
        costs = [float(c) for c in costs]
    except (TypeError, ValueError):
        costs = []
        if status == StatusType.SUCCESS:
            status = int(StatusType.CRASHED)
            info["error"] = f"the cost {value.cost!r} is not a number"
    if status == StatusType.SUCCESS and not all(math.isfinite(c) for c in costs):
        status = int(StatusType.CRASHED)
        info["error"] = f"the cost {value.cost!r} is not finite"
    if status != StatusType.SUCCESS:
        costs = []
    return json.dumps(
        {
            "cost": costs,
            "time": float(value.time),
            "cpu_time": float(value.cpu_time),
            "status": status,
            "starttime": float(value.starttime),
            "endtime": float(value.endtime),
            "additional_info": info,
        },
        default=_plain,
        allow_nan=False,
    )


def value_from_dict(d: dict[str, Any]) -> TrialValue:
    """A trial value from smac-core's JSON (costs arrive as text so infinity survives)."""
    costs = [float(c) for c in d["cost"]]
    return TrialValue(
        cost=costs[0] if len(costs) == 1 else costs,
        time=d["time"],
        cpu_time=d["cpu_time"],
        status=StatusType(d["status"]),
        starttime=d["starttime"],
        endtime=d["endtime"],
        additional_info=d.get("additional_info") or {},
    )
