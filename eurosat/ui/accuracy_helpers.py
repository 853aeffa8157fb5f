"""Accuracy page helpers: draw a sample of the Map page's class map, label it, show the estimates.

The sample lives in ``st.session_state[ACCURACY]`` as (the map it was drawn from, the
:class:`eurosat.accuracy.Sample`, the position being labelled): classifying another area on the Map page
does not lose the labels; the page says the sample belongs to the earlier map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from eurosat import accuracy, charts
from eurosat.classes import CLASS_NAMES
from eurosat.errors import EuroSATError
from eurosat.image_charts import outlined_chip
from eurosat.tiling import AreaResult, read_cell_chip
from eurosat.ui.state import ACCURACY, MAP_RESULT, MAP_SHOWN

#: Session key counting the samples drawn (part of the answer widgets' keys).
DRAWS = "accuracy_draws"

KEY = "accuracy_w_"
OPTIONS = [*CLASS_NAMES, accuracy.CANT_TELL]


def stored() -> tuple[AreaResult, accuracy.Sample, int] | None:
    """The sample being labelled, with its map and position, or None."""
    return st.session_state.get(ACCURACY)


def current_map() -> AreaResult | None:
    """The Map page's last classified area, under the thresholds the Map page last showed it with."""
    shown, result = st.session_state.get(MAP_SHOWN), st.session_state.get(MAP_RESULT)
    if shown is not None and result is not None and shown.probs is result.probs:
        return shown
    return result


def same_map(a: AreaResult, b: AreaResult) -> bool:
    """The same classified cells under the same land / cloud / uncertain rule."""
    return a.probs is b.probs and a.thresholds == b.thresholds


def _strata_table(strata: accuracy.Strata, sizes: np.ndarray | None = None) -> pd.DataFrame:
    table = pd.DataFrame({"stratum": strata.labels, "cells": strata.cells,
                          "area (km²)": strata.areas_km2.round(2),
                          "share of the area (%)": (100 * strata.weights).round(1)})
    if sizes is not None:
        table["to label"] = sizes
    return table


def design_panel(result: AreaResult) -> None:
    """Strata of the map, sample size, seed, and the button that draws the sample."""
    try:
        codes = result.codes  # a derived property: computed once here
        strata = accuracy.strata_of(codes, result.areas_km2)
    except accuracy.AccuracyError as exc:
        st.warning(str(exc))
        return
    c1, c2, c3 = st.columns(3)
    default = max(2, min(100, int(strata.cells.sum())))
    total = c1.number_input("Cells to label in all", 2, 2000, default, step=10, key=f"{KEY}total",
                            help="More cells, narrower intervals: the half-width shrinks with the square "
                            "root of the cells labelled.")
    minimum = c2.number_input("At least, per stratum", 2, 500, 8, key=f"{KEY}minimum",
                              help="Rare classes need enough cells for their user's accuracy "
                              "(Olofsson et al. 2014 suggest 50–100 where labelling allows).")
    seed = c3.number_input("Random seed", 0, 10**6, 0, key=f"{KEY}seed")
    try:
        sizes = accuracy.allocate(strata, int(total), int(minimum))
    except accuracy.AccuracyError as exc:
        st.error(str(exc))
        return
    st.dataframe(_strata_table(strata, sizes), hide_index=True, width="stretch")
    st.caption(f"{int(sizes.sum())} cells: proportional to area, at least {int(minimum)} per stratum (or all "
               f"its cells). {accuracy.outside_assessment(codes)} cloud / no-data cells are outside "
               "the assessed area.")
    old = stored()
    losing = old is not None and old[1].n_done > 0
    confirm = st.checkbox(f"Discard the {old[1].n_done} labels made so far", key=f"{KEY}discard") \
        if losing and old is not None else True
    if st.button("Draw the sample", key=f"{KEY}draw", type="primary", disabled=not confirm):
        sample = accuracy.Sample.draw(codes, result.areas_km2, int(total), int(minimum), int(seed))
        st.session_state[ACCURACY] = (result, sample, 0)
        st.session_state[DRAWS] = st.session_state.get(DRAWS, 0) + 1  # new radio keys: no answer carries
        st.session_state.pop(f"{KEY}discard", None)
        st.rerun()


def _radio_key(pos: int) -> str:
    """The answer widget of cell ``pos`` of the current draw (a new draw gets new keys)."""
    return f"{KEY}label_{st.session_state.get(DRAWS, 0)}_{pos}"


def _save(store: bool, move: int) -> None:
    """Callback: store the answer chosen for the cell shown (when ``store``) and move to another cell.

    The answer is read here, from the widget's state, not captured when the button was drawn.
    """
    result, sample, pos = st.session_state[ACCURACY]
    choice = st.session_state.get(_radio_key(pos))
    if store and choice is not None:
        sample.reference[pos] = accuracy.reference_code(choice)
    if move > 0:
        nxt = sample.next_unlabelled(pos + 1)
        pos = nxt if nxt is not None else (pos + 1) % sample.n
    elif move < 0:
        pos = (pos - 1) % sample.n
    st.session_state[ACCURACY] = (result, sample, pos)


def label_panel(result: AreaResult, sample: accuracy.Sample, pos: int) -> None:
    """One sampled cell at a time: its pixels with context, the classes to choose from, and the CSV route."""
    st.progress(sample.n_done / max(1, sample.n),
                text=f"{sample.n_done} of {sample.n} cells labelled")
    left, right = st.columns([1, 1], gap="medium")
    with left:
        try:
            chip, box = read_cell_chip(result, int(sample.cells[pos]), margin=result.cell // 2 + 16)
            scale = max(1, 320 // max(chip.shape[:2]))
            lon, lat = result.centers[int(sample.cells[pos])]
            context_m = (chip.shape[1] - result.cell) // 2 * 10
            st.image(outlined_chip(chip, box, scale),
                     caption=f"Cell {pos + 1} of {sample.n} (outlined, {result.cell * 10} m across; "
                             f"around it {context_m} m of context) at {lat:.5f} N, {lon:.5f} E")
        except EuroSATError as exc:
            st.error(str(exc))
    with right:
        current = int(sample.reference[pos])
        index = OPTIONS.index(accuracy.reference_text(current)) if current != accuracy.UNLABELLED else None
        choice = st.radio("What covers the outlined cell?", OPTIONS, index=index, key=_radio_key(pos),
                          help="Judge from the imagery (and anything else you know of the place), not from "
                               "the map: the map's class is not shown here on purpose (blind labelling).")
        b1, b2, b3 = st.columns(3)
        b1.button("Save and next", key=f"{KEY}save", type="primary", disabled=choice is None,
                  on_click=_save, args=(True, 1))
        b2.button("Back", key=f"{KEY}back", on_click=_save, args=(False, -1))
        b3.button("Skip", key=f"{KEY}skip", on_click=_save, args=(False, 1))
    with st.expander("Label in QGIS or a spreadsheet instead"):
        st.caption("Download the sample (one row per cell, its centre in lon/lat), fill in the `reference` "
                   f"column with a class name or '{accuracy.CANT_TELL}', and upload it back. Blank rows keep "
                   "the labels made here.")
        st.download_button("Sample (CSV)", lambda: _sample_csv(result, sample), _stem(result) + "_sample.csv",
                           "text/csv", key=f"{KEY}sample_csv")
        upload = st.file_uploader("Labelled sample (CSV)", type=["csv"], key=f"{KEY}labels")
        if upload is not None and st.session_state.get(f"{KEY}labels_done") != upload.file_id:
            st.session_state[f"{KEY}labels_done"] = upload.file_id  # read once, good or bad
            try:
                got = accuracy.read_labels(upload.getvalue(), sample.cells)
            except accuracy.AccuracyError as exc:
                st.session_state[f"{KEY}labels_msg"] = ("error", f"{upload.name}: {exc}")
            else:
                filled = got != accuracy.UNLABELLED
                sample.reference[filled] = got[filled]
                for i in np.flatnonzero(filled):  # the radios follow the file's labels
                    st.session_state.pop(_radio_key(int(i)), None)
                text = f"{int(filled.sum())} labels read from {upload.name}."
                st.session_state[f"{KEY}labels_msg"] = ("success", text)
            st.rerun()  # the progress and the cell shown above follow the file's labels
        message = st.session_state.pop(f"{KEY}labels_msg", None)
        if message:
            (st.success if message[0] == "success" else st.error)(message[1])


def _stem(result: AreaResult) -> str:
    return Path(result.scene_path).stem


def _sample_csv(result: AreaResult, sample: accuracy.Sample) -> bytes:
    table = accuracy.sample_table(sample.cells, result.rows, result.cols, result.centers, sample.reference)
    return table.to_csv(index=False).encode()


def _pm(value: float, half: float, percent: bool = False) -> str:
    if np.isnan(value):
        return "—"
    if percent:
        return f"{100 * value:.1f} %" + ("" if np.isnan(half) else f" ± {100 * half:.1f}")
    return f"{value:,.2f}" + ("" if np.isnan(half) else f" ± {half:,.2f}")


def _range(value: float, low: float, high: float) -> str:
    if np.isnan(value):
        return "—"
    text = f"{100 * value:.1f} %"
    if np.isnan(low) or low == high:
        return text
    digits = 0 if high - low >= 0.02 else 1  # a narrow range keeps a decimal: not "2.9 % (3–3)"
    return f"{text} ({100 * low:.{digits}f}–{100 * high:.{digits}f})"


def _top_up() -> None:
    """Callback: draw replacement cells into the strata short of labels (:meth:`Sample.top_up`)."""
    result, sample, pos = st.session_state[ACCURACY]
    added = sample.top_up(result.codes)
    nxt = sample.next_unlabelled(pos)
    st.session_state[ACCURACY] = (result, sample, pos if nxt is None else nxt)
    st.session_state[f"{KEY}top_up_msg"] = (
        f"{added} cells added to the sample." if added else
        "Nothing to add: label the cells already drawn there first, or the stratum has no cell left.")


def results_panel(result: AreaResult, sample: accuracy.Sample) -> None:
    """Overall accuracy, per-class table, mapped against adjusted areas, the error matrix, a CSV."""
    if not np.any(sample.reference >= 0):
        st.info("The estimates appear here as soon as cells are labelled.")
        return
    a = sample.assessment()
    short = sample.short_strata()
    if short:
        st.warning("The areas, the overall and the producer's accuracy need at least two cells labelled "
                   "with a class in every stratum (one for an estimate, two for its interval). Still short "
                   "(labelled of drawn): "
                   + ", ".join(short) + ".")
        st.button("Draw more cells for the short strata", key=f"{KEY}top_up", on_click=_top_up,
                  help="Random cells not yet in the sample, for each stratum short of two labels once "
                       "its drawn cells are all answered (e.g. after “Can't tell”): the design stays a "
                       "stratified random sample.")
    note = st.session_state.pop(f"{KEY}top_up_msg", None)
    if note:
        st.info(note)
    m1, m2, m3 = st.columns(3)
    m1.metric("Overall accuracy of the classified land", _pm(a.overall.value, a.overall.half_width(), True))
    m2.metric("Cells labelled", f"{a.n_labelled} of {sample.n}")
    m3.metric("Can't tell", int(a.unusable.sum()))
    table = a.table()
    shown = pd.DataFrame({
        "class": table["class"],
        "mapped km²": table["mapped_km2"].round(2),
        "error-adjusted km² (95 %)": [_pm(v, h) for v, h in zip(table["adjusted_km2"],
                                                                  table["adjusted_pm_km2"], strict=True)],
        "user's accuracy (95 %)": [_range(*row) for row in zip(table["users_accuracy"], table["users_low"],
                                                                table["users_high"], strict=True)],
        "producer's accuracy (95 %)": [_range(*row) for row in zip(
            table["producers_accuracy"], table["producers_low"], table["producers_high"], strict=True)],
    })
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption("User's accuracy: of the cells mapped as the class, the share that is it (Wilson interval). "
               "Producer's: of the class's true area, the share mapped as it (normal interval, cut at 0 "
               "and 100 %). Error-adjusted area: each class's area estimated from the labels, weighted "
               "by the strata's areas (Olofsson et al. "
               "2014), with its 95 % confidence interval; Uncertain cells count towards the classes they "
               "were labelled. A normal interval of ± 0 means that every labelled cell of each stratum "
               "agreed, not certainty: label more cells (a stratum labelled in full is exact). Cells "
               "labelled “Can't tell” are left out and assumed like the others of their stratum.")
    if not table["adjusted_km2"].isna().any():
        if table["adjusted_pm_km2"].isna().any():
            st.caption("Bars without an interval: no interval yet (a stratum has one label only).")
        st.plotly_chart(charts.adjusted_area_figure(table), width="stretch", key=f"{KEY}areas")
    with st.expander("Labelled cells per stratum (rows) and reference class (columns)"):
        counts = pd.DataFrame(a.counts, columns=list(CLASS_NAMES), index=a.strata.labels)
        counts = counts.loc[:, counts.sum(axis=0) > 0]
        counts["can't tell"] = a.unusable
        st.dataframe(counts, width="stretch")
    st.download_button("Estimates (CSV)", table.to_csv(index=False).encode(), _stem(result) + "_accuracy.csv",
                       "text/csv", key=f"{KEY}results_csv")
