"""Benchmark: peak memory of the command line on the shipped scene and on a ~10,000 × 10,000 mosaic.

    python benchmarks/bench_cli_memory.py [--size 10000] [--stride 64|32|16]

The mosaic repeats the real 1536×768 scene (same CRS, same 10 m grid, extended east and south)
and is written window by window to a temporary folder (never into the repository). Each run is
``python -m eurosat.classify SCENE --out ... --geojson ... --csv ... [--stride S --probs ...]`` in its
own process; its
peak resident memory is the child's ``ru_maxrss`` (from ``os.wait4``). Bounded memory means the
large scene's peak stays close to the small one's although it has ~85× the pixels.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
from rasterio.windows import Window  # noqa: E402

from eurosat import config  # noqa: E402

REPO = config.REPO_ROOT


def write_mosaic(scene: Path, out: Path, size: int, block: int = 256) -> Path:
    """Repeat ``scene`` to a ``size`` × ``size`` tiled GeoTIFF, one block row at a time."""
    with rasterio.open(scene) as src:
        img = src.read()  # (3, 768, 1536) uint8: 3.5 MB
        profile = src.profile.copy()
    _, h, w = img.shape
    profile.update(width=size, height=size, tiled=True, blockxsize=block, blockysize=block,
                   compress="deflate", predictor=2)
    cols = np.arange(size) % w
    with rasterio.open(out, "w", **profile) as dst:
        for r0 in range(0, size, block):
            rows = np.arange(r0, min(size, r0 + block)) % h
            dst.write(img[:, rows][:, :, cols], window=Window(0, r0, size, len(rows)))
    return out


def run_cli(scene: Path, out_dir: Path, stride: int = 64) -> tuple[float, int, str]:
    """Run the CLI in a child process: (wall seconds, peak RSS in bytes, last stdout lines)."""
    cmd = [sys.executable, "-m", "eurosat.classify", str(scene), "--out", str(out_dir / "classes.tif"),
           "--geojson", str(out_dir / "tiles.geojson"), "--csv", str(out_dir / "tiles.csv"), "--quiet",
           "--stride", str(stride)]
    if stride != 64:
        cmd += ["--probs", str(out_dir / "probs.tif")]
    t0 = time.perf_counter()
    with open(out_dir / "stdout.txt", "w") as so, open(out_dir / "stderr.txt", "w") as se:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=so, stderr=se)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (peak RSS)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"CLI failed on {scene}:\n{(out_dir / 'stderr.txt').read_text()}")
    stdout = (out_dir / "stdout.txt").read_text()
    return wall, usage.ru_maxrss * 1024, stdout.strip().splitlines()[0]  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scene", type=Path, default=config.default_scene())
    p.add_argument("--size", type=int, default=10_000, help="mosaic side in pixels")
    p.add_argument("--stride", type=int, default=64, choices=(64, 32, 16), help="cell size (CLI --stride)")
    args = p.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="eurosat_bench_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        mosaic = write_mosaic(args.scene, tmp / "mosaic.tif", args.size)
        disk_mb, pixels_mb = mosaic.stat().st_size / 2**20, 3 * args.size**2 / 2**20
        print(f"mosaic {args.size}×{args.size} px written in {time.perf_counter() - t0:.1f} s "
              f"({disk_mb:.0f} MB on disk, {pixels_mb:.0f} MB of pixels)")
        for name, scene in (("shipped scene", args.scene), ("mosaic", mosaic)):
            out = tmp / name.replace(" ", "_")
            out.mkdir()
            with rasterio.open(scene) as src:
                w, h = src.width, src.height
            wall, peak, summary = run_cli(scene, out, args.stride)
            tiles = ((w - 64) // args.stride + 1) * ((h - 64) // args.stride + 1)  # windows
            rows.append((name, f"{w}×{h}", tiles, wall, peak, summary))
    print(f"stride {args.stride} px:")
    print(f"{'scene':<14} {'pixels':>12} {'windows':>8} {'wall s':>7} {'windows/s':>10} {'peak RSS MB':>12}")
    for name, px, tiles, wall, peak, _ in rows:
        print(f"{name:<14} {px:>12} {tiles:>8,} {wall:>7.1f} {tiles / wall:>10.0f} {peak / 2**20:>12.0f}")
    ratio_px = (rows[1][2] / rows[0][2])
    ratio_mem = rows[1][4] / rows[0][4]
    print(f"the mosaic has {ratio_px:.0f}× the windows and used {ratio_mem:.2f}× the peak memory "
          f"(wall time includes process start and LiteRT load; load average {os.getloadavg()[0]:.2f}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
