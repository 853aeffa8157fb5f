"""A second opinion on a tile from another model: any OpenAI-compatible chat-completions endpoint that
takes images (a local vision model server, or a hosted one).

Off unless configured: ``EUROSAT_SECOND_OPINION_URL`` (the API base, e.g. ``http://127.0.0.1:8000/v1``;
``/chat/completions`` is appended), ``EUROSAT_SECOND_OPINION_MODEL`` and, if the server needs one,
``EUROSAT_SECOND_OPINION_KEY`` and ``EUROSAT_SECOND_OPINION_TIMEOUT`` (seconds, default 30) — or the
same names in Streamlit secrets (the page passes them in).
The tile (and, when given, its Grad-CAM overlay) is sent as PNG data URLs with the ten class names;
the answer must name one of them. Timeouts, HTTP errors, refusals and answers that name no class get
a clear :class:`SecondOpinionError` or an :class:`Opinion` with ``label`` None — never a traceback.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from eurosat.classes import CLASS_NAMES
from eurosat.errors import EuroSATError

ENV_URL, ENV_MODEL, ENV_KEY = (
    "EUROSAT_SECOND_OPINION_URL",
    "EUROSAT_SECOND_OPINION_MODEL",
    "EUROSAT_SECOND_OPINION_KEY",
)
ENV_TIMEOUT = "EUROSAT_SECOND_OPINION_TIMEOUT"
DEFAULT_TIMEOUT_S: float = 30.0
#: Most characters of the other model's answer kept.
MAX_ANSWER_CHARS: int = 2000

PROMPT = (
    "You are shown a 64 x 64 pixel Sentinel-2 RGB image at 10 m per pixel (640 m across)"
    "{cam}. Which ONE of these EuroSAT land-cover classes is it: " + ", ".join(CLASS_NAMES) + "? "
    'Answer with JSON only: {{"class": "<one of the names>", "reason": "<one or two sentences>"}}.'
)


class SecondOpinionError(EuroSATError):
    """The other model could not be asked, or gave no usable answer."""


@dataclass(frozen=True)
class SecondOpinionConfig:
    """Where and whom to ask."""

    url: str
    model: str
    api_key: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def endpoint(self) -> str:
        """The chat-completions URL."""
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


def config_from(values: Mapping[str, object] | None = None) -> SecondOpinionConfig | None:
    """The configuration from ``values`` (e.g. Streamlit secrets) or the environment; None when off."""

    def get(name: str) -> str:
        v = (values or {}).get(name) or os.environ.get(name, "")
        return str(v).strip()

    url, model = get(ENV_URL), get(ENV_MODEL)
    if not url or not model:
        return None
    if not re.match(r"^https?://", url):
        raise SecondOpinionError(f"{ENV_URL} must start with http:// or https:// (got {url!r}).")
    try:
        timeout = float(get(ENV_TIMEOUT) or DEFAULT_TIMEOUT_S)
    except ValueError as exc:
        raise SecondOpinionError(f"{ENV_TIMEOUT} must be a number of seconds.") from exc
    return SecondOpinionConfig(url, model, get(ENV_KEY) or None, timeout)


@dataclass(frozen=True)
class Opinion:
    """The other model's answer: the class it named (None if it named none of the ten) and why."""

    label: str | None
    reason: str
    model: str
    raw: str


def png_data_url(image: np.ndarray, size: int = 256) -> str:
    """A uint8 (H, W, 3) image enlarged (nearest) to ``size`` px as a PNG ``data:`` URL."""
    from PIL import Image

    im = Image.fromarray(np.asarray(image, np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def build_request(image: np.ndarray, model: str, cam_overlay: np.ndarray | None = None) -> dict:
    """The chat-completions request body (one user message: the prompt, the tile, the overlay)."""
    content: list[dict] = [
        {
            "type": "text",
            "text": PROMPT.format(
                cam=" and, second, the same image with a Grad-CAM heatmap of another classifier's evidence"
                if cam_overlay is not None
                else ""
            ),
        },
        {"type": "image_url", "image_url": {"url": png_data_url(image)}},
    ]
    if cam_overlay is not None:
        content.append({"type": "image_url", "image_url": {"url": png_data_url(cam_overlay)}})
    return {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_tokens": 300,
    }


def parse_answer(text: str, model: str) -> Opinion:
    """Read the class and reason from the answer: JSON if it is JSON, else the first class name in it."""
    text = (text or "").strip()[:MAX_ANSWER_CHARS]
    label, reason = None, text
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
            if isinstance(data, dict):
                named = str(data.get("class", "")).strip()
                label = next((c for c in CLASS_NAMES if c.lower() == named.lower()), None)
                reason = str(data.get("reason", "")).strip() or text
        except ValueError:
            pass
    if label is None:  # free text: a class name as a word ("...this looks like Forest...")
        found = [
            (m.start(), c) for c in CLASS_NAMES for m in [re.search(rf"\b{c}\b", text, re.IGNORECASE)] if m
        ]
        label = min(found)[1] if found else None
    return Opinion(label, reason, model, text)


def ask(image: np.ndarray, config: SecondOpinionConfig, cam_overlay: np.ndarray | None = None) -> Opinion:
    """Ask the configured model which class the tile is.

    Raises:
        SecondOpinionError: no answer within the timeout, the server cannot be reached, an HTTP error,
            or a reply that is not a chat completion.
    """
    import requests

    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    try:
        response = requests.post(
            config.endpoint,
            json=build_request(image, config.model, cam_overlay),
            headers=headers,
            timeout=config.timeout_s,
        )
    except requests.Timeout as exc:
        raise SecondOpinionError(f"No answer from {config.endpoint} within {config.timeout_s:g} s.") from exc
    except requests.RequestException as exc:
        raise SecondOpinionError(f"{config.endpoint} cannot be reached ({type(exc).__name__}).") from exc
    if response.status_code in (401, 403):
        raise SecondOpinionError(
            f"{config.endpoint} refused the key (HTTP {response.status_code}): check {ENV_KEY}."
        )
    if response.status_code == 429:
        raise SecondOpinionError(f"{config.endpoint} is rate-limiting (HTTP 429): try again later.")
    if response.status_code >= 400:
        raise SecondOpinionError(
            f"{config.endpoint} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        choice = response.json()["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content")
        refusal = message.get("refusal")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise SecondOpinionError(
            f"{config.endpoint} did not return a chat completion ({response.text[:120]!r})."
        ) from exc
    if refusal:
        return Opinion(None, f"The model declined: {str(refusal)[:300]}", config.model, str(refusal))
    if isinstance(text, list):  # some servers return content parts
        text = " ".join(str(p.get("text", "")) for p in text if isinstance(p, dict))
    if not isinstance(text, str) or not text.strip():
        raise SecondOpinionError(f"{config.model} returned an empty answer.")
    return parse_answer(text, config.model)
