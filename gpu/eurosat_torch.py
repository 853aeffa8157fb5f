"""PyTorch twins of the Keras light ResNet and a larger teacher, for training on a GPU machine.

The app never imports this (it needs PyTorch, which the app does not). Weights travel between the two
frameworks as a plain ``.npz`` of arrays in Keras's layout, keyed ``<keras layer name>/<weight>``
(``stage1_block1_1_conv/kernel``, ``stem_bn/moving_mean``, ``predictions/bias``); the Keras side is
:mod:`eurosat.weights_npz`. The twin reproduces the Keras model exactly:

* the EuroSAT mean/std normalisation on the 0-255 scale is the first step;
* TensorFlow's ``padding="same"`` for the stride-2 3×3 convolutions pads 0 before and 1 after (PyTorch's
  ``padding=1`` would pad 1 on both sides and shift every pixel);
* batch normalisation with Keras's epsilon 1e-3; exact (erf) GELU; dropout before the classifier.

``tests/test_weights_npz.py`` checks a file written here against Keras's own forward pass.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EUROSAT_MEAN = (0.3444, 0.3803, 0.4078)  # = eurosat.classes (kept here: this file runs without the app)
EUROSAT_STD = (0.2027, 0.1369, 0.1156)
NUM_CLASSES = 10
KERAS_BN_EPSILON = 1e-3


class Normalise(nn.Module):
    """(x − mean) / std per channel, x float (N, 3, H, W) on the 0-255 scale."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(EUROSAT_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(EUROSAT_STD).view(1, 3, 1, 1) * 255.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ConvBN(nn.Module):
    """Conv (no bias) + BatchNorm with TensorFlow's "same" padding."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=KERAS_BN_EPSILON)
        nn.init.kaiming_normal_(self.conv.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-1]
        out = -(-size // self.stride)
        pad = max((out - 1) * self.stride + self.kernel - size, 0)
        if pad:
            x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
        return self.bn(self.conv(x))


class Block(nn.Module):
    """Basic residual block: conv-BN-GELU-conv-BN + shortcut (1×1 conv-BN when the shape changes), GELU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = ConvBN(cin, cout, 3, stride)
        self.c2 = ConvBN(cout, cout, 3, 1)
        self.short = ConvBN(cin, cout, 1, stride) if (stride != 1 or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c2(F.gelu(self.c1(x)))
        return F.gelu(y + (x if self.short is None else self.short(x)))


class LightResNet(nn.Module):
    """Twin of :func:`eurosat.model.build_model`: (N, 3, 64, 64) 0-255 → (N, 10) logits.

    Args:
        filters: stem width (32 for ``resnet_light`` and ``resnet_light_deep``).
        blocks: residual blocks per stage ((2, 2, 2) or (3, 3, 3)).
        dropout: before the classifier, as in Keras.
    """

    def __init__(self, filters: int = 32, blocks: tuple[int, ...] = (3, 3, 3), dropout: float = 0.2) -> None:
        super().__init__()
        self.filters, self.blocks = filters, tuple(blocks)
        self.norm = Normalise()
        self.stem = ConvBN(3, filters, 3, 2)
        stages, width, cin = [], filters, filters
        for s, n in enumerate(self.blocks, start=1):
            stages.append(
                nn.Sequential(
                    *[
                        Block(cin if b == 0 else width, width, 2 if (b == 0 and s > 1) else 1)
                        for b in range(n)
                    ]
                )
            )
            cin, width = width, width * 2
        self.stages = nn.ModuleList(stages)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.stem(self.norm(x)))
        for stage in self.stages:
            x = stage(x)
        return self.fc(self.drop(x.mean((2, 3))))

    def keras_names(self) -> dict[str, nn.Module]:
        """Keras layer name → the module holding its weights (ConvBN: ``_conv`` and ``_bn``)."""
        names: dict[str, nn.Module] = {"stem": self.stem, "predictions": self.fc}
        for s, stage in enumerate(self.stages, start=1):
            for b, block in enumerate(stage, start=1):
                names[f"stage{s}_block{b}_1"] = block.c1
                names[f"stage{s}_block{b}_2"] = block.c2
                if block.short is not None:
                    names[f"stage{s}_block{b}_short"] = block.short
        return names


def keras_arrays(model: LightResNet) -> dict[str, np.ndarray]:
    """The model's weights in Keras layout (conv HWIO, dense (in, out)), float32, keyed for the npz."""
    out: dict[str, np.ndarray] = {}
    for name, module in model.keras_names().items():
        if isinstance(module, nn.Linear):
            out[f"{name}/kernel"] = module.weight.detach().float().cpu().numpy().T
            out[f"{name}/bias"] = module.bias.detach().float().cpu().numpy()
            continue
        assert isinstance(module, ConvBN)
        out[f"{name}_conv/kernel"] = module.conv.weight.detach().float().cpu().numpy().transpose(2, 3, 1, 0)
        bn = module.bn
        out[f"{name}_bn/gamma"] = bn.weight.detach().float().cpu().numpy()
        out[f"{name}_bn/beta"] = bn.bias.detach().float().cpu().numpy()
        out[f"{name}_bn/moving_mean"] = bn.running_mean.detach().float().cpu().numpy()
        out[f"{name}_bn/moving_variance"] = bn.running_var.detach().float().cpu().numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def load_keras_arrays(model: LightResNet, arrays: dict[str, np.ndarray]) -> None:
    """Copy weights in Keras layout (as :func:`keras_arrays` writes them) into ``model``.

    Raises:
        KeyError: an array the model needs is missing; ValueError: a shape differs.
    """

    def put(param: torch.Tensor, key: str, value: np.ndarray) -> None:
        if tuple(param.shape) != value.shape:
            raise ValueError(f"{key}: the file holds {value.shape}, the model needs {tuple(param.shape)}")
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))

    for name, module in model.keras_names().items():
        if isinstance(module, nn.Linear):
            put(module.weight, f"{name}/kernel", arrays[f"{name}/kernel"].T)
            put(module.bias, f"{name}/bias", arrays[f"{name}/bias"])
            continue
        assert isinstance(module, ConvBN)
        put(module.conv.weight, f"{name}_conv/kernel", arrays[f"{name}_conv/kernel"].transpose(3, 2, 0, 1))
        for attr, key in (
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"),
        ):
            put(getattr(module.bn, attr), f"{name}_bn/{key}", arrays[f"{name}_bn/{key}"])


class Teacher(nn.Module):
    """A ResNet-18-style teacher for 64×64 tiles: 3×3 stem at full size, stages 64-128-256-512.

    At width 64: 1.13 GFLOPs per tile (3.5× the student), 11.2 M parameters (``torch.utils.flop_counter``):
    too slow to serve on a laptop CPU, cheap to train on a GPU.
    """

    def __init__(self, width: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2), dropout: float = 0.1) -> None:
        super().__init__()
        self.norm = Normalise()
        self.stem = ConvBN(3, width, 3, 1)
        layers, cin = [], width
        for s, n in enumerate(blocks):
            cout = width * 2**s
            for b in range(n):
                layers.append(Block(cin, cout, 2 if b == 0 else 1))
                cin = cout
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(F.gelu(self.stem(self.norm(x))))
        return self.fc(self.drop(x.mean((2, 3))))
