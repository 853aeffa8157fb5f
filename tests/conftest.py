"""Shared fixtures: paths to the real data, tiny synthetic images, the shipped model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from eurosat import config  # noqa: E402

REPO = config.REPO_ROOT


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def eurosat_zip() -> Path:
    """The real EuroSAT pool; integration tests skip (with the reason) when it is absent."""
    path = config.eurosat_zip()
    if not path.is_file():
        pytest.skip(f"real EuroSAT data not found at {path}")
    return path


@pytest.fixture(scope="session")
def scene_path() -> Path:
    """The real shipped Sentinel-2 scene."""
    path = config.default_scene()
    if not path.is_file():
        pytest.skip(f"real scene not found at {path}")
    return path


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    return config.models_dir()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """An isolated runs folder (EUROSAT_RUNS_DIR) so tests never touch the real one."""
    d = tmp_path / "runs"
    d.mkdir()
    monkeypatch.setenv("EUROSAT_RUNS_DIR", str(d))
    return d
