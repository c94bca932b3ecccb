"""Optimizer overhead: SMAC3's HPO facade vs smac_rs's on the same instant function.

Runs both in this process (SMAC3 2.4.1 must be importable), 100 and 200 trials each, and prints
one JSON line per run plus the ratio of optimizer time (wall time of optimize() minus the time
spent inside the target, which is ~0 here) and of its CPU time (``time.process_time``, all
threads), which a loaded machine distorts less.
Usage: python overhead.py [--trials 100 200] [--output-directory DIR]
"""

import argparse
import json
import math
import os
import tempfile
import time

from ConfigSpace import ConfigurationSpace


def branin(config, seed: int = 0) -> float:
    x1, x2 = config["x1"], config["x2"]
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


def run(module, n_trials: int, out: str) -> dict:
    space = ConfigurationSpace({"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, seed=0)
    target_time = [0.0]

    def target(config, seed: int = 0) -> float:
        t = time.perf_counter()
        v = branin(config)
        target_time[0] += time.perf_counter() - t
        return v

    scenario = module.Scenario(space, deterministic=True, n_trials=n_trials, output_directory=out, seed=0)
    smac = module.HyperparameterOptimizationFacade(scenario, target, overwrite=True, logging_level=40)
    start, cpu_start = time.perf_counter(), time.process_time()
    inc = smac.optimize()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "optimizer": module.__name__,
        "n_trials": n_trials,
        "wall_s": round(wall, 4),
        "optimizer_s": round(wall - target_time[0], 4),
        "optimizer_cpu_s": round(cpu - target_time[0], 4),
        "incumbent_cost": smac.runhistory.get_cost(inc),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 200])
    # Both write their run directory after every trial; smac-rs syncs each file to disk, which
    # on a busy disk costs more than the optimizer itself. The default keeps the files in memory
    # (/dev/shm where it exists) so the figures are about the optimizers.
    parser.add_argument("--output-directory", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = parser.parse_args()
    import smac

    import smac_rs

    with tempfile.TemporaryDirectory(dir=args.output_directory) as out:
        for n in args.trials:
            theirs = run(smac, n, out + "/smac3")
            ours = run(smac_rs, n, out + "/smac_rs")
            print(json.dumps(theirs))
            print(json.dumps(ours))
            ratio = theirs["optimizer_s"] / max(ours["optimizer_s"], 1e-9)
            cpu_ratio = theirs["optimizer_cpu_s"] / max(ours["optimizer_cpu_s"], 1e-9)
            print(json.dumps({"n_trials": n, "optimizer_time_ratio": round(ratio, 1), "optimizer_cpu_time_ratio": round(cpu_ratio, 1)}))


if __name__ == "__main__":
    main()
