"""Command line: classify a GeoTIFF scene, or Sentinel-2 fetched from a STAC catalogue for a
rectangle, cell by cell, and write GIS files.

    python -m eurosat.classify SCENE --out classes.tif [--stride 64|32|16] [--probs probs.tif]
        [--stac-item item.json] [--geojson cells.geojson] [--csv cells.csv]
    python -m eurosat.classify SCENE.tif --bbox W S E N --out classes.tif

``--out`` is a Cloud-Optimised GeoTIFF, one value per cell (stride × stride pixels), codes as on
the Map page (0-9 class, 253 cloud / no data, 254 uncertain, 255 not classified), with
``classes.qml`` (QGIS style) written beside it. ``--probs``: the 10 class probabilities (uint8,
sum 255); ``--stac-item``: a STAC item describing the files (classification and mlm extensions).
    python -m eurosat.classify --stac https://earth-search.aws.element84.com/v1 --bbox W S E N \
        --date 2023-05-01/2023-09-30 [--collection sentinel-2-l1c] [--max-cloud 20] --out classes.tif

Same code path as the Map page (:func:`eurosat.tiling.classify_scene` / ``classify_area``; a STAC
source, :class:`eurosat.stac.StacSource`, writes the fetched window as a GeoTIFF that then takes
that same path). A whole scene is read a strip of tile rows at a time and the tiles are not kept,
so memory stays bounded however large the scene is. Uses the app's active model (LiteRT, no
TensorFlow import).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from eurosat import exports
from eurosat.cells import STRIDES, window_grid_shape
from eurosat.classes import TILE_SIZE
from eurosat.decision import DEFAULT_MIN_CLEAR, with_overrides
from eurosat.errors import EuroSATError
from eurosat.geo import BandSpec, BBox, inspect_scene
from eurosat.stac import DEFAULT_MAX_CLOUD, DEFAULT_TIMEOUT_S

#: GDAL raster block cache while classifying (MB): keeps memory bounded on large scenes.
GDAL_CACHE_MB: int = 64


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the command line."""
    p = argparse.ArgumentParser(
        prog="python -m eurosat.classify",
        description="Classify every whole 64×64 tile of a GeoTIFF into EuroSAT land-cover classes.",
    )
    p.add_argument("scene", type=Path, nargs="?",
                   help="GeoTIFF: 8-bit RGB or 16-bit Sentinel-2 DN (or use --stac)")
    p.add_argument("--out", type=Path, required=True,
                   help="class-map Cloud-Optimised GeoTIFF to write (one value per cell; a .qml style "
                   "beside it)")
    p.add_argument("--stride", type=int, choices=STRIDES, default=TILE_SIZE,
                   help="pixels between 64×64 windows, and cell size: 64 (tiles), 32 or 16 (finer cells, "
                   "each blending the windows covering it; about 4× or 16× the model work); default 64")
    p.add_argument("--centre-weight", action="store_true",
                   help="count a cell more in the windows it lies near the centre of (default: a "
                   "cell's windows count equally, which scored as well or better on mosaics: "
                   "benchmarks/finer_maps.py)")
    p.add_argument("--probs", type=Path, help="also write the class probabilities: a 10-band uint8 COG")
    p.add_argument("--stac-item", type=Path, help="also write a STAC item (JSON) describing the outputs")
    p.add_argument("--bbox", type=float, nargs=4, metavar=("W", "S", "E", "N"),
                   help="classify only the whole tiles inside this lon/lat rectangle (degrees)")
    stac = p.add_argument_group("STAC source (Sentinel-2 for the rectangle, fetched over HTTP)")
    stac.add_argument("--stac", metavar="URL",
                      help="STAC API root, e.g. https://earth-search.aws.element84.com/v1 or "
                      "https://planetarycomputer.microsoft.com/api/stac/v1 (needs --bbox)")
    stac.add_argument("--collection", action="append", metavar="ID",
                      help="collection to search; repeat to give fallbacks in order "
                      "(default: the catalogue's, L1C first where it has one)")
    stac.add_argument("--date", metavar="START/END", help="date range, e.g. 2023-05-01/2023-09-30 "
                      "(default: the last 365 days)")
    stac.add_argument("--max-cloud", type=float, default=DEFAULT_MAX_CLOUD, metavar="PCT",
                      help=f"leave out items cloudier than this (default {DEFAULT_MAX_CLOUD:g})")
    stac.add_argument("--cache-dir", type=Path,
                      help="where fetched windows are cached (default ~/.cache/eurosat/stac)")
    stac.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                      help=f"seconds to wait for the catalogue and each file (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--geojson", type=Path, help="also write cell polygons with class and probabilities")
    p.add_argument("--csv", type=Path, help="also write one CSV row per cell")
    p.add_argument("--bands", type=int, nargs=3, metavar=("R", "G", "B"),
                   help="1-based red, green, blue bands (default: from band descriptions, e.g. B4 B3 B2)")
    offset = p.add_mutually_exclusive_group()
    offset.add_argument("--offset", dest="offset", action="store_true", default=None,
                        help="16-bit input carries the +1000 DN offset (processing baseline >= 04.00)")
    offset.add_argument("--no-offset", dest="offset", action="store_false", help="16-bit input has no offset")
    honest = p.add_argument_group("cloud, no data and uncertain tiles (codes 253 and 254)")
    honest.add_argument("--min-clear", type=float, default=None, metavar="F",
                        help="a tile needs at least this fraction of clear pixels to be land, else 253 "
                        f"(default {DEFAULT_MIN_CLEAR:g})")
    honest.add_argument("--min-probability", type=float, default=None, metavar="P",
                        help="a tile whose calibrated top-1 probability is lower is 254 uncertain "
                        "(default: the model's own, chosen on its validation split)")
    honest.add_argument("--no-cloud-tests", action="store_true",
                        help="no visible-band cloud/shadow tests (no-data masks and SCL still apply)")
    honest.add_argument("--scl-band", type=int, metavar="N",
                        help="1-based band holding the Sentinel-2 L2A SCL classes (default: a band "
                        "described as SCL)")
    p.add_argument("--model", type=Path, help="a .tflite model (default: the app's active model)")
    p.add_argument("--int8", action="store_true", help="use the full-int8 model of the active model")
    p.add_argument("--threads", type=int, default=2, help="LiteRT CPU threads (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 on a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.scene is None) == (args.stac is None):
        parser.error("give a SCENE file or --stac URL (one of them)")
    if args.stac and args.bbox is None:
        parser.error("--stac needs --bbox W S E N")
    for name in ("min_clear", "min_probability"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 1")
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
    from eurosat.masks import DEFAULT_TESTS
    from eurosat.registry import model_for_command
    from eurosat.sources import LocalGeoTIFF, classify_imagery
    from eurosat.tiling import classify_scene

    bbox: BBox | None = (args.bbox[0], args.bbox[1], args.bbox[2], args.bbox[3]) if args.bbox else None
    meta = None
    if args.stac:
        from eurosat.stac import StacSource

        print(f"searching {args.stac} for {bbox} ...", file=sys.stderr)
        imagery = StacSource(args.stac, args.collection, args.date, args.max_cloud, args.cache_dir,
                             args.timeout).fetch(args.bbox)
        scene, meta = imagery.path, imagery.meta
        print(meta.caption(), file=sys.stderr)
        for warning in meta.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    else:
        scene = args.scene
    info = inspect_scene(scene)
    default = info.default_spec()
    spec = BandSpec(
        tuple(args.bands) if args.bands else default.bands,
        default.offset if args.offset is None else (args.offset and info.is_dn),
        args.scl_band if args.scl_band is not None else default.scl_band,
    )
    model, rule, provenance = model_for_command(args.model, args.int8)
    clf = TFLiteClassifier(model, num_threads=args.threads)
    thresholds = with_overrides(rule, args.min_clear, args.min_probability)
    provenance["cloud_tests"] = "off" if args.no_cloud_tests else "visible-band tests"
    tests = None if args.no_cloud_tests else DEFAULT_TESTS
    n_rows, n_cols = window_grid_shape(info.height, info.width, args.stride)
    unit = "tiles" if args.stride == TILE_SIZE else f"windows at stride {args.stride}"
    print(f"{info.name}: {info.width}×{info.height} px, {info.count} bands {info.dtype}, {info.crs_name}, "
          f"{n_rows * n_cols:,} {unit}{' (classifying those inside --bbox)' if bbox else ''}; "
          f"bands {spec.bands}, offset {'-1000 DN' if spec.offset else 'none'}; model {Path(model).name}; "
          f"masks {'SCL band ' + str(spec.scl_band) if spec.scl_band else provenance['cloud_tests']}; "
          f"land needs ≥ {thresholds.min_clear:.0%} clear pixels and p ≥ {thresholds.min_probability:.2f}",
          file=sys.stderr)
    if not info.pixel_size_ok:
        print(f"warning: pixel size is {info.pixel_size_m:.1f} m; the model was trained on 10 m Sentinel-2 "
              "pixels, so results may be unreliable", file=sys.stderr)
    t0 = time.perf_counter()
    with tqdm(total=n_rows * n_cols, unit="window", disable=args.quiet, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total  # an area: fewer tiles than the scene
            bar.update(done - bar.n)

        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            if bbox is None:
                result = classify_scene(scene, clf, spec, keep_tiles=False, progress=progress,
                                        thresholds=thresholds, tests=tests,
                                        provenance={"imagery": info.name, **provenance},
                                        stride=args.stride, centre=args.centre_weight)
            else:
                imagery = LocalGeoTIFF(scene, spec).fetch(bbox)
                if meta is not None:  # fetched from STAC: its items, dates and offsets
                    imagery = replace(imagery, meta=meta)
                result = classify_imagery(imagery, bbox, clf, max_tiles=sys.maxsize, keep_tiles=False,
                                          progress=progress,
                                          thresholds=thresholds, tests=tests, provenance=provenance,
                                          stride=args.stride, centre=args.centre_weight)
    seconds = time.perf_counter() - t0
    for suffix_path in (args.out, args.geojson, args.csv, args.probs, args.stac_item):
        if suffix_path is not None:
            suffix_path.parent.mkdir(parents=True, exist_ok=True)
    exports.write_geotiff(result, args.out)
    style = exports.write_qml(args.out)
    written = [str(args.out), str(style)]
    if args.probs:
        written.append(str(exports.write_probabilities(result, args.probs)))
    if args.geojson:
        written.append(str(exports.write_geojson(result, args.geojson)))
    if args.csv:
        written.append(str(exports.write_csv(result, args.csv)))
    if args.stac_item:
        from eurosat.stac_item import build_item, write_item

        item = build_item(result, args.stac_item, args.out, args.probs, args.geojson, args.csv, style)
        written.append(str(write_item(item, args.stac_item)))
    dominant = result.dominant_class or "none (no tile is clear, confident land)"
    print(f"{result.n_tiles:,} {result.unit}s of {result.cell} px in {seconds:.1f} s "
          f"({result.n_tiles / seconds:,.0f} {result.unit}s/s); "
          f"dominant class of the classified land: {dominant}")
    status = result.status_summary()
    print("  ".join(f"{row['status']}: {row['share']:.1%} ({row['tiles']:,} tiles, {row['area_km2']:.2f} km²)"
                    for _, row in status.iterrows()))
    if result.n_land:
        print(result.summary().drop(columns="color").rename(columns={"share": "share_of_land"}).to_string(
            index=False, formatters={"share_of_land": "{:.1%}".format, "area_km2": "{:.2f}".format}))
    print("wrote " + ", ".join(written))
    print(meta.attribution if meta is not None else info.attribution)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
