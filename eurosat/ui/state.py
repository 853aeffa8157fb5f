"""Session-state keys as named constants, and one ``init_state()``."""

from __future__ import annotations

import streamlit as st

# Results that must survive a page switch (non-widget keys).
MAP_RESULT = "map_result"  # eurosat.tiling.AreaResult of the last classified area
MAP_SCENE = "map_scene"  # path of the scene in use on the Map page
MAP_BBOX = "map_bbox"  # last drawn rectangle (west, south, east, north) in lon/lat
UPLOAD_RESULTS = "upload_results"  # list of per-file results on the Upload page
EXPLAIN_IMAGE = "explain_image"  # uint8 (64, 64, 3) image handed to the Explain page
EXPLAIN_SOURCE = "explain_source"  # text saying where that image came from

_DEFAULTS: dict[str, object] = {
    MAP_RESULT: None,
    MAP_SCENE: None,
    MAP_BBOX: None,
    UPLOAD_RESULTS: [],
    EXPLAIN_IMAGE: None,
    EXPLAIN_SOURCE: "",
}


def init_state() -> None:
    """Create every key with its default once per session."""
    for key, value in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, list) else value
