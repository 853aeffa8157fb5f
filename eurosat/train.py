"""Train the light ResNet: ``python -m eurosat.train --data PATH --epochs N --out runs/NAME``.

A run folder holds, written as training goes:

``config.json``     the settings
``status.json``     state (running/finished/stopped/failed), epoch/step progress, pid, times
``metrics.jsonl``   one JSON line per finished epoch (loss, accuracy, val_loss, val_accuracy, lr)
``train.log``       the log (when launched by :mod:`eurosat.runs`)
``last.keras``      checkpoint after every epoch (resume with ``--resume``)
``best.keras``      best validation accuracy so far
``results.json``    at the end: test metrics of the Keras model and of each exported TFLite model
``*.tflite``        exported models (float32, dynamic-range, int8)

SIGTERM or SIGINT stops the run cleanly after the current batch: the checkpoint and the
metrics so far are kept and ``status.json`` says ``stopped``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eurosat import config, transfer
from eurosat.classes import CLASS_NAMES, NUM_CLASSES, TILE_SIZE
from eurosat.config import TrainConfig
from eurosat.data import ImageSource, make_dataset, read_split, take_fraction
from eurosat.errors import EuroSATError, TrainingError
from eurosat.metrics import classification_report
from eurosat.model import register_custom_layers

if TYPE_CHECKING:  # pragma: no cover
    import keras

STATUS_FILE = "status.json"
METRICS_LOG = "metrics.jsonl"
RESULTS_FILE = "results.json"
CONFIG_FILE = "config.json"
#: Full-int8 calibration: candidate sets of training images; the one whose int8 model agrees most
#: with the float model on the validation split is kept (min/max calibration is sensitive to them).
CALIBRATION_CANDIDATES = 4
CALIBRATION_IMAGES = 500
#: Weight averaging (``--ema``): momentum per step (~1,000-step window, about 3 epochs).
EMA_MOMENTUM = 0.999
#: Precise BN (``cfg.precise_bn``): clean (unaugmented) training images whose exact batch-norm
#: statistics replace the running ones before every validation and before export (:mod:`eurosat.batchnorm`).
PRECISE_BN_IMAGES = 2048
#: Sub-folder of a run with its TensorBoard event files (scalars per epoch, the graph).
TENSORBOARD_DIR = "tensorboard"


def tensorboard_callbacks(run_dir: Path) -> list:
    """A TensorBoard callback writing ``run_dir/tensorboard`` (scalars per epoch and the graph) when the
    optional ``tensorboard`` package is installed (``pip install -r requirements-tensorboard.txt``;
    then ``tensorboard --logdir runs``), else none: the app and the trainer do not need it."""
    import importlib.util

    import keras

    if importlib.util.find_spec("tensorboard") is None:
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(run_dir / TENSORBOARD_DIR), write_graph=True,
                                        update_freq="epoch", profile_batch=0)]


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON so that a reader never sees a half-written file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def hardware_summary() -> str:
    """One line describing where training ran: CPU model (from /proc/cpuinfo on Linux), cores, no GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores, CPU only"


class _StopFlag:
    """Set by SIGTERM/SIGINT; checked by the progress callback after every batch."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        def handler(signum, frame):  # noqa: ARG001
            self.requested = True

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _load_checkpoint(path: Path):
    """A run's checkpoint with its optimizer, our own layer and optimizer classes registered first."""
    import keras

    transfer.backbone_scaled_adamw()
    register_custom_layers()
    return keras.models.load_model(path)


def _best_val_so_far(run_dir: Path) -> float | None:
    """Best validation accuracy in the run's metrics log (None: no epoch yet)."""
    vals = [e["val_accuracy"] for e in _epoch_log(run_dir) if "val_accuracy" in e]
    return max(vals) if vals else None


def precise_bn_images(x_train: np.ndarray, seed: int) -> np.ndarray:
    """The fixed, seeded subset of clean training images batch-norm statistics are estimated on."""
    n = min(PRECISE_BN_IMAGES, len(x_train))
    return x_train[np.random.default_rng(seed).choice(len(x_train), n, replace=False)]


def _make_callbacks(run_dir: Path, cfg: TrainConfig, steps: int, start_epoch: int, stop: _StopFlag,
                    started: float, bn_images: np.ndarray | None = None):
    import keras

    from eurosat.batchnorm import recompute_batchnorm_statistics

    best_so_far = _best_val_so_far(run_dir) if start_epoch else None  # a resumed run or a second phase

    status_path = run_dir / STATUS_FILE
    metrics_path = run_dir / METRICS_LOG

    class Progress(keras.callbacks.Callback):
        """Writes status.json every few batches and metrics.jsonl every epoch; honours stop."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.epoch_start = time.time()
            self._write(step=0)

        def _write(self, step: int, state: str = "running") -> None:
            write_json_atomic(status_path, {
                "state": state, "pid": os.getpid(), "epoch": self.epoch + 1, "epochs": cfg.epochs,
                "step": step, "steps": steps, "started": started, "updated": time.time(),
                "epoch_started": self.epoch_start,
            })

        def on_train_batch_end(self, batch, logs=None):
            if stop.requested:
                self.model.stop_training = True
            if batch % 10 == 0 or batch + 1 == steps:
                self._write(step=batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            lr = self.model.optimizer.learning_rate
            row = {
                "epoch": epoch + 1,
                **{k: round(float(v), 5) for k, v in logs.items() if k != "learning_rate"},
                "lr": float(np.asarray(lr)),
                "epoch_time_s": round(time.time() - self.epoch_start, 1),
                "time": time.time(),
            }
            if stop.requested:
                row["partial"] = True
            with open(metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")

    class PreciseBatchNorm(keras.callbacks.Callback):
        """Before each validation: the batch-norm statistics of the weights being validated (the
        averaged ones with EMA), estimated on clean training images; the checkpoints keep them.
        Training itself normalises with batch statistics, so it is not affected."""

        def __init__(self, images: np.ndarray) -> None:
            super().__init__()
            self.images = images

        def on_test_begin(self, logs=None):
            recompute_batchnorm_statistics(self.model, self.images)

    ema = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if cfg.ema else []
    precise = [PreciseBatchNorm(bn_images)] if cfg.precise_bn and bn_images is not None else []
    return [
        Progress(),
        *ema,  # before the checkpoints: they (and validation) see the averaged weights
        *precise,  # after the swap: the statistics are those of the weights validated
        keras.callbacks.ModelCheckpoint(str(run_dir / "last.keras"), save_best_only=False),
        keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor="val_accuracy",
                                        mode="max", save_best_only=True, initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=cfg.patience),
        *tensorboard_callbacks(run_dir),
    ]


def _completed_epochs(run_dir: Path) -> int:
    path = run_dir / METRICS_LOG
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def _compile(model, cfg: TrainConfig, total_steps: int, warmup_steps: int, done_steps: int = 0) -> None:
    """Compile with AdamW on a warm-up + cosine schedule; ``done_steps`` continues the schedule
    (the second phase of a frozen-then-unfrozen fine-tune starts where the first ended)."""
    import keras

    from eurosat.transfer import backbone_scaled_adamw

    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=0.01,
        warmup_target=cfg.learning_rate,
        warmup_steps=warmup_steps,
    )
    options = dict(learning_rate=schedule, weight_decay=cfg.weight_decay, use_ema=cfg.ema,
                   ema_momentum=EMA_MOMENTUM)
    if cfg.backbone_lr_scale != 1.0:
        opt = backbone_scaled_adamw()(backbone_lr_scale=cfg.backbone_lr_scale, **options)
    else:
        opt = keras.optimizers.AdamW(**options)
    opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    if done_steps:
        opt.build(model.trainable_variables)
        opt.iterations.assign(done_steps)
    model.compile(
        optimizer=opt,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )


def _load_weights(path: Path) -> list[np.ndarray]:
    """Weights of a ``.keras`` model of this architecture (for ``--init-from``)."""
    import keras

    register_custom_layers()
    if not path.is_file():
        raise EuroSATError(f"--init-from: model file '{path}' not found")
    try:
        return keras.models.load_model(path, compile=False).get_weights()
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise EuroSATError(f"--init-from: '{path}' is not a readable Keras model: {exc}") from exc


def _one_hot_dataset(ds):
    import tensorflow as tf

    return ds.map(lambda x, y: (x, tf.one_hot(y, NUM_CLASSES)))


def training_targets(x_train: np.ndarray, y_train: np.ndarray,
                     cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training images and soft targets (N, 10): one-hot labels, the teacher's mix, outliers.

    * ``cfg.teacher`` (a ``.tflite`` file honouring the contract, or several, comma-separated: an
      ensemble, their mean probabilities): target = ``distill_weight`` × teacher probabilities + the
      rest × one-hot (Hinton-style soft targets, computed once, offline). A calibrated teacher is
      sharp (top-1 near 1), so ``cfg.distill_temperature`` T > 1 softens it first,
      ``softmax(log p / T)``, to pass on how alike it finds the other classes; the student is
      recalibrated on validation at export anyway. With an "8 views" teacher its output is
      invariant to the flips/rotations of the augmentation, so the offline target stays exact.
    * ``cfg.teacher_mix_fraction``: that many extra mixed tiles (:mod:`eurosat.mixing`: mixup and
      CutMix pairs of training tiles) whose targets mix the teacher's answer on the mixed tile with
      the mixed labels, as above: the student also matches the teacher between the training images
      (function matching, Beyer et al. 2022). Without a teacher they keep the mixed labels. With
      ``cfg.teacher_online`` none are made here: :func:`training_dataset` mixes every batch afresh.
    * ``cfg.outlier_fraction``: that many extra synthetic outliers (:mod:`eurosat.synthetic`:
      clouds, haze, shadow, no data, noise, flat colour) with the uniform target (outlier exposure,
      Hendrycks et al. 2019): the model learns to say "none of these" with a low top-1 probability.
    """
    targets = np.eye(NUM_CLASSES, dtype=np.float32)[y_train]
    n_real = len(x_train)
    n_mix = 0 if cfg.teacher_online else int(round(cfg.teacher_mix_fraction * n_real))
    if n_mix:
        from eurosat.mixing import mixed_tiles

        mixed = mixed_tiles(x_train, y_train, n_mix, seed=cfg.seed)
        x_train = np.concatenate([x_train, mixed.images])
        targets = np.concatenate([targets, mixed.labels])
        print(f"function matching: {n_mix} mixed tiles (mixup and CutMix pairs), "
              f"labelled by the teacher", flush=True)
    if cfg.teacher:
        from eurosat.consistent import teacher_probabilities
        from eurosat.inference import TFLiteClassifier

        classifiers = [TFLiteClassifier(f, batch_size=128) for f in config.teacher_files(cfg.teacher)]
        teacher = teacher_probabilities(classifiers, x_train, cfg.distill_temperature)
        print(f"teacher {cfg.teacher}: top-1 agrees with the labels on "
              f"{np.mean(teacher[:n_real].argmax(1) == y_train):.4f} of the training images", flush=True)
        if cfg.distill_temperature != 1.0:
            print(f"teacher softened at T = {cfg.distill_temperature}: mean top-1 "
                  f"{teacher.max(1).mean():.3f}", flush=True)
        targets = cfg.distill_weight * teacher + (1.0 - cfg.distill_weight) * targets
    n_out = int(round(cfg.outlier_fraction * n_real))
    if n_out:
        from eurosat.synthetic import outlier_tiles

        x_out, _ = outlier_tiles(x_train, n_out, seed=cfg.seed, kinds=tuple(cfg.outlier_kinds))
        x_train = np.concatenate([x_train, x_out])
        targets = np.concatenate([targets, np.full((n_out, NUM_CLASSES), 1.0 / NUM_CLASSES, np.float32)])
        print(f"outlier exposure: {n_out} synthetic outlier tiles with uniform targets", flush=True)
    return x_train, targets


def training_dataset(x_fit: np.ndarray, targets: np.ndarray, y_train: np.ndarray, cfg: TrainConfig,
                     start_epoch: int = 0):
    """The training pipeline: shuffled, augmented batches of (images, targets).

    With ``cfg.teacher_online`` each batch also gets ``teacher_mix_fraction`` × its size of fresh
    mixed tiles, labelled by the teacher as the student sees them (:mod:`eurosat.consistent`);
    ``x_fit`` is then the training images alone (no outliers), so ``y_train`` gives their classes;
    a run resumed at ``start_epoch`` mixes new pairs rather than replaying those of epoch 1.
    """
    if not cfg.teacher_online:
        return make_dataset(x_fit, targets, cfg.batch_size, True, cfg.augment, cfg.seed)
    from eurosat.consistent import OnlineTeacher, consistent_dataset

    if cfg.teacher is None or len(x_fit) != len(y_train):
        raise EuroSATError("online teaching needs --teacher and no --outlier-fraction")
    teacher = OnlineTeacher(config.teacher_files(cfg.teacher), cfg.teacher_mix_fraction,
                            cfg.distill_weight, cfg.distill_temperature, seed=cfg.seed,
                            stream=start_epoch)
    print(f"consistent teaching: {round(cfg.teacher_mix_fraction * cfg.batch_size)} fresh mixed tiles "
          f"per batch of {cfg.batch_size}, labelled online by {len(teacher.files)} teacher file(s)",
          flush=True)
    return consistent_dataset(x_fit, targets, y_train, cfg.batch_size, teacher, cfg.augment, cfg.seed)


def keras_predictions(model, x: np.ndarray) -> np.ndarray:
    """Top-1 classes of a Keras model on uint8 images ``x``."""
    return model.predict(x.astype(np.float32), batch_size=256, verbose=0).argmax(1)


def tflite_predictions(path: Path, x: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Top-1 classes of a TFLite model (through LiteRT) on uint8 images ``x``."""
    from eurosat.inference import TFLiteClassifier

    pred, _ = TFLiteClassifier(path, num_threads=num_threads, batch_size=128).classify(x)
    return pred


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of images where two models give the same class."""
    return round(float(np.mean(np.asarray(a) == np.asarray(b))), 5)


def build_for(cfg: TrainConfig):
    """The untrained (or ImageNet-initialised) Keras model a run's settings ask for."""
    from eurosat import architectures
    from eurosat.model import build_model

    arch = architectures.get(cfg.arch)
    if arch.name == architectures.DEFAULT_ARCH and cfg.weights != transfer.WEIGHTS_IMAGENET:
        return build_model(filters=cfg.filters, input_size=cfg.input_size)
    weights = cfg.weights if cfg.weights == transfer.WEIGHTS_IMAGENET else transfer.WEIGHTS_NONE
    return arch.build(weights=weights, input_size=cfg.input_size)


def _frozen(cfg: TrainConfig, epoch: int) -> bool:
    return transfer.frozen_at(epoch, cfg.freeze_backbone, cfg.unfreeze_epoch)


def _phases(cfg: TrainConfig, start_epoch: int) -> list[tuple[int, int]]:
    """Epoch ranges [first, last) fitted one after the other: two when the backbone thaws mid-run."""
    thaw = cfg.unfreeze_epoch if cfg.freeze_backbone else None
    if thaw is not None and start_epoch < thaw < cfg.epochs:
        return [(start_epoch, thaw), (thaw, cfg.epochs)]
    return [(start_epoch, cfg.epochs)]


def train(cfg: TrainConfig, resume: bool = False, stop: _StopFlag | None = None) -> dict:
    """Run one training (or resume it), then test and export. Returns the final status dict.

    ``stop`` is the flag set by SIGTERM/SIGINT (installed by :func:`main` before TensorFlow loads).
    """
    import keras

    from eurosat import architectures

    run_dir = Path(cfg.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    if stop is None:
        stop = _StopFlag()
        stop.install()
    write_json_atomic(run_dir / CONFIG_FILE, cfg.to_dict())
    write_json_atomic(run_dir / STATUS_FILE, {"state": "loading data", "pid": os.getpid(),
                                              "started": started, "updated": started,
                                              "epoch": 0, "epochs": cfg.epochs})
    keras.utils.set_random_seed(cfg.seed)

    source = ImageSource(cfg.data)
    split = read_split(Path(cfg.split))
    subsets = {name: take_fraction(items, cfg.subset) for name, items in split.items()}
    x_train, y_train = source.load(subsets["train"])
    x_val, y_val = source.load(subsets["val"])
    x_test, y_test = source.load(subsets["test"])
    print(f"data: train {len(x_train)}, val {len(x_val)}, test {len(x_test)} images", flush=True)

    start_epoch = _completed_epochs(run_dir) if resume else 0
    x_fit, targets = training_targets(x_train, y_train, cfg)
    train_ds = training_dataset(x_fit, targets, y_train, cfg, start_epoch)
    val_ds = _one_hot_dataset(make_dataset(x_val, y_val, 256, False))
    steps = int(np.ceil(len(x_fit) / cfg.batch_size))
    del x_fit

    total_steps, warmup_steps = steps * cfg.epochs, steps * cfg.warmup_epochs
    if resume and (run_dir / "last.keras").exists():
        model = _load_checkpoint(run_dir / "last.keras")
        model.optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        print(f"resuming after epoch {start_epoch}", flush=True)
        if transfer.set_backbone_trainable(model, not _frozen(cfg, start_epoch)):
            _compile(model, cfg, total_steps, warmup_steps, done_steps=steps * start_epoch)
    else:
        if not resume:
            (run_dir / METRICS_LOG).unlink(missing_ok=True)
        start_epoch = 0
        model = build_for(cfg)
        if cfg.init_from:
            model.set_weights(_load_weights(Path(cfg.init_from)))
            print(f"weights initialised from {cfg.init_from}", flush=True)
        if cfg.weights not in (transfer.WEIGHTS_NONE, transfer.WEIGHTS_IMAGENET):
            print(transfer.copy_matching_weights(model, Path(cfg.weights).expanduser()).summary(), flush=True)
        transfer.set_backbone_trainable(model, not _frozen(cfg, 0))
        _compile(model, cfg, total_steps, warmup_steps)
    print(f"model {cfg.arch}: {model.count_params()} parameters, "
          f"{architectures.model_flops(model) / 1e6:.1f} MFLOPs/tile"
          + (f" (tiles upscaled to {cfg.input_size} px)" if cfg.input_size != TILE_SIZE else ""),
          flush=True)

    bn_images = precise_bn_images(x_train, cfg.seed)
    t0 = time.time()
    for first, last in _phases(cfg, start_epoch):
        if first > start_epoch:  # the backbone thaws: recompile, the schedule continues
            if _completed_epochs(run_dir) < first or stop.requested:
                break  # stopped or stopped early before the phase
            transfer.set_backbone_trainable(model, True)
            _compile(model, cfg, total_steps, warmup_steps, done_steps=steps * first)
            print(f"epoch {first + 1}: backbone unfrozen", flush=True)
        frozen = sum(1 for layer in model.layers if layer.weights and not layer.trainable)
        if frozen:
            print(f"{frozen} backbone layers frozen, head trained", flush=True)
        model.fit(
            train_ds, validation_data=val_ds, epochs=last, initial_epoch=first,
            callbacks=_make_callbacks(run_dir, cfg, steps, first, stop, started, bn_images), verbose=2,
        )
    train_time = time.time() - t0
    done = _completed_epochs(run_dir)
    status: dict = {"pid": os.getpid(), "started": started, "updated": time.time(), "epoch": done,
              "epochs": cfg.epochs, "train_time_s": round(train_time, 1)}
    if stop.requested:
        status["state"] = "stopped"
        write_json_atomic(run_dir / STATUS_FILE, status)
        print("stopped on request; checkpoint and metrics kept", flush=True)
        return status

    return finish_run(run_dir, cfg, status, x_train, x_val, y_val, x_test, y_test)


def _epoch_log(run_dir: Path) -> list[dict]:
    path = run_dir / METRICS_LOG
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _calibrate(model, cfg: TrainConfig, x_val: np.ndarray, y_val: np.ndarray, x_test: np.ndarray,
               y_test: np.ndarray) -> tuple[keras.Model, dict]:
    """Fit temperature scaling on the validation split; fold it into the model when ``cfg.calibrate``.

    Returns the (calibrated) model and a report: the temperature, ECE/NLL/reliability bins on
    validation and test before and after, and under ``decision`` the Uncertain threshold chosen on
    the calibrated validation predictions (:func:`eurosat.decision.choose_min_probability`).
    """
    from eurosat.calibration import apply_temperature, calibration_report, fit_temperature, fold_temperature
    from eurosat.decision import choose_min_probability

    p_val = model.predict(x_val.astype(np.float32), batch_size=256, verbose=0)
    p_test = model.predict(x_test.astype(np.float32), batch_size=256, verbose=0)
    temperature = fit_temperature(p_val, y_val) if cfg.calibrate else 1.0
    report: dict = {
        "temperature": round(temperature, 5), "fitted_on": "val", "applied": cfg.calibrate,
        "val_before": calibration_report(p_val, y_val),
        "val_after": calibration_report(apply_temperature(p_val, temperature), y_val),
        "test_before": calibration_report(p_test, y_test),
        "test_after": calibration_report(apply_temperature(p_test, temperature), y_test),
    }
    report["decision"] = choose_min_probability(apply_temperature(p_val, temperature), y_val)
    if cfg.calibrate:
        model = fold_temperature(model, temperature)
    print(f"uncertain below p = {report['decision']['min_probability']:.3f} (validation: kept "
          f"{report['decision']['coverage']:.1%}, wrong {report['decision']['error_of_kept']:.2%} of those)",
          flush=True)
    print(f"calibration: T = {temperature:.3f}; test ECE {report['test_before']['ece']:.4f} → "
          f"{report['test_after']['ece']:.4f}", flush=True)
    return model, report


def parent_summary(init_from: str | None) -> dict | None:
    """What a fine-tune started from (``--init-from``): the run whose folder holds that file, with its
    architecture, epochs, training time and distillation, and its own parent in turn (None: trained
    from scratch, or the file is not in a finished run's folder)."""
    if not init_from:
        return None
    folder = Path(init_from).parent
    try:
        results = json.loads((folder / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return {"file": Path(init_from).name, "run": None}
    return {"file": Path(init_from).name, "run": folder.name,
            **{k: results.get(k) for k in ("architecture", "epochs_run", "train_time_s", "distillation",
                                          "ema", "parent")}}


def finish_run(run_dir: Path, cfg: TrainConfig, status: dict, x_train: np.ndarray, x_val: np.ndarray,
               y_val: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Calibrate, test and export the run's ``best.keras``; write ``results.json`` and the status.

    The shipped ``.keras`` is saved with float16-stored weights (:func:`save_keras_compact`) and
    reloaded: every test figure and every TFLite export is made from the weights that ship.
    Epoch count, best validation accuracy and training time come from ``metrics.jsonl``, so a
    resumed run reports its whole training.
    """
    import keras
    import tensorflow as tf

    from eurosat.architectures import model_flops
    from eurosat.export import export_tflite, export_tta_file, save_keras_compact
    from eurosat.model import TTA_VIEWS, with_tta

    write_json_atomic(run_dir / STATUS_FILE, {**status, "state": "testing"})
    best_raw = _load_checkpoint(run_dir / "best.keras")
    if cfg.precise_bn:  # also for checkpoints written before precise BN (a --finalize of an older run)
        from eurosat.batchnorm import recompute_batchnorm_statistics

        transfer.set_backbone_trainable(best_raw, not _frozen(cfg, cfg.epochs - 1))  # frozen ones keep theirs
        recompute_batchnorm_statistics(best_raw, precise_bn_images(x_train, cfg.seed))
    transfer.set_backbone_trainable(best_raw, True)  # the shipped model is whole again (fine-tunable)
    calibrated, calibration = _calibrate(best_raw, cfg, x_val, y_val, x_test, y_test)
    keras_file = save_keras_compact(calibrated, run_dir / config.KERAS_FILE)
    best = keras.models.load_model(keras_file)  # the weights that ship (float16-stored, calibrated)
    epochs = _epoch_log(run_dir)
    train_time = round(sum(e.get("epoch_time_s", 0.0) for e in epochs), 1)
    results: dict = {
        "classes": list(CLASS_NAMES),
        "parameters": int(best.count_params()),
        "flops_per_tile": model_flops(best),
        "architecture": cfg.arch,
        "epochs_run": len(epochs),
        "best_val_accuracy": max((e.get("val_accuracy", 0.0) for e in epochs), default=0.0),
        "train_time_s": train_time,
        "hardware": hardware_summary(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "test": {"keras": classification_report(y_test, plain := keras_predictions(best, x_test))},
        "files": {"keras": {"path": str(keras_file), "size_bytes": keras_file.stat().st_size}},
        "tta": cfg.tta,
        "calibration": {k: v for k, v in calibration.items() if k != "decision"},
        "decision": calibration["decision"],
        "distillation": ({"teacher": cfg.teacher, "weight": cfg.distill_weight,
                          "temperature": cfg.distill_temperature} if cfg.teacher else None),
        "teacher_mix_fraction": cfg.teacher_mix_fraction,
        "teacher_online": cfg.teacher_online,
        "outlier_fraction": cfg.outlier_fraction,
        "ema": cfg.ema,
        "precise_bn": cfg.precise_bn,
        "parent": parent_summary(cfg.init_from),
    }
    # The default files are single-pass; the "8 views, slower" one is exported beside them.
    exported_model, reference = best, plain
    results["flops_per_tile_exported"] = results["flops_per_tile"]
    results["served_views"] = 1  # the default files are single-pass (eurosat.registry.served_views)
    if cfg.tta:
        results["test"]["keras_tta"] = classification_report(
            y_test, tta_pred := keras_predictions(with_tta(best), x_test))
        results["test"]["keras_tta"]["agreement_with_plain_keras"] = agreement(tta_pred, plain)
        results["tta_views"] = TTA_VIEWS
        results["flops_per_tile_tta"] = results["flops_per_tile"] * TTA_VIEWS
    if cfg.export:
        write_json_atomic(run_dir / STATUS_FILE, {**status, "state": "exporting"})
        rng = np.random.default_rng(cfg.seed)
        n_rep = min(CALIBRATION_IMAGES, len(x_train))
        candidates = [x_train[rng.choice(len(x_train), size=n_rep, replace=False)].astype(np.float32)
                      for _ in range(CALIBRATION_CANDIDATES)]
        exported = export_tflite(exported_model, run_dir, candidates, x_test[:512], select_images=x_val)
        for kind, info in exported.items():
            results["files"][kind] = info
            pred = tflite_predictions(Path(info["path"]), x_test)
            report = classification_report(y_test, pred)
            report["agreement_with_keras"] = agreement(pred, reference)  # the model it was made from
            results["test"][f"tflite_{kind}"] = report
        if cfg.tta:
            info = export_tta_file(with_tta(best), run_dir, x_test[:256])
            results["files"]["tta"] = info
            pred = tflite_predictions(Path(info["path"]), x_test)
            results["test"]["tflite_tta"] = classification_report(y_test, pred)
            results["test"]["tflite_tta"]["agreement_with_keras"] = agreement(pred, tta_pred)
    write_json_atomic(run_dir / RESULTS_FILE, results)
    status = {**status, "state": "finished", "updated": time.time(),
              "test_accuracy": results["test"]["keras"]["accuracy"]}
    write_json_atomic(run_dir / STATUS_FILE, status)
    print(json.dumps({k: v["accuracy"] for k, v in results["test"].items()}), flush=True)
    return status


def finalize(run_dir: Path) -> dict:
    """Redo the test and export of a run that finished training (``--finalize``), e.g. after a
    change to the export, without training again."""
    cfg = TrainConfig(**json.loads((run_dir / CONFIG_FILE).read_text()))
    if not (run_dir / "best.keras").exists():
        raise EuroSATError(f"{run_dir} has no best.keras checkpoint to finalize")
    split = read_split(Path(cfg.split))
    source = ImageSource(cfg.data)
    x_train, _ = source.load(take_fraction(split["train"], cfg.subset))
    x_val, y_val = source.load(take_fraction(split["val"], cfg.subset))
    x_test, y_test = source.load(take_fraction(split["test"], cfg.subset))
    old = json.loads((run_dir / STATUS_FILE).read_text()) if (run_dir / STATUS_FILE).exists() else {}
    status = {k: old[k] for k in ("started", "epoch", "epochs", "train_time_s") if k in old}
    status.update(pid=os.getpid(), updated=time.time())
    return finish_run(run_dir, cfg, status, x_train, x_val, y_val, x_test, y_test)


def check_transfer_settings(cfg: TrainConfig) -> None:
    """Raise :class:`TrainingError` for transfer-learning settings that cannot work together."""
    from eurosat.architectures import get

    transfer.check_weights_spec(cfg.weights)
    get(cfg.arch).check_options("imagenet" if cfg.weights == transfer.WEIGHTS_IMAGENET else "none",
                                cfg.input_size)
    if not 0 < cfg.backbone_lr_scale <= 1:
        raise TrainingError("--backbone-lr-scale must be in (0, 1].")
    if cfg.unfreeze_epoch is not None and not cfg.freeze_backbone:
        raise TrainingError("--unfreeze-epoch needs --freeze-backbone.")
    if cfg.unfreeze_epoch is not None and not 0 <= cfg.unfreeze_epoch < cfg.epochs:
        raise TrainingError(f"--unfreeze-epoch must be in [0, {cfg.epochs}) (the epochs of the run).")


def check_distillation_settings(cfg: TrainConfig) -> None:
    """Raise :class:`TrainingError` for a teacher that is not a ``.tflite`` file here, or distillation
    settings out of range or that cannot work together (the CLI and the Train page alike)."""
    files = config.teacher_files(cfg.teacher or "")
    for f in files:
        path = Path(f).expanduser()
        if path.suffix != ".tflite" or not path.is_file():
            raise TrainingError(f"Teacher '{f}' is not a .tflite file here (--teacher): give the path of a "
                                "model file (e.g. an 8-view file, models/eurosat_resnet_light_tta.tflite).")
    if not cfg.distill_temperature > 0:
        raise TrainingError("--distill-temperature must be > 0.")
    if not 0 <= cfg.distill_weight <= 1:
        raise TrainingError(f"Teacher weight (--distill-weight) must be in [0, 1], got {cfg.distill_weight}.")
    if not 0 <= cfg.teacher_mix_fraction <= 2:
        raise TrainingError(f"Mixed tiles (--teacher-mix) must be 0-2 × the training images, "
                            f"got {cfg.teacher_mix_fraction}.")
    if cfg.teacher_online and not (files and cfg.teacher_mix_fraction > 0):
        raise TrainingError("Labelling mixed tiles per batch (--teacher-online) needs a teacher (--teacher) "
                            "and mixed tiles > 0 (--teacher-mix).")
    if cfg.teacher_online and cfg.outlier_fraction:
        raise TrainingError("--teacher-online does not mix synthetic outliers: drop --outlier-fraction.")


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool, bool]:
    """Command-line flags → (TrainConfig, resume, finalize)."""
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m eurosat.train",
                                description="Train a land-cover classifier (the light ResNet by default).")
    p.add_argument("--data", default=d.data, help="EuroSAT_RGB.zip or extracted folder")
    p.add_argument("--arch", default=d.arch, help="architecture (see --list-archs; default %(default)s)")
    p.add_argument("--list-archs", action="store_true",
                   help="print the architectures, one a line (name, parameters, MFLOPs per tile), and exit")
    p.add_argument("--out", default=d.out, help="run folder")
    p.add_argument("--split", default=d.split, help="split CSV (path,class,subset)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.learning_rate)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--subset", type=float, default=d.subset, help="fraction of each split to use")
    p.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs)
    p.add_argument("--init-from", default=None, help="start from this .keras model's weights (fine-tune)")
    p.add_argument("--weights", default=d.weights,
                   help="start from: none (random), imagenet (Keras applications; downloaded once where "
                        "online) or a .keras model file (every layer whose name and shape match)")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="train only the head (pool, dropout, predictions); see --unfreeze-epoch")
    p.add_argument("--unfreeze-epoch", type=int, default=None,
                   help="with --freeze-backbone: train the whole model from this epoch (0-based)")
    p.add_argument("--backbone-lr-scale", type=float, default=d.backbone_lr_scale,
                   help="the backbone learns at this × the learning rate (e.g. 0.1 when fine-tuning)")
    p.add_argument("--input-size", type=int, default=d.input_size,
                   help="resize each 64×64 tile to this side inside the model (64, 96, 128, 160, 224; "
                        "the work per tile grows with (size/64)²)")
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-export", action="store_true", help="skip the TFLite export")
    p.add_argument("--no-tta", action="store_true",
                   help='do not export the "8 views, slower" file (the default files are single-pass)')
    p.add_argument("--teacher", default=None,
                   help="distil from this .tflite model (soft targets, e.g. an 8-view file), or from "
                        "several comma-separated (an ensemble: their mean probabilities)")
    p.add_argument("--distill-weight", type=float, default=d.distill_weight,
                   help="share of the teacher's probabilities in each target (with --teacher)")
    p.add_argument("--distill-temperature", type=float, default=d.distill_temperature,
                   help="soften the teacher's probabilities first, softmax(log p / T) (T > 1 softer)")
    p.add_argument("--teacher-mix", type=float, default=d.teacher_mix_fraction,
                   help="extra mixed tiles (mixup/CutMix pairs), this fraction of the training set, "
                        "labelled by the teacher (function matching)")
    p.add_argument("--teacher-online", action="store_true",
                   help="with --teacher-mix F: add F × each batch of fresh mixed tiles, labelled by the "
                        "teacher as the student sees them (consistent teaching; an epoch is N/B steps of "
                        "(1 + F)·B tiles, and each costs the teacher's work on F·N tiles)")
    p.add_argument("--outlier-fraction", type=float, default=d.outlier_fraction,
                   help="extra synthetic cloud/haze/shadow/no-data tiles with uniform targets, as a "
                        "fraction of the training images (outlier exposure)")
    p.add_argument("--outlier-kinds", default=",".join(d.outlier_kinds),
                   help="comma-separated kinds of synthetic outliers (of cloud, haze, shadow, nodata, noise, "
                        "flat); shadow is off by default: a shadowed tile looks like dark water or forest")
    p.add_argument("--ema", action="store_true", help="average the weights (EMA) for validation and export")
    p.add_argument("--no-precise-bn", action="store_true",
                   help="keep the running batch-norm statistics (default: re-estimated on clean training "
                        "images before each validation and the export)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="do not fold the validation-fitted temperature into the model")
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.add_argument("--finalize", action="store_true",
                   help="only test and export the run's best.keras again (no training)")
    a = p.parse_args(argv)
    if a.list_archs:
        from eurosat.architectures import list_lines

        print("\n".join(list_lines()))
        raise SystemExit(0)
    from eurosat.architectures import ARCHITECTURES

    if a.arch not in ARCHITECTURES:
        p.error(f"--arch: unknown '{a.arch}'; choose from {', '.join(ARCHITECTURES)}")
    cfg = TrainConfig(arch=a.arch, data=a.data, out=a.out, split=a.split, epochs=a.epochs,
                      batch_size=a.batch_size,
                      learning_rate=a.lr, weight_decay=a.weight_decay,
                      label_smoothing=a.label_smoothing, augment=not a.no_augment,
                      subset=a.subset, patience=a.patience, seed=a.seed, export=not a.no_export,
                      warmup_epochs=a.warmup_epochs, init_from=a.init_from, tta=not a.no_tta,
                      teacher=a.teacher, distill_weight=a.distill_weight,
                      distill_temperature=a.distill_temperature,
                      teacher_mix_fraction=a.teacher_mix, teacher_online=a.teacher_online,
                      outlier_fraction=a.outlier_fraction, ema=a.ema, calibrate=not a.no_calibrate,
                      precise_bn=not a.no_precise_bn,
                      outlier_kinds=tuple(k.strip() for k in a.outlier_kinds.split(",") if k.strip()),
                      weights=a.weights, freeze_backbone=a.freeze_backbone, unfreeze_epoch=a.unfreeze_epoch,
                      backbone_lr_scale=a.backbone_lr_scale, input_size=a.input_size)
    try:
        check_transfer_settings(cfg)
        check_distillation_settings(cfg)
    except EuroSATError as exc:
        p.error(str(exc))
    if not 0 < cfg.subset <= 1:
        p.error("--subset must be in (0, 1]")
    from eurosat.synthetic import OUTLIER_KINDS

    if set(cfg.outlier_kinds) - set(OUTLIER_KINDS):
        p.error(f"--outlier-kinds: unknown {sorted(set(cfg.outlier_kinds) - set(OUTLIER_KINDS))}; "
                f"choose from {', '.join(OUTLIER_KINDS)}")
    if not 0 <= cfg.outlier_fraction <= 1:
        p.error("--outlier-fraction must be in [0, 1]")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        p.error("--epochs and --batch-size must be positive")
    return cfg, a.resume, a.finalize


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; a data or model problem prints one clear message and exits 2."""
    cfg, resume, only_finalize = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep the run log readable
    import warnings

    # Our tf.data pipeline shuffles itself; Keras warns about its own (unused) shuffle flag.
    warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
    stop = _StopFlag()
    stop.install()  # before TensorFlow loads: a stop during start-up is still clean
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    try:
        if only_finalize:
            status = finalize(Path(cfg.out))
        else:
            status = train(cfg, resume=resume, stop=stop)
    except EuroSATError as exc:
        _write_failed(Path(cfg.out), str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # unexpected: keep the traceback in the log, and say "failed"
        import traceback

        traceback.print_exc()
        _write_failed(Path(cfg.out), f"{type(exc).__name__}: {exc}")
        return 1
    return 0 if status["state"] in ("finished", "stopped") else 1


def _write_failed(run_dir: Path, message: str) -> None:
    write_json_atomic(run_dir / STATUS_FILE, {"state": "failed", "error": message, "pid": os.getpid(),
                                              "updated": time.time()})


if __name__ == "__main__":
    raise SystemExit(main())
