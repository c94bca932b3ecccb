"""Samples a ConfigSpace 1.2 space with an Optuna trial (define-by-run), honouring conditions.

Parameters are suggested in the space's topological order, and a conditional parameter is only
suggested when its parent conditions hold on the values chosen so far (ConfigSpace evaluates them,
so every condition kind — Equals, NotEquals, In, LessThan, GreaterThan and And/Or conjunctions of
them — means exactly what it means in ConfigSpace). Inactive parameters are never suggested, so
Optuna's TPE sees the same conditional structure as SMAC3.

Mapping: floats -> suggest_float (log flag kept), integers -> suggest_int (log flag kept),
categoricals -> suggest_categorical, ordinals -> suggest_int over the index of the sequence (keeps
their order, which suggest_categorical would lose), constants -> their value, not suggested.
Normal/Beta priors have no Optuna counterpart: those parameters are sampled over their bounds.
Forbidden clauses cannot be expressed in Optuna: a configuration that violates one is reported to
the caller (`is_forbidden`), which rejects the trial and asks again (see run_peers.py).
"""

from __future__ import annotations

from typing import Any

import ConfigSpace as CS
from ConfigSpace.hyperparameters import (
    CategoricalHyperparameter,
    Constant,
    FloatHyperparameter,
    IntegerHyperparameter,
    OrdinalHyperparameter,
)
from ConfigSpace.types import NotSet


def _python(value: Any) -> Any:
    """Plain Python scalars: Optuna's categorical choices must be None/bool/int/float/str."""
    return value.item() if hasattr(value, "item") else value


def is_active(cs: CS.ConfigurationSpace, name: str, values: dict[str, Any]) -> bool:
    """Whether `name` is active given the values chosen so far (absent parents are inactive).

    Several conditions on one child are all required, as ConfigSpace requires them.
    """
    conditions = cs.parent_conditions_of[name]
    if not conditions:
        return True
    full = {n: values.get(n, NotSet) for n in cs.keys()}
    return all(c.satisfied_by_value(full) for c in conditions)


def suggest(trial: Any, hp: Any) -> Any:
    """Suggests one parameter's value with `trial` (an optuna.Trial)."""
    if isinstance(hp, Constant):
        return hp.value
    if isinstance(hp, CategoricalHyperparameter):
        return trial.suggest_categorical(hp.name, [_python(c) for c in hp.choices])
    if isinstance(hp, OrdinalHyperparameter):
        index = trial.suggest_int(hp.name, 0, len(hp.sequence) - 1)
        return _python(hp.sequence[index])
    if isinstance(hp, IntegerHyperparameter):
        return trial.suggest_int(hp.name, int(hp.lower), int(hp.upper), log=bool(hp.log))
    if isinstance(hp, FloatHyperparameter):
        return trial.suggest_float(hp.name, float(hp.lower), float(hp.upper), log=bool(hp.log))
    raise TypeError(f"no Optuna counterpart for {type(hp).__name__} {hp.name}")


def sample(trial: Any, cs: CS.ConfigurationSpace) -> dict[str, Any]:
    """One configuration of `cs` chosen by `trial`, inactive parameters absent."""
    values: dict[str, Any] = {}
    for name in cs.keys():  # topological order: parents before children
        if is_active(cs, name, values):
            values[name] = suggest(trial, cs[name])
    return values


def is_forbidden(cs: CS.ConfigurationSpace, values: dict[str, Any]) -> bool:
    """Whether `values` violates one of the space's forbidden clauses."""
    return any(f.is_forbidden_value(values) for f in cs.forbidden_clauses)
