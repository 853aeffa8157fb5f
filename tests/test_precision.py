"""Mixed-bfloat16 training (eurosat.precision): the policy is scoped, and everything shipped is float32."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eurosat import precision


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 fma\n")
    assert precision.cpu_has_bf16(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f fma\n")  # AVX-512 alone is not bf16
    assert not precision.cpu_has_bf16(info)
    assert not precision.cpu_has_bf16(tmp_path / "missing")


def test_policy_is_float32_again_after_the_block_even_after_an_error():
    import keras

    with pytest.raises(RuntimeError), precision.training_policy(precision.MIXED_BFLOAT16):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        raise RuntimeError("training failed")
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="precision must be"), precision.training_policy("float16"):
        pass


def test_float32_copy_of_a_mixed_model_computes_in_float32_with_the_same_weights():
    from eurosat.model import build_model

    with precision.training_policy(precision.MIXED_BFLOAT16):
        mixed = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    assert mixed.output.dtype == "float32"  # the probabilities stay float32 under mixed precision
    assert not precision.is_float32(mixed)
    copy = precision.float32_copy(mixed)
    assert precision.is_float32(copy) and copy is not mixed
    for a, b in zip(mixed.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype(np.float32)
    reference = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    reference.set_weights(mixed.get_weights())
    np.testing.assert_allclose(copy.predict(x, verbose=0), reference.predict(x, verbose=0), atol=1e-6)
    assert precision.float32_copy(reference) is reference


@pytest.mark.slow
def test_a_mixed_precision_run_ships_float32_files(tmp_path, runs_dir, monkeypatch):
    import keras

    from eurosat import config, train
    from eurosat.inference import TFLiteClassifier
    from tests.conftest import write_fake_pool_and_split

    monkeypatch.setattr(train, "CALIBRATION_CANDIDATES", 1)
    pool, split = write_fake_pool_and_split(tmp_path)
    out = runs_dir / "bf16"
    assert train.main(["--data", str(pool), "--split", str(split), "--out", str(out), "--epochs", "1",
                       "--no-tta", "--batch-size", "16", "--precision", "mixed_bfloat16"]) == 0
    assert keras.mixed_precision.global_policy().name == "float32"
    results = json.loads((out / "results.json").read_text())
    assert results["precision"] == "mixed_bfloat16"
    from eurosat.modelcard import _recipe_rows

    assert any("trained in mixed bfloat16 (shipped in float32)" in row for row in _recipe_rows(results, {}))
    checkpoint = keras.models.load_model(out / "best.keras")
    assert not precision.is_float32(checkpoint)  # it trained in bfloat16 ...
    shipped = keras.models.load_model(out / config.KERAS_FILE)
    assert precision.is_float32(shipped)  # ... and ships in float32
    assert results["test"]["tflite_dynamic"]["agreement_with_keras"] >= 0.9
    probs = TFLiteClassifier(out / config.TFLITE_DYNAMIC).predict(np.full((2, 64, 64, 3), 120, np.float32))
    assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1, atol=1e-3)
