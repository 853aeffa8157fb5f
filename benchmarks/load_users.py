"""Six users at once: the Map page's classification path under concurrent sessions, before and after.

    .venv/bin/python benchmarks/load_users.py [--users 6] [--model models/eurosat_resnet_light.tflite]

Each "user" is a thread running exactly what the Map page runs when its button is pressed
(:func:`eurosat.tiling.classify_scene` / ``classify_area`` with the server's shared classifier;
Streamlit serves every session on its own thread the same way). All sessions are local, bounded
(one job each) and stop by themselves. Measured in one run, for two ways of sharing the model:

* **before** — one :class:`~eurosat.inference.TFLiteClassifier` behind its lock (2 threads), as
  the app shared it until now;
* **after** — :class:`~eurosat.serving.ClassifierPool` (one interpreter per core, 64-tile turns,
  shortest job first) behind :class:`~eurosat.serving.JobGate` (as many jobs at once as cores, the
  smallest waiting first, small jobs never wait), with every core's threads in each interpreter;
* **after, one core per job** — the same with 1-thread interpreters, what the app serves with by
  default (:func:`eurosat.config.serving_threads`): a user alone then uses one core, not all of them
  (the premise of "2 cores shared by 6 is 3× at best");
* **worker processes** — each job runs in a process of :class:`~eurosat.workers.WorkerPool` (one
  per core plus a spare for small jobs, 1-thread interpreters) behind the same gate: no job holds
  another's GIL. This is how the Map page classifies.

The **floor** column is the least "× alone" any sharing can reach here: six jobs need six times
one job's work in core-seconds, so the last of them cannot finish before
``users × (one job alone on 1 thread) / cores``; divided by the time of one job alone with the
threads it had. With a lone job on every core its floor is ``3 × its multi-core speed-up``.

Cases: one user alone (median of 3); then, ``--rounds`` times each (the worst round counts):
``--users`` users pressing "Classify the whole scene" at once
(each one's time / the one-user time); a 20-tile rectangle drawn while ``users - 1`` whole-scene jobs
run (its time / its own one-user time). ``--stride`` sets the cell size (64 px; the Map page's
default is 32: four windows per tile). Writes ``benchmarks/load_users.md`` and ``.json``
(``load_users_stride32.md`` … for other strides).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_models import cpu_flags  # noqa: E402  (benchmarks/, the script's own folder)

from eurosat import config  # noqa: E402
from eurosat.inference import TFLiteClassifier  # noqa: E402
from eurosat.serving import ClassifierPool, JobGate, estimate_tiles  # noqa: E402
from eurosat.tiling import classify_area, classify_scene  # noqa: E402
from eurosat.workers import WorkerPool  # noqa: E402

#: A rectangle of the shipped scene holding 20 whole tiles.
SMALL_BBOX = (12.58, 52.478, 12.628, 52.51)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _concurrent(jobs: list, delays: list[float]) -> list[float]:
    """Run ``jobs`` on threads, each started after its delay; return each one's own duration."""
    times = [0.0] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        start.wait()
        time.sleep(delays[i])
        times[i] = _timed(jobs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return times


def in_threads(clf, scene: Path, stride: int) -> tuple[Callable, Callable]:
    """The whole-scene and the 20-tile job run in the caller's thread with a shared classifier."""
    return ((lambda n: classify_scene(scene, clf, stride=stride)),
            (lambda n: classify_area(scene, SMALL_BBOX, clf, stride=stride)))


def in_workers(pool: WorkerPool, model: Path, scene: Path, stride: int) -> tuple[Callable, Callable]:
    """The same jobs sent to worker processes (:class:`eurosat.workers.WorkerPool`)."""
    return ((lambda n: pool.run("scene", model, str(scene), n_tiles=n, stride=stride)),
            (lambda n: pool.run("area", model, str(scene), SMALL_BBOX, n_tiles=n, stride=stride)))


def measure(jobs: tuple[Callable, Callable], users: int, gate: JobGate | None = None,
            rounds: int = 3, stride: int = 64) -> dict:
    scene_job, area_job = jobs
    per_tile = (64 // stride) ** 2  # windows per tile, as the Map page counts them for the gate

    def gated(n_tiles: int):
        return gate.job(n_tiles) if gate is not None else contextlib.nullcontext()

    def whole() -> None:
        with gated(n := estimate_tiles(None, 288) * per_tile):
            scene_job(n)

    def small() -> None:
        with gated(n := estimate_tiles(SMALL_BBOX, 288) * per_tile):
            r = area_job(n)
        assert r.n_tiles >= 20, r.n_tiles  # 20 whole tiles: 20 cells at stride 64, more when finer

    # warm up every interpreter / worker (first read, first batch size): a server that has served
    _concurrent([whole] * users, [0.0] * users)
    _concurrent([small] * users, [0.0] * users)
    alone = statistics.median(_timed(whole) for _ in range(3))
    small_alone = statistics.median(_timed(small) for _ in range(5))
    many = [_concurrent([whole] * users, [0.0] * users) for _ in range(rounds)]
    mixed = [_concurrent([whole] * (users - 1) + [small], [0.0] * (users - 1) + [0.3])[-1]
             for _ in range(rounds)]
    return {"whole_alone_s": round(alone, 3), "small_alone_s": round(small_alone, 3),
            "whole_concurrent_s": [[round(t, 3) for t in times] for times in many],
            "whole_worst_ratio_per_round": [round(max(times) / alone, 2) for times in many],
            "whole_worst_ratio": round(max(max(times) for times in many) / alone, 2),
            "small_among_big_s": [round(t, 3) for t in mixed],
            "small_ratio_per_round": [round(t / small_alone, 2) for t in mixed],
            "small_ratio": round(max(mixed) / small_alone, 2)}


def _ratios(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}×" for v in values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=6)
    p.add_argument("--model", type=Path, default=config.models_dir() / config.TFLITE_DYNAMIC)
    p.add_argument("--rounds", type=int, default=3, help="times each concurrent case is repeated")
    p.add_argument("--stride", type=int, default=64, choices=(64, 32, 16),
                   help="cell size in px (the Map page's default is 32)")
    a = p.parse_args(argv)
    scene = config.default_scene()
    cpus = os.cpu_count() or 1
    res = {"model": a.model.name, "users": a.users, "cpus": cpus, "cpu_flags": cpu_flags(),
           "rounds": a.rounds,
           "stride": a.stride,
           "before": measure(in_threads(TFLiteClassifier(a.model, num_threads=2), scene, a.stride), a.users,
                             rounds=a.rounds, stride=a.stride),
           "after": measure(in_threads(ClassifierPool(a.model), scene, a.stride), a.users, JobGate(),
                            a.rounds, a.stride),
           "after_one_core": measure(in_threads(ClassifierPool(a.model, num_threads=1), scene, a.stride),
                                     a.users, JobGate(), a.rounds, a.stride)}
    pool = WorkerPool(preload=a.model)
    pool.wait_ready()
    try:
        res["workers"] = measure(in_workers(pool, a.model, scene, a.stride), a.users, JobGate(), a.rounds,
                                 a.stride)
    finally:
        pool.close()
    one_core_alone = res["after_one_core"]["whole_alone_s"]
    for name in ("before", "after", "after_one_core", "workers"):
        r = res[name]
        r["floor_ratio"] = round(a.users * one_core_alone / cpus / r["whole_alone_s"], 2)
    stride_opt = f" --stride {a.stride}" if a.stride != 64 else ""
    rows = [f"`python benchmarks/load_users.py{stride_opt}` — {a.stride}-px cells, model "
            f"`{a.model.name}`, {a.users} users, {os.cpu_count()} CPUs; times are each job's own, start to "
            "result (reading, masks, model, footprints), in one run; each concurrent case is repeated "
            f"{a.rounds} times: the worst of all rounds is shown, each round's worst in brackets.", "",
            f"CPU flags: {res['cpu_flags']}.", "",
            "| sharing | whole scene alone | worst of the users at once (× alone) [each round] | "
            "floor (× alone) | 20-tile area alone | 20-tile area among the big jobs (× alone) [each round] |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, label in (("before", "one interpreter + lock"),
                        ("after", "interpreter pool + job gate, shortest first, every core per interpreter"),
                        ("after_one_core", "the same, 1-thread interpreters: one core per job "
                                           "(EUROSAT_SERVING_THREADS=1)"),
                        ("workers", "worker processes, one core per job, a spare for small jobs, the same "
                                    "gate (the Map page's default)")):
        r = res[name]
        worst = max(max(times) for times in r["whole_concurrent_s"])
        rows.append(f"| {label} | {r['whole_alone_s']:.2f} s | {worst:.2f} s ({r['whole_worst_ratio']:.1f}×) "
                    f"[{_ratios(r['whole_worst_ratio_per_round'])}] | {r['floor_ratio']:.1f}× | "
                    f"{r['small_alone_s']:.2f} s | {max(r['small_among_big_s']):.2f} s "
                    f"({r['small_ratio']:.1f}×) [{_ratios(r['small_ratio_per_round'])}] |")
    stem = "load_users" + (f"_stride{a.stride}" if a.stride != 64 else "")
    (ROOT / "benchmarks" / f"{stem}.md").write_text("\n".join(rows) + "\n")
    (ROOT / "benchmarks" / f"{stem}.json").write_text(json.dumps(res, indent=1))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
