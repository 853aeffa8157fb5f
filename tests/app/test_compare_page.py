"""AppTest of the Compare page through the router: the demo second date, a comparison, its panels."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.test_map_page import data_dir  # noqa: F401  (fixture: the shipped-grid test scene)


def open_compare() -> AppTest:
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120)
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    return at


def test_compare_the_demo_pair(data_dir, runs_dir):  # noqa: F811, ARG001
    at = open_compare()
    assert any("Press **Compare the two dates**" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Compare the two dates").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["Tiles compared", "Changed"]
    assert len(at.get("plotly_chart")) == 2  # matrix and Sankey
    assert [b.label for b in at.get("download_button")] == ["Change GeoTIFF", "Changed tiles (GeoJSON)",
                                                           "Matrix (CSV)"]
    # a stricter rule changes the counts without reclassifying
    before = at.metric[1].value
    at.slider(key="compare_w_gain").set_value(1.0).run()
    assert not at.exception and at.metric[1].value == "0 tiles" and before != ""


def test_a_missing_second_date_is_a_message(data_dir, runs_dir):  # noqa: F811, ARG001
    at = open_compare()
    at.radio(key="compare_w_after_kind").set_value("My GeoTIFF").run()
    assert any("second date" in e.value for e in at.error)
