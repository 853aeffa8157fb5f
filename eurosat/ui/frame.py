"""The shared frame of every page: page config, session state, the model sidebar.

The router (``streamlit_app.py``) draws it once per run. A page opened by a deep link on a
fresh server can be run by Streamlit's legacy ``pages/`` handling without the router
(Streamlit keeps that mode until the first ``st.navigation`` call of the process); each page
therefore calls :func:`ensure_frame`, which draws the frame only when the router did not.
"""

from __future__ import annotations

import os

import streamlit as st

# GDAL's raster block cache, capped for the app's process as the CLI caps it (MB): a huge upload read
# decimated must not leave the server holding gigabytes. Read by GDAL on first use, so set first.
os.environ.setdefault("GDAL_CACHEMAX", "64")

from eurosat.ui.state import init_state
from eurosat.ui.widgets import model_sidebar

_ROUTED = "_frame_drawn_by_router"


def draw_frame(routed: bool = True) -> None:
    """Page config, state defaults and the sidebar saying which model is in use."""
    st.set_page_config(page_title="EuroSAT land cover", page_icon=":material/satellite_alt:",
                       layout="wide")
    init_state()
    model_sidebar()
    st.session_state[_ROUTED] = routed


def ensure_frame() -> None:
    """Called first by every page: draw the frame if the router did not in this run."""
    if not st.session_state.pop(_ROUTED, False):
        draw_frame(routed=False)
