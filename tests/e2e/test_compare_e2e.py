"""Real browser: the Compare page on the shipped scene and its demo second date; screenshot
test-artifacts/compare.png."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


def test_compare_two_dates_and_find_the_matrix(app_url, page, scene_path):  # noqa: ARG001
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_url)
    page.get_by_text("Model in use").first.wait_for()
    page.get_by_role("link", name=re.compile("Compare")).click()
    page.get_by_text("Compare — what changed between two dates").wait_for()
    page.get_by_role("button", name="Compare the two dates").click()
    page.get_by_text("Tiles compared").wait_for()
    page.get_by_text(re.compile(r"From → to \(km²")).wait_for()
    page.get_by_text("Flows between classes (km²)").wait_for()
    changed = page.locator('[data-testid="stMetricValue"]').nth(1).inner_text()
    assert re.fullmatch(r"\d+ tiles", changed.strip()), changed
    frames = page.locator('iframe[title="streamlit_folium.st_folium"]')
    frames.nth(2).wait_for()
    page.frame_locator('iframe[title="streamlit_folium.st_folium"] >> nth=2').locator(
        ".eurosat-legend").get_by_text("Change").first.wait_for()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    assert not errors, errors
