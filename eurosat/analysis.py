"""Where and why a model fails: metrics, curves, calibration, an embedding map and the network, per split.

The heavy part (the split's predictions through the served TFLite file, penultimate features through
the Keras model, a 2-D t-SNE of them, the layer table and a few activations) runs once
(:func:`compute_analysis`, or ``python -m eurosat.analysis MODEL_DIR [--subset test]``) and is stored
beside the model as ``analysis_<subset>.npz`` (about 150 kB); pages only read it (:func:`load_analysis`)
and compute the cheap metrics from it (scikit-learn). The shipped model's test analysis ships in
``models/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eurosat.classes import CLASS_NAMES, NUM_CLASSES

ANALYSIS_VERSION = 1
SUBSETS: tuple[str, ...] = ("val", "test")
#: Channels of each stage's activation kept for the page (the most active ones).
ACTIVATION_CHANNELS = 8

Progress = Callable[[float, str], None]  # (share done 0-1, what is happening)


def analysis_path(model_dir: str | Path, subset: str) -> Path:
    """Where a model folder's analysis of ``subset`` is stored."""
    return Path(model_dir) / f"analysis_{subset}.npz"


@dataclass
class Analysis:
    """A model's predictions on a split, with what the analysis page shows.

    Attributes:
        subset: ``val`` or ``test``; model_file: the TFLite file that made ``probs``.
        paths: (N,) image paths in the pool (``Class/file.jpg``); labels: int (N,) true classes.
        probs: float32 (N, 10) served (calibrated) probabilities.
        embedding: float32 (N, 2) t-SNE of the penultimate features.
        temperature: the calibration temperature folded into the model (None: not calibrated).
        layers: one dict per layer: name, type, output shape, parameters, MFLOPs per tile.
        filters: float32 (kh, kw, 3, F) first convolution's kernel.
        activations: per stage, float32 (C, H, W) of its most active channels for ``paths[0]``.
        seconds: time the analysis took; made: when.
    """

    subset: str
    model_file: str
    paths: list[str]
    labels: np.ndarray
    probs: np.ndarray
    embedding: np.ndarray
    temperature: float | None = None
    layers: list[dict] = field(default_factory=list)
    filters: np.ndarray | None = None
    activations: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    made: str = ""

    @property
    def predictions(self) -> np.ndarray:
        """Top class per image: int64 (N,)."""
        return self.probs.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        """Share of images whose top class is right."""
        return float((self.predictions == self.labels).mean()) if len(self.labels) else 0.0

    def uncalibrated_probs(self) -> np.ndarray:
        """The probabilities before the folded temperature: softmax(T · log p) (``probs`` when none)."""
        if not self.temperature:
            return self.probs
        return apply_inverse_temperature(self.probs, self.temperature)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indexes of the images of class ``true`` predicted ``predicted``."""
        return np.flatnonzero((self.labels == true) & (self.predictions == predicted))


def apply_inverse_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Undo a temperature: p_after = softmax(z / T) ⇒ p_before = softmax(T · log p_after)."""
    z = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)) * temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- metrics (cheap)


def confusion(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Confusion matrix, rows true class, columns predicted: int64 (10, 10)."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(labels, predictions, labels=list(range(NUM_CLASSES)))


def per_class_metrics(labels: np.ndarray, predictions: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (scikit-learn; 0 where undefined)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, n = precision_recall_fscore_support(
        labels, predictions, labels=list(range(NUM_CLASSES)), zero_division=0
    )
    return pd.DataFrame({"class": list(CLASS_NAMES), "precision": p, "recall": r, "f1": f, "support": n})


def macro_f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores."""
    from sklearn.metrics import f1_score

    return float(
        f1_score(labels, predictions, labels=list(range(NUM_CLASSES)), average="macro", zero_division=0)
    )


@dataclass
class Curve:
    """One class's one-vs-rest curve: x, y and the area (ROC AUC or average precision)."""

    x: np.ndarray
    y: np.ndarray
    area: float


def _one_vs_rest(labels: np.ndarray, probs: np.ndarray,
                 curve: Callable[[np.ndarray, np.ndarray], Curve]) -> dict[str, Curve]:
    """``curve(is_class, score)`` for each class present in ``labels`` (and not all of them)."""
    out = {}
    for k, name in enumerate(CLASS_NAMES):
        positive = np.asarray(labels) == k
        if positive.any() and not positive.all():
            out[name] = curve(positive, probs[:, k])
    return out


def roc_curves(labels: np.ndarray, probs: np.ndarray) -> dict[str, Curve]:
    """One-vs-rest ROC per class present in ``labels``: false positive rate, true positive rate, AUC."""
    from sklearn.metrics import auc, roc_curve

    def roc(positive: np.ndarray, score: np.ndarray) -> Curve:
        fpr, tpr, _ = roc_curve(positive, score)
        return Curve(fpr, tpr, float(auc(fpr, tpr)))

    return _one_vs_rest(labels, probs, roc)


def pr_curves(labels: np.ndarray, probs: np.ndarray) -> dict[str, Curve]:
    """One-vs-rest precision-recall per class present: recall, precision, average precision."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    def pr(positive: np.ndarray, score: np.ndarray) -> Curve:
        precision, recall, _ = precision_recall_curve(positive, score)
        return Curve(recall, precision, float(average_precision_score(positive, score)))

    return _one_vs_rest(labels, probs, pr)


def hardest_confusions(cm: np.ndarray, top: int = 5) -> pd.DataFrame:
    """The largest off-diagonal cells: true class, predicted class, images, share of the true class."""
    off = cm.astype(float).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None)[:top]
    rows = []
    for flat in order:
        t, p = divmod(int(flat), NUM_CLASSES)
        if off[t, p] == 0:
            break
        rows.append(
            {
                "true": CLASS_NAMES[t],
                "predicted": CLASS_NAMES[p],
                "images": int(cm[t, p]),
                "share of true class": float(cm[t, p] / max(1, cm[t].sum())),
            }
        )
    return pd.DataFrame(rows, columns=["true", "predicted", "images", "share of true class"])


def embed_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE (scikit-learn, PCA to 50 dimensions first) of (N, D) features: float32 (N, 2)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, np.float32)
    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    return (
        TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed)
        .fit_transform(x)
        .astype(np.float32)
    )


# --------------------------------------------------------------------------- the network


def layer_table(model: Any) -> list[dict]:
    """Per layer: name, type, output shape, parameters and MFLOPs per 64×64 tile (conv and dense)."""
    from keras import layers as kl

    rows = []
    for layer in model.layers:
        flops = 0
        if isinstance(layer, kl.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, cout = layer.output.shape
            groups = getattr(layer, "groups", 1) or 1
            flops = 2 * h * w * kh * kw * (layer.input.shape[-1] // groups) * cout
        elif isinstance(layer, kl.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            _, h, w, cout = layer.output.shape
            flops = 2 * h * w * kh * kw * cout
        elif isinstance(layer, kl.Dense):
            flops = 2 * layer.input.shape[-1] * layer.units
        shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") else ()
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output": str(shape),
                "parameters": int(layer.count_params()),
                "mflops": round(flops / 1e6, 3),
            }
        )
    return rows


def stage_of(layer_name: str) -> str:
    """The stage a layer belongs to, from its name (``stage2_block1_conv1`` → ``stage2``)."""
    head = layer_name.split("_")[0]
    return head if head.startswith("stage") else ("stem" if head in ("stem", "conv", "normalize") else head)


def stage_table(layers: list[dict]) -> pd.DataFrame:
    """Parameters and MFLOPs per stage, in network order, with each stage's last output shape."""
    rows: dict[str, dict] = {}
    for row in layers:
        stage = stage_of(row["name"])
        agg = rows.setdefault(stage, {"stage": stage, "layers": 0, "parameters": 0, "mflops": 0.0})
        agg["layers"] += 1
        agg["parameters"] += row["parameters"]
        agg["mflops"] = round(agg["mflops"] + row["mflops"], 3)
        agg["output"] = row["output"]
    return pd.DataFrame(list(rows.values()))


# --------------------------------------------------------------------------- computing and storing


def _features_model(model: Any) -> Any:
    import keras

    return keras.Model(model.inputs, model.layers[-1].input)  # what the classifier layer sees


def _stage_outputs(model: Any) -> list[str]:
    """The last layer of each stage (the stage's output)."""
    last: dict[str, str] = {}
    for layer in model.layers:
        stage = stage_of(layer.name)
        if stage.startswith("stage"):
            last[stage] = layer.name
    return list(last.values())


def compute_analysis(
    model_dir: str | Path,
    data: str | Path,
    subset: str = "test",
    split_file: str | Path | None = None,
    progress: Progress | None = None,
    tflite_name: str | None = None,
) -> Analysis:
    """Predict a split with a model folder's TFLite file, embed its Keras features, describe the network.

    Args:
        model_dir: folder with the model files (``models/``, a run folder or a promoted copy).
        data: EuroSAT zip or folder; subset: ``val`` or ``test`` of the committed split.
        split_file: default :data:`eurosat.config.SPLIT_FILE`.
        progress: called with (share done, what is happening).
    """
    from eurosat import config
    from eurosat.data import ImageSource, read_split
    from eurosat.errors import EuroSATError
    from eurosat.inference import TFLiteClassifier

    def step(share: float, text: str) -> None:
        if progress is not None:
            progress(share, text)

    t0 = time.perf_counter()
    model_dir = Path(model_dir)
    if subset not in SUBSETS:
        raise EuroSATError(f"Subset must be one of {SUBSETS}, not {subset!r}.")
    tflite = model_dir / (tflite_name or config.TFLITE_DYNAMIC)
    keras_file = model_dir / config.KERAS_FILE
    for path in (tflite, keras_file):
        if not path.is_file():
            raise EuroSATError(f"'{model_dir}' has no {path.name}: analyse a finished, exported run.")
    items = read_split(Path(split_file or config.SPLIT_FILE))[subset]
    step(0.02, f"Reading {len(items):,} {subset} images")
    x, y = ImageSource(data).load(items)
    clf = TFLiteClassifier(tflite, num_threads=2, batch_size=128)
    chunks = []
    for i in range(0, len(x), 512):
        chunks.append(clf.predict(x[i : i + 512]))
        step(0.05 + 0.35 * min(1.0, (i + 512) / len(x)), "Predicting with the served file")
    probs = np.concatenate(chunks)
    step(0.42, "Loading the Keras model (TensorFlow) for the features")
    from eurosat.explain import load_keras_model

    model = load_keras_model(keras_file)
    feats = []
    features_model = _features_model(model)
    for i in range(0, len(x), 256):
        feats.append(np.asarray(features_model(x[i : i + 256].astype(np.float32), training=False)))
        step(0.45 + 0.25 * min(1.0, (i + 256) / len(x)), "Penultimate features")
    features = np.concatenate(feats).reshape(len(x), -1)
    step(0.72, "t-SNE of the features")
    embedding = embed_2d(features)
    step(0.92, "The network: layers, filters, activations")
    import keras

    conv = next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)), None)
    filters = np.asarray(conv.get_weights()[0], np.float32) if conv is not None else None
    activations = {}
    names = _stage_outputs(model)
    if names:
        probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
        outs = probe(x[:1].astype(np.float32), training=False)
        for name, out in zip(names, outs if isinstance(outs, list | tuple) else [outs], strict=True):
            a = np.asarray(out)[0]  # (H, W, C)
            top = np.argsort(-a.mean(axis=(0, 1)))[:ACTIVATION_CHANNELS]
            activations[stage_of(name)] = np.moveaxis(a[:, :, top], -1, 0).astype(np.float32)
    metrics = (
        json.loads((model_dir / config.METRICS_FILE).read_text())
        if (model_dir / config.METRICS_FILE).is_file()
        else {}
    )
    if not metrics and (model_dir / "results.json").is_file():
        metrics = json.loads((model_dir / "results.json").read_text())
    calibration = metrics.get("calibration") if isinstance(metrics, dict) else None
    temperature = calibration.get("temperature") if isinstance(calibration, dict) else None
    step(1.0, "Done")
    return Analysis(
        subset,
        tflite.name,
        [it.path for it in items],
        np.asarray(y, np.int64),
        probs,
        embedding,
        float(temperature) if isinstance(temperature, int | float) else None,
        layer_table(model),
        filters,
        activations,
        round(time.perf_counter() - t0, 1),
        time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )


def save_analysis(analysis: Analysis, path: str | Path) -> Path:
    """Store an analysis as a compressed ``.npz`` (arrays in float16 where that loses nothing shown)."""
    path = Path(path)
    meta = {
        "version": ANALYSIS_VERSION,
        "subset": analysis.subset,
        "model_file": analysis.model_file,
        "paths": analysis.paths,
        "temperature": analysis.temperature,
        "layers": analysis.layers,
        "seconds": analysis.seconds,
        "made": analysis.made,
        "stages": list(analysis.activations),
    }
    arrays: dict[str, np.ndarray] = {
        "labels": analysis.labels.astype(np.int8),
        "probs": analysis.probs.astype(np.float32),
        "embedding": analysis.embedding.astype(np.float16),
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
    }
    if analysis.filters is not None:
        arrays["filters"] = analysis.filters.astype(np.float16)
    for i, a in enumerate(analysis.activations.values()):
        arrays[f"act{i}"] = a.astype(np.float16)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, allow_pickle=False, **arrays)
    tmp.replace(path)
    return path


def load_analysis(path: str | Path) -> Analysis | None:
    """Read a stored analysis; None when the file is missing, damaged or of another version."""
    try:
        with np.load(Path(path)) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("version") != ANALYSIS_VERSION:
                return None
            acts = {stage: z[f"act{i}"].astype(np.float32) for i, stage in enumerate(meta.get("stages", []))}
            return Analysis(
                meta["subset"],
                meta["model_file"],
                list(meta["paths"]),
                z["labels"].astype(np.int64),
                z["probs"].astype(np.float32),
                z["embedding"].astype(np.float32),
                meta.get("temperature"),
                meta.get("layers", []),
                z["filters"].astype(np.float32) if "filters" in z else None,
                acts,
                float(meta.get("seconds", 0.0)),
                str(meta.get("made", "")),
            )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m eurosat.analysis MODEL_DIR [--subset test] [--data ZIP]``: compute and store it."""
    import argparse
    import sys

    from eurosat import config
    from eurosat.errors import EuroSATError

    p = argparse.ArgumentParser(prog="python -m eurosat.analysis", description=main.__doc__)
    p.add_argument("model_dir", type=Path, help="models/, a run folder or a promoted copy")
    p.add_argument("--subset", choices=SUBSETS, default="test")
    p.add_argument("--data", type=Path, default=None, help="EuroSAT zip (default: the data folder's)")
    a = p.parse_args(argv)
    try:
        result = compute_analysis(
            a.model_dir,
            a.data or config.eurosat_zip(),
            a.subset,
            progress=lambda share, text: print(f"{share:4.0%} {text}", file=sys.stderr),
        )
    except EuroSATError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = save_analysis(result, analysis_path(a.model_dir, a.subset))
    print(
        f"{out}: {len(result.labels):,} {a.subset} images, accuracy {result.accuracy:.2%}, "
        f"macro F1 {macro_f1(result.labels, result.predictions):.4f}, {result.seconds:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
