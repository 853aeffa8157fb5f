"""eurosat.analysis: metrics, curves, calibration and projection on synthetic predictions with known
answers, the stored file, and a real analysis of a tiny trained model."""

from __future__ import annotations

import numpy as np
import pytest

from eurosat import analysis as an
from eurosat.calibration import expected_calibration_error
from eurosat.classes import NUM_CLASSES


def _onehot(labels, p=1.0):
    out = np.full((len(labels), NUM_CLASSES), (1 - p) / (NUM_CLASSES - 1), np.float32)
    out[np.arange(len(labels)), labels] = p
    return out


def test_perfect_classifier_has_auc_1_and_constant_one_0_5(rng):
    y = np.repeat(np.arange(NUM_CLASSES), 20)
    perfect = an.roc_curves(y, _onehot(y, 0.9))
    assert len(perfect) == NUM_CLASSES and all(c.area == pytest.approx(1.0) for c in perfect.values())
    constant = an.roc_curves(y, np.full((len(y), NUM_CLASSES), 0.1, np.float32))
    assert all(c.area == pytest.approx(0.5) for c in constant.values())
    assert all(c.area == pytest.approx(1.0) for c in an.pr_curves(y, _onehot(y, 0.9)).values())
    # average precision of a constant score is the class share
    assert all(c.area == pytest.approx(0.1) for c in an.pr_curves(y, np.full((len(y), 10), 0.1)).values())


def test_confusion_per_class_and_macro_f1():
    y = np.array([0, 0, 0, 1, 1, 2])
    p = np.array([0, 0, 1, 1, 1, 0])
    cm = an.confusion(y, p)
    assert cm.shape == (10, 10) and cm[0, 0] == 2 and cm[0, 1] == 1 and cm[2, 0] == 1 and cm.sum() == 6
    table = an.per_class_metrics(y, p)
    assert table.loc[0, "precision"] == pytest.approx(2 / 3) and table.loc[0, "recall"] == pytest.approx(
        2 / 3
    )
    assert table.loc[1, "precision"] == pytest.approx(2 / 3) and table.loc[1, "recall"] == 1.0
    assert table.loc[2, "f1"] == 0 and table.loc[2, "support"] == 1
    # macro over all ten classes (absent ones count 0), as scikit-learn defines it
    assert an.macro_f1(y, p) == pytest.approx((2 / 3 + 0.8 + 0) / 10)
    worst = an.hardest_confusions(cm)
    assert worst.iloc[0]["images"] == 1 and len(worst) == 2


def test_calibrated_synthetic_data_has_ece_near_0_and_temperature_round_trip(rng):
    n = 20_000
    conf = rng.uniform(0.3, 1.0, n)
    labels = rng.integers(0, NUM_CLASSES, n)
    right = rng.random(n) < conf  # right exactly as often as the confidence says
    pred = np.where(right, labels, (labels + rng.integers(1, NUM_CLASSES, n)) % NUM_CLASSES)
    probs = np.full((n, NUM_CLASSES), 0.0)
    probs[np.arange(n), pred] = conf
    rest = (1 - conf) / (NUM_CLASSES - 1)
    probs += (probs == 0) * rest[:, None]
    assert expected_calibration_error(probs, labels) < 0.015
    # undoing a temperature gives back the probabilities before it
    z = rng.normal(size=(50, NUM_CLASSES))
    before = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    after = np.exp(z / 0.5) / np.exp(z / 0.5).sum(1, keepdims=True)
    np.testing.assert_allclose(an.apply_inverse_temperature(after, 0.5), before, atol=1e-5)


def test_embedding_separates_clusters(rng):
    centres = rng.normal(scale=20, size=(3, 16))
    labels = np.repeat(np.arange(3), 40)
    x = centres[labels] + rng.normal(size=(120, 16))
    e = an.embed_2d(x)
    assert e.shape == (120, 2)
    mean = np.stack([e[labels == k].mean(0) for k in range(3)])
    within = max(np.linalg.norm(e[labels == k] - mean[k], axis=1).mean() for k in range(3))
    between = min(np.linalg.norm(mean[a] - mean[b]) for a in range(3) for b in range(a + 1, 3))
    assert between > 3 * within


def test_save_and_load_round_trip(tmp_path, rng):
    y = rng.integers(0, 10, 30)
    a = an.Analysis(
        "test",
        "m.tflite",
        [f"Forest/Forest_{i}.jpg" for i in range(30)],
        y,
        _onehot(y, 0.8),
        rng.normal(size=(30, 2)).astype(np.float32),
        0.55,
        [
            {
                "name": "stage1_block0_conv1",
                "type": "Conv2D",
                "output": "(32, 32, 32)",
                "parameters": 9216,
                "mflops": 18.9,
            }
        ],
        rng.normal(size=(3, 3, 3, 8)).astype(np.float32),
        {"stage1": rng.random((8, 32, 32)).astype(np.float32)},
        1.5,
        "now",
    )
    path = an.save_analysis(a, an.analysis_path(tmp_path, "test"))
    b = an.load_analysis(path)
    assert b is not None and b.paths == a.paths and b.temperature == 0.55 and b.accuracy == a.accuracy
    np.testing.assert_array_equal(b.labels, y)
    assert list(b.activations) == ["stage1"] and b.filters.shape == (3, 3, 3, 8)
    assert an.stage_table(b.layers).iloc[0]["stage"] == "stage1"
    assert an.load_analysis(tmp_path / "missing.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert an.load_analysis(tmp_path / "bad.npz") is None


def test_shipped_analysis_matches_the_model_card(shipped_model_dir):
    import json

    a = an.load_analysis(an.analysis_path(shipped_model_dir, "test"))
    assert a is not None, "models/analysis_test.npz is missing: python -m eurosat.analysis models"
    metrics = json.loads((shipped_model_dir / "metrics.json").read_text())
    assert a.accuracy == pytest.approx(metrics["test"]["tflite_dynamic"]["accuracy"], abs=5e-4)
    assert a.temperature == pytest.approx(metrics["calibration"]["temperature"])
    assert sum(r["parameters"] for r in a.layers) == metrics["parameters"]
    assert expected_calibration_error(a.uncalibrated_probs(), a.labels) > expected_calibration_error(
        a.probs, a.labels
    )
