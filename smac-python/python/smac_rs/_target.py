"""Calling a SMAC3 target function: checking its signature once, then evaluating trials.

The same ``Evaluator`` runs in the optimizer's process (one worker), in the worker processes
(``smac_rs._worker``) and on Dask workers, so a target behaves the same wherever it runs.
It returns the trial value as the JSON smac-core reads: a raised ``Exception`` or a result that
is not a cost (``None``, NaN, a string, the wrong number of objectives) becomes a crashed trial
whose ``additional_info`` carries the reason (and the traceback). ``KeyboardInterrupt`` and
``SystemExit`` are not caught: they end the run.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import time
import traceback
from typing import Any, Callable

from ConfigSpace import Configuration, ConfigurationSpace

from smac_rs.runhistory.dataclasses import StatusType, _plain

#: Keyword arguments SMAC3 passes to targets when they take them.
_KEYWORDS = ("seed", "instance", "budget")


def check_signature(
    target: Callable[..., Any], *, needs_instance: bool, needs_budget: bool
) -> tuple[str, ...]:
    """Checks that ``target`` can be called as SMAC3 calls it; returns the keywords to pass.

    Raises ``TypeError`` naming the problem: not callable, no parameter for the configuration,
    a required parameter SMAC3 would never supply, or no ``instance``/``budget`` parameter
    when the scenario has instances or budgets.
    """
    if not callable(target):
        raise TypeError(f"the target function must be callable, got {type(target).__name__}")
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot read the signature of the target function {name}: {e}") from e
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise TypeError(
            f"the target function {name}{inspect.signature(target)} takes no positional "
            "parameter for the configuration: write it as def f(config, seed: int = 0) -> float"
        )
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    rest = positional[1:] + [p for p in params if p.kind == p.KEYWORD_ONLY]
    for p in rest:
        if p.default is p.empty and p.name not in _KEYWORDS:
            raise TypeError(
                f"the target function {name}{inspect.signature(target)} requires the parameter "
                f"'{p.name}', which SMAC passes no value for (it passes the configuration and "
                "seed, instance, budget when the function takes them)"
            )
        if p.kind == p.POSITIONAL_ONLY:
            raise TypeError(f"the target function {name}: parameter '{p.name}' must be keyword-capable")
    for needed, flag in (("instance", needs_instance), ("budget", needs_budget)):
        if flag and needed not in named and not var_kw:
            what = "instances" if needed == "instance" else "a budget range (min_budget, max_budget)"
            raise TypeError(
                f"the scenario has {what}, so the target function {name}{inspect.signature(target)} "
                f"must take a '{needed}' parameter"
            )
    return tuple(k for k in _KEYWORDS if k in named or var_kw)


def accepts_keyword(target: Callable[..., Any], name: str) -> bool:
    """Whether ``target`` can be called with the keyword argument ``name``."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return True  # unreadable signature: let the call decide
    return any(
        p.kind == p.VAR_KEYWORD or (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        for p in params
    )


def parse_result(result: Any, objectives: list[str]) -> tuple[list[float], dict[str, Any]]:
    """The costs (one per objective, in the scenario's order) and extra information a target
    returned. Raises ``ValueError`` saying what is wrong with the result."""
    info: dict[str, Any] = {}
    # SMAC3: a tuple (cost, additional_info).
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        result, info = result
    if result is None:
        raise ValueError("the target returned None; it must return a float, a list or a dict of costs")
    if isinstance(result, dict):
        missing = [o for o in objectives if o not in result]
        extra = [k for k in result if k not in objectives]
        if missing or extra:
            raise ValueError(
                f"the target returned the objectives {sorted(result)}, the scenario has {objectives}"
            )
        costs_in = [result[o] for o in objectives]
    elif isinstance(result, (str, bytes)):
        raise ValueError(f"the target returned the string {result!r}; it must return a number")
    elif isinstance(result, numbers.Real) and not isinstance(result, bool):
        costs_in = [result]
    elif hasattr(result, "__len__") and hasattr(result, "__iter__"):
        costs_in = list(result)
    else:
        raise ValueError(
            f"the target returned {type(result).__name__} {result!r}; it must return a float, "
            "a list or a dict of costs"
        )
    if len(costs_in) != len(objectives):
        raise ValueError(f"the target returned {len(costs_in)} costs for the objectives {objectives}")
    costs = []
    for o, c in zip(objectives, costs_in):
        if isinstance(c, (str, bytes, bool)) or not isinstance(c, numbers.Real):
            raise ValueError(f"the target returned {c!r} for objective '{o}'; it must be a number")
        c = float(c)
        if not math.isfinite(c):
            raise ValueError(f"the target returned the non-finite cost {c} for objective '{o}'")
        costs.append(c)
    return costs, info


class Evaluator:
    """Evaluates trials of one target: ``evaluator(trial_json) -> value_json``."""

    def __init__(
        self,
        target: Callable[..., Any],
        configspace: ConfigurationSpace,
        objectives: list[str],
        *,
        needs_instance: bool = False,
        needs_budget: bool = False,
    ) -> None:
        self.target = target
        self.configspace = configspace
        self.objectives = list(objectives)
        self.keywords = check_signature(target, needs_instance=needs_instance, needs_budget=needs_budget)
        #: Keyword arguments passed to every call besides seed/instance/budget: SMAC3's
        #: ``data_to_scatter`` while ``optimize(data_to_scatter=...)`` runs.
        self.extra_kwargs: dict[str, Any] = {}
        #: The address-space limit the worker process applies around each trial, if any.
        self.memory_limit_mb: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Scattered data travels on its own (once per worker), never inside the pickled evaluator.
        state = dict(self.__dict__)
        state["extra_kwargs"] = {}
        return state

    def config(self, values: dict[str, Any]) -> Configuration:
        """The ``ConfigSpace.Configuration`` of the given active values."""
        return Configuration(self.configspace, values=values)

    def __call__(self, trial_json: str, extra_kwargs: dict[str, Any] | None = None) -> str:
        trial = json.loads(trial_json)
        config = self.config(trial["config"])
        kwargs = {k: trial[k] for k in self.keywords}
        kwargs.update(self.extra_kwargs if extra_kwargs is None else extra_kwargs)
        return self.evaluate(config, kwargs)

    def evaluate(self, config: Configuration, kwargs: dict[str, Any]) -> str:
        """Calls the target and returns the trial value as JSON."""
        start = time.time()
        cpu_start = time.process_time()
        status = StatusType.SUCCESS
        costs: list[float] = []
        try:
            result = self.target(config, **kwargs)
            costs, info = parse_result(result, self.objectives)
            info = dict(info)
        except Exception as e:  # noqa: BLE001 - every target failure is a crashed trial
            status = StatusType.CRASHED
            info = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            if isinstance(e, MemoryError) and self.memory_limit_mb is not None:
                # As SMAC3 with pynisher: an allocation refused under the limit is MEMORYOUT.
                status = StatusType.MEMORYOUT
                info["error"] = f"the trial exceeded trial_memory_limit={self.memory_limit_mb} MB ({info['error']})"
        end = time.time()
        value = {
            "cost": costs,
            "time": end - start,
            "cpu_time": max(0.0, time.process_time() - cpu_start),
            "status": int(status),
            "starttime": start,
            "endtime": end,
            "additional_info": info,
        }
        try:
            return json.dumps(value, default=_plain, allow_nan=False)
        except ValueError:  # NaN or infinity inside additional_info: keep it readable as text
            value["additional_info"] = {k: repr(v) for k, v in info.items()}
            return json.dumps(value, default=_plain, allow_nan=False)
