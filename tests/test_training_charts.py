"""eurosat.training_charts: learning curves, confusion-matrix heatmap, per-class table."""

from __future__ import annotations

import numpy as np
import pytest

from eurosat.classes import CLASS_NAMES
from eurosat.metrics import classification_report
from eurosat.training_charts import (
    MODEL_LABELS,
    confusion_figure,
    curves_figure,
    models_with_results,
    per_class_frame,
)

ROWS = [
    {"epoch": 1, "loss": 2.0, "accuracy": 0.3, "val_loss": 30.0, "val_accuracy": 0.2},
    {"epoch": 2, "loss": 1.5, "accuracy": 0.5, "val_loss": 1.6, "val_accuracy": 0.45},
    {"epoch": 3, "loss": 1.4, "accuracy": 0.55, "val_loss": 1.5, "val_accuracy": 0.5, "partial": True},
]


def test_curves_have_train_and_validation_for_loss_and_accuracy():
    fig = curves_figure(ROWS)
    assert [t.name for t in fig.data] == ["train", "validation"] * 2
    loss_train, loss_val, acc_train, acc_val = fig.data
    assert list(loss_val.y) == [30.0, 1.6, 1.5] and list(acc_train.y) == [0.3, 0.5, 0.55]
    assert list(acc_val.x) == [1, 2, 3]
    assert list(acc_val.marker.symbol) == ["circle", "circle", "circle-open"]  # the stopped epoch
    assert fig.layout.yaxis.type == "log"  # losses span 1.4 to 30
    assert list(fig.layout.yaxis.tickvals) == [1, 2, 5, 10, 20]
    assert curves_figure(ROWS[1:]).layout.yaxis.type is None  # a narrow range stays linear


def test_curves_of_no_epoch_are_an_empty_chart_not_an_error():
    assert all(len(t.x) == 0 for t in curves_figure([]).data)


def test_confusion_heatmap_colours_by_row_share_and_writes_counts():
    gen = np.random.default_rng(0)
    y = gen.integers(0, 10, 200)
    cm = classification_report(y, np.where(gen.random(200) < 0.7, y, (y + 1) % 10))["confusion_matrix"]
    heat = confusion_figure(cm).data[0]
    z = np.asarray(heat.z)
    np.testing.assert_allclose(z.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.asarray(heat.text), np.asarray(cm))
    assert list(heat.x) == list(CLASS_NAMES) == list(heat.y)
    assert np.asarray(confusion_figure(cm, normalise=False).data[0].z).sum() == 200


def test_confusion_heatmap_survives_an_absent_class_and_rejects_a_bad_shape():
    cm = np.zeros((10, 10), int)
    cm[0, 0] = 3
    assert np.asarray(confusion_figure(cm).data[0].z)[1].sum() == 0
    with pytest.raises(ValueError, match="10, 10"):
        confusion_figure([[1, 2], [3, 4]])


def test_per_class_frame_and_models_with_results():
    report = classification_report(np.arange(10), np.arange(10))
    df = per_class_frame(report)
    assert list(df["class"]) == list(CLASS_NAMES) and (df["f1"] == 1.0).all() and (df["support"] == 1).all()
    results = {"test": {"tflite_int8": {}, "keras": {}, "tflite_dynamic": {}, "other": {}}}
    assert models_with_results(results) == ["keras", "tflite_dynamic", "tflite_int8", "other"]
    assert models_with_results(None) == [] and set(MODEL_LABELS) >= {"keras", "tflite_dynamic"}
