"""Accuracy: how right is the Map page's class map, and how much of each class is really there.

Draw a stratified random sample of the map's cells, label them by eye (or in a CSV), and get the
overall, user's and producer's accuracy and each class's error-adjusted area with 95 % intervals
(:mod:`eurosat.accuracy`, Olofsson et al. 2014).
"""

import streamlit as st

from eurosat.ui import accuracy_helpers as ah
from eurosat.ui.frame import ensure_frame

ensure_frame()
st.title("Accuracy — how right is the map, and how much of each class is there")
st.caption(
    "Areas counted off a map carry its errors. Label a random sample of its cells from the imagery, and the "
    "page estimates the map's accuracy and each class's area with confidence intervals — the good practice "
    "of Olofsson et al. (2014). The sample is stratified by the map's classes and its Uncertain cells; "
    "cloud / no-data cells are left out."
)
current = ah.current_map()
held = ah.stored()
if current is None and held is None:
    st.info("Classify an area on the Map page first: its class map is what gets assessed.")
    st.page_link("pages/map.py", label="Go to the Map page", icon=":material/map:")
    st.stop()

st.subheader("1 · Sample")
if current is not None:
    ah.design_panel(current)
else:
    st.caption("The Map page holds no classified area now; the sample below belongs to the map it was "
               "drawn from.")
if held is None:
    st.stop()
result, sample, pos = held
if current is not None and not ah.same_map(current, result):
    st.info("This sample was drawn from an earlier map (another area, cell size or thresholds); its labels "
            "and estimates belong to that map. Draw a new sample to assess the one on the Map page now.")
st.subheader("2 · Label")
ah.label_panel(result, sample, pos)
st.subheader("3 · Estimates")
ah.results_panel(result, sample)
