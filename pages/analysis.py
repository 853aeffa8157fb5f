"""Model analysis: where and why the model fails, on its validation or test split."""

import numpy as np
import streamlit as st

from eurosat import analysis as an
from eurosat import analysis_charts as charts
from eurosat.calibration import expected_calibration_error, reliability_bins
from eurosat.classes import CLASS_NAMES
from eurosat.ui import analysis_helpers as ah
from eurosat.ui.frame import ensure_frame

W = ah.ANALYSIS_WIDGET

ensure_frame()
st.title("Model analysis")
st.caption(
    "Errors, curves, calibration, an embedding map and the network of the model in use or of any "
    "finished run, on its validation or test split of the committed split. The predictions are computed "
    "once and stored with the model (`analysis_<split>.npz`); the shipped model's test analysis ships "
    "with it."
)

options = ah.candidates()
c1, c2 = st.columns([3, 1])
picked = c1.selectbox("Model", options, format_func=lambda c: c.label, key=f"{W}model")
subset = c2.radio("Split", an.SUBSETS, index=1, horizontal=True, key=f"{W}subset")
result = ah.stored_analysis(picked.directory, subset)
if result is None:
    st.info(
        f"No {subset} analysis is stored for this model yet. Computing it reads the split, predicts it "
        "with the served file, extracts the penultimate features with the Keras model (TensorFlow) and "
        "projects them with t-SNE: about 20-60 s on 2 cores."
    )
    if st.button("Compute the analysis", key=f"{W}compute", type="primary"):
        ah.compute_with_progress(picked.directory, subset)
        st.rerun()
    st.stop()

labels, preds, probs = result.labels, result.predictions, result.probs
cm = an.confusion(labels, preds)
hardest = an.hardest_confusions(cm)
before = result.uncalibrated_probs()
ece_after, ece_before = expected_calibration_error(probs, labels), expected_calibration_error(before, labels)
m1, m2, m3, m4 = st.columns(4)
m1.metric(
    "Accuracy",
    f"{result.accuracy:.2%}",
    f"{len(labels):,} {subset} images",
    delta_color="off",
    delta_arrow="off",
)
m2.metric("Macro F1", f"{an.macro_f1(labels, preds):.4f}")
m3.metric(
    "ECE (served)",
    f"{ece_after:.3f}",
    f"{ece_before:.3f} before calibration",
    delta_color="off",
    delta_arrow="off",
)
m4.metric("Errors", f"{int((labels != preds).sum()):,}")
st.caption(f"Predictions of `{result.model_file}`; analysis made {result.made} in {result.seconds:.0f} s.")

st.header("Confusion matrix")
left, right = st.columns([3, 2])
with left:
    event = st.plotly_chart(
        charts.confusion_scatter(cm), key=f"{W}cm", on_select="rerun", selection_mode="points"
    )
    st.caption(
        "Rows: true class; columns: predicted; colour: share of the row. **Click a cell** to see its images."
    )
clicked = ah.selected_xy(event)  # (predicted, true) of the cell
if clicked is not None and clicked != st.session_state.get(f"{W}last_click"):  # a new click, not a rerun
    st.session_state[f"{W}last_click"] = clicked
    st.session_state[f"{W}true"] = CLASS_NAMES[int(round(clicked[1]))]
    st.session_state[f"{W}pred"] = CLASS_NAMES[int(round(clicked[0]))]
with right:
    st.markdown("**Hardest confusions**")
    st.dataframe(
        hardest,
        hide_index=True,
        column_config={"share of true class": st.column_config.NumberColumn(format="percent")},
    )
    st.markdown("**Per class**")
    st.dataframe(
        an.per_class_metrics(labels, preds),
        hide_index=True,
        column_config={
            k: st.column_config.NumberColumn(format="%.3f") for k in ("precision", "recall", "f1")
        },
    )
default_true = hardest.iloc[0]["true"] if len(hardest) else CLASS_NAMES[0]
default_pred = hardest.iloc[0]["predicted"] if len(hardest) else CLASS_NAMES[0]
g1, g2 = st.columns(2)
true_name = g1.selectbox("True class", CLASS_NAMES, index=CLASS_NAMES.index(default_true), key=f"{W}true")
pred_name = g2.selectbox(
    "Predicted class", CLASS_NAMES, index=CLASS_NAMES.index(default_pred), key=f"{W}pred"
)
ah.gallery(
    result,
    result.cell(CLASS_NAMES.index(true_name), CLASS_NAMES.index(pred_name)),
    f"True {true_name}, predicted {pred_name}",
)

st.header("Curves and calibration")
k1, k2, k3 = st.columns(3)
with k1:
    st.markdown("**ROC, one class against the rest**")
    st.plotly_chart(
        charts.curves_figure(
            an.roc_curves(labels, probs), "false positive rate", "true positive rate", "AUC", diagonal=True
        ),
        key=f"{W}roc",
    )
with k2:
    st.markdown("**Precision-recall**")
    st.plotly_chart(
        charts.curves_figure(an.pr_curves(labels, probs), "recall", "precision", "AP"), key=f"{W}pr"
    )
with k3:
    st.markdown("**Reliability**")
    st.plotly_chart(
        charts.reliability_figure(
            reliability_bins(before, labels), reliability_bins(probs, labels), ece_before, ece_after
        ),
        key=f"{W}reliability",
    )
    temp = (
        f"temperature {result.temperature:.3f} folded into the model"
        if result.temperature
        else "not calibrated"
    )
    st.caption(f"Before: the probabilities without the calibration ({temp}).")

st.header("Embedding map")
e1, e2 = st.columns([3, 1])
with e1:
    emb_event = st.plotly_chart(
        charts.embedding_figure(result.embedding, labels, preds),
        key=f"{W}emb",
        on_select="rerun",
        selection_mode="points",
    )
    st.caption(
        "t-SNE of the penultimate features (scikit-learn). Crosses: misclassified images. Click a "
        "point to see the image."
    )
with e2:
    point = ah.selected_xy(emb_event)
    if point is not None:  # the image nearest the clicked point
        index = int(np.argmin(((result.embedding - np.array(point)) ** 2).sum(axis=1)))
    else:
        index = int(np.flatnonzero(labels != preds)[0]) if (labels != preds).any() else 0
    shown = ah.images_of([result.paths[index]])
    if shown is not None:
        st.image(
            np.kron(shown[0], np.ones((3, 3, 1), np.uint8)),
            caption=f"{result.paths[index]}: true {CLASS_NAMES[labels[index]]}, predicted "
            f"{CLASS_NAMES[preds[index]]} ({probs[index].max():.0%})",
        )

st.header("The network")
n1, n2 = st.columns([2, 3])
with n1:
    st.markdown("**Stages**")
    st.dataframe(an.stage_table(result.layers), hide_index=True)
    with st.expander("Every layer"):
        st.dataframe(result.layers, hide_index=True)
with n2:
    if result.filters is not None:
        st.markdown(
            f"**First-layer filters** ({result.filters.shape[-1]} of {result.filters.shape[0]}×"
            f"{result.filters.shape[1]}×3, each scaled to its range)"
        )
        st.image(charts.filter_grid(result.filters))
    if result.activations:
        first = ah.images_of([result.paths[0]])
        st.markdown(
            f"**Activations** of `{result.paths[0]}`: the {an.ACTIVATION_CHANNELS} most active channels "
            "at the end of each stage"
        )
        if first is not None:
            st.image(np.kron(first[0], np.ones((2, 2, 1), np.uint8)), width=128)
        for stage, maps in result.activations.items():
            st.image(charts.tile_strip(maps), caption=f"{stage}: {maps.shape[1]}×{maps.shape[2]}")
