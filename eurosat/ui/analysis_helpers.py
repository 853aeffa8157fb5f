"""Model analysis page helpers: which models can be analysed, cached reading, the gallery."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from eurosat import config
from eurosat.analysis import Analysis, analysis_path, compute_analysis, load_analysis, save_analysis
from eurosat.classes import CLASS_NAMES
from eurosat.data import ImageSource
from eurosat.errors import EuroSATError
from eurosat.runs import list_runs
from eurosat.ui.loaders import current_model
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE

ANALYSIS_WIDGET = "analysis_"


@dataclass(frozen=True)
class Candidate:
    """A model folder that can be analysed, and how the page names it."""

    label: str
    directory: Path


def candidates() -> list[Candidate]:
    """The model in use first, then every finished, exported run (newest first)."""
    info = current_model()
    out = [Candidate(f"Model in use: {info.name} ({info.source})", info.directory)]
    for run in list_runs():
        if run.is_active or run.path == info.directory:
            continue
        if (run.path / config.TFLITE_DYNAMIC).is_file() and (run.path / config.KERAS_FILE).is_file():
            out.append(Candidate(f"Run {run.name}", run.path))
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def _load(path: str, mtime: float) -> Analysis | None:  # noqa: ARG001 - mtime keys the cache
    return load_analysis(path)


def stored_analysis(directory: Path, subset: str) -> Analysis | None:
    """The analysis stored with a model folder (cached by file and modification time), or None."""
    path = analysis_path(directory, subset)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load(str(path), mtime)


def compute_with_progress(directory: Path, subset: str) -> None:
    """Compute and store the analysis of a model folder, with a progress bar; errors are shown."""
    bar = st.progress(0.0, text="Starting…")
    def show(share: float, text: str) -> None:
        bar.progress(min(1.0, share), text=text)

    try:
        result = compute_analysis(
            directory,
            config.eurosat_zip(),
            subset,
            progress=show,
        )
        save_analysis(result, analysis_path(directory, subset))
    except (EuroSATError, OSError) as exc:
        st.error(f"The analysis could not be made: {exc}")
    finally:
        bar.empty()


@st.cache_data(max_entries=64, show_spinner=False)
def _images(zip_path: str, paths: tuple[str, ...]) -> np.ndarray:
    source = ImageSource(zip_path)
    return np.stack([source.read_rgb(p) for p in paths])


def images_of(paths: list[str]) -> np.ndarray | None:
    """uint8 (N, 64, 64, 3) pool images by path, or None (with a warning) when the data are missing."""
    try:
        return _images(str(config.eurosat_zip()), tuple(paths))
    except EuroSATError as exc:
        st.warning(f"The images cannot be shown: {exc}")
        return None


def gallery(analysis: Analysis, index: np.ndarray, title: str, per_row: int = 6, limit: int = 18) -> None:
    """Thumbnails of ``index`` (most confident mistakes first) with true / predicted class and probability,
    each with a button that opens it on the Explain page (Grad-CAM)."""
    probs = analysis.probs
    order = index[np.argsort(-probs[index].max(axis=1))][:limit]
    st.markdown(
        f"**{title}** — {len(index):,} images"
        + (f", {limit} most confident shown" if len(index) > limit else "")
    )
    if not len(order):
        st.caption("No image in this cell.")
        return
    images = images_of([analysis.paths[i] for i in order])
    if images is None:
        return
    for start in range(0, len(order), per_row):
        cols = st.columns(per_row)
        for col, i, img in zip(
            cols, order[start : start + per_row], images[start : start + per_row], strict=False
        ):
            true, pred = CLASS_NAMES[analysis.labels[i]], CLASS_NAMES[analysis.predictions[i]]
            col.image(
                np.kron(img, np.ones((2, 2, 1), np.uint8)),
                width="stretch",
                caption=f"{true} → {pred} ({probs[i].max():.0%})",
            )
            if col.button("Grad-CAM", key=f"{ANALYSIS_WIDGET}explain_{i}"):
                st.session_state[EXPLAIN_IMAGE] = img
                st.session_state[EXPLAIN_SOURCE] = (
                    f"{analysis.paths[i]} ({analysis.subset} split: true {true}, predicted {pred})"
                )
                st.switch_page("pages/explain.py")


def selected_xy(event: object) -> tuple[float, float] | None:
    """(x, y) of the first point selected in a Plotly chart event, if any."""
    try:
        points = event.selection.points  # type: ignore[attr-defined]
    except AttributeError:
        try:
            points = event["selection"]["points"]  # type: ignore[index]
        except (KeyError, TypeError):
            return None
    if not points:
        return None
    x, y = points[0].get("x"), points[0].get("y")
    return (float(x), float(y)) if isinstance(x, int | float) and isinstance(y, int | float) else None
