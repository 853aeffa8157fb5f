"""Real browser: a bookmarked page link works on a server nobody has opened yet."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("path, heading", [("train", "Train"), ("explain", "Explain"),
                                           ("accuracy", "Accuracy")])
def test_deep_link_on_a_fresh_server(fresh_app_url, page, path, heading):
    """The first request of a fresh server goes to a page, not to the router: the page must still
    get its session state and the model sidebar (it used to fail with a KeyError)."""
    page.goto(f"{fresh_app_url}/{path}")
    page.get_by_role("heading", name=heading).first.wait_for()
    page.get_by_text("Model in use").first.wait_for()
    page.wait_for_timeout(1000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_role("link", name="Map").first.click()
    page.get_by_role("heading", name="Map — land cover of an area").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
