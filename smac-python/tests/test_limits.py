"""trial_walltime_limit and trial_memory_limit (SMAC3 semantics, seconds and MB): enforced in
worker processes (with one worker and a limit, trials run in a worker process too) and on Dask
(each trial in a process of its own on the Dask worker)."""

import os
import threading

import pytest

from conftest import quadratic
from smac_rs import RandomFacade, Scenario, StatusType

LIMIT_MB = 2048


def hangs_or_returns(config, seed: int = 0):
    if config["x"] > 2.0:
        threading.Event().wait()  # never returns: only the walltime limit ends it
    return quadratic(config), {"pid": os.getpid()}


def allocates(config, seed: int = 0):
    if config["x"] > 0.0:
        # Twice the limit: refused under the worker's address-space limit, whatever the baseline.
        block = bytearray(2 * LIMIT_MB << 20)
        return float(len(block))
    small = bytearray(1 << 20)  # a normal trial still allocates fine under the limit
    return quadratic(config) + len(small) * 0.0, {"pid": os.getpid()}


def _by_status(smac):
    out = {}
    for v in smac.runhistory.values():
        out.setdefault(v.status, []).append(v)
    return out


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_trial_over_the_walltime_limit_is_a_timeout_naming_the_limit(space, tmp_path, n_workers):
    s = Scenario(space, output_directory=tmp_path, name=f"wall{n_workers}", n_trials=10, n_workers=n_workers,
                 trial_walltime_limit=0.5, deterministic=True)
    smac = RandomFacade(s, hangs_or_returns, overwrite=True)
    smac.optimize()
    by = _by_status(smac)
    assert len(smac.runhistory) == 10
    assert by.get(StatusType.TIMEOUT) and by.get(StatusType.SUCCESS), by
    assert set(by) == {StatusType.TIMEOUT, StatusType.SUCCESS}
    for v in by[StatusType.TIMEOUT]:
        assert "trial_walltime_limit=0.5" in v.additional_info["error"]
    # Even with one worker the trials ran outside the optimizer's process, where they can be stopped.
    assert os.getpid() not in {v.additional_info["pid"] for v in by[StatusType.SUCCESS]}
    smac.close()


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_trial_over_the_memory_limit_is_a_memoryout_naming_the_limit(space, tmp_path, n_workers):
    s = Scenario(space, output_directory=tmp_path, name=f"mem{n_workers}", n_trials=10, n_workers=n_workers,
                 trial_memory_limit=LIMIT_MB, deterministic=True)
    smac = RandomFacade(s, allocates, overwrite=True)
    smac.optimize()
    by = _by_status(smac)
    assert len(smac.runhistory) == 10
    assert by.get(StatusType.MEMORYOUT) and by.get(StatusType.SUCCESS), by
    assert set(by) == {StatusType.MEMORYOUT, StatusType.SUCCESS}
    for v in by[StatusType.MEMORYOUT]:
        assert f"trial_memory_limit={LIMIT_MB} MB" in v.additional_info["error"]
        assert "MemoryError" in v.additional_info["error"]
    pids = {v.additional_info["pid"] for v in by[StatusType.SUCCESS]}
    assert os.getpid() not in pids
    smac.close()


def test_without_a_memory_limit_a_memory_error_is_a_crash(space, tmp_path):
    def raises_memory_error(config, seed: int = 0):
        raise MemoryError("no room")

    s = Scenario(space, output_directory=tmp_path, name="nomem", n_trials=2)
    smac = RandomFacade(s, raises_memory_error, overwrite=True)
    smac.optimize()
    assert {v.status for v in smac.runhistory.values()} == {StatusType.CRASHED}


def test_a_limited_target_that_cannot_be_shipped_is_a_clear_error(space, tmp_path):
    lock = threading.Lock()

    def holds_a_lock(config, seed: int = 0):
        with lock:
            return quadratic(config)

    s = Scenario(space, output_directory=tmp_path, name="lock", n_trials=2, trial_walltime_limit=5.0)
    with pytest.raises(TypeError, match="cannot be pickled .* in a worker process, where trial_walltime_limit"):
        RandomFacade(s, holds_a_lock, overwrite=True)


def hangs_allocates_or_returns(config, seed: int = 0):
    if config["x"] > 2.0:
        threading.Event().wait()
    if config["x"] < -2.0:
        return float(len(bytearray(2 * LIMIT_MB << 20)))
    return quadratic(config), {"pid": os.getpid()}


def test_limits_on_dask_run_each_trial_in_a_process_of_its_own(space, tmp_path):
    distributed = pytest.importorskip("distributed", reason="SKIP: distributed is not installed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        s = Scenario(space, output_directory=tmp_path, name="dask", n_trials=12, trial_walltime_limit=0.5,
                     trial_memory_limit=LIMIT_MB, deterministic=True)
        smac = RandomFacade(s, hangs_allocates_or_returns, dask_client=client, overwrite=True)
        smac.optimize()
        by = _by_status(smac)
        assert len(smac.runhistory) == 12
        assert set(by) == {StatusType.SUCCESS, StatusType.TIMEOUT, StatusType.MEMORYOUT}, by
        assert all("trial_walltime_limit=0.5" in v.additional_info["error"] for v in by[StatusType.TIMEOUT])
        assert all(f"trial_memory_limit={LIMIT_MB} MB" in v.additional_info["error"] for v in by[StatusType.MEMORYOUT])
        # The Dask worker runs in this process; the trials did not.
        assert os.getpid() not in {v.additional_info["pid"] for v in by[StatusType.SUCCESS]}
        assert client.submit(lambda a: a + 1, 1).result() == 2
