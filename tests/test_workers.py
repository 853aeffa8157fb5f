"""eurosat.workers: jobs in worker processes give the in-process answers, errors come back typed,
and a dead or abandoned worker is replaced instead of hanging or corrupting the next job."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from eurosat import config
from eurosat.errors import GeoError
from eurosat.inference import TFLiteClassifier
from eurosat.tiling import classify_area, classify_scene
from eurosat.workers import WorkerError, WorkerPool

MODEL = config.REPO_ROOT / "models" / config.TFLITE_DYNAMIC
SMALL_BBOX = (12.58, 52.478, 12.628, 52.51)  # 20 whole tiles of the shipped scene


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(size=2, preload=MODEL)
    yield p
    p.close()


def test_a_job_in_a_worker_gives_the_in_process_result(pool, scene_path):
    seen: list[tuple[int, int]] = []
    got = pool.run("scene", MODEL, str(scene_path), n_tiles=288, progress=lambda d, t: seen.append((d, t)))
    want = classify_scene(scene_path, TFLiteClassifier(MODEL, num_threads=1))
    np.testing.assert_allclose(got.probs, want.probs, atol=1e-6)
    assert got.codes.tolist() == want.codes.tolist() and got.n_tiles == want.n_tiles == 288
    assert seen and seen[-1] == (288, 288)  # progress reached the caller's thread

    area = pool.run("area", MODEL, str(scene_path), SMALL_BBOX, n_tiles=20, stride=32)
    want_area = classify_area(scene_path, SMALL_BBOX, TFLiteClassifier(MODEL, num_threads=1), stride=32)
    np.testing.assert_allclose(area.probs, want_area.probs, atol=1e-6)
    assert area.cell == 32


def test_the_jobs_typed_error_comes_back_and_the_worker_stays(pool, scene_path):
    before = sorted(pool.pids())
    with pytest.raises(GeoError, match="outside the scene"):
        pool.run("area", MODEL, str(scene_path), (0.0, 0.0, 1.0, 1.0), n_tiles=20)
    assert sorted(pool.pids()) == before
    with pytest.raises(ValueError, match="unknown job"):
        pool.run("nothing", MODEL, n_tiles=1)


def test_a_worker_killed_idle_or_mid_job_is_replaced(pool, scene_path):
    victim = pool.pids()[-1]  # the next job takes the last idle worker
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    assert pool.run("area", MODEL, str(scene_path), SMALL_BBOX, n_tiles=20).n_tiles == 20  # a fresh one
    assert victim not in pool.pids()

    def kill_the_busy_one_soon() -> None:
        time.sleep(0.1)
        for pid in pool.busy_pids():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_busy_one_soon)
    killer.start()
    with pytest.raises(WorkerError, match="stopped unexpectedly"):
        pool.run("scene", MODEL, str(scene_path), n_tiles=288, progress=lambda d, t: time.sleep(0.05))
    killer.join()
    assert pool.busy_pids() == []  # the dead worker is not counted as running a job
    assert pool.run("area", MODEL, str(scene_path), SMALL_BBOX, n_tiles=20).n_tiles == 20
    assert len(pool.pids()) == 2


def test_a_caller_that_leaves_mid_job_does_not_leave_stale_answers(pool, scene_path):
    class Rerun(Exception):  # what Streamlit raises in the script thread on a rerun
        pass

    def leave(done: int, total: int) -> None:
        raise Rerun

    before = set(pool.pids())
    with pytest.raises(Rerun):
        pool.run("scene", MODEL, str(scene_path), n_tiles=288, progress=leave)
    assert len(set(pool.pids()) - before) == 1  # the abandoned worker was replaced
    got = pool.run("area", MODEL, str(scene_path), SMALL_BBOX, n_tiles=20)
    assert got.n_tiles == 20  # the answer to this job, not the abandoned one's


def test_worker_processes_switch(monkeypatch):
    monkeypatch.delenv("EUROSAT_WORKER_PROCESSES", raising=False)
    assert config.worker_processes()
    for value, expected in (("0", False), ("off", False), ("1", True), ("yes", True)):
        monkeypatch.setenv("EUROSAT_WORKER_PROCESSES", value)
        assert config.worker_processes() is expected

