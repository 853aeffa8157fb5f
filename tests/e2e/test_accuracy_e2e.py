"""Real browser: classify the shipped scene on the Map page, then on the Accuracy page draw a sample,
label cells by clicking and the rest in the sample CSV,
and read the estimates; screenshots test-artifacts/accuracy_label.png and
accuracy_estimates.png."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_map_e2e import _open_map_page

pytestmark = pytest.mark.e2e


def test_label_a_sample_and_read_the_estimates(fresh_app_url, page, scene_path, tmp_path):  # noqa: ARG001
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _open_map_page(page, fresh_app_url)
    page.get_by_role("button", name=re.compile("Classify the whole scene")).click()
    page.get_by_text("Dominant class (whole scene)").wait_for(timeout=120_000)
    page.get_by_role("link", name=re.compile("Accuracy")).click()
    page.get_by_text("Accuracy — how right is the map").wait_for()
    total = page.get_by_role("spinbutton", name="Cells to label in all")
    total.fill("30")
    total.press("Enter")
    minimum = page.get_by_role("spinbutton", name="At least, per stratum")
    minimum.fill("2")
    minimum.press("Enter")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Draw the sample").click()
    page.get_by_text("What covers the outlined cell?").wait_for()
    page.get_by_text(re.compile(r"Cell 1 of \d+")).first.wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "accuracy_label.png"), full_page=True)
    for i, name in enumerate(["Forest", "AnnualCrop", "AnnualCrop"]):
        page.get_by_text(re.compile(rf"Cell {i + 1} of \d+")).first.wait_for()
        group = page.get_by_role("radiogroup", name="What covers the outlined cell?")
        expect(group).to_have_count(1)  # the last cell's radio is gone once the rerun is done
        group.get_by_text(name, exact=True).click()
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Save and next").click()
        page.get_by_text(re.compile(rf"{i + 1} of \d+ cells labelled")).wait_for()
    page.get_by_text("Overall accuracy of the classified land").wait_for()
    page.get_by_text("Still short").wait_for()  # three labels: no estimate weighs every stratum yet
    # the rest through the CSV route: download the sample, fill in the blanks, upload it back
    page.get_by_text("Label in QGIS or a spreadsheet instead").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Sample (CSV)").click()
    table = pd.read_csv(info.value.path(), dtype={"reference": object})
    assert table["reference"].notna().sum() == 3
    blank = table["reference"].isna()
    table.loc[blank, "reference"] = "Pasture"  # a made-up answer: the test checks the route, not the map
    filled = tmp_path / "labelled.csv"
    table.to_csv(filled, index=False)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(filled))
    page.get_by_text(re.compile(r"\d+ labels read from labelled.csv")).wait_for()
    page.get_by_text(re.compile(r"\d+ of \d+ cells labelled")).first.wait_for()
    page.get_by_text("Area by class: mapped and error-adjusted").first.wait_for()
    assert page.get_by_text("Still short").count() == 0
    page.get_by_text(re.compile(r"30 of 30 cells labelled")).wait_for()  # the progress follows the file
    page.get_by_text("3 · Estimates").scroll_into_view_if_needed()
    page.mouse.wheel(0, 500)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "accuracy_estimates.png"), full_page=True)
    assert not errors, errors
