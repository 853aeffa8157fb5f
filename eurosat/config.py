"""Typed defaults in one place: paths, model files, training settings.

Every path can be overridden by an environment variable so that tests, CI and
users with the data elsewhere need no code change:

``EUROSAT_DATA_DIR``   folder holding ``EuroSAT_RGB.zip`` and ``sentinel2_scene.tif``
``EUROSAT_MODELS_DIR`` folder of the shipped model files
``EUROSAT_RUNS_DIR``   folder where training runs are written
``EUROSAT_STAC_CACHE`` folder where imagery fetched from STAC catalogues is cached
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Folder with the shared data (default ``../shared/data`` beside the repository)."""
    return _env_path("EUROSAT_DATA_DIR", (REPO_ROOT.parent / "shared" / "data").resolve())


def eurosat_zip() -> Path:
    """Default EuroSAT RGB training pool."""
    return data_dir() / "EuroSAT_RGB.zip"


def default_scene() -> Path:
    """Default Sentinel-2 scene shown on the Map page."""
    return data_dir() / "sentinel2_scene.tif"


def models_dir() -> Path:
    """Folder of the shipped models."""
    return _env_path("EUROSAT_MODELS_DIR", REPO_ROOT / "models")


def runs_dir() -> Path:
    """Folder where training runs live (one sub-folder per run)."""
    return _env_path("EUROSAT_RUNS_DIR", REPO_ROOT / "runs")


SPLIT_FILE: Path = REPO_ROOT / "splits" / "eurosat_rgb_split.csv"
SPLIT_SEED: int = 42
SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)

MODEL_BASENAME = "eurosat_resnet_light"
TFLITE_DYNAMIC = f"{MODEL_BASENAME}.tflite"
TFLITE_INT8 = f"{MODEL_BASENAME}_int8.tflite"
TFLITE_FLOAT = f"{MODEL_BASENAME}_float32.tflite"
#: The optional "8 views, slower" file: the 8 flips/rotations of each tile averaged inside it.
TFLITE_TTA = f"{MODEL_BASENAME}_tta.tflite"
KERAS_FILE = f"{MODEL_BASENAME}.keras"
METRICS_FILE = "metrics.json"


@dataclass
class TrainConfig:
    """Settings of one training run (also written to the run folder as ``config.json``)."""

    data: str = field(default_factory=lambda: str(eurosat_zip()))
    out: str = field(default_factory=lambda: str(runs_dir() / "run"))
    split: str = field(default_factory=lambda: str(SPLIT_FILE))
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    augment: bool = True
    subset: float = 1.0  # fraction of every split used (quick runs)
    patience: int = 12  # early stopping on val_accuracy
    seed: int = 42
    filters: int = 32
    export: bool = True  # write TFLite models and their test metrics at the end
    init_from: str | None = None  # start from this .keras model's weights (fine-tuning), not at random
    tta: bool = True  # also export an "8 views, slower" TFLite file (averages the 8 flips/rotations)
    teacher: str | None = None  # distil from this .tflite file's probabilities (a,b,...: their mean)
    distill_weight: float = 0.7  # share of the teacher's probabilities in each training target
    distill_temperature: float = 1.0  # soften the teacher's probabilities first: softmax(log p / T)
    teacher_mix_fraction: float = 0.0  # extra mixup/CutMix tiles labelled by the teacher (eurosat.mixing)
    teacher_online: bool = False  # make and label the mixed tiles fresh in every batch (eurosat.consistent)
    outlier_fraction: float = 0.0  # extra synthetic outliers (clouds, haze, no data...) with uniform targets
    outlier_kinds: tuple[str, ...] = ("cloud", "haze", "nodata", "noise", "flat")  # eurosat.synthetic kinds
    ema: bool = False  # exponential moving average of the weights (evaluated and checkpointed)
    precise_bn: bool = True  # re-estimate batch-norm statistics on clean training images (eurosat.batchnorm)
    calibrate: bool = True  # fit temperature scaling on the validation split and fold it into the model
    arch: str = "resnet_light"  # eurosat.architectures name (python -m eurosat.train --list-archs)
    weights: str = "none"  # transfer learning: "none", "imagenet" (Keras applications) or a .keras file
    freeze_backbone: bool = False  # train only the head (pool, dropout, predictions) ...
    unfreeze_epoch: int | None = None  # ... until this epoch (0-based), then the whole model
    backbone_lr_scale: float = 1.0  # the backbone learns at this × the learning rate
    input_size: int = 64  # the tile is resized to this side inside the model (ImageNet backbones)

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


def teacher_files(spec: str) -> list[str]:
    """The ``.tflite`` files of a ``TrainConfig.teacher`` value (one path, or several comma-separated)."""
    return [part.strip() for part in spec.split(",") if part.strip()]


def serving_threads() -> int:
    """LiteRT threads of each interpreter the app serves with (``EUROSAT_SERVING_THREADS``, default 1).

    The server holds one interpreter per core (:class:`eurosat.serving.ClassifierPool`). With 1
    thread each, a job uses one core and six users pressing "Classify the whole scene" at once each
    wait ≤ 4× their one-user time, a small rectangle ≤ 3× (``benchmarks/load_users.py``); a lone
    user's big job is then ~1.5× slower than on every core. A one-user laptop may set it to the
    core count. Values below 1 or not integers fall back to 1.
    """
    try:
        return max(1, int(os.environ.get("EUROSAT_SERVING_THREADS", "1")))
    except ValueError:
        return 1


def worker_processes() -> bool:
    """Whether the Map page classifies in worker processes (``EUROSAT_WORKER_PROCESSES``, default on).

    In processes (:class:`eurosat.workers.WorkerPool`) no user's job holds another's GIL: six
    whole-scene jobs at once ≤ 4× one alone and a 20-tile area among five ≤ 3× in every round of
    ``benchmarks/load_users.py``. ``0`` classifies in the server's own threads (one process, less
    memory: each worker holds its own interpreter and imports, ~0.17-0.25 GB resident).
    """
    return os.environ.get("EUROSAT_WORKER_PROCESSES", "1").strip().lower() not in ("0", "false", "no", "off")


def stac_cache_dir() -> Path:
    """Folder where imagery fetched from STAC catalogues is cached (``EUROSAT_STAC_CACHE``).

    Default ``$XDG_CACHE_HOME/eurosat/stac`` (``~/.cache/eurosat/stac``).
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return _env_path("EUROSAT_STAC_CACHE", base / "eurosat" / "stac")
