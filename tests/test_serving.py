"""eurosat.serving: the interpreter pool gives the single interpreter's answers, and serves the
shortest job first."""

from __future__ import annotations

import threading
import time

import numpy as np

from eurosat import config
from eurosat.inference import TFLiteClassifier
from eurosat.serving import ClassifierPool

MODEL = config.REPO_ROOT / "models" / config.TFLITE_DYNAMIC


def test_pool_gives_the_same_probabilities_as_one_interpreter():
    x = np.random.default_rng(0).integers(0, 256, (150, 64, 64, 3)).astype(np.float32)
    want = TFLiteClassifier(MODEL).predict(x)
    pool = ClassifierPool(MODEL, size=2, num_threads=1, chunk=64)
    np.testing.assert_allclose(pool.predict(x), want, atol=1e-5)
    assert pool.predict(x[:1]).shape == (1, 10) and pool.predict(x[:0]).shape == (0, 10)


def test_a_short_job_is_not_starved_by_long_ones():
    pool = ClassifierPool(MODEL, size=1, num_threads=1, chunk=8)
    x = np.random.default_rng(1).integers(0, 256, (64, 64, 64, 3)).astype(np.float32)
    done: dict[str, float] = {}

    def job(name: str, tiles: np.ndarray, delay: float) -> None:
        time.sleep(delay)
        pool.predict(tiles)
        done[name] = time.perf_counter()

    threads = [threading.Thread(target=job, args=(f"big{i}", x, 0.0)) for i in range(3)]
    threads.append(threading.Thread(target=job, args=("small", x[:4], 0.05)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(done) == 4
    assert done["small"] < min(done[f"big{i}"] for i in range(3))  # it did not wait for a whole big job
