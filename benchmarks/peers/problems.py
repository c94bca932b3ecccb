"""The issue-17 benchmark catalogue in Python, for the peer optimizers (SMAC3, Optuna).

The same problems as smac-rs's `src/benchmarks/` (16 functions, mixed problems) plus the
scikit-learn HPO tasks of `benchmarks/hpo_tasks/sklearn_tasks.py`. ConfigSpace 1.2.2
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
#
# Scalar Python that repeats src/benchmarks/functions.rs operation for operation: sums left to
# right (Rust's `Iterator::sum`; NumPy sums pairwise), libm's sin/cos/exp/pow through `math`
# (NumPy may use its own vectorized versions), squares as products and higher powers as `**`
# (Rust's `powf`). The two give the same bits, so a run of the Rust API and one of the Python
# package on these problems can be compared trial by trial (docs/python.md). Until 2026-12-07
# these were NumPy expressions, equal to 1e-9 only; the peers' results in benchmarks/results
# were computed with those.


def _sum(values):
    """Left-to-right float sum."""
    s = 0.0
    for v in values:
        s += v
    return s


def _sq(v):
    return v * v


def branin(x):
    a, b, c, r, s, t = 1.0, 5.1 / (4.0 * PI * PI), 5.0 / PI, 6.0, 10.0, 1.0 / (8.0 * PI)
    x1, x2 = x[0], x[1]
    return a * _sq(x2 - b * x1 * x1 + c * x1 - r) + s * (1.0 - t) * math.cos(x1) + s


_H_ALPHA = [1.0, 1.2, 3.0, 3.2]
_H3_A = [[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]]
_H3_P = [[3689.0, 1170.0, 2673.0], [4699.0, 4387.0, 7470.0], [1091.0, 8732.0, 5547.0], [381.0, 5743.0, 8828.0]]
_H6_A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
_H6_P = [
    [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
    [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
    [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
    [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
]


def _hartmann(x, A, P):
    def term(i):
        inner = _sum(A[i][j] * _sq(x[j] - 1e-4 * P[i][j]) for j in range(len(x)))
        return _H_ALPHA[i] * math.exp(-inner)

    return -_sum(term(i) for i in range(4))


def hartmann3(x):
    return _hartmann(x, _H3_A, _H3_P)


def hartmann6(x):
    return _hartmann(x, _H6_A, _H6_P)


def rosenbrock(x):
    return _sum(100.0 * _sq(x[i + 1] - x[i] * x[i]) + _sq(1.0 - x[i]) for i in range(len(x) - 1))


def ackley(x):
    n = float(len(x))
    sq = _sum(v * v for v in x) / n
    cs = _sum(math.cos(2.0 * PI * v) for v in x) / n
    return -20.0 * math.exp(-0.2 * math.sqrt(sq)) - math.exp(cs) + 20.0 + math.e


def six_hump_camel(x):
    a, b = x[0], x[1]
    return (4.0 - 2.1 * a * a + a**4.0 / 3.0) * a * a + a * b + (-4.0 + 4.0 * b * b) * b * b


def goldstein_price(x):
    a, b = x[0], x[1]
    p = 1.0 + _sq(a + b + 1.0) * (19.0 - 14.0 * a + 3.0 * a * a - 14.0 * b + 6.0 * a * b + 3.0 * b * b)
    q = 30.0 + _sq(2.0 * a - 3.0 * b) * (18.0 - 32.0 * a + 12.0 * a * a + 48.0 * b - 36.0 * a * b + 27.0 * b * b)
    return p * q


def levy(x):
    w = [1.0 + (v - 1.0) / 4.0 for v in x]
    mid = _sum(_sq(wi - 1.0) * (1.0 + 10.0 * _sq(math.sin(PI * wi + 1.0))) for wi in w[:-1])
    last = _sq(w[-1] - 1.0) * (1.0 + _sq(math.sin(2.0 * PI * w[-1])))
    return _sq(math.sin(PI * w[0])) + mid + last


def michalewicz(x):
    return -_sum(math.sin(v) * math.sin((i + 1) * v * v / PI) ** 20.0 for i, v in enumerate(x))


def trid(x):
    return _sum(_sq(v - 1.0) for v in x) - _sum(x[i] * x[i + 1] for i in range(len(x) - 1))


def powell(x):
    def quad(a, b, c, d):
        return _sq(a + 10.0 * b) + 5.0 * _sq(c - d) + (b - 2.0 * c) ** 4.0 + 10.0 * (a - d) ** 4.0

    return _sum(quad(*x[k : k + 4]) for k in range(0, len(x), 4))


def rastrigin(x):
    return 10.0 * len(x) + _sum(v * v - 10.0 * math.cos(2.0 * PI * v) for v in x)


def dixon_price(x):
    return _sq(x[0] - 1.0) + _sum((k + 2) * _sq(2.0 * x[k + 1] * x[k + 1] - x[k]) for k in range(len(x) - 1))


def styblinski_tang(x):
    return 0.5 * _sum(v**4.0 - 16.0 * v * v + 5.0 * v for v in x)


def zakharov(x):
    s = _sum(0.5 * (i + 1) * v for i, v in enumerate(x))
    return _sum(v * v for v in x) + s * s + s**4.0


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
