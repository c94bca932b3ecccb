"""Multi-fidelity: tune an MLP on digits with the number of training epochs as the budget
(Hyperband with the HPO facade's random forest)."""

import os
import warnings

import numpy as np
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier

from smac_rs import MultiFidelityFacade, Scenario

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "60"))
digits = load_digits()


def train(config, seed: int = 0, budget: float = 25) -> float:
    model = MLPClassifier(
        hidden_layer_sizes=(config["n_neurons"],) * config["n_layer"],
        activation=config["activation"],
        learning_rate_init=config["learning_rate_init"],
        max_iter=int(np.ceil(budget)),
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        return 1.0 - float(np.mean(cross_val_score(model, digits.data, digits.target, cv=cv)))


if __name__ == "__main__":
    space = ConfigurationSpace(seed=0)
    space.add([
        Integer("n_layer", (1, 3), default=1),
        Integer("n_neurons", (8, 256), log=True, default=32),
        Categorical("activation", ["logistic", "tanh", "relu"], default="relu"),
        Float("learning_rate_init", (1e-4, 1e-1), log=True, default=1e-3),
    ])
    max_budget = float(os.environ.get("SMAC_RS_EXAMPLE_MAX_EPOCHS", "27"))
    scenario = Scenario(space, n_trials=N_TRIALS, min_budget=1, max_budget=max_budget, name="multi_fidelity_mlp")
    intensifier = MultiFidelityFacade.get_intensifier(scenario, eta=3)
    smac = MultiFidelityFacade(scenario, train, intensifier=intensifier, overwrite=True)
    incumbent = smac.optimize()
    print(f"incumbent {dict(incumbent)} error={smac.runhistory.get_cost(incumbent):.4f}")
