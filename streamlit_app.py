"""EuroSAT land-cover dashboard: router and shared chrome only."""

import streamlit as st

from eurosat.ui.frame import draw_frame

draw_frame()
pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/map.py", title="Map", icon=":material/map:"),
    st.Page("pages/upload.py", title="Upload", icon=":material/upload:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/accuracy.py", title="Accuracy", icon=":material/fact_check:"),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/visibility:"),
    st.Page("pages/analysis.py", title="Model analysis", icon=":material/analytics:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
]
st.navigation(pages).run()
