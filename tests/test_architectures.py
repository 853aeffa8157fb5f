"""eurosat.architectures: the registry, the stored table against the built models, --list-archs, the
Train page's picker, and (slow) a 1-epoch run of every architecture that exports, honours the
contract and can be promoted."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from eurosat import architectures as archs
from eurosat import config, train
from eurosat.errors import TrainingError


def test_list_archs_prints_one_a_line_default_first(capsys):
    with pytest.raises(SystemExit) as done:
        train.parse_args(["--list-archs"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == list(archs.ARCHITECTURES)
    assert lines[0].startswith("resnet_light ") and "(default)" in lines[0]
    assert "211.5 MFLOPs/tile" in lines[0] and "698,858 params" in lines[0]


def test_unknown_architecture_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--arch", "vgg99"])
    assert "choose from resnet_light" in capsys.readouterr().err
    with pytest.raises(TrainingError, match="Unknown architecture"):
        archs.get("vgg99")


@pytest.mark.parametrize("name", list(archs.ARCHITECTURES))
def test_stored_table_matches_the_built_model(name):
    """The Train page shows the stored table; it must be what the builder makes (no drift)."""
    measured = archs.measure(name)
    assert archs.stored_table()[name] == measured


def test_shipped_flops_agree_with_the_model_card():
    metrics = json.loads((config.models_dir() / "metrics.json").read_text())
    row = archs.stored_table()[metrics.get("architecture") or archs.DEFAULT_ARCH]
    assert row["parameters"] == metrics["parameters"]
    assert row["mflops"] == pytest.approx(metrics["flops_per_tile"] / 1e6, abs=0.05)


# The three large Keras applications take 4-6 min each here (2 cores: build, one tiny epoch, three TFLite
# conversions, Grad-CAM), the wide and deep light ResNets ~40 s (the builder of resnet_light_small and of the
# default, other widths or depths): they run with EUROSAT_HEAVY_TESTS=1 (`make test-heavy`), not in CI's time
# budget. The default light ResNet is trained, exported and promoted by tests/test_train.py and test_runs.py.
HEAVY_ARCHS = ("mobilenetv3_large", "efficientnet_b0", "resnet50", "resnet_light_wide", "resnet_light_deep")
heavy = pytest.mark.skipif(not os.environ.get("EUROSAT_HEAVY_TESTS"),
                           reason="large architecture: set EUROSAT_HEAVY_TESTS=1 (make test-heavy)")
ARCH_CASES = [pytest.param(n, marks=heavy) if n in HEAVY_ARCHS else n
              for n in archs.ARCHITECTURES if n != archs.DEFAULT_ARCH]


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCH_CASES)
def test_one_epoch_of_an_architecture_exports_and_promotes(name, tmp_path, runs_dir, monkeypatch):
    # one int8 calibration candidate (not four): the export path is the same, a quarter of the conversions
    monkeypatch.setattr(train, "CALIBRATION_CANDIDATES", 1)
    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import active_model, promote_run
    from tests.conftest import write_fake_pool_and_split

    pool, split = write_fake_pool_and_split(tmp_path)
    out = runs_dir / f"arch-{name}"
    assert train.main(["--data", str(pool), "--split", str(split), "--out", str(out), "--epochs", "1",
                       "--arch", name, "--no-tta", "--batch-size", "16"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["architecture"] == name
    assert results["parameters"] == archs.stored_table()[name]["parameters"]
    probs = TFLiteClassifier(out / config.TFLITE_DYNAMIC).predict(np.full((3, 64, 64, 3), 120, np.float32))
    assert probs.shape == (3, 10) and np.allclose(probs.sum(1), 1, atol=1e-3)  # the contract
    info = promote_run(out)
    assert active_model().name == info.name == out.name
    from eurosat.explain import CamExplainer, load_keras_model

    cam = CamExplainer(load_keras_model(info.keras))  # Grad-CAM finds the architecture's feature map
    assert cam.heatmap(np.full((64, 64, 3), 90, np.uint8), 0, "gradcam").shape == (64, 64)
