"""Real browser: open Model analysis, click a confusion-matrix cell, see that cell's images.

Screenshots: test-artifacts/analysis_page.png (first view), analysis_gallery.png (after the click).
"""

from __future__ import annotations

import re

import pytest

from eurosat.classes import CLASS_NAMES
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


def test_click_a_confusion_cell_shows_its_images(app_url, page, eurosat_zip):  # noqa: ARG001
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_url)
    page.get_by_text("Model in use").first.wait_for()
    page.get_by_role("link", name=re.compile("Model analysis")).click()
    page.get_by_text("Hardest confusions").wait_for()
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.locator(".scatterlayer .point").nth(99).wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "analysis_page.png"), full_page=True)

    # the cell true River (row 8) / predicted Highway (col 3): points run row by row
    t, p = CLASS_NAMES.index("River"), CLASS_NAMES.index("Highway")
    box = chart.locator(".scatterlayer .point").nth(t * len(CLASS_NAMES) + p).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    try:
        page.get_by_text(re.compile(r"True River, predicted Highway")).wait_for(timeout=30_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "analysis_gallery.png"), full_page=True)
    page.get_by_text(re.compile(r"True River, predicted Highway")).scroll_into_view_if_needed()
    for _ in range(40):  # until the rerun has replaced the first gallery (stale elements linger a moment)
        captions = page.locator('[data-testid="stImageCaption"]').all_inner_texts()
        if all(c.startswith("River → Highway") for c in captions if "→" in c):
            break
        page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "analysis_gallery.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    shown = [c for c in captions if "→" in c]
    assert shown and all(c.startswith("River → Highway") for c in shown), captions
    assert not errors, errors
