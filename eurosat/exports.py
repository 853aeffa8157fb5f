"""GIS exports of a classified area: class-map COG, probability raster, QGIS style, GeoJSON, CSV.

Each comes as bytes (page downloads) and as a file writer (command line). The GeoJSON and
CSV writers stream feature by feature, so a large scene never holds its whole text in memory.

* Class map: a Cloud-Optimised GeoTIFF (GDAL's COG driver: 256 × 256 internal tiles, deflate,
  overviews made with *mode* resampling so a zoomed-out view keeps real codes), one uint8 value
  per cell (stride × stride pixels; a 64×64 tile at stride 64), in the scene CRS: codes **0-9**
  the class index into :data:`eurosat.classes.CLASS_NAMES`, **253** cloud / no data, **254**
  uncertain, **255** (nodata) not classified; colour table, ``CLASS_<i>`` / ``CODE_<n>`` tags
  naming the codes, and provenance tags (model file and SHA-256, calibration temperature,
  thresholds, mask source, stride and blend, imagery facts).
* Probability raster (COG): 10 uint8 bands, one per class (band description = class name, as
  Dynamic World), the calibrated probabilities scaled so each cell's bands sum to exactly 255;
  cells not classified are masked (internal mask band).
* QGIS style (``.qml`` beside the class map, same stem): a paletted renderer with the class
  colours and names, so QGIS opens the map styled.
* GeoJSON (RFC 7946): EPSG:4326 lon/lat Polygon per tile with properties ``row``, ``col``,
  ``status`` (land / cloud / uncertain), ``code``, ``class`` (the shown label), ``model_class``
  (the model's top class, whatever the status), ``class_index``, ``confidence`` (calibrated top-1
  probability), ``clear_fraction``, ``cloud_fraction``, ``shadow_fraction``, ``nodata_fraction``,
  ``area_km2`` and ``p_<Class>`` (calibrated) for each class; the provenance as a top-level member.
* CSV: the same properties plus the tile centre ``lon``, ``lat``.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from xml.etree import ElementTree as ET

import numpy as np
import rasterio
import rasterio.errors
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.io import MemoryFile

from eurosat.classes import CLASS_NAMES, hex_to_rgb
from eurosat.decision import (
    CLOUD_CODE,
    NOT_CLASSIFIED_CODE,
    UNCERTAIN_CODE,
    code_color,
    code_label,
    code_status,
)
from eurosat.tiling import AreaResult

NODATA: int = NOT_CLASSIFIED_CODE
PROB_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASS_NAMES)
_DECIMALS_PROB = 5
_DECIMALS_COORD = 7
#: Internal tile size of the COG outputs (pixels).
COG_BLOCK: int = 256
#: Overviews are made until the smaller side is at most this (pixels); grids this small get none.
MIN_OVERVIEW_SIDE: int = 32


def colormap() -> dict[int, tuple[int, int, int, int]]:
    """GeoTIFF colour table: class index -> RGBA, nodata transparent."""
    codes = (*range(len(CLASS_NAMES)), CLOUD_CODE, UNCERTAIN_CODE)
    cmap = {c: (*hex_to_rgb(code_color(c)), 255) for c in codes}
    cmap[NODATA] = (0, 0, 0, 0)
    return cmap


def provenance_tags(result: AreaResult) -> dict[str, str]:
    """GeoTIFF tags: the code names and where the map came from (model, calibration, rule, masks)."""
    tags = {"SOURCE_SCENE": result.scene_name, "TILE_SIZE_PX": "64", "CELL_SIZE_PX": str(result.cell),
            **{f"CLASS_{i}": name for i, name in enumerate(CLASS_NAMES)},
            **{f"CODE_{c}": code_label(c) for c in (CLOUD_CODE, UNCERTAIN_CODE, NODATA)},
            "MIN_CLEAR_FRACTION": f"{result.thresholds.min_clear:g}",
            "MIN_PROBABILITY": f"{result.thresholds.min_probability:g}"}
    for key, value in sorted(result.provenance.items()):  # sorted: the same file from every path
        if value is not None and value != "":
            tags[key.upper()] = str(value)
    return tags


def tile_grid_profile(result: AreaResult, count: int = 1) -> dict:
    """GeoTIFF profile of ``count`` uint8 bands on a result's cell grid (stride × stride px, scene CRS)."""
    r0, r1, c0, c1 = result.grid_bounds()
    return {
        "driver": "GTiff", "dtype": "uint8", "count": count, "height": r1 - r0, "width": c1 - c0,
        "crs": CRS.from_wkt(result.crs_wkt), "transform": result.grid_transform(), "nodata": NODATA,
        "compress": "deflate",
    }


def write_raster(path: str | Path, profile: dict, fill: Callable[[rasterio.io.DatasetWriter], None]) -> Path:
    """Create a GeoTIFF with ``profile`` and let ``fill`` write its bands and tags."""
    path = Path(path)
    with rasterio.open(path, "w", **profile) as dst:
        fill(dst)
    return path


def raster_bytes(profile: dict, fill: Callable[[rasterio.io.DatasetWriter], None]) -> bytes:
    """:func:`write_raster` in memory: the file's bytes (for a download button)."""
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            fill(dst)
        return mem.read()


def overview_count(height: int, width: int, smallest: int = MIN_OVERVIEW_SIDE) -> int:
    """Overview levels (each half the last) until the smaller side is at most ``smallest``."""
    n, side = 0, min(height, width)
    while side > smallest:
        side = (side + 1) // 2
        n += 1
    return n


def _cog_options(profile: dict, resampling: str) -> dict:
    return {"driver": "COG", "COMPRESS": "DEFLATE", "BLOCKSIZE": COG_BLOCK, "RESAMPLING": resampling,
            "OVERVIEW_RESAMPLING": resampling, "OVERVIEWS": "IGNORE_EXISTING",
            "OVERVIEW_COUNT": overview_count(profile["height"], profile["width"])}


def write_cog(path: str | Path, profile: dict, fill: Callable[[rasterio.io.DatasetWriter], None],
              resampling: str = "MODE") -> Path:
    """Write a Cloud-Optimised GeoTIFF: ``fill`` writes a plain GeoTIFF in memory, GDAL's COG driver
    copies it with internal tiles and overviews (``resampling``: MODE for codes, AVERAGE for
    probabilities)."""
    path = Path(path)
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            fill(dst)
        with mem.open() as plain:
            try:
                rasterio.shutil.copy(plain, path, **_cog_options(profile, resampling))
            except (rasterio.errors.RasterioError, CPLE_BaseError) as exc:  # e.g. a folder, no permission
                raise OSError(f"'{path}' cannot be written ({exc}).") from exc
    return path


def cog_bytes(profile: dict, fill: Callable[[rasterio.io.DatasetWriter], None],
              resampling: str = "MODE") -> bytes:
    """:func:`write_cog` as bytes (for a download button)."""
    with tempfile.TemporaryDirectory(prefix="eurosat-cog-") as tmp:
        return write_cog(Path(tmp) / "out.tif", profile, fill, resampling).read_bytes()


def _fill_geotiff(dst: rasterio.io.DatasetWriter, result: AreaResult) -> None:
    dst.write(result.class_grid(NODATA), 1)
    dst.write_colormap(1, colormap())
    dst.set_band_description(1, "land-cover class 0-9 (CLASS_<i> tags); 253 cloud / no data; "
                                "254 uncertain; 255 not classified")
    dst.update_tags(**provenance_tags(result))


def write_geotiff(result: AreaResult, path: str | Path) -> Path:
    """Write the class map as a Cloud-Optimised GeoTIFF (see module doc)."""
    return write_cog(path, tile_grid_profile(result), lambda dst: _fill_geotiff(dst, result))


def geotiff_bytes(result: AreaResult) -> bytes:
    """The class-map COG as bytes (for a download button)."""
    return cog_bytes(tile_grid_profile(result), lambda dst: _fill_geotiff(dst, result))


def probabilities_uint8(probs: np.ndarray) -> np.ndarray:
    """Probabilities (..., 10) as uint8 that sum to exactly 255 per cell (largest remainder)."""
    p = np.clip(np.nan_to_num(np.asarray(probs, np.float64)), 0, None)
    total = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[-1]), where=total > 0) * 255.0
    out = np.floor(p)
    short = (255 - out.sum(axis=-1)).astype(np.int64)  # 0 .. 9 units to hand out
    order = np.argsort(-(p - out), axis=-1, kind="stable")
    ranks = np.argsort(order, axis=-1, kind="stable")  # rank of each band's remainder
    out += ranks < short[..., None]
    return out.astype(np.uint8)


def _fill_probabilities(dst: rasterio.io.DatasetWriter, result: AreaResult) -> None:
    grid = result.prob_grid()  # (10, H, W), NaN outside
    valid = ~np.isnan(grid[0])
    scaled = probabilities_uint8(np.moveaxis(grid, 0, -1))
    scaled[~valid] = 0
    dst.write(np.moveaxis(scaled, -1, 0))
    for band, name in enumerate(CLASS_NAMES, start=1):
        dst.set_band_description(band, name)
    dst.write_mask(np.where(valid, 255, 0).astype(np.uint8))
    dst.update_tags(**provenance_tags(result), SCALE="probability × 255 (the 10 bands sum to 255)")


def probabilities_profile(result: AreaResult) -> dict:
    """Profile of the 10-band probability raster (no nodata value: a mask band marks empty cells)."""
    profile = tile_grid_profile(result, count=len(CLASS_NAMES))
    profile.pop("nodata")
    return profile


def write_probabilities(result: AreaResult, path: str | Path) -> Path:
    """Write the probability raster as a COG (see module doc)."""
    return write_cog(path, probabilities_profile(result), lambda dst: _fill_probabilities(dst, result),
                     "AVERAGE")


def probabilities_bytes(result: AreaResult) -> bytes:
    """The probability COG as bytes."""
    return cog_bytes(probabilities_profile(result), lambda dst: _fill_probabilities(dst, result), "AVERAGE")


def qgis_style() -> str:
    """A QGIS layer style (``.qml``) for the class map: paletted, class colours and names."""
    qgis = ET.Element("qgis", version="3.28.0", styleCategories="AllStyleCategories")
    pipe = ET.SubElement(qgis, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1",
                             alphaBand="-1", nodataColor="")
    palette = ET.SubElement(renderer, "colorPalette")
    for code, (r, g, b, a) in colormap().items():
        if code == NODATA:
            continue
        ET.SubElement(palette, "paletteEntry", value=str(code), color=f"#{r:02x}{g:02x}{b:02x}",
                      alpha=str(a), label=code_label(code))
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0")
    ET.SubElement(qgis, "blendMode").text = "0"
    doctype = '<!DOCTYPE qgis PUBLIC "http://mrcc.com/qgis.dtd" "SYSTEM">'
    return doctype + "\n" + ET.tostring(qgis, "unicode") + "\n"


def qml_path(class_map: str | Path) -> Path:
    """Where the QGIS style of a class map goes: beside it, same stem (QGIS loads it by itself)."""
    return Path(class_map).with_suffix(".qml")


def write_qml(class_map: str | Path) -> Path:
    """Write the QGIS style beside a class map."""
    path = qml_path(class_map)
    path.write_text(qgis_style(), encoding="utf-8")
    return path


class _Columns:
    """The per-tile arrays the GeoJSON and CSV rows are made of, computed once per export."""

    def __init__(self, result: AreaResult):
        self.labels, self.conf, self.codes = result.labels, result.confidence, result.codes
        self.status = code_status(self.codes)
        self.quality = result.tile_quality


def _properties(result: AreaResult, i: int, cols: _Columns) -> dict:
    k, q = int(cols.labels[i]), cols.quality
    props = {
        "row": int(result.rows[i]),
        "col": int(result.cols[i]),
        "status": str(cols.status[i]),
        "code": int(cols.codes[i]),
        "class": code_label(int(cols.codes[i])),
        "model_class": CLASS_NAMES[k],
        "class_index": k,
        "confidence": round(float(cols.conf[i]), _DECIMALS_PROB),
        "clear_fraction": round(float(q.clear[i]), 4),
        "cloud_fraction": round(float(q.cloud[i]), 4),
        "shadow_fraction": round(float(q.shadow[i]), 4),
        "nodata_fraction": round(float(q.nodata[i]), 4),
        "area_km2": round(float(result.areas_km2[i]), 6),
    }
    probs = zip(PROB_COLUMNS, result.probs[i], strict=True)
    props.update({col: round(float(p), _DECIMALS_PROB) for col, p in probs})
    return props


def geojson_features(result: AreaResult) -> Iterator[dict]:
    """One GeoJSON Feature per tile: lon/lat Polygon (counter-clockwise, closed) and properties."""
    cols = _Columns(result)
    for i in range(result.n_tiles):
        ring = [[round(float(x), _DECIMALS_COORD), round(float(y), _DECIMALS_COORD)]
                for x, y in result.footprints[i]]
        ring.append(ring[0])
        yield {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": _properties(result, i, cols),
        }


def _write_geojson(result: AreaResult, out: IO[str]) -> None:
    provenance = {k.lower(): v for k, v in provenance_tags(result).items()}
    out.write('{"type": "FeatureCollection", "provenance": ' + json.dumps(provenance) + ', "features": [\n')
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


CSV_COLUMNS: tuple[str, ...] = ("row", "col", "lon", "lat", "status", "code", "class", "model_class",
                                "class_index", "confidence", "clear_fraction", "cloud_fraction",
                                "shadow_fraction", "nodata_fraction", "area_km2", *PROB_COLUMNS)


def _write_csv(result: AreaResult, out: IO[str]) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    cols, centers = _Columns(result), result.centers
    for i in range(result.n_tiles):
        row = _properties(result, i, cols)
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
