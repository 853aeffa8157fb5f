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


def write_fake_eurosat(root: Path, per_class: int = 4, seed: int = 0, as_zip: bool = False) -> Path:
    """Write a tiny EuroSAT-like pool (``2750/<Class>/<Class>_<n>.jpg``, 64×64 RGB JPEGs).

    Each class has its own mean colour plus noise, so a model can learn something.
    Returns the folder, or the zip file when ``as_zip``.
    """
    import zipfile

    from PIL import Image

    from eurosat.classes import CLASS_NAMES

    gen = np.random.default_rng(seed)
    base = root / "2750"
    for k, name in enumerate(CLASS_NAMES):
        d = base / name
        d.mkdir(parents=True, exist_ok=True)
        colour = np.array([25 * k, 255 - 20 * k, (70 * k) % 256], dtype=float)
        for n in range(1, per_class + 1):
            img = np.clip(colour + gen.normal(0, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{name}_{n}.jpg", quality=95)
    if not as_zip:
        return root
    zpath = root.parent / f"{root.name}.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in sorted(base.rglob("*.jpg")):
            z.write(p, p.relative_to(root).as_posix())
    return zpath


def write_fake_pool_and_split(root: Path, per_class: int = 10) -> tuple[Path, Path]:
    """A tiny fake pool as a zip (:func:`write_fake_eurosat`) and its split file, in ``root``.

    Returns:
        (pool zip, split CSV) for the trainer's ``--data`` and ``--split``.
    """
    from eurosat.data import ImageSource, make_split, write_split

    pool = write_fake_eurosat(root / "pool", per_class=per_class, as_zip=True)
    split = root / "split.csv"
    write_split(make_split(ImageSource(pool).items(), seed=3), split, seed=3)
    return pool, split


@pytest.fixture
def fake_pool(tmp_path) -> Path:
    """A tiny fake EuroSAT folder (4 images per class)."""
    return write_fake_eurosat(tmp_path / "pool", per_class=4)
