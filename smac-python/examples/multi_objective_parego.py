"""Two objectives, error and training time of a decision tree, scalarized by ParEGO; the
result is the Pareto front of non-dominated configurations."""

import os
import time

import numpy as np
from ConfigSpace import ConfigurationSpace, Integer
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

from smac_rs import HyperparameterOptimizationFacade, Scenario
from smac_rs.multi_objective import ParEGO

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "40"))
digits = load_digits()


def train(config, seed: int = 0) -> dict[str, float]:
    start = time.process_time()
    model = DecisionTreeClassifier(max_depth=config["max_depth"], min_samples_leaf=config["min_samples_leaf"], random_state=seed)
    error = 1.0 - float(np.mean(cross_val_score(model, digits.data, digits.target, cv=3)))
    return {"error": error, "time": time.process_time() - start}


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    space.add([Integer("max_depth", (1, 30)), Integer("min_samples_leaf", (1, 50))])
    scenario = Scenario(space, objectives=["error", "time"], deterministic=True, n_trials=N_TRIALS, name="parego")
    parego = ParEGO(scenario)
    smac = HyperparameterOptimizationFacade(scenario, train, multi_objective_algorithm=parego, overwrite=True)
    front = smac.optimize()
    print(f"Pareto front of {len(front)} configurations:")
    for config in front:
        error, seconds = smac.runhistory.get_cost(config)
        print(f"  {dict(config)}: error={error:.4f} time={seconds:.4f}s")
