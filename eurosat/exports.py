"""GIS exports of a classified area: class-map GeoTIFF, GeoJSON of tile polygons, CSV.

Each comes as bytes (page downloads) and as a file writer (command line). The GeoJSON and
CSV writers stream feature by feature, so a large scene never holds its whole text in memory.

* GeoTIFF: one uint8 cell per 64×64 tile, in the scene CRS, cell value = class index into
  :data:`eurosat.classes.CLASS_NAMES`, ``255`` (nodata) where no tile was classified, with a
  colour table and ``CLASS_<i>`` tags naming the classes.
* GeoJSON (RFC 7946): EPSG:4326 lon/lat Polygon per tile with properties ``row``, ``col``,
  ``class``, ``class_index``, ``confidence``, ``area_km2`` and ``p_<Class>`` for each class.
* CSV: the same properties plus the tile centre ``lon``, ``lat``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import rasterio
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from eurosat.classes import CLASS_COLORS, CLASS_NAMES, hex_to_rgb
from eurosat.tiling import AreaResult

NODATA: int = 255
PROB_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASS_NAMES)
_DECIMALS_PROB = 5
_DECIMALS_COORD = 7


def colormap() -> dict[int, tuple[int, int, int, int]]:
    """GeoTIFF colour table: class index -> RGBA, nodata transparent."""
    cmap = {i: (*hex_to_rgb(CLASS_COLORS[c]), 255) for i, c in enumerate(CLASS_NAMES)}
    cmap[NODATA] = (0, 0, 0, 0)
    return cmap


def _geotiff_profile(result: AreaResult) -> dict:
    grid = result.class_grid(NODATA)
    return {
        "driver": "GTiff", "dtype": "uint8", "count": 1, "height": grid.shape[0], "width": grid.shape[1],
        "crs": CRS.from_wkt(result.crs_wkt), "transform": result.grid_transform(), "nodata": NODATA,
        "compress": "deflate",
    }


def _fill_geotiff(dst: rasterio.io.DatasetWriter, result: AreaResult) -> None:
    dst.write(result.class_grid(NODATA), 1)
    dst.write_colormap(1, colormap())
    dst.set_band_description(1, "land-cover class index (CLASS_<i> tags); 255 = not classified")
    dst.update_tags(
        SOURCE_SCENE=result.scene_name,
        TILE_SIZE_PX="64",
        **{f"CLASS_{i}": name for i, name in enumerate(CLASS_NAMES)},
    )


def write_geotiff(result: AreaResult, path: str | Path) -> Path:
    """Write the class map as a GeoTIFF file (see module doc)."""
    path = Path(path)
    with rasterio.open(path, "w", **_geotiff_profile(result)) as dst:
        _fill_geotiff(dst, result)
    return path


def geotiff_bytes(result: AreaResult) -> bytes:
    """The class-map GeoTIFF as bytes (for a download button)."""
    with MemoryFile() as mem:
        with mem.open(**_geotiff_profile(result)) as dst:
            _fill_geotiff(dst, result)
        return mem.read()


def _properties(result: AreaResult, i: int, labels, conf) -> dict:
    k = int(labels[i])
    props = {
        "row": int(result.rows[i]),
        "col": int(result.cols[i]),
        "class": CLASS_NAMES[k],
        "class_index": k,
        "confidence": round(float(conf[i]), _DECIMALS_PROB),
        "area_km2": round(float(result.areas_km2[i]), 6),
    }
    probs = zip(PROB_COLUMNS, result.probs[i], strict=True)
    props.update({col: round(float(p), _DECIMALS_PROB) for col, p in probs})
    return props


def geojson_features(result: AreaResult) -> Iterator[dict]:
    """One GeoJSON Feature per tile: lon/lat Polygon (counter-clockwise, closed) and properties."""
    labels, conf = result.labels, result.confidence
    for i in range(result.n_tiles):
        ring = [[round(float(x), _DECIMALS_COORD), round(float(y), _DECIMALS_COORD)]
                for x, y in result.footprints[i]]
        ring.append(ring[0])
        yield {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": _properties(result, i, labels, conf),
        }


def _write_geojson(result: AreaResult, out: IO[str]) -> None:
    out.write('{"type": "FeatureCollection", "features": [\n')
    for i, feature in enumerate(geojson_features(result)):
        out.write((",\n" if i else "") + json.dumps(feature, separators=(",", ":")))
    out.write("\n]}\n")


def write_geojson(result: AreaResult, path: str | Path) -> Path:
    """Write the tile polygons as GeoJSON (streamed)."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as out:
        _write_geojson(result, out)
    return path


def geojson_bytes(result: AreaResult) -> bytes:
    """The tile polygons as GeoJSON bytes."""
    out = io.StringIO()
    _write_geojson(result, out)
    return out.getvalue().encode("utf-8")


CSV_COLUMNS: tuple[str, ...] = ("row", "col", "lon", "lat", "class", "class_index", "confidence", "area_km2",
                                *PROB_COLUMNS)


def _write_csv(result: AreaResult, out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    labels, conf, centers = result.labels, result.confidence, result.centers
    for i in range(result.n_tiles):
        row = _properties(result, i, labels, conf)
        row["lon"] = round(float(centers[i, 0]), _DECIMALS_COORD)
        row["lat"] = round(float(centers[i, 1]), _DECIMALS_COORD)
        writer.writerow(row)


def write_csv(result: AreaResult, path: str | Path) -> Path:
    """Write one CSV row per tile (streamed)."""
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as out:
        _write_csv(result, out)
    return path


def csv_bytes(result: AreaResult) -> bytes:
    """The per-tile table as CSV bytes."""
    out = io.StringIO()
    _write_csv(result, out)
    return out.getvalue().encode("utf-8")
