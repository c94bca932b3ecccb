"""The issue-17 benchmark catalogue in Python, for the peer optimizers (SMAC3, Optuna).

The same problems as smac-rs's `src/benchmarks/` (16 functions, mixed problems) plus the
scikit-learn HPO tasks of `benchmarks/hpo_tasks/sklearn_tasks.py`. ConfigSpace 1.2.2 and numpy
only (scikit-learn for kind "hpo", imported on first use). `tests/bench_problems_agree.rs` checks
that both languages give the same spaces and values.

Interface (notes/bench-spec.md): PROBLEMS: dict[str, Problem]; a Problem has .name, .kind
("function" | "mixed" | "hpo"), .space() -> ConfigurationSpace, .evaluate(config: dict) -> float
(inactive hyperparameters absent), .optimum (float, None for hpo).

Command line (used by the Rust test):
  python problems.py --list            JSON list of {"name", "kind", "optimum"}
  python problems.py --space NAME      the problem's ConfigSpace JSON
  python problems.py --eval NAME       one JSON config per stdin line -> one JSON value per line
  python problems.py --spaces          {NAME: ConfigSpace JSON object} for every problem
  python problems.py --eval-batch      one {"problem": NAME, "config": {...}} per stdin line -> one value per line
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
from ConfigSpace import (
    Categorical,
    ConfigurationSpace,
    EqualsCondition,
    Float,
    Integer,
    OrdinalHyperparameter,
)

PI = math.pi

# ----------------------------------------------------------------------------- the 16 functions


def branin(x):
    a, b, c, r, s, t = 1.0, 5.1 / (4.0 * PI * PI), 5.0 / PI, 6.0, 10.0, 1.0 / (8.0 * PI)
    x1, x2 = x[0], x[1]
    return a * (x2 - b * x1 * x1 + c * x1 - r) ** 2 + s * (1.0 - t) * math.cos(x1) + s


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann(x, A, P):
    x = np.asarray(x, dtype=float)
    inner = (A * (x[None, :] - P) ** 2).sum(axis=1)
    return float(-(_H_ALPHA * np.exp(-inner)).sum())


def hartmann3(x):
    return _hartmann(x, _H3_A, _H3_P)


def hartmann6(x):
    return _hartmann(x, _H6_A, _H6_P)


def rosenbrock(x):
    x = np.asarray(x, dtype=float)
    return float((100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum())


def ackley(x):
    x = np.asarray(x, dtype=float)
    n = len(x)
    sq = (x * x).sum() / n
    cs = np.cos(2.0 * PI * x).sum() / n
    return float(-20.0 * math.exp(-0.2 * math.sqrt(sq)) - math.exp(cs) + 20.0 + math.e)


def six_hump_camel(x):
    a, b = x[0], x[1]
    return (4.0 - 2.1 * a * a + a**4 / 3.0) * a * a + a * b + (-4.0 + 4.0 * b * b) * b * b


def goldstein_price(x):
    a, b = x[0], x[1]
    p = 1.0 + (a + b + 1.0) ** 2 * (19.0 - 14.0 * a + 3.0 * a * a - 14.0 * b + 6.0 * a * b + 3.0 * b * b)
    q = 30.0 + (2.0 * a - 3.0 * b) ** 2 * (18.0 - 32.0 * a + 12.0 * a * a + 48.0 * b - 36.0 * a * b + 27.0 * b * b)
    return p * q


def levy(x):
    w = 1.0 + (np.asarray(x, dtype=float) - 1.0) / 4.0
    mid = ((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(PI * w[:-1] + 1.0) ** 2)).sum()
    last = (w[-1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * PI * w[-1]) ** 2)
    return float(math.sin(PI * w[0]) ** 2 + mid + last)


def michalewicz(x):
    x = np.asarray(x, dtype=float)
    i = np.arange(1, len(x) + 1)
    return float(-(np.sin(x) * np.sin(i * x * x / PI) ** 20).sum())


def trid(x):
    x = np.asarray(x, dtype=float)
    return float(((x - 1.0) ** 2).sum() - (x[1:] * x[:-1]).sum())


def powell(x):
    x = np.asarray(x, dtype=float).reshape(-1, 4)
    a, b, c, d = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    return float(((a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4).sum())


def rastrigin(x):
    x = np.asarray(x, dtype=float)
    return float(10.0 * len(x) + (x * x - 10.0 * np.cos(2.0 * PI * x)).sum())


def dixon_price(x):
    x = np.asarray(x, dtype=float)
    i = np.arange(2, len(x) + 1)
    return float((x[0] - 1.0) ** 2 + (i * (2.0 * x[1:] ** 2 - x[:-1]) ** 2).sum())


def styblinski_tang(x):
    x = np.asarray(x, dtype=float)
    return float(0.5 * (x**4 - 16.0 * x * x + 5.0 * x).sum())


def zakharov(x):
    x = np.asarray(x, dtype=float)
    s = (0.5 * np.arange(1, len(x) + 1) * x).sum()
    return float((x * x).sum() + s * s + s**4)


# name, function, bounds (one pair, or one pair per input), dim, optimum: as src/benchmarks/functions.rs.
_FUNCTIONS = [
    ("branin", branin, [(-5.0, 10.0), (0.0, 15.0)], 0.397887357729738),
    ("six_hump_camel", six_hump_camel, [(-3.0, 3.0), (-2.0, 2.0)], -1.031628453489877),
    ("goldstein_price", goldstein_price, [(-2.0, 2.0)] * 2, 3.0),
    ("hartmann3", hartmann3, [(0.0, 1.0)] * 3, -3.862779787332663),
    ("rosenbrock4", rosenbrock, [(-5.0, 10.0)] * 4, 0.0),
    ("ackley5", ackley, [(-32.768, 32.768)] * 5, 0.0),
    ("levy5", levy, [(-10.0, 10.0)] * 5, 0.0),
    ("michalewicz5", michalewicz, [(0.0, PI)] * 5, -4.6876581790881495),
    ("hartmann6", hartmann6, [(0.0, 1.0)] * 6, -3.32236801141551),
    ("trid6", trid, [(-36.0, 36.0)] * 6, -50.0),
    ("powell8", powell, [(-4.0, 5.0)] * 8, 0.0),
    ("rastrigin8", rastrigin, [(-5.12, 5.12)] * 8, 0.0),
    ("dixon_price10", dixon_price, [(-10.0, 10.0)] * 10, 0.0),
    ("styblinski_tang10", styblinski_tang, [(-5.0, 5.0)] * 10, -391.6616570377142),
    ("zakharov10", zakharov, [(-5.0, 10.0)] * 10, 0.0),
    ("ackley20", ackley, [(-32.768, 32.768)] * 20, 0.0),
]


class Problem:
    """A benchmark problem: name, kind, space, objective and optimum (None when unknown)."""

    def __init__(self, name, kind, space_fn, evaluate_fn, optimum):
        self.name = name
        self.kind = kind
        self._space_fn = space_fn
        self._evaluate_fn = evaluate_fn
        self.optimum = optimum

    def space(self) -> ConfigurationSpace:
        return self._space_fn()

    def evaluate(self, config: dict) -> float:
        return float(self._evaluate_fn(dict(config)))

    def __repr__(self):
        return f"Problem({self.name!r}, kind={self.kind!r}, optimum={self.optimum!r})"


def _function_problem(name, f, bounds, optimum):
    def space():
        cs = ConfigurationSpace(name=name)
        # No explicit default: ConfigSpace's midpoint, like smac-rs's BenchFunction::configspace.
        cs.add([Float(f"x{i}", (lo, hi)) for i, (lo, hi) in enumerate(bounds)])
        return cs

    def evaluate(config):
        return f([float(config[f"x{i}"]) for i in range(len(bounds))])

    return Problem(name, "function", space, evaluate, optimum)


# ----------------------------------------------------------------------------- mixed problems


def _mixed_conditional_space():
    cs = ConfigurationSpace(name="mixed_conditional")
    kernel = Categorical("kernel", ["linear", "poly", "rbf"], default="rbf")
    cs.add(
        [
            kernel,
            Integer("degree", (1, 5), default=2),
            Float("gamma", (1e-4, 10.0), log=True, default=0.1),
            Float("C", (1e-3, 1e3), log=True, default=1.0),
            Categorical("shrinking", [True, False], default=True),
        ]
    )
    cs.add([EqualsCondition(cs["degree"], kernel, "poly"), EqualsCondition(cs["gamma"], kernel, "rbf")])
    return cs


def _as_bool(v):
    if isinstance(v, str):
        return v.lower() == "true"
    return bool(v)


def mixed_conditional(c):
    u = math.log10(c["C"])
    base = (u - 1.5) ** 2 / 4.0 + (0.0 if _as_bool(c["shrinking"]) else 0.3)
    k = c["kernel"]
    if k == "linear":
        return base + 1.0
    if k == "poly":
        return base + 0.5 + 0.25 * (c["degree"] - 3.0) ** 2
    if k == "rbf":
        return base + (math.log10(c["gamma"]) + 1.0) ** 2 / 2.0
    raise ValueError(f"mixed_conditional: kernel {k!r}")


_BRANIN_SHIFTS = {"s0": (0.0, 0.0), "s1": (0.275, 0.0), "s2": (0.475, 0.1)}


def _branin_mixed_space():
    cs = ConfigurationSpace(name="branin_mixed")
    cs.add(
        [
            Float("x0", (-5.0, 10.0), default=2.5),
            Integer("x1", (0, 15), default=8),
            Categorical("shift", list(_BRANIN_SHIFTS), default="s0"),
        ]
    )
    return cs


def branin_mixed(c):
    delta, penalty = _BRANIN_SHIFTS[c["shift"]]
    return branin([float(c["x0"]), float(c["x1"]) + delta]) + penalty


def _model_choice_space():
    cs = ConfigurationSpace(name="model_choice")
    family = Categorical("family", ["linear", "tree", "net"], default="tree")
    penalty = Categorical("penalty", ["l1", "l2", "elasticnet"], default="l2")
    cs.add(
        [
            family,
            Float("alpha", (1e-6, 1.0), log=True, default=1e-3),
            penalty,
            Float("l1_ratio", (0.0, 1.0), default=0.5),
            Integer("n_estimators", (10, 1000), log=True, default=100),
            Integer("max_depth", (1, 20), default=10),
            Categorical("criterion", ["gini", "entropy"], default="gini"),
            Integer("n_layers", (1, 6), default=4),
            OrdinalHyperparameter("width", [16, 32, 64, 128, 256], default_value=64),
            Categorical("activation", ["relu", "tanh", "logistic"], default="tanh"),
            Float("lr", (1e-6, 0.1), log=True, default=1e-4),
        ]
    )
    by_family = [
        ("alpha", "linear"),
        ("penalty", "linear"),
        ("n_estimators", "tree"),
        ("max_depth", "tree"),
        ("criterion", "tree"),
        ("n_layers", "net"),
        ("width", "net"),
        ("activation", "net"),
        ("lr", "net"),
    ]
    cs.add([EqualsCondition(cs[child], family, fam) for child, fam in by_family])
    cs.add(EqualsCondition(cs["l1_ratio"], penalty, "elasticnet"))
    return cs


def model_choice(c):
    fam = c["family"]
    if fam == "linear":
        pen = {"l1": 0.05, "l2": 0.1}.get(c["penalty"])
        if pen is None:
            pen = 0.2 * (c["l1_ratio"] - 0.3) ** 2
        return 0.3 + (math.log10(c["alpha"]) + 4.0) ** 2 / 10.0 + pen
    if fam == "tree":
        crit = {"entropy": 0.0, "gini": 0.02}[c["criterion"]]
        return (
            0.1
            + math.log10(c["n_estimators"] / 300.0) ** 2 / 4.0
            + (c["max_depth"] - 8.0) ** 2 / 100.0
            + crit
        )
    if fam == "net":
        width = {16: 0.2, 32: 0.1, 64: 0.03, 128: 0.0, 256: 0.04}[int(c["width"])]
        act = {"relu": 0.0, "tanh": 0.05, "logistic": 0.15}[c["activation"]]
        return (c["n_layers"] - 2.0) ** 2 / 20.0 + width + act + (math.log10(c["lr"]) + 2.0) ** 2 / 8.0
    raise ValueError(f"model_choice: family {fam!r}")


_MIXED = [
    ("mixed_conditional", _mixed_conditional_space, mixed_conditional, 0.0),
    ("branin_mixed", _branin_mixed_space, branin_mixed, 0.397887357729738),
    ("model_choice", _model_choice_space, model_choice, 0.0),
]

# ----------------------------------------------------------------------------- HPO tasks


def _hpo_problem(name):
    def task():
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hpo_tasks"))
        from sklearn_tasks import TASKS

        return TASKS[name]

    return Problem(name, "hpo", lambda: task().space(), lambda c: task().evaluate(c), None)


HPO_TASK_NAMES = ["svc_cancer", "rf_wine", "mlp_digits"]

PROBLEMS: dict[str, Problem] = {}
for _name, _f, _bounds, _opt in _FUNCTIONS:
    PROBLEMS[_name] = _function_problem(_name, _f, _bounds, _opt)
for _name, _space, _f, _opt in _MIXED:
    PROBLEMS[_name] = Problem(_name, "mixed", _space, _f, _opt)
for _name in HPO_TASK_NAMES:
    PROBLEMS[_name] = _hpo_problem(_name)


def main(argv):
    if argv == ["--list"]:
        print(json.dumps([{"name": p.name, "kind": p.kind, "optimum": p.optimum} for p in PROBLEMS.values()]))
        return 0
    if argv == ["--spaces"]:
        print(json.dumps({name: p.space().to_serialized_dict() for name, p in PROBLEMS.items()}))
        return 0
    if argv == ["--eval-batch"]:
        for line in sys.stdin:
            if line.strip():
                q = json.loads(line)
                print(json.dumps(PROBLEMS[q["problem"]].evaluate(q["config"])), flush=True)
        return 0
    if len(argv) != 2 or argv[0] not in ("--space", "--eval") or argv[1] not in PROBLEMS:
        print("usage: problems.py --list | --space NAME | --eval NAME | --eval-batch", file=sys.stderr)
        return 2
    p = PROBLEMS[argv[1]]
    if argv[0] == "--space":
        print(json.dumps(p.space().to_serialized_dict(), indent=2))
        return 0
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(p.evaluate(json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
