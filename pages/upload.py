"""Upload: classify your own images (LiteRT only: this page never imports TensorFlow)."""

import streamlit as st

from eurosat.classes import CLASS_NAMES
from eurosat.errors import ModelLoadError
from eurosat.image_charts import class_distribution, tile_class_grid, topk_bar
from eurosat.images import (
    MAX_PIXELS,
    MAX_TILES,
    RESIZE,
    TILES,
    UploadFailure,
    analyse_uploads,
    tile_choices,
)
from eurosat.ui.frame import ensure_frame
from eurosat.ui.loaders import current_model, get_classifier
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE, UPLOAD_RESULTS

MODE_LABELS = {TILES: "Cut into 64×64 tiles (default)", RESIZE: "Resize to one 64×64 tile"}

ensure_frame()
st.title("Upload")
st.markdown(
    "Classify your own **Sentinel-2 true-colour** images (JPEG, PNG, TIFF/GeoTIFF). The model was "
    "trained on 64 × 64 px EuroSAT tiles at 10 m per pixel: a 64 × 64 image goes in as is."
)
mode = st.radio(
    "Images larger than 64 × 64 px",
    list(MODE_LABELS),
    format_func=MODE_LABELS.get,
    horizontal=True,
    help="**Tiles** (default) keep the 10 m pixels the model knows: each 64×64 block is classified "
    "and the image gets a class map. **Resize** squeezes the whole image into one tile: right only "
    "for an image covering about 640 m × 640 m.",
)
files = st.file_uploader(
    "Images", type=["jpg", "jpeg", "png", "tif", "tiff"], accept_multiple_files=True, key="upload_files"
)
st.caption(
    f"8-bit images are used as they are (EuroSAT scale). 16-bit images are taken as Sentinel-2 L1C "
    f"digital numbers and scaled like EuroSAT: DN × 255 / 2750. 13-band TIFFs give bands B04/B03/B02. "
    f"Limits: {MAX_PIXELS / 1e6:.0f} MP per image, {MAX_TILES:,} tiles."
)

if files:
    keys = [(f.file_id, f.name, mode) for f in files]
    if [r.key for r in st.session_state[UPLOAD_RESULTS]] != keys:
        try:
            classifier = get_classifier()
        except ModelLoadError as exc:
            st.error(str(exc))
            st.stop()
        with st.spinner("Classifying…"):
            items = [(key, f.name, f.getvalue()) for f, key in zip(files, keys, strict=True)]
            st.session_state[UPLOAD_RESULTS] = analyse_uploads(items, mode, classifier,
                                                               current_model().thresholds)
elif st.session_state[UPLOAD_RESULTS]:
    st.caption("Results of your last upload (upload again to replace them).")
else:
    st.info("Upload one or several images to classify them.")

for i, res in enumerate(st.session_state[UPLOAD_RESULTS]):
    with st.container(border=True):
        st.subheader(res.name)
        if isinstance(res, UploadFailure):
            st.error(res.message)
            continue
        for note in res.notes:
            st.warning(note)
        for step in res.steps:
            st.info(step)
        tiled = res.n_tiles > 1
        codes = res.codes
        n_land, n_cloud, n_unsure = res.status_counts()
        probs = res.land_probs
        summary = (f"mean over {n_land} of {res.n_tiles} tiles (classified land)" if tiled
                   else f"64 × 64 input ({res.how})")
        left, right = st.columns([1, 1])
        left.image(res.display, caption=f"{res.name} — {summary}")
        if probs is None:
            right.markdown("### " + ("Cloud / no data" if n_cloud >= n_unsure else "Uncertain"))
            right.caption(f"No tile is clear, confident land ({n_cloud} cloud / no data, {n_unsure} "
                          "uncertain); the model's own answer is shown below for reference.")
            probs = res.mean_probs
        else:
            top = probs.argmax()
            right.markdown(f"### {CLASS_NAMES[top]} · {probs[top]:.0%}")
        if tiled:
            right.caption(f"{n_land} tiles classified land, {n_cloud} cloud / no data, {n_unsure} uncertain "
                          f"(needs ≥ {res.thresholds.min_clear:.0%} clear pixels and calibrated p ≥ "
                          f"{res.thresholds.min_probability:.2f}).")
        right.plotly_chart(topk_bar(probs, title=f"Top 3 classes ({summary})"), key=f"top{i}")
        if tiled:
            c1, c2 = st.columns(2)
            c1.plotly_chart(tile_class_grid(res.probs, res.grid, codes=codes), key=f"grid{i}")
            c2.plotly_chart(class_distribution(res.labels[codes < 10], title="Land tiles per class"),
                            key=f"dist{i}")
            options = tile_choices(res)
            label = st.selectbox("Tile to explain (most confident first)", list(options), key=f"tile{i}")
            tile = options[label]
        else:
            tile = 0
        if st.button("Explain this image", key=f"explain{i}", icon=":material/search:"):
            where = f", tile {res.tile_label(tile)}" if tiled else ""
            st.session_state[EXPLAIN_IMAGE] = res.tiles[tile]
            st.session_state[EXPLAIN_SOURCE] = f"{res.name}{where} (Upload page)"
            st.switch_page("pages/explain.py")
