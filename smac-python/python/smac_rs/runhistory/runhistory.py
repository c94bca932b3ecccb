"""``RunHistory``: SMAC3's run history API over the trials of a smac-rs run.

The optimizer's own run history lives in Rust; this is a mirror the facade updates after every
told trial (and fills from the run directory when a run continues), so it can be read at any
time, from callbacks too, with real ``ConfigSpace.Configuration`` objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ConfigSpace import Configuration, ConfigurationSpace

from smac_rs.runhistory.dataclasses import StatusType, TrialInfo, TrialKey, TrialValue, _plain


class RunHistory:
    """Every finished trial of the run, keyed by ``TrialKey`` in the order they were told."""

    def __init__(self, configspace: ConfigurationSpace | None = None, n_objectives: int = -1) -> None:
        # SMAC3 builds an empty RunHistory() and load()s into it: the space comes with load,
        # the number of objectives (-1: unknown) from the first trial read.
        self._space = configspace
        self._n_objectives = n_objectives
        self._ids_config: dict[int, Configuration] = {}
        self._config_ids: dict[Configuration, int] = {}
        self._data: dict[TrialKey, TrialValue] = {}
        self._trials_of: dict[int, list[TrialKey]] = {}
        self._running = 0
        self._submitted = 0

    # -- filled by the facade -------------------------------------------------------------
    def _config(self, config_id: int, values: dict[str, Any]) -> Configuration:
        config = self._ids_config.get(config_id)
        if config is None:
            config = Configuration(self._space, values=values)
            self._ids_config[config_id] = config
            self._config_ids[config] = config_id
        return config

    def _add(self, key: TrialKey, value: TrialValue) -> None:
        if key not in self._data:
            self._trials_of.setdefault(key.config_id, []).append(key)
        self._data[key] = value

    # -- SMAC3's API ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[TrialKey]:
        return iter(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getitem__(self, key: TrialKey) -> TrialValue:
        return self._data[key]

    def items(self) -> Iterator[tuple[TrialKey, TrialValue]]:
        """The trials and their values, in the order they were told."""
        return iter(list(self._data.items()))

    def keys(self):  # noqa: D102 - dict protocol
        return self._data.keys()

    def values(self):  # noqa: D102 - dict protocol
        return self._data.values()

    def empty(self) -> bool:
        """Whether no trial has finished."""
        return not self._data

    @property
    def finished(self) -> int:
        """Finished trials."""
        return len(self._data)

    @property
    def running(self) -> int:
        """Trials asked for and not told yet."""
        return self._running

    @property
    def submitted(self) -> int:
        """Trials asked for so far (finished and running)."""
        return self._submitted

    @property
    def ids_config(self) -> dict[int, Configuration]:
        """Configurations by id (ids start at 1, in order of first appearance)."""
        return dict(self._ids_config)

    @property
    def config_ids(self) -> dict[Configuration, int]:
        """Ids by configuration."""
        return dict(self._config_ids)

    def get_config(self, config_id: int) -> Configuration:
        """The configuration with this id."""
        return self._ids_config[config_id]

    def get_config_id(self, config: Configuration) -> int:
        """The id of a configuration of this run."""
        return self._config_ids[config]

    def get_configs(self, sort_by: str | None = None) -> list[Configuration]:
        """Every configuration with a finished trial, optionally sorted by ``"cost"`` or
        ``"num_trials"``."""
        ids = [i for i in self._ids_config if i in self._trials_of]
        if sort_by == "cost":
            ids.sort(key=lambda i: _scalar(self._average(i)))
        elif sort_by == "num_trials":
            ids.sort(key=lambda i: -len(self._trials_of[i]))
        elif sort_by is not None:
            raise ValueError(f"sort_by must be None, 'cost' or 'num_trials', got {sort_by!r}")
        return [self._ids_config[i] for i in ids]

    def get_trials(self, config: Configuration) -> list[TrialInfo]:
        """The finished trials of a configuration."""
        i = self._config_ids.get(config)
        return [
            TrialInfo(config=config, instance=k.instance, seed=k.seed, budget=k.budget)
            for k in self._trials_of.get(i, [])
        ]

    def _average(self, config_id: int) -> float | list[float]:
        keys = self._trials_of.get(config_id, [])
        if not keys:
            return float("inf") if self._n_objectives <= 1 else [float("inf")] * self._n_objectives
        # SMAC3 averages over the trials on the highest budget a configuration was run on.
        top = max((k.budget or 0.0) for k in keys)
        rows = [_as_list(self._data[k].cost) for k in keys if (k.budget or 0.0) == top]
        mean = [sum(col) / len(col) for col in zip(*rows)]
        return mean[0] if len(mean) == 1 else mean

    def get_cost(self, config: Configuration) -> float | list[float]:
        """The average cost of a configuration's finished trials (a list per objective for
        several objectives)."""
        return self._average(self._config_ids[config])

    def average_cost(self, config: Configuration) -> float | list[float]:
        """Same as ``get_cost``."""
        return self.get_cost(config)

    def get_min_cost(self, config: Configuration) -> float:
        """The lowest cost of a configuration's trials (single objective)."""
        keys = self._trials_of.get(self._config_ids[config], [])
        return min((_scalar(self._data[k].cost) for k in keys), default=float("inf"))

    def success_count(self) -> int:
        """Trials that succeeded."""
        return sum(1 for v in self._data.values() if v.status == StatusType.SUCCESS)


    # -- files: SMAC3's runhistory.json --------------------------------------------------
    def save(self, filename: str | Path = "runhistory.json") -> None:
        """Writes the trials in SMAC3 2.x's ``runhistory.json`` format (the one the run
        directory has): ``stats``, ``data`` (one entry per trial), ``configs`` of the trials'
        configurations by id and ``config_origins``."""
        filename = Path(filename)
        if not str(filename).endswith(".json"):
            raise ValueError(f"the run history file must end with .json, got {filename}")
        data = [
            {
                "config_id": int(k.config_id),
                "instance": None if k.instance is None else str(k.instance),
                "seed": None if k.seed is None else int(k.seed),
                "budget": None if k.budget is None else float(k.budget),
                "cost": v.cost,
                "time": v.time,
                "cpu_time": v.cpu_time,
                "status": int(v.status),
                "starttime": v.starttime,
                "endtime": v.endtime,
                "additional_info": v.additional_info,
            }
            for k, v in self._data.items()
        ]
        used = {k.config_id for k in self._data}
        configs = {str(i): dict(c) for i, c in self._ids_config.items() if i in used}
        origins = {str(i): c.origin for i, c in self._ids_config.items()}
        stats = {"submitted": self._submitted, "finished": len(self._data), "running": self._running}
        filename.parent.mkdir(parents=True, exist_ok=True)
        # Python's Infinity tokens for infinite crash costs, as SMAC3 and the run directory write.
        text = json.dumps(
            {"stats": stats, "data": data, "configs": configs, "config_origins": origins},
            indent=2,
            default=_plain,
        )
        filename.write_text(text)

    def load(self, filename: str | Path, configspace: ConfigurationSpace) -> None:
        """Replaces the contents with the trials of a SMAC3 2.x ``runhistory.json`` (written by
        ``save``, by a smac_rs or smac-rs run directory, or by SMAC3)."""
        with open(filename) as fp:
            raw = json.load(fp)
        self._space = configspace
        self._ids_config, self._config_ids, self._data, self._trials_of = {}, {}, {}, {}
        origins = raw.get("config_origins", {})
        for id_, values in raw["configs"].items():
            config = Configuration(configspace, values=values, origin=origins.get(id_))
            self._ids_config[int(id_)] = config
            self._config_ids[config] = int(id_)
        for e in raw["data"]:
            cost = e["cost"]
            if self._n_objectives == -1:
                self._n_objectives = len(cost) if isinstance(cost, list) else 1
            cost = [float(c) for c in cost] if isinstance(cost, list) else float(cost)
            if isinstance(cost, list) and len(cost) == 1:
                cost = cost[0]
            key = TrialKey(int(e["config_id"]), e.get("instance"), e.get("seed"), e.get("budget"))
            self._add(
                key,
                TrialValue(
                    cost=cost,
                    time=e.get("time", 0.0),
                    cpu_time=e.get("cpu_time", 0.0),
                    status=StatusType(e["status"]),
                    starttime=e.get("starttime", 0.0),
                    endtime=e.get("endtime", 0.0),
                    additional_info=e.get("additional_info") or {},
                ),
            )
        stats = raw.get("stats", {})
        self._running = int(stats.get("running", 0))
        self._submitted = int(stats.get("submitted", len(self._data) + self._running))

    def update_from_json(self, filename: str | Path, configspace: ConfigurationSpace) -> None:
        """Adds the trials of a ``runhistory.json`` (configurations known here keep their ids;
        a trial on the same key is overwritten)."""
        other = RunHistory(configspace, self._n_objectives)
        other.load(filename, configspace)
        if self._space is None:
            self._space = configspace
        if self._n_objectives == -1:
            self._n_objectives = other._n_objectives
        for key, value in other.items():
            config = other._ids_config[key.config_id]
            config_id = self._config_ids.get(config)
            if config_id is None:
                config_id = max(self._ids_config, default=0) + 1
                self._ids_config[config_id] = config
                self._config_ids[config] = config_id
            self._add(TrialKey(config_id, key.instance, key.seed, key.budget), value)
        self._submitted += len(other)


def _as_list(cost: float | list[float]) -> list[float]:
    return list(cost) if isinstance(cost, (list, tuple)) else [cost]


def _scalar(cost: float | list[float]) -> float:
    c = _as_list(cost)
    return sum(c) / len(c)
