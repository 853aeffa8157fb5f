"""eurosat.calibration on synthetic predictions with known answers, and the temperature fold."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from eurosat.calibration import (
    apply_temperature,
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    max_probability_score,
    ood_auroc,
    reliability_bins,
)


def calibrated_sample(n: int = 20000, temperature: float = 1.0, seed: int = 0):
    """Logits z, labels drawn from softmax(z) (so softmax(z) is calibrated), and softmax(z·T)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, 10))
    p = special.softmax(z, axis=1)
    labels = np.array([rng.choice(10, p=row) for row in p])
    return p, labels, special.softmax(z * temperature, axis=1)


def test_calibrated_predictions_have_ece_near_zero():
    p, labels, _ = calibrated_sample()
    assert expected_calibration_error(p, labels) < 0.015


def test_temperature_is_recovered_and_fixes_the_ece():
    p, labels, sharp = calibrated_sample(temperature=2.0)  # over-confident by a factor 2 on the logits
    t = fit_temperature(sharp, labels)
    assert t == pytest.approx(2.0, rel=0.05)
    assert expected_calibration_error(sharp, labels) > 0.05
    assert expected_calibration_error(apply_temperature(sharp, t), labels) < 0.015
    _, _, soft = calibrated_sample(temperature=0.5)  # under-confident (label smoothing does this)
    assert fit_temperature(soft, labels) == pytest.approx(0.5, rel=0.05)


def test_reliability_bins_count_every_prediction():
    p, labels, _ = calibrated_sample(2000)
    rb = reliability_bins(p, labels)
    assert sum(rb.count) == 2000 and len(rb.edges) == 16
    report = calibration_report(p, labels)
    assert set(report) == {"ece", "nll", "mean_confidence", "accuracy", "reliability"}


def test_auroc_perfect_chance_and_reversed():
    rng = np.random.default_rng(0)
    assert ood_auroc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert ood_auroc(rng.uniform(size=5000), rng.uniform(size=5000)) == pytest.approx(0.5, abs=0.02)
    assert ood_auroc(np.array([0.1]), np.array([0.9])) == 0.0
    assert max_probability_score(np.array([[0.9, 0.1], [0.5, 0.5]])).tolist() == pytest.approx([0.1, 0.5])


def test_fold_temperature_changes_only_the_sharpness():
    import keras

    from eurosat.calibration import fold_temperature
    from eurosat.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    x = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)).astype(np.float32)
    before = model.predict(x, verbose=0)
    after = fold_temperature(model, 0.5).predict(x, verbose=0)
    np.testing.assert_allclose(after, apply_temperature(before, 0.5), atol=1e-4)
    assert (after.argmax(1) == before.argmax(1)).all()
