"""Serving one model to many users fairly: a pool of LiteRT interpreters and a job gate, shortest first.

One interpreter behind one lock makes every user wait for every other user's whole job (six users
pressing "Classify the whole scene" waited up to ~10×). :class:`ClassifierPool` holds one
interpreter per core and cuts each call into chunks of :data:`CHUNK_TILES` tiles; a free
interpreter goes to the waiting chunk whose call has the **fewest tiles left** (ties: first come,
first served). A 20-tile rectangle therefore waits for at most one chunk of a whole-scene job, not
for the job, and whole-scene jobs share the interpreters round by round.

Same ``predict`` contract as :class:`eurosat.inference.TFLiteClassifier`: (N, 64, 64, 3) on the
0-255 scale → float32 (N, 10) probabilities; a tile's output does not depend on the chunk it is in.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from pathlib import Path

import numpy as np

from eurosat.classes import NUM_CLASSES, TILE_SIZE
from eurosat.inference import TFLiteClassifier

#: Tiles per interpreter turn: small enough that a short job waits little (~0.1 s at 1 GFLOP/s/tile).
CHUNK_TILES = 64
#: Windows of a job the gate lets through at once: a 64-tile rectangle at 64-px cells, 16 tiles at
#: 16-px cells, the 20-tile rectangle of ``benchmarks/load_users.py`` at the Map page's 32-px default.
SMALL_JOB_WINDOWS = 256


class ShortestFirst:
    """A semaphore of ``slots`` that gives a freed slot to the waiting caller of the smallest ``size``
    (ties: first come, first served)."""

    def __init__(self, slots: int):
        self._free = slots
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []  # heap of (size, arrival number)
        self._arrivals = itertools.count()

    def acquire(self, size: int) -> None:
        ticket = (size, next(self._arrivals))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            while not (self._free > 0 and self._waiting[0] == ticket):
                self._cond.wait()
            heapq.heappop(self._waiting)
            self._free -= 1
            self._cond.notify_all()  # the next ticket may take another free slot

    def release(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()


class ClassifierPool:
    """``size`` interpreters of one ``.tflite`` file, handed out shortest-job-first.

    Args:
        path: the model file.
        size: interpreters (default: the CPU count).
        num_threads: LiteRT threads of each interpreter (default: the CPU count, so one user alone
            still uses every core).
        chunk: tiles per interpreter turn.

    Raises:
        ModelLoadError: the file is missing or not a model honouring the contract.
    """

    def __init__(self, path: str | Path, size: int | None = None, num_threads: int | None = None,
                 chunk: int = CHUNK_TILES):
        cores = os.cpu_count() or 1
        self.path = Path(path)
        self.size = max(1, size or cores)
        self.chunk = max(1, chunk)
        self._idle = [TFLiteClassifier(path, num_threads=num_threads or cores, batch_size=self.chunk)
                      for _ in range(self.size)]
        self._idle_lock = threading.Lock()
        self._slots = ShortestFirst(self.size)  # size: tiles left in the call

    def _acquire(self, left: int) -> TFLiteClassifier:
        self._slots.acquire(left)
        with self._idle_lock:  # a slot guarantees an idle interpreter
            return self._idle.pop()

    def _release(self, interp: TFLiteClassifier) -> None:
        with self._idle_lock:
            self._idle.append(interp)
        self._slots.release()

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        """Class probabilities for tiles (N, 64, 64, 3) → float32 (N, 10), chunk by chunk."""
        x = np.asarray(tiles, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != (TILE_SIZE, TILE_SIZE, 3):
            raise ValueError(f"expected tiles of shape (N, 64, 64, 3), got {x.shape}")
        out = np.empty((len(x), NUM_CLASSES), np.float32)
        for start in range(0, len(x), self.chunk):
            interp = self._acquire(len(x) - start)
            try:
                out[start:start + self.chunk] = interp.predict(x[start:start + self.chunk])
            finally:
                self._release(interp)
        return out

    def classify(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (class indices (N,), probabilities (N, 10))."""
        probs = self.predict(tiles)
        return probs.argmax(axis=1), probs


class JobGate:
    """At most ``slots`` classification jobs at once, the smallest waiting job first; small jobs pass.

    With the single-pass model most of a job is reading, masks and footprints (Python and NumPy),
    not the interpreter: six whole-scene jobs at once on two cores only slow each other down. The
    gate lets ``slots`` (default: the CPU count) run and queues the rest by size, so the users get
    their results round by round; a job of at most ``small_tiles`` tiles never waits.

    Use: ``with gate.job(n_tiles): classify(...)``.
    """

    def __init__(self, slots: int | None = None, small_tiles: int = SMALL_JOB_WINDOWS):
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.small_tiles = small_tiles
        self._queue = ShortestFirst(self.slots)

    def job(self, n_tiles: int) -> _Pass:
        """A context manager holding a slot for a job of ``n_tiles`` tiles (none for a small job)."""
        return _Pass(self, n_tiles)

    def _enter(self, n_tiles: int) -> bool:
        if n_tiles <= self.small_tiles:
            return False
        self._queue.acquire(n_tiles)
        return True

    def _exit(self) -> None:
        self._queue.release()


class _Pass:
    def __init__(self, gate: JobGate, n_tiles: int):
        self.gate, self.n_tiles, self.held = gate, n_tiles, False

    def __enter__(self) -> _Pass:
        self.held = self.gate._enter(self.n_tiles)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.gate._exit()


def estimate_tiles(bbox: tuple[float, float, float, float] | None, scene_tiles: int) -> int:
    """Tiles a request will classify, before reading: the scene's, or the rectangle's area / 0.41 km²."""
    if bbox is None:
        return scene_tiles
    from eurosat.geo import bbox_area_km2

    return int(bbox_area_km2(bbox) / (TILE_SIZE * 10 / 1000) ** 2)
