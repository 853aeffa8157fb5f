"""Scale-out: classify many GeoTIFFs, or one huge one window strip by window strip, on Dask.

    python -m eurosat.scaleout SCENE.tif [SCENE.tif ...] --out DIR [--scheduler tcp://host:8786] [--workers N]

Without ``--scheduler`` a local cluster of ``--workers`` processes (one thread each) is started on
this machine; with it, the tasks go to that ``dask.distributed`` scheduler (a real cluster).

* One task per scene; a scene of more than ``--tiles-per-task`` tiles is cut into strips of whole
  tile rows (aligned to the file's internal blocks), one task each, so one huge scene is spread over
  the cluster too.
* Every task runs the single-process code path, :func:`eurosat.tiling.classify_tiles_at` with
  ``keep_tiles=False`` (strip-by-strip reading, bounded memory) and LiteRT; each worker loads the
  model once (:func:`worker_classifier`). The model file is sent to the workers by the client, so
  they need only read access to the scenes.
* The client gathers each scene's probabilities and footprints (about 130 bytes a tile), joins the
  strips and writes ``DIR/<scene>_classes.tif`` with :func:`eurosat.exports.write_geotiff` — the
  same file ``python -m eurosat.classify SCENE --out`` writes (a tile's model output does not
  depend on the batch it is in or the thread count; the tests compare the files) — plus
  ``DIR/summary.csv`` and ``DIR/summary.json`` (tiles per class and the dominant class per scene).

A scene that cannot be used (not a GeoTIFF, no georeference...) gets its message in the summary and
on stderr; the others are still classified; the exit status is then 2.

On a real cluster, the scheduler and the workers must run this project's environment (the same
``requirements.txt``, with ``eurosat`` importable: the scheduler unpickles the tasks too), e.g.::

    PYTHONPATH=. .venv/bin/dask scheduler                                  # on one machine
    PYTHONPATH=. .venv/bin/dask worker tcp://HOST:8786 --nworkers 2 --nthreads 1   # on each worker

and every scene path must be readable at the same path by the client (which reads the metadata to
plan the tasks) and by the workers (a shared file system). Outputs are written by the client.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eurosat.cells import STRIDES, cell_grid_shape, check_stride
from eurosat.classes import CLASS_NAMES, NUM_CLASSES, TILE_SIZE
from eurosat.decision import CLOUD_CODE, UNCERTAIN_CODE, Thresholds, with_overrides
from eurosat.errors import EuroSATError, GeoError
from eurosat.geo import BandSpec, check_spec, inspect_scene, open_raster, validate
from eurosat.masks import DEFAULT_TESTS, RGBTests, TileQuality
from eurosat.tiling import AreaResult, cell_rows_per_strip, classify_tiles_at

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from eurosat.inference import TFLiteClassifier

#: Scenes with more tiles than this are cut into strips of whole tile rows, one task each.
TILES_PER_TASK: int = 4096
#: GDAL raster block cache of each task (MB), as the single-process command line.
GDAL_CACHE_MB: int = 64
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"

Progress = Callable[[int, int], None]  # (tiles done, tiles in all)


# --------------------------------------------------------------------------- planning (client)


@dataclass
class ScenePlan:
    """One scene: its output file, bands, cell grid and strips (tasks), or why it cannot be used.

    Attributes:
        path: the scene; out: the class-map GeoTIFF to write.
        spec: bands and offset; n_rows, n_cols: whole cells (tiles at stride 64).
        strips: half-open cell-row ranges (row0, row1), one task each, in row order.
        stride: pixels per cell side.
        error: the message when the scene cannot be classified (then no task).
    """

    path: Path
    out: Path
    spec: BandSpec = field(default_factory=BandSpec)
    n_rows: int = 0
    n_cols: int = 0
    strips: list[tuple[int, int]] = field(default_factory=list)
    error: str | None = None
    stride: int = TILE_SIZE

    @property
    def n_tiles(self) -> int:
        """Whole cells in the scene."""
        return self.n_rows * self.n_cols


def output_paths(scenes: Sequence[Path], out_dir: Path) -> list[Path]:
    """``out_dir/<stem>_classes.tif`` per scene; a name already taken gets ``_2``, ``_3``... (input order)."""
    used: set[str] = set()
    out = []
    for scene in scenes:
        stem = Path(scene).stem or "scene"
        name, k = f"{stem}_classes.tif", 1
        while name in used:
            k += 1
            name = f"{stem}_{k}_classes.tif"
        used.add(name)
        out.append(out_dir / name)
    return out


def split_rows(n_rows: int, n_cols: int, tiles_per_task: int, block_rows: int = 1) -> list[tuple[int, int]]:
    """Cut ``n_rows`` tile (cell) rows into strips of about ``tiles_per_task`` tiles.

    Strips are whole rows, a multiple of ``block_rows`` (the rows of one reading strip, so that no
    block is read by two tasks) unless one block row is already too large. (Any cut gives the same
    map: a task always reads and masks whole reading strips, counted from the top of the scene.)

    Returns:
        Half-open ranges (row0, row1) covering 0..n_rows in order; [] when there are no rows.
    """
    if n_rows <= 0 or n_cols <= 0:
        return []
    rows = max(1, tiles_per_task // n_cols)
    if rows >= block_rows:
        rows -= rows % block_rows
    return [(r, min(n_rows, r + rows)) for r in range(0, n_rows, rows)]


def plan_scene(
    path: Path, out: Path, tiles_per_task: int = TILES_PER_TASK,
    bands: tuple[int, int, int] | None = None, offset: bool | None = None, stride: int = TILE_SIZE,
) -> ScenePlan:
    """Validate a scene and cut it into tasks (reads metadata only); errors go into ``error``.

    ``bands`` and ``offset`` override what the file suggests, as in ``python -m eurosat.classify``.
    Tasks are strips of whole cell rows, aligned to the reading strips of
    :func:`eurosat.tiling.classify_tiles_at` where they can be.
    """
    plan = ScenePlan(Path(path), Path(out), stride=check_stride(stride))
    try:
        info = inspect_scene(path)
        default = info.default_spec()
        use_offset = default.offset if offset is None else (offset and info.is_dn)
        plan.spec = BandSpec(bands or default.bands, use_offset)
        check_spec(plan.spec, info.count)
        plan.n_rows, plan.n_cols = cell_grid_shape(info.height, info.width, plan.stride)
        if plan.n_tiles == 0:
            raise GeoError(f"'{info.name}' is smaller than one {TILE_SIZE}×{TILE_SIZE} tile.")
        with open_raster(path) as src:
            block_rows = cell_rows_per_strip(src, plan.stride)
        plan.strips = split_rows(plan.n_rows, plan.n_cols, tiles_per_task, block_rows)
    except EuroSATError as exc:
        plan.error = str(exc)
    return plan


# --------------------------------------------------------------------------- tasks (workers)

_CLASSIFIERS: dict[tuple[str, int], TFLiteClassifier] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def model_digest(model: bytes) -> str:
    """Short content hash naming a model on the workers."""
    return hashlib.sha256(model).hexdigest()[:16]


def worker_classifier(model: bytes, threads: int = 1) -> TFLiteClassifier:
    """This process's LiteRT classifier for a model (loaded on first use, then reused).

    The bytes are written once to ``<tmp>/eurosat_models/<sha256>.tflite`` (atomically, so
    several worker processes on one host can share it) and loaded with
    :class:`eurosat.inference.TFLiteClassifier` (one interpreter, a lock around invoke).
    """
    from eurosat.inference import TFLiteClassifier

    key = (model_digest(model), threads)
    with _CLASSIFIERS_LOCK:
        clf = _CLASSIFIERS.get(key)
        if clf is None:
            folder = Path(tempfile.gettempdir()) / "eurosat_models"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{key[0]}.tflite"
            if not path.is_file() or path.stat().st_size != len(model):
                tmp = folder / f".{key[0]}.{os.getpid()}.{threading.get_ident()}.tmp"
                tmp.write_bytes(model)
                os.replace(tmp, path)
            clf = _CLASSIFIERS[key] = TFLiteClassifier(path, num_threads=threads)
    return clf


def classify_strip(
    path: str | Path, row0: int, row1: int, spec: BandSpec, model: bytes, threads: int = 1,
    thresholds: Thresholds | None = None, tests: RGBTests | None = DEFAULT_TESTS,
    provenance: dict | None = None, stride: int = TILE_SIZE, centre: bool = False,
) -> AreaResult:
    """Classify cell rows ``row0 .. row1 - 1`` (every column) of a scene: one Dask task.

    The single-process path (:func:`eurosat.tiling.classify_tiles_at`, tiles not kept), with the
    same masks (``tests``), rule (``thresholds``) and ``provenance`` as the command line.

    Returns:
        The strip's :class:`AreaResult` (probabilities, rows, cols, footprints; no tiles).

    Raises:
        GeoError: the file cannot be read.
    """
    import rasterio

    clf = worker_classifier(model, threads)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), open_raster(path) as src:
        validate(src)
        _, n_cols = cell_grid_shape(src.height, src.width, stride)
        rr, cc = np.meshgrid(np.arange(row0, row1), np.arange(n_cols), indexing="ij")
        return classify_tiles_at(src, rr.ravel(), cc.ravel(), clf, spec, keep_tiles=False,
                                 thresholds=thresholds, tests=tests, provenance=provenance,
                                 stride=stride, centre=centre)


def merge_results(parts: Sequence[AreaResult]) -> AreaResult:
    """Join strips of one scene (given in row order) into one result, as one whole-scene task gives."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    return AreaResult(
        tiles=np.zeros((0, TILE_SIZE, TILE_SIZE, 3), np.uint8), probs=cat("probs"), rows=cat("rows"),
        cols=cat("cols"), footprints=cat("footprints"), areas_km2=cat("areas_km2"), crs_wkt=first.crs_wkt,
        transform=first.transform, scene_path=first.scene_path, bbox=None, spec=first.spec,
        quality=TileQuality.concat([p.tile_quality for p in parts]), thresholds=first.thresholds,
        provenance=first.provenance, cell=first.cell,
    )


# --------------------------------------------------------------------------- running (client)


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int = 2, threads_per_worker: int = 1,
            processes: bool = True) -> Iterator[Client]:
    """A Dask client: to ``scheduler`` (``tcp://host:port``), else to a new local cluster.

    The local cluster has ``workers`` processes (or threads with ``processes=False``) of
    ``threads_per_worker`` threads each, no dashboard, and is closed on exit.

    Raises:
        EuroSATError: the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise EuroSATError(f"Cannot reach the Dask scheduler at {scheduler} ({exc}). Start one with "
                               "`dask scheduler` and workers with `dask worker ADDRESS`.") from exc
        with client:
            yield client
        return
    # no dashboard; the scheduler's small HTTP server (health, metrics) on a free port, not 8787
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=processes,
                           dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                           silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


def scene_summary(plan: ScenePlan, result: AreaResult | None, error: str | None = None) -> dict[str, Any]:
    """One summary row: scene, output, tiles, dominant class and tiles per class (or the error)."""
    row: dict[str, Any] = {"scene": plan.path.name, "path": str(plan.path), "status": "ok" if error is None
                           else "error", "output": str(plan.out) if error is None else "", "tiles": 0,
                           "tasks": len(plan.strips), "dominant_class": "", "error": error or ""}
    counts = np.zeros(NUM_CLASSES, np.int64)
    row.update(cloud_nodata=0, uncertain=0)
    if result is not None and error is None:
        codes = result.codes
        counts = np.bincount(codes[codes < NUM_CLASSES], minlength=NUM_CLASSES)
        row.update(tiles=int(result.n_tiles), dominant_class=result.dominant_class or "",
                   cloud_nodata=int((codes == CLOUD_CODE).sum()),
                   uncertain=int((codes == UNCERTAIN_CODE).sum()))
    row.update({name: int(n) for name, n in zip(CLASS_NAMES, counts, strict=True)})
    return row


def write_summary(rows: list[dict[str, Any]], out_dir: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """``summary.csv`` (one row per scene) and ``summary.json`` (the rows, totals and run facts)."""
    csv_path, json_path = out_dir / SUMMARY_CSV, out_dir / SUMMARY_JSON
    columns = ["scene", "path", "status", "output", "tiles", "tasks", "dominant_class", *CLASS_NAMES,
               "cloud_nodata", "uncertain", "error"]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    totals = {name: sum(r[name] for r in rows) for name in (*CLASS_NAMES, "cloud_nodata", "uncertain")}
    tiles = sum(r["tiles"] for r in rows)
    json_path.write_text(json.dumps({**meta, "tiles": tiles, "tiles_per_class": totals, "scenes": rows},
                                    indent=1))
    return csv_path, json_path


def classify_many(
    scenes: Sequence[str | Path],
    out_dir: str | Path,
    client: Client,
    model: str | Path | None = None,
    tiles_per_task: int = TILES_PER_TASK,
    threads: int = 1,
    bands: tuple[int, int, int] | None = None,
    offset: bool | None = None,
    progress: Progress | None = None,
    thresholds: Thresholds | None = None,
    cloud_tests: bool = True,
    int8: bool = False,
    stride: int = TILE_SIZE,
    centre: bool = False,
) -> list[dict[str, Any]]:
    """Classify scenes on a Dask cluster; write one class-map GeoTIFF per scene and the summary.

    Args:
        scenes: GeoTIFF paths (readable by the client and every worker).
        out_dir: folder for ``<scene>_classes.tif``, ``summary.csv`` and ``summary.json`` (created).
        client: a ``distributed.Client`` (see :func:`connect`).
        model: a ``.tflite`` file (default: the app's active dynamic-range model).
        tiles_per_task: scenes with more tiles are cut into strips of whole tile rows.
        threads: LiteRT threads per task.
        bands, offset: override the bands / +1000 DN offset the files suggest (None: from the file).
        progress: called with (tiles done, tiles in all) as tasks finish.
        thresholds: land / cloud / uncertain rule (default: the active model's).
        cloud_tests: run the visible-band cloud tests (files without an SCL band).
        int8: without ``model``, the active model's full-int8 file (its own rule still applies).
        stride, centre: cell size and blend, as ``python -m eurosat.classify --stride``.

    Returns:
        The summary rows (one per scene, in input order); failed scenes have ``status == "error"``.
    """
    from distributed import as_completed

    from eurosat import exports
    from eurosat.registry import model_for_command

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, rule, model_facts = model_for_command(model, int8)
    thresholds = thresholds or rule
    # what every exported map records of the model (as `python -m eurosat.classify` does)
    model_facts["cloud_tests"] = "visible-band tests" if cloud_tests else "off"
    tests = DEFAULT_TESTS if cloud_tests else None
    try:
        model_bytes = model_path.read_bytes()
    except OSError as exc:
        raise EuroSATError(f"Model file '{model_path}' cannot be read ({exc}).") from exc
    paths = [Path(s) for s in scenes]
    outs = output_paths(paths, out_dir)
    plans = [plan_scene(p, o, tiles_per_task, bands, offset, stride)
             for p, o in zip(paths, outs, strict=True)]
    model_future = client.scatter(model_bytes, broadcast=True, hash=True)
    futures = {}
    for i, plan in enumerate(plans):
        for j, (r0, r1) in enumerate(plan.strips if plan.error is None else []):
            provenance = {"imagery": plan.path.name, **model_facts}
            fut = client.submit(classify_strip, str(plan.path), r0, r1, plan.spec, model_future, threads,
                                thresholds, tests, provenance, stride, centre, pure=False)
            futures[fut] = (i, j)
    parts: list[dict[int, AreaResult]] = [{} for _ in plans]
    errors: list[str | None] = [p.error for p in plans]
    total = sum(p.n_tiles for p in plans if p.error is None)
    done = 0
    rows: list[dict[str, Any] | None] = [None] * len(plans)
    for fut in as_completed(futures):
        i, j = futures[fut]
        plan = plans[i]
        try:
            part = fut.result()
        except (EuroSATError, OSError) as exc:  # e.g. a block that cannot be decoded (RasterioIOError)
            errors[i] = errors[i] or str(exc)
            part = None
        except Exception as exc:  # the cluster itself failed: no scene can be trusted, stop
            raise EuroSATError(
                f"A task failed on the Dask cluster ({type(exc).__name__}: {str(exc).splitlines()[0]}). The "
                "scheduler and every worker must run this project's environment (requirements.txt, and "
                "`eurosat` importable, e.g. started from the repository with PYTHONPATH=.)."
            ) from exc
        if part is not None:
            parts[i][j] = part
            done += part.n_tiles
            if progress is not None:
                progress(done, total)
        if errors[i] is None and len(parts[i]) == len(plan.strips):
            result = merge_results([parts[i][k] for k in range(len(plan.strips))])
            exports.write_geotiff(result, plan.out)
            rows[i] = scene_summary(plan, result)
            parts[i] = {}  # free the strips
    final = [r if r is not None else scene_summary(plans[i], None, errors[i] or "not classified")
             for i, r in enumerate(rows)]
    seconds = time.perf_counter() - t0
    tiles = sum(r["tiles"] for r in final)
    meta = {"model": model_path.name, "model_sha256_16": model_digest(model_bytes),
            "scheduler": client.scheduler_info().get("address", ""),
            "workers": len(client.scheduler_info().get("workers", {})), "tiles_per_task": tiles_per_task,
            "seconds": round(seconds, 3), "tiles_per_s": round(tiles / seconds, 1) if seconds else None}
    write_summary(final, out_dir, meta)
    return final


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the command line."""
    p = argparse.ArgumentParser(
        prog="python -m eurosat.scaleout",
        description="Classify many GeoTIFF scenes (or one huge one, strip by strip) on a Dask cluster: "
        "one class-map GeoTIFF per scene plus summary.csv / summary.json.",
    )
    p.add_argument("scenes", type=Path, nargs="+", metavar="SCENE", help="GeoTIFFs (8-bit RGB or 16-bit DN)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                   "(default: start a local cluster)")
    p.add_argument("--workers", type=int, default=2, help="local cluster: worker processes (default 2)")
    p.add_argument("--threads", type=int, default=1, help="LiteRT threads per task (default 1)")
    p.add_argument("--tiles-per-task", type=int, default=TILES_PER_TASK,
                   help=f"cut larger scenes into strips of about this many tiles (default {TILES_PER_TASK})")
    p.add_argument("--stride", type=int, choices=STRIDES, default=TILE_SIZE,
                   help="pixels between 64×64 windows and cell size, as python -m eurosat.classify "
                   "(default 64)")
    p.add_argument("--centre-weight", action="store_true", help="centre-weight each cell's windows")
    p.add_argument("--bands", type=int, nargs=3, metavar=("R", "G", "B"),
                   help="1-based red, green, blue bands for every scene (default: from each file)")
    offset = p.add_mutually_exclusive_group()
    offset.add_argument("--offset", dest="offset", action="store_true", default=None,
                        help="16-bit inputs carry the +1000 DN offset (processing baseline >= 04.00)")
    offset.add_argument("--no-offset", dest="offset", action="store_false",
                        help="16-bit inputs have no offset")
    p.add_argument("--min-clear", type=float, default=None, metavar="F",
                   help="land needs this fraction of clear pixels, else 253 cloud / no data")
    p.add_argument("--min-probability", type=float, default=None, metavar="P",
                   help="land needs this calibrated top-1 probability, else 254 uncertain "
                   "(default: the model's own)")
    p.add_argument("--no-cloud-tests", action="store_true", help="no visible-band cloud/shadow tests")
    p.add_argument("--model", type=Path, help="a .tflite model (default: the app's active model)")
    p.add_argument("--int8", action="store_true", help="use the full-int8 model of the active model")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line: 0 when every scene was classified, 2 on any user error."""
    args = build_parser().parse_args(argv)
    if args.workers < 1 or args.threads < 1 or args.tiles_per_task < 1:
        print("error: --workers, --threads and --tiles-per-task must be at least 1", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except (EuroSATError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eurosat.registry import model_for_command

    _, rule, _ = model_for_command(args.model, args.int8)
    thresholds = with_overrides(rule, args.min_clear, args.min_probability)
    t0 = time.perf_counter()
    with connect(args.scheduler, args.workers) as client:
        where = args.scheduler or f"a local cluster of {args.workers} worker processes"
        print(f"{len(args.scenes)} scene(s) on {where}", file=sys.stderr)
        with tqdm(total=0, unit="tile", disable=args.quiet, file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            rows = classify_many(args.scenes, args.out, client, model=args.model, int8=args.int8,
                                 tiles_per_task=args.tiles_per_task, threads=args.threads,
                                 bands=tuple(args.bands) if args.bands else None, offset=args.offset,
                                 progress=progress, thresholds=thresholds,
                                 cloud_tests=not args.no_cloud_tests, stride=args.stride,
                                 centre=args.centre_weight)
    seconds = time.perf_counter() - t0
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        print(f"error: {r['scene']}: {r['error']}", file=sys.stderr)
    tiles = sum(r["tiles"] for r in rows)
    for r in rows:
        if r["status"] == "ok":
            print(f"{r['scene']}: {r['tiles']:,} tiles, dominant class {r['dominant_class']} "
                  f"-> {r['output']}")
    started = "" if args.scheduler else " (including starting the local cluster)"
    print(f"{len(rows) - len(failed)}/{len(rows)} scenes, {tiles:,} tiles in {seconds:.1f} s{started}; "
          f"wrote {args.out / SUMMARY_CSV}, {args.out / SUMMARY_JSON}")
    return 2 if failed else 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: Dask pickles the task functions by
    # reference to ``eurosat.scaleout``, which the workers import (a __main__ function would be
    # pickled by value, with its module globals).
    from eurosat.scaleout import main as _main

    raise SystemExit(_main())
