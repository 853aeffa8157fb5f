"""The shipped model: contract, sizes, metrics file, and accuracy on a sample of the real pool."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eurosat import config
from eurosat.classes import CLASS_NAMES
from eurosat.evaluate import evaluate, main
from eurosat.inference import TFLiteClassifier
from eurosat.registry import shipped_model


@pytest.mark.parametrize("attr", ["tflite", "tflite_int8"])
def test_tflite_contract_and_size(attr):
    from ai_edge_litert.interpreter import Interpreter

    path = getattr(shipped_model(), attr)
    assert path.stat().st_size <= 2_000_000
    interp = Interpreter(model_path=str(path))
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    assert inp["dtype"] == np.float32 and out["dtype"] == np.float32
    assert list(inp["shape_signature"]) == [-1, 64, 64, 3]  # batch dimension resizable
    assert list(out["shape_signature"]) == [-1, 10]
    p = TFLiteClassifier(path).predict(np.full((3, 64, 64, 3), 100, np.float32))
    np.testing.assert_allclose(p.sum(1), 1.0, atol=0.02)


def test_keras_file_is_small_and_keeps_the_contract():
    from eurosat.explain import load_keras_model

    path = shipped_model().keras
    model = load_keras_model(path)  # raises ModelLoadError unless (N, 64, 64, 3) -> (N, 10)
    assert all(w.dtype == "float32" for w in model.weights)
    # stored as float16: 2 bytes per parameter plus the zip's config (float32 would be 4 per parameter)
    assert path.stat().st_size <= 2 * model.count_params() + 300_000


def test_metrics_file_describes_the_shipped_files():
    metrics = json.loads((config.models_dir() / config.METRICS_FILE).read_text())
    assert metrics["classes"] == list(CLASS_NAMES)
    for kind in ("dynamic", "int8"):
        name = metrics["files"][kind]["file"]
        assert (config.models_dir() / name).stat().st_size == metrics["files"][kind]["size_bytes"]
    assert {"keras", "tflite_dynamic", "tflite_int8"} <= set(metrics["test"])


@pytest.mark.slow
def test_shipped_models_are_accurate_on_a_sample_of_the_real_test_split(eurosat_zip):
    """600 test images spread over all classes: the bar is 98 % on the full split."""
    dyn = evaluate(shipped_model().tflite, eurosat_zip, "test", limit=600)
    int8 = evaluate(shipped_model().tflite_int8, eurosat_zip, "test", limit=600)
    assert dyn["n"] == 600
    assert dyn["accuracy"] >= 0.97, dyn["accuracy"]
    assert int8["accuracy"] >= dyn["accuracy"] - 0.01


def test_evaluate_cli_bad_model_is_one_clear_message(tmp_path, capsys):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"not a model")
    assert main([str(bad), "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert main([str(tmp_path / "x.onnx"), "--data", str(tmp_path)]) == 2
