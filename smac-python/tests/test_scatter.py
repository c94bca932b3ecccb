"""optimize(data_to_scatter=...): the data reaches the target as SMAC3's keyword argument
``data_to_scatter`` in this process, in worker processes and on Dask, and is sent once per
worker, not once per trial."""

import os

import pytest

from conftest import quadratic
from smac_rs import RandomFacade, Scenario, StatusType

#: How often a ``Payload`` was unpickled in this process (read by the target in workers).
LOADS = 0


def _load(blob: bytes) -> "Payload":
    global LOADS
    LOADS += 1
    return Payload(blob)


class Payload:
    """Data whose unpickling is counted: one load per worker process means it was sent once."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __reduce__(self):
        return (_load, (self.blob,))


def uses_data(config, seed: int = 0, data_to_scatter=None):
    payload = data_to_scatter["payload"]
    return quadratic(config) + data_to_scatter["offset"], {
        "pid": os.getpid(),
        "loads": LOADS,
        "size": len(payload.blob),
    }


def no_data_parameter(config, seed: int = 0):
    return quadratic(config)


def _check(values, n, parent_may_run):
    assert len(values) == n and all(v.status == StatusType.SUCCESS for v in values), values
    assert all(v.additional_info["size"] == 1 << 16 for v in values)
    if not parent_may_run:
        assert os.getpid() not in {v.additional_info["pid"] for v in values}


def _data():
    return {"payload": Payload(b"x" * (1 << 16)), "offset": 100.0}


def test_in_process_the_target_receives_the_data_itself(space, tmp_path):
    s = Scenario(space, output_directory=tmp_path, name="seq", n_trials=6, deterministic=True)
    calls = []

    def target(config, seed: int = 0, **kwargs):
        calls.append(kwargs.get("data_to_scatter"))
        return quadratic(config)

    smac = RandomFacade(s, target, overwrite=True)
    data = _data()
    smac.optimize(data_to_scatter=data)
    assert len(calls) == 6 and all(c is data for c in calls)  # passed as is, never copied
    assert smac._evaluator.extra_kwargs == {}  # dropped when the call ends


def test_worker_processes_receive_the_data_once_each(space, tmp_path):
    s = Scenario(space, output_directory=tmp_path, name="par", n_trials=16, n_workers=2, deterministic=True)
    smac = RandomFacade(s, uses_data, overwrite=True)
    smac.optimize(data_to_scatter=_data())
    values = list(smac.runhistory.values())
    _check(values, 16, parent_may_run=False)
    assert all(v.cost >= 100.0 for v in values)
    pids = {v.additional_info["pid"] for v in values}
    assert len(pids) == 2
    # Every trial on every worker saw exactly one unpickling of the data: sending it per
    # trial would count up.
    assert {v.additional_info["loads"] for v in values} == {1}
    assert LOADS == 0  # the optimizer's process never unpickles it
    assert smac._backend._data is None  # dropped when the call ends
    smac.close()


def test_a_replacement_worker_gets_the_data_too(space, tmp_path):
    marker = tmp_path / "died"

    def dies_once(config, seed: int = 0, data_to_scatter=None):
        if not marker.exists():
            marker.write_text("x")
            os._exit(3)
        return uses_data(config, seed, data_to_scatter)

    s = Scenario(space, output_directory=tmp_path, name="dies", n_trials=8, n_workers=2, deterministic=True)
    smac = RandomFacade(s, dies_once, overwrite=True)
    smac.optimize(data_to_scatter=_data())
    assert marker.exists()
    _check(list(smac.runhistory.values()), 8, parent_may_run=False)
    smac.close()


def test_dask_scatters_the_data_once(space, tmp_path):
    distributed = pytest.importorskip("distributed", reason="SKIP: distributed is not installed")
    import dask

    # Dask keeps a broadcast replica on every worker only with its active memory manager off
    # (Client.scatter's documentation): on, the manager may drop a worker's copy between trials
    # and the worker fetches it again (docs/python.md).
    no_amm = {"distributed.scheduler.active-memory-manager.start": False}
    with dask.config.set(no_amm), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            s = Scenario(space, output_directory=tmp_path, name="dask", n_trials=12, deterministic=True)
            smac = RandomFacade(s, uses_data, dask_client=client, overwrite=True)
            smac.optimize(data_to_scatter=_data())
            values = list(smac.runhistory.values())
            _check(values, 12, parent_may_run=False)
            assert {v.additional_info["loads"] for v in values} == {1}
            # The scattered data is released after the call; the client stays the user's.
            assert client.submit(lambda a: a + 1, 1).result() == 2


def test_bad_data_to_scatter_is_a_clear_error(space, tmp_path):
    s = Scenario(space, output_directory=tmp_path, name="bad", n_trials=2)
    smac = RandomFacade(s, no_data_parameter, overwrite=True)
    with pytest.raises(ValueError, match="empty dict"):
        smac.optimize(data_to_scatter={})
    with pytest.raises(TypeError, match="keyword argument 'data_to_scatter'"):
        smac.optimize(data_to_scatter={"a": 1})
    assert len(smac.runhistory) == 0


def _refuse(blob: bytes):
    raise RuntimeError("this data cannot be loaded here")


class Unloadable:
    """Pickles fine, fails to load in the worker."""

    def __reduce__(self):
        return (_refuse, (b"",))


def test_data_that_cannot_travel_or_load_is_a_clear_error(space, tmp_path):
    import threading

    s = Scenario(space, output_directory=tmp_path, name="bad", n_trials=4, n_workers=2)
    smac = RandomFacade(s, uses_data, overwrite=True)
    with pytest.raises(TypeError, match="data_to_scatter cannot be sent to the workers"):
        smac.optimize(data_to_scatter={"lock": threading.Lock()})
    with pytest.raises(RuntimeError, match="data_to_scatter could not be loaded in a worker process"):
        smac.optimize(data_to_scatter={"payload": Unloadable()})
    assert len(smac.runhistory) == 0
    smac.close()
