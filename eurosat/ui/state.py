"""Session-state keys as named constants, and one ``init_state()``."""

from __future__ import annotations

import streamlit as st

# Results that must survive a page switch (non-widget keys).
MAP_RESULT = "map_result"  # eurosat.tiling.AreaResult of the last classified area
MAP_SHOWN = "map_shown"  # that result under the thresholds the Map page last showed it with
MAP_SCENE = "map_scene"  # path of the scene in use on the Map page
MAP_BBOX = "map_bbox"  # last drawn rectangle (west, south, east, north) in lon/lat
MAP_IMAGERY = "map_imagery"  # eurosat.sources.Imagery last fetched from a STAC catalogue
MAP_DRAWING = "map_drawing"  # st_folium's last value ({"last_active_drawing": GeoJSON}), set by its on_change
MAP_WIDGET = "map_w_"  # prefix of the Map page's widget keys (suffixed with the scene id)
UPLOAD_RESULTS = "upload_results"  # list of per-file results on the Upload page
EXPLAIN_IMAGE = "explain_image"  # uint8 (64, 64, 3) image handed to the Explain page
EXPLAIN_SOURCE = "explain_source"  # text saying where that image came from
TRAIN_LIVE_RUN = "train_live_run"  # name of the run the Train page's live view last saw running
TRAIN_NOTICE = "train_notice"  # one-off (kind, text) on the Train page: run ended, model promoted
COMPARE_RESULT = "compare_result"  # (request, eurosat.change.ChangeResult) of the Compare page
ACCURACY = "accuracy_sample"  # (AreaResult, eurosat.accuracy.Sample, position) of the Accuracy page

_DEFAULTS: dict[str, object] = {
    MAP_RESULT: None,
    MAP_SHOWN: None,
    MAP_SCENE: None,
    MAP_BBOX: None,
    MAP_IMAGERY: None,
    UPLOAD_RESULTS: [],
    EXPLAIN_IMAGE: None,
    EXPLAIN_SOURCE: "",
    TRAIN_LIVE_RUN: None,
    TRAIN_NOTICE: None,
    COMPARE_RESULT: None,
    ACCURACY: None,
}


def init_state() -> None:
    """Create every key with its default once per session."""
    for key, value in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, list) else value
