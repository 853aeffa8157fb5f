"""Write the cross-framework fixture of ``tests/test_weights_npz.py`` (needs PyTorch, not Keras).

A small twin (8-16-32 channels, 2 blocks per stage) with random weights *and* random batch-norm
statistics, its Keras-layout weights, four seeded random tiles and PyTorch's probabilities for them
(eval mode). The test loads the weights into the Keras model of the same shape and must reproduce
the probabilities: padding, layouts, epsilon and GELU all have to match.

    python gpu/make_fixture.py tests/fixtures/torch_twin
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eurosat_torch import LightResNet, keras_arrays  # noqa: E402

FILTERS, BLOCKS = 8, (2, 2, 2)


def main(stem: str) -> None:
    torch.manual_seed(0)
    model = LightResNet(FILTERS, BLOCKS)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        model.fc.bias.uniform_(-0.5, 0.5)
    model.eval()
    tiles = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(tiles).permute(0, 3, 1, 2)), 1).numpy()
    out = Path(stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f"{out}_weights.npz", **keras_arrays(model))
    np.savez_compressed(
        f"{out}_io.npz", tiles=tiles.astype(np.uint8), probs=probs, filters=FILTERS, blocks=np.array(BLOCKS)
    )
    print(f"wrote {out}_weights.npz and {out}_io.npz; probabilities {probs.round(3)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/torch_twin")
