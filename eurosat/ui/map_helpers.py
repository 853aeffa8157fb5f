"""Map page helpers: cached scene reading, controls, the map component, and the result panel.

How a drawn rectangle reaches the page logic (and how tests supply one): ``st_folium`` is
called with ``key=MAP_DRAWING``, so each time the user draws, streamlit-folium's ``on_change``
copies the component value ``{"last_active_drawing": <GeoJSON Feature>}`` into
``st.session_state[MAP_DRAWING]`` before the script reruns. :func:`pending_request` reads that
key *before* the map is built (the new class map then shows on the same run), and classifies
only when the rectangle differs from the last one (``MAP_BBOX``). An AppTest sets
``at.session_state[MAP_DRAWING]`` to a GeoJSON rectangle and runs the page: same path.

Two imagery sources (:func:`pick_source`): a GeoTIFF (the shipped scene or the user's file), or a
STAC search (:class:`eurosat.stac.StacSource`): a new rectangle is searched, the least cloudy
Sentinel-2 window is fetched into the disk cache (``MAP_IMAGERY``), and that file then takes the
GeoTIFF path: overlay, tiles, classes.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit_folium import st_folium

from eurosat import charts, config, exports, maps
from eurosat.classes import TILE_SIZE
from eurosat.decision import Thresholds
from eurosat.errors import GeoError
from eurosat.geo import BandSpec, BBox, SceneInfo, inspect_scene, open_raster, overlay_rgba
from eurosat.masks import DEFAULT_TESTS
from eurosat.serving import estimate_tiles
from eurosat.sources import Imagery
from eurosat.stac import CATALOGUES, DEFAULT_DAYS, DEFAULT_MAX_CLOUD, StacSource
from eurosat.tiling import MAX_TILES_PER_AREA, AreaResult
from eurosat.ui.loaders import current_model, get_classifier, get_workers, job_gate
from eurosat.ui.state import MAP_BBOX, MAP_DRAWING, MAP_IMAGERY, MAP_RESULT, MAP_SCENE, MAP_SHOWN, MAP_WIDGET
from eurosat.workers import JOBS

Request = tuple[str, BBox | None]  # ("area", bbox) or ("scene", None)
#: Most GeoTIFF uploads kept on disk by this server (oldest removed first).
MAX_KEPT_UPLOADS = 32


def _private_upload_dir() -> Path:
    """A folder of this server process only (mode 0700, removed when the process exits)."""
    folder = Path(tempfile.mkdtemp(prefix="eurosat_uploads_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


UPLOAD_DIR = _private_upload_dir()
SOURCE_LOCAL = "Shipped scene / my GeoTIFF"
SOURCE_STAC = "STAC search (Sentinel-2 anywhere)"
OTHER_CATALOGUE = "Other STAC API (type its URL)"
STAC_SCENE = "stac"  # MAP_SCENE while the STAC source is in use
#: Where the map opens for a STAC search before anything is fetched (Europe), lon/lat.
STAC_DEFAULT_VIEW: BBox = (-10.0, 36.0, 30.0, 60.0)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@st.cache_data(max_entries=16, show_spinner=False)
def _scene_info(path: str, mtime: float) -> SceneInfo:  # noqa: ARG001
    return inspect_scene(path)


def scene_info(path: Path) -> SceneInfo:
    """Validated description of a GeoTIFF (cached by path and modification time).

    Raises:
        GeoError: unusable file.
    """
    return _scene_info(str(path), _mtime(path))


@st.cache_data(max_entries=8, show_spinner="Preparing the scene picture…")
def _scene_overlay(path: str, mtime: float, bands: tuple[int, int, int], offset: bool) -> tuple[str, BBox]:  # noqa: ARG001
    with open_raster(path) as src:
        rgba, bounds = overlay_rgba(src, BandSpec(bands, offset))
    return maps.image_data_url(rgba), bounds


def scene_overlay(path: Path, spec: BandSpec) -> tuple[str, BBox]:
    """(data URL of the scene picture in Web Mercator, its lon/lat bounds), cached."""
    return _scene_overlay(str(path), _mtime(path), spec.bands, spec.offset)


def save_upload(name: str, data: bytes) -> Path:
    """Write an uploaded file to this server's private folder (one sub-folder per content hash).

    The write is atomic (a temporary file renamed into place), so a file is whole or absent, and a
    file whose size does not match the upload is written again. Only the newest
    :data:`MAX_KEPT_UPLOADS` uploads are kept. Returns the file's path.
    """
    folder = UPLOAD_DIR / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(name).name or "upload.tif")
    if not path.is_file() or path.stat().st_size != len(data):
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    os.utime(folder)
    _prune_uploads()
    return path


def _prune_uploads() -> None:
    folders = sorted((d for d in UPLOAD_DIR.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
    for old in folders[:-MAX_KEPT_UPLOADS]:
        shutil.rmtree(old, ignore_errors=True)


def _key(name: str, scene: Path | str) -> str:
    return f"{MAP_WIDGET}{name}_{hashlib.sha1(str(scene).encode()).hexdigest()[:8]}"


def pick_source() -> str:
    """Sidebar: where the imagery comes from (:data:`SOURCE_LOCAL` or :data:`SOURCE_STAC`)."""
    return st.sidebar.radio(
        "Imagery", (SOURCE_LOCAL, SOURCE_STAC), key=f"{MAP_WIDGET}source",
        help="A GeoTIFF (the shipped Sentinel-2 scene, or a file you open), or Sentinel-2 searched in a "
        "STAC catalogue for any rectangle you draw (needs the internet).",
    )


def _enter_scene(scene: str) -> None:
    """Forget the rectangle when the scene (or source) changes."""
    if st.session_state.get(MAP_SCENE) != scene:
        st.session_state[MAP_SCENE] = scene
        st.session_state[MAP_BBOX] = None
        st.session_state.pop(MAP_DRAWING, None)


def pick_scene() -> Path:
    """Sidebar: the shipped scene, or a GeoTIFF the user opens. Resets the area on a scene change.

    Raises:
        GeoError: the default scene is missing and nothing was uploaded.
    """
    upload = st.sidebar.file_uploader("Open another GeoTIFF", type=["tif", "tiff"], key=f"{MAP_WIDGET}upload",
                                      help="8-bit RGB, or 16-bit Sentinel-2 digital numbers; georeferenced.")
    if upload is not None:
        path = save_upload(upload.name, upload.getvalue())
    else:
        path = config.default_scene()
        if not path.is_file():
            raise GeoError(f"The default scene was not found at {path}. Set EUROSAT_DATA_DIR to the folder "
                           "holding sentinel2_scene.tif, or open a GeoTIFF in the sidebar.")
    _enter_scene(str(path))
    return path


def band_controls(info: SceneInfo) -> BandSpec:
    """Sidebar: red/green/blue bands (multi-band files) and the +1000 DN offset (16-bit files)."""
    spec = info.default_spec()
    if info.count == 3 and not info.is_dn:
        return spec
    scene = Path(info.path)
    with st.sidebar.expander("Bands and radiometry", expanded=True):
        options = list(range(1, info.count + 1))

        def label(b: int) -> str:
            d = info.descriptions[b - 1]
            return f"{b}: {d}" if d else f"band {b}"

        bands = tuple(
            st.selectbox(colour, options, index=spec.bands[i] - 1, format_func=label, key=_key(colour, scene))
            for i, colour in enumerate(("Red", "Green", "Blue"))
        )
        offset = False
        if info.is_dn:
            offset = st.checkbox(
                "Remove the +1000 DN offset (processing baseline ≥ 04.00, from 2022)", value=spec.offset,
                key=_key("offset", scene),
                help="Sentinel-2 products processed from 25 January 2022 on add 1000 to every DN. "
                + ("The file's metadata declares it." if info.offset_in_file
                   else "The file does not declare it."),
            )
            st.caption("16-bit values are scaled DN·255/2750 (the EuroSAT scale), clipped to 0–255.")
    return BandSpec(bands, offset)  # type: ignore[arg-type]


def typed_bbox(bounds: BBox, scene: str) -> BBox | None:
    """Sidebar form to classify a rectangle typed as coordinates; returns it when submitted.

    Args:
        bounds: lon/lat extent the default rectangle is centred in (the scene's, or the map view's).
        scene: the scene path or source name (widget keys).
    """
    w, s, e, n = st.session_state.get(MAP_BBOX) or _centre_box(bounds)
    with st.sidebar.expander("Or type a rectangle (lon/lat °)"), st.form(_key("coords", scene), border=False):
        c1, c2 = st.columns(2)
        west = c1.number_input("West", value=w, format="%.5f", step=0.001, key=_key("west", scene))
        east = c2.number_input("East", value=e, format="%.5f", step=0.001, key=_key("east", scene))
        south = c1.number_input("South", value=s, format="%.5f", step=0.001, key=_key("south", scene))
        north = c2.number_input("North", value=n, format="%.5f", step=0.001, key=_key("north", scene))
        if st.form_submit_button("Classify this rectangle"):
            return (float(west), float(south), float(east), float(north))
    return None


def _centre_box(bounds: BBox) -> BBox:
    w, s, e, n = bounds
    dx, dy = (e - w) / 6, (n - s) / 6
    cx, cy = (w + e) / 2, (s + n) / 2
    return (round(cx - dx, 5), round(cy - dy, 5), round(cx + dx, 5), round(cy + dy, 5))


def drawn_bbox() -> BBox | None:
    """The rectangle last drawn on the map (from ``st.session_state[MAP_DRAWING]``)."""
    value = st.session_state.get(MAP_DRAWING) or {}
    return maps.bbox_from_geojson(value.get("last_active_drawing") if isinstance(value, dict) else None)


def new_rectangle(typed: BBox | None) -> BBox | None:
    """A rectangle typed on this run, or one drawn since the last (remembered in ``MAP_BBOX``)."""
    if typed is not None:
        return typed
    drawn = drawn_bbox()
    if drawn is not None and drawn != st.session_state.get(MAP_BBOX):
        st.session_state[MAP_BBOX] = drawn
        return drawn
    return None


@dataclass(frozen=True)
class Honesty:
    """The sidebar's land / cloud / uncertain settings: the rule, and whether the cloud tests run."""

    thresholds: Thresholds
    cloud_tests: bool = True


def honesty_controls() -> Honesty:
    """Sidebar: minimum clear pixels, minimum calibrated probability, visible-band cloud tests."""
    default = current_model().thresholds
    with st.sidebar.expander("Cloud, no data and uncertain tiles", expanded=False):
        clear = st.slider(
            "Minimum clear pixels per tile (%)", 0, 100, int(round(default.min_clear * 100)), 5,
            key=f"{MAP_WIDGET}min_clear",
            help="A tile with fewer clear pixels (not cloud, haze, shadow or no data) is shown as "
                 "Cloud / no data and not counted as land.")
        prob = st.slider(
            "Minimum calibrated probability", 0.0, 1.0, float(default.min_probability), 0.01,
            key=f"{MAP_WIDGET}min_prob",
            help="A tile whose top class is less probable than this is shown as Uncertain. The default "
                 "is the model's own, chosen on its validation split: the lowest at which the tiles kept "
                 "are wrong at most 1 % of the time.")
        tests = st.checkbox(
            "Cloud and shadow tests on the visible bands", True, key=f"{MAP_WIDGET}cloud_tests",
            help="For imagery without a cloud mask (SCL). Bright white roofs can read as cloud; "
                 "switch off to see the model's answer everywhere.")
    return Honesty(Thresholds(clear / 100.0, float(prob)), tests)


#: The page's cell sizes (px) and their labels; the default is measured in benchmarks/finer_maps.py.
STRIDE_LABELS: dict[int, str] = {64: "64 px (whole tiles, fastest)", 32: "32 px (finer, ~2-4× the work)",
                                 16: "16 px (finest, ~8-16× the work)"}
DEFAULT_STRIDE: int = 32


def stride_control() -> int:
    """Sidebar: the cell size, i.e. the stride of the model's 64×64 windows (pixels)."""
    return int(st.sidebar.radio(
        "Cell size (window stride)", list(STRIDE_LABELS), index=list(STRIDE_LABELS).index(DEFAULT_STRIDE),
        format_func=STRIDE_LABELS.get, key=f"{MAP_WIDGET}stride",
        help="The model looks at 64×64-pixel windows. At 64 px each tile gets one answer; at 32 or 16 px "
             "the windows overlap and each smaller cell averages every window covering it, so shores and "
             "field edges follow the ground more closely, at more model work per km²."))


def pending_request(path: Path, spec: BandSpec, typed: BBox | None, whole: bool,
                    honesty: Honesty | None = None, stride: int | None = None) -> Request | None:
    """What to classify on this run, if anything: whole scene, a typed or newly drawn rectangle,
    or the current area again when the band, cloud-test or cell-size settings changed."""
    if whole:
        return ("scene", None)
    bbox = new_rectangle(typed)
    if bbox is not None:
        return ("area", bbox)
    result = current_result(path)
    tests_changed = (honesty is not None and result is not None
                     and result.provenance.get("cloud_tests") != _tests_word(honesty.cloud_tests))
    stride_changed = stride is not None and result is not None and result.cell != stride
    if result is not None and (result.spec != spec or tests_changed or stride_changed):
        return ("area", result.bbox) if result.bbox is not None else ("scene", None)
    return None


def _tests_word(on: bool) -> str:
    return "visible-band tests" if on else "off"


def classify(path: Path, request: Request, spec: BandSpec, honesty: Honesty | None = None,
             stride: int = TILE_SIZE) -> AreaResult:
    """Classify the requested area at ``stride`` with the active LiteRT model, store and return the result.

    Raises:
        EuroSATError: bad area or file, or the model cannot be loaded.
    """
    honesty = honesty or Honesty(current_model().thresholds)
    bar = st.progress(0.0, text="Classifying tiles…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(1, total), text=f"Classifying 64×64 windows… {done:,}/{total:,}")

    tests = DEFAULT_TESTS if honesty.cloud_tests else None
    provenance = {**current_model().provenance(), "cloud_tests": _tests_word(honesty.cloud_tests)}
    options: dict[str, Any] = dict(spec=spec, progress=progress, thresholds=honesty.thresholds, tests=tests,
                   provenance=provenance, stride=stride)
    try:
        kind, bbox = request
        info = scene_info(path)
        windows = estimate_tiles(bbox, (info.height // 64) * (info.width // 64)) * (TILE_SIZE // stride) ** 2
        args = (str(path),) if kind == "scene" else (str(path), bbox)
        if kind == "scene":
            options["max_tiles"] = MAX_TILES_PER_AREA
        workers = get_workers()
        with job_gate().job(windows):
            if workers is not None:  # in a worker process: no other user's job holds our GIL
                result = workers.run(kind, current_model().tflite, *args, n_tiles=windows, **options)
            else:  # the same job in this thread
                result = JOBS[kind](get_classifier(), *args, **options)
    finally:
        bar.empty()
    st.session_state[MAP_RESULT] = result
    return result


@dataclass(frozen=True)
class StacSettings:
    """The STAC search as set in the sidebar; ``again``: search the current rectangle again."""

    url: str
    collections: tuple[str, ...]
    dates: tuple[dt.date, dt.date]
    max_cloud: float
    again: bool = field(default=False, compare=False)

    def source(self) -> StacSource:
        """The :class:`eurosat.stac.StacSource` for these settings (cache: ``EUROSAT_STAC_CACHE``).

        Raises:
            EuroSATError: a URL that is not a web address, or no collection.
        """
        return StacSource(self.url, self.collections, self.dates, self.max_cloud)


def stac_controls() -> StacSettings:
    """Sidebar: catalogue (Earth Search, Planetary Computer or any URL), collections, dates, cloud limit."""
    _enter_scene(STAC_SCENE)
    with st.sidebar.expander("STAC search", expanded=True):
        names = [c.name for c in CATALOGUES.values()] + [OTHER_CATALOGUE]
        name = st.selectbox("Catalogue", names, key=f"{MAP_WIDGET}stac_catalogue")
        preset = next((c for c in CATALOGUES.values() if c.name == name), None)
        slug = hashlib.sha1(name.encode()).hexdigest()[:6]
        url = st.text_input("Catalogue URL", value=preset.url if preset else "",
                            key=f"{MAP_WIDGET}stac_url_{slug}", placeholder="https://…/stac/v1")
        cols = st.text_input(
            "Collections (preferred first)",
            value=", ".join(preset.collections) if preset else "sentinel-2-l1c",
            key=f"{MAP_WIDGET}stac_cols_{slug}",
            help="Searched in this order; the first with a usable item wins. EuroSAT is Level-1C: L1C first.")
        today = dt.date.today()
        dates = st.date_input("Dates", value=(today - dt.timedelta(days=DEFAULT_DAYS), today),
                              max_value=today, key=f"{MAP_WIDGET}stac_dates")
        max_cloud = st.slider("Cloud limit (%)", 0, 100, int(DEFAULT_MAX_CLOUD),
                              key=f"{MAP_WIDGET}stac_cloud",
                              help="Items with more cloud cover (eo:cloud_cover) are left out; the least "
                              "cloudy of the rest is used.")
        if preset is not None and preset.note:
            st.caption(preset.note)
        again = st.button("Search again for this rectangle", key=f"{MAP_WIDGET}stac_again",
                          disabled=current_imagery() is None,
                          help="Fetch the current rectangle again with these settings.")
    d = tuple(dates) if isinstance(dates, list | tuple) else (dates,)
    start, end = (d[0], d[-1]) if d else (today - dt.timedelta(days=DEFAULT_DAYS), today)
    return StacSettings(url.strip(), tuple(c.strip() for c in cols.split(",") if c.strip()), (start, end),
                        float(max_cloud), again)


def stac_request(settings: StacSettings, typed: BBox | None) -> BBox | None:
    """The rectangle to fetch on this run: typed, newly drawn, or the current one searched again."""
    bbox = new_rectangle(typed)
    imagery = current_imagery()
    if bbox is None and settings.again and imagery is not None:
        bbox = imagery.bbox
    return bbox


def fetch_stac(settings: StacSettings, bbox: BBox) -> Imagery:
    """Search the catalogue and fetch the imagery for ``bbox`` (disk-cached); store it in ``MAP_IMAGERY``.

    Raises:
        EuroSATError: catalogue unreachable or slow, no item, too cloudy, missing bands, bad rectangle.
    """
    with st.spinner("Searching the catalogue and reading the imagery (only the windows needed)…"):
        imagery = settings.source().fetch(bbox)
    st.session_state[MAP_IMAGERY] = imagery
    return imagery


def current_imagery() -> Imagery | None:
    """The last fetched STAC imagery, if its cached file is still there."""
    imagery = st.session_state.get(MAP_IMAGERY)
    return imagery if isinstance(imagery, Imagery) and Path(imagery.path).is_file() else None


def stac_view_bounds(imagery: Imagery | None) -> BBox:
    """Where the STAC map looks: the fetched image, else the shipped scene, else Europe."""
    if imagery is not None:
        return scene_info(Path(imagery.path)).bounds_lonlat
    scene = config.default_scene()
    if scene.is_file():
        try:
            return scene_info(scene).bounds_lonlat
        except GeoError:
            pass  # an unusable default scene: the Europe view is fine for a search
    return STAC_DEFAULT_VIEW


def show_stac_map(imagery: Imagery | None, basemap: bool, result: AreaResult | None,
                  opacity: float = maps.CLASS_OPACITY) -> None:
    """The map of the STAC source: the fetched image under the class map, or an empty map to draw on."""
    if imagery is not None:
        info = scene_info(Path(imagery.path))
        show_map(Path(imagery.path), info, imagery.spec, basemap, result, opacity)
        st.caption(imagery.meta.caption())
        for warning in imagery.meta.warnings:
            st.warning(warning)
        return
    m = maps.scene_map(None, stac_view_bounds(None), "", basemap=basemap)
    st_folium(m, key=MAP_DRAWING, height=560, use_container_width=True,
              returned_objects=["last_active_drawing"])
    st.caption("Draw a rectangle anywhere (turn on the online base map to find your place), or type one in "
               "the sidebar. Imagery: Copernicus Sentinel data, via the STAC catalogue.")


def current_result(path: Path, honesty: Honesty | None = None) -> AreaResult | None:
    """The stored result if it belongs to this scene, under the sidebar's thresholds when given."""
    result = st.session_state.get(MAP_RESULT)
    if isinstance(result, AreaResult) and result.scene_path == str(path):
        shown = result.with_thresholds(honesty.thresholds) if honesty is not None else result
        st.session_state[MAP_SHOWN] = shown  # what the Accuracy page assesses
        return shown
    return None


def show_map(
    path: Path, info: SceneInfo, spec: BandSpec, basemap: bool, result: AreaResult | None,
    opacity: float = maps.CLASS_OPACITY,
) -> None:
    """The scene map with the draw tool and, when there is a result, its class map (``opacity`` 0-1)."""
    url, bounds = scene_overlay(path, spec)
    m = maps.scene_map(url, bounds, info.attribution, basemap=basemap)
    layer = maps.result_layer(result, opacity) if result is not None else None
    st_folium(m, key=MAP_DRAWING, height=560, use_container_width=True,
              returned_objects=["last_active_drawing"], feature_group_to_add=layer)
    st.caption(f"{info.attribution}. Scene: {info.name}, {info.width}×{info.height} px, {info.crs_name}, "
               f"{info.pixel_size_m:.1f} m pixels.")


def render_result(result: AreaResult) -> None:
    """Dominant land class, how much was cloud / uncertain, distribution chart, tables, downloads."""
    summary = result.summary()
    status = result.status_summary()
    where = "whole scene" if result.bbox is None else "drawn area"
    if result.dominant_class is None:
        st.metric(f"Dominant class ({where})", "No land classified",
                  f"every {result.unit} is cloud / no data or uncertain", delta_color="off",
                  delta_arrow="off")
    else:
        top = summary.iloc[0]
        st.metric(f"Dominant class ({where})", result.dominant_class,
                  f"{top['share']:.0%} of {result.n_land:,} land {result.unit}s", delta_color="off",
                  delta_arrow="off")
    land, cloud, unsure = (status.iloc[i] for i in range(3))
    blend = "" if result.cell == TILE_SIZE else ", each the mean of the 64×64 windows covering it"
    st.caption(f"{result.n_tiles:,} {result.unit}s of {result.cell}×{result.cell} px{blend} "
               f"({result.total_area_km2:.2f} km²): "
               f"**{land['share']:.0%} classified land**, {cloud['share']:.0%} cloud / no data "
               f"({cloud['area_km2']:.2f} km²), {unsure['share']:.0%} uncertain "
               f"({unsure['area_km2']:.2f} km²). "
               f"Masks: {result.tile_quality.source}; a {result.unit} needs ≥ "
               f"{result.thresholds.min_clear:.0%} clear "
               f"pixels and a calibrated probability ≥ {result.thresholds.min_probability:.2f}. "
               f"{result.scene_name} · bands {result.spec.bands}")
    if len(summary):
        st.plotly_chart(charts.class_distribution_figure(summary))
        st.dataframe(
            summary.drop(columns="color").rename(
                columns={"area_km2": "area (km²)", "share": "share of land"}),
            hide_index=True,
            column_config={
                "share of land": st.column_config.NumberColumn(format="percent"),
                "area (km²)": st.column_config.NumberColumn(format="%.2f"),
            },
        )
    st.dataframe(
        status.drop(columns="color").rename(columns={"area_km2": "area (km²)", "share": "share of area"}),
        hide_index=True, key=f"{MAP_WIDGET}status_table",
        column_config={"share of area": st.column_config.NumberColumn(format="percent"),
                       "area (km²)": st.column_config.NumberColumn(format="%.2f")},
    )
    stem = Path(result.scene_name).stem + ("_area" if result.bbox is not None else "_scene")
    st.caption(f"Downloads: class map (Cloud-Optimised GeoTIFF, one value per {result.unit}: 0-9 classes, "
               "253 cloud / no data, 254 uncertain, 255 not classified; colour table and provenance tags) "
               "and its QGIS style (save it beside the GeoTIFF, same name), class probabilities (10-band "
               "COG, ×255), polygons with status, clear fraction and calibrated probabilities (GeoJSON), "
               "table (CSV).")
    c1, c2, c3, c4, c5 = st.columns(5)  # files made when clicked (callables), not on every rerun
    c1.download_button("GeoTIFF", lambda: exports.geotiff_bytes(result), f"{stem}_classes.tif",
                       "image/tiff", key=f"{MAP_WIDGET}dl_tif", on_click="ignore")
    c2.download_button("QGIS style", exports.qgis_style(), f"{stem}_classes.qml",
                       "application/xml", key=f"{MAP_WIDGET}dl_qml", on_click="ignore")
    c3.download_button("Probabilities", lambda: exports.probabilities_bytes(result), f"{stem}_probs.tif",
                       "image/tiff", key=f"{MAP_WIDGET}dl_probs", on_click="ignore")
    c4.download_button("GeoJSON", lambda: exports.geojson_bytes(result), f"{stem}_{result.unit}s.geojson",
                       "application/geo+json", key=f"{MAP_WIDGET}dl_geojson", on_click="ignore")
    c5.download_button("CSV", lambda: exports.csv_bytes(result), f"{stem}_{result.unit}s.csv", "text/csv",
                       key=f"{MAP_WIDGET}dl_csv", on_click="ignore")
