"""Tune an SVM's kernel, C and gamma by 5-fold cross-validation on scikit-learn's digits."""

import os

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float
from sklearn import datasets, svm
from sklearn.model_selection import cross_val_score

from smac_rs import HyperparameterOptimizationFacade, Scenario

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "50"))
digits = datasets.load_digits()


def train(config, seed: int = 0) -> float:
    params = dict(config)
    model = svm.SVC(kernel=params["kernel"], C=params["C"], gamma=params.get("gamma", "scale"), random_state=seed)
    scores = cross_val_score(model, digits.data, digits.target, cv=5)
    return 1.0 - float(np.mean(scores))  # minimize the error


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    kernel = Categorical("kernel", ["linear", "rbf"], default="rbf")
    C = Float("C", (0.01, 1000.0), log=True, default=1.0)
    gamma = Float("gamma", (1e-5, 1e-1), log=True, default=1e-3)
    space.add([kernel, C, gamma, EqualsCondition(gamma, kernel, "rbf")])
    scenario = Scenario(space, deterministic=True, n_trials=N_TRIALS, name="svm_cv")
    smac = HyperparameterOptimizationFacade(scenario, train, overwrite=True)
    incumbent = smac.optimize()
    print(f"incumbent {dict(incumbent)} error={smac.runhistory.get_cost(incumbent):.4f}")
