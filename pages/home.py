"""Home: what the app does and how good the model in use is."""

import streamlit as st

from eurosat.ui.frame import ensure_frame
from eurosat.ui.loaders import current_model

ensure_frame()
st.title("EuroSAT land-cover dashboard")
st.markdown(
    """
Classify **land use / land cover** in Sentinel-2 imagery with a light ResNet trained from scratch
on EuroSAT RGB (10 classes, 64×64 px tiles at 10 m).

- **Map** — draw a rectangle over a Sentinel-2 scene; every 64×64 tile inside is classified and
  shown as a class map, with the dominant class, the class distribution and GIS exports.
- **Upload** — classify your own image (JPEG/PNG/TIFF): top classes with probabilities.
- **Explain** — Grad-CAM heatmaps: which pixels made the model choose a class.
- **Train** — retrain the model in the background, watch it learn, and promote a run.
"""
)
info = current_model()
metrics = info.metrics
st.subheader("Model in use")
if not metrics:
    st.warning(f"No metrics found for the model in `{info.directory}`.")
else:
    cols = st.columns(4)
    test = metrics.get("test", {})
    cols[0].metric("Parameters", f"{metrics.get('parameters', 0):,}")
    flops = metrics.get("flops_per_tile_exported", metrics.get("flops_per_tile", 0))
    cols[1].metric("MFLOPs / tile", f"{flops / 1e6:.0f}",
                   help="Of the TFLite model the app runs" + (
                       f": the network ({metrics['flops_per_tile'] / 1e6:.0f} M) on 8 flips/rotations of "
                       "each tile, averaged (test-time augmentation)" if metrics.get("tta") else ""))
    if "tflite_dynamic" in test:
        cols[2].metric("Test accuracy (TFLite)", f"{test['tflite_dynamic']['accuracy']:.2%}")
    if "tflite_int8" in test:
        cols[3].metric("Test accuracy (int8)", f"{test['tflite_int8']['accuracy']:.2%}")
    st.caption(f"{info.label} — files in `{info.directory}`")
