"""Small shared widgets."""

from __future__ import annotations

import numpy as np
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


def second_opinion_panel(image: np.ndarray, cam_overlay: np.ndarray, own_label: str, own_prob: float) -> None:
    """Explain page: ask another (vision-language) model for its class, shown beside ours; off unless
    configured (:mod:`eurosat.second_opinion`)."""
    from eurosat import second_opinion as so

    try:
        names = (so.ENV_URL, so.ENV_MODEL, so.ENV_KEY, so.ENV_TIMEOUT)
        secrets = {k: st.secrets[k] for k in names if k in st.secrets}
    except Exception:  # noqa: BLE001 - no secrets file, or an unreadable one: fall back to the environment
        secrets = {}
    with st.expander("Second opinion — ask another model", expanded=False):
        try:
            config = so.config_from(secrets)
        except so.SecondOpinionError as exc:
            st.error(str(exc))
            return
        if config is None:
            st.caption(f"Off. To ask an OpenAI-compatible chat-completions server that takes images (e.g. a "
                       f"local vision model), set `{so.ENV_URL}` (API base, …/v1) and `{so.ENV_MODEL}` (and "
                       f"`{so.ENV_KEY}` if it needs one) in the environment or in `.streamlit/secrets.toml`. "
                       "The tile and its Grad-CAM overlay are sent to that server.")
            return
        st.caption(f"Sends this tile and its Grad-CAM overlay to `{config.endpoint}` ({config.model}).")
        if not st.button("Ask for a second opinion", key="explain_second_opinion"):
            return
        try:
            with st.spinner(f"Asking {config.model}…"):
                opinion = so.ask(image, config, cam_overlay)
        except so.SecondOpinionError as exc:
            st.error(str(exc))
            return
        a, b = st.columns(2)
        a.metric("This dashboard's model", own_label, f"{own_prob:.0%}", delta_color="off", delta_arrow="off")
        if opinion.label is None:
            b.metric(f"Other model ({opinion.model})", "no class")
            st.warning("The other model did not name one of the ten EuroSAT classes. Its answer: "
                       f"{opinion.reason[:500]}")
        else:
            agree = "agrees" if opinion.label == own_label else "disagrees"
            b.metric(f"Other model ({opinion.model}), its opinion", opinion.label, agree, delta_color="off",
                     delta_arrow="off")
            st.markdown(f"**Why, according to {opinion.model}:** {opinion.reason}")
        st.caption("Another model's opinion, not a measurement: it was not trained or tested on EuroSAT "
                   "here.")
