"""Compare: land-cover change between two dates of the same area (LiteRT only)."""

import streamlit as st

from eurosat.errors import EuroSATError
from eurosat.ui import compare_helpers as ch
from eurosat.ui.frame import ensure_frame

ensure_frame()
st.title("Compare — what changed between two dates")
st.caption(
    "Pick two GeoTIFFs of the same area (the second is put on the first's pixel grid), then compare: every "
    "64×64 tile is classified on both dates with the same model and masks. A tile counts as changed only "
    "when both dates are clear, confident land, the classes differ, the new class's probability rose "
    "by at least the minimum gain and the tile's colour really changed."
)
try:
    before, after = ch.pick_dates()
    rule, bbox, go = ch.rule_and_area(before)
    if go:
        ch.run(ch.Request(str(before), str(after), bbox, rule))
except EuroSATError as exc:
    st.error(str(exc))
    st.stop()
result = ch.stored(before, after, rule)
if result is None:
    st.info("Press **Compare the two dates** (the whole overlap, or tick a rectangle in the sidebar).")
else:
    ch.render(result, before, after)
