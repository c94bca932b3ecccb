"""Regenerates the comparison tables of docs/benchmarks.md from benchmarks/results/*.jsonl.

Reads every JSON line written by bench_suite (our facades: "hpo", "bb", ...) and by run_peers.py
(smac3_hpo, smac3_bb, optuna_tpe), and rewrites the text between the marker comments
`<!-- table:quality:begin -->` / `<!-- table:quality:end -->` and `<!-- table:parallel:begin -->` /
`<!-- table:parallel:end -->` (added, with the command, at the end of the page when missing).
Standard library only; the output is sorted, so running it again without new lines changes nothing.

    python3 benchmarks/peers/table.py
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import statistics
import sys
from typing import Any, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
COMMAND = "python3 benchmarks/peers/table.py"
# The catalogue's standard test functions (bench-spec), in its order; the parallel table's
# "median over the suite's functions" is over these.
FUNCTIONS = (
    "branin", "six_hump_camel", "goldstein_price", "hartmann3", "rosenbrock4", "ackley5", "levy5",
    "michalewicz5", "hartmann6", "trid6", "powell8", "rastrigin8", "dixon_price10",
    "styblinski_tang10", "zakharov10", "ackley20",
)
OURS = ("hpo", "bb")
PEERS = ("smac3_hpo", "optuna_tpe", "smac3_bb")
HPO_PEERS = ("smac3_hpo", "optuna_tpe")
CRITERIA = (
    ("hpo_le_best", "HPO median ≤ best peer", 0.8),
    ("hpo_within_2x", "HPO median ≤ 2× best peer", 1.0),
    ("hpo_p75_le_best", "HPO p75 ≤ best peer p75", 0.8),
    ("bb_le_smac3", "BB median ≤ SMAC3 BB", 0.8),
)
PARALLEL_TARGETS = {8: 1.25, 32: 1.5}


def percentile(values: Iterable[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between order statistics (numpy's default)."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def load(results_dir: str) -> list[dict]:
    """Every JSON line of results_dir/*.jsonl, files in name order."""
    lines = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.jsonl"))):
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


def runs(lines: list[dict], trials: int) -> dict[tuple, dict[int, float]]:
    """(optimizer, problem, n_workers, default_in_design) -> {seed: regret at `trials`}.

    Lines without a regret at `trials` are left out; a later line for the same run replaces an
    earlier one (a re-run).
    """
    out: dict[tuple, dict[int, float]] = {}
    for r in lines:
        value = (r.get("regret_at") or {}).get(str(trials))
        if value is None:
            continue
        key = (r["optimizer"], r["problem"], int(r.get("n_workers", 1)), bool(r.get("default_in_design", False)))
        out.setdefault(key, {})[int(r["seed"])] = float(value)
    return out


def summary(by_seed: dict[int, float] | None) -> dict | None:
    """Median, 75th percentile and count of one (optimizer, problem), or None without runs."""
    if not by_seed:
        return None
    xs = list(by_seed.values())
    return {"median": statistics.median(xs), "p75": percentile(xs, 0.75), "n": len(xs), "default": False}


def pick(data: dict, optimizer: str, problem: str, n_workers: int = 1) -> dict | None:
    """The runs without the default configuration in the design, else those with it (marked)."""
    s = summary(data.get((optimizer, problem, n_workers, False)))
    if s is None:
        s = summary(data.get((optimizer, problem, n_workers, True)))
        if s is not None:
            s["default"] = True
    return s


def ratio(a: float, b: float) -> float:
    """a / b, with 0/0 = 1 (a tie at the optimum)."""
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def criteria(stats: dict[str, dict | None]) -> dict[str, Any]:
    """The issue's four criteria for one problem: True/False, or None where a side has no runs."""
    hpo, bb, smac3_bb = stats.get("hpo"), stats.get("bb"), stats.get("smac3_bb")
    peers = [stats.get(p) for p in HPO_PEERS]
    out: dict[str, Any] = {name: None for name, _, _ in CRITERIA}
    out["ratio"] = None
    if hpo is not None and all(p is not None for p in peers):
        best = min(p["median"] for p in peers)
        best_p75 = min(p["p75"] for p in peers)
        out["ratio"] = ratio(hpo["median"], best)
        out["hpo_le_best"] = hpo["median"] <= best
        out["hpo_within_2x"] = hpo["median"] <= max(2 * best, best)  # best < 0: a rounding-level regret
        out["hpo_p75_le_best"] = hpo["p75"] <= best_p75
    if bb is not None and smac3_bb is not None:
        out["bb_le_smac3"] = bb["median"] <= smac3_bb["median"]
    return out


def problem_order(problems: Iterable[str], best_cost: set[str]) -> list[str]:
    """Catalogue functions in catalogue order, then other known-optimum problems, then HPO tasks."""
    rank = {name: i for i, name in enumerate(FUNCTIONS)}
    return sorted(set(problems), key=lambda p: (p in best_cost, rank.get(p, len(rank)), p))


def fmt(x: float) -> str:
    """Three significant digits."""
    return "∞" if math.isinf(x) else f"{x:.3g}"


def cell(s: dict | None) -> str:
    """`median / p75 (n)`, † when the design had the default configuration, – without runs."""
    if s is None:
        return "–"
    return f"{fmt(s['median'])} / {fmt(s['p75'])} ({s['n']}){' †' if s['default'] else ''}"


def yes_no(v: bool | None) -> str:
    """yes / no / – (not judged)."""
    return "–" if v is None else ("yes" if v else "no")


def quality_table(lines: list[dict], trials: int = 100) -> tuple[str, dict]:
    """The quality table (markdown) and, per problem, its criteria and each optimizer's statistics."""
    data = runs(lines, trials)
    seq = [k for k in data if k[2] == 1]
    best_cost = {r["problem"] for r in lines if "optimum" in r and r["optimum"] is None}
    # Rows: the problems our facades or the peers ran (bench_suite's other modes, e.g. multi-fidelity
    # or algorithm configuration, have problems of their own); other optimizers (random search)
    # get a column where they ran one of these problems.
    problems = problem_order((k[1] for k in seq if k[0] in OURS + PEERS), best_cost)
    present = {k[0] for k in seq if k[1] in problems}
    optimizers = list(OURS + PEERS)  # always shown, "–" without runs
    optimizers += sorted(present - set(optimizers))
    head = ["problem"] + optimizers + [label for _, label, _ in CRITERIA]
    out = [
        f"Cells: median / 75th percentile of the regret at {trials} trials (for HPO tasks, marked"
        " \"best cost\", the best cost) over the seeds, and the number of seeds. \"Best peer\" is"
        " the better of smac3_hpo and optuna_tpe; \"–\" where a side has no runs."
        + (" †: the design included the default configuration." if any(k[3] for k in seq) else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    judged: dict[str, dict] = {}
    for p in problems:
        stats = {o: pick(data, o, p) for o in optimizers}
        c = criteria(stats)
        judged[p] = dict(c, stats=stats)
        first = yes_no(c["hpo_le_best"]) + (f" ({fmt(c['ratio'])}×)" if c["ratio"] is not None else "")
        marks = [first] + [yes_no(c[name]) for name, _, _ in CRITERIA[1:]]
        label = f"{p} (best cost)" if p in best_cost else p
        out.append("| " + " | ".join([label] + [cell(stats[o]) for o in optimizers] + marks) + " |")
    out.append("")
    for name, label, target in CRITERIA:
        verdicts = [c[name] for c in judged.values() if c[name] is not None]
        if verdicts:
            share = sum(verdicts) / len(verdicts)
            met = "met" if share >= target else "not met"
            text = f"{sum(verdicts)}/{len(verdicts)} problems ({share:.0%})"
        else:
            met, text = "not judged", "no problem with runs on both sides"
        goal = "all" if target == 1.0 else f"≥ {target:.0%}"
        out.append(f"- {label}: {text}; target {goal}: {met}.")
    return "\n".join(out), judged


def parallel_table(lines: list[dict], trials: int = 100) -> tuple[str, dict]:
    """Per optimizer and worker count k: median over the catalogue's functions of
    median regret(k workers) / median regret(sequential), same default-configuration setting."""
    data = runs(lines, trials)
    groups: dict[tuple, list[float]] = {}
    for (opt, prob, k, default), by_seed in data.items():
        # Variants of a facade (`hpo-pending-ignore`, written by bench_parallel) compare with
        # the facade's own sequential runs.
        seq = data.get((opt.split("-pending-")[0], prob, 1, default))
        if k <= 1 or prob not in FUNCTIONS or not seq:
            continue
        r = ratio(statistics.median(by_seed.values()), statistics.median(seq.values()))
        groups.setdefault((opt, default, k), []).append(r)
    out = [
        f"Median over the standard test functions of median regret at {trials} trials with k workers"
        " / the same with 1 worker (ties at 0 count as 1).",
        "",
        "| optimizer | workers | functions | median ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    result = {}
    for (opt, default, k), ratios in sorted(groups.items()):
        med = statistics.median(ratios)
        result[(opt, default, k)] = med
        target = PARALLEL_TARGETS.get(k)
        name = f"{opt} (default in design)" if default else opt
        goal = f"≤ {target}" if target else "–"
        met = "–" if target is None else yes_no(med <= target)
        out.append(f"| {name} | {k} | {len(ratios)} | {fmt(med)} | {goal} | {met} |")
    if not groups:
        out.append("| – | – | 0 | – | – | – |")
    return "\n".join(out), result


def replace_block(doc: str, name: str, body: str) -> str:
    """Puts `body` between the `name` markers of `doc`, adding a section with them when missing."""
    begin, end = f"<!-- table:{name}:begin -->", f"<!-- table:{name}:end -->"
    if begin not in doc or end not in doc:
        title = {"quality": "Comparison with the peers", "parallel": "Parallel runs"}.get(name, name)
        doc = doc.rstrip("\n") + f"\n\n## {title} (generated)\n\nRegenerate with `{COMMAND}`.\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def main(argv: list[str] | None = None) -> None:
    """Command line: see --help."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results"))
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--trials", type=int, default=100, help="the regret_at column to compare")
    ap.add_argument("--print", action="store_true", help="print the tables, leave the page alone")
    args = ap.parse_args(argv)
    lines = load(args.results)
    quality, _ = quality_table(lines, args.trials)
    parallel, _ = parallel_table(lines, args.trials)
    if args.print:
        print(quality + "\n\n" + parallel)
        return
    with open(args.doc) as f:
        doc = f.read()
    new = replace_block(replace_block(doc, "quality", quality), "parallel", parallel)
    if new != doc:
        with open(args.doc, "w") as f:
            f.write(new)
    print(f"{args.doc}: {'updated' if new != doc else 'unchanged'} from {len(lines)} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
