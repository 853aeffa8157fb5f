"""Which model the app uses: the shipped one in ``models/`` or a promoted training run.

The shipped files never change at run time; promoting a run writes its files under
``runs/promoted/<run>/`` and then swaps the pointer ``runs/active.json`` atomically
(``os.replace``). If the pointer or its files are missing or broken, the shipped model
is used: it is always the fallback.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from eurosat import config
from eurosat.decision import Thresholds, model_thresholds


@dataclass(frozen=True)
class ModelInfo:
    """A set of model files honouring the model contract, and where they came from."""

    name: str
    source: str  # "shipped" or "promoted"
    directory: Path
    metrics: dict = field(default_factory=dict, compare=False, hash=False)
    #: Why a promoted model could not be used (this is then the shipped fallback), for the sidebar.
    warning: str | None = field(default=None, compare=False, hash=False)

    @property
    def tflite(self) -> Path:
        """Dynamic-range TFLite model (the default for classification)."""
        return self.directory / config.TFLITE_DYNAMIC

    @property
    def tflite_int8(self) -> Path:
        """Full-int8 TFLite model."""
        return self.directory / config.TFLITE_INT8

    @property
    def tflite_tta(self) -> Path | None:
        """The optional "8 views, slower" TFLite file, when this model set has one."""
        path = self.directory / config.TFLITE_TTA
        return path if path.is_file() else None

    @property
    def keras(self) -> Path:
        """Keras model (Grad-CAM, retraining)."""
        return self.directory / config.KERAS_FILE

    @property
    def label(self) -> str:
        """Short text for the sidebar."""
        test = self.metrics.get("test")
        report = test.get("tflite_dynamic") if isinstance(test, dict) else None
        acc = report.get("accuracy") if isinstance(report, dict) else None
        extra = f", test accuracy {acc:.2%}" if isinstance(acc, float) and 0 <= acc <= 1 else ""
        return f"{self.name} ({self.source}{extra})"


    @property
    def thresholds(self) -> Thresholds:
        """The model's default land / cloud / uncertain rule (:func:`eurosat.decision.model_thresholds`)."""
        return model_thresholds(self.metrics)

    def provenance(self) -> dict:
        """What an export records of the model: name, source, file, SHA-256, calibration temperature."""
        calibration = self.metrics.get("calibration")
        temperature = calibration.get("temperature") if isinstance(calibration, dict) else None
        return {"model": self.name, "model_source": self.source, "model_file": self.tflite.name,
                "model_sha256": file_sha256(self.tflite),
                "calibration_temperature": temperature if temperature is not None else "none"}


@functools.lru_cache(maxsize=16)
def _sha256(path: str, mtime: float, size: int) -> str:  # noqa: ARG001
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (cached by path, modification time and size); '' when it cannot be read."""
    try:
        st = path.stat()
        return _sha256(str(path), st.st_mtime, st.st_size)
    except OSError:
        return ""


@dataclass(frozen=True)
class ModelFacts:
    """The headline figures of a model's ``metrics.json``, each None when absent or malformed."""

    parameters: int | None
    mflops_served: float | None
    test_accuracy: float | None
    test_accuracy_int8: float | None
    test_ece: float | None
    temperature: float | None
    tta_file: bool


def served_views(metrics: dict) -> int:
    """Views of each tile averaged inside the default TFLite files: 1 (single pass) for models that say
    so (``served_views``), 8 for the older files that had the test-time augmentation inside (``tta``
    without ``served_views``)."""
    views = metrics.get("served_views")
    if isinstance(views, int) and views >= 1:
        return views
    return 8 if metrics.get("tta") else 1


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _path(d: object, *keys: str) -> object:
    for key in keys:
        d = d.get(key) if isinstance(d, dict) else None
    return d


def model_facts(metrics: dict) -> ModelFacts:
    """Read the headline figures defensively: a hand-edited or older ``metrics.json`` never crashes a page."""
    params = _number(metrics.get("parameters"))
    flops = _number(metrics.get("flops_per_tile_exported", metrics.get("flops_per_tile")))
    return ModelFacts(
        parameters=int(params) if params is not None else None,
        mflops_served=flops / 1e6 if flops is not None else None,
        test_accuracy=_number(_path(metrics, "test", "tflite_dynamic", "accuracy")),
        test_accuracy_int8=_number(_path(metrics, "test", "tflite_int8", "accuracy")),
        test_ece=_number(_path(metrics, "calibration", "test_after", "ece")),
        temperature=_number(_path(metrics, "calibration", "temperature")),
        tta_file=isinstance(_path(metrics, "files", "tta"), dict),
    )


def model_for_command(model: str | Path | None = None, int8: bool = False) -> tuple[Path, Thresholds, dict]:
    """The model file a command line classifies with, its default rule and what exports record of it.

    ``model`` (``--model``): that file, the fallback rule, provenance of a plain file; None: the active
    model's dynamic-range (or, ``int8``, full-int8) file with the active model's own rule and provenance.
    The file name and SHA-256 are always those of the file used.
    """
    if model is None:
        active = active_model()
        path = active.tflite_int8 if int8 else active.tflite
        rule, facts = active.thresholds, active.provenance()
    else:
        path = Path(model)
        rule, facts = Thresholds(), {"model": path.stem, "model_source": "file"}
    facts.update(model_file=path.name, model_sha256=file_sha256(path))
    return path, rule, facts


def _read_metrics(directory: Path) -> dict:
    """The folder's ``metrics.json``, or {} when it is missing, unreadable or not a JSON object."""
    try:
        data = json.loads((directory / config.METRICS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def shipped_model(warning: str | None = None) -> ModelInfo:
    """The model shipped in ``models/`` (``warning``: why it stands in for a promoted one)."""
    d = config.models_dir()
    return ModelInfo(config.MODEL_BASENAME, "shipped", d, _read_metrics(d), warning)


def active_pointer() -> Path:
    """Path of the pointer file naming the promoted run."""
    return config.runs_dir() / "active.json"


def active_model() -> ModelInfo:
    """The promoted model if its pointer and files are valid, else the shipped one.

    A pointer that exists but cannot be used gives the shipped model with a ``warning`` saying why
    (the page shows it: a silent fallback would hide that the promotion was lost).
    """
    pointer = active_pointer()
    if not pointer.exists():
        return shipped_model()
    try:
        ptr = json.loads(pointer.read_text())
        name, directory = ptr["run"], ptr["directory"]
        if not isinstance(name, str) or not isinstance(directory, str) or not name:
            raise TypeError("'run' and 'directory' must be text")
        d = Path(directory)
        info = ModelInfo(name, "promoted", d, _read_metrics(d))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return shipped_model(f"The promoted-model pointer {pointer} is unreadable ({type(exc).__name__}: "
                             f"{exc}); using the shipped model. Promote a run again or revert on the Train "
                             "page.")
    missing = [p.name for p in (info.tflite, info.tflite_int8, info.keras) if not p.is_file()]
    if not missing:
        return info
    return shipped_model(f"The promoted model '{info.name}' lacks {', '.join(missing)} in {d}; using the "
                         "shipped model. Promote the run again or revert on the Train page.")


def summarise_run(run_dir: Path) -> dict:
    """The shipped ``metrics.json``: a run's results (without local paths) and its curve."""
    results = json.loads((run_dir / "results.json").read_text())
    files = {}
    for kind, v in results.get("files", {}).items():
        name = Path(v["path"]).name
        size = (run_dir / name).stat().st_size if (run_dir / name).is_file() else v["size_bytes"]
        files[kind] = {"file": name, "size_bytes": size,
                       **({"parity_vs_keras": v["parity"]} if "parity" in v else {})}
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
               if line.strip()]
    config_data = json.loads((run_dir / "config.json").read_text())
    config_data.pop("data", None)
    config_data.pop("out", None)
    return {**{k: v for k, v in results.items() if k != "files"}, "files": files,
            "run": run_dir.name, "config": config_data, "history": history,
            "split_file": str(config.SPLIT_FILE.relative_to(config.REPO_ROOT)),
            "written": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def copy_run_models(run_dir: Path, dest: Path) -> Path:
    """Copy a finished run's Keras, dynamic-range and int8 TFLite files and metrics to ``dest``."""
    from eurosat.errors import TrainingError

    run_dir = Path(run_dir)
    names: tuple[str, ...] = (config.TFLITE_DYNAMIC, config.TFLITE_INT8, config.KERAS_FILE)
    missing = [n for n in (*names, "results.json") if not (run_dir / n).is_file()]
    if missing:
        raise TrainingError(f"Run '{run_dir.name}' is not finished and exported: missing {missing}.")
    dest.mkdir(parents=True, exist_ok=True)
    if (run_dir / config.TFLITE_TTA).is_file():  # the optional "8 views" file travels too
        names = (*names, config.TFLITE_TTA)
    for n in names:
        tmp = dest / f".{n}.tmp"
        shutil.copyfile(run_dir / n, tmp)
        tmp.replace(dest / n)
    (dest / config.METRICS_FILE).write_text(json.dumps(summarise_run(run_dir), indent=1))
    return dest


def promoted_dir() -> Path:
    """Folder holding the copies of promoted runs' models (``runs/promoted/<run>/``)."""
    return config.runs_dir() / "promoted"


def _check_tflite(path: Path) -> None:
    """Load a TFLite file with LiteRT and run one blank tile: raises ModelLoadError if unusable."""
    import numpy as np

    from eurosat.errors import ModelLoadError
    from eurosat.inference import TFLiteClassifier

    probs = TFLiteClassifier(path, num_threads=1).predict(np.zeros((1, 64, 64, 3), np.float32))
    if not np.all(np.isfinite(probs)):
        raise ModelLoadError(f"'{path}' returns non-finite outputs; the run's export is broken.")


def promote_run(run_dir: Path) -> ModelInfo:
    """Make a finished run's models the ones the app uses; the shipped model stays the fallback.

    The run's Keras and TFLite files and a ``metrics.json`` summary are copied to
    ``runs/promoted/<run>/`` and checked with LiteRT; only then is the pointer
    ``runs/active.json`` replaced, atomically, so a reader sees the old or the new model, never half.

    Raises:
        TrainingError: the run is not finished or has no exported models.
        ModelLoadError: the copied TFLite model cannot be run.
    """
    from eurosat.errors import ModelLoadError, TrainingError

    run_dir = Path(run_dir).resolve()
    try:
        state = json.loads((run_dir / "status.json").read_text()).get("state")
    except (OSError, ValueError) as exc:
        raise TrainingError(f"Run '{run_dir.name}' has no readable status.json in {run_dir}.") from exc
    if state != "finished":
        raise TrainingError(
            f"Run '{run_dir.name}' is '{state}', not finished: only a finished run with exported "
            "TFLite models can be promoted."
        )
    dest = copy_run_models(run_dir, promoted_dir() / run_dir.name)
    _check_tflite(dest / config.TFLITE_DYNAMIC)
    _check_tflite(dest / config.TFLITE_INT8)
    pointer = active_pointer()
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_name(f".{pointer.name}.tmp")
    tmp.write_text(json.dumps({"run": run_dir.name, "directory": str(dest), "source": str(run_dir),
                               "promoted": time.time()}, indent=1))
    os.replace(tmp, pointer)
    info = active_model()
    if info.source != "promoted" or info.directory != dest:
        raise ModelLoadError(
            f"Promoting '{run_dir.name}' did not take effect; the app still uses {info.label}.")
    return info


def revert_to_shipped() -> ModelInfo:
    """Go back to the shipped model (removes the pointer; promoted copies stay on disk)."""
    active_pointer().unlink(missing_ok=True)
    return active_model()


def main(argv: list[str] | None = None) -> int:
    """Ship a finished run as the repository's model: ``python -m eurosat.registry RUN_DIR``."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("run_dir")
    p.add_argument("--dest", default=str(config.models_dir()))
    a = p.parse_args(argv)
    print(copy_run_models(Path(a.run_dir), Path(a.dest)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
