"""eurosat.inference: LiteRT classifier contract, batching, bad model files."""

from __future__ import annotations

import numpy as np
import pytest

from eurosat.errors import ModelLoadError
from eurosat.inference import TFLiteClassifier, top_k
from eurosat.registry import shipped_model


@pytest.fixture(scope="module")
def clf():
    return TFLiteClassifier(shipped_model().tflite, num_threads=2, batch_size=16)


def test_batching_gives_the_same_answer_as_one_by_one(clf):
    x = np.random.default_rng(1).uniform(0, 255, (37, 64, 64, 3)).astype(np.float32)
    whole = clf.predict(x)  # 3 batches of 16, the last padded
    single = np.concatenate([clf.predict(t) for t in x[:5]])  # single 3-D tiles
    np.testing.assert_allclose(whole[:5], single, atol=1e-5)
    assert whole.shape == (37, 10)
    np.testing.assert_allclose(whole.sum(1), 1.0, atol=1e-3)
    assert clf.predict(np.zeros((0, 64, 64, 3))).shape == (0, 10)


def test_uint8_and_float_inputs_agree(clf):
    x = np.random.default_rng(2).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(clf.predict(x), clf.predict(x.astype(np.float32)), atol=1e-6)


def test_wrong_tile_shape_is_refused(clf):
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\)"):
        clf.predict(np.zeros((2, 32, 32, 3)))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        TFLiteClassifier(tmp_path / "none.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match="not a valid TFLite model"):
        TFLiteClassifier(bad)
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError):
        TFLiteClassifier(empty)


def test_top_k_orders_classes():
    p = np.array([0.05, 0.6, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.05, 0.0])
    assert [c for c, _ in top_k(p, 2)] == ["Forest", "Pasture"]
