"""STAC imagery source: Sentinel-2 for any lon/lat rectangle, on EuroSAT's radiometry.

:class:`StacSource` searches a STAC API (pystac-client) for Sentinel-2 items intersecting the
rectangle in a date range, keeps those under the cloud limit (``eo:cloud_cover``), and reads only
the windows it needs of their red, green and blue cloud-optimised GeoTIFFs over HTTP (GDAL
``/vsicurl/`` range requests through a rasterio :class:`~rasterio.vrt.WarpedVRT`).

Rules, in the order they apply:

* **Collections** are tried in the order given (L1C first where a catalogue has it: EuroSAT is
  Level-1C); the first with a usable item wins, and the result says when a later one was used.
* **Item choice**: least cloudy first (ties: most recent). Items cloudier than the limit, items
  without red/green/blue assets, and ``s3://`` items when no AWS credentials are configured are
  left out (the result says so).
* **Grid**: the UTM zone of the rectangle's centre (so a rectangle spanning two zones is handled:
  items of the other zone are reprojected into it, bilinear), 10 m pixels, and the 64-pixel tile
  grid of the first item in that zone counted from its top-left corner, the way the local-file
  path counts tiles (items of that zone are read without resampling: same pixels). The grid is
  the rectangle's envelope, grown to whole tiles.
* **Mosaic**: the least cloudy item first; pixels it leaves empty (DN 0, outside its footprint)
  are filled from the next items — same day first, then by cloud cover — reading only the
  bounding window of what is still missing, up to :data:`MAX_MOSAIC_ITEMS` items.
* **Radiometry**: ``(DN - offset) * 255 / 2750``, clipped to 0..255 (:func:`eurosat.geo.dn_to_eurosat`).
  The offset of each band comes from the item's metadata, never assumed silently
  (:func:`band_offset`): ``earthsearch:boa_offset_applied`` → 0; else the asset's
  ``raster:bands`` offset/scale (``-offset / scale`` DN, e.g. -0.1 / 0.0001 → 1000); else
  ``s2:processing_baseline`` (>= 04.00 → 1000, else 0); else, and with a warning in the result,
  the date rule: acquired on or after 2022-01-25 (start of baseline 04.00) → 1000, else 0.
* **Cache**: the fetched window is written as a small uint8 GeoTIFF (bands B04, B03, B02 on the
  EuroSAT scale, metadata in the ``EUROSAT_IMAGERY`` tag) under :func:`eurosat.config.stac_cache_dir`,
  keyed by catalogue, items and grid, so a second fetch of the same area reads no pixels. From there
  it takes the local-file path: same tiles and classes as a GeoTIFF of the same pixels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from eurosat import config
from eurosat.classes import ATTRIBUTION, BASELINE_04_OFFSET, PIXEL_SIZE_M, TILE_SIZE
from eurosat.errors import (
    CatalogueError,
    CatalogueTimeoutError,
    GeoError,
    MissingBandError,
    NoImageryError,
    TooCloudyError,
)
from eurosat.geo import LONLAT, BandSpec, BBox, bbox_area_km2, dn_to_eurosat, scl_band_from_descriptions
from eurosat.sources import META_TAG, Imagery, ImageryMeta, ItemInfo, read_meta
from eurosat.tiling import MAX_TILES_PER_AREA

#: Percent; items cloudier than this are left out unless the user raises it.
DEFAULT_MAX_CLOUD: float = 20.0
#: Seconds to wait for the catalogue and for each band-file request.
DEFAULT_TIMEOUT_S: float = 20.0
#: Days back from today searched when no date range is given.
DEFAULT_DAYS: int = 365
#: Most items read from a search (least cloudy are chosen among them).
MAX_ITEMS: int = 500
#: Most items one mosaic reads.
MAX_MOSAIC_ITEMS: int = 8
#: First day of Sentinel-2 processing baseline 04.00 (+1000 DN offset), for items that do not say.
BASELINE_04_DATE = dt.date(2022, 1, 25)
#: Sentinel-2 quantification value (reflectance = (DN + offset) / 10000) when ``raster:bands`` gives no scale.
QUANTIFICATION = 10000.0
#: Bump to invalidate every cached window.
CACHE_VERSION = 2  # 2: an SCL band is stored beside red/green/blue when the items have one
#: Asset keys of the Sentinel-2 L2A scene classification layer (20 m), first match wins.
SCL_KEYS: tuple[str, ...] = ("scl", "SCL")

#: Asset keys tried for each band, in order (Earth Search: red/green/blue; Planetary Computer: B04/...).
BAND_KEYS: dict[str, tuple[str, ...]] = {
    "red": ("red", "B04", "b04", "B4", "band_04"),
    "green": ("green", "B03", "b03", "B3", "band_03"),
    "blue": ("blue", "B02", "b02", "B2", "band_02"),
}
_BAND_NAMES = {"red": ("B04", "B4"), "green": ("B03", "B3"), "blue": ("B02", "B2")}


@dataclass(frozen=True)
class Catalogue:
    """A public STAC API preset.

    Attributes:
        name: shown in the UI; url: the API root; collections: Sentinel-2 collections, preferred first.
        sign: hrefs need signing with the ``planetary-computer`` package (SAS tokens).
        note: what the user should know.
    """

    name: str
    url: str
    collections: tuple[str, ...]
    sign: bool = False
    note: str = ""


CATALOGUES: dict[str, Catalogue] = {
    "earth-search": Catalogue(
        "Earth Search (Element 84, AWS)",
        "https://earth-search.aws.element84.com/v1",
        ("sentinel-2-l1c", "sentinel-2-c1-l2a"),
        note="L1C items are JPEG 2000 files in a requester-pays S3 bucket: they are used only with AWS "
        "credentials and AWS_REQUEST_PAYER=requester set; otherwise the public L2A COGs are used.",
    ),
    "planetary-computer": Catalogue(
        "Microsoft Planetary Computer",
        "https://planetarycomputer.microsoft.com/api/stac/v1",
        ("sentinel-2-l2a",),
        sign=True,
        note="Level-2A only; file links are signed with the planetary-computer package.",
    ),
}


def catalogue_for(url: str) -> Catalogue | None:
    """The preset whose URL matches ``url`` (trailing slashes ignored), if any."""
    u = url.rstrip("/")
    return next((c for c in CATALOGUES.values() if c.url.rstrip("/") == u), None)


def needs_signing(url: str) -> bool:
    """True for Planetary Computer URLs (their asset hrefs need a SAS token)."""
    return "planetarycomputer.microsoft.com" in (urlparse(url).hostname or "")


def planetary_computer_modifier() -> Callable[[object], None]:
    """``planetary_computer.sign_inplace`` (signs every asset href of searched items).

    Raises:
        CatalogueError: the optional ``planetary-computer`` package is not installed.
    """
    try:
        import planetary_computer
    except ImportError as exc:
        raise CatalogueError(
            "The Planetary Computer signs its file links; install the optional package with "
            "`pip install planetary-computer` to use it."
        ) from exc
    return planetary_computer.sign_inplace


# --------------------------------------------------------------------------- small rules (pure)


def parse_date_range(text: str | tuple[dt.date, dt.date] | None, today: dt.date | None = None
                     ) -> tuple[dt.date, dt.date]:
    """``START/END`` (ISO dates) or a (start, end) pair -> (start, end); None: the last 365 days.

    Raises:
        GeoError: unreadable dates, or end before start.
    """
    if text is None:
        end = today or dt.date.today()
        return end - dt.timedelta(days=DEFAULT_DAYS), end
    if isinstance(text, tuple):
        start, end = text
    else:
        parts = text.split("/")
        try:
            if len(parts) != 2:
                raise ValueError(text)
            start, end = (dt.date.fromisoformat(p.strip()[:10]) for p in parts)
        except ValueError as exc:
            raise GeoError(f"Date range '{text}' not understood: expected START/END, e.g. "
                           "2023-05-01/2023-09-30.") from exc
    if end < start:
        raise GeoError(f"The date range ends ({end}) before it starts ({start}).")
    return start, end


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone (standard 6° zones) holding a point."""
    zone = min(60, max(1, int((lon + 180.0) // 6) + 1))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def processing_level(item: dict) -> str:
    """``L1C``, ``L2A`` or ``""`` from ``s2:product_type`` / ``processing:level`` / the collection id."""
    props = item.get("properties", {})
    text = " ".join(str(props.get(k, "")) for k in ("s2:product_type", "processing:level"))
    text += " " + str(item.get("collection", ""))
    text = text.upper()
    if "1C" in text:
        return "L1C"
    if "2A" in text:
        return "L2A"
    return ""


def _baseline(props: dict) -> float | None:
    value = props.get("s2:processing_baseline")
    if value is None:
        return None
    match = re.match(r"\s*N?(\d+)\.?(\d*)", str(value))
    if not match:
        return None
    return float(f"{match.group(1)}.{match.group(2) or 0}")


def _item_date(item: dict) -> dt.date | None:
    props = item.get("properties", {})
    text = props.get("datetime") or props.get("start_datetime")
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def band_offset(item: dict, asset: dict) -> tuple[float, str, str | None]:
    """The DN offset to remove from one band asset, where it came from, and a warning if assumed.

    See the module docstring for the order of the rules.

    Returns:
        (offset in DN, source of the decision, warning text or None).
    """
    props = item.get("properties", {})
    if props.get("earthsearch:boa_offset_applied") is True:
        return 0.0, "earthsearch:boa_offset_applied", None
    bands = asset.get("raster:bands")
    band = bands[0] if isinstance(bands, list) and bands and isinstance(bands[0], dict) else {}
    if band.get("offset") is not None:
        offset = float(band["offset"])
        scale = float(band.get("scale") or 1.0 / QUANTIFICATION)
        return float(round(-offset / scale)), "raster:bands offset", None
    baseline = _baseline(props)
    if baseline is not None:
        value = BASELINE_04_OFFSET if baseline >= 4.0 else 0.0
        return value, f"s2:processing_baseline {baseline:05.2f}", None
    day = _item_date(item)
    after = day is not None and day >= BASELINE_04_DATE
    warning = (
        f"Item {item.get('id')} declares neither s2:processing_baseline nor a raster:bands offset; "
        f"assumed {'a +1000 DN offset (acquired on or after' if after else 'no offset (acquired before'} "
        f"{BASELINE_04_DATE}, the start of processing baseline 04.00)."
    )
    return (BASELINE_04_OFFSET if after else 0.0), "date rule (no metadata)", warning


def band_assets(item: dict) -> dict[str, dict] | None:
    """The red, green and blue assets of an item (None if one is missing).

    Known keys first (:data:`BAND_KEYS`), then any asset whose ``eo:bands`` names the band.
    """
    assets: dict[str, dict] = item.get("assets") or {}
    found: dict[str, dict] = {}
    for colour, keys in BAND_KEYS.items():
        key = next((k for k in keys if k in assets), None)
        if key is None:
            for k, a in assets.items():
                eo = [b for b in (a.get("eo:bands") or a.get("bands") or []) if isinstance(b, dict)]
                if any(b.get("common_name") == colour or b.get("name") in _BAND_NAMES[colour] for b in eo):
                    key = k
                    break
        if key is None:
            return None
        found[colour] = assets[key]
    return found


def scl_asset(item: dict) -> dict | None:
    """The item's SCL (scene classification) asset, if it has one (L2A items do)."""
    assets: dict[str, dict] = item.get("assets") or {}
    key = next((k for k in SCL_KEYS if k in assets), None)
    return assets[key] if key is not None and isinstance(assets[key], dict) and assets[key].get("href") \
        else None


def aws_credentials_configured() -> bool:
    """AWS credentials visible to GDAL (environment or ``~/.aws``), needed for ``s3://`` hrefs."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    if os.environ.get("AWS_NO_SIGN_REQUEST", "").upper() in ("YES", "TRUE", "1"):
        return True
    return (Path.home() / ".aws" / "credentials").is_file()


def gdal_http_env(timeout: float) -> rasterio.Env:
    """GDAL settings for reading COGs over HTTP: no directory listing, range requests, timeouts."""
    return rasterio.Env(
        GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
        CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".tif,.tiff,.TIF,.TIFF,.jp2,.JP2",
        GDAL_HTTP_TIMEOUT=str(max(1, math.ceil(timeout))),
        GDAL_HTTP_CONNECTTIMEOUT=str(max(1, math.ceil(min(timeout, 10.0)))),
        GDAL_HTTP_MAX_RETRY="2",
        GDAL_HTTP_RETRY_DELAY="0.5",
        GDAL_HTTP_MERGE_CONSECUTIVE_RANGES="YES",
        GDAL_HTTP_MULTIPLEX="YES",
        VSI_CACHE="TRUE",
        GDAL_CACHEMAX=64,
    )


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid: CRS, transform, size."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    def sub(self, r0: int, r1: int, c0: int, c1: int) -> Grid:
        """The rows ``r0:r1`` and columns ``c0:c1`` of this grid as a grid of their own."""
        return Grid(self.crs, self.transform @ Affine.translation(c0, r0), c1 - c0, r1 - r0)


def target_grid(bbox: BBox, crs: CRS, anchor: Affine | None, res: float = PIXEL_SIZE_M) -> Grid:
    """The rectangle's envelope in ``crs``, grown to whole 64-pixel tiles of the anchor's tile grid.

    Args:
        anchor: transform of the item whose tile grid is used (its top-left corner is a tile
            corner); None: tiles at multiples of 640 m.
    """
    left, bottom, right, top = transform_bounds(LONLAT, crs, *bbox, densify_pts=21)
    ax, ay = (anchor.c, anchor.f) if anchor is not None else (0.0, 0.0)
    t = res * TILE_SIZE
    eps = 1e-6
    x0 = ax + math.floor((left - ax) / t + eps) * t
    x1 = ax + math.ceil((right - ax) / t - eps) * t
    y1 = ay - math.floor((ay - top) / t + eps) * t
    y0 = ay - math.ceil((ay - bottom) / t - eps) * t
    return Grid(crs, Affine(res, 0.0, x0, 0.0, -res, y1), round((x1 - x0) / res), round((y1 - y0) / res))


# --------------------------------------------------------------------------- the source


@dataclass
class _Candidate:
    item: dict
    bands: dict[str, dict]  # red/green/blue asset dicts
    cloud: float | None

    @property
    def scl(self) -> dict | None:
        return scl_asset(self.item)

    @property
    def id(self) -> str:
        return str(self.item.get("id"))

    @property
    def datetime(self) -> str:
        props = self.item.get("properties", {})
        return str(props.get("datetime") or props.get("start_datetime") or "")

    def hrefs(self) -> list[str]:
        return [self.bands[c]["href"] for c in ("red", "green", "blue")]

    def transform_hint(self) -> Affine | None:
        """The red band's pixel transform from ``proj:transform``, if the item gives it."""
        t = self.bands["red"].get("proj:transform")
        return Affine(*t[:6]) if isinstance(t, list) and len(t) >= 6 else None

    def crs_hint(self) -> CRS | None:
        """The item's CRS from its projection metadata, if it has any."""
        for d in (self.bands["red"], self.item.get("properties", {})):
            code = d.get("proj:code") or (f"EPSG:{d['proj:epsg']}" if d.get("proj:epsg") else None)
            if code:
                try:
                    return CRS.from_user_input(code)
                except RasterioError:
                    return None
        return None


class StacSource:
    """Sentinel-2 from a STAC API, fetched for a rectangle (see the module docstring for the rules).

    Args:
        url: STAC API root, e.g. ``https://earth-search.aws.element84.com/v1``.
        collections: tried in order (default: the preset's for a known URL).
        dates: ``START/END`` or (start, end) dates (default: the last 365 days).
        max_cloud: percent; cloudier items are left out.
        cache_dir: where fetched windows are kept (default :func:`eurosat.config.stac_cache_dir`).
        timeout: seconds for the catalogue and for each file request.
        sign: sign hrefs with ``planetary-computer`` (default: for Planetary Computer URLs).
        modifier: a pystac-client modifier to use instead (tests, other signing schemes).
    """

    def __init__(
        self,
        url: str,
        collections: Sequence[str] | None = None,
        dates: str | tuple[dt.date, dt.date] | None = None,
        max_cloud: float = DEFAULT_MAX_CLOUD,
        cache_dir: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        sign: bool | None = None,
        modifier: Callable[[object], None] | None = None,
    ):
        self.url = url.strip()
        scheme = urlparse(self.url).scheme
        if scheme not in ("http", "https"):
            raise CatalogueError(f"'{url}' is not a web address: give the STAC API root, e.g. "
                                 f"{CATALOGUES['earth-search'].url}")
        preset = catalogue_for(self.url)
        cols = tuple(c.strip() for c in (collections or ()) if c and c.strip())
        if not cols:
            if preset is None:
                raise CatalogueError("Name the Sentinel-2 collection(s) to search in this catalogue "
                                     "(e.g. sentinel-2-l1c or sentinel-2-l2a).")
            cols = preset.collections
        self.collections: tuple[str, ...] = cols
        self.start, self.end = parse_date_range(dates)
        if not 0 <= max_cloud <= 100:
            raise GeoError(f"Cloud limit {max_cloud} is not a percentage (0 to 100).")
        self.max_cloud = float(max_cloud)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else config.stac_cache_dir()
        self.timeout = float(timeout)
        self.sign = needs_signing(self.url) if sign is None else sign
        self.modifier = modifier

    # ---- catalogue

    def _catalogue_error(self, exc: Exception, what: str) -> CatalogueError:
        import requests

        cause = exc.__cause__ or exc.__context__
        timed_out = isinstance(exc, requests.Timeout) or isinstance(cause, requests.Timeout)
        if timed_out or "timed out" in str(exc):
            return CatalogueTimeoutError(
                f"The STAC catalogue {self.url} did not answer the {what} within {self.timeout:g} s. "
                "It may be busy or unreachable from here: try again later or raise the timeout.")
        if isinstance(exc, requests.ConnectionError) or isinstance(cause, requests.ConnectionError):
            return CatalogueError(
                f"The STAC catalogue {self.url} cannot be reached ({what}): check the address and the "
                "internet connection.")
        status = getattr(exc, "status_code", None)
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if status:
            return CatalogueError(f"The STAC catalogue {self.url} answered HTTP {status} to the {what}: "
                                  f"{detail}")
        return CatalogueError(f"The STAC catalogue {self.url} failed on the {what}: {detail}")

    def _client(self):
        import pystac
        from pystac_client import Client, ConformanceClasses
        from pystac_client.exceptions import APIError
        from pystac_client.stac_api_io import StacApiIO
        from urllib3 import Retry

        modifier = self.modifier or (planetary_computer_modifier() if self.sign else None)
        # Retry refused connections and 429/5xx answers briefly, never a read that timed out (a slow
        # catalogue would otherwise cost several timeouts, and requests would report it as refused).
        retry = Retry(total=2, connect=1, read=False, status=2, backoff_factor=0.5, allowed_methods=None,
                      status_forcelist=(429, 502, 503, 504), raise_on_status=False)
        timeout = (min(self.timeout, 10.0), self.timeout)  # (connect, read) seconds
        try:
            client = Client.open(self.url, modifier=modifier, timeout=timeout,
                                 stac_io=StacApiIO(timeout=timeout, max_retries=retry))
        except APIError as exc:
            raise self._catalogue_error(exc, "landing-page request") from exc
        except (ValueError, KeyError, TypeError, pystac.STACError) as exc:
            raise CatalogueError(f"{self.url} does not answer like a STAC API ({exc}).") from exc
        if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):
            if any(link.rel == "search" for link in client.links):
                client.add_conforms_to("ITEM_SEARCH")  # some APIs omit the class but have /search
            else:
                raise CatalogueError(f"{self.url} is a STAC catalogue without item search (no /search "
                                     "endpoint); give the root of a STAC API.")
        return client

    def search(self, client, collection: str, bbox: BBox) -> list[dict]:
        """Items of one collection intersecting ``bbox`` in the date range (plain dicts, signed)."""
        from pystac_client.exceptions import APIError

        try:
            found = client.search(collections=[collection], bbox=list(bbox),
                                  datetime=f"{self.start.isoformat()}/{self.end.isoformat()}",
                                  max_items=MAX_ITEMS, limit=100)
            return list(found.items_as_dicts())
        except APIError as exc:
            raise self._catalogue_error(exc, f"search of '{collection}'") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CatalogueError(f"The search of '{collection}' at {self.url} returned something that is "
                                 f"not STAC ({exc}).") from exc

    def candidates(self, items: list[dict], bbox: BBox) -> tuple[list[_Candidate], str | None, type]:
        """Usable items, least cloudy first, and why none are usable (reason text and error class)."""
        w, s, e, n = bbox
        usable, cloudy, missing, s3 = [], [], [], []
        for item in items:
            ib = item.get("bbox")
            if ib and len(ib) >= 4 and (ib[2] <= w or ib[0] >= e or ib[3] <= s or ib[1] >= n):
                continue  # a static or lax API: not in the rectangle after all
            cloud = item.get("properties", {}).get("eo:cloud_cover")
            cloud = None if cloud is None else float(cloud)
            bands = band_assets(item)
            if bands is None:
                missing.append(item)
                continue
            if (cloud if cloud is not None else 100.0) > self.max_cloud:
                cloudy.append((cloud, item))
                continue
            c = _Candidate(item, bands, cloud)
            if any(h.startswith("s3://") for h in c.hrefs()) and not aws_credentials_configured():
                s3.append(item)
                continue
            usable.append(c)
        usable.sort(key=lambda c: (c.cloud if c.cloud is not None else 100.0, _neg_time(c.datetime)))
        if usable:
            return usable, None, type(None)
        if cloudy:
            cloud, item = min(cloudy, key=lambda ci: ci[0] if ci[0] is not None else 100.0)
            least = "unknown" if cloud is None else f"{cloud:.1f} %"
            return [], (f"{len(cloudy)} item(s) found, but all are cloudier than {self.max_cloud:g} % "
                        f"(least cloudy: {item.get('id')}, {least})"), TooCloudyError
        if missing:
            keys = sorted((missing[0].get("assets") or {}).keys())
            reason = (f"{len(missing)} item(s) found, but they lack the red, green or blue band asset (item "
                      f"{missing[0].get('id')} has: {', '.join(keys) or 'no assets'})")
            return [], reason, MissingBandError
        if s3:
            return [], (f"{len(s3)} item(s) found, but their files are in S3 (s3://…) and no AWS "
                        "credentials are configured (Earth Search L1C is in a requester-pays bucket: set AWS "
                        "credentials and AWS_REQUEST_PAYER=requester to use it)"), NoImageryError
        return [], "no item intersects the rectangle in the date range", NoImageryError

    # ---- fetch

    def fetch(self, bbox: BBox) -> Imagery:
        """Search, choose, read, mosaic, scale, cache: imagery for ``bbox`` on the EuroSAT scale.

        Raises:
            GeoError: invalid or too large rectangle.
            CatalogueError: catalogue unreachable, too slow (:class:`CatalogueTimeoutError`) or not STAC.
            NoImageryError: no item in range; :class:`TooCloudyError` every item too cloudy.
            MissingBandError: items without red/green/blue assets, or band files that cannot be read.
        """
        bbox = _check_bbox(bbox)
        client = self._client()
        notes: list[str] = []
        reasons: list[tuple[str, str, type]] = []
        chosen: list[_Candidate] = []
        for collection in self.collections:
            chosen, reason, kind = self.candidates(self.search(client, collection, bbox), bbox)
            if chosen:
                if reasons:
                    skipped = "; ".join(f"'{c}': {r}" for c, r, _ in reasons)
                    notes.append(f"Used '{collection}': {skipped}.")
                break
            reasons.append((collection, reason or "", kind))
        if not chosen:
            raise _no_imagery(reasons, self, bbox)
        return self._read(chosen, bbox, notes)

    def _read(self, candidates: list[_Candidate], bbox: BBox, notes: list[str]) -> Imagery:
        w, s, e, n = bbox
        crs = utm_crs((w + e) / 2, (s + n) / 2)
        with gdal_http_env(self.timeout):
            anchor = self._anchor(candidates, crs)
            grid = target_grid(bbox, crs, anchor)
            if grid.width * grid.height > (MAX_TILES_PER_AREA + 1) * TILE_SIZE * TILE_SIZE * 2:
                raise GeoError(f"The rectangle needs {grid.width}×{grid.height} pixels; draw a smaller one.")
            order = _mosaic_order(candidates)
            key = self._cache_key(order, grid)
            path = self.cache_dir / f"{order[0].id[:60]}_{key[:12]}.tif"
            if path.is_file():
                meta = read_meta(path)
                if meta is not None:
                    return Imagery(path, _fetched_spec(path), meta, bbox)
            with_scl = all(c.scl is not None for c in order[:MAX_MOSAIC_ITEMS])
            scl = np.zeros((grid.height, grid.width), np.uint8) if with_scl else None
            rgb = np.zeros((3, grid.height, grid.width), np.uint8)
            valid = np.zeros((grid.height, grid.width), bool)
            used: list[tuple[_Candidate, tuple[float, float, float], str]] = []
            warnings: list[str] = []
            for cand in order[:MAX_MOSAIC_ITEMS]:
                missing = ~valid
                if not missing.any():
                    break
                rows, cols = np.flatnonzero(missing.any(axis=1)), np.flatnonzero(missing.any(axis=0))
                r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
                offsets, source, warn = self._offsets(cand)
                part, ok = self._read_item(cand, grid.sub(r0, r1, c0, c1), offsets)
                fill = ok & missing[r0:r1, c0:c1]
                if fill.any():
                    rgb[:, r0:r1, c0:c1][:, fill] = part[:, fill]
                    if scl is not None:
                        scl[r0:r1, c0:c1][fill] = self._read_scl(cand, grid.sub(r0, r1, c0, c1))[fill]
                    valid[r0:r1, c0:c1] |= fill
                    used.append((cand, offsets, source))
                    warnings += [warn] if warn else []
        if not used:
            raise NoImageryError(
                f"The items found ({', '.join(c.id for c in order[:MAX_MOSAIC_ITEMS])}) hold no data over "
                "the rectangle (outside their footprint). Widen the dates or move the rectangle.")
        meta = self._meta(used, float(valid.mean()), notes + warnings)
        try:
            _write_geotiff(path, rgb, valid, grid, meta, scl)
        except (OSError, RasterioError) as exc:
            raise GeoError(f"The fetched imagery cannot be written to the cache folder {self.cache_dir} "
                           f"({exc}). Set EUROSAT_STAC_CACHE to a writable folder.") from exc
        return Imagery(path, BandSpec((1, 2, 3), False, 4 if scl is not None else None), meta, bbox)

    def _anchor(self, candidates: list[_Candidate], crs: CRS) -> Affine | None:
        """Transform of the first candidate in ``crs`` (its tile grid is used), else None."""
        for cand in candidates[:MAX_MOSAIC_ITEMS]:
            hint = cand.crs_hint()
            if hint is not None and hint != crs:
                continue
            transform = cand.transform_hint()
            if hint is not None and transform is not None:
                return transform
            with self._open(cand, "red") as src:
                if src.crs == crs:
                    return src.transform
        return None

    def _open(self, cand: _Candidate, colour: str):
        href = cand.bands[colour]["href"]
        try:
            return rasterio.open(href)
        except RasterioError as exc:
            hint = (" The file is in S3: it needs AWS credentials (and AWS_REQUEST_PAYER=requester for a "
                    "requester-pays bucket)." if href.startswith("s3://") else "")
            raise MissingBandError(
                f"The {colour} band of item {cand.id} cannot be read from {_short(href)} "
                f"({_first_line(exc)}).{hint}") from exc

    def _offsets(self, cand: _Candidate) -> tuple[tuple[float, float, float], str, str | None]:
        found = [band_offset(cand.item, cand.bands[c]) for c in ("red", "green", "blue")]
        offsets = (found[0][0], found[1][0], found[2][0])
        return offsets, found[0][1], next((f[2] for f in found if f[2]), None)

    def _read_item(self, cand: _Candidate, grid: Grid, offsets: tuple[float, float, float]
                   ) -> tuple[np.ndarray, np.ndarray]:
        """One item's bands on ``grid``: (uint8 (3, H, W) on the EuroSAT scale, valid (H, W))."""
        out = np.zeros((3, grid.height, grid.width), np.uint8)
        ok = np.ones((grid.height, grid.width), bool)
        for k, colour in enumerate(("red", "green", "blue")):
            with self._open(cand, colour) as src:
                same = src.crs == grid.crs
                nodata = src.nodata if src.nodata is not None else 0
                try:
                    with WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width,
                                   height=grid.height, src_nodata=nodata, nodata=0,
                                   resampling=Resampling.nearest if same else Resampling.bilinear) as vrt:
                        dn = vrt.read(1)
                except RasterioError as exc:
                    raise MissingBandError(
                        f"Reading the {colour} band of item {cand.id} failed ({_first_line(exc)}); the file "
                        f"server may be slow or unreachable: try again.") from exc
            ok &= dn != 0
            out[k] = dn_to_eurosat(dn, offsets[k])
        return out, ok

    def _read_scl(self, cand: _Candidate, grid: Grid) -> np.ndarray:
        """The item's SCL classes on ``grid`` (20 m → 10 m, nearest neighbour): uint8 (H, W), 0 = no data."""
        asset = cand.scl
        assert asset is not None
        try:
            with rasterio.open(asset["href"]) as src, WarpedVRT(
                    src, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                    src_nodata=src.nodata if src.nodata is not None else 0, nodata=0,
                    resampling=Resampling.nearest) as vrt:
                return vrt.read(1).astype(np.uint8)
        except RasterioError as exc:
            raise MissingBandError(
                f"The SCL (scene classification) asset of item {cand.id} cannot be read from "
                f"{_short(asset['href'])} ({_first_line(exc)}).") from exc

    def _cache_key(self, order: list[_Candidate], grid: Grid) -> str:
        used = order[:MAX_MOSAIC_ITEMS]
        doc = {
            "v": CACHE_VERSION, "url": self.url.rstrip("/"), "items": [c.id for c in used],
            "collections": [c.item.get("collection") for c in used], "crs": grid.crs.to_string(),
            "transform": list(grid.transform)[:6], "size": [grid.width, grid.height],
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def _meta(self, used: list[tuple[_Candidate, tuple[float, float, float], str]], coverage: float,
              notes: list[str]) -> ImageryMeta:
        items = tuple(
            ItemInfo(id=c.id, collection=str(c.item.get("collection", "")), datetime=c.datetime,
                     cloud_cover=c.cloud, level=processing_level(c.item), offset_dn=offsets,
                     offset_source=src)
            for c, offsets, src in used
        )
        warnings = list(notes)
        if items[0].level != "L1C":
            level = "Level-2A (surface reflectance)" if items[0].level == "L2A" else "of unknown level"
            warnings.append(
                f"This imagery is {level}; the model was trained on Level-1C (top of atmosphere) EuroSAT; "
                "L2A looks darker and clearer, so classes may differ. Prefer an L1C collection where the "
                "catalogue has one.")
        if coverage < 0.999:
            warnings.append(f"{(1 - coverage):.0%} of the fetched area has no data in the items within the "
                            "cloud limit; those pixels are black and their tiles unreliable.")
        years = sorted({i.datetime[:4] for i in items if i.datetime[:4].isdigit()})
        return ImageryMeta(
            source="stac", title=items[0].id, attribution=f"{ATTRIBUTION} {', '.join(years)}".strip(),
            catalogue=self.url, items=items, coverage=coverage, warnings=tuple(warnings),
        )


# --------------------------------------------------------------------------- helpers


def _check_bbox(bbox: Sequence[float]) -> BBox:
    if len(bbox) != 4:
        raise GeoError(f"A rectangle is four numbers (west, south, east, north), not {list(bbox)}.")
    w, s, e, n = (float(v) for v in bbox)
    if not (w < e and s < n and -180 <= w and e <= 180 and -90 <= s and n <= 90):
        raise GeoError(f"Invalid rectangle {(w, s, e, n)}: expected west < east and south < north in "
                       "degrees.")
    tile_km2 = (TILE_SIZE * PIXEL_SIZE_M / 1000) ** 2
    if bbox_area_km2((w, s, e, n)) / tile_km2 > MAX_TILES_PER_AREA * 1.05:
        raise GeoError(
            f"The rectangle covers {bbox_area_km2((w, s, e, n)):,.0f} km², more than the "
            f"{MAX_TILES_PER_AREA:,} tiles (about {MAX_TILES_PER_AREA * tile_km2:,.0f} km²) one area may "
            "hold. Draw a smaller rectangle.")
    return (w, s, e, n)


def _neg_time(text: str) -> float:
    try:
        return -dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _mosaic_order(candidates: list[_Candidate]) -> list[_Candidate]:
    """Least cloudy first, then the items of its day (same pass), then the rest by cloud cover."""
    first, rest = candidates[0], candidates[1:]
    day = first.datetime[:10]
    return [first] + [c for c in rest if c.datetime[:10] == day] + [c for c in rest if c.datetime[:10] != day]


def _no_imagery(reasons: list[tuple[str, str, type]], source: StacSource, bbox: BBox) -> Exception:
    kinds = [k for _, _, k in reasons]
    kind = TooCloudyError if TooCloudyError in kinds else MissingBandError if MissingBandError in kinds \
        else NoImageryError
    w, s, e, n = bbox
    what = "; ".join(f"'{c}': {r}" for c, r, _ in reasons)
    advice = {TooCloudyError: "Raise the cloud limit or widen the dates.",
              MissingBandError: "Choose a Sentinel-2 collection with red, green and blue band files.",
              NoImageryError: "Widen the dates, check the collection name, or move the rectangle."}[kind]
    return kind(f"No usable Sentinel-2 imagery at {source.url} for ({w:.4f}, {s:.4f}) – ({e:.4f}, {n:.4f}) "
                f"between {source.start} and {source.end} — {what}. {advice}")


def _short(href: str) -> str:
    return href.split("?")[0]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _fetched_spec(path: Path) -> BandSpec:
    """Bands of a fetched GeoTIFF: red, green, blue in 1-3, and the SCL band if it was stored."""
    with rasterio.open(path) as src:
        return BandSpec((1, 2, 3), False, scl_band_from_descriptions(src.descriptions))


def _write_geotiff(path: Path, rgb: np.ndarray, valid: np.ndarray, grid: Grid, meta: ImageryMeta,
                   scl: np.ndarray | None = None) -> None:
    """Write the fetched image (3, H, W) uint8 with its mask and metadata, atomically; ``scl``
    (H, W) uint8, when the items had one, as band 4 described ``SCL``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height,
               "count": 3 if scl is None else 4, "dtype": "uint8", "crs": grid.crs,
               "transform": grid.transform, "compress": "deflate", "photometric": "RGB"}
    if grid.width >= 256 and grid.height >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    fd, tmp = tempfile.mkstemp(suffix=".tif", dir=path.parent)
    os.close(fd)
    try:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(rgb, [1, 2, 3])
            if scl is not None:
                dst.write(scl, 4)
                dst.set_band_description(4, "SCL")
            dst.write_mask(valid.astype(np.uint8) * 255)
            for i, name in enumerate(("B04", "B03", "B02"), start=1):
                dst.set_band_description(i, name)
            dst.update_tags(**{META_TAG: meta.to_json(), "ATTRIBUTION": meta.attribution,
                               "SOURCE": f"{meta.catalogue} items {', '.join(i.id for i in meta.items)}",
                               "STRETCH": "uint8 = clip(round((DN - offset) * 255 / 2750), 0, 255)"})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

