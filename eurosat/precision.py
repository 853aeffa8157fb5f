"""Training precision: float32, or mixed bfloat16 where the CPU computes bfloat16 natively.

Mixed bfloat16 (Keras's ``mixed_bfloat16`` policy: bfloat16 arithmetic, float32 weights; the 10-class
output layer stays float32) trains about 2× faster on a CPU with AVX512_BF16 or AMX instructions
(``benchmarks/train_precision.py``), and slower on one without. Only training uses it: every model that is
tested, exported or served is a float32 copy (:func:`float32_copy`), so the files, the contract and the
accuracy figures are those of float32 inference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
PRECISIONS = (FLOAT32, MIXED_BFLOAT16)
#: /proc/cpuinfo flags of native bfloat16 arithmetic.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU lists a native bfloat16 instruction set (False where unknown)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return any(flag in line.split() for flag in BF16_FLAGS)
    except OSError:
        pass
    return False


@contextmanager
def training_policy(name: str) -> Iterator[None]:
    """Keras's global dtype policy set to ``name`` inside the block, float32 again after it (errors too)."""
    import keras

    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(FLOAT32)


def _float32_config(node: Any) -> Any:
    """A model config with every layer's dtype policy replaced by float32 (nested configs included)."""
    if isinstance(node, dict):
        if node.get("class_name") == "DTypePolicy":
            return {**node, "config": {**node.get("config", {}), "name": FLOAT32}}
        return {k: _float32_config(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_float32_config(v) for v in node]
    return node


def is_float32(model: Any) -> bool:
    """True when every layer of the model computes in float32."""
    return all(layer.dtype_policy.name == FLOAT32 for layer in _layers(model))


def _layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_layers(layer))
    return out


def float32_copy(model: Any) -> Any:
    """``model`` itself if it computes in float32, else the same architecture in float32 with its weights.

    The copy has no optimizer (it is for testing, calibration and export, not for resuming).
    """
    if is_float32(model):
        return model
    import keras

    from eurosat.model import register_custom_layers

    register_custom_layers()
    copy = keras.Model.from_config(_float32_config(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy
