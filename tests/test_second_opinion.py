"""eurosat.second_opinion against a local stub of an OpenAI-compatible server: answers, refusals,
non-class answers, timeouts and HTTP errors; and the Explain page's panel through the router."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat import second_opinion as so
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE
from tests import chat_stub


@pytest.fixture
def stub():
    server = chat_stub.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def tile(rng):
    return rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)


def test_request_carries_the_tile_the_overlay_and_the_classes(stub, tile):
    cfg = so.SecondOpinionConfig(stub.url, "vision-model", api_key="k123")
    opinion = so.ask(tile, cfg, cam_overlay=tile[::-1])
    assert (
        opinion.label == "Forest"
        and opinion.reason == "Dark green canopy."
        and opinion.model == "vision-model"
    )
    sent = stub.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k123"
    content = sent["body"]["messages"][0]["content"]
    assert [part["type"] for part in content] == ["text", "image_url", "image_url"]
    assert all(c in content[0]["text"] for c in ("AnnualCrop", "SeaLake", "Grad-CAM"))
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("mode", "label", "reason"),
    [
        ("prose", "Forest", "This looks like Forest"),
        ("other", None, "Sand dunes."),
        ("refuse", None, "declined"),
    ],
)
def test_answers_that_are_not_plain_json(stub, tile, mode, label, reason):
    stub.mode = mode
    opinion = so.ask(tile, so.SecondOpinionConfig(stub.url, "m"))
    assert opinion.label == label and reason in opinion.reason


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("slow", "within 0.5 s"),
        ("error", "HTTP 500"),
        ("auth", "refused the key"),
        ("garbage", "did not return a chat completion"),
    ],
)
def test_failures_are_clear_errors(stub, tile, mode, message):
    stub.mode, stub.delay = mode, 2.0
    with pytest.raises(so.SecondOpinionError, match=message):
        so.ask(tile, so.SecondOpinionConfig(stub.url, "m", timeout_s=0.5))


def test_unreachable_server_and_configuration(monkeypatch):
    with pytest.raises(so.SecondOpinionError, match="cannot be reached"):
        so.ask(
            np.zeros((64, 64, 3), np.uint8), so.SecondOpinionConfig("http://127.0.0.1:9/v1", "m", timeout_s=2)
        )
    monkeypatch.delenv(so.ENV_URL, raising=False)
    assert so.config_from({}) is None  # off by default
    cfg = so.config_from({so.ENV_URL: "http://h:1/v1/", so.ENV_MODEL: "m"})
    assert cfg is not None and cfg.endpoint == "http://h:1/v1/chat/completions" and cfg.api_key is None
    with pytest.raises(so.SecondOpinionError, match="http"):
        so.config_from({so.ENV_URL: "file:///etc/passwd", so.ENV_MODEL: "m"})


def _explain(tile) -> AppTest:
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    at.session_state[EXPLAIN_IMAGE] = tile
    at.session_state[EXPLAIN_SOURCE] = "a tile (test)"
    at.run()
    at.switch_page("pages/explain.py").run()
    assert not at.exception, at.exception
    return at


def test_explain_page_second_opinion_flow(stub, tile, runs_dir, monkeypatch):  # noqa: ARG001
    monkeypatch.delenv(so.ENV_URL, raising=False)
    at = _explain(tile)
    assert any("Off." in c.value for c in at.caption)  # not configured: says how, sends nothing
    assert not any(b.label == "Ask for a second opinion" for b in at.button)

    monkeypatch.setenv(so.ENV_URL, stub.url)
    monkeypatch.setenv(so.ENV_MODEL, "local-vlm")
    at = _explain(tile)
    next(b for b in at.button if b.label == "Ask for a second opinion").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    other = next(m for m in at.metric if m.label.startswith("Other model (local-vlm)"))
    assert other.value == "Forest"
    assert any("another model's opinion" in c.value.lower() for c in at.caption)

    stub.mode = "other"  # a non-class answer
    next(b for b in at.button if b.label == "Ask for a second opinion").click().run()
    assert any("did not name one of the ten" in w.value for w in at.warning)

    stub.mode, stub.delay = "slow", 3.0  # a timeout, as configured
    monkeypatch.setenv(so.ENV_TIMEOUT, "0.5")
    at = _explain(tile)
    next(b for b in at.button if b.label == "Ask for a second opinion").click().run()
    assert not at.exception and any("within 0.5 s" in e.value for e in at.error)
