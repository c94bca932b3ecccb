"""Drive the optimizer yourself: ask for trials, evaluate them, tell the results."""

import os

from ConfigSpace import ConfigurationSpace

from smac_rs import HyperparameterOptimizationFacade, Scenario, TrialValue

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "40"))


def rosenbrock(config, seed: int = 0) -> float:
    x, y = config["x"], config["y"]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


if __name__ == "__main__":
    space = ConfigurationSpace({"x": (-2.0, 2.0), "y": (-1.0, 3.0)}, seed=0)
    scenario = Scenario(space, deterministic=True, n_trials=N_TRIALS, name="ask_and_tell")
    intensifier = HyperparameterOptimizationFacade.get_intensifier(scenario, max_config_calls=1)
    smac = HyperparameterOptimizationFacade(scenario, rosenbrock, intensifier=intensifier, overwrite=True)
    for _ in range(N_TRIALS):
        info = smac.ask()
        cost = rosenbrock(info.config, seed=info.seed)
        smac.tell(info, TrialValue(cost=cost, time=0.0))
    incumbent = smac.intensifier.get_incumbent()
    print(f"incumbent {dict(incumbent)} cost={smac.runhistory.get_cost(incumbent):.4f} after {len(smac.runhistory)} trials")
