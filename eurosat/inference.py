"""TFLite classifier on LiteRT (``ai-edge-litert``): no TensorFlow import on this path."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from eurosat.classes import CLASS_NAMES, NUM_CLASSES, TILE_SIZE
from eurosat.errors import ModelLoadError


class TFLiteClassifier:
    """Classify 64×64 RGB tiles with a ``.tflite`` model honouring the model contract.

    Contract: input float32 (N, 64, 64, 3) on the EuroSAT 0-255 scale, batch resizable;
    output float32 (N, 10) probabilities in :data:`eurosat.classes.CLASS_NAMES` order.

    One interpreter is used from one thread at a time (a lock guards every invoke),
    so a cached instance can serve Streamlit's per-user threads.

    Args:
        path: the ``.tflite`` file.
        num_threads: CPU threads for LiteRT kernels.
        batch_size: tiles per invoke; the last batch is padded.

    Raises:
        ModelLoadError: file missing, not a TFLite model, or not of the expected shapes.
    """

    def __init__(self, path: str | Path, num_threads: int = 2, batch_size: int = 64):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.num_threads = num_threads
        self.batch_size = batch_size
        if not self.path.is_file():
            raise ModelLoadError(
                f"Model file '{self.path}' not found. Reinstall the shipped models/ folder or "
                "promote a trained run on the Train page."
            )
        try:
            self._interp = Interpreter(model_path=str(self.path), num_threads=num_threads)
            inp = self._interp.get_input_details()
            out = self._interp.get_output_details()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"'{self.path.name}' is not a valid TFLite model: {exc}") from exc
        if len(inp) != 1 or len(out) != 1 or tuple(inp[0]["shape"][1:]) != (TILE_SIZE, TILE_SIZE, 3) \
                or int(out[0]["shape"][-1]) != NUM_CLASSES:
            raise ModelLoadError(
                f"'{self.path.name}' does not take (N, 64, 64, 3) tiles and return 10 class "
                f"probabilities (input {inp[0]['shape'] if inp else None}, "
                f"output {out[0]['shape'] if out else None})."
            )
        self._in_index = inp[0]["index"]
        self._out_index = out[0]["index"]
        self._lock = threading.Lock()
        self._allocated = -1

    @property
    def size_bytes(self) -> int:
        """Size of the model file."""
        return self.path.stat().st_size

    def _resize(self, n: int) -> None:
        if n != self._allocated:
            self._interp.resize_tensor_input(self._in_index, [n, TILE_SIZE, TILE_SIZE, 3])
            self._interp.allocate_tensors()
            self._allocated = n

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        """Class probabilities for tiles.

        Args:
            tiles: (N, 64, 64, 3) on the 0-255 scale, any numeric dtype (or one (64, 64, 3) tile).

        Returns:
            float32 (N, 10) probabilities.
        """
        x = np.asarray(tiles, dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != (TILE_SIZE, TILE_SIZE, 3):
            raise ValueError(f"expected tiles of shape (N, 64, 64, 3), got {x.shape}")
        n = len(x)
        out = np.empty((n, NUM_CLASSES), dtype=np.float32)
        if n == 0:
            return out
        bs = min(self.batch_size, n)
        with self._lock:
            self._resize(bs)
            for start in range(0, n, bs):
                chunk = x[start : start + bs]
                k = len(chunk)
                if k < bs:
                    chunk = np.concatenate([chunk, np.zeros((bs - k, *chunk.shape[1:]), np.float32)])
                self._interp.set_tensor(self._in_index, np.ascontiguousarray(chunk))
                self._interp.invoke()
                out[start : start + k] = self._interp.get_tensor(self._out_index)[:k]
        return out

    def classify(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (class indices (N,), probabilities (N, 10))."""
        probs = self.predict(tiles)
        return probs.argmax(axis=1), probs


def top_k(probs: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one probability vector, as (name, probability)."""
    order = np.argsort(probs)[::-1][:k]
    return [(CLASS_NAMES[i], float(probs[i])) for i in order]
