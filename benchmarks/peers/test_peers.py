"""Tests of the peers' harness: ConfigSpace -> Optuna conversion, run_peers' JSON lines, table.py.

Cheap on purpose (no SMAC3 run): Optuna's random and TPE samplers on small spaces.
Run: .venv-python/bin/python -m pytest -q benchmarks/peers/test_peers.py
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from dataclasses import dataclass
from typing import Any

import ConfigSpace as CS
import optuna
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import configspace_optuna as conv  # noqa: E402
import run_peers  # noqa: E402
import table  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def conditional_space() -> CS.ConfigurationSpace:
    """kernel picks which children are active; nested, In, And and Or conditions; log and ordinal."""
    cs = CS.ConfigurationSpace(seed=0)
    kernel = CS.Categorical("kernel", ["linear", "poly", "rbf", "sigmoid"])
    degree = CS.Integer("degree", (1, 5))
    gamma = CS.Float("gamma", (1e-4, 10.0), log=True)
    coef0 = CS.Float("coef0", (-1.0, 1.0))
    size = CS.OrdinalHyperparameter("size", ["small", "medium", "large"])
    # active iff kernel is poly and size is above small: an And of two parents
    boost = CS.Integer("boost", (1, 1000), log=True)
    # active iff kernel is linear or degree == 2 (a child of a conditional parent)
    tol = CS.Float("tol", (1e-6, 1e-2), log=True)
    shrinking = CS.Categorical("shrinking", [True, False])
    cs.add([kernel, degree, gamma, coef0, size, boost, tol, shrinking, CS.Constant("version", "v1")])
    cs.add(
        [
            CS.EqualsCondition(degree, kernel, "poly"),
            CS.InCondition(gamma, kernel, ["rbf", "poly", "sigmoid"]),
            CS.InCondition(coef0, kernel, ["poly", "sigmoid"]),
            CS.AndConjunction(CS.EqualsCondition(boost, kernel, "poly"), CS.GreaterThanCondition(boost, size, "small")),
            CS.OrConjunction(CS.EqualsCondition(tol, kernel, "linear"), CS.EqualsCondition(tol, degree, 2)),
        ]
    )
    return cs


def expected_active(c: dict[str, Any]) -> set[str]:
    """The active parameters, worked out by hand from the conditions above."""
    active = {"kernel", "size", "shrinking", "version"}
    k = c["kernel"]
    if k == "poly":
        active |= {"degree", "gamma", "coef0"}
        if c["size"] != "small":
            active.add("boost")
        if c["degree"] == 2:
            active.add("tol")
    if k in ("rbf", "sigmoid"):
        active.add("gamma")
    if k == "sigmoid":
        active.add("coef0")
    if k == "linear":
        active.add("tol")
    return active


def test_conditional_space_is_sampled_with_only_active_parameters() -> None:
    cs = conditional_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_kernels, saw_boost, saw_nested_tol = set(), False, False
    for _ in range(300):
        trial = study.ask()
        config = conv.sample(trial, cs)
        assert set(config) == expected_active(config)
        # Optuna was asked for exactly the active, non-constant parameters
        assert set(trial.params) == set(config) - {"version"}
        CS.Configuration(cs, values=config).check_valid_configuration()  # ConfigSpace agrees
        seen_kernels.add(config["kernel"])
        saw_boost |= "boost" in config
        saw_nested_tol |= config["kernel"] == "poly" and "tol" in config
        study.tell(trial, 0.0)
    assert seen_kernels == {"linear", "poly", "rbf", "sigmoid"}
    assert saw_boost and saw_nested_tol


def test_types_log_flags_and_bounds_are_kept() -> None:
    cs = conditional_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
    dists: dict[str, Any] = {}
    for _ in range(200):
        trial = study.ask()
        config = conv.sample(trial, cs)
        for name, value in config.items():
            hp = cs[name]
            if isinstance(hp, CS.UniformIntegerHyperparameter):
                assert isinstance(value, int) and hp.lower <= value <= hp.upper
            elif isinstance(hp, CS.UniformFloatHyperparameter):
                assert isinstance(value, float) and hp.lower <= value <= hp.upper
            elif isinstance(hp, CS.OrdinalHyperparameter):
                assert value in hp.sequence
            elif isinstance(hp, CS.CategoricalHyperparameter):
                assert value in hp.choices and type(value) is type(hp.choices[0])
        dists.update(trial.distributions)
        study.tell(trial, 0.0)
    D = optuna.distributions
    assert dists["gamma"] == D.FloatDistribution(1e-4, 10.0, log=True)
    assert dists["coef0"] == D.FloatDistribution(-1.0, 1.0, log=False)
    assert dists["tol"] == D.FloatDistribution(1e-6, 1e-2, log=True)
    assert dists["degree"] == D.IntDistribution(1, 5, log=False)
    assert dists["boost"] == D.IntDistribution(1, 1000, log=True)
    assert dists["size"] == D.IntDistribution(0, 2)  # ordinal: its index, in order
    assert dists["kernel"] == D.CategoricalDistribution(["linear", "poly", "rbf", "sigmoid"])
    assert dists["shrinking"] == D.CategoricalDistribution([True, False])
    assert "version" not in dists


def test_forbidden_clauses_are_detected() -> None:
    cs = conditional_space()
    rbf = CS.ForbiddenEqualsClause(cs["kernel"], "rbf")
    cs.add(CS.ForbiddenAndConjunction(rbf, CS.ForbiddenEqualsClause(cs["shrinking"], False)))
    assert conv.is_forbidden(cs, {"kernel": "rbf", "shrinking": False, "gamma": 1.0})
    assert not conv.is_forbidden(cs, {"kernel": "rbf", "shrinking": True, "gamma": 1.0})


@dataclass
class Sphere:
    """A 2-d test problem with the catalogue's interface; minimum 0 at (1, -2)."""

    name: str = "sphere2"
    kind: str = "function"
    optimum: float | None = 0.0

    def space(self) -> CS.ConfigurationSpace:
        cs = CS.ConfigurationSpace(seed=0)
        cs.add([CS.Float("x0", (-5.0, 5.0)), CS.Float("x1", (-5.0, 5.0))])
        return cs

    def evaluate(self, config: dict) -> float:
        return (config["x0"] - 1) ** 2 + (config["x1"] + 2) ** 2


def test_optuna_run_writes_a_bench_line_and_skip_done_resumes(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(run_peers, "catalogue", lambda: {"sphere2": Sphere()})
    out = tmp_path / "peers.jsonl"
    args = ["--optimizers", "optuna_tpe", "--problems", "functions", "--seeds", "0..2", "--trials", "5"]
    args += ["--out", str(out)]
    run_peers.main(args + ["--skip-done"])
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert [(r["optimizer"], r["problem"], r["seed"]) for r in lines] == [("optuna_tpe", "sphere2", s) for s in (0, 1)]
    keys = {"optimizer", "problem", "seed", "n_trials", "best", "regret", "regret_at", "optimum", "wall_s"}
    keys |= {"default_in_design", "n_workers"}
    for r in lines:
        assert set(r) == keys
        assert r["n_trials"] == 5 and r["n_workers"] == 1 and r["default_in_design"] is False
        assert list(r["regret_at"]) == ["5"] and r["regret_at"]["5"] == r["regret"] == r["best"] - 0.0
    # same seed, same sampler: the same result (deterministic target, seeded TPE)
    again = run_peers.run_one(("optuna_tpe", "sphere2", 0, 5))
    assert again["best"] == lines[0]["best"]
    run_peers.main(args + ["--seeds", "0..3", "--skip-done"])  # only seed 2 is new
    assert [json.loads(s)["seed"] for s in out.read_text().splitlines()] == [0, 1, 2]


def test_forbidden_samples_are_rejected_and_resampled(monkeypatch: Any) -> None:
    monkeypatch.setattr(run_peers, "catalogue", lambda: {"sphere2": Sphere()})
    calls = []
    real = conv.is_forbidden
    monkeypatch.setattr(run_peers, "is_forbidden", lambda cs, v: calls.append(1) or len(calls) % 2 == 1 or real(cs, v))
    line = run_peers.run_one(("optuna_tpe", "sphere2", 0, 5))
    assert len(calls) == 10  # every other sample rejected: 5 counted trials took 10 samples
    assert line["n_trials"] == 5


def test_checkpoints_and_seed_ranges() -> None:
    assert run_peers.checkpoints(100) == [10, 25, 50, 100]
    assert run_peers.checkpoints(30) == [10, 25, 30]
    assert run_peers.parse_seeds("0..10") == list(range(10))
    assert run_peers.parse_seeds("3,5") == [3, 5]


def p75(xs: list[float]) -> float:
    """Independent of table.percentile: statistics' inclusive quartiles interpolate the same way."""
    return xs[0] if len(xs) == 1 else statistics.quantiles(xs, n=4, method="inclusive")[2]


def synthetic() -> dict[tuple[str, str], list[float]]:
    """(optimizer, problem) -> regret at 100 trials per seed, with uneven seed counts and gaps."""
    return {
        ("hpo", "branin"): [0.1, 0.2, 0.3, 0.9, 0.5],
        ("smac3_hpo", "branin"): [0.3, 0.4, 0.2, 0.25, 0.6],
        ("optuna_tpe", "branin"): [0.15, 0.5, 0.35],  # fewer seeds
        ("bb", "branin"): [1e-3, 2e-3],
        ("smac3_bb", "branin"): [1e-4, 5e-4, 3e-4],
        ("hpo", "hartmann6"): [0.5, 0.7, 0.6, 0.4],
        ("smac3_hpo", "hartmann6"): [0.2, 0.3, 0.25, 0.28],
        ("bb", "hartmann6"): [0.01, 0.02],  # smac3_bb has no runs here
        ("hpo", "svm_digits"): [0.02, 0.03],  # an HPO task; optuna has no runs
        ("smac3_hpo", "svm_digits"): [0.025, 0.04],
    }


def write_lines(path: Any, data: dict, n_workers: int = 1) -> None:
    """Appends one bench JSON line per (optimizer, problem, seed); svm_digits is an HPO task."""
    with open(path, "a") as f:
        for (opt, prob), values in data.items():
            for seed, v in enumerate(values):
                optimum = None if prob == "svm_digits" else 0.0
                line = {"optimizer": opt, "problem": prob, "seed": seed, "n_trials": 100, "best": v, "regret": v,
                        "regret_at": {"10": v * 3, "25": v * 2, "50": v * 1.5, "100": v}, "optimum": optimum,
                        "wall_s": 1.0, "default_in_design": False, "n_workers": n_workers}
                f.write(json.dumps(line) + "\n")


def test_table_medians_percentiles_and_criteria(tmp_path: Any) -> None:
    data = synthetic()
    write_lines(tmp_path / "all.jsonl", data)
    text, judged = table.quality_table(table.load(str(tmp_path)))
    header = next(r for r in text.splitlines() if r.startswith("| problem |")).strip("| ").split(" | ")
    for (opt, prob), xs in data.items():
        s = judged[prob]["stats"][opt]
        assert s["n"] == len(xs) and s["default"] is False
        assert math.isclose(s["median"], statistics.median(xs)) and math.isclose(s["p75"], p75(xs))
        row = next(r for r in text.splitlines() if r.startswith(f"| {prob}")).strip("| ").split(" | ")
        shown_median, rest = row[header.index(opt)].split(" / ")
        shown_p75, n = rest.split(" (")
        assert math.isclose(float(shown_median), statistics.median(xs), rel_tol=5e-3)  # 3 digits shown
        assert math.isclose(float(shown_p75), p75(xs), rel_tol=5e-3) and n == f"{len(xs)})"
    med = {k: statistics.median(v) for k, v in data.items()}
    q75 = {k: p75(v) for k, v in data.items()}
    best = min(med["smac3_hpo", "branin"], med["optuna_tpe", "branin"])
    best75 = min(q75["smac3_hpo", "branin"], q75["optuna_tpe", "branin"])
    assert judged["branin"]["hpo_le_best"] == (med["hpo", "branin"] <= best) is True
    assert judged["branin"]["hpo_within_2x"] == (med["hpo", "branin"] <= 2 * best)
    assert judged["branin"]["hpo_p75_le_best"] == (q75["hpo", "branin"] <= best75) is False
    assert judged["branin"]["bb_le_smac3"] == (med["bb", "branin"] <= med["smac3_bb", "branin"]) is False
    assert math.isclose(judged["branin"]["ratio"], med["hpo", "branin"] / best)
    # a side without runs is not judged
    assert judged["hartmann6"]["hpo_le_best"] is None and judged["hartmann6"]["bb_le_smac3"] is None
    assert judged["svm_digits"]["hpo_le_best"] is None
    assert "| svm_digits (best cost) |" in text
    rows = [r.split(" |")[0] for r in text.splitlines() if r.startswith("| ") and "---" not in r][1:]
    assert rows == ["| branin", "| hartmann6", "| svm_digits (best cost)"]  # catalogue order, HPO tasks last
    assert "- HPO median ≤ best peer: 1/1 problems (100%); target ≥ 80%: met." in text
    assert "- HPO p75 ≤ best peer p75: 0/1 problems (0%); target ≥ 80%: not met." in text


def test_parallel_ratios(tmp_path: Any) -> None:
    seq = {("hpo", "branin"): [0.1, 0.2, 0.3], ("hpo", "hartmann6"): [0.4, 0.5], ("hpo", "svm_digits"): [0.1]}
    par = {("hpo", "branin"): [0.3, 0.3, 0.1], ("hpo", "hartmann6"): [0.6, 0.4], ("hpo", "svm_digits"): [0.5]}
    write_lines(tmp_path / "seq.jsonl", seq)
    write_lines(tmp_path / "par.jsonl", par, n_workers=8)
    text, result = table.parallel_table(table.load(str(tmp_path)))
    ratios = [statistics.median(par[k]) / statistics.median(seq[k]) for k in [("hpo", "branin"), ("hpo", "hartmann6")]]
    assert math.isclose(result["hpo", False, 8], statistics.median(ratios))  # svm_digits is no test function
    assert f"| hpo | 8 | 2 | {table.fmt(statistics.median(ratios))} | ≤ 1.25 | no |" in text


def test_doc_markers_are_created_and_regeneration_is_stable(tmp_path: Any) -> None:
    write_lines(tmp_path / "all.jsonl", synthetic())
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nText.\n")
    argv = ["--results", str(tmp_path), "--doc", str(doc)]
    table.main(argv)
    first = doc.read_text()
    assert first.startswith("# Benchmarks\n\nText.\n")
    for name in ("quality", "parallel"):
        assert first.count(f"<!-- table:{name}:begin -->") == 1 and first.count(f"<!-- table:{name}:end -->") == 1
    assert f"`{table.COMMAND}`" in first.split("<!-- table:quality:begin -->")[0]
    table.main(argv)
    assert doc.read_text() == first


def test_other_optimizers_get_columns_only_on_compared_problems(tmp_path: Any) -> None:
    write_lines(tmp_path / "all.jsonl", synthetic())
    write_lines(tmp_path / "more.jsonl", {("random", "branin"): [0.5, 0.7], ("mf", "mf_only"): [0.1]})
    text, judged = table.quality_table(table.load(str(tmp_path)))
    header = next(r for r in text.splitlines() if r.startswith("| problem |"))
    assert "| smac3_bb | random | HPO median" in header and "| mf |" not in header
    assert set(judged) == {"branin", "hartmann6", "svm_digits"}
    assert math.isclose(judged["branin"]["stats"]["random"]["median"], 0.6)
