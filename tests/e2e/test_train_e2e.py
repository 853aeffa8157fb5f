"""Real browser: launch a tiny training from the Train page, watch it, stop it.

The server's runs folder is the tmp one made by the ``app_url`` fixture; screenshots go to
test-artifacts/train_running.png and test-artifacts/train_stopped.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from eurosat import runs
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

EPOCHS = 30  # far more than the test waits for: it stops the run


def _fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")


def test_launch_watch_and_stop_a_tiny_run(app_url, page, eurosat_zip, tmp_path_factory):
    # Load the app root first: on a fresh server the very first request to /train is served by
    # Streamlit's legacy pages/ discovery (before st.navigation has run) and skips the router.
    page.set_viewport_size({"width": 1400, "height": 1700})  # the whole live view in one screenshot
    page.goto(app_url)
    page.get_by_text("Model in use").first.wait_for()
    page.goto(f"{app_url}/train")
    page.get_by_role("button", name="Start training").wait_for()
    _fill(page, "Epochs", str(EPOCHS))
    _fill(page, "Batch size", "16")
    _fill(page, "Subset fraction", "0.005")
    _fill(page, "Run name", "e2e-tiny")
    page.get_by_text("Transfer learning (start from other weights").click()  # open: seen in the screenshot
    page.get_by_text("Freeze the backbone").first.wait_for()
    page.get_by_role("button", name="Start training").click()
    try:
        page.get_by_text("Started run 'e2e-tiny'").wait_for()
        page.get_by_text("Running: e2e-tiny").wait_for(timeout=120_000)
        # two finished epochs -> the live curves have two points each
        page.get_by_text(re.compile(rf"Epoch ([3-9]|\d\d)/{EPOCHS} · step")).first.wait_for(timeout=300_000)
        # The live view is a fragment that redraws the chart every few seconds: a one-shot is_visible()
        # can land between two drawings (it failed once in CI), so wait with Playwright's retrying expect.
        live = page.locator('[data-testid="stPlotlyChart"]').first
        for title in ("Loss", "Accuracy"):  # the two subplot titles of the live curves
            expect(live.get_by_text(title, exact=True)).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1500)  # let Plotly finish drawing
        page.screenshot(path=str(ARTIFACTS / "train_running.png"), full_page=True)

        page.get_by_role("button", name="Stop training").click()
        page.get_by_text("Run 'e2e-tiny' ended: stopped.").wait_for(timeout=120_000)
        page.get_by_text("No training is running").wait_for()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "train_stopped.png"), full_page=True)
    finally:
        for run_dir in tmp_path_factory.getbasetemp().glob("e2e_app*/runs/e2e-tiny"):
            if runs.read_run(run_dir).is_active:  # never leave a trainer behind
                runs.stop_run(run_dir)
    run = runs.wait_for(next(tmp_path_factory.getbasetemp().glob("e2e_app*/runs/e2e-tiny")), timeout_s=120)
    assert run.state == "stopped" and (run.path / "last.keras").is_file()
    assert len(run.metrics) >= 2 and run.metrics[-1].get("partial") is True
    assert not run.promotable

    # Test only: the stopped run's best checkpoint is tested and exported, then it can be promoted
    page.get_by_role("button", name="Test only").click()
    page.get_by_text("Running: e2e-tiny").wait_for(timeout=60_000)
    page.get_by_text("Run 'e2e-tiny' ended: finished.").wait_for(timeout=600_000)
    page.get_by_text(re.compile(r"Test accuracy \d")).first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "train_tested.png"), full_page=True)
    assert page.get_by_role("button", name="Promote 'e2e-tiny'").is_enabled()
    run = runs.read_run(run.path)
    assert run.promotable and len(run.metrics) >= 2
