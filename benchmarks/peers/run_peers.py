"""Runs the peers (SMAC3 2.4.1's HPO and BlackBox facades, Optuna's TPE) on the benchmark problems.

Same protocol as `bench_suite`: n trials (default 100) per run, seeds 0..10, deterministic targets,
each optimizer with its defaults (SMAC3: facade defaults, overwrite=True, output in a temporary
directory, logging at ERROR; Optuna: TPESampler(seed=seed), nothing else set). One JSON line per
run, in the format of bench_suite, appended to benchmarks/results/<optimizer>.jsonl.

Run with the venv made by setup.sh:
    bash benchmarks/peers/setup.sh
    .venv-bench/bin/python benchmarks/peers/run_peers.py --problems functions --jobs 2 --skip-done
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # problems.py beside this script comes before anything on PYTHONPATH

from configspace_optuna import is_forbidden, sample  # noqa: E402

OPTIMIZERS = ("smac3_hpo", "smac3_bb", "optuna_tpe", "smac_rs_hpo")
KINDS = {"functions": "function", "mixed": "mixed", "hpo": "hpo"}
CHECKPOINTS = (10, 25, 50, 100)
RESULTS = os.path.join(HERE, "..", "results")
# Optuna cannot express forbidden clauses: a forbidden sample is told as failed (TPE ignores failed
# trials) and asked again, at most this many times per counted trial.
MAX_REJECTS = 1000


def catalogue() -> dict[str, Any]:
    """problems.PROBLEMS (imported on first use, so the tests can run without the catalogue)."""
    import problems

    return problems.PROBLEMS


def parse_seeds(text: str) -> list[int]:
    """`0..10` (end excluded, as bench_suite reads it), `3` or `0,2,5`."""
    if ".." in text:
        start, end = text.split("..", 1)
        return list(range(int(start), int(end)))
    return [int(s) for s in text.split(",") if s.strip()]


def select_problems(spec: str) -> list[str]:
    """Problem names from a comma list of names, kinds (functions, mixed, hpo) or `all`."""
    names: list[str] = []
    for item in (s.strip() for s in spec.split(",")):
        if item == "all":
            chosen = sorted(catalogue())
        elif item in KINDS:
            chosen = sorted(n for n, p in catalogue().items() if p.kind == KINDS[item])
        elif item in catalogue():
            chosen = [item]
        else:
            known = ", ".join(sorted(catalogue()))
            raise SystemExit(f"unknown problem or kind {item!r} (kinds: all, functions, mixed, hpo; problems: {known})")
        names += [n for n in chosen if n not in names]
    return names


def run_smac3(facade_name: str, problem: Any, seed: int, n_trials: int, record: Callable[[dict], float]) -> None:
    """One SMAC3 run with the facade's defaults; `record` evaluates and logs each trial.

    `smac_rs_hpo` is the same code with smac-rs's Python package (`smac_rs`, installed into
    .venv-bench by setup.sh) imported instead of SMAC3: the switch users make. Its design
    leaves the default configuration out, as SMAC3's HPO facade does, so its lines compare with
    `bench_suite --no-default-config`'s `hpo` lines (regret parity of the Python package).
    """
    if facade_name == "smac_rs_hpo":
        from smac_rs import HyperparameterOptimizationFacade, Scenario

        facade = HyperparameterOptimizationFacade
    else:
        from smac import BlackBoxFacade, HyperparameterOptimizationFacade, Scenario

        facade = {"smac3_hpo": HyperparameterOptimizationFacade, "smac3_bb": BlackBoxFacade}[facade_name]

    def target(config: Any, seed: int = 0) -> float:
        return record(dict(config))

    with tempfile.TemporaryDirectory() as out:
        scenario = Scenario(
            problem.space(),
            name=f"{problem.name}-{seed}",
            output_directory=out,
            deterministic=True,
            n_trials=n_trials,
            seed=seed,
        )
        if facade_name == "smac_rs_hpo":
            design = facade.get_initial_design(scenario, additional_configs=[])
            smac = facade(scenario, target, initial_design=design, overwrite=True, logging_level=40)
        else:
            smac = facade(scenario, target, overwrite=True, logging_level=40)
        smac.optimize()


def run_optuna(problem: Any, seed: int, n_trials: int, record: Callable[[dict], float]) -> None:
    """One Optuna TPE run (default sampler settings, seeded) with the ask-and-tell interface."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = problem.space()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    for _ in range(n_trials):
        for _attempt in range(MAX_REJECTS):
            trial = study.ask()
            config = sample(trial, space)
            if not is_forbidden(space, config):
                break
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            raise RuntimeError(f"{problem.name}: {MAX_REJECTS} forbidden samples in a row")
        study.tell(trial, record(config))


def checkpoints(n_trials: int) -> list[int]:
    """The trial counts regret_at reports: 10/25/50/100 up to n, and n itself."""
    return sorted({c for c in CHECKPOINTS if c <= n_trials} | {n_trials})


def run_one(task: tuple[str, str, int, int]) -> dict:
    """Runs one (optimizer, problem, seed, n_trials) and returns its JSON line as a dict."""
    optimizer, name, seed, n_trials = task
    problem = catalogue()[name]
    values: list[float] = []

    def record(config: dict) -> float:
        value = float(problem.evaluate(config))
        values.append(value)
        return value

    with warnings.catch_warnings():  # the peers' deprecation and convergence chatter
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        if optimizer == "optuna_tpe":
            run_optuna(problem, seed, n_trials, record)
        else:
            run_smac3(optimizer, problem, seed, n_trials, record)
        wall = time.perf_counter() - start
    if len(values) != n_trials:
        # SMAC3 stops early when a small space has no new configuration left; say so, keep the run.
        print(f"warning: {optimizer} {name} seed {seed}: {len(values)} of {n_trials} trials", file=sys.stderr)
    optimum = problem.optimum

    def regret(k: int) -> float | None:
        seen = values[:k]
        if not seen:
            return None
        best = min(seen)
        return best if optimum is None else best - optimum

    best = min(values) if values else math.nan
    return {
        "optimizer": optimizer,
        "problem": name,
        "seed": seed,
        "n_trials": n_trials,
        "best": best,
        "regret": regret(len(values)),
        "regret_at": {str(k): regret(k) for k in checkpoints(n_trials)},
        "optimum": optimum,
        "wall_s": round(wall, 4),
        "default_in_design": False,
        "n_workers": 1,
    }


def done_runs(path: str) -> set[tuple[str, str, int, int]]:
    """(optimizer, problem, seed, n_trials) of the sequential runs already in `path`."""
    done = set()
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    if r.get("n_workers", 1) == 1:
                        done.add((r["optimizer"], r["problem"], int(r["seed"]), int(r["n_trials"])))
    return done


def main(argv: list[str] | None = None) -> None:
    """Command line: see --help."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="comma list of " + ", ".join(OPTIMIZERS))
    ap.add_argument("--problems", default="all", help="comma list of names or kinds (functions, mixed, hpo, all)")
    ap.add_argument("--seeds", default="0..10", help="0..10 (end excluded) or a comma list")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--out", help="one output file for all optimizers (default benchmarks/results/<optimizer>.jsonl)")
    ap.add_argument("--skip-done", action="store_true", help="skip runs already in the output file (same trials)")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    args = ap.parse_args(argv)

    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    for o in optimizers:
        if o not in OPTIMIZERS:
            raise SystemExit(f"unknown optimizer {o!r} (known: {', '.join(OPTIMIZERS)})")
    names = select_problems(args.problems)

    def out_path(optimizer: str) -> str:
        return args.out or os.path.join(RESULTS, f"{optimizer}.jsonl")

    tasks = []
    for optimizer in optimizers:
        done = done_runs(out_path(optimizer)) if args.skip_done else set()
        for name in names:
            for seed in parse_seeds(args.seeds):
                if (optimizer, name, seed, args.trials) not in done:
                    tasks.append((optimizer, name, seed, args.trials))
    print(f"{len(tasks)} runs", file=sys.stderr)

    def write(line: dict) -> None:
        path = out_path(line["optimizer"])
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a") as f:  # one writer (this process), a whole line at a time
            f.write(json.dumps(line) + "\n")
        print(f"{line['optimizer']} {line['problem']} seed {line['seed']}: {line['regret']} in {line['wall_s']:.1f} s",
              file=sys.stderr)

    if args.jobs <= 1:
        for task in tasks:
            write(run_one(task))
    else:
        # spawn, not fork: a forked child would inherit numpy's and joblib's thread pools
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            for line in pool.imap_unordered(run_one, tasks):
                write(line)


if __name__ == "__main__":
    main()
