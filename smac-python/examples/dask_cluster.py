"""Run trials on a Dask cluster: pass your `distributed.Client` as `dask_client=` (it stays
yours: smac_rs never closes it). Give a scheduler address as the first argument to attach to a
running cluster; without one a LocalCluster of 2 worker processes is started for the demo."""

import os
import sys

from ConfigSpace import ConfigurationSpace
from distributed import Client, LocalCluster

from smac_rs import HyperparameterOptimizationFacade, Scenario

N_TRIALS = int(os.environ.get("SMAC_RS_EXAMPLE_TRIALS", "40"))


def himmelblau(config, seed: int = 0) -> float:
    x, y = config["x"], config["y"]
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


if __name__ == "__main__":
    cluster = None
    if len(sys.argv) > 1:
        client = Client(sys.argv[1])
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, deterministic=True, n_trials=N_TRIALS, name="dask_cluster")
    smac = HyperparameterOptimizationFacade(scenario, himmelblau, dask_client=client, overwrite=True)
    incumbent = smac.optimize()
    print(f"incumbent {dict(incumbent)} cost={smac.runhistory.get_cost(incumbent):.4f} on {len(client.nthreads())} Dask workers")
    client.close()
    if cluster is not None:
        cluster.close()
