"""Land-cover change between two dates: the same tiles classified twice, compared honestly.

    python -m eurosat.change BEFORE.tif AFTER.tif --out change.tif [--matrix matrix.csv]
        [--geojson changed.geojson] [--bbox W S E N] [--min-gain 0.3]

1. AFTER is put on BEFORE's pixel grid (:func:`align_to`: ``rasterio.warp.reproject``, bilinear for
   the bands, nearest for an SCL band; another CRS or a sub-tile shift between the acquisitions is
   absorbed here), so both dates have the same 64×64 tiles.
2. Both are classified with the same model, masks and rule (:mod:`eurosat.tiling`).
3. Per tile: **not comparable** when either date is cloud / no data or uncertain; **changed** when
   both are land, the classes differ, the new class's probability rose by at least ``min_gain``, and
   the tile's colour really changed: its **spectral change** (:func:`spectral_change`, the distance
   between the per-band means and standard deviations of the two dates after a relative radiometric
   normalisation fitted over the whole area) is at least ``min_spectral`` (:class:`ChangeRule`).
   A classifier flips classes on some tiles when only the light changed (another day, haze, a gain);
   the colour test catches that, as change-vector analysis does. Else **unchanged**.

Outputs: a 3-band uint8 GeoTIFF on BEFORE's tile grid (band 1 class before, band 2 class after:
0-9, 253 cloud / no data, 254 uncertain, 255 not classified; band 3: 1 changed, 0 unchanged, 255
not comparable), a from→to matrix in km² (CSV), and the changed tiles as GeoJSON.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from eurosat.classes import CLASS_NAMES, NUM_CLASSES, TILE_SIZE
from eurosat.decision import NOT_CLASSIFIED_CODE, Thresholds, with_overrides
from eurosat.errors import EuroSATError, GeoError
from eurosat.geo import LONLAT, BandSpec, BBox, ground_pixel_size, lonlat_bounds, open_raster, validate
from eurosat.masks import DEFAULT_TESTS, RGBTests
from eurosat.tiling import AreaResult, Classifier, classify_area, classify_scene, spec_for

#: Defaults of :class:`ChangeRule`, chosen in ``benchmarks/change_rates.py`` on the real scene against a
#: radiometrically different, shifted copy with known edits (false change ≤ 2 % at the best recall).
DEFAULT_MIN_GAIN: float = 0.3
DEFAULT_MIN_SPECTRAL: float = 5.0
CHANGED, UNCHANGED, NOT_COMPARABLE = 1, 0, 255
#: Largest share of no-data pixels a tile may have on either date to be compared.
MAX_NODATA_FOR_CHANGE: float = 0.02
#: Pixel sizes of the two dates may differ by at most this factor.
MAX_PIXEL_RATIO = 1.5


@dataclass(frozen=True)
class ChangeRule:
    """A tile changed when both dates are land, the classes differ, p(new class) rose ≥ ``min_gain`` and
    its spectral change is ≥ ``min_spectral`` (0-255 units of the EuroSAT scale)."""

    min_gain: float = DEFAULT_MIN_GAIN
    min_spectral: float = DEFAULT_MIN_SPECTRAL


@dataclass
class ChangeResult:
    """Two classifications of the same tiles (``before``'s grid) and the change between them."""

    before: AreaResult
    after: AreaResult
    rule: ChangeRule = field(default_factory=ChangeRule)
    #: float (N,) :func:`spectral_change` per tile; None: not measured (the colour test is skipped)
    spectral: np.ndarray | None = None

    @property
    def comparable(self) -> np.ndarray:
        """Both dates clear, confident land, and (nearly) wholly covered: bool (N,).

        A tile one date covers only in part (at a scene edge, a masked hole) is not comparable even when
        its clear share passes the map's rule: its missing pixels alone would change its colour.
        """
        covered = ((self.before.tile_quality.nodata <= MAX_NODATA_FOR_CHANGE)
                   & (self.after.tile_quality.nodata <= MAX_NODATA_FOR_CHANGE))
        return self.before.is_land & self.after.is_land & covered

    @property
    def gain(self) -> np.ndarray:
        """Rise of the after-class's probability from before to after: float (N,)."""
        i = np.arange(self.before.n_tiles)
        new = self.after.labels
        return self.after.probs[i, new] - self.before.probs[i, new]

    @property
    def changed(self) -> np.ndarray:
        """Comparable tiles whose class changed by the rule: bool (N,)."""
        out = self.comparable & (self.before.labels != self.after.labels) & (self.gain >= self.rule.min_gain)
        if self.spectral is not None:
            out &= self.spectral >= self.rule.min_spectral
        return out

    @property
    def change_codes(self) -> np.ndarray:
        """1 changed, 0 unchanged, 255 not comparable: uint8 (N,)."""
        out = np.full(self.before.n_tiles, NOT_COMPARABLE, np.uint8)
        out[self.comparable] = UNCHANGED
        out[self.changed] = CHANGED
        return out

    def matrix_km2(self) -> pd.DataFrame:
        """From→to area (km²) over the comparable tiles: rows before, columns after (10 × 10).

        Only tiles that count as changed leave the diagonal; a comparable tile whose classes differ
        by less than the rule counts as unchanged, on its before class.
        """
        comp = self.comparable
        before = self.before.labels[comp]
        after = np.where(self.changed[comp], self.after.labels[comp], before)
        m = np.zeros((NUM_CLASSES, NUM_CLASSES))
        np.add.at(m, (before, after), self.before.areas_km2[comp])
        return pd.DataFrame(m, index=list(CLASS_NAMES), columns=list(CLASS_NAMES))

    def summary(self) -> dict:
        """Tiles and km²: all, comparable, changed; shares of the area."""
        area = self.before.areas_km2
        comp, ch = self.comparable, self.changed
        return {"tiles": int(self.before.n_tiles), "area_km2": round(float(area.sum()), 4),
                "comparable_tiles": int(comp.sum()), "comparable_km2": round(float(area[comp].sum()), 4),
                "comparable_share": round(float(comp.mean()) if len(comp) else 0.0, 4),
                "changed_tiles": int(ch.sum()), "changed_km2": round(float(area[ch].sum()), 4),
                "changed_share_of_comparable": round(float(ch.sum() / max(1, comp.sum())), 4),
                "min_gain": self.rule.min_gain, "min_spectral": self.rule.min_spectral}

    def flows(self) -> pd.DataFrame:
        """The off-diagonal flows of :meth:`matrix_km2`: from, to, km², tiles; largest first."""
        ch = self.changed
        rows = []
        for a, b in sorted(set(zip(self.before.labels[ch].tolist(), self.after.labels[ch].tolist(),
                                   strict=True))):
            sel = ch & (self.before.labels == a) & (self.after.labels == b)
            rows.append({"from": CLASS_NAMES[a], "to": CLASS_NAMES[b], "tiles": int(sel.sum()),
                         "area_km2": float(self.before.areas_km2[sel].sum())})
        df = pd.DataFrame(rows, columns=["from", "to", "tiles", "area_km2"])
        return df.sort_values("area_km2", ascending=False).reset_index(drop=True)


# --------------------------------------------------------------------------- spectral change


def tile_statistics(tiles: np.ndarray) -> np.ndarray:
    """Per-tile mean and standard deviation of each band: float64 (N, 6) from uint8 (N, 64, 64, 3)."""
    x = tiles.reshape(len(tiles), -1, 3).astype(np.float64)
    return np.concatenate([x.mean(axis=1), x.std(axis=1)], axis=1)


def spectral_change(before: np.ndarray, after: np.ndarray, fit_on: np.ndarray) -> np.ndarray:
    """Colour change of each tile between two dates, after a relative radiometric normalisation.

    Per band, ``after ≈ a·before + b`` is fitted by least squares on the tile means of ``fit_on``
    tiles, once more without the tiles more than 3 MADs off (real change must not bend the fit); the
    after date is mapped back with it. The change is the Euclidean distance between the normalised
    (mean, std) vectors of the three bands, in 0-255 units.

    Args:
        before, after: (N, 6) :func:`tile_statistics` of the same tiles.
        fit_on: bool (N,) tiles usable for the fit (both dates clear land).

    Returns:
        float (N,); zeros where no fit is possible (fewer than 3 usable tiles).
    """
    if fit_on.sum() < 3:
        return np.zeros(len(before))
    norm = np.empty_like(after)
    for band in range(3):
        xb, xa = before[fit_on, band], after[fit_on, band]
        keep = np.ones(len(xb), bool)
        for _ in range(2):
            a, b = np.polyfit(xb[keep], xa[keep], 1) if keep.sum() >= 3 else (1.0, 0.0)
            res = xa - (a * xb + b)
            mad = np.median(np.abs(res - np.median(res))) + 1e-9
            keep = np.abs(res) <= 3 * 1.4826 * mad
        a = a if abs(a) > 1e-6 else 1.0
        norm[:, band] = (after[:, band] - b) / a
        norm[:, 3 + band] = after[:, 3 + band] / abs(a)
    return np.sqrt(((norm - before) ** 2).sum(axis=1))


# --------------------------------------------------------------------------- alignment


def check_pair(before: Path, after: Path) -> None:
    """Refuse a pair that cannot be compared: no overlap, overlap under one tile, pixel sizes apart.

    Raises:
        GeoError: with what is wrong.
    """
    with open_raster(before) as a, open_raster(after) as b:
        validate(a)
        validate(b)
        wa, sa, ea, na = lonlat_bounds(a)
        wb, sb, eb, nb = lonlat_bounds(b)
        w, s, e, n = max(wa, wb), max(sa, sb), min(ea, eb), min(na, nb)
        if w >= e or s >= n:
            raise GeoError(f"The two scenes do not overlap: '{before.name}' covers ({wa:.4f}, {sa:.4f}) – "
                           f"({ea:.4f}, {na:.4f}) and '{after.name}' ({wb:.4f}, {sb:.4f}) – "
                           f"({eb:.4f}, {nb:.4f}).")
        left, bottom, right, top = transform_bounds(LONLAT, a.crs, w, s, e, n, densify_pts=21)
        size = TILE_SIZE * abs(a.transform.a)
        if right - left < size or top - bottom < size:
            raise GeoError(f"The two scenes overlap by less than one {TILE_SIZE}×{TILE_SIZE}-pixel tile "
                           f"({right - left:.0f} × {top - bottom:.0f} in {a.crs.to_string()} units); nothing "
                           "can be compared.")
        pa = ground_pixel_size(a.crs, a.transform, a.width, a.height)
        pb = ground_pixel_size(b.crs, b.transform, b.width, b.height)
        if max(pa, pb) / min(pa, pb) > MAX_PIXEL_RATIO:
            raise GeoError(f"The pixel sizes differ too much to compare ('{before.name}' {pa:.1f} m, "
                           f"'{after.name}' {pb:.1f} m): resample one to the other's resolution first.")


def align_to(before: Path, after: Path, out: Path, spec: BandSpec | None = None) -> tuple[Path, BandSpec]:
    """Write AFTER's red, green, blue (and SCL) bands on BEFORE's exact pixel grid.

    Bands are reprojected bilinearly from their own grid (any CRS, any sub-pixel shift), an SCL band
    by nearest neighbour; pixels AFTER does not cover are no data. Returns the file and its bands.
    """
    with open_raster(before) as a, open_raster(after) as b:
        spec = spec or spec_for(b, None)
        bands = list(spec.bands) + ([spec.scl_band] if spec.scl_band else [])
        nodata = b.nodata if b.nodata is not None else 0
        profile = {"driver": "GTiff", "width": a.width, "height": a.height, "count": len(bands),
                   "dtype": b.dtypes[0], "crs": a.crs, "transform": a.transform, "nodata": nodata,
                   "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256}
        with rasterio.open(out, "w", **profile) as dst:
            for k, band in enumerate(bands, start=1):
                dest = np.full((a.height, a.width), nodata, dtype=b.dtypes[0])
                reproject(rasterio.band(b, band), dest, src_crs=b.crs, src_transform=b.transform,
                          src_nodata=nodata, dst_crs=a.crs, dst_transform=a.transform, dst_nodata=nodata,
                          resampling=Resampling.nearest if band == spec.scl_band else Resampling.bilinear)
                dst.write(dest, k)
            descriptions = ["red", "green", "blue"] + (["SCL"] if spec.scl_band else [])
            for k, d in enumerate(descriptions, start=1):
                dst.set_band_description(k, d)
            tags = b.tags()
            for key in ("RADIO_ADD_OFFSET", "BOA_ADD_OFFSET"):
                if key in tags:
                    dst.update_tags(**{key: tags[key]})
    return out, BandSpec((1, 2, 3), spec.offset, 4 if spec.scl_band else None)


def detect_change(
    before: str | Path,
    after: str | Path,
    classifier: Classifier,
    bbox: BBox | None = None,
    spec_before: BandSpec | None = None,
    spec_after: BandSpec | None = None,
    thresholds: Thresholds | None = None,
    tests: RGBTests | None = DEFAULT_TESTS,
    rule: ChangeRule | None = None,
    max_tiles: int | None = None,
    keep_tiles: bool = False,
    provenance: dict | None = None,
) -> ChangeResult:
    """Classify the same tiles of two dates and compare them (see the module docstring).

    Args:
        before, after: GeoTIFFs of the same area (any CRS, overlapping).
        classifier: the model (LiteRT) used for both.
        bbox: lon/lat rectangle (None: the whole of BEFORE).
        spec_before, spec_after: bands and offsets (None: as each file suggests).
        thresholds, tests: the land / cloud / uncertain rule and cloud tests, the same for both dates.
        rule: when a tile counts as changed.
        max_tiles: refuse larger areas (the page's limit; None: any).
        keep_tiles: keep the pixels of both dates in the result (they are read either way, for the colour
            test: about 24 KB a tile while it runs).
        provenance: recorded in both results.

    Raises:
        GeoError: a pair that cannot be compared, or a bad rectangle.
    """
    before, after = Path(before), Path(after)
    check_pair(before, after)
    with tempfile.TemporaryDirectory(prefix="eurosat_change_") as tmp:
        aligned, spec = align_to(before, after, Path(tmp) / "after_on_before_grid.tif", spec_after)

        def classify(path: Path, band_spec: BandSpec | None, name: str) -> AreaResult:
            facts = {**(provenance or {}), "imagery": name}
            if bbox is None:
                return classify_scene(path, classifier, band_spec, max_tiles, True,
                                      thresholds=thresholds, tests=tests, provenance=facts)
            return classify_area(path, bbox, classifier, band_spec, max_tiles or sys.maxsize,
                                 True, thresholds=thresholds, tests=tests, provenance=facts)

        a = classify(before, spec_before, before.name)
        b = classify(aligned, spec, after.name)
    b.scene_path = str(after)
    spectral = spectral_change(tile_statistics(a.tiles), tile_statistics(b.tiles), a.is_land & b.is_land)
    if not keep_tiles:  # the pixels were needed for the colour test only
        empty = np.zeros((0, TILE_SIZE, TILE_SIZE, 3), np.uint8)
        a.tiles, b.tiles = empty, empty.copy()
    return ChangeResult(a, b, rule or ChangeRule(), spectral)


# --------------------------------------------------------------------------- outputs


def change_grid(result: ChangeResult) -> np.ndarray:
    """uint8 (3, tile rows, tile cols) over BEFORE's tile bounds: codes before, codes after, change."""
    grid_b = result.before.class_grid(NOT_CLASSIFIED_CODE)
    grid_a = result.after.class_grid(NOT_CLASSIFIED_CODE)  # the same tiles, so the same grid
    r0, _, c0, _ = result.before.grid_bounds()
    grid_c = np.full_like(grid_b, NOT_COMPARABLE)
    grid_c[result.before.rows - r0, result.before.cols - c0] = result.change_codes
    return np.stack([grid_b, grid_a, grid_c])


def _write_change(dst, result: ChangeResult) -> None:
    from eurosat.exports import colormap, provenance_tags

    dst.write(change_grid(result))
    dst.write_colormap(1, colormap())
    dst.write_colormap(2, colormap())
    for k, text in enumerate(("class before: 0-9, 253 cloud / no data, 254 uncertain, 255 not classified",
                              "class after: 0-9, 253 cloud / no data, 254 uncertain, 255 not classified",
                              "change: 1 changed, 0 unchanged, 255 not comparable"), start=1):
        dst.set_band_description(k, text)
    tags = provenance_tags(result.before)
    tags.update(SOURCE_SCENE_BEFORE=Path(result.before.scene_path).name,
                SOURCE_SCENE_AFTER=Path(result.after.scene_path).name, MIN_GAIN=f"{result.rule.min_gain:g}",
                MIN_SPECTRAL_CHANGE=f"{result.rule.min_spectral:g}")
    tags.pop("SOURCE_SCENE", None)
    tags.pop("IMAGERY", None)
    dst.update_tags(**tags)


def write_change_geotiff(result: ChangeResult, path: str | Path) -> Path:
    """The 3-band change GeoTIFF on BEFORE's tile grid (see the module docstring)."""
    from eurosat.exports import tile_grid_profile, write_raster

    return write_raster(path, tile_grid_profile(result.before, 3), lambda dst: _write_change(dst, result))


def change_geotiff_bytes(result: ChangeResult) -> bytes:
    """The change GeoTIFF as bytes (page download)."""
    from eurosat.exports import raster_bytes, tile_grid_profile

    return raster_bytes(tile_grid_profile(result.before, 3), lambda dst: _write_change(dst, result))


def matrix_csv(result: ChangeResult) -> str:
    """The from→to matrix (km²) as CSV text: one row per class before, one column per class after."""
    out = io.StringIO()
    m = result.matrix_km2()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["from \\ to (km²)", *m.columns])
    for name, row in m.iterrows():
        writer.writerow([name, *(f"{v:.4f}" for v in row)])
    return out.getvalue()


def changed_geojson(result: ChangeResult) -> dict:
    """The changed tiles as a GeoJSON FeatureCollection (EPSG:4326) with before/after classes."""
    b, a = result.before, result.after
    feats = []
    gain = result.gain
    for i in np.flatnonzero(result.changed):
        ring = [[round(float(x), 7), round(float(y), 7)] for x, y in b.footprints[i]]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
                      "properties": {"row": int(b.rows[i]), "col": int(b.cols[i]),
                                     "before": CLASS_NAMES[int(b.labels[i])],
                                     "after": CLASS_NAMES[int(a.labels[i])],
                                     "p_before": round(float(b.confidence[i]), 4),
                                     "p_after": round(float(a.confidence[i]), 4),
                                     "gain": round(float(gain[i]), 4),
                                     "spectral_change": None if result.spectral is None
                                     else round(float(result.spectral[i]), 2),
                                     "area_km2": round(float(b.areas_km2[i]), 6)}})
    return {"type": "FeatureCollection", "min_gain": result.rule.min_gain,
            "min_spectral": result.rule.min_spectral, "features": feats}


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m eurosat.change``."""
    p = argparse.ArgumentParser(prog="python -m eurosat.change",
                                description="Land-cover change between two GeoTIFFs of the same area.")
    p.add_argument("before", type=Path, nargs="?", help="GeoTIFF of the first date")
    p.add_argument("after", type=Path, nargs="?", help="GeoTIFF of the second date")
    p.add_argument("--out", type=Path, required=True, help="3-band change GeoTIFF (before, after, change)")
    p.add_argument("--matrix", type=Path, help="from→to matrix in km² (CSV)")
    p.add_argument("--geojson", type=Path, help="changed tiles (GeoJSON)")
    p.add_argument("--bbox", type=float, nargs=4, metavar=("W", "S", "E", "N"), help="lon/lat rectangle")
    p.add_argument("--stride", type=int, default=64, choices=[64],
                   help="window stride in pixels (64: one cell per tile; finer strides are not built yet)")
    p.add_argument("--min-gain", type=float, default=DEFAULT_MIN_GAIN,
                   help=f"the new class's probability must rise by this to count as change "
                   f"(default {DEFAULT_MIN_GAIN:g})")
    p.add_argument("--min-spectral", type=float, default=DEFAULT_MIN_SPECTRAL,
                   help="the tile's colour (band means and spreads, after radiometric normalisation) must "
                   f"change by this much, 0-255 units (default {DEFAULT_MIN_SPECTRAL:g}; 0: off)")
    p.add_argument("--min-clear", type=float, default=None, help="land needs this clear fraction")
    p.add_argument("--min-probability", type=float, default=None, help="land needs this calibrated p")
    p.add_argument("--no-cloud-tests", action="store_true", help="no visible-band cloud/shadow tests")
    stac = p.add_argument_group("STAC: both dates fetched for --bbox")
    stac.add_argument("--stac", metavar="URL", help="STAC API root (then give --date twice, and --bbox)")
    stac.add_argument("--date", action="append", metavar="START/END", help="date range, once per date")
    stac.add_argument("--collection", action="append", metavar="ID", help="collection(s) to search")
    stac.add_argument("--max-cloud", type=float, default=None, metavar="PCT")
    stac.add_argument("--cache-dir", type=Path)
    p.add_argument("--model", type=Path, help="a .tflite model (default: the app's active model)")
    p.add_argument("--threads", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; 0 on success, 2 on a user error (one clear line)."""
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.stac:
        if a.bbox is None or not a.date or len(a.date) != 2:
            parser.error("--stac needs --bbox W S E N and --date twice (one range per date)")
    elif a.before is None or a.after is None:
        parser.error("give BEFORE and AFTER GeoTIFFs (or --stac URL with two --date)")
    if not 0 <= a.min_gain <= 1:
        parser.error("--min-gain must be between 0 and 1")
    try:
        return _run(a)
    except (EuroSATError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(a: argparse.Namespace) -> int:
    from eurosat.classify import GDAL_CACHE_MB
    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import model_for_command

    bbox: BBox | None = (a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3]) if a.bbox else None
    before, after = a.before, a.after
    if a.stac and bbox is not None:
        from eurosat.stac import DEFAULT_MAX_CLOUD, StacSource

        paths = []
        for dates in a.date:
            imagery = StacSource(a.stac, a.collection, dates, a.max_cloud if a.max_cloud is not None
                                 else DEFAULT_MAX_CLOUD, a.cache_dir).fetch(bbox)
            print(imagery.meta.caption(), file=sys.stderr)
            paths.append(Path(imagery.path))
        before, after = paths
    model, rule, provenance = model_for_command(a.model)
    thresholds = with_overrides(rule, a.min_clear, a.min_probability)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        result = detect_change(before, after, TFLiteClassifier(model, num_threads=a.threads), bbox,
                               thresholds=thresholds, tests=None if a.no_cloud_tests else DEFAULT_TESTS,
                               rule=ChangeRule(a.min_gain, a.min_spectral), provenance=provenance)
    for path in (a.out, a.matrix, a.geojson):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    write_change_geotiff(result, a.out)
    written = [str(a.out)]
    if a.matrix:
        a.matrix.write_text(matrix_csv(result))
        written.append(str(a.matrix))
    if a.geojson:
        a.geojson.write_text(json.dumps(changed_geojson(result)))
        written.append(str(a.geojson))
    s = result.summary()
    print(f"{s['tiles']:,} tiles ({s['area_km2']:.2f} km²): {s['comparable_share']:.1%} comparable "
          f"({s['comparable_km2']:.2f} km²), {s['changed_tiles']:,} changed ({s['changed_km2']:.2f} km², "
          f"{s['changed_share_of_comparable']:.1%} of the comparable area; min gain {s['min_gain']:g}, "
          f"min spectral change {s['min_spectral']:g})")
    flows = result.flows()
    if len(flows):
        print(flows.to_string(index=False, formatters={"area_km2": "{:.2f}".format}))
    print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
