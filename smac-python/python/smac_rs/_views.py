"""What the facade shows of its run while it runs: the intensifier and ``smbo`` views that SMAC3
users and callbacks read, and the listener that receives the Rust loop's callbacks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ConfigSpace import Configuration

from smac_rs.runhistory import RunHistory, TrajectoryItem, TrialInfo, TrialKey
from smac_rs.runhistory.dataclasses import value_from_dict
from smac_rs.scenario import Scenario

if TYPE_CHECKING:
    from smac_rs.facade import AbstractFacade


class IntensifierView:
    """The run's intensifier as SMAC3 users read it: ``trajectory``, ``get_incumbent()``,
    ``get_incumbents()``."""

    def __init__(self, facade: AbstractFacade, spec: Any) -> None:
        self._facade = facade
        self._spec = spec
        self.trajectory: list[TrajectoryItem] = []
        self._incumbent_ids: list[int] = []

    @property
    def incumbents(self) -> list[Configuration]:
        """The incumbents (the Pareto front for several objectives)."""
        rh = self._facade.runhistory
        return [rh.get_config(i) for i in self._incumbent_ids]

    def get_incumbents(self, sort_by: str | None = None) -> list[Configuration]:
        """The incumbents (the Pareto front for several objectives)."""
        return self.incumbents

    def get_incumbent(self) -> Configuration | None:
        """The incumbent of a single-objective run."""
        if self._facade.scenario.count_objectives() > 1:
            raise ValueError("get_incumbent is for one objective; use get_incumbents for several")
        inc = self.incumbents
        return inc[0] if inc else None


class SMBOView:
    """What callbacks receive as ``smbo``."""

    def __init__(self, facade: AbstractFacade) -> None:
        self._facade = facade

    @property
    def runhistory(self) -> RunHistory:  # noqa: D102
        return self._facade.runhistory

    @property
    def intensifier(self) -> IntensifierView:  # noqa: D102
        return self._facade.intensifier

    @property
    def scenario(self) -> Scenario:  # noqa: D102
        return self._facade.scenario

    @property
    def incumbent(self) -> Configuration | list[Configuration] | None:  # noqa: D102
        return self._facade.incumbent

    @property
    def remaining_trials(self) -> int:
        """Trials that may still be asked for."""
        return max(0, self._facade.scenario.n_trials - self._facade.runhistory.submitted)


class _Listener:
    """Receives the Rust loop's callbacks: updates the mirror, calls the user's callbacks."""

    def __init__(self, facade: AbstractFacade) -> None:
        self._f = facade
        # Read once by the Rust side: the per-configuration hooks cost a call into Python each.
        self.selector_hooks = bool(facade._callbacks)

    def _info(self, trial_json: str) -> TrialInfo:
        return self._f._trial_info(json.loads(trial_json))

    def on_start(self) -> None:
        for cb in self._f._callbacks:
            cb.on_start(self._f._smbo)

    def on_ask_start(self) -> None:
        for cb in self._f._callbacks:
            cb.on_iteration_start(self._f._smbo)
            cb.on_ask_start(self._f._smbo)

    def on_ask_end(self, trial_json: str) -> None:
        rh = self._f.runhistory
        rh._running += 1
        rh._submitted += 1
        if self._f._callbacks:
            info = self._info(trial_json)
            for cb in self._f._callbacks:
                cb.on_ask_end(self._f._smbo, info)

    def on_next_configurations_start(self) -> None:
        for cb in self._f._callbacks:
            cb.on_next_configurations_start(self._f._smbo)

    def on_next_configurations_end(self, config_json: str) -> None:
        config = Configuration(self._f._scenario.configspace, values=json.loads(config_json))
        for cb in self._f._callbacks:
            cb.on_next_configurations_end(self._f._smbo, config)

    def on_tell_start(self, trial_json: str, value_json: str) -> None:
        if self._f._callbacks:
            info, value = self._info(trial_json), value_from_dict(json.loads(value_json))
            for cb in self._f._callbacks:
                cb.on_tell_start(self._f._smbo, info, value)

    def on_tell_end(self, trial_json: str, value_json: str, incumbents: list[int], trajectory_json: str) -> bool:
        t = json.loads(trial_json)
        info = self._f._trial_info(t)
        value = value_from_dict(json.loads(value_json))
        rh = self._f.runhistory
        rh._add(TrialKey(t["config_id"], t["instance"], t["seed"], t["budget"]), value)
        rh._running = max(0, rh._running - 1)
        self._f.intensifier._incumbent_ids = list(incumbents)
        self._f.intensifier.trajectory.extend(_trajectory(json.loads(trajectory_json)))
        go_on = True
        for cb in self._f._callbacks:
            if cb.on_tell_end(self._f._smbo, info, value) is False:
                go_on = False
            cb.on_iteration_end(self._f._smbo)
        return go_on

    def on_end(self) -> None:
        for cb in self._f._callbacks:
            cb.on_end(self._f._smbo)


def _trajectory(entries: list[dict[str, Any]]) -> list[TrajectoryItem]:
    return [TrajectoryItem(e["config_ids"], e["costs"], e["trial"], e["walltime"]) for e in entries]
