"""smac-rs Dask sidecar: drives a real ``distributed.Client`` for ``smac_runner::dask::DaskRunner``.

The Rust runner starts this script (embedded in the crate, written to a private temp file) with the
user's Python, which needs ``pip install distributed``. Nothing of smac-rs is installed on the Dask
scheduler or workers: the task function below lives in ``__main__``, so Dask pickles it by value.

Wire format, both directions, on stdin/stdout (stdout is kept for frames only; anything printed
goes to stderr, which the Rust side forwards to its logs):

    frame  = u32 BE header length, header (UTF-8 JSON object), then header["nblobs"] blobs
    blob   = u64 BE length, raw bytes

Rust -> sidecar ops: connect, scatter (1 blob; with "target": true it is the serialized target,
which registers the session's executor-pool plugin), submit (1 blob: the bincode trial request),
close.
Sidecar -> Rust ops: ready | fatal, connected, workers, stored (reply to scatter), scattered (a
client.scatter call happened), resubmitted, done (1 blob: the bincode TrialValue), failed, error,
closed.

Each trial is one Dask task (``run_trial``, small and pickled by value) that hands the trial to
a long-lived executor: a process of the smac worker program started with
``SMAC_DASK_EXECUTOR=1``, kept by the ``ExecutorPool`` worker plugin this sidecar registers once
per session (see ``executor_pool_class``). The executor reads on stdin ``b"SMACDX01"``, then
frames ``op (1 byte) + u32 BE length + payload``: ``T`` the target payload (once), ``S`` a
scattered blob's name and file (once per blob), ``R`` a trial (request + environment); it
answers each ``R`` with ``u32 BE length + bincode TrialValue`` on its original stdout, which the
target cannot write to (its stdout goes to stderr).
"""

import json
import logging
import os
import signal
import struct
import sys
import threading
import traceback
import uuid

PROTOCOL = 1
MAX_HEADER = 16 << 20
MAX_BLOB = 1 << 40
EXECUTOR_MAGIC = b"SMACDX01"
# Seconds an executor waits idle for a trial before it exits (when our session is gone).
EXECUTOR_IDLE_S = float(os.environ.get("SMAC_DASK_EXECUTOR_IDLE_S", 600))
STDERR_TAIL = 4000
# Resubmissions of a trial whose task was cancelled under us (lost scattered dependency,
# scheduler restart). Worker deaths are retried by Dask itself.
MAX_ATTEMPTS = 4

log = logging.getLogger("smac_dask_sidecar")


class Channel:
    """Length-prefixed frames over two binary pipes; sends are serialized by a lock."""

    def __init__(self, rfile, wfile):
        self.rfile = rfile
        self.wfile = wfile
        self.lock = threading.Lock()

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if data is None or len(data) != n:
            raise EOFError("the smac-rs runner closed the pipe")
        return data

    def recv(self):
        (hlen,) = struct.unpack(">I", self._read_exact(4))
        if hlen == 0 or hlen > MAX_HEADER:
            raise ValueError(f"bad frame header length {hlen}")
        header = json.loads(self._read_exact(hlen).decode("utf-8"))
        blobs = []
        for _ in range(int(header.get("nblobs", 0))):
            (blen,) = struct.unpack(">Q", self._read_exact(8))
            if blen > MAX_BLOB:
                raise ValueError(f"blob of {blen} bytes is too large")
            blobs.append(self._read_exact(blen))
        return header, blobs

    def send(self, header, blobs=()):
        header = dict(header, nblobs=len(blobs))
        raw = json.dumps(header).encode("utf-8")
        parts = [struct.pack(">I", len(raw)), raw]
        for b in blobs:
            parts.append(struct.pack(">Q", len(b)))
            parts.append(b)
        with self.lock:
            try:
                for p in parts:
                    self.wfile.write(p)
                self.wfile.flush()
            except (BrokenPipeError, ValueError, OSError):
                # The runner is gone; the main loop sees EOF on stdin and closes the client.
                pass


def executor_pool_class():
    """The ``WorkerPlugin`` that keeps a session's long-lived executors on a Dask worker.

    Built after ``distributed`` is imported; pickled by value (it lives in ``__main__``) and
    registered once per sidecar session under the name ``smac-rs-executors-<session>``, so
    sessions never share executors. Each task thread takes an idle executor (or starts one:
    the worker program with ``SMAC_DASK_EXECUTOR=1``), sends it the trial and waits for the
    answer with the trial's walltime limit. An executor that timed out, died or broke the
    protocol is killed (with its process group) and never reused. Unregistering the plugin (the
    sidecar's ``close``) or closing the worker kills the session's executors; an executor left
    behind by a sidecar that died exits after ``SMAC_DASK_EXECUTOR_IDLE_S`` idle seconds, or at
    once when its Dask worker dies.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class ExecutorPool(WorkerPlugin):
        def __init__(self, session, idle_s, target, exe=None, env=None):
            self.session = session
            self.idle_s = float(idle_s)
            self.exe = exe
            self.env = dict(env or {})
            # The serialized target travels with the plugin: once per worker (workers joining
            # later get it from the scheduler), and no task depends on a scattered future for it
            # (a dependency costs every task ~10 % of plain Dask's throughput).
            self.target = target

        def setup(self, worker):
            import threading

            self.worker = worker
            self.lock = threading.Lock()
            self.idle = []  # Executor objects free for the next trial (LIFO)
            self.live = set()
            self.files = {}  # Dask key of a scattered blob -> its file on this worker
            self.closed = False
            self.cache = os.path.join(worker.local_directory, "smac-scatter")
            os.makedirs(self.cache, exist_ok=True)
            # Start one executor per worker thread now, so the first trials do not wait for a
            # process start; a failure here is reported by the first trial instead.
            if self.exe:
                for _ in range(max(1, int(getattr(worker, "nthreads", 1) or 1))):
                    try:
                        ex = Executor(self.exe, self.env, self.target, self.cache, worker.address, self.idle_s)
                    except Exception as e:
                        log.debug("cannot start an executor in advance: %s", e)
                        break
                    self.live.add(ex)
                    self.idle.append(ex)

        def teardown(self, worker):
            with self.lock:
                self.closed = True
                live, self.live, self.idle = list(self.live), set(), []
            for ex in live:
                ex.kill()

        def materialize(self, scattered, keys):
            """Writes each blob to this worker's local directory once; returns (name, key, path)
            triples and the names written now."""
            out, written = [], []
            for name in sorted(scattered):
                key = keys[name]
                with self.lock:
                    path = self.files.get(key)
                    if path is None:
                        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
                        path = os.path.join(self.cache, safe)
                        if not os.path.exists(path):
                            tmp = f"{path}.{os.getpid()}.tmp"
                            with open(tmp, "wb") as f:
                                f.write(scattered[name])
                            os.replace(tmp, path)
                            written.append(name)
                        self.files[key] = path
                out.append((name, key, path))
            return out, written

        def take(self, exe, env_extra):
            import time

            stale = []
            try:
                with self.lock:
                    if self.closed:
                        raise RuntimeError("the smac-rs executor pool of this worker is closed")
                    while self.idle:
                        ex = self.idle.pop()
                        fresh = time.monotonic() - ex.last < 0.8 * self.idle_s
                        if ex.exe == exe and fresh and ex.proc.poll() is None:
                            return ex
                        self.live.discard(ex)
                        stale.append(ex)
            finally:
                for ex in stale:
                    ex.kill()
            ex = Executor(exe, env_extra, self.target, self.cache, self.worker.address, self.idle_s)
            with self.lock:
                self.live.add(ex)
            return ex

        def run(self, exe, request, scattered, keys, timeout_s, env_extra):
            files, written = self.materialize(scattered, keys)
            meta = {"worker": self.worker.address, "materialized": written}
            ex = self.take(exe, env_extra)
            meta["executor"] = ex.proc.pid
            res = ex.run(request, files, env_extra, timeout_s)
            with self.lock:
                keep = "value" in res and not self.closed
                if keep:
                    self.idle.append(ex)
                else:
                    self.live.discard(ex)
            if not keep:
                ex.kill()
            return dict(meta, **res)

    return ExecutorPool


def wait_fd(fd, events, left):
    """Waits until ``fd`` is ready (``poll``: no FD_SETSIZE limit, unlike ``select``)."""
    import select

    poller = select.poll()
    poller.register(fd, events | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(None if left is None else max(0, int(left * 1000) + 1)))


class Executor:
    """One long-lived process of the worker program in executor mode (see dask_entry.rs)."""

    def __init__(self, exe, env_extra, runner, cache, address, idle_s):
        import subprocess
        import tempfile
        import time

        env = dict(os.environ)
        env.update(env_extra)
        env["SMAC_DASK_EXECUTOR"] = "1"
        env["SMAC_DASK_EXECUTOR_IDLE_S"] = str(idle_s)
        self.exe = exe
        self.err = tempfile.TemporaryFile(dir=cache)
        self.err_pos = 0
        self.sent = set()
        self.last = time.monotonic()
        try:
            # Own process group: a timeout kills what the target started too.
            self.proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                         env=env, bufsize=0, start_new_session=True)
        except OSError as e:
            self.err.close()
            raise RuntimeError(
                f"cannot start the smac worker entry point {exe!r} on Dask worker {address}: {e} "
                "(the program must exist at this path on every Dask worker)"
            ) from None
        self.broken = None
        # Sent with the first trial, under its deadline: a program that never reads its stdin
        # must not block the task forever.
        self.hello = EXECUTOR_MAGIC + self.frame(b"T", runner)
        os.set_blocking(self.proc.stdin.fileno(), False)

    @staticmethod
    def frame(op, payload):
        return op + struct.pack(">I", len(payload)) + payload

    @staticmethod
    def section(b):
        return struct.pack(">I", len(b)) + b

    def write(self, data, deadline):
        import select
        import time

        if self.broken:
            return
        view, fd = memoryview(data), self.proc.stdin.fileno()
        try:
            while view:
                try:
                    view = view[os.write(fd, view):]
                    continue
                except BlockingIOError:
                    pass
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError()
                wait_fd(fd, select.POLLOUT, left)
        except (BrokenPipeError, OSError) as e:  # the executor died; its exit status tells why
            if isinstance(e, TimeoutError):
                raise
            self.broken = str(e)

    def read(self, n, deadline, more=0):
        """At least ``n`` bytes (up to ``n + more`` if they are there: the executor answers
        with one write, so one read usually brings the whole answer)."""
        import select
        import time

        fd, chunks, got = self.proc.stdout.fileno(), [], 0
        if n <= 0:
            return b""
        while got < n:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError()
            if not wait_fd(fd, select.POLLIN, left):
                raise TimeoutError()
            chunk = os.read(fd, n + more - got)
            if not chunk:
                raise EOFError()
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def run(self, request, files, env_extra, timeout_s):
        import time

        deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)
        out = []
        if self.hello is not None:
            out.append(self.hello)
            self.hello = None
        for name, key, path in files:
            if key not in self.sent:
                out.append(self.frame(b"S", self.section(name.encode()) + self.section(path.encode())))
                self.sent.add(key)
        body = [self.section(request), struct.pack(">I", len(env_extra))]
        for k, v in env_extra.items():
            body += [self.section(str(k).encode()), self.section(str(v).encode())]
        out.append(self.frame(b"R", b"".join(body)))
        try:
            self.write(b"".join(out), deadline)
            head = self.read(4, deadline, more=1 << 16)
            (n,) = struct.unpack(">I", head[:4])
            value = head[4:] + self.read(n - (len(head) - 4), deadline)
        except TimeoutError:
            # stderr before the kill: the reaper thread closes the file once the process is gone.
            tail = self.stderr()[-STDERR_TAIL:]
            self.kill()
            return {"kind": "timeout", "stderr": tail}
        except EOFError:
            try:
                code = self.proc.wait(timeout=10)
            except Exception:
                tail = self.stderr()[-STDERR_TAIL:]
                self.kill()
                return {"kind": "exit", "returncode": self.proc.returncode, "stderr": tail}
            return {"kind": "exit", "returncode": code, "stderr": self.stderr()[-STDERR_TAIL:]}
        self.stderr()
        self.last = time.monotonic()
        return {"value": value}

    def stderr(self):
        """Forwards what the executor wrote to stderr since the last call to this worker's log,
        and returns it. ``pread`` leaves the offset the child shares with us untouched."""
        if self.err.closed:
            return ""  # reaped after a kill: what it wrote was read before the kill
        fd = self.err.fileno()
        size = os.fstat(fd).st_size
        if size <= self.err_pos:
            return ""
        start = max(self.err_pos, size - 64 * 1024)
        text = os.pread(fd, size - start, start).decode("utf-8", "replace")
        self.err_pos = size
        if text:
            # The target's stderr belongs in this worker's log, as with any Dask task.
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
        return text

    def kill(self):
        import threading

        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self):
        try:
            self.proc.wait()
        finally:
            for f in (self.proc.stdin, self.proc.stdout, self.err):
                try:
                    f.close()
                except Exception:
                    pass


def run_trial(pool, exe, request, scattered, keys, timeout_s, env_extra):
    """The Dask task: runs one trial on a long-lived executor of this worker's pool."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(pool)
    if plugin is None:
        raise RuntimeError(f"the smac-rs executor pool {pool} is not registered on this Dask worker")
    return plugin.run(exe, request, scattered, keys, timeout_s, env_extra)


class Pending:
    __slots__ = ("msg", "request", "attempts", "future")

    def __init__(self, msg, request):
        self.msg, self.request, self.attempts, self.future = msg, request, 0, None


class Sidecar:
    def __init__(self, chan):
        self.chan = chan
        self.client = None
        self.cluster = None
        self.lock = threading.RLock()
        self.pending = {}
        self.scattered = {}  # name -> [bytes, future, broadcast]
        self.session = uuid.uuid4().hex[:8]
        self.stopping = threading.Event()
        self.closing = False
        self.timeout = 30.0
        self.claims = {}
        self.pool = None

    # -- connection ---------------------------------------------------------------------------
    def connect(self, msg):
        import time

        from distributed import Client, LocalCluster

        timeout = self.timeout = float(msg.get("timeout_s") or 30)
        self.claims = {k: float(v) for k, v in (msg.get("claims") or {}).items() if float(v) > 0}
        kw = dict(timeout=timeout, set_as_default=False, name=f"smac-rs-{self.session}")
        if msg.get("scheduler_file"):
            path = msg["scheduler_file"]
            deadline = time.monotonic() + timeout
            # dask-mpi and batch jobs write the file asynchronously: wait for it to appear.
            while not os.path.exists(path):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the Dask scheduler file {path} did not appear within {timeout} s")
                time.sleep(0.1)
            self.client = Client(scheduler_file=path, **kw)
        elif msg.get("address"):
            self.client = Client(msg["address"], **kw)
        else:
            local = msg.get("local") or {}
            self.cluster = LocalCluster(
                n_workers=int(local.get("n_workers", 1)),
                threads_per_worker=int(local.get("threads_per_worker", 1)),
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self.client = Client(self.cluster, **kw)
        workers, threads = self.capacity()
        info = self.client.scheduler_info()
        dashboard = None
        try:
            dashboard = self.client.dashboard_link
        except Exception:
            pass
        import distributed

        return {
            "op": "connected",
            "scheduler": info.get("address", ""),
            "dashboard": dashboard,
            "distributed": distributed.__version__,
            "owned_cluster": self.cluster is not None,
            "workers": workers,
            "threads": threads,
        }

    def capacity(self):
        """(workers, threads able to run a trial): with resource claims, a worker's threads are
        capped by how many trials its resources can hold at once, as Dask schedules them."""
        if not self.claims:
            nthreads = self.client.nthreads()
            return len(nthreads), sum(nthreads.values())
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed before n_workers= listed every worker anyway
            info = self.client.scheduler_info()
        workers = info.get("workers", {})
        slots = 0
        for w in workers.values():
            t = int(w.get("nthreads", 1))
            have = w.get("resources") or {}
            for name, need in self.claims.items():
                t = min(t, int(float(have.get(name, 0)) // need))
            slots += max(t, 0)
        return len(workers), slots

    def watch(self, interval, last):
        """Reports the cluster's workers and usable threads whenever they change."""
        while not self.stopping.wait(interval):
            try:
                now = self.capacity() + (None,)
            except Exception as e:  # scheduler unreachable: no worker is usable meanwhile
                now = (0, 0, f"{type(e).__name__}: {e}")
            if now != last:
                last = now
                self.chan.send({"op": "workers", "workers": now[0], "threads": now[1], "error": now[2]})

    # -- scattered data -------------------------------------------------------------------------
    def scatter(self, msg, data):
        """Keeps the blob and scatters it now if the cluster has workers, else on first use
        (``client.scatter`` waits for workers, and a batch cluster may have none yet)."""
        name = msg["name"]
        if msg.get("target"):
            return self.install_target(name, data, msg.get("exe"), msg.get("env") or {})
        with self.lock:
            self.scattered[name] = [data, None, bool(msg.get("broadcast", True))]
        deferred = None
        try:
            if self.client.nthreads():
                self._scattered(name)
            else:
                deferred = "the cluster has no workers yet"
        except Exception as e:
            deferred = describe(e)
            log.warning("scattering %r now failed (%s); it is scattered when first used", name, deferred)
        return {"op": "stored", "name": name, "deferred": deferred}

    def install_target(self, name, data, exe=None, env=None):
        """Registers this session's executor pool with the serialized target (see
        ``executor_pool_class``); the scheduler hands it to every worker, joining ones too."""
        pool = f"smac-rs-executors-{self.session}"
        try:
            # The executors' own idle timeout (their environment wins) is the pool's too, so a
            # task never picks an executor that is about to exit.
            idle = float((env or {}).get("SMAC_DASK_EXECUTOR_IDLE_S", EXECUTOR_IDLE_S))
            plugin = executor_pool_class()(self.session, idle, data, exe, env)
            self.client.register_plugin(plugin, name=pool)
        except Exception as e:
            return {"op": "stored", "name": name, "error": describe(e)}
        self.pool = pool
        self.chan.send({"op": "scattered", "name": name, "key": pool, "bytes": len(data), "again": False})
        return {"op": "stored", "name": name, "deferred": None}

    def _scattered(self, name):
        """The live future of a stored blob, scattered (again) if it has none or lost its data."""
        with self.lock:
            entry = self.scattered[name]
            if entry[1] is None or entry[1].status != "finished":
                again = entry[1] is not None
                if again:
                    log.warning("scattered data %r was lost (%s); scattering it again", name, entry[1].status)
                entry[1] = self.client.scatter(entry[0], broadcast=entry[2], hash=True, timeout=self.timeout)
                self.chan.send({"op": "scattered", "name": name, "key": str(entry[1].key),
                                "bytes": len(entry[0]), "again": again})
            return entry[1]

    # -- trials ---------------------------------------------------------------------------------
    def submit(self, msg, request):
        seq = msg["seq"]
        with self.lock:
            self.pending[seq] = Pending(msg, request)
        self._submit(seq)

    def _submit(self, seq):
        with self.lock:
            p = self.pending.get(seq)
            if p is None or self.closing:
                return
            p.attempts += 1
            attempt = p.attempts
            try:
                if self.pool is None:
                    raise RuntimeError("the target was never sent to the sidecar")
                names = list(p.msg.get("scatter") or [])
                data = {n: self._scattered(n) for n in names}
                keys = {n: str(data[n].key) for n in names}
                p.future = self.client.submit(
                    run_trial,
                    self.pool,
                    p.msg["exe"],
                    p.request,
                    data,
                    keys,
                    p.msg.get("timeout_s"),
                    p.msg.get("env") or {},
                    key=f"smac-trial-{self.session}-{seq}-{attempt}",
                    pure=False,
                    retries=int(p.msg.get("retries", 1)),
                    resources=p.msg.get("resources") or None,
                )
            except Exception as e:
                del self.pending[seq]
                self.chan.send({"op": "failed", "seq": seq, "kind": "submit", "error": describe(e)})
                return
        p.future.add_done_callback(lambda f, seq=seq, attempt=attempt: self.on_done(seq, attempt, f))

    def on_done(self, seq, attempt, fut):
        with self.lock:
            p = self.pending.get(seq)
            if p is None or p.attempts != attempt or self.closing:
                return
        status = fut.status
        if status == "finished":
            try:
                res = fut.result(timeout=60)
            except Exception as e:
                return self.retry_or_fail(seq, attempt, "error", f"cannot fetch the result: {describe(e)}")
            fut.release()
            with self.lock:
                self.pending.pop(seq, None)
            meta = {"seq": seq, "worker": res.get("worker"), "attempts": attempt}
            meta["materialized"] = res.get("materialized", [])
            if "value" in res:
                self.chan.send(dict(meta, op="done"), [res["value"]])
            else:
                extra = {k: res.get(k) for k in ("kind", "returncode", "stderr")}
                self.chan.send(dict(meta, op="failed", error="", **extra))
        elif status == "error":
            try:
                exc = fut.exception(timeout=10)
                text = describe(exc)
            except Exception as e:
                text = describe(e)
            with self.lock:
                self.pending.pop(seq, None)
            self.chan.send({"op": "failed", "seq": seq, "kind": "error", "error": text, "attempts": attempt})
        else:
            # Cancelled by Dask, not by us: a scattered dependency was lost or the scheduler
            # restarted. Submit again (its data is scattered again if needed).
            self.retry_or_fail(seq, attempt, "cancelled", f"the Dask task was {status}")

    def retry_or_fail(self, seq, attempt, kind, text):
        with self.lock:
            p = self.pending.get(seq)
            if p is None or p.attempts != attempt:
                return
            if p.attempts >= MAX_ATTEMPTS:
                self.pending.pop(seq, None)
                p = None
        if p is None:
            self.chan.send({"op": "failed", "seq": seq, "kind": kind, "error": text, "attempts": attempt})
            return
        log.warning("trial %s: %s; submitting it again", seq, text)
        self.chan.send({"op": "resubmitted", "seq": seq, "reason": text})
        threading.Thread(target=self._submit, args=(seq,), daemon=True).start()

    # -- shutdown -------------------------------------------------------------------------------
    def close(self):
        """Closes our client (and a cluster we started); a user's cluster keeps running."""
        self.stopping.set()
        with self.lock:
            self.closing = True
            futures = [p.future for p in self.pending.values() if p.future is not None]
        if self.client is not None:
            try:
                if futures:
                    self.client.cancel(futures)
                if self.pool is not None and self.cluster is None:
                    # Ends this session's executors on every worker (plugin teardown).
                    self.client.unregister_worker_plugin(self.pool)
                self.client.close(timeout=10)
            except Exception as e:
                log.warning("closing the Dask client: %s", describe(e))
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception as e:
                log.warning("closing the local Dask cluster: %s", describe(e))


def describe(exc):
    return f"{type(exc).__name__}: {exc}"


def main():
    # Ctrl-C belongs to the Rust program, which closes us through stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the real stdout for frames only; stray prints (ours or libraries') go to stderr.
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    chan = Channel(sys.stdin.buffer, proto_out)
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("SMAC_DASK_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        import distributed
    except Exception as e:
        chan.send({"op": "fatal", "kind": "import", "python": sys.executable, "error": describe(e)})
        return 3
    chan.send({"op": "ready", "protocol": PROTOCOL, "python": sys.version.split()[0],
               "distributed": distributed.__version__})
    car = Sidecar(chan)
    try:
        msg, _ = chan.recv()
        if msg.get("op") != "connect":
            raise ValueError(f"expected connect, got {msg.get('op')}")
        connected = car.connect(msg)
        chan.send(connected)
    except EOFError:
        return 0
    except Exception as e:
        chan.send({"op": "fatal", "kind": "connect", "error": describe(e)})
        car.close()
        return 4
    seen = (connected["workers"], connected["threads"], None)
    interval = float(msg.get("poll_interval_s") or 0.25)
    threading.Thread(target=car.watch, args=(interval, seen), daemon=True).start()
    while True:
        try:
            msg, blobs = chan.recv()
        except EOFError:
            break
        op = msg.get("op")
        try:
            if op == "submit":
                car.submit(msg, blobs[0])
            elif op == "scatter":
                chan.send(car.scatter(msg, blobs[0]))
            elif op == "close":
                break
            else:
                chan.send({"op": "error", "error": f"unknown op {op!r}"})
        except Exception as e:
            log.debug("%s", traceback.format_exc())
            reply = {"op": "error", "error": describe(e), "about": op}
            if op == "scatter":
                reply = {"op": "stored", "name": msg.get("name"), "error": describe(e)}
            chan.send(reply)
    car.close()
    chan.send({"op": "closed"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
