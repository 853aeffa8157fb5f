"""A real, tiny STAC API and COG file server on 127.0.0.1 for the offline STAC tests.

* :func:`build_catalogue` converts the shipped scene back to Sentinel-2 DN
  (``uint16 = round(v * 2750 / 255)``) and writes cloud-optimised GeoTIFFs, one per band per item:

  ============  ==================  ==========  ======  ==============================================
  collection    item                date        cloud   content
  ============  ==================  ==========  ======  ==============================================
  s2-l1c        ``WEST``            2017-02-16  12 %    west half of the scene, baseline 02.04, no offset
  s2-l1c        ``EAST``            2023-06-01   5 %    east half, baseline 04.00, DN + 1000 (raster:bands)
  s2-l1c        ``CLOUDY``          2017-02-26  80 %    whole scene, a flat bright "cloud" (3000 DN)
  s2-nometa     ``NOMETA``          2023-07-01   3 %    east half + 1000, no baseline/offset metadata
  s2-broken     ``NOBLUE``          2017-02-16   1 %    west half, the blue asset missing
  s2-gone       ``GONE``            2017-02-16   1 %    hrefs to files that do not exist (HTTP 404)
  s2-zones      ``Z33`` / ``Z32``   2021-05-01  1 / 2 % flat 2200 DN in UTM 33N east of 11.99°E /
                                                        flat 1100 DN in UTM 32N west of 12.01°E
  s2-l2a        ``L2A``             2017-02-16  20 %    west half, with a 20 m ``scl`` asset: class 4
                                                        except :data:`SCL_CLOUD_BOX` (9, cloud) and
                                                        :data:`SCL_SHADOW_BOX` (3, shadow), pixel boxes
  ============  ==================  ==========  ======  ==============================================

  ``WEST`` and ``CLOUDY`` use Earth Search asset keys (red/green/blue), ``EAST`` Planetary Computer
  ones (B04/B03/B02).
* :class:`StacServer` serves a STAC API (landing page with the item-search conformance class,
  ``/conformance``, ``/search`` GET and POST filtered by collections, bbox and datetime) and the
  files with HTTP Range support (single and multi-range), logging every byte range it sends.
  ``delay`` makes every answer slow (timeouts).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import transform_bounds

SCENE_CRS = "EPSG:32633"
WEST, EAST, CLOUDY, NOMETA, NOBLUE, GONE, Z33, Z32 = (
    "S2A_MSIL1C_20170216_T33UUU_W", "S2B_MSIL1C_20230601_T33UUU_E", "S2A_MSIL1C_20170226_T33UUU_C",
    "S2B_MSIL1C_20230701_T33UUU_N", "S2A_MSIL1C_20170216_T33UUU_NOBLUE", "S2A_MSIL1C_20170216_T33UUU_GONE",
    "S2A_MSIL1C_20210501_T33UUU_Z33", "S2A_MSIL1C_20210501_T32UQD_Z32",
)
L2A = "S2A_MSIL2A_20170216_T33UUU_W"
#: (row0, row1, col0, col1) in 10 m pixels of the scene: where the L2A item's SCL says cloud / shadow.
SCL_CLOUD_BOX = (0, 256, 0, 256)
SCL_SHADOW_BOX = (384, 512, 384, 512)
CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
]
BASE = "{BASE}"  # replaced by the server URL in every answer


def to_dn(v: np.ndarray) -> np.ndarray:
    """EuroSAT 0-255 back to L1C DN: ``round(v * 2750 / 255)`` as uint16."""
    return np.rint(v.astype(np.float64) * 2750 / 255).astype(np.uint16)


def write_cog(path: Path, band: np.ndarray, crs: str, transform: Affine) -> Path:
    """One band (H, W) uint16 or uint8 as a COG (256-px blocks, deflate, overviews, nodata 0)."""
    h, w = band.shape
    with rasterio.open(path, "w", driver="COG", width=w, height=h, count=1, dtype=band.dtype.name, crs=crs,
                       transform=transform, nodata=0, BLOCKSIZE=256, COMPRESS="DEFLATE",
                       OVERVIEW_RESAMPLING="AVERAGE") as dst:
        dst.write(band, 1)
    return path


def _item(item_id: str, collection: str, when: str, cloud: float, crs: str, transform: Affine,
          shape: tuple[int, int], assets: dict, props: dict | None = None) -> dict:
    h, w = shape
    left, top = transform.c, transform.f
    right, bottom = left + w * transform.a, top + h * transform.e
    west, south, east, north = transform_bounds(crs, "EPSG:4326", left, bottom, right, top, densify_pts=21)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": collection,
        "bbox": [west, south, east, north], "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"datetime": when, "eo:cloud_cover": cloud, "platform": "sentinel-2a",
                       "s2:product_type": "S2MSI1C", **(props or {})},
        "assets": assets,
        "links": [{"rel": "self", "href": f"{BASE}/collections/{collection}/items/{item_id}"}],
    }


def _assets(files: dict[str, str], extra: dict | None = None) -> dict:
    kind = "image/tiff; application=geotiff; profile=cloud-optimized"
    return {k: {"href": f"{BASE}/files/{name}", "type": kind, "roles": ["data"], **(extra or {})}
            for k, name in files.items()}


@dataclass
class Catalogue:
    """Files on disk and the items that point at them."""

    root: Path
    items: list[dict]
    sizes: dict[str, int] = field(default_factory=dict)  # file name -> bytes


def build_catalogue(root: Path, scene: Path) -> Catalogue:
    """Write the COGs described in the module docstring under ``root`` and return the items."""
    root.mkdir(parents=True, exist_ok=True)
    with rasterio.open(scene) as src:
        rgb, transform = src.read(), src.transform
    dn = to_dn(rgb)  # (3, 768, 1536) in band order red, green, blue
    half = dn.shape[2] // 2
    east_t = transform @ Affine.translation(half, 0)
    names = ("B04", "B03", "B02")
    items: list[dict] = []

    def write(prefix: str, data: np.ndarray, crs: str, t: Affine) -> dict[str, str]:
        out = {}
        for k, name in enumerate(names):
            write_cog(root / f"{prefix}_{name}.tif", data[k], crs, t)
            out[name] = f"{prefix}_{name}.tif"
        return out

    west = write("west", dn[:, :, :half], SCENE_CRS, transform)
    items.append(_item(WEST, "s2-l1c", "2017-02-16T10:21:01Z", 12.0, SCENE_CRS, transform, (768, half),
                       _assets({"red": west["B04"], "green": west["B03"], "blue": west["B02"]}),
                       {"s2:processing_baseline": "02.04", "proj:epsg": 32633}))
    east = write("east", dn[:, :, half:] + 1000, SCENE_CRS, east_t)
    raster = {"raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}]}
    items.append(_item(EAST, "s2-l1c", "2023-06-01T10:20:31Z", 5.0, SCENE_CRS, east_t, (768, half),
                       _assets({"B04": east["B04"], "B03": east["B03"], "B02": east["B02"]}, raster),
                       {"s2:processing_baseline": "04.00"}))
    cloudy = write("cloudy", np.full_like(dn, 3000), SCENE_CRS, transform)
    items.append(_item(CLOUDY, "s2-l1c", "2017-02-26T10:20:00Z", 80.0, SCENE_CRS, transform, dn.shape[1:],
                       _assets({"red": cloudy["B04"], "green": cloudy["B03"], "blue": cloudy["B02"]}),
                       {"s2:processing_baseline": "02.04"}))
    items.append(_item(NOMETA, "s2-nometa", "2023-07-01T10:20:31Z", 3.0, SCENE_CRS, east_t, (768, half),
                       _assets({"red": east["B04"], "green": east["B03"], "blue": east["B02"]})))
    items.append(_item(NOBLUE, "s2-broken", "2017-02-16T10:21:01Z", 1.0, SCENE_CRS, transform, (768, half),
                       _assets({"red": west["B04"], "green": west["B03"], "nir": west["B02"]}),
                       {"s2:processing_baseline": "02.04"}))
    items.append(_item(GONE, "s2-gone", "2017-02-16T10:21:01Z", 1.0, SCENE_CRS, transform, (768, half),
                       _assets({"red": "gone_B04.tif", "green": "gone_B03.tif", "blue": "gone_B02.tif"}),
                       {"s2:processing_baseline": "02.04"}))
    # two flat items either side of the UTM 32/33 boundary (12°E) at 52.5°N
    for item_id, crs, lon0, lon1, value, cloud in ((Z33, "EPSG:32633", 11.99, 12.08, 2200, 1.0),
                                                   (Z32, "EPSG:32632", 11.92, 12.01, 1100, 2.0)):
        left, bottom, right, top = transform_bounds("EPSG:4326", crs, lon0, 52.46, lon1, 52.54)
        t = Affine(10, 0, np.floor(left / 10) * 10, 0, -10, np.ceil(top / 10) * 10)
        shape = (int(np.ceil((top - bottom) / 10)), int(np.ceil((right - left) / 10)))
        # only the part between lon0 and lon1 holds data (as real tiles have nodata outside the swath)
        cols = np.arange(shape[1]) + 0.5
        rows = np.arange(shape[0]) + 0.5
        xs, ys = t.c + cols[None, :] * t.a + 0 * rows[:, None], t.f + rows[:, None] * t.e + 0 * cols[None, :]
        from pyproj import Transformer

        lon, _ = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
        band = np.where((lon >= lon0) & (lon <= lon1), value, 0).astype(np.uint16)
        files = write(item_id.lower()[-3:], np.stack([band, band, band]), crs, t)
        items.append(_item(item_id, "s2-zones", "2021-05-01T10:30:00Z", cloud, crs, t, shape,
                           _assets({"red": files["B04"], "green": files["B03"], "blue": files["B02"]}),
                           {"s2:processing_baseline": "03.00"}))
    # an L2A item with a 20 m scene classification layer (SCL)
    scl = np.full((768 // 2, half // 2), 4, np.uint8)
    for box, value in ((SCL_CLOUD_BOX, 9), (SCL_SHADOW_BOX, 3)):
        r0, r1, c0, c1 = (v // 2 for v in box)
        scl[r0:r1, c0:c1] = value
    write_cog(root / "l2a_SCL.tif", scl, SCENE_CRS, transform @ Affine.scale(2))
    assets = _assets({"red": west["B04"], "green": west["B03"], "blue": west["B02"], "scl": "l2a_SCL.tif"})
    items.append(_item(L2A, "s2-l2a", "2017-02-16T10:21:01Z", 20.0, SCENE_CRS, transform, (768, half), assets,
                       {"s2:processing_baseline": "02.04", "s2:product_type": "S2MSI2A"}))
    sizes = {p.name: p.stat().st_size for p in root.glob("*.tif")}
    return Catalogue(root, items, sizes)


# --------------------------------------------------------------------------- the server


def _parse_time(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def search_items(items: list[dict], collections: list[str] | None, bbox: list[float] | None,
                 interval: str | None, limit: int) -> list[dict]:
    """The STAC item-search filter: collections, bbox intersection, datetime interval."""
    out = []
    start = end = None
    if interval:
        a, _, b = interval.partition("/")
        start, end = _parse_time(a), _parse_time(b or a)
    for item in items:
        if collections and item["collection"] not in collections:
            continue
        if bbox:
            w, s, e, n = bbox
            iw, is_, ie, in_ = item["bbox"]
            if ie < w or iw > e or in_ < s or is_ > n:
                continue
        when = _parse_time(item["properties"]["datetime"])
        if (start and when < start) or (end and when > end):
            continue
        out.append(item)
    return out[:limit]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that gave up (the timeout tests) is expected: print nothing onto the stderr a later
        test may be capturing; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class StacServer:
    """Threaded HTTP server: STAC API + COG files with Range support, on 127.0.0.1 (a free port).

    Attributes:
        log: (path, first byte, last byte, bytes sent) of every file answer.
        requests: (method, path) of every request.
    """

    def __init__(self, catalogue: Catalogue, delay: float = 0.0):
        self.catalogue = catalogue
        self.delay = delay
        self.log: list[tuple[str, int, int, int]] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StacServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def file_bytes(self, prefix: str = "") -> int:
        """Bytes of file content sent for files whose name starts with ``prefix``."""
        with self._lock:
            return sum(n for path, _, _, n in self.log if Path(path).name.startswith(prefix))

    def files_requested(self) -> set[str]:
        with self._lock:
            return {Path(p).name for p, *_ in self.log}

    def _record(self, *entry) -> None:
        with self._lock:
            self.log.append(entry)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _json(self, doc: object, status: int = 200) -> None:
                body = json.dumps(doc).replace(BASE, server.url).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _begin(self) -> None:
                with server._lock:
                    server.requests.append((self.command, self.path))
                if server.delay:
                    time.sleep(server.delay)

            def do_GET(self) -> None:  # noqa: N802
                self._begin()
                url = urlparse(self.path)
                if url.path.startswith("/files/"):
                    return self._file(url.path, head=False)
                if url.path in ("/", ""):
                    return self._json(landing())
                if url.path == "/conformance":
                    return self._json({"conformsTo": CONFORMS})
                if url.path == "/search":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    return self._search(
                        q.get("collections", "").split(",") if q.get("collections") else None,
                        [float(x) for x in q["bbox"].split(",")] if q.get("bbox") else None,
                        q.get("datetime"), int(q.get("limit", 100)))
                return self._json({"code": "NotFound", "description": self.path}, 404)

            def do_POST(self) -> None:  # noqa: N802
                self._begin()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if urlparse(self.path).path != "/search":
                    return self._json({"code": "NotFound"}, 404)
                return self._search(body.get("collections"), body.get("bbox"), body.get("datetime"),
                                    int(body.get("limit", 100)))

            def do_HEAD(self) -> None:  # noqa: N802
                self._begin()
                self._file(urlparse(self.path).path, head=True)

            def _search(self, collections, bbox, interval, limit) -> None:
                found = search_items(server.catalogue.items, collections, bbox, interval, limit)
                self._json({"type": "FeatureCollection", "features": found,
                            "links": [{"rel": "root", "href": f"{BASE}/"}]})

            def _file(self, path: str, head: bool) -> None:
                f = server.catalogue.root / Path(path).name
                if not f.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                size = f.stat().st_size
                spec = self.headers.get("Range")
                if not spec or not spec.startswith("bytes="):
                    data = b"" if head else f.read_bytes()
                    self.send_response(200)
                    self.send_header("Accept-Ranges", "bytes")
                    self.send_header("Content-Length", str(size))
                    self.send_header("Content-Type", "image/tiff")
                    self.end_headers()
                    if not head:
                        server._record(path, 0, size - 1, size)
                        self.wfile.write(data)
                    return
                ranges = []
                for part in spec[len("bytes="):].split(","):
                    a, _, b = part.strip().partition("-")
                    first = int(a) if a else max(0, size - int(b))
                    last = min(size - 1, int(b)) if a and b else size - 1
                    ranges.append((first, last))
                with open(f, "rb") as fh:
                    chunks = []
                    for first, last in ranges:
                        fh.seek(first)
                        chunks.append(fh.read(last - first + 1))
                if len(ranges) == 1:
                    (first, last), data = ranges[0], chunks[0]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                    self.send_header("Content-Type", "image/tiff")
                else:
                    boundary = "RANGEBOUNDARY"
                    parts = []
                    for (first, last), chunk in zip(ranges, chunks, strict=True):
                        parts.append(f"--{boundary}\r\nContent-Type: image/tiff\r\nContent-Range: bytes "
                                     f"{first}-{last}/{size}\r\n\r\n".encode() + chunk + b"\r\n")
                    data = b"".join(parts) + f"--{boundary}--\r\n".encode()
                    self.send_response(206)
                    self.send_header("Content-Type", f"multipart/byteranges; boundary={boundary}")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    for (first, last), chunk in zip(ranges, chunks, strict=True):
                        server._record(path, first, last, len(chunk))
                    self.wfile.write(data)

        return Handler


def landing() -> dict:
    """The STAC API landing page."""
    return {
        "type": "Catalog", "stac_version": "1.0.0", "id": "eurosat-test", "description": "Offline test API",
        "conformsTo": CONFORMS,
        "links": [
            {"rel": "self", "href": f"{BASE}/", "type": "application/json"},
            {"rel": "root", "href": f"{BASE}/", "type": "application/json"},
            {"rel": "conformance", "href": f"{BASE}/conformance", "type": "application/json"},
            {"rel": "search", "href": f"{BASE}/search", "type": "application/geo+json", "method": "GET"},
            {"rel": "search", "href": f"{BASE}/search", "type": "application/geo+json", "method": "POST"},
        ],
    }


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
