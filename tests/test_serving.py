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
    x = np.random.default_rng(1).integers(0, 256, (512, 64, 64, 3)).astype(np.float32)
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


def test_job_gate_runs_at_most_its_slots_and_lets_small_jobs_pass():
    from eurosat.serving import JobGate, estimate_tiles

    gate = JobGate(slots=1, small_tiles=10)
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def big(name: str, n: int, hold: bool) -> None:
        with gate.job(n):
            order.append(name)
            if hold:
                inside.set()
                release.wait(5)

    first = threading.Thread(target=big, args=("first", 500, True))
    first.start()
    inside.wait(5)
    waiting = [threading.Thread(target=big, args=(f"big{n}", n, False)) for n in (400, 200)]
    for t in waiting:
        t.start()
    time.sleep(0.2)
    with gate.job(5):  # small: passes while the slot is taken
        order.append("small")
    release.set()
    for t in [first, *waiting]:
        t.join(5)
    assert order == ["first", "small", "big200", "big400"]  # then the smaller waiting job first
    assert estimate_tiles(None, 288) == 288 and 15 <= estimate_tiles((12.58, 52.478, 12.628, 52.51), 0) <= 30


def test_serving_threads_default_to_one_core_per_job(monkeypatch):
    from eurosat import config

    monkeypatch.delenv("EUROSAT_SERVING_THREADS", raising=False)
    assert config.serving_threads() == 1
    for value, expected in (("2", 2), ("0", 1), ("many", 1)):
        monkeypatch.setenv("EUROSAT_SERVING_THREADS", value)
        assert config.serving_threads() == expected
