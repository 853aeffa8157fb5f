"""Classification metrics in plain numpy: accuracy, per-class P/R/F1, confusion matrix."""

from __future__ import annotations

import numpy as np

from eurosat.classes import CLASS_NAMES, NUM_CLASSES


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """(n, n) counts; rows are true classes, columns predicted classes."""
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, macro F1, per-class precision/recall/F1/support and the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    per_class = {
        name: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, name in enumerate(CLASS_NAMES)
    }
    total = int(cm.sum())
    return {
        "accuracy": round(float(tp.sum() / total), 5) if total else 0.0,
        "macro_f1": round(float(f1[support > 0].mean()), 5) if total else 0.0,
        "n": total,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }
