"""Probability calibration and out-of-distribution scores (numpy + scipy; Keras only to fold).

* :func:`fit_temperature` — temperature scaling (Guo et al., 2017): one scalar ``T`` that
  minimises the negative log-likelihood of ``softmax(log p / T)`` on the validation split.
* :func:`fold_temperature` — puts ``T`` inside a Keras model by dividing the last Dense layer's
  kernel and bias by ``T``: the model still outputs probabilities (the contract), now calibrated,
  at no extra cost; every export made from it carries the calibration.
* :func:`expected_calibration_error` and :func:`reliability_bins` — the reliability diagram.
* :func:`ood_auroc` — how well a score separates outliers from clear tiles (Mann-Whitney U).

Probabilities are float arrays (N, C) whose rows sum to 1; labels are int (N,).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, special, stats

if TYPE_CHECKING:  # pragma: no cover
    import keras

#: Bins of the reliability diagram and of the ECE.
ECE_BINS = 15
_EPS = 1e-12


def log_probs(probs: np.ndarray) -> np.ndarray:
    """Natural log of probabilities (N, C), floored at 1e-12: logits up to a per-row constant."""
    return np.log(np.clip(np.asarray(probs, np.float64), _EPS, 1.0))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row: (N, C) → (N, C)."""
    return special.softmax(log_probs(probs) / float(temperature), axis=1)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    p = np.asarray(probs)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.clip(p, _EPS, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """Temperature ``T`` (> 0) minimising the NLL of ``softmax(log p / T)`` on (probs, labels).

    ``T < 1`` sharpens an under-confident model (label smoothing makes one), ``T > 1`` softens.
    """
    logp = log_probs(probs)
    y = np.asarray(labels)

    def loss(log_t: float) -> float:
        z = logp / np.exp(log_t)
        return float(np.mean(special.logsumexp(z, axis=1) - z[np.arange(len(y)), y]))

    res = optimize.minimize_scalar(loss, bounds=(np.log(0.25), np.log(4.0)), method="bounded")
    return float(np.exp(res.x))


@dataclass
class ReliabilityBins:
    """Reliability diagram data: per confidence bin, its mean confidence, accuracy and count."""

    edges: list[float]
    confidence: list[float | None]
    accuracy: list[float | None]
    count: list[int]

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> ReliabilityBins:
    """Top-1 confidence binned into ``bins`` equal-width bins over [0, 1]."""
    probs = np.asarray(probs)
    conf = probs.max(1)
    right = probs.argmax(1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    confidence: list[float | None] = []
    accuracy: list[float | None] = []
    count: list[int] = []
    for b in range(bins):
        sel = idx == b
        n = int(sel.sum())
        count.append(n)
        confidence.append(round(float(conf[sel].mean()), 5) if n else None)
        accuracy.append(round(float(right[sel].mean()), 5) if n else None)
    return ReliabilityBins([round(float(e), 5) for e in edges], confidence, accuracy, count)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the count-weighted mean |accuracy − confidence| over the reliability bins."""
    rb = reliability_bins(probs, labels, bins)
    total = sum(rb.count)
    if total == 0:
        return 0.0
    gap = sum(n * abs(a - c) for n, a, c in zip(rb.count, rb.accuracy, rb.confidence, strict=True)
              if n and a is not None and c is not None)
    return round(float(gap / total), 5)


def calibration_report(probs: np.ndarray, labels: np.ndarray) -> dict:
    """ECE, NLL, mean top-1 confidence, accuracy and the reliability bins of one prediction set."""
    probs = np.asarray(probs)
    return {
        "ece": expected_calibration_error(probs, labels),
        "nll": round(nll(probs, labels), 5),
        "mean_confidence": round(float(probs.max(1).mean()), 5),
        "accuracy": round(float((probs.argmax(1) == np.asarray(labels)).mean()), 5),
        "reliability": reliability_bins(probs, labels).to_dict(),
    }


def max_probability_score(probs: np.ndarray) -> np.ndarray:
    """Out-of-distribution score (N,): 1 − top-1 probability (higher = less like training data)."""
    return 1.0 - np.asarray(probs).max(1)


def ood_auroc(score_outliers: np.ndarray, score_clear: np.ndarray) -> float:
    """Area under the ROC curve of a score that should be higher on outliers than on clear tiles.

    1.0 separates perfectly, 0.5 is chance. Computed as the Mann-Whitney U statistic / (n₁·n₀).
    """
    a, b = np.asarray(score_outliers, float), np.asarray(score_clear, float)
    if not len(a) or not len(b):
        raise ValueError("AUROC needs at least one outlier and one clear score")
    u = stats.mannwhitneyu(a, b, alternative="two-sided").statistic
    return round(float(u / (len(a) * len(b))), 5)


def fold_temperature(model: keras.Model, temperature: float, layer: str = "predictions") -> keras.Model:
    """A copy of ``model`` whose softmax layer ``layer`` computes ``softmax(logits / T)``.

    The Dense kernel and bias are divided by ``T``; nothing else changes.
    """
    import keras

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    dense = clone.get_layer(layer)
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel / temperature, bias / temperature])
    return clone
