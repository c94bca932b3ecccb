"""Run the target in 4 worker processes (`n_workers=4`): the target is shipped to each
worker once with cloudpickle; the optimizer keeps every worker busy."""

import os
import time

from ConfigSpace import ConfigurationSpace

from smac_rs import HyperparameterOptimizationFacade, Scenario

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "40"))
N_WORKERS = int(os.environ.get("SMAC_RS_EXAMPLE_WORKERS", "4"))


def slow_sphere(config, seed: int = 0) -> float:
    time.sleep(0.2)  # stands for an expensive evaluation
    return sum(config[k] ** 2 for k in ("a", "b", "c"))


if __name__ == "__main__":
    space = ConfigurationSpace({"a": (-3.0, 3.0), "b": (-3.0, 3.0), "c": (-3.0, 3.0)}, seed=0)
    scenario = Scenario(space, deterministic=True, n_trials=N_TRIALS, n_workers=N_WORKERS, name="parallel_workers")
    smac = HyperparameterOptimizationFacade(scenario, slow_sphere, overwrite=True)
    start = time.time()
    incumbent = smac.optimize()
    print(f"{len(smac.runhistory)} trials on {N_WORKERS} workers in {time.time() - start:.1f}s")
    print(f"incumbent {dict(incumbent)} cost={smac.runhistory.get_cost(incumbent):.4f}")
