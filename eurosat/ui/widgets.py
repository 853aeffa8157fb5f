"""Small shared widgets."""

from __future__ import annotations

import streamlit as st

from eurosat.classes import ATTRIBUTION
from eurosat.registry import active_model


def model_sidebar() -> None:
    """Sidebar block saying which model is in use (on every page)."""
    info = active_model()
    with st.sidebar:
        st.markdown("**Model in use**")
        st.caption(info.label)
        if info.warning:
            st.warning(info.warning)
        if not info.tflite.is_file():
            st.error(f"Model file missing: {info.tflite}")
        st.caption(f"{ATTRIBUTION}. EuroSAT: Helber et al., 2019 (MIT licence).")
