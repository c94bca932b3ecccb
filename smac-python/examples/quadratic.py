"""Minimize a quadratic with the HPO facade (the smallest complete smac_rs program)."""

import os

from ConfigSpace import ConfigurationSpace

from smac_rs import HyperparameterOptimizationFacade, Scenario

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "100"))


def quadratic(config, seed: int = 0) -> float:
    return (config["x"] - 2.0) ** 2


if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, deterministic=True, n_trials=N_TRIALS, name="quadratic")
    smac = HyperparameterOptimizationFacade(scenario, quadratic, overwrite=True)
    incumbent = smac.optimize()
    print(f"incumbent x={incumbent['x']:.4f} cost={smac.runhistory.get_cost(incumbent):.6f}")
    print(f"run directory: {scenario.output_directory}")
