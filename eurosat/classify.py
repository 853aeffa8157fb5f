"""Command line: classify every 64×64 tile of a GeoTIFF scene and write GIS files.

    python -m eurosat.classify SCENE.tif --out classes.tif [--geojson tiles.geojson] [--csv tiles.csv]

Same code path as the Map page (:func:`eurosat.tiling.classify_scene`), but the scene is read
a strip of tile rows at a time and the tiles are not kept, so memory stays bounded however
large the scene is. Uses the app's active model (LiteRT, no TensorFlow import).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from eurosat import exports
from eurosat.errors import EuroSATError
from eurosat.geo import BandSpec, inspect_scene

#: GDAL raster block cache while classifying (MB): keeps memory bounded on large scenes.
GDAL_CACHE_MB: int = 64


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the command line."""
    p = argparse.ArgumentParser(
        prog="python -m eurosat.classify",
        description="Classify every whole 64×64 tile of a GeoTIFF into EuroSAT land-cover classes.",
    )
    p.add_argument("scene", type=Path, help="GeoTIFF: 8-bit RGB or 16-bit Sentinel-2 DN")
    p.add_argument("--out", type=Path, required=True, help="class-map GeoTIFF to write (one cell per tile)")
    p.add_argument("--geojson", type=Path, help="also write tile polygons with class and probabilities")
    p.add_argument("--csv", type=Path, help="also write one CSV row per tile")
    p.add_argument("--bands", type=int, nargs=3, metavar=("R", "G", "B"),
                   help="1-based red, green, blue bands (default: from band descriptions, e.g. B4 B3 B2)")
    offset = p.add_mutually_exclusive_group()
    offset.add_argument("--offset", dest="offset", action="store_true", default=None,
                        help="16-bit input carries the +1000 DN offset (processing baseline >= 04.00)")
    offset.add_argument("--no-offset", dest="offset", action="store_false", help="16-bit input has no offset")
    p.add_argument("--model", type=Path, help="a .tflite model (default: the app's active model)")
    p.add_argument("--int8", action="store_true", help="use the full-int8 model of the active model")
    p.add_argument("--threads", type=int, default=2, help="LiteRT CPU threads (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 on a user error)."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except EuroSATError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    import rasterio
    from tqdm import tqdm

    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import active_model
    from eurosat.tiling import classify_scene

    info = inspect_scene(args.scene)
    default = info.default_spec()
    spec = BandSpec(
        tuple(args.bands) if args.bands else default.bands,  # type: ignore[arg-type]
        default.offset if args.offset is None else (args.offset and info.is_dn),
    )
    model = args.model or (active_model().tflite_int8 if args.int8 else active_model().tflite)
    clf = TFLiteClassifier(model, num_threads=args.threads)
    n_rows, n_cols = info.height // 64, info.width // 64
    print(f"{info.name}: {info.width}×{info.height} px, {info.count} bands {info.dtype}, {info.crs_name}, "
          f"{n_rows * n_cols:,} tiles; bands {spec.bands}, offset {'-1000 DN' if spec.offset else 'none'}; "
          f"model {Path(model).name}", file=sys.stderr)
    if not info.pixel_size_ok:
        print(f"warning: pixel size is {info.pixel_size_m:.1f} m; the model was trained on 10 m Sentinel-2 "
              "pixels, so results may be unreliable", file=sys.stderr)
    t0 = time.perf_counter()
    with tqdm(total=n_rows * n_cols, unit="tile", disable=args.quiet, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            result = classify_scene(args.scene, clf, spec, keep_tiles=False, progress=progress)
    seconds = time.perf_counter() - t0
    for suffix_path in (args.out, args.geojson, args.csv):
        if suffix_path is not None:
            suffix_path.parent.mkdir(parents=True, exist_ok=True)
    exports.write_geotiff(result, args.out)
    written = [str(args.out)]
    if args.geojson:
        written.append(str(exports.write_geojson(result, args.geojson)))
    if args.csv:
        written.append(str(exports.write_csv(result, args.csv)))
    print(f"{result.n_tiles:,} tiles in {seconds:.1f} s ({result.n_tiles / seconds:,.0f} tiles/s); "
          f"dominant class {result.dominant_class}")
    print(result.summary().drop(columns="color").to_string(
        index=False, formatters={"share": "{:.1%}".format, "area_km2": "{:.2f}".format}))
    print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
