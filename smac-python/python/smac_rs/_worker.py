"""A worker process of a parallel run: ``python -m smac_rs._worker``.

The optimizer's ``ProcessBackend`` starts one per worker and talks to it over its standard
input and output in frames (an 8-byte big-endian length, then a pickle):

- parent → worker: ``("init", payload, memory_limit_mb)`` once, where ``payload`` is the
  cloudpickled ``Evaluator`` (target, space, objectives: the target and whatever data it holds
  are shipped once per worker) and ``memory_limit_mb`` the scenario's ``trial_memory_limit``
  (``None``: no limit), applied as the soft ``RLIMIT_AS`` of the worker while a trial runs, as
  SMAC3's pynisher does in its trial process (a refused allocation is a MemoryError: status
  ``MEMORYOUT``); ``("data", blob)`` when ``optimize(data_to_scatter=...)`` starts (``blob``
  is the cloudpickled data, sent once per worker and passed to every trial as the keyword
  argument ``data_to_scatter``) and ``("data", None)`` when it ends; then
  ``("trial", seq, trial_json)`` per trial; ``("exit",)`` to stop.
- worker → parent: ``("started", seq)`` when a trial begins (its walltime limit counts from
  there, not from the worker's start-up), ``("result", seq, value_json)`` when it ends; ``("fatal", message)`` when the
  payload cannot be loaded (the run then fails with that message instead of restarting
  workers forever).

The target's prints go to standard error, so they can never corrupt a frame. The worker
ignores Ctrl-C (the optimizer decides what happens to a run) and ends when its input closes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import sys
import traceback
from typing import Any, BinaryIO

_HEADER = struct.Struct(">Q")  # 8 bytes: scattered data may exceed 4 GB

#: Evaluators already loaded in this process (Dask workers), by payload token.
_LOADED: dict[str, Any] = {}


def write_frame(out: BinaryIO, obj: Any) -> None:
    """Writes one frame."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def read_frame(inp: BinaryIO) -> Any:
    """Reads one frame; ``None`` at end of input."""
    header = inp.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(header)
    data = inp.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)


def run_remote(token: str, payload: bytes, trial_json: str, data_to_scatter: Any = None) -> str:
    """Evaluates one trial on a Dask worker; the evaluator is unpickled once per process.
    ``data_to_scatter`` is what Dask resolved from the futures of ``client.scatter`` (``None``
    without scattered data)."""
    evaluator = _LOADED.get(token)
    if evaluator is None:
        import cloudpickle

        evaluator = cloudpickle.loads(payload)
        _LOADED[token] = evaluator
    # Passed with the call, not stored: the threads of a Dask worker share the evaluator.
    return evaluator(trial_json, {} if data_to_scatter is None else {"data_to_scatter": data_to_scatter})


@contextlib.contextmanager
def memory_limit(mb: int | None):
    """Lowers the soft address-space limit to ``mb`` MB for the block (Linux; elsewhere none)."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits
        resource = None
    if mb is None or resource is None or not hasattr(resource, "RLIMIT_AS"):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mb << 20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def main() -> int:
    """Serves trials until the input closes or an exit frame arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Frames use private copies of the standard streams; the target's output goes to stderr
    # and its reads of stdin see an empty file.
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    evaluator = None
    limit_mb = None
    while True:
        frame = read_frame(inp)
        if frame is None or frame[0] == "exit":
            return 0
        if frame[0] == "init":
            try:
                import cloudpickle

                evaluator = cloudpickle.loads(frame[1])
                limit_mb = frame[2] if len(frame) > 2 else None
                evaluator.memory_limit_mb = limit_mb
            except Exception:  # noqa: BLE001 - reported to the optimizer, which fails the run
                write_frame(out, ("fatal", "the target could not be loaded in a worker process:\n" + traceback.format_exc()))
                return 1
        elif frame[0] == "data":
            try:
                import cloudpickle

                data = None if frame[1] is None else cloudpickle.loads(frame[1])
            except Exception:  # noqa: BLE001 - as for the target: the run fails with the reason
                write_frame(out, ("fatal", "data_to_scatter could not be loaded in a worker process:\n" + traceback.format_exc()))
                return 1
            evaluator.extra_kwargs = {} if data is None else {"data_to_scatter": data}
        elif frame[0] == "trial":
            _, seq, trial_json = frame
            write_frame(out, ("started", seq))
            with memory_limit(limit_mb):
                result = evaluator(trial_json)
            write_frame(out, ("result", seq, result))


if __name__ == "__main__":
    sys.exit(main())
