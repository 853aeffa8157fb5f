"""Imagery sources: where the pixels of a lon/lat rectangle come from, behind one interface.

An :class:`ImagerySource` turns a rectangle into an :class:`Imagery`: a georeferenced GeoTIFF the
existing tiling code reads (:func:`eurosat.tiling.classify_area`), the bands and offset to read it
with, and :class:`ImageryMeta` saying what it is (item ids, dates, cloud cover, attribution).

* :class:`LocalGeoTIFF` — a GeoTIFF on disk (the shipped scene or the user's file); works offline.
* :class:`eurosat.stac.StacSource` — Sentinel-2 searched in a STAC catalogue and read window by
  window over HTTP; the fetched window is written as a small uint8 GeoTIFF on the EuroSAT scale in
  a disk cache, so from there it takes exactly the local-file path (same tiles, same classes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from eurosat.classes import ATTRIBUTION, TILE_SIZE
from eurosat.decision import Thresholds
from eurosat.geo import (
    BandSpec,
    BBox,
    bbox_window,
    chw_to_hwc,
    inspect_scene,
    open_raster,
    to_eurosat_scale,
    validate,
)
from eurosat.masks import DEFAULT_TESTS, RGBTests
from eurosat.tiling import MAX_TILES_PER_AREA, AreaResult, Classifier, Progress, classify_area

#: GeoTIFF tag holding :class:`ImageryMeta` as JSON in files a source writes.
META_TAG = "EUROSAT_IMAGERY"


@dataclass(frozen=True)
class ItemInfo:
    """One STAC item used in a fetched image.

    Attributes:
        id: item id; collection: its collection.
        datetime: acquisition time (ISO 8601, UTC).
        cloud_cover: ``eo:cloud_cover`` in percent (None: the item does not say).
        level: ``L1C``, ``L2A`` or ``""`` (unknown).
        offset_dn: DN removed before scaling, per band (red, green, blue).
        offset_source: where that offset came from (metadata field, or the fallback rule).
    """

    id: str
    collection: str
    datetime: str
    cloud_cover: float | None
    level: str
    offset_dn: tuple[float, float, float]
    offset_source: str

    @property
    def date(self) -> str:
        """Acquisition date ``YYYY-MM-DD``."""
        return self.datetime[:10]

    def label(self) -> str:
        """e.g. ``S2A_33UUU_20230601_0_L1C (2023-06-01, cloud 5.0 %)``."""
        cloud = "cloud unknown" if self.cloud_cover is None else f"cloud {self.cloud_cover:.1f} %"
        return f"{self.id} ({self.date}, {cloud})"


@dataclass(frozen=True)
class ImageryMeta:
    """What an :class:`Imagery` is, for captions, the command line and the cache.

    Attributes:
        source: ``file`` or ``stac``.
        title: file name, or the id of the main item.
        attribution: the notice to show with the pixels.
        catalogue: STAC API URL ('' for a file); items: the items used, main (least cloudy) first.
        coverage: fraction (0-1) of the fetched grid with data.
        warnings: things the user should know (L2A radiometry, offset assumed, gaps...).
    """

    source: str
    title: str
    attribution: str = ATTRIBUTION
    catalogue: str = ""
    items: tuple[ItemInfo, ...] = ()
    coverage: float = 1.0
    warnings: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        """Processing level of the main item ('' for files or when unknown)."""
        return self.items[0].level if self.items else ""

    def provenance(self) -> dict:
        """Imagery facts for export tags: id, date, level, offset used, catalogue (where known)."""
        if not self.items:
            return {"imagery": self.title}
        main = self.items[0]
        return {"imagery": main.id, "imagery_date": main.datetime, "imagery_level": main.level or "unknown",
                "imagery_offset_dn": ",".join(f"{v:g}" for v in main.offset_dn),
                "imagery_catalogue": self.catalogue,
                "imagery_items": len(self.items)}

    def caption(self) -> str:
        """One line: source, items with date and cloud cover."""
        if not self.items:
            return f"{self.title}"
        level = f"Sentinel-2 {self.level} " if self.level else "Sentinel-2 "
        what = "item " if len(self.items) == 1 else f"mosaic of {len(self.items)} items: "
        return f"{level}{what}" + "; ".join(i.label() for i in self.items) + f" · {self.catalogue}"

    def to_json(self) -> str:
        """JSON text (stored in the fetched GeoTIFF)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ImageryMeta:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        items = tuple(ItemInfo(**{**i, "offset_dn": tuple(i["offset_dn"])}) for i in d.pop("items", ()))
        return cls(**{**d, "items": items, "warnings": tuple(d.get("warnings", ()))})


@dataclass(frozen=True)
class Imagery:
    """Pixels for a rectangle: a georeferenced GeoTIFF, how to read it, what it is.

    Attributes:
        path: the GeoTIFF (uint8 on the EuroSAT scale for fetched imagery).
        spec: bands and offset to read it with.
        meta: item ids, dates, cloud cover, attribution, warnings.
        bbox: the lon/lat rectangle it was fetched for (None: a whole file).
    """

    path: Path
    spec: BandSpec
    meta: ImageryMeta
    bbox: BBox | None = None

    def read(self) -> tuple[np.ndarray, dict]:
        """The whole image on the EuroSAT scale and its rasterio profile.

        Returns:
            (uint8 (H, W, 3), profile with ``crs``, ``transform``, ``width``, ``height``).
        """
        with open_raster(self.path) as src:
            validate(src)
            chw = src.read(list(self.spec.bands))
            return chw_to_hwc(to_eurosat_scale(chw, self.spec.offset)), dict(src.profile)


class ImagerySource(Protocol):
    """Anything that yields imagery for a lon/lat rectangle."""

    def fetch(self, bbox: BBox) -> Imagery:
        """Imagery covering ``bbox`` (west, south, east, north in degrees).

        Raises:
            EuroSATError: the rectangle or the source cannot be used (a clear message).
        """
        ...


class LocalGeoTIFF:
    """A GeoTIFF on disk (today's default: works offline).

    Args:
        path: the file.
        spec: bands and offset (None: as the file suggests, see :meth:`eurosat.geo.SceneInfo.default_spec`).
    """

    def __init__(self, path: str | Path, spec: BandSpec | None = None):
        self.path = Path(path)
        self.spec = spec

    def fetch(self, bbox: BBox) -> Imagery:
        """The file itself, after checking it is usable and overlaps ``bbox``.

        Raises:
            GeoError: unusable file, or the rectangle is outside it.
        """
        info = inspect_scene(self.path)
        with open_raster(self.path) as src:
            bbox_window(src, bbox)
        meta = ImageryMeta(source="file", title=info.name, attribution=info.attribution)
        return Imagery(self.path, self.spec or info.default_spec(), meta, bbox)


def classify_imagery(
    imagery: Imagery,
    bbox: BBox,
    classifier: Classifier,
    max_tiles: int = MAX_TILES_PER_AREA,
    keep_tiles: bool = True,
    progress: Progress | None = None,
    thresholds: Thresholds | None = None,
    tests: RGBTests | None = DEFAULT_TESTS,
    provenance: dict | None = None,
    stride: int = TILE_SIZE,
    centre: bool = False,
) -> AreaResult:
    """Classify every whole cell of ``imagery`` inside ``bbox`` (the one local path for every source).

    The imagery's facts (:meth:`ImageryMeta.provenance`) join ``provenance`` in the result;
    ``stride`` and ``centre`` as in :func:`eurosat.tiling.classify_tiles_at`.
    """
    return classify_area(imagery.path, bbox, classifier, imagery.spec, max_tiles, keep_tiles, progress,
                         thresholds=thresholds, tests=tests,
                         provenance={**imagery.meta.provenance(), **(provenance or {})},
                         stride=stride, centre=centre)


def read_meta(path: str | Path) -> ImageryMeta | None:
    """The :class:`ImageryMeta` stored in a GeoTIFF a source wrote (None if there is none)."""
    with open_raster(path) as src:
        text = src.tags().get(META_TAG)
    return ImageryMeta.from_json(text) if text else None
