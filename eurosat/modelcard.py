"""Print the model card tables of the shipped model from ``models/metrics.json``.

``python -m eurosat.modelcard [MODELS_DIR]`` — the README's model-card figures come from here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eurosat import config
from eurosat.classes import CLASS_NAMES


def render(metrics: dict) -> str:
    """Markdown tables: summary, files, per-class metrics of each model."""
    test = metrics["test"]
    files = metrics["files"]
    cfg = metrics.get("config", {})
    hours = metrics["train_time_s"] / 3600
    lines = [
        "| property | value |",
        "| --- | --- |",
        f"| parameters | {metrics['parameters']:,} |",
        f"| FLOPs per 64×64 tile | {metrics['flops_per_tile'] / 1e6:.1f} M (2 per multiply-add) |",
        f"| training | {metrics['epochs_run']} epochs, batch {cfg.get('batch_size')}, AdamW lr "
        f"{cfg.get('learning_rate')} (warm-up + cosine), weight decay {cfg.get('weight_decay')}, "
        f"label smoothing {cfg.get('label_smoothing')}, augmentation {cfg.get('augment')} |",
        f"| training time | {metrics['train_time_s']:.0f} s ({hours:.2f} h) on {metrics['hardware']} |",
        f"| best validation accuracy | {metrics['best_val_accuracy']:.2%} |",
        f"| framework | TensorFlow {metrics.get('tensorflow')}, Keras {metrics.get('keras')} |",
        "",
        "| model file | size | test accuracy | macro F1 | top-1 agreement with Keras (test split) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, key in (("keras", "keras"), ("dynamic", "tflite_dynamic"), ("int8", "tflite_int8"),
                      ("float32", "tflite_float32")):
        if key not in test or kind not in files:
            continue
        f = files[kind]
        agree = 1.0 if kind == "keras" else test[key].get("agreement_with_keras")
        lines.append(
            f"| `{f['file']}` | {f['size_bytes'] / 1e6:.2f} MB | {test[key]['accuracy']:.2%} "
            f"({test[key]['n']} images) | {test[key]['macro_f1']:.4f} | "
            f"{'' if agree is None else f'{agree:.2%}'} |"
        )
    lines += ["", "| class | " + " | ".join(f"{k} recall" for k in ("Keras", "TFLite", "int8"))
              + " | TFLite precision | TFLite F1 |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for c in CLASS_NAMES:
        k, d = test["keras"]["per_class"][c], test["tflite_dynamic"]["per_class"][c]
        i = test["tflite_int8"]["per_class"][c]
        lines.append(f"| {c} | {k['recall']:.2%} | {d['recall']:.2%} | {i['recall']:.2%} | "
                     f"{d['precision']:.2%} | {d['f1']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    argv = sys.argv[1:] if argv is None else argv
    d = Path(argv[0]) if argv else config.models_dir()
    print(render(json.loads((d / config.METRICS_FILE).read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
