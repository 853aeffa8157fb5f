"""All benchmarks in one command: scene throughput vs the compute limit, cold start, peak memory.

    python benchmarks/bench_all.py [--repeats 7] [--quick] [--out benchmarks/results]

Writes ``<out>.md`` (the tables, as printed) and ``<out>.json`` (every measurement).

What is measured, each in a fresh child process so that threads and memory are its own:

* **Scene throughput**: the Map page's "classify the whole scene" path, :func:`eurosat.tiling.classify_scene`
  (windowed read + tiling + model + footprints) on the real 288-tile scene, median of ``--repeats``
  runs after a warm-up, for the shipped Keras model, a TFLite float32 file made here from it
  (``eurosat.export``, Keras → SavedModel → TFLite, checked against Keras), and the shipped
  dynamic-range and full-int8 TFLite files (LiteRT), on 1 and 2 threads.
* **Compute limit**: in the same child, with the same thread count, a float32 NumPy matmul (2048²,
  OpenBLAS) gives the machine's float32 GFLOP/s (best of several runs: a ceiling). Divided by the
  model's FLOPs per tile (:func:`eurosat.model.count_flops`: conv and dense layers, 2 FLOPs per
  multiply-add) it gives the tiles/s the float compute limit allows; each model's scene throughput is
  reported as a percentage of it. int8 work is counted with the same FLOPs (int8 multiply-adds).
  NumPy's OpenBLAS may run narrower kernels than the CPU has (its runtime kernel is recorded: on an
  AVX-512 CPU it can be "Haswell", AVX2), so a second ceiling is measured with the runtime the models
  use: a float32 GEMM (2048 × 1024 × 1024, one ``FullyConnected``) on LiteRT/XNNPACK.
* **Where the time goes**: the scene time split into read + tile, model only (tiles already in
  memory, with the float32 copy and batching) and the rest (footprints, areas); LiteRT ``invoke`` alone
  at batch 64; and the int8 model's throughput against the batch size.
* **Cold start**, from the launch of a fresh process: (1) a real browser (Playwright driving Debian's
  Chromium, already open): ``streamlit run streamlit_app.py`` until ``/_stcore/health`` answers, the
  Home page shown, the Map page with the scene picture, then a rectangle drawn with the mouse until its
  result is shown — what a user waits for, less their own clicking; (2) the same pages through
  Streamlit's AppTest in one fresh process (no server, websocket or browser: the page code alone);
  (3) ``python -m eurosat.classify`` on the whole scene.
* **Peak memory**: ``ru_maxrss`` of each child (LiteRT children never import TensorFlow).

Other load on the machine (a training run) competes for the same cores: the load average is recorded
before and after, and figures taken under load are only comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from eurosat import config  # noqa: E402

REPO = config.REPO_ROOT
KINDS = ("keras", "float32", "dynamic", "int8")
THREADS = (1, 2)
MATMUL_N = 2048
BATCH_SWEEP = (1, 8, 32, 64, 128, 288)
BAR = 0.5  # int8 scene throughput as a fraction of the float compute limit


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _times(fn, repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _emit(result: dict) -> None:
    print("BENCH_JSON " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- child: float32 export


def child_export(out_dir: str) -> None:
    """Make the float32 TFLite file from the shipped .keras; report FLOPs and parity with Keras."""
    import keras
    import numpy as np

    from eurosat.explain import load_keras_model
    from eurosat.export import convert, parity
    from eurosat.geo import BandSpec, open_raster
    from eurosat.model import count_flops, with_tta
    from eurosat.registry import shipped_model
    from eurosat.tiling import grid_shape, read_tiles

    dense = keras.Sequential([keras.Input((GEMM_K,)), keras.layers.Dense(GEMM_N, use_bias=False)])
    dense.export(str(Path(out_dir) / "gemm_saved"), format="tf_saved_model", verbose=False)
    gemm = Path(out_dir) / "gemm_float32.tflite"
    gemm.write_bytes(convert(Path(out_dir) / "gemm_saved", "float32"))
    info = shipped_model()
    base = load_keras_model(info.keras)
    model = with_tta(base) if tta_views(info) > 1 else base  # as the shipped TFLite files compute
    out = Path(out_dir) / config.TFLITE_FLOAT
    saved = Path(out_dir) / "saved_model"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    out.write_bytes(convert(saved, "float32"))
    with open_raster(config.default_scene()) as src:
        n_rows, n_cols = grid_shape(src.height, src.width)
        rr, cc = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
        tiles = read_tiles(src, BandSpec(), rr.ravel(), cc.ravel())[0]
    _emit({"path": str(out), "gemm_path": str(gemm), "size_bytes": out.stat().st_size,
           "flops_per_tile": count_flops(base) * tta_views(info),
           "parameters": int(model.count_params()), "parity_vs_keras": parity(model, out, tiles)})


# --------------------------------------------------------------------------- child: one model × threads


def tta_views(info) -> int:
    """Views averaged per tile by the shipped TFLite files (8 with test-time augmentation, else 1)."""
    from eurosat.registry import served_views

    return served_views(info.metrics)


def keras_inference_model(path: Path, info):
    """The Keras model at ``path``, TTA-wrapped if the shipped TFLite files are (same function)."""
    from eurosat.explain import load_keras_model
    from eurosat.model import with_tta

    model = load_keras_model(path)
    return with_tta(model) if tta_views(info) > 1 else model


class KerasClassifier:
    """The Keras model behind the tiling ``Classifier`` protocol (compiled ``predict_on_batch``);
    TTA-wrapped like the shipped TFLite files, so all rows compute the same function."""

    def __init__(self, path: Path):
        from eurosat.registry import shipped_model

        self.model = keras_inference_model(path, shipped_model())

    def predict(self, tiles):
        import numpy as np

        return np.asarray(self.model.predict_on_batch(np.asarray(tiles, dtype=np.float32)))


def matmul_gflops(threads: int, repeats: int, n: int = MATMUL_N) -> list[float]:
    """float32 ``n``×``n`` matmul GFLOP/s (2 n³ FLOPs per product) on ``threads`` BLAS threads."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    gen = np.random.default_rng(0)
    a = gen.standard_normal((n, n), dtype=np.float32)
    b = gen.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    with threadpool_limits(limits=threads):
        ts = _times(lambda: np.matmul(a, b, out=c), repeats, warmup=2)
    return [2 * n**3 / t / 1e9 for t in ts]


GEMM_M, GEMM_K, GEMM_N = 2048, 1024, 1024


def gemm_gflops(path: str, threads: int, repeats: int) -> list[float]:
    """float32 GEMM GFLOP/s of LiteRT/XNNPACK (the models' runtime) on ``threads`` threads."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], [GEMM_M, GEMM_K])
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], np.random.default_rng(0).standard_normal((GEMM_M, GEMM_K), np.float32))
    ts = _times(interp.invoke, repeats, warmup=2)
    return [2 * GEMM_M * GEMM_K * GEMM_N / t / 1e9 for t in ts]


def child_measure(kind: str, path: str, threads: int, repeats: int, gemm: str = "") -> None:
    """Scene throughput and its breakdown for one model file on ``threads`` threads; then the matmul."""
    t_start = time.perf_counter()
    import numpy as np

    from eurosat.geo import BandSpec, open_raster
    from eurosat.inference import TFLiteClassifier
    from eurosat.tiling import (
        classify_scene,
        classify_tiles,
        grid_shape,
        iter_strips,
        read_tiles,
        strip_rows_for,
    )

    if kind == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        clf = KerasClassifier(Path(path))
    else:
        clf = TFLiteClassifier(path, num_threads=threads)
    rss_loaded = _rss_mb()
    t_loaded = time.perf_counter() - t_start
    scene = config.default_scene()
    with open_raster(scene) as src:
        n_rows, n_cols = grid_shape(src.height, src.width)
        rr, cc = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
        rows, cols = rr.ravel(), cc.ravel()
        strip = strip_rows_for(src)

        def read_only():
            strips = iter_strips(rows, strip)
            return np.concatenate([read_tiles(src, BandSpec(), rows[i], cols[i])[0] for i in strips])

        tiles = read_only()
        t_read = _times(read_only, repeats)
    t_model = _times(lambda: classify_tiles(clf, tiles), repeats)
    t_scene = _times(lambda: classify_scene(scene, clf), repeats)
    result: dict = {"kind": kind, "threads": threads, "tiles": int(len(rows)), "load_s": t_loaded,
                    "scene_s": t_scene, "read_s": t_read, "model_s": t_model}
    if kind != "keras":  # LiteRT: invoke alone (no float copy, no padding), and the batch size
        interp = clf._interp  # noqa: SLF001 - a benchmark looks inside
        x = tiles[:64].astype(np.float32)
        clf._resize(64)  # noqa: SLF001
        interp.set_tensor(clf._in_index, x)  # noqa: SLF001
        result["invoke64_s"] = _times(interp.invoke, max(3, repeats * 2))
        if kind == "int8":
            sweep = {}
            for b in BATCH_SWEEP:
                c = TFLiteClassifier(path, num_threads=threads, batch_size=b)
                sweep[b] = statistics.median(_times(lambda c=c: c.predict(tiles), repeats))
            result["batch_sweep_s"] = sweep
    result["rss_loaded_mb"] = rss_loaded
    result["peak_rss_mb"] = _rss_mb()  # before the matmul's 48 MB of matrices
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    result["matmul_gflops"] = matmul_gflops(threads, max(5, repeats))
    if gemm:
        result["gemm_gflops"] = gemm_gflops(gemm, threads, max(5, repeats))
    from threadpoolctl import threadpool_info

    result["blas"] = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads")}
                      for i in threadpool_info()]
    _emit(result)


# --------------------------------------------------------------------------- child: cold start (AppTest)


def child_coldstart(t0: float, bbox: list[float]) -> None:
    """Fresh process → Map page → one drawn rectangle classified, through AppTest (times since ``t0``)."""
    marks = {"python_started": time.time() - t0}
    from streamlit.testing.v1 import AppTest

    from eurosat.ui.state import MAP_DRAWING, MAP_RESULT

    marks["imports"] = time.time() - t0
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    marks["home_page"] = time.time() - t0
    at.switch_page("pages/map.py").run()
    marks["map_page"] = time.time() - t0
    w, s, e, n = bbox
    ring = [[w, s], [w, n], [e, n], [e, s], [w, s]]
    at.session_state[MAP_DRAWING] = {"last_active_drawing": {
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}}
    at.run()
    marks["area_classified"] = time.time() - t0
    result = at.session_state[MAP_RESULT] if MAP_RESULT in at.session_state else None
    errors = [str(x.value) for x in at.error] + [str(x.message) for x in at.exception]
    _emit({"marks": marks, "tiles": int(result.n_tiles) if result is not None else 0, "errors": errors,
           "peak_rss_mb": _rss_mb(), "tensorflow_imported": "tensorflow" in sys.modules})


# --------------------------------------------------------------------------- parent


def _thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_child(args: list[str], env: dict | None = None, timeout: float = 1800) -> dict:
    """Run this script in a child mode; return its JSON (and its wall time and peak RSS from wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], cwd=REPO, env=env or _thread_env(2),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t0
    lines = [line for line in out.splitlines() if line.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        return {"error": f"child {args[0]} failed (exit {proc.returncode}): {err.strip()[-1500:]}",
                "wall_s": wall}
    return {**json.loads(lines[-1][len("BENCH_JSON "):]), "wall_s": wall}


def _stop(proc: subprocess.Popen) -> None:
    """Terminate a child process, killing it if it does not exit within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_ready_s(timeout: float = 120) -> dict:
    """``streamlit run streamlit_app.py`` (headless) until ``/_stcore/health`` answers 200."""
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
           "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_thread_env(2))
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                return {"error": f"streamlit exited with {proc.returncode}"}
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return {"server_ready_s": time.perf_counter() - t0}
            except OSError:
                time.sleep(0.05)
        return {"error": f"no health answer in {timeout:.0f} s"}
    finally:
        _stop(proc)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


def _vm_hwm_mb(pid: int) -> float | None:
    """Peak resident memory of a running process (``VmHWM``), MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def browser_cold_start(timeout_ms: int = 180_000) -> dict:
    """A real browser (Playwright + Chromium, started first): ``streamlit run`` → health → Home page
    shown → Map page with the scene picture → a rectangle drawn with the mouse → its result shown.
    Times from the server's launch; the server's peak RSS after the first area."""
    import re

    from playwright.sync_api import sync_playwright

    marks: dict = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(timeout_ms)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env={**_thread_env(2), "EUROSAT_RUNS_DIR": tmp}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    if proc.poll() is not None or time.perf_counter() - t0 > timeout_ms / 1000:
                        return {"error": "the streamlit server did not start"}
                    time.sleep(0.05)
            marks["server_ready"] = time.perf_counter() - t0
            page.goto(url)
            page.get_by_text("Model in use").first.wait_for()
            marks["home_page"] = time.perf_counter() - t0
            page.get_by_role("link", name=re.compile("Map")).click()
            frame = page.frame_locator(MAP_IFRAME)
            frame.locator("img.leaflet-image-layer").wait_for()
            marks["map_page"] = time.perf_counter() - t0
            frame.locator("a.leaflet-draw-draw-rectangle").click()
            box = frame.locator("img.leaflet-image-layer").bounding_box()
            x0, y0 = box["x"] + 0.35 * box["width"], box["y"] + 0.30 * box["height"]
            x1, y1 = box["x"] + 0.60 * box["width"], box["y"] + 0.70 * box["height"]
            t_draw = time.perf_counter()
            page.mouse.move(x0, y0)
            page.mouse.down()
            for k in range(1, 11):
                page.mouse.move(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
            page.mouse.up()
            page.get_by_text("Dominant class (drawn area)").wait_for()
            marks["area_classified"] = time.perf_counter() - t0
            marks["draw_to_result"] = time.perf_counter() - t_draw
            caption = page.get_by_text(re.compile(r"[\d,]+ tiles of 64×64 px")).first.inner_text()
            tiles = int(re.search(r"([\d,]+) tiles", caption).group(1).replace(",", ""))
            return {"marks": marks, "tiles": tiles, "server_peak_rss_mb": _vm_hwm_mb(proc.pid)}
        except Exception as exc:  # noqa: BLE001 - a page that changed: report, do not lose the other results
            return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", "marks": marks}
        finally:
            _stop(proc)
            browser.close()


def cli_cold(scene: Path) -> dict:
    """``python -m eurosat.classify SCENE --out ...`` wall time and peak RSS (wait4)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "eurosat.classify", str(scene), "--out", f"{tmp}/c.tif", "--quiet"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=_thread_env(2))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return {"error": f"classify exited {code}"}
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def centre_box(scene: Path) -> list[float]:
    """The middle ninth of the scene in lon/lat (the Map page's default typed rectangle)."""
    from eurosat.geo import inspect_scene

    w, s, e, n = inspect_scene(scene).bounds_lonlat
    dx, dy, cx, cy = (e - w) / 6, (n - s) / 6, (w + e) / 2, (s + n) / 2
    return [cx - dx, cy - dy, cx + dx, cy + dy]


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    import numpy as np

    from eurosat.inference import TFLiteClassifier  # noqa: F401 - LiteRT version below

    versions = {}
    for mod in ("numpy", "ai_edge_litert", "tensorflow", "keras", "streamlit", "rasterio"):
        try:
            from importlib.metadata import version

            dist = {"ai_edge_litert": "ai-edge-litert", "tensorflow": "tensorflow-cpu"}.get(mod, mod)
            versions[mod] = version(dist)
        except Exception:  # noqa: BLE001 - a missing distribution is just not reported
            versions[mod] = None
    flags = ""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        flags = next(line for line in lines if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    simd = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f" {f}" in flags]
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {}).get("name")
    return {"cpu": cpu, "cores": os.cpu_count(), "simd": simd, "python": platform.python_version(),
            "numpy_blas": blas,
            "versions": versions, "date": time.strftime("%Y-%m-%d %H:%M %Z")}


# --------------------------------------------------------------------------- report


def _med(xs) -> float:
    return statistics.median(xs)


def analyse(runs: list[dict], flops: int) -> list[dict]:
    """One table row per model × threads."""
    rows = []
    for r in runs:
        if "error" in r:
            rows.append({"kind": r.get("kind"), "threads": r.get("threads"), "error": r["error"]})
            continue
        scene, n = _med(r["scene_s"]), r["tiles"]
        gflops = max(r["matmul_gflops"])
        limit = gflops * 1e9 / flops
        row = {
            "kind": r["kind"], "threads": r["threads"], "tiles": n, "scene_ms": scene * 1e3,
            "tiles_per_s": n / scene, "read_ms": _med(r["read_s"]) * 1e3,
            "model_ms": _med(r["model_s"]) * 1e3,
            "matmul_gflops_best": gflops, "matmul_gflops_median": _med(r["matmul_gflops"]),
            "limit_tiles_per_s": limit, "pct_of_limit": 100 * n / scene / limit,
            "model_pct_of_limit": 100 * n / _med(r["model_s"]) / limit,
            "effective_gflops": n / scene * flops / 1e9, "peak_rss_mb": r["peak_rss_mb"],
            "load_s": r["load_s"], "tensorflow_imported": r["tensorflow_imported"],
        }
        row["rest_ms"] = row["scene_ms"] - row["read_ms"] - row["model_ms"]
        if r.get("gemm_gflops"):
            row["gemm_gflops_best"] = max(r["gemm_gflops"])
            row["gemm_limit_tiles_per_s"] = row["gemm_gflops_best"] * 1e9 / flops
            row["pct_of_gemm_limit"] = 100 * row["tiles_per_s"] / row["gemm_limit_tiles_per_s"]
        row["blas"] = ", ".join(f"{b['internal_api']} {b['architecture']}" for b in r.get("blas", []))
        if "invoke64_s" in r:
            row["invoke_tiles_per_s"] = 64 / _med(r["invoke64_s"])
            row["invoke_pct_of_limit"] = 100 * row["invoke_tiles_per_s"] / limit
        if "batch_sweep_s" in r:
            row["batch_sweep_tiles_per_s"] = {int(b): n / t for b, t in r["batch_sweep_s"].items()}
        rows.append(row)
    return rows


LABELS = {"keras": "Keras (TF predict_on_batch)", "float32": "TFLite float32",
          "dynamic": "TFLite dynamic-range", "int8": "TFLite full-int8"}


def report(meta: dict, export: dict, rows: list[dict], cold: dict, args: argparse.Namespace) -> str:
    flops = meta["flops_per_tile"]
    lines = [
        "## Benchmarks", "",
        f"`python benchmarks/bench_all.py --repeats {args.repeats}` on {meta['machine']['cpu']} "
        f"({meta['machine']['cores']} cores; {', '.join(meta['machine'].get('simd', []))}), "
        f"{meta['machine']['date']}; load average before "
        f"{meta['load_before'][0]:.2f}, after {meta['load_after'][0]:.2f}."
        + (" **The machine was busy (load average above 1): figures include that competition.**"
           if max(meta["load_before"][0], meta["load_after"][0]) > 1.0 else ""), "",
        f"Scene: `{meta['scene']}`, {rows[0].get('tiles', 288)} tiles of 64×64 px, the Map page's "
        "whole-scene path (`classify_scene`: windowed read, tiles, model, footprints); median of "
        f"{args.repeats} runs. "
        f"Model: {flops / 1e6:.1f} MFLOPs per tile ({meta['parameters']:,} parameters; conv + dense, "
        "2 FLOPs per multiply-add). Compute limit = best float32 NumPy matmul GFLOP/s on the same threads "
        "÷ FLOPs per tile; GEMM limit the same with a float32 GEMM on LiteRT/XNNPACK, the models' own "
        f"runtime. NumPy's BLAS here: {_blas(rows)}.", "",
        "| model | threads | scene ms | tiles/s | NumPy matmul GFLOP/s | limit tiles/s | % of limit "
        "| model-only % of limit | LiteRT GEMM GFLOP/s | % of GEMM limit | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {LABELS.get(r['kind'], r['kind'])} | {r['threads']} | error: {r['error'][:80]} "
                         "| | | | | | | | |")
            continue
        gemm = "– | –"
        if "gemm_gflops_best" in r:
            gemm = f"{r['gemm_gflops_best']:.0f} | {r['pct_of_gemm_limit']:.0f} %"
        lines.append(
            f"| {LABELS[r['kind']]} | {r['threads']} | {r['scene_ms']:.0f} | {r['tiles_per_s']:.0f} "
            f"| {r['matmul_gflops_best']:.0f} | {r['limit_tiles_per_s']:.0f} | {r['pct_of_limit']:.0f} % "
            f"| {r['model_pct_of_limit']:.0f} % | {gemm} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Where the time of one scene goes (median ms): read + tile, model alone (tiles in memory, "
              "with the float32 copy and batching), the rest (footprints, areas: the scene median less the "
              "other two, so noisy under load); LiteRT `invoke` alone at batch 64 (one tensor set, kernels "
              "only) as % of the limit.", "",
              "| model | threads | read + tile | model | rest | invoke-only tiles/s "
              "| invoke-only % of limit |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if "error" in r:
            continue
        inv = "– | –"
        if "invoke_tiles_per_s" in r:
            inv = f"{r['invoke_tiles_per_s']:.0f} | {r['invoke_pct_of_limit']:.0f} %"
        lines.append(f"| {LABELS[r['kind']]} | {r['threads']} | {r['read_ms']:.1f} | {r['model_ms']:.1f} "
                     f"| {r['rest_ms']:.1f} | {inv} |")
    int8 = [r for r in rows if r.get("kind") == "int8" and "error" not in r]
    for r in int8:
        sweep = r.get("batch_sweep_tiles_per_s", {})
        lines += ["", f"int8 model alone, {r['threads']} thread(s), tiles/s by batch size: "
                  + ", ".join(f"{b}: {v:.0f}" for b, v in sweep.items())]
    lines += ["", _bar_verdict(int8, flops)]
    if not cold:
        lines += ["", "Cold start: not measured (`--no-cold-start`)."]
    else:
        lines += ["", "Cold start and memory (fresh processes; seconds from the launch):", "",
                  "| what | seconds | peak RSS MB |", "| --- | ---: | ---: |"]
        server = "`streamlit run` until `/_stcore/health` answers (server up, no page run yet)"
        browser = cold.get("browser", {})
        if "marks" in browser and "error" not in browser:
            m = browser["marks"]
            lines += [
                f"| {server} | {m['server_ready']:.2f} | – |",
                f"| real browser (Chromium, already open): + Home page shown | {m['home_page']:.2f} | – |",
                f"| real browser: + Map page with the scene picture | {m['map_page']:.2f} | – |",
                f"| real browser: + rectangle drawn with the mouse, its {browser['tiles']} tiles classified "
                f"and shown (draw → result {m['draw_to_result']:.2f} s) | {m['area_classified']:.2f} "
                f"| {browser.get('server_peak_rss_mb') or float('nan'):.0f} (server) |"]
        else:
            if browser:
                lines.append(f"| real browser | error: {browser.get('error', '')[:150]} | |")
            lines.append(_cold_row(server, "server", cold))
        for label, key in (("AppTest, fresh process: imports", "imports"),
                           ("AppTest: + Home page run", "home_page"),
                           ("AppTest: + Map page run (scene picture, map)", "map_page"),
                           ("AppTest: + first drawn rectangle classified", "area_classified"),
                           ("`python -m eurosat.classify` whole scene (process start to exit)", "cli")):
            lines.append(_cold_row(label, key, cold))
    lines += ["", f"Float32 TFLite file made here: top-1 agreement with Keras on the scene "
              f"{export.get('parity_vs_keras', {}).get('top1_agreement', 'n/a')}, max |Δp| "
              f"{export.get('parity_vs_keras', {}).get('max_abs_prob_diff', 'n/a')}. TensorFlow is imported "
              "only by the Keras rows (their peak RSS includes it); the LiteRT rows and the app's cold start "
              "do not import it (cold start: tensorflow imported = "
              f"{cold.get('app', {}).get('tensorflow_imported')})."]
    return "\n".join(lines) + "\n"


def _blas(rows: list[dict]) -> str:
    blas = next((r["blas"] for r in rows if r.get("blas")), "")
    note = ""
    if "Haswell" in blas or "Zen" in blas:
        note = (" — 256-bit AVX2 kernels; where the CPU has AVX-512 (see the machine line), XNNPACK uses "
                "512-bit kernels, so the NumPy limit can be beaten (percentages above 100 %) and the GEMM "
                "limit is the fairer ceiling")
    return f"{blas or 'unknown'}{note}"


def _cold_row(label: str, key: str, cold: dict) -> str:
    if key == "server":
        v = cold.get("server", {})
        return f"| {label} | {v.get('server_ready_s', float('nan')):.2f} | – |" if "error" not in v else \
            f"| {label} | error: {v['error']} | |"
    if key == "cli":
        v = cold.get("cli", {})
        return f"| {label} | {v.get('wall_s', float('nan')):.2f} | {v.get('peak_rss_mb', float('nan')):.0f} |"
    app = cold.get("app", {})
    if "error" in app:
        return f"| {label} | error: {app['error'][:100]} | |"
    rss = f"{app['peak_rss_mb']:.0f}" if key == "area_classified" else "–"
    extra = f" ({app.get('tiles')} tiles)" if key == "area_classified" else ""
    return f"| {label}{extra} | {app['marks'][key]:.2f} | {rss} |"


def _bar_verdict(int8: list[dict], flops: int) -> str:
    if not int8:
        return "int8 bar: no int8 measurement."
    best = max(int8, key=lambda r: r["pct_of_limit"])
    if best["pct_of_limit"] >= 100 * BAR:
        gemm = (f", {best['pct_of_gemm_limit']:.0f} % of the LiteRT float32 GEMM limit"
                if "pct_of_gemm_limit" in best else "")
        return (f"int8 bar: **met** — the int8 scene path runs at {best['pct_of_limit']:.0f} % of the "
                f"NumPy float32 compute limit{gemm} ({best['threads']} threads; "
                f"{best['effective_gflops']:.0f} G int8 ops/s effective; int8 SIMD does more multiply-adds "
                "per cycle than float32, so more than 100 % is possible).")
    share_read = best["read_ms"] / best["scene_ms"] * 100
    share_model = best["model_ms"] / best["scene_ms"] * 100
    share_rest = best["rest_ms"] / best["scene_ms"] * 100
    sweep = best.get("batch_sweep_tiles_per_s", {})
    top = max(sweep.items(), key=lambda kv: kv[1]) if sweep else (None, None)
    return (f"int8 bar: **not met** — {best['pct_of_limit']:.0f} % of the float32 compute limit "
            f"({best['threads']} threads). Measured: of {best['scene_ms']:.0f} ms per scene, read + tile "
            f"take {share_read:.0f} %, the model {share_model:.0f} % and footprints/areas "
            f"{share_rest:.0f} %; "
            f"the model alone reaches {best['model_pct_of_limit']:.0f} % and LiteRT invoke alone "
            f"{best.get('invoke_pct_of_limit', float('nan')):.0f} %; the best batch size is {top[0]} "
            f"({top[1] or float('nan'):.0f} tiles/s).")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (median reported)")
    p.add_argument("--quick", action="store_true", help="2 repeats (a smoke run, numbers are rough)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results",
                   help="write <out>.md and <out>.json (default benchmarks/results)")
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--threads", type=int, nargs="+", default=list(THREADS))
    p.add_argument("--no-cold-start", action="store_true", help="skip the server / AppTest / CLI cold starts")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="no real-browser cold start (Playwright + /usr/bin/chromium)")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        mode, *rest = args.child
        if mode == "export":
            child_export(rest[0])
        elif mode == "measure":
            child_measure(rest[0], rest[1], int(rest[2]), int(rest[3]), rest[4] if len(rest) > 4 else "")
        elif mode == "coldstart":
            child_coldstart(float(rest[0]), json.loads(rest[1]))
        return 0
    if args.quick:
        args.repeats = 2
    from eurosat.registry import shipped_model

    scene = config.default_scene()
    info = shipped_model()
    meta: dict = {"machine": machine(), "load_before": os.getloadavg(), "scene": scene.name,
                  "repeats": args.repeats}
    print(f"bench_all: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, load average "
          f"{meta['load_before'][0]:.2f}; {args.repeats} repeats", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="eurosat_bench_") as tmp:
        print("  exporting the float32 TFLite file (and a GEMM) from Keras (TensorFlow) ...", file=sys.stderr)
        export = run_child(["export", tmp])
        meta["flops_per_tile"] = export.get("flops_per_tile") or info.metrics.get("flops_per_tile")
        meta["parameters"] = export.get("parameters") or info.metrics.get("parameters", 0)
        paths = {"keras": info.keras, "float32": Path(export.get("path", Path(tmp) / config.TFLITE_FLOAT)),
                 "dynamic": info.tflite, "int8": info.tflite_int8}
        runs = []
        for kind in args.kinds:
            for threads in args.threads:
                print(f"  {kind}, {threads} thread(s) ...", file=sys.stderr)
                r = run_child(["measure", kind, str(paths[kind]), str(threads), str(args.repeats),
                               export.get("gemm_path", "")], env=_thread_env(threads))
                runs.append({"kind": kind, "threads": threads, **r})
    cold: dict = {}
    if not args.no_cold_start:
        print("  cold start: real browser, AppTest, command line ...", file=sys.stderr)
        if args.browser and Path(CHROMIUM).is_file():
            cold["browser"] = browser_cold_start()
        if "marks" not in cold.get("browser", {}) or "error" in cold.get("browser", {}):
            cold["server"] = server_ready_s()
        with tempfile.TemporaryDirectory() as runs_tmp:  # the shipped model, whatever is promoted
            env = {**_thread_env(2), "EUROSAT_RUNS_DIR": runs_tmp}
            cold["app"] = run_child(["coldstart", repr(time.time()), json.dumps(centre_box(scene))], env=env)
        cold["cli"] = cli_cold(scene)
    meta["load_after"] = os.getloadavg()
    rows = analyse(runs, meta["flops_per_tile"])
    text = report(meta, export, rows, cold, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "export": export, "rows": rows, "runs": runs, "cold_start": cold}, indent=1,
        default=str))
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
