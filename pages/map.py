"""Map: draw a rectangle over a Sentinel-2 scene; every cell inside is classified (cells of 64, 32 or
16 px; below 64 each blends the overlapping 64×64 windows covering it).

The imagery is a GeoTIFF (the shipped scene or the user's file), or Sentinel-2 fetched from a STAC
catalogue for the drawn rectangle. The drawn rectangle reaches the logic through
``st.session_state[MAP_DRAWING]`` (see ``eurosat.ui.map_helpers``), read before the map is drawn,
so the class map shows at once.
"""

import streamlit as st

from eurosat.cells import window_grid_shape
from eurosat.errors import EuroSATError
from eurosat.tiling import MAX_TILES_PER_AREA
from eurosat.ui import map_helpers as mh
from eurosat.ui.frame import ensure_frame
from eurosat.ui.state import MAP_WIDGET

ensure_frame()
st.title("Map — land cover of an area")
st.caption(
    "Draw a rectangle with the ▭ tool (top left of the map): every whole cell inside it is classified "
    "by the model (cells of 32 px = 320 m by default, each the mean of the 64×64-pixel windows covering "
    "it; 64 px gives whole 640 m tiles), and the class map appears over the scene. "
    "Grey cells are cloud / no data, dashed pale ones uncertain: neither is counted as land. "
    "Hover a cell for its class, calibrated probability and clear pixels."
)

source = mh.pick_source()
stac = source == mh.SOURCE_STAC
try:
    if stac:
        settings = mh.stac_controls()
    else:
        path = mh.pick_scene()
        info = mh.scene_info(path)
        spec = mh.band_controls(info)
except EuroSATError as exc:
    st.error(str(exc))
    st.stop()

basemap = st.sidebar.checkbox(
    "Online base map (OpenStreetMap)", value=stac, key=f"{MAP_WIDGET}basemap{'_stac' if stac else ''}",
    help="Needs the internet. The imagery itself is shown without it.",
)
opacity = st.sidebar.slider("Class map opacity", 0.0, 1.0, 0.55, 0.05, key=f"{MAP_WIDGET}opacity")
stride = mh.stride_control()
honesty = mh.honesty_controls()

if stac:
    imagery = mh.current_imagery()
    typed = mh.typed_bbox(mh.stac_view_bounds(imagery), mh.STAC_SCENE)
    try:
        bbox = mh.stac_request(settings, typed)
        if bbox is not None:
            imagery = mh.fetch_stac(settings, bbox)
            mh.classify(imagery.path, ("area", bbox), imagery.spec, honesty, stride)
    except EuroSATError as exc:
        st.error(str(exc))
    imagery = mh.current_imagery()
    result = mh.current_result(imagery.path, honesty) if imagery is not None else None
else:
    typed = mh.typed_bbox(info.bounds_lonlat, info.path)
    if not info.pixel_size_ok:
        st.warning(f"This scene has {info.pixel_size_m:.0f} m pixels; the model was trained on 10 m "
                   "Sentinel-2 pixels, so its classes here are unreliable.")
    n_rows, n_cols = window_grid_shape(info.height, info.width, stride)
    n_windows = n_rows * n_cols
    whole = st.button(
        f"Classify the whole scene ({n_windows:,} {'tiles' if stride == 64 else 'windows'})",
        key=f"{MAP_WIDGET}whole", disabled=n_windows == 0 or n_windows > MAX_TILES_PER_AREA,
        help=None if n_windows <= MAX_TILES_PER_AREA else
        f"More than {MAX_TILES_PER_AREA:,} windows at this cell size: choose a coarser one, or use "
        "`python -m eurosat.classify` for this scene.",
    )
    try:
        request = mh.pending_request(path, spec, typed, whole, honesty, stride)
        if request is not None:
            mh.classify(path, request, spec, honesty, stride)
    except EuroSATError as exc:
        st.error(str(exc))
    result = mh.current_result(path, honesty)

col_map, col_result = st.columns([3, 2], gap="medium")
with col_map:
    try:
        if stac:
            mh.show_stac_map(imagery, basemap, result, opacity)
        else:
            mh.show_map(path, info, spec, basemap, result, opacity)
    except EuroSATError as exc:
        st.error(str(exc))
with col_result:
    if result is None:
        st.info("No area classified yet: draw a rectangle on the map or type one in the sidebar"
                + (" — the least cloudy Sentinel-2 item is fetched for it." if stac
                   else ", or classify the whole scene."))
    else:
        mh.render_result(result)
