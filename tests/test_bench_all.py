"""benchmarks/bench_all.py: the analysis and the report, on made-up measurements (no timing here)."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from eurosat import config

FLOPS = 211_487_232


@pytest.fixture(scope="module")
def bench():
    path = config.REPO_ROOT / "benchmarks" / "bench_all.py"
    spec = importlib.util.spec_from_file_location("bench_all", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(kind: str, threads: int, scene_s: float, **extra) -> dict:
    return {"kind": kind, "threads": threads, "tiles": 288, "load_s": 0.5, "scene_s": [scene_s] * 3,
            "read_s": [0.004] * 3, "model_s": [scene_s * 0.9] * 3, "matmul_gflops": [100.0, 120.0, 110.0],
            "gemm_gflops": [240.0], "blas": [{"internal_api": "openblas", "architecture": "Haswell"}],
            "peak_rss_mb": 250.0, "tensorflow_imported": kind == "keras", **extra}


def test_analyse_compute_limit_and_percentages(bench):
    run = _run("int8", 2, 0.12, invoke64_s=[0.02], batch_sweep_s={"1": 0.2, "64": 0.1})
    rows = bench.analyse([run], FLOPS)
    r = rows[0]
    assert r["tiles_per_s"] == pytest.approx(2400)
    assert r["matmul_gflops_best"] == 120.0  # the best run is the ceiling
    assert r["limit_tiles_per_s"] == pytest.approx(120e9 / FLOPS)
    assert r["pct_of_limit"] == pytest.approx(100 * 2400 / (120e9 / FLOPS))
    assert r["pct_of_gemm_limit"] == pytest.approx(100 * 2400 / (240e9 / FLOPS))
    assert r["rest_ms"] == pytest.approx(120 - 4 - 108)
    assert r["invoke_tiles_per_s"] == pytest.approx(3200)
    assert r["batch_sweep_tiles_per_s"] == {1: 1440, 64: 2880}


@pytest.mark.parametrize("with_cold", [True, False])
def test_report_renders_every_section(bench, with_cold):
    runs = [_run("keras", 1, 0.5), _run("dynamic", 2, 0.13, invoke64_s=[0.025]),
            _run("int8", 2, 1.2, invoke64_s=[0.5], batch_sweep_s={"64": 1.0}),
            {"kind": "float32", "threads": 1, "error": "child measure failed"}]
    meta = {"machine": {"cpu": "Test CPU", "cores": 2, "simd": ["avx2"], "date": "today"},
            "load_before": (0.1, 0, 0), "load_after": (0.2, 0, 0), "scene": "s.tif", "flops_per_tile": FLOPS,
            "parameters": 698_858}
    cold = {}
    if with_cold:
        cold = {"browser": {"marks": {"server_ready": 0.9, "home_page": 2.0, "map_page": 5.0,
                                      "area_classified": 7.0, "draw_to_result": 1.1}, "tiles": 20,
                            "server_peak_rss_mb": 280.0},
                "app": {"marks": {"imports": 0.4, "home_page": 0.6, "map_page": 1.5, "area_classified": 1.6},
                        "tiles": 30, "peak_rss_mb": 270.0, "tensorflow_imported": False},
                "cli": {"wall_s": 0.7, "peak_rss_mb": 214.0}}
    text = bench.report(meta, {"parity_vs_keras": {"top1_agreement": 1.0, "max_abs_prob_diff": 0.0}},
                        bench.analyse(runs, FLOPS), cold, argparse.Namespace(repeats=3))
    assert "| TFLite full-int8 | 2 | 1200 | 240 |" in text
    assert "error: child measure failed" in text
    # int8 at 240 tiles/s is under half of a 120 GFLOP/s limit (567 tiles/s): the report says where time goes
    assert "int8 bar: **not met**" in text and "read + tile take" in text
    assert ("rectangle drawn with the mouse, its 20 tiles" in text) == with_cold
    assert ("not measured" in text) != with_cold
