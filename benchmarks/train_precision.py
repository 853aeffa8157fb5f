"""Training throughput of an architecture in float32 and in mixed bfloat16, measured in one run.

    .venv/bin/python benchmarks/train_precision.py [--arch resnet_light_deep] [--batches 20]

Each policy runs in its own process (Keras's dtype policy is global): the model is built, compiled with
AdamW, fitted once on two batches (graph building), then timed over ``--batches`` batches of 64 random
tiles. Prints images/s for each and their ratio, with the CPU flags: bfloat16 pays only where the CPU has
bf16 instructions (AVX512_BF16 or AMX); the trainer keeps float32, which every laptop runs well.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import sys, time
import numpy as np
import keras
policy, arch, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
if policy != "float32":
    keras.mixed_precision.set_global_policy(policy)
from eurosat.architectures import get
model = get(arch).build()
model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
rng = np.random.default_rng(0)
x = rng.uniform(0, 255, (64 * batches, 64, 64, 3)).astype("float32")
y = np.eye(10, dtype="float32")[rng.integers(0, 10, len(x))]
model.fit(x[:128], y[:128], batch_size=64, epochs=1, verbose=0)
t = time.perf_counter()
model.fit(x, y, batch_size=64, epochs=1, verbose=0)
print(len(x) / (time.perf_counter() - t))
"""


def images_per_s(policy: str, arch: str, batches: int) -> float:
    """Training images per second under a Keras dtype policy, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, policy, arch, str(batches)], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from benchmarks.bench_models import cpu_flags

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="resnet_light_deep")
    p.add_argument("--batches", type=int, default=20)
    a = p.parse_args()
    print(f"CPU flags: {cpu_flags()}")
    rates = {policy: images_per_s(policy, a.arch, a.batches) for policy in ("float32", "mixed_bfloat16")}
    for policy, rate in rates.items():
        print(f"{a.arch} {policy}: {rate:.1f} training images/s")
    print(f"mixed_bfloat16 / float32: {rates['mixed_bfloat16'] / rates['float32']:.2f}×")


if __name__ == "__main__":
    main()
