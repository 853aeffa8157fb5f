"""EuroSAT land-cover dashboard: router and shared chrome only."""

import streamlit as st

from eurosat.ui.state import init_state
from eurosat.ui.widgets import model_sidebar

st.set_page_config(page_title="EuroSAT land cover", page_icon="🛰️", layout="wide")
init_state()
model_sidebar()

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/map.py", title="Map", icon="🗺️"),
    st.Page("pages/upload.py", title="Upload", icon="📤"),
    st.Page("pages/explain.py", title="Explain", icon="🔍"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
]
st.navigation(pages).run()
