"""Real browser: upload images through the page's file input, see classes, then the Grad-CAM heatmap."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from eurosat import config
from eurosat.classes import CLASS_NAMES

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


def _real_tiles(n: int) -> np.ndarray:
    """``n`` real EuroSAT test tiles of different classes (synthetic noise if the data are absent)."""
    zip_path = config.eurosat_zip()
    if not zip_path.is_file():
        return np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    from eurosat.data import ImageSource, read_split

    test = read_split(config.SPLIT_FILE)["test"]
    wanted = ["Forest", "SeaLake", "Residential", "AnnualCrop", "Highway", "River", "Industrial"]
    items = [next(it for it in test if CLASS_NAMES[it.label] == name) for name in wanted[:n]]
    return ImageSource(zip_path).load(items)[0]


@pytest.fixture
def upload_files(tmp_path) -> list[str]:
    tiles = _real_tiles(7)
    single = tmp_path / "forest_tile.png"
    Image.fromarray(tiles[0]).save(single)
    mosaic = np.concatenate([np.concatenate(list(tiles[r * 3 : r * 3 + 3]), axis=1) for r in range(2)])
    area = tmp_path / "mosaic_3x2.jpg"
    Image.fromarray(mosaic).save(area, quality=95)
    return [str(single), str(area)]


def _open_upload_page(page, app_url) -> None:
    # Load the app root first (a fresh server's first request to /upload is served by Streamlit's
    # legacy pages/ discovery, without the router), then navigate as a person would.
    page.goto(app_url)
    page.get_by_text("Model in use").first.wait_for()
    page.get_by_role("link", name=re.compile("Upload")).click()
    page.get_by_role("heading", name="Upload").wait_for()


def _screenshot(page, name: str, height: int = 2600) -> None:
    """Whole-page screenshot: Streamlit scrolls inside its own container, so grow the viewport."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(1500)  # relayout and Plotly redraw
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(size)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_upload_classify_then_explain(app_url, page, upload_files):
    _open_upload_page(page, app_url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(upload_files)

    # both files classified: their names as headings, a class headline each, charts drawn
    page.get_by_role("heading", name="mosaic_3x2.jpg").wait_for()
    page.get_by_role("heading", name="forest_tile.png").wait_for()
    page.get_by_text("Cut into 2 × 3 = 6 tiles").wait_for()
    from playwright.sync_api import expect

    # one class headline per file; Playwright retries (the second file's may still be rendering)
    headlines = page.locator("h3").filter(has_text=re.compile("|".join(CLASS_NAMES)))
    expect(headlines).to_have_count(2, timeout=20_000)
    page.locator(".js-plotly-plot").nth(3).wait_for()  # top-3 ×2, tile grid, distribution
    assert page.locator(".js-plotly-plot").count() == 4
    _no_exception(page)
    _screenshot(page, "upload_page.png")

    # hand the single tile to the Explain page
    page.get_by_role("button", name="Explain this image").first.click()
    page.get_by_role("heading", name="Explain").wait_for()
    page.get_by_text("Input: forest_tile.png (Upload page)").wait_for(timeout=120_000)
    page.get_by_text("Grad-CAM for").first.wait_for()
    images = page.locator('[data-testid="stImage"] img')
    images.nth(3).wait_for()
    sizes = images.evaluate_all("els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    # input, heatmap, its colour scale, overlay
    assert sizes == [[True, 256, 256], [True, 256, 256], [True, 256, 12], [True, 256, 256]], sizes
    captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    assert any(re.search(r"stage3_block\d_out", c) for c in captions), captions  # the model's last block
    _no_exception(page)
    _screenshot(page, "explain_page.png", 1300)


def test_bad_file_shows_a_message_not_a_traceback(app_url, page, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _open_upload_page(page, app_url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(bad)])
    page.get_by_role("heading", name="broken.png").wait_for()
    alert = page.locator('[data-testid="stAlertContentError"]')
    alert.wait_for()
    assert "broken.png" in alert.inner_text()
    _no_exception(page)
    _screenshot(page, "upload_bad_file.png", 1000)
