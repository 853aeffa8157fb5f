"""Explain: class-activation heatmaps (Grad-CAM & co.) for one 64×64 tile; TensorFlow loads lazily."""

import numpy as np
import streamlit as st

from eurosat.classes import CLASS_NAMES
from eurosat.errors import ImageError, ModelLoadError
from eurosat.explain import METHODS, colorbar, enlarge, heatmap_image, overlay
from eurosat.images import RESIZE, decode_image, prepare, tile_choices
from eurosat.ui.frame import ensure_frame
from eurosat.ui.loaders import get_explainer
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE, MAP_RESULT
from eurosat.ui.widgets import second_opinion_panel

FROM_UPLOAD = "Image sent from the Upload page"
FROM_MAP = "A tile of the classified area (Map page)"
HERE = "Upload a tile here"

ensure_frame()
st.title("Explain")
st.markdown(
    "Which pixels made the model choose a class? **Grad-CAM** weighs the last feature maps by the "
    "gradient of the class score, **Grad-CAM++** by a refined weighting that separates several "
    "objects of a class, **Score-CAM** by how much each feature map alone raises the class "
    "probability (no gradients; slower). Red marks the strongest evidence."
)

sources = [FROM_UPLOAD] if st.session_state[EXPLAIN_IMAGE] is not None else []
area = st.session_state[MAP_RESULT]
if area is not None and 0 < len(area.tiles) == len(area.probs):  # tiles kept with the result
    sources.append(FROM_MAP)
sources.append(HERE)
source = st.radio("Image to explain", sources, horizontal=True, key="explain_source_choice")

image, where = None, ""
if source == FROM_UPLOAD:
    image, where = st.session_state[EXPLAIN_IMAGE], st.session_state[EXPLAIN_SOURCE]
elif source == FROM_MAP:
    options = tile_choices(area)
    label = st.selectbox("Tile of the classified area (most confident first)", list(options), key="map_tile")
    idx = options[label]
    image, where = area.tiles[idx], f"Map area, {area.tile_label(idx)}"
else:
    up = st.file_uploader(
        "A 64 × 64 image (a larger one is resized to 64 × 64; to explain one of its tiles, use Upload)",
        type=["jpg", "jpeg", "png", "tif", "tiff"],
        key="explain_file",
    )
    if up is not None:
        try:
            decoded = decode_image(up.getvalue(), up.name)
            prepared = prepare(decoded.rgb, RESIZE)
        except ImageError as exc:
            st.error(str(exc))
            st.stop()
        for note in decoded.notes + prepared.notes:
            st.warning(note, icon="ℹ️")
        image, where = prepared.tiles[0], up.name

if image is None:
    st.info(
        "Upload a 64 × 64 image here, send one from the **Upload** page (“Explain this image”), or "
        "classify an area on the **Map** page to explain its tiles."
    )
    st.stop()

try:
    explainer = get_explainer()
except ModelLoadError as exc:
    st.error(str(exc))
    st.stop()
probs = explainer.predict(image)
pred = int(probs.argmax())
by_prob = [int(c) for c in np.argsort(-probs, kind="stable")]

c1, c2, c3 = st.columns(3)
method = c1.radio("Method", list(METHODS), format_func=METHODS.get, horizontal=True, key="explain_method")
class_options = {f"{CLASS_NAMES[c]} — {probs[c]:.1%}{' (predicted)' * (c == pred)}": c for c in by_prob}
cls = class_options[c2.selectbox("Class to explain", list(class_options))]
opacity = c3.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="explain_opacity")

if method != "gradcam":
    st.warning(
        f"{METHODS[method]} is shown for comparison: on test tiles made of half Forest and half SeaLake "
        "it put most of the Forest evidence on the water half, where Grad-CAM put it on the "
        "forest half (`benchmarks/gradcam_evidence.py`). Prefer Grad-CAM."
    )
with st.spinner(f"Computing {METHODS[method]}…"):
    heat = explainer.heatmap(image, cls, method)

a, b, c = st.columns(3)
a.image(enlarge(image), caption=f"Input: {where}", width="stretch")
b.image(heatmap_image(heat), caption=f"{METHODS[method]} for {CLASS_NAMES[cls]}", width="stretch")
b.image(colorbar(), caption="no evidence → strongest evidence", width="stretch")
c.image(overlay(image, heat, opacity), caption=f"Overlay (opacity {opacity:.0%})", width="stretch")
if heat.max() == 0:
    st.warning(f"No part of this image speaks for {CLASS_NAMES[cls]}: the map is empty.")
h, w, k = explainer.feature_shape
st.caption(
    f"Keras model: **{CLASS_NAMES[pred]}** ({probs[pred]:.1%}). Layer explained: `{explainer.layer}`, the "
    f"{h} × {w} × {k} output of the last feature map; each cell covers {64 // h} × {64 // w} px "
    f"({640 // h} m), upsampled bilinearly. Colours: dark = no evidence, red = strongest; every map is "
    "scaled to its own maximum."
)
second_opinion_panel(image, overlay(image, heat, 0.5), CLASS_NAMES[pred], float(probs[pred]))
