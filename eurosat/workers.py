"""Classification jobs in worker processes, so that one user's job never holds another's GIL.

Threads of one server share one interpreter lock. With the single-pass model about half of a
whole-scene job is Python and NumPy (reading, masks, footprints) that holds it, so a 20-tile
rectangle drawn while big jobs run waited for their Python as well as for the cores
(``benchmarks/load_users.py``: 1.7-3.5x its one-user time in threads). :class:`WorkerPool`
runs each job in a process of its own: ``cores`` workers for big jobs (the :class:`JobGate`
admits no more at once) plus one spare that a small job therefore always finds free.

A job is named (:data:`JOBS`), sent with its arguments, and answered by progress messages and
then its result (an :class:`eurosat.tiling.AreaResult`) or its error, re-raised in the caller.
A worker that dies (out of memory, killed) or whose caller gave up half-way (a Streamlit rerun)
is replaced; the caller gets a :class:`~eurosat.errors.EuroSATError` with a message, never a hang.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from eurosat.errors import EuroSATError
from eurosat.serving import ShortestFirst

Progress = Callable[[int, int], None]


def _scene_job(classifier: Any, path: str, **kwargs: Any) -> Any:
    from eurosat.tiling import classify_scene

    return classify_scene(path, classifier, **kwargs)


def _area_job(classifier: Any, path: str, bbox: tuple[float, float, float, float], **kwargs: Any) -> Any:
    from eurosat.tiling import classify_area

    return classify_area(path, bbox, classifier, **kwargs)


#: The jobs a worker runs: name → function(classifier, *args, progress=..., **kwargs).
JOBS: dict[str, Callable[..., Any]] = {"scene": _scene_job, "area": _area_job}


class WorkerError(EuroSATError):
    """A classification worker stopped before answering (killed, out of memory)."""


_DIED = (
    "The classification worker stopped unexpectedly (out of memory or killed); the job was lost: "
    "try again, or a smaller area."
)


def _transportable(exc: BaseException) -> BaseException:
    """The error itself when it pickles (our typed errors do), else a EuroSATError with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any unpicklable error becomes a message
        return EuroSATError(f"Classification failed: {type(exc).__name__}: {exc}")


def _worker_main(conn: Connection, num_threads: int, preload: str | None = None) -> None:
    """A worker's loop: one job at a time until ``None`` arrives or the pipe closes.

    ``preload``: a model loaded (and run once on a blank tile) before the worker says it is ready,
    so that no user's first job pays for it.
    """
    import numpy as np

    from eurosat import tiling  # noqa: F401 - imported before "ready", not in the first job
    from eurosat.inference import TFLiteClassifier

    classifiers: dict[tuple[str, float], TFLiteClassifier] = {}
    if preload:
        try:
            clf = TFLiteClassifier(preload, num_threads=num_threads)
            clf.predict(np.zeros((1, 64, 64, 3), np.float32))
            classifiers[(preload, os.stat(preload).st_mtime)] = clf
        except Exception:  # noqa: BLE001 - the first job will report it
            classifiers.clear()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        name, model_path, args, kwargs = message
        try:
            key = (model_path, os.stat(model_path).st_mtime)
            if key not in classifiers:
                classifiers.clear()  # a promoted model replaces the old one
                classifiers[key] = TFLiteClassifier(model_path, num_threads=num_threads)

            def progress(done: int, total: int) -> None:
                conn.send(("progress", done, total))

            result = JOBS[name](classifiers[key], *args, progress=progress, **kwargs)
            conn.send(("result", result))
        except Exception as exc:  # noqa: BLE001 - every error goes back to the caller
            conn.send(("error", _transportable(exc)))


class _Worker:
    def __init__(self, ctx: Any, num_threads: int, preload: str | None):
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, num_threads, preload),
            daemon=True,
            name="eurosat-classify-worker",
        )
        self.process.start()
        child.close()
        self.ready = False
        self.busy = False  # a job was sent and its answer has not been read yet

    def wait_ready(self) -> None:
        if not self.ready:
            kind, _ = self._recv()
            self.ready = kind == "ready"

    def _recv(self) -> tuple:
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerError(_DIED) from exc

    def run(self, name: str, model_path: str, args: tuple, kwargs: dict, progress: Progress | None) -> Any:
        self.wait_ready()
        try:
            self.busy = True
            self.conn.send((name, model_path, args, kwargs))
        except (OSError, ValueError) as exc:
            raise WorkerError(_DIED) from exc
        while True:
            message = self._recv()
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1], message[2])
                continue
            self.busy = False
            if message[0] == "result":
                return message[1]
            raise message[1]

    def close(self) -> None:
        if self.busy:  # still working on a job nobody waits for: stop it now
            self.process.kill()
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


class WorkerPool:
    """``size`` worker processes, each with its own 1-thread LiteRT interpreter, shortest job first.

    Args:
        size: workers (default: the CPU count + 1, the spare a small job finds free while the
            :class:`~eurosat.serving.JobGate` lets one big job per core run).
        num_threads: LiteRT threads per worker (default 1: one core per job).
        start_method: multiprocessing start method; ``spawn`` (default) is safe in a threaded server.
        preload: a model every worker loads and runs once as it starts (the app's active model).
    """

    def __init__(
        self,
        size: int | None = None,
        num_threads: int = 1,
        start_method: str = "spawn",
        preload: str | Path | None = None,
    ):
        self.size = max(1, size or (os.cpu_count() or 1) + 1)
        self.num_threads = num_threads
        self.preload = str(preload) if preload else None
        self._ctx = multiprocessing.get_context(start_method)
        self._idle = [self._new_worker() for _ in range(self.size)]  # they start at once, in parallel
        self._lock = threading.Lock()
        self._slots = ShortestFirst(self.size)
        self._busy: set[_Worker] = set()
        self._closed = False

    def run(
        self,
        name: str,
        model_path: str | Path,
        *args: Any,
        n_tiles: int,
        progress: Progress | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run job ``name`` of :data:`JOBS` with the model at ``model_path``; return its result.

        ``n_tiles``: the job's size, for shortest-first order. ``progress(done, total)`` is called
        in the caller's thread. The job's own errors are re-raised as they are.

        Raises:
            WorkerError: the worker died; it is replaced for the next job.
        """
        if name not in JOBS:
            raise ValueError(f"unknown job {name!r}; expected one of {sorted(JOBS)}")
        if self._closed:
            raise WorkerError("The classification workers have been shut down.")
        self._slots.acquire(n_tiles)
        with self._lock:
            worker = self._idle.pop()
        if not worker.process.is_alive():  # died while idle: the job goes to a fresh one
            worker.close()
            worker = self._new_worker()
        with self._lock:
            self._busy.add(worker)
        try:
            return worker.run(name, str(model_path), args, kwargs, progress)
        finally:
            with self._lock:
                self._busy.discard(worker)
            if worker.busy or not worker.process.is_alive():
                # died, or its caller left half-way (a rerun): the pipe may hold stale messages
                worker.close()
                worker = self._new_worker()
            with self._lock:
                self._idle.append(worker)
            self._slots.release()

    def _new_worker(self) -> _Worker:
        return _Worker(self._ctx, self.num_threads, self.preload)

    def wait_ready(self) -> None:
        """Block until every idle worker has started (imports and preload done)."""
        with self._lock:
            for worker in self._idle:
                worker.wait_ready()

    def pids(self) -> list[int]:
        """Process ids of the idle workers (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid is not None]

    def busy_pids(self) -> list[int]:
        """Process ids of the workers running a job now."""
        with self._lock:
            return [w.process.pid for w in self._busy if w.process.pid is not None]

    def close(self) -> None:
        """Stop every idle worker."""
        self._closed = True
        with self._lock:
            for worker in self._idle:
                worker.close()
            self._idle.clear()
