"""Weight soups of checkpoints of one lineage (Wortsman et al. 2022, "Model soups"), chosen on validation.

    .venv/bin/python benchmarks/weight_soup.py A.keras B.keras [C.keras ...]

The checkpoints must share one architecture (e.g. a run and the fine-tunes that started from it). Each
one, each candidate soup (the element-wise mean of the weights) and the uniform soup of all get their
batch-norm statistics re-estimated as the trainer does (2,048 clean training images) and are scored on
the validation split only. The greedy soup adds the checkpoints in order of their own validation
accuracy and keeps one only if the soup's validation accuracy does not fall. Prints Markdown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.batchnorm import recompute_batchnorm_statistics  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.train import keras_predictions, precise_bn_images  # noqa: E402


def mean_weights(weights: list[list[np.ndarray]], members: list[int]) -> list[np.ndarray]:
    """The element-wise mean of the members' weight lists (each in ``model.get_weights()`` order)."""
    return [np.mean([weights[i][k] for i in members], axis=0).astype(w.dtype)
            for k, w in enumerate(weights[0])]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("models", type=Path, nargs="+")
    p.add_argument("--seed", type=int, default=config.TrainConfig().seed)
    a = p.parse_args()
    import keras

    from eurosat.model import register_custom_layers

    register_custom_layers()
    split = read_split(config.SPLIT_FILE)
    source = ImageSource(config.eurosat_zip())
    x_train, _ = source.load(split["train"])
    x_val, y_val = source.load(split["val"])
    images = precise_bn_images(x_train, a.seed)
    template = keras.models.load_model(a.models[0], compile=False)  # holds each soup in turn
    weights = [template.get_weights()]
    weights += [keras.models.load_model(m, compile=False).get_weights() for m in a.models[1:]]

    def val_accuracy(members: list[int]) -> float:
        template.set_weights(mean_weights(weights, members))
        recompute_batchnorm_statistics(template, images)
        return float(np.mean(keras_predictions(template, x_val) == y_val))

    print(f"`python benchmarks/weight_soup.py {' '.join(map(str, a.models))}`\n")
    print("| checkpoint or soup | val acc |\n| --- | ---: |")
    single = {i: val_accuracy([i]) for i in range(len(a.models))}
    for i, path in enumerate(a.models):
        print(f"| {path} | {single[i]:.2%} |", flush=True)
    order = sorted(single, key=lambda i: single[i], reverse=True)
    chosen, best = [order[0]], single[order[0]]
    for i in order[1:]:
        score = val_accuracy([*chosen, i])
        kept = score >= best
        print(f"| greedy: {' + '.join(str(a.models[j]) for j in [*chosen, i])} "
              f"({'kept' if kept else 'dropped'}) | {score:.2%} |", flush=True)
        if kept:
            chosen, best = [*chosen, i], score
    print(f"| uniform soup of all {len(a.models)} | {val_accuracy(list(range(len(a.models)))):.2%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
