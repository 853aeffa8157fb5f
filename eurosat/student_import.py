"""Make a run folder of a student trained outside Keras (``gpu/teach.py``): calibrate, test, export.

``python -m eurosat.student_import runs/gpu_student --npz student.npz --log log.json``

The weights (:mod:`eurosat.weights_npz`) go into this architecture's Keras model, saved as the run's
``best.keras``; then the trainer's own finishing step (:func:`eurosat.train.finish_run`, as
``--finalize`` does) re-estimates batch-norm statistics on clean training images, fits the temperature
on validation, tests every file and exports the single-pass, int8 and "8 views" TFLite files. Where the
weights were trained, by what teacher, for how long, is taken from the GPU run's ``log.json`` into
``results.json`` (``hardware``, ``train_time_s``, ``epochs_run``, ``gpu_training``), so the model card
tells it. The folder is then an ordinary run: the Train page lists it and can promote it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eurosat.config import TrainConfig
from eurosat.errors import EuroSATError

#: Architectures a ``gpu/teach.py`` student can be: the light ResNets (``eurosat_torch.LightResNet``).
IMPORTABLE = ("resnet_light", "resnet_light_deep", "resnet_light_small", "resnet_light_wide")


def gpu_summary(log: dict) -> dict:
    """The facts of a ``gpu/teach.py`` log that the results and the model card keep."""
    teacher, student = log.get("teacher", {}), log.get("student", {})
    return {
        "script": "gpu/teach.py",
        "device": log.get("device"),
        "torch": log.get("torch"),
        "teacher": {k: teacher.get(k) for k in ("width", "epochs", "train_s", "accuracy_1_view",
                                                "accuracy_8_views")},
        "student": {k: student.get(k) for k in ("epochs", "train_s", "init", "accuracy_1_view")},
        "args": log.get("args", {}),
    }


def _settings_of_the_gpu_run(cfg: TrainConfig, args: dict, epochs: int) -> None:
    """Put the GPU run's own epochs, batch, learning rate and weight decay into ``cfg`` (the run history
    and the model card show them), where its log gives them; EMA was on (``gpu/teach.py`` always uses it)."""
    def number(key: str) -> float | None:
        try:
            return float(args[key])
        except (KeyError, TypeError, ValueError):
            return None

    batch = number("batch")
    cfg.epochs = epochs or cfg.epochs
    cfg.batch_size = int(batch) if batch else cfg.batch_size
    cfg.learning_rate = number("student_lr") or cfg.learning_rate
    cfg.weight_decay = number("student_wd") or cfg.weight_decay
    cfg.label_smoothing, cfg.ema = 0.0, True


def import_student(run_dir: Path, npz: Path, cfg: TrainConfig, log: dict | None = None) -> dict:
    """Write ``run_dir`` (best.keras, config.json, status.json) from ``npz`` and finish it as a run.

    Returns the run's status. Raises :class:`EuroSATError` for an architecture the twin does not build
    or weights that do not fit it (:class:`eurosat.weights_npz.WeightsFileError`).
    """
    from eurosat import train
    from eurosat.architectures import get
    from eurosat.weights_npz import load_npz_weights

    if cfg.arch not in IMPORTABLE:
        raise EuroSATError(f"--arch {cfg.arch}: only {', '.join(IMPORTABLE)} have a PyTorch twin.")
    model = get(cfg.arch).build()
    load_npz_weights(model, npz)  # before the folder exists: a bad file leaves nothing behind
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model.save(run_dir / "best.keras")
    cfg.out = str(run_dir)
    gpu = gpu_summary(log or {})
    epochs = int(round(gpu["student"].get("epochs") or 0))  # a late stop logs a fraction
    _settings_of_the_gpu_run(cfg, gpu["args"], epochs)
    train.write_json_atomic(run_dir / train.CONFIG_FILE, cfg.to_dict())
    train.write_json_atomic(run_dir / train.STATUS_FILE, {
        "state": "testing", "started": time.time(), "epoch": epochs, "epochs": epochs,
        "train_time_s": (gpu["teacher"].get("train_s") or 0) + (gpu["student"].get("train_s") or 0)})
    status = train.finalize(run_dir)
    results_path = run_dir / train.RESULTS_FILE
    results = json.loads(results_path.read_text())
    evals = (log or {}).get("student", {}).get("evals") or [{}]
    results.update(hardware=str(gpu["device"] or "unknown (no log.json)"), gpu_training=gpu,
                   epochs_run=epochs, train_time_s=round(status.get("train_time_s", 0.0), 1),
                   best_val_accuracy=evals[-1].get("val_accuracy_ema", results["best_val_accuracy"]))
    train.write_json_atomic(results_path, results)
    return status


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Import a student trained by gpu/teach.py as a run folder.")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--npz", type=Path, required=True, help="student.npz written by gpu/teach.py")
    p.add_argument("--log", type=Path, default=None, help="its log.json (hardware, epochs, teacher)")
    p.add_argument("--arch", default="resnet_light_deep", choices=IMPORTABLE)
    p.add_argument("--data", default=None, help="EuroSAT_RGB.zip (default: the configured one)")
    a = p.parse_args(argv)
    cfg = TrainConfig(arch=a.arch, **({"data": a.data} if a.data else {}))
    try:
        log = json.loads(a.log.read_text()) if a.log else None
        status = import_student(a.run_dir, a.npz, cfg, log)
    except (EuroSATError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{a.run_dir}: {status['state']}, test accuracy {status.get('test_accuracy')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
