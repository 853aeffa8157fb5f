"""Print the model card tables of the shipped model from ``models/metrics.json``.

``python -m eurosat.modelcard [MODELS_DIR]`` — the README's model-card figures come from here.
"""

from __future__ import annotations

import json
from pathlib import Path

from eurosat import config
from eurosat.classes import CLASS_NAMES
from eurosat.registry import served_views


def render(metrics: dict) -> str:
    """Markdown tables: summary, files, per-class metrics of each model."""
    test = metrics["test"]
    files = metrics["files"]
    cfg = metrics.get("config", {})
    hours = metrics["train_time_s"] / 3600
    tta = served_views(metrics) > 1
    flops = f"{metrics['flops_per_tile'] / 1e6:.1f} M (2 per multiply-add)"
    if tta:
        flops += (f"; the TFLite files average {metrics.get('tta_views', 8)} views of each tile: "
                  f"{metrics['flops_per_tile_exported'] / 1e6:.0f} M")
    elif metrics.get("flops_per_tile_tta"):
        flops += (f"; single pass in the default files (the optional 8-view file: "
                  f"{metrics['flops_per_tile_tta'] / 1e6:.0f} M)")
    lines = [
        "| property | value |",
        "| --- | --- |",
        f"| parameters | {metrics['parameters']:,} |",
        f"| FLOPs per 64×64 tile | {flops} |",
        *(_gpu_rows(metrics) if metrics.get("gpu_training") else [
            f"| training | {metrics['epochs_run']} epochs, batch {cfg.get('batch_size')}, AdamW lr "
            f"{cfg.get('learning_rate')} (warm-up + cosine), weight decay {cfg.get('weight_decay')}, "
            f"label smoothing {cfg.get('label_smoothing')}, augmentation {cfg.get('augment')} |",
            *_recipe_rows(metrics, cfg)]),
        f"| training time | {metrics['train_time_s']:.0f} s ({hours:.2f} h) on {metrics['hardware']}"
        + _parent_time(metrics) + " |",
        f"| best validation accuracy (during training, one view) | {metrics['best_val_accuracy']:.2%} |",
        *_shipped_val_rows(metrics),
        f"| framework | TensorFlow {metrics.get('tensorflow')}, Keras {metrics.get('keras')} |",
        *_calibration_rows(metrics),
        "",
        "| model | file | size | test accuracy | macro F1 | top-1 agreement with Keras"
        + (" + TTA | top-1 agreement with plain Keras |" if tta else " |"),
        "| --- | --- | ---: | ---: | ---: | ---: |" + (" ---: |" if tta else ""),
    ]
    rows = [("Keras (plain, for Grad-CAM)", "keras", "keras"),
            ("Keras + TTA (reference)" if tta else "Keras, 8 views", "keras_tta", None),
            ("TFLite dynamic-range (the app's)", "tflite_dynamic", "dynamic"),
            ("TFLite full-int8", "tflite_int8", "int8"),
            ("TFLite float32 (not shipped)", "tflite_float32", "float32"),
            ("TFLite dynamic-range, 8 views (optional, slower)", "tflite_tta", "tta")]
    for label, key, kind in rows:
        if key not in test:
            continue
        t = test[key]
        f = files.get(kind, {}) if kind else {}
        name = f"`{f['file']}`" if f else "—"
        size = f"{f['size_bytes'] / 1e6:.2f} MB" if f else "—"
        # the reference of the agreement column is Keras + TTA when the files have TTA, else Keras
        reference = "keras_tta" if tta else "keras"
        agree = 1.0 if key == reference else t.get("agreement_with_keras")
        plain = 1.0 if key == "keras" else t.get("agreement_with_plain_keras")
        cells = [label, name, size, f"{t['accuracy']:.2%} ({t['n']} images)", f"{t['macro_f1']:.4f}",
                 "—" if agree is None else f"{agree:.2%}"]
        if tta:
            cells.append("—" if plain is None else f"{plain:.2%}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| class | " + " | ".join(f"{k} recall" for k in ("Keras", "TFLite", "int8"))
              + " | TFLite precision | TFLite F1 |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for c in CLASS_NAMES:
        k, d = test["keras"]["per_class"][c], test["tflite_dynamic"]["per_class"][c]
        i = test["tflite_int8"]["per_class"][c]
        lines.append(f"| {c} | {k['recall']:.2%} | {d['recall']:.2%} | {i['recall']:.2%} | "
                     f"{d['precision']:.2%} | {d['f1']:.4f} |")
    return "\n".join(lines)


def _shipped_val_rows(metrics: dict) -> list[str]:
    """The validation accuracy of the weights that ship (one view, after any batch-norm re-estimation),
    which can differ from the best one seen during training (stale running statistics)."""
    accuracy = metrics.get("calibration", {}).get("val_after", {}).get("accuracy")
    if accuracy is None:
        return []
    bn = ", batch-norm statistics re-estimated" if metrics.get("precise_bn") else ""
    return [f"| validation accuracy of the shipped weights (one view{bn}) | {accuracy:.2%} |"]


def _recipe_rows(metrics: dict, cfg: dict) -> list[str]:
    """Model-card rows of the architecture, the teacher, weight averaging, batch-norm statistics and
    what a fine-tune started from (absent keys: an older run, rows left out)."""
    rows = []
    if metrics.get("architecture") or cfg.get("arch"):
        rows.append(f"| architecture | `{metrics.get('architecture') or cfg.get('arch')}` "
                    "(`python -m eurosat.train --list-archs`) |")
    distil = metrics.get("distillation")
    if isinstance(distil, dict):
        teachers = ", ".join(f"`{Path(t).name}` ({Path(t).parent.name})"
                             for t in config.teacher_files(str(distil["teacher"])))
        soft = distil.get("temperature", 1.0)
        softened = f", softened at T = {soft}" if soft != 1.0 else ""
        rows.append(f"| teacher | soft targets {distil['weight']} × the mean probabilities of {teachers}"
                    f"{softened} + the rest one-hot{_mixed_tiles_note(metrics)} |")
    extras = [name for name, on in (("EMA of the weights", metrics.get("ema")),
                                    ("precise batch-norm statistics (eurosat.batchnorm)",
                                     metrics.get("precise_bn"))) if on]
    if extras:
        rows.append(f"| also | {'; '.join(extras)} |")
    chain = []
    for parent in _parents(metrics):
        if parent.get("run"):
            chain.append(f"run `{parent['run']}` ({parent.get('architecture')}, {parent.get('epochs_run')} "
                         f"epochs, {(parent.get('train_time_s') or 0) / 3600:.2f} h"
                         + (", distilled" if parent.get("distillation") else "")
                         + (", EMA" if parent.get("ema") else "") + ")")
        else:
            chain.append(f"`{parent.get('file')}`")
    if chain:
        rows.append(f"| started from | {' ← '.join(chain)} |")
    return rows


def _gpu_rows(metrics: dict) -> list[str]:
    """Model-card rows of a student trained by ``gpu/teach.py`` (``results.json`` "gpu_training")."""
    gpu = metrics["gpu_training"]
    teacher, student, args = gpu.get("teacher") or {}, gpu.get("student") or {}, gpu.get("args") or {}

    def accuracies(d: object) -> str:
        return ", ".join(f"{k} {v:.2%}" for k, v in d.items()) if isinstance(d, dict) else "—"

    return [
        f"| architecture | `{metrics.get('architecture')}` (`python -m eurosat.train --list-archs`) |",
        f"| teacher | ResNet-18-style, width {teacher.get('width')} (`gpu/eurosat_torch.py`), trained from "
        f"scratch for {teacher.get('epochs')} epochs by `{gpu.get('script')}` on {gpu.get('device')}; "
        f"8 views: {accuracies(teacher.get('accuracy_8_views'))} |",
        f"| training | function matching (Beyer et al. 2022): {student.get('epochs')} epochs of fresh "
        f"mixup / CutMix tiles labelled by the teacher, KL loss, AdamW lr {args.get('student_lr')}, "
        f"EMA {args.get('ema_decay')}, batch {args.get('batch')}"
        + (f", started from `{student['init']}`" if student.get("init") not in (None, "None") else "")
        + f", PyTorch {gpu.get('torch')}; weights imported by `eurosat.student_import` |",
    ]


def _mixed_tiles_note(metrics: dict) -> str:
    """The function-matching part of the teacher row: how many mixed tiles, made once or per batch."""
    share = metrics.get("teacher_mix_fraction") or 0.0
    if not share:
        return ""
    when = ("made afresh in every batch from its augmented tiles and labelled online (consistent teaching)"
            if metrics.get("teacher_online") else "made once before training and labelled offline")
    return (f"; plus {share:g} × as many mixed tiles (mixup / CutMix pairs, `eurosat.mixing`) as training "
            f"images, {when}, their targets mixing the teacher and the mixed labels the same way")


def _parents(metrics: dict) -> list[dict]:
    """The runs a fine-tune started from, nearest first (``results.json`` "parent", recursively)."""
    chain, parent = [], metrics.get("parent")
    while isinstance(parent, dict):
        chain.append(parent)
        parent = parent.get("parent")
    return chain


def _parent_time(metrics: dict) -> str:
    """", X h with the runs it was fine-tuned from" when there are any."""
    total = sum(parent.get("train_time_s") or 0.0 for parent in _parents(metrics))
    if not total:
        return ""
    return f"; {(metrics['train_time_s'] + total) / 3600:.2f} h with the runs it started from"


def _calibration_rows(metrics: dict) -> list[str]:
    """Model-card rows of the temperature calibration and the Uncertain threshold (when present)."""
    cal, dec = metrics.get("calibration"), metrics.get("decision")
    rows = []
    if isinstance(cal, dict) and "test_after" in cal:
        before, after = cal["test_before"], cal["test_after"]
        rows.append(f"| calibration | temperature {cal['temperature']:.3f} fitted on validation, folded into "
                    f"the files; test ECE {before['ece']:.4f} → {after['ece']:.4f}, mean top-1 "
                    f"{before['mean_confidence']:.3f} → {after['mean_confidence']:.3f} at accuracy "
                    f"{after['accuracy']:.2%} (Keras, one view) |")
    if isinstance(dec, dict) and "min_probability" in dec:
        rows.append(f"| Uncertain below | calibrated p {dec['min_probability']:.3f}: on validation the tiles "
                    f"kept ({dec['coverage']:.1%}) are wrong {dec['error_of_kept']:.2%} of the time (all: "
                    f"{dec['error_all']:.2%}) |")
    return rows


BEGIN = "<!-- model card: generated by `python -m eurosat.modelcard --readme README.md` -->"
END = "<!-- end of generated model card -->"


def update_readme(readme: Path, tables: str) -> None:
    """Replace the text between :data:`BEGIN` and :data:`END` in ``readme`` with ``tables``."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: markers {BEGIN!r} ... {END!r} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{tables}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: print the tables, or write them into a README between the markers."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m eurosat.modelcard", description=__doc__)
    p.add_argument("models_dir", nargs="?", type=Path, default=config.models_dir())
    p.add_argument("--readme", type=Path, help="rewrite the generated part of this README")
    a = p.parse_args(argv)
    tables = render(json.loads((a.models_dir / config.METRICS_FILE).read_text()))
    if a.readme:
        update_readme(a.readme, tables)
    else:
        print(tables)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
