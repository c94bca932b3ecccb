"""n_workers > 1: the target runs in worker processes through the runner core; dask_client=."""

import os
from pathlib import Path

import pytest

from conftest import quadratic
from smac_rs import HyperparameterOptimizationFacade, RandomFacade, Scenario, StatusType


def where(config, seed: int = 0):
    return quadratic(config), {"pid": os.getpid()}


def test_two_worker_processes_run_the_trials(space, tmp_path):
    s = Scenario(space, output_directory=tmp_path, name="par", n_trials=24, n_workers=2, deterministic=True)
    smac = HyperparameterOptimizationFacade(s, where, overwrite=True)
    inc = smac.optimize()
    values = list(smac.runhistory.values())
    assert len(values) == 24 and all(v.status == StatusType.SUCCESS for v in values)
    pids = {v.additional_info["pid"] for v in values}
    assert len(pids) == 2 and os.getpid() not in pids
    assert smac.runhistory.get_cost(inc) == min(v.cost for v in values)
    smac.close()


def test_a_dead_worker_loses_its_trial_which_is_run_again(space, tmp_path):
    marker = tmp_path / "died"

    def dies_once(config, seed: int = 0):
        if not marker.exists():
            marker.write_text("x")
            os._exit(3)  # the worker process dies mid-trial
        return quadratic(config)

    s = Scenario(space, output_directory=tmp_path, name="dies", n_trials=10, n_workers=2, deterministic=True)
    smac = RandomFacade(s, dies_once, overwrite=True)
    smac.optimize()
    assert marker.exists()
    values = list(smac.runhistory.values())
    assert len(values) == 10 and all(v.status == StatusType.SUCCESS for v in values)


def test_failures_in_workers_are_crashed_trials_and_timeouts(space, tmp_path):
    import time

    def slow_or_raising(config, seed: int = 0):
        if config["x"] < -1.0:
            raise RuntimeError("bad region")
        if config["x"] > 2.5:
            time.sleep(30)
        return quadratic(config)

    s = Scenario(space, output_directory=tmp_path, name="fail", n_trials=16, n_workers=2, trial_walltime_limit=1.0, deterministic=True)
    smac = RandomFacade(s, slow_or_raising, overwrite=True)
    smac.optimize()
    statuses = {v.status for v in smac.runhistory.values()}
    crashed = [v for v in smac.runhistory.values() if v.status == StatusType.CRASHED]
    timeouts = [v for v in smac.runhistory.values() if v.status == StatusType.TIMEOUT]
    assert StatusType.SUCCESS in statuses and crashed and timeouts
    assert "bad region" in crashed[0].additional_info["traceback"]


def test_a_target_that_cannot_be_shipped_is_a_clear_error(space, tmp_path):
    import threading

    lock = threading.Lock()

    def holds_a_lock(config, seed: int = 0):
        with lock:
            return quadratic(config)

    s = Scenario(space, output_directory=tmp_path, name="lock", n_trials=4, n_workers=2)
    with pytest.raises(TypeError, match="cannot be pickled .* to run in 2 worker processes"):
        RandomFacade(s, holds_a_lock, overwrite=True)


def test_dask_client_runs_trials_on_the_cluster_and_stays_open(space, tmp_path):
    distributed = pytest.importorskip("distributed", reason="SKIP: distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            s = Scenario(space, output_directory=tmp_path, name="dask", n_trials=16, deterministic=True)
            smac = HyperparameterOptimizationFacade(s, where, dask_client=client, overwrite=True)
            smac.optimize()
            values = list(smac.runhistory.values())
            assert len(values) == 16 and all(v.status == StatusType.SUCCESS for v in values)
            pids = {v.additional_info["pid"] for v in values}
            assert os.getpid() not in pids and len(pids) >= 1
            # The client is the user's: still usable after the run.
            assert client.submit(lambda a: a + 1, 1).result() == 2
            assert Path(tmp_path / "dask" / "0" / "runhistory.json").exists()


def test_ctrl_c_during_a_parallel_run_keeps_finished_trials(space, tmp_path):
    import json
    import signal

    marker = tmp_path / "interrupted"
    parent = os.getpid()

    def interrupts_once(config, seed: int = 0):
        if not marker.exists() and config["x"] > 0:
            marker.write_text("x")
            os.kill(parent, signal.SIGINT)  # Ctrl-C reaches the optimizer, not the workers
        return quadratic(config)

    s = Scenario(space, output_directory=tmp_path, name="int", n_trials=200, n_workers=2, deterministic=True)
    smac = RandomFacade(s, interrupts_once, overwrite=True)
    with pytest.raises(KeyboardInterrupt):
        smac.optimize()
    n = len(smac.runhistory)
    assert 1 <= n < 200
    assert all(v.status == StatusType.SUCCESS for v in smac.runhistory.values())
    saved = json.loads((tmp_path / "int" / "0" / "runhistory.json").read_text())
    assert len(saved["data"]) == n
    smac.close()
