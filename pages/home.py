"""Home: what the app does and how good the model in use is."""

import streamlit as st

from eurosat.registry import model_facts
from eurosat.ui.frame import ensure_frame
from eurosat.ui.loaders import current_model

ensure_frame()
st.title("EuroSAT land-cover dashboard")
st.markdown(
    """
Classify **land use / land cover** in Sentinel-2 imagery with a light ResNet trained from scratch
on EuroSAT RGB (10 classes, 64×64 px tiles at 10 m).

- **Map** — draw a rectangle over a Sentinel-2 scene; every cell inside (32 px by default, or whole
  64×64 tiles, or 16 px) is classified and shown as a class map, with the dominant class, the class
  distribution and GIS exports (COG, QGIS style, probabilities). Cloud, shadow and no-data cells are
  masked, and cells the model is unsure of are marked *Uncertain*.
- **Upload** — classify your own image (JPEG/PNG/TIFF): top classes with probabilities.
- **Compare** — what changed between two dates of the same area: change map, from→to matrix, flows.
- **Accuracy** — how right is a class map: label a random sample of its cells by eye, get its accuracy
  and each class's error-adjusted area with 95 % intervals (Olofsson et al. 2014).
- **Data** — the EuroSAT pool and split, images and colours per class, the training augmentations,
  and how your imagery compares with EuroSAT.
- **Explain** — Grad-CAM heatmaps: which pixels made the model choose a class.
- **Model analysis** — where and why the model fails: clickable confusion matrix with the images,
  ROC / precision-recall curves, calibration, an embedding map, the network.
- **Train** — retrain the model in the background, watch it learn, compare runs, and promote one.
"""
)
info = current_model()
facts = model_facts(info.metrics)
rule = info.thresholds
st.subheader("Model in use")
if not info.metrics:
    st.warning(f"No metrics found for the model in `{info.directory}`.")
else:
    cols = st.columns(5)
    cols[0].metric("Parameters", f"{facts.parameters:,}" if facts.parameters is not None else "?")
    cols[1].metric("MFLOPs / tile", f"{facts.mflops_served:.0f}" if facts.mflops_served is not None else "?",
                   help="Of the single-pass TFLite model every page runs"
                   + (" (an 8-view file, 8× slower, ships beside it)" if facts.tta_file else ""))
    if facts.test_accuracy is not None:
        cols[2].metric("Test accuracy (TFLite)", f"{facts.test_accuracy:.2%}")
    if facts.test_accuracy_int8 is not None:
        cols[3].metric("Test accuracy (int8)", f"{facts.test_accuracy_int8:.2%}")
    if facts.test_ece is not None:
        cols[4].metric("Calibration error (ECE)", f"{facts.test_ece:.3f}",
                       help=f"Temperature {facts.temperature:.3f} fitted on validation, inside the files: a "
                       "tile shown at 90 % is right about 90 % of the time (on EuroSAT-like imagery)."
                       if facts.temperature is not None else None)
    st.caption(f"{info.label} — files in `{info.directory}`. Maps show a tile as land only with ≥ "
               f"{rule.min_clear:.0%} clear pixels and a calibrated probability ≥ "
               f"{rule.min_probability:.2f}; otherwise Cloud / no data or Uncertain.")
