"""A process forked after a run (multiprocessing's `fork` start method) can run the optimizer.

The model's threads live in a pool per process (`smac_surrogate::parallel`); rayon's global
pool would be inherited by the child without its threads, and the child's first model fit would
wait forever (rayon-rs/rayon#708). The parent runs first, so its pool exists when it forks.
"""

import multiprocessing
import warnings

from ConfigSpace import ConfigurationSpace

from conftest import quadratic
from smac_rs import HyperparameterOptimizationFacade, Scenario

# Trials per run: the forest's predictions of the acquisition search (thousands of challengers)
# run on the pool from the first model-based proposal on, which needs more than the design.
N_TRIALS = 25
# Generous for a debug build on a loaded 2-core machine; a hung child never finishes.
DEADLINE_S = 300


def best_cost(output_directory: str) -> float:
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)
    scenario = Scenario(space, output_directory=output_directory, n_trials=N_TRIALS, deterministic=True)
    smac = HyperparameterOptimizationFacade(scenario, quadratic, overwrite=True)
    smac.optimize()
    return min(smac.runhistory.get_cost(c) for c in smac.runhistory.get_configs())


def child(output_directory: str, queue) -> None:
    queue.put(best_cost(output_directory))


def test_a_child_forked_after_a_run_runs_one_too(tmp_path):
    parent = best_cost(str(tmp_path / "parent"))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a multi-threaded process may deadlock: the case tested.
        warnings.simplefilter("ignore", DeprecationWarning)
        process = ctx.Process(target=child, args=(str(tmp_path / "child"), queue))
        process.start()
    try:
        result = queue.get(timeout=DEADLINE_S)
    except Exception:
        result = None
    process.join(timeout=30)
    if process.is_alive():
        process.kill()
        process.join()
    assert result is not None, f"the forked child did not finish a run within {DEADLINE_S} s"
    assert process.exitcode == 0
    # Same scenario and seed in both processes: the child's run is the parent's.
    assert result == parent
