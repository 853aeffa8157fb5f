"""Real browser: open the Map page, draw a rectangle with the mouse, read the classification.

Everything runs offline: Leaflet and Leaflet.draw come from eurosat/assets (data: URLs), the scene
is an image overlay and no base map is requested. Screenshots: test-artifacts/map_scene.png,
map_result.png, map_tooltip.png.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


def _open_map_page(page, app_url):
    # Load the app root first: a fresh server's first request to /map is served by Streamlit's
    # legacy pages/ discovery and skips the router. Then navigate as a person would.
    page.goto(app_url)
    page.get_by_text("Model in use").first.wait_for()
    page.get_by_role("link", name=re.compile("Map")).click()
    page.get_by_text("Map — land cover of an area").wait_for()
    frame = page.frame_locator(MAP_IFRAME)
    frame.locator("img.leaflet-image-layer").wait_for()
    return frame


def test_draw_a_rectangle_and_get_the_class_map(app_url, page, scene_path):  # noqa: ARG001
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    frame = _open_map_page(page, app_url)
    expect(frame.get_by_text("Contains modified Copernicus Sentinel data 2017")).to_be_visible()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "map_scene.png"), full_page=True)

    # draw with the mouse: the rectangle tool, then press-drag-release over the middle of the scene
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    scene = frame.locator("img.leaflet-image-layer").bounding_box()
    x0, y0 = scene["x"] + 0.35 * scene["width"], scene["y"] + 0.30 * scene["height"]
    x1, y1 = scene["x"] + 0.60 * scene["width"], scene["y"] + 0.70 * scene["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
    page.mouse.up()

    page.get_by_text("Dominant class (drawn area)").wait_for()
    caption = page.get_by_text(re.compile(r"[\d,]+ cells of 32×32 px")).inner_text()  # the default cell size
    n_tiles = int(re.search(r"([\d,]+) cells of 32×32 px", caption).group(1).replace(",", ""))
    assert n_tiles >= 40  # about 12 × 10 cells at this zoom and page width
    metric = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    assert metric.strip() in {"AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
                              "Pasture", "PermanentCrop", "Residential", "River", "SeaLake"}

    # the class map: one filled polygon per tile, and the legend
    tiles = frame.locator('path.leaflet-interactive[fill-opacity="0.55"]')
    tiles.nth(n_tiles - 1).wait_for()
    assert tiles.count() == n_tiles
    expect(frame.locator(".eurosat-legend").get_by_text("Land cover")).to_be_visible()
    expect(frame.locator(".eurosat-legend").get_by_text(metric.strip())).to_be_visible()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "map_result.png"), full_page=True)

    # hover a tile: tooltip with its class and confidence
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    tooltip = frame.locator(".leaflet-tooltip")
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert "Shown as" in text and re.search(r"Calibrated probability\s+\d+%", text), text
    assert re.search(r"Clear pixels\s+\d+%", text), text
    page.screenshot(path=str(ARTIFACTS / "map_tooltip.png"))

    # the GeoJSON download holds the same tiles
    with page.expect_download() as download:
        page.get_by_role("button", name="GeoJSON").click()
    doc = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert len(doc["features"]) == n_tiles
    assert not errors, errors


def test_open_a_16bit_four_band_geotiff(app_url, page, scene_path, tmp_path):
    """Upload: a 4-band 16-bit L2A-like file (B2, B3, B4, B8 with the +1000 DN offset declared)
    made from the shipped scene. The page must pick B4/B3/B2, tick the offset, and classify it."""
    import numpy as np
    import rasterio

    from tests.rasters import write_tif

    with rasterio.open(scene_path) as src:
        rgb = src.read()
    dn = (rgb.astype(np.float32) * 2750 / 255 + 1000).round().astype(np.uint16)
    path = write_tif(tmp_path / "s2_l2a_4band.tif", np.stack([dn[2], dn[1], dn[0], dn[0] // 2]),
                     descriptions=("B2", "B3", "B4", "B8"), band_tags={1: {"BOA_ADD_OFFSET": "-1000"}})
    _open_map_page(page, app_url)
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(path))
    page.get_by_text("Bands and radiometry").wait_for()
    picked = [page.get_by_role("combobox", name=c).input_value() for c in ("Red", "Green", "Blue")]
    assert picked == ["3: B4", "2: B3", "1: B2"]
    assert page.get_by_role("checkbox", name=re.compile("Remove the \\+1000 DN offset")).is_checked()
    page.frame_locator(MAP_IFRAME).locator("img.leaflet-image-layer").wait_for()
    page.get_by_role("button", name=re.compile("Classify the whole scene")).click()
    page.get_by_text("Dominant class (whole scene)").wait_for()
    shown = re.compile(r"1,152 cells of 32×32 px.* s2_l2a_4band\.tif · bands \(3, 2, 1\)")
    page.get_by_text(shown).wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "map_upload_16bit.png"), full_page=True)


def test_whole_scene_with_synthetic_clouds_shows_the_cloud_legend_and_a_land_only_distribution(
        app_url, page, scene_path, tmp_path):
    """The real scene with synthetic cumulus and shadows (eurosat.synthetic.cloudy_scene, seed 3,
    25 % cover): the map shows a Cloud / no data legend entry and the distribution counts land only."""
    import numpy as np
    import rasterio

    from eurosat.synthetic import cloudy_scene

    with rasterio.open(scene_path) as src:
        rgb = np.moveaxis(src.read(), 0, -1)
        profile = src.profile
    cloudy, cloud, _ = cloudy_scene(rgb, seed=3, coverage=0.25)
    path = tmp_path / "cloudy_scene.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.moveaxis(cloudy, -1, 0))
    _open_map_page(page, app_url)
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(path))
    page.frame_locator(MAP_IFRAME).locator("img.leaflet-image-layer").wait_for()
    page.get_by_text(re.compile(r"cloudy_scene\.tif, 1536×768 px")).wait_for()
    page.get_by_role("button", name=re.compile("Classify the whole scene")).click()
    try:
        page.get_by_text("Dominant class (whole scene)").wait_for()
    finally:
        page.screenshot(path=str(ARTIFACTS / "map_clouds.png"), full_page=True)
    caption = page.get_by_text(re.compile(r"classified land, \d+% cloud / no data")).inner_text()
    cloud_share = int(re.search(r"(\d+)% cloud / no data", caption).group(1))
    assert cloud_share >= 15, caption  # about a quarter of the scene is under cloud or shadow
    legend = page.frame_locator(MAP_IFRAME).locator(".eurosat-legend")
    legend.get_by_text("Cloud / no data").wait_for()
    expect(legend.get_by_text(re.compile(r"of land")).first).to_be_visible()
    tables = page.locator('[data-testid="stDataFrame"]')
    tables.nth(1).wait_for()  # land classes, then land / cloud / uncertain
    page.wait_for_timeout(2500)
    page.screenshot(path=str(ARTIFACTS / "map_clouds.png"), full_page=True)


def _draw(page, frame, fx0, fy0, fx1, fy1):
    """Drag a rectangle with the mouse between two fractions of the scene image."""
    frame.locator("a.leaflet-draw-draw-rectangle").click()
    scene = frame.locator("img.leaflet-image-layer").bounding_box()
    x0, y0 = scene["x"] + fx0 * scene["width"], scene["y"] + fy0 * scene["height"]
    x1, y1 = scene["x"] + fx1 * scene["width"], scene["y"] + fy1 * scene["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
    page.mouse.up()


def test_lake_shore_at_32_px_cells_then_whole_tiles(app_url, page, scene_path):  # noqa: ARG001
    """Draw over the eastern lake at the default 32 px cells, then switch to 64 px tiles: the same
    rectangle is classified again with a quarter as many cells (screenshots map_lake_32.png and
    map_lake_64.png, compared by eye: the finer cells follow the shore)."""
    frame = _open_map_page(page, app_url)
    _draw(page, frame, 0.69, 0.20, 0.95, 0.56)
    page.get_by_text("Dominant class (drawn area)").wait_for()
    fine = page.get_by_text(re.compile(r"[\d,]+ cells of 32×32 px")).inner_text()
    n_fine = int(re.search(r"([\d,]+) cells of 32×32 px", fine).group(1).replace(",", ""))
    cells = frame.locator('path.leaflet-interactive[fill-opacity="0.55"]')
    cells.nth(n_fine - 1).wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "map_lake_32.png"), full_page=True)

    page.get_by_text("64 px (whole tiles, fastest)").click()
    page.get_by_text(re.compile(r"[\d,]+ tiles of 64×64 px")).wait_for()
    coarse = page.get_by_text(re.compile(r"[\d,]+ tiles of 64×64 px")).inner_text()
    n_coarse = int(re.search(r"([\d,]+) tiles of 64×64 px", coarse).group(1).replace(",", ""))
    page.wait_for_timeout(1500)
    assert cells.count() == n_coarse
    page.screenshot(path=str(ARTIFACTS / "map_lake_64.png"), full_page=True)
    # a rectangle holds 4× as many 32 px cells as whole tiles, plus the edge cells tiles cannot cover
    assert n_fine >= 4 * n_coarse
