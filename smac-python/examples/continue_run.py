"""Continue a run: a second facade on the same scenario picks up the trials on disk.

The first session stops itself after half the trials with a callback (as a crash or Ctrl-C
would); the second one, built with the same scenario and `overwrite=False`, goes on from there.
"""

import os

from ConfigSpace import ConfigurationSpace

from smac_rs import Callback, HyperparameterOptimizationFacade, Scenario

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "40"))


class StopAfter(Callback):
    def __init__(self, n: int) -> None:
        self.n = n

    def on_tell_end(self, smbo, info, value):
        return len(smbo.runhistory) < self.n  # False stops the optimization


def branin(config, seed: int = 0) -> float:
    import math

    x1, x2 = config["x1"], config["x2"]
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


if __name__ == "__main__":
    space = ConfigurationSpace({"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}, seed=0)
    scenario = Scenario(space, deterministic=True, n_trials=N_TRIALS, name="continue_run")
    first = HyperparameterOptimizationFacade(scenario, branin, overwrite=True, callbacks=[StopAfter(N_TRIALS // 2)])
    first.optimize()
    print(f"first session: {len(first.runhistory)} trials")
    second = HyperparameterOptimizationFacade(scenario, branin)  # overwrite=False: continue
    print(f"second session starts with {len(second.runhistory)} trials")
    incumbent = second.optimize()
    print(f"done: {len(second.runhistory)} trials, incumbent cost {second.runhistory.get_cost(incumbent):.4f}")
