"""Which model the app uses: the shipped one in ``models/`` or a promoted training run.

The shipped files never change at run time; promoting a run writes its files under
``runs/promoted/<run>/`` and then swaps the pointer ``runs/active.json`` atomically
(``os.replace``). If the pointer or its files are missing or broken, the shipped model
is used: it is always the fallback.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from eurosat import config


@dataclass(frozen=True)
class ModelInfo:
    """A set of model files honouring the model contract, and where they came from."""

    name: str
    source: str  # "shipped" or "promoted"
    directory: Path
    metrics: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def tflite(self) -> Path:
        """Dynamic-range TFLite model (the default for classification)."""
        return self.directory / config.TFLITE_DYNAMIC

    @property
    def tflite_int8(self) -> Path:
        """Full-int8 TFLite model."""
        return self.directory / config.TFLITE_INT8

    @property
    def keras(self) -> Path:
        """Keras model (Grad-CAM, retraining)."""
        return self.directory / config.KERAS_FILE

    @property
    def label(self) -> str:
        """Short text for the sidebar."""
        acc = self.metrics.get("test", {}).get("tflite_dynamic", {}).get("accuracy")
        extra = f", test accuracy {acc:.2%}" if isinstance(acc, float) else ""
        return f"{self.name} ({self.source}{extra})"


def _read_metrics(directory: Path) -> dict:
    try:
        return json.loads((directory / config.METRICS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def shipped_model() -> ModelInfo:
    """The model shipped in ``models/``."""
    d = config.models_dir()
    return ModelInfo(config.MODEL_BASENAME, "shipped", d, _read_metrics(d))


def active_pointer() -> Path:
    """Path of the pointer file naming the promoted run."""
    return config.runs_dir() / "active.json"


def active_model() -> ModelInfo:
    """The promoted model if its pointer and files are valid, else the shipped one."""
    try:
        ptr = json.loads(active_pointer().read_text())
        d = Path(ptr["directory"])
        info = ModelInfo(str(ptr["run"]), "promoted", d, _read_metrics(d))
    except (OSError, ValueError, KeyError, TypeError):
        return shipped_model()
    if all(p.is_file() for p in (info.tflite, info.tflite_int8, info.keras)):
        return info
    return shipped_model()


def summarise_run(run_dir: Path) -> dict:
    """The shipped ``metrics.json``: a run's results (without local paths) and its curve."""
    results = json.loads((run_dir / "results.json").read_text())
    files = {k: {"file": Path(v["path"]).name, "size_bytes": v["size_bytes"],
                 **({"parity_vs_keras": v["parity"]} if "parity" in v else {})}
             for k, v in results.get("files", {}).items()}
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
    names = (config.TFLITE_DYNAMIC, config.TFLITE_INT8, config.KERAS_FILE)
    missing = [n for n in (*names, "results.json") if not (run_dir / n).is_file()]
    if missing:
        raise TrainingError(f"Run '{run_dir.name}' is not finished and exported: missing {missing}.")
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        tmp = dest / f".{n}.tmp"
        shutil.copyfile(run_dir / n, tmp)
        tmp.replace(dest / n)
    (dest / config.METRICS_FILE).write_text(json.dumps(summarise_run(run_dir), indent=1))
    return dest


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
