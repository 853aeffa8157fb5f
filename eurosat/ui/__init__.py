"""The only part of the package that imports Streamlit: cached loaders, state keys, widgets."""
