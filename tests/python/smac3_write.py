"""Writes a run directory with SMAC3 2.4.1 for smac-rs to continue (tests/smac3_interop.rs).

`python smac3_write.py OUTPUT_DIRECTORY NAME N_TRIALS`: the HPO facade on a two-dimensional
quadratic, deterministic, seed 0.
"""

import sys

from ConfigSpace import ConfigurationSpace, Float
from smac import HyperparameterOptimizationFacade, Scenario

out, name, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
cs = ConfigurationSpace(seed=0)
cs.add([Float("x", (-5.0, 5.0)), Float("y", (-5.0, 5.0))])


def target(config, seed: int = 0) -> float:
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


scenario = Scenario(cs, name=name, output_directory=out, deterministic=True, n_trials=n_trials, seed=0)
facade = HyperparameterOptimizationFacade(scenario, target, overwrite=True, logging_level=40)
facade.optimize()
