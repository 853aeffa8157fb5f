"""Compare page helpers: the two dates, the request, the stored change result, and its panels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit_folium import st_folium

from eurosat import change, change_charts, config, maps
from eurosat.errors import GeoError
from eurosat.geo import BBox
from eurosat.tiling import MAX_TILES_PER_AREA
from eurosat.ui.loaders import current_model, get_classifier
from eurosat.ui.map_helpers import save_upload, scene_info, scene_overlay
from eurosat.ui.state import COMPARE_RESULT

KEY = "compare_w_"
DEMO = "Demo: an edited copy of the first date (synthetic)"
UPLOAD = "My GeoTIFF"


@dataclass(frozen=True)
class Request:
    """What to compare: two files, an optional rectangle, the change rule."""

    before: str
    after: str
    bbox: BBox | None
    rule: change.ChangeRule


def demo_after(before: Path) -> Path:
    """A second date made from ``before`` (:func:`eurosat.synthetic.edited_copy`, seed 5): 24 tiles
    replaced by other tiles of the scene, gain 1.04, offset +2, noise σ 1.5, a 12 × 20 px grid shift."""
    import rasterio

    from eurosat.synthetic import edited_copy

    with rasterio.open(before) as src:
        rgb = np.moveaxis(src.read([1, 2, 3]), 0, -1)
        profile = {**src.profile, "count": 3}
    rows, cols = rgb.shape[0] // 64, rgb.shape[1] // 64
    rng = np.random.default_rng(5)
    cells = rng.choice(rows * cols, size=min(48, rows * cols), replace=False)
    moves = [((int(t // cols), int(t % cols)), (int(f // cols), int(f % cols)))
             for t, f in zip(cells[:24], cells[24:], strict=False)]
    after, (dy, dx) = edited_copy(rgb, moves, seed=5)
    t = profile["transform"]
    profile.update(height=after.shape[0], width=after.shape[1],
                   transform=rasterio.Affine(t.a, 0, t.c + dx * t.a, 0, t.e, t.f + dy * t.e))
    from rasterio.io import MemoryFile

    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(np.moveaxis(after, -1, 0))
        data = mem.read()
    return save_upload(f"demo_after_{before.stem}.tif", data)


def pick_dates() -> tuple[Path, Path]:
    """Sidebar: the first date (shipped scene or a GeoTIFF) and the second (a GeoTIFF or the demo).

    Raises:
        GeoError: a date is missing.
    """
    with st.sidebar.expander("First date", expanded=True):
        up = st.file_uploader("GeoTIFF (default: the shipped scene)", type=["tif", "tiff"],
                              key=f"{KEY}before")
        before = save_upload(up.name, up.getvalue()) if up is not None else config.default_scene()
        if up is None and not before.is_file():
            raise GeoError(f"The shipped scene is missing ({before}); open a GeoTIFF for the first date.")
    with st.sidebar.expander("Second date", expanded=True):
        kind = st.radio("Source", [UPLOAD, DEMO], key=f"{KEY}after_kind", index=1,
                        help="The demo is the first date with tiles moved, another radiometry and a shifted "
                             "grid: a known answer to try the page with.")
        if kind == UPLOAD:
            up2 = st.file_uploader("GeoTIFF of the same area", type=["tif", "tiff"], key=f"{KEY}after")
            if up2 is None:
                raise GeoError("Open a GeoTIFF of the same area for the second date (or pick the demo).")
            after = save_upload(up2.name, up2.getvalue())
        else:
            after = demo_after(before)
    return before, after


def rule_and_area(before: Path) -> tuple[change.ChangeRule, BBox | None, bool]:
    """Sidebar: the change rule, optional rectangle; the main-panel compare button."""
    gain = st.sidebar.slider(
        "Minimum probability gain for a change", 0.0, 1.0, float(change.DEFAULT_MIN_GAIN), 0.05,
        key=f"{KEY}gain",
        help="A tile counts as changed only if the new class's probability rose at least this much.")
    spectral = st.sidebar.slider(
        "Minimum colour change (0-255 scale)", 0.0, 40.0, float(change.DEFAULT_MIN_SPECTRAL), 1.0,
        key=f"{KEY}spectral",
        help="…and its colour really changed: band means and spreads, after matching the second date's "
             "radiometry to the first over the whole area. A classifier flips some tiles when only the "
             "light changed; this catches that.")
    info = scene_info(before)
    w, s, e, n = info.bounds_lonlat
    with st.sidebar.expander("Rectangle (lon/lat °; empty: the whole overlap)"):
        use = st.checkbox("Only this rectangle", False, key=f"{KEY}use_bbox")
        c1, c2 = st.columns(2)
        west = c1.number_input("West", value=round(w + (e - w) / 4, 5), format="%.5f", key=f"{KEY}w")
        east = c2.number_input("East", value=round(e - (e - w) / 4, 5), format="%.5f", key=f"{KEY}e")
        south = c1.number_input("South", value=round(s + (n - s) / 4, 5), format="%.5f", key=f"{KEY}s")
        north = c2.number_input("North", value=round(n - (n - s) / 4, 5), format="%.5f", key=f"{KEY}n")
    bbox = (float(west), float(south), float(east), float(north)) if use else None
    go = st.button("Compare the two dates", type="primary", key=f"{KEY}go")
    return change.ChangeRule(gain, spectral), bbox, go


def run(request: Request) -> change.ChangeResult:
    """Classify both dates with the app's model and compare them; the result is stored.

    Raises:
        EuroSATError: a pair or rectangle that cannot be compared, or the model cannot be loaded.
    """
    with st.spinner("Aligning the second date and classifying both…"):
        info = current_model()
        result = change.detect_change(Path(request.before), Path(request.after), get_classifier(),
                                      request.bbox, thresholds=info.thresholds,
                                      rule=request.rule, max_tiles=MAX_TILES_PER_AREA,
                                      provenance=info.provenance())
    st.session_state[COMPARE_RESULT] = (request, result)
    return result


def stored(before: Path, after: Path, rule: change.ChangeRule) -> change.ChangeResult | None:
    """The stored result of these two files, under the current rule (no reclassification)."""
    value = st.session_state.get(COMPARE_RESULT)
    if not value:
        return None
    request, result = value
    if (request.before, request.after) != (str(before), str(after)):
        return None
    from dataclasses import replace

    return replace(result, rule=rule)


def _map(path: Path, layer, key: str) -> None:
    url, bounds = scene_overlay(path, scene_info(path).default_spec())
    m = maps.scene_map(url, bounds, scene_info(path).attribution, draw=False)
    st_folium(m, key=key, height=380, use_container_width=True, returned_objects=[],
              feature_group_to_add=layer)


def render(result: change.ChangeResult, before: Path, after: Path) -> None:
    """Summary, the two class maps, the change map, matrix, Sankey and downloads."""
    s = result.summary()
    c = st.columns(4)
    c[0].metric("Tiles compared", f"{s['comparable_tiles']:,} of {s['tiles']:,}",
                f"{s['comparable_share']:.0%} comparable", delta_color="off", delta_arrow="off")
    c[1].metric("Changed", f"{s['changed_tiles']:,} tiles", f"{s['changed_km2']:.2f} km²",
                delta_color="off", delta_arrow="off")
    c[2].metric("Share of the comparable area", f"{s['changed_share_of_comparable']:.1%}")
    c[3].metric("Rule", f"gain ≥ {result.rule.min_gain:.2f}", f"colour change ≥ {result.rule.min_spectral:g}",
                delta_color="off", delta_arrow="off")
    st.caption("Not comparable: cloud, no data or uncertain on either date (the same masks and rule as the "
               "Map page). Only comparable tiles enter the matrix.")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**First date** — {before.name}")
        _map(before, maps.result_layer(result.before), f"{KEY}map_before")
    with right:
        st.markdown(f"**Second date** — {after.name} (on the first date's grid)")
        _map(before, maps.result_layer(result.after), f"{KEY}map_after")
    st.markdown("**Change** — changed tiles outlined, coloured by their new class")
    _map(before, maps.change_layer(result), f"{KEY}map_change")
    c1, c2 = st.columns(2)
    c1.plotly_chart(change_charts.matrix_figure(result), key=f"{KEY}matrix")
    c2.plotly_chart(change_charts.sankey_figure(result), key=f"{KEY}sankey")
    flows = result.flows()
    if len(flows):
        st.dataframe(flows.rename(columns={"area_km2": "area (km²)"}), hide_index=True,
                     column_config={"area (km²)": st.column_config.NumberColumn(format="%.2f")})
    stem = f"{before.stem}_to_{after.stem}"
    d1, d2, d3 = st.columns(3)
    d1.download_button("Change GeoTIFF", lambda: change.change_geotiff_bytes(result), f"{stem}_change.tif",
                       "image/tiff", key=f"{KEY}dl_tif", on_click="ignore")
    d2.download_button("Changed tiles (GeoJSON)", lambda: json.dumps(change.changed_geojson(result)).encode(),
                       f"{stem}_changed.geojson", "application/geo+json", key=f"{KEY}dl_geojson",
                       on_click="ignore")
    d3.download_button("Matrix (CSV)", lambda: change.matrix_csv(result).encode(), f"{stem}_matrix.csv",
                       "text/csv", key=f"{KEY}dl_csv", on_click="ignore")
