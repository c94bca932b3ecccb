"""The Python halves of the parallel backends the runner core drives (``n_workers > 1`` and
``dask_client=``).

smac-runner's ``DaskStyleParallelRunner`` does the bookkeeping of a parallel run (free slots,
patience, retrying a trial whose worker died, delivering results); a backend only starts trials
and reports what happened. The Rust ``PyBackend`` calls these objects with the GIL held:

- ``submit(seq, trial_json)`` starts a trial;
- ``next_event(timeout)`` returns ``("finished", seq, value_json)``, ``("lost", seq, reason)``
  (the infrastructure lost the trial: it is retried, never recorded as the target's failure),
  ``("workers", 0, "")`` (the number of workers changed) or ``None`` after ``timeout`` seconds;
- ``capacity()``, ``n_workers()``, ``describe()``, ``is_alive()``, ``scatter(name, data)``,
  ``close()``.

The facade calls ``set_data(data)`` around ``optimize(data_to_scatter=data)``: the data goes to
every worker once (not once per trial) and each trial receives it as the keyword argument
``data_to_scatter``, as in SMAC3; ``set_data(None)`` ends that.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import os
import selectors
import struct
import subprocess
import sys
import time
import uuid
from typing import Any

from smac_rs._worker import _HEADER, read_frame  # noqa: F401 - same frame format
from smac_rs.runhistory.dataclasses import StatusType

Event = tuple  # (kind, seq, payload)


class _Worker:
    """One ``python -m smac_rs._worker`` process."""

    def __init__(self, payload: bytes, memory_limit_mb: int | None = None) -> None:
        env = dict(os.environ)
        # The worker must import the same smac_rs as this process, wherever it was loaded from.
        # Like multiprocessing's spawn: the parent's import path, so targets defined in its
        # modules (pickled by reference) load in the worker too.
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        paths = [here, os.getcwd(), *(p for p in sys.path if p and os.path.isdir(p))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smac_rs._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C in a terminal reaches the optimizer only
        )
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.running: dict[int, float] = {}  # seq -> start time (inf until the worker starts it)
        self.send(("init", payload, memory_limit_mb))

    def send(self, obj: Any) -> None:
        import pickle

        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(_HEADER.pack(len(data)) + data)
        self.proc.stdin.flush()

    def frames(self) -> list[Any] | None:
        """Reads what is available; the complete frames, or ``None`` at end of output."""
        import pickle

        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            return None
        self.buffer += chunk
        out = []
        while len(self.buffer) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + n:
                break
            out.append(pickle.loads(self.buffer[_HEADER.size : _HEADER.size + n]))
            self.buffer = self.buffer[_HEADER.size + n :]
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _failure_value(status: StatusType, start: float, now: float, error: str) -> str:
    """The value JSON of a trial the backend ended (timeout) or lost with its process."""
    value = {
        "cost": [], "time": now - start, "cpu_time": 0.0, "status": int(status),
        "starttime": start, "endtime": now, "additional_info": {"error": error},
    }
    return json.dumps(value)


def _timeout_value(start: float, now: float, limit: float) -> str:
    return _failure_value(StatusType.TIMEOUT, start, now, f"the trial exceeded trial_walltime_limit={limit} s")


def run_limited(
    payload: bytes, trial_json: str, data_to_scatter: Any, walltime_limit: float | None, memory_limit_mb: int | None
) -> str:
    """Evaluates one trial on a Dask worker in a process of its own (``smac_rs._worker``), where
    the walltime limit can stop it and the memory limit cannot touch the Dask worker, as SMAC3
    runs limited trials in a pynisher subprocess there. The process lives for this trial only."""
    import cloudpickle

    w = _Worker(payload, memory_limit_mb)
    selector = selectors.DefaultSelector()
    selector.register(w.fd, selectors.EVENT_READ)
    start = time.time()
    started: float | None = None
    try:
        if data_to_scatter is not None:
            w.send(("data", cloudpickle.dumps(data_to_scatter)))
        w.send(("trial", 0, trial_json))
        while True:
            wait = None
            if walltime_limit is not None and started is not None:
                wait = max(0.0, started + walltime_limit - time.time())
            if not selector.select(wait):
                return _timeout_value(started or start, time.time(), walltime_limit or 0.0)
            frames = w.frames()
            if frames is None:
                code = w.proc.wait()
                return _failure_value(
                    StatusType.CRASHED, started or start, time.time(),
                    f"the trial's process {w.proc.pid} on the Dask worker died (exit code {code})",
                )
            for f in frames:
                if f[0] == "started":
                    started = time.time()
                elif f[0] == "result":
                    return f[2]
                elif f[0] == "fatal":
                    raise RuntimeError(f[1])
    finally:
        selector.close()
        w.kill()


class ProcessBackend:
    """``n_workers`` local worker processes; a dead worker's trial is reported lost and the
    worker replaced. ``trial_walltime_limit`` is enforced by killing the worker (status
    ``TIMEOUT``); ``trial_memory_limit`` (MB) by the worker, as its address-space limit while a
    trial runs (status ``MEMORYOUT``)."""

    def __init__(
        self,
        n_workers: int,
        payload: bytes,
        trial_walltime_limit: float | None = None,
        trial_memory_limit: int | None = None,
    ) -> None:
        self._payload = payload
        self._memory_limit = trial_memory_limit
        self._data: bytes | None = None  # cloudpickled data_to_scatter, sent to each new worker
        self._limit = trial_walltime_limit
        self._events: collections.deque[Event] = collections.deque()
        self._selector = selectors.DefaultSelector()
        self._workers: list[_Worker] = []
        self._closed = False
        self._fatal: str | None = None
        for _ in range(n_workers):
            self._spawn()

    def _spawn(self) -> None:
        w = _Worker(self._payload, self._memory_limit)
        if self._data is not None:
            w.send(("data", self._data))
        self._workers.append(w)
        self._selector.register(w.fd, selectors.EVENT_READ, w)

    def _retire(self, w: _Worker, reason_lost: str | None) -> None:
        self._selector.unregister(w.fd)
        self._workers.remove(w)
        w.kill()
        if reason_lost is not None:
            for seq in w.running:
                self._events.append(("lost", seq, reason_lost))
        if not self._closed and self._fatal is None:
            self._spawn()
            self._events.append(("workers", 0, ""))

    def describe(self) -> str:
        return f"{len(self._workers)} local Python worker processes"

    def capacity(self) -> int:
        return 0 if self._closed or self._fatal else len(self._workers)

    def n_workers(self) -> int:
        return len(self._workers)

    def is_alive(self) -> bool:
        return not self._closed and self._fatal is None

    def submit(self, seq: int, trial_json: str) -> None:
        if self._fatal:
            raise RuntimeError(self._fatal)
        w = min(self._workers, key=lambda w: len(w.running))
        try:
            w.send(("trial", seq, trial_json))
        except (BrokenPipeError, OSError):
            # Its death is seen by next_event, which reports this trial lost with the others.
            pass
        w.running[seq] = math.inf

    def _timeouts(self, now: float) -> None:
        if self._limit is None:
            return
        for w in list(self._workers):
            late = [s for s, t in w.running.items() if now - t > self._limit]
            if late:
                for seq in late:
                    start = w.running.pop(seq)
                    self._events.append(("finished", seq, _timeout_value(start, now, self._limit)))
                self._retire(w, "its worker was stopped because another trial on it timed out")

    def next_event(self, timeout: float | None) -> Event | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._events:
            if self._fatal:
                raise RuntimeError(self._fatal)
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self._limit is not None:
                now = time.time()
                starts = [t for w in self._workers for t in w.running.values() if t != math.inf]
                soonest = min((t + self._limit - now for t in starts), default=None)
                if soonest is not None:
                    wait = max(0.0, soonest) if wait is None else min(wait, max(0.0, soonest))
            for key, _ in self._selector.select(wait):
                w: _Worker = key.data
                frames = w.frames()
                if frames is None:
                    code = w.proc.wait()
                    self._retire(w, f"its worker process {w.proc.pid} died (exit code {code})")
                    continue
                for f in frames:
                    if f[0] == "started" and f[1] in w.running:
                        w.running[f[1]] = time.time()
                    elif f[0] == "result" and f[1] in w.running:
                        del w.running[f[1]]
                        self._events.append(("finished", f[1], f[2]))
                    elif f[0] == "fatal":
                        self._fatal = f[1]
            self._timeouts(time.time())
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self._events.popleft() if self._events else None

    def set_data(self, data: Any) -> None:
        """Sends ``data`` (``None``: no data) to every worker once, and to workers started later."""
        import cloudpickle

        self._data = None if data is None else cloudpickle.dumps(data)
        for w in self._workers:
            try:
                w.send(("data", self._data))
            except (BrokenPipeError, OSError):
                pass  # a dead worker is replaced (with the data) once next_event sees it

    def scatter(self, name: str, data: bytes) -> None:
        raise NotImplementedError("scatter: data travels with the target (cloudpickled once per worker)")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            try:
                w.send(("exit",))
                w.proc.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        for w in list(self._workers):
            try:
                w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            w.kill()
        self._selector.close()
        self._workers.clear()


class DaskBackend:
    """Trials as tasks of a user's Dask client (SMAC3's ``dask_client=``). The evaluator is
    scattered to every worker once; the client and its cluster are never closed by us. With
    ``trial_walltime_limit`` or ``trial_memory_limit`` each trial runs in a process of its own
    on the Dask worker, as SMAC3's pynisher runs it there."""

    def __init__(
        self,
        client: Any,
        payload: bytes,
        trial_walltime_limit: float | None = None,
        trial_memory_limit: int | None = None,
    ) -> None:
        import distributed

        # With a limit, each trial runs in a process of its own on the Dask worker (run_limited).
        self._limits = (trial_walltime_limit, trial_memory_limit)

        self._distributed = distributed
        self._client = client
        self._token = uuid.uuid4().hex
        self._payload = client.scatter(payload, broadcast=True, hash=False)
        self._data: Any = None  # futures of client.scatter(data_to_scatter)
        self._futures: dict[Any, int] = {}
        self._workers_seen = -1
        self._closed = False
        self._cached: dict[str, int] = {}
        self._polled_at = -1.0

    def describe(self) -> str:
        return f"Dask scheduler {self._client.scheduler.address}"

    def _nthreads(self) -> dict[str, int]:
        # The runner asks for the capacity on every loop turn; one scheduler round trip per
        # 0.2 s is plenty to notice workers joining or leaving.
        now = time.monotonic()
        if now - self._polled_at > 0.2:
            try:
                self._cached = dict(self._client.nthreads())
            except Exception:  # noqa: BLE001 - a gone scheduler means no capacity
                self._cached = {}
            self._polled_at = now
        return self._cached

    def capacity(self) -> int:
        return 0 if self._closed else sum(self._nthreads().values())

    def n_workers(self) -> int:
        return len(self._nthreads())

    def is_alive(self) -> bool:
        return not self._closed and self._client.status == "running"

    def submit(self, seq: int, trial_json: str) -> None:
        from smac_rs._worker import run_remote

        if self._limits != (None, None):
            future = self._client.submit(run_limited, self._payload, trial_json, self._data, *self._limits, pure=False)
        else:
            future = self._client.submit(run_remote, self._token, self._payload, trial_json, self._data, pure=False)
        self._futures[future] = seq

    def next_event(self, timeout: float | None) -> Event | None:
        n = self.n_workers()
        if n != self._workers_seen:
            self._workers_seen = n
            return ("workers", 0, "")
        if not self._futures:
            # Nothing to wait for but workers joining: look again after a short pause.
            time.sleep(min(0.1, timeout if timeout is not None else 0.1))
            return None
        timeouts = (TimeoutError, asyncio.TimeoutError, getattr(self._distributed, "TimeoutError", TimeoutError))
        try:
            done, _ = self._distributed.wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except timeouts:
            return None
        future = next(iter(done))
        seq = self._futures.pop(future)
        if future.status == "finished":
            return ("finished", seq, future.result())
        return ("lost", seq, f"the Dask task failed: {future.exception()!r}")

    def set_data(self, data: Any) -> None:
        """Scatters ``data`` to every worker once, as SMAC3 does (``broadcast=True``); the
        trials get its futures, which Dask resolves on the worker."""
        self._data = None if data is None else self._client.scatter(data, broadcast=True)

    def scatter(self, name: str, data: bytes) -> None:
        raise NotImplementedError("scatter: data travels with the target (scattered once to every worker)")

    def close(self) -> None:
        self._closed = True
        for f in self._futures:
            f.cancel()
        self._futures.clear()
