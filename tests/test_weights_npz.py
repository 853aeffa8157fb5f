"""Weights in and out of Keras as .npz (eurosat.weights_npz), the GPU run's import, the data's parts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, write_fake_pool_and_split

FIXTURES = REPO / "tests" / "fixtures"


def _gpu_module(name: str):
    """A module of gpu/ (a folder of scripts, not a package) that needs no PyTorch."""
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", REPO / "gpu" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keras_reproduces_pytorch_twin_written_weights():
    """gpu/make_fixture.py: a PyTorch twin with random weights and BN statistics, its probabilities."""
    from eurosat.model import build_model
    from eurosat.weights_npz import load_npz_weights

    io = np.load(FIXTURES / "torch_twin_io.npz")
    model = build_model(filters=int(io["filters"]), blocks_per_stage=tuple(int(b) for b in io["blocks"]))
    n = load_npz_weights(model, FIXTURES / "torch_twin_weights.npz")
    assert n == 77  # 20 convolutions + 20 batch norms × 4 + dense × 2 ... every array of the file
    probs = model.predict(io["tiles"].astype(np.float32), verbose=0)
    assert probs.argmax(1).tolist() == io["probs"].argmax(1).tolist()
    np.testing.assert_allclose(probs, io["probs"], atol=1e-5)


def test_fixture_is_discriminating():
    """The fixture would catch a padding slip: the same weights with PyTorch-style symmetric padding
    (shifting every stride-2 layer by a pixel) give other probabilities than the ones stored."""
    io = np.load(FIXTURES / "torch_twin_io.npz")
    from eurosat.model import build_model
    from eurosat.weights_npz import load_npz_weights

    model = build_model(filters=int(io["filters"]), blocks_per_stage=tuple(int(b) for b in io["blocks"]))
    load_npz_weights(model, FIXTURES / "torch_twin_weights.npz")
    shifted = np.roll(io["tiles"].astype(np.float32), 1, axis=(1, 2))
    assert np.abs(model.predict(shifted, verbose=0) - io["probs"]).max() > 1e-3


def test_round_trip_keeps_predictions(tmp_path, rng):
    from eurosat.model import build_model
    from eurosat.weights_npz import load_npz_weights, save_npz_weights

    a = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    for layer in a.layers:  # non-trivial BN statistics, so they must travel too
        if layer.name.endswith("_bn"):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g, b, rng.normal(0, 0.3, m.shape), rng.uniform(0.5, 2, v.shape)])
    path = save_npz_weights(a, tmp_path / "w.npz")
    b = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    load_npz_weights(b, path)
    x = rng.uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))


def test_misfitting_files_are_refused_with_the_reason(tmp_path):
    from eurosat.model import build_model
    from eurosat.weights_npz import WeightsFileError, load_npz_weights, weight_arrays

    small = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    with pytest.raises(WeightsFileError, match="another architecture"):
        load_npz_weights(small, FIXTURES / "torch_twin_weights.npz")  # 2 blocks per stage there
    arrays = weight_arrays(small)
    arrays["stem_conv/kernel"] = arrays["stem_conv/kernel"][..., :4]
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(WeightsFileError, match="stem_conv/kernel"):
        load_npz_weights(small, tmp_path / "shape.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(WeightsFileError, match="not a weights"):
        load_npz_weights(small, tmp_path / "junk.npz")


def test_parts_join_to_the_zip_and_a_stale_part_is_caught(tmp_path):
    pack = _gpu_module("pack")
    src = tmp_path / "data.zip"
    src.write_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    parts = pack.pack(src, tmp_path / "parts", part_bytes=300)
    assert [p.name for p in parts] == [f"data.zip.part{i}" for i in range(1, 5)]
    joined = pack.joined_zip(tmp_path / "parts" / "data.zip", tmp_dir=tmp_path)
    assert joined.read_bytes() == src.read_bytes()
    parts[-1].write_bytes(b"stale")
    with pytest.raises(SystemExit, match="do not match"):
        pack.joined_zip(tmp_path / "parts" / "data.zip", tmp_dir=tmp_path)
    parts[-1].unlink()
    (tmp_path / "parts" / "data.zip.sha256").unlink()
    with pytest.raises(SystemExit, match="sha256"):
        pack.joined_zip(tmp_path / "parts" / "data.zip", tmp_dir=tmp_path)


@pytest.mark.slow
def test_imported_student_becomes_an_ordinary_finished_run(tmp_path, runs_dir, monkeypatch):
    """student.npz + log.json → calibrated, tested, exported run folder that says where it was trained."""
    from eurosat import train
    from eurosat.architectures import get
    from eurosat.config import TrainConfig
    from eurosat.runs import list_runs
    from eurosat.student_import import import_student
    from eurosat.weights_npz import save_npz_weights

    monkeypatch.setattr(train, "CALIBRATION_CANDIDATES", 2)  # still a choice; half the int8 conversions
    pool, split = write_fake_pool_and_split(tmp_path)
    npz = save_npz_weights(get("resnet_light_small").build(), tmp_path / "student.npz")
    log = {"device": "NVIDIA H200", "torch": "2.11.0",
           "args": {"batch": "512", "student_lr": "0.001", "student_wd": "0.02", "ema_decay": "0.999"},
           "teacher": {"width": 64, "epochs": 40, "train_s": 100.0, "accuracy_8_views": {"val": 0.99}},
           "student": {"epochs": 299.6, "train_s": 200.0, "evals": [{"val_accuracy_ema": 0.987}]}}
    cfg = TrainConfig(arch="resnet_light_small", data=str(pool), split=str(split), tta=False)
    status = import_student(runs_dir / "gpu_student", npz, cfg, log)
    assert status["state"] == "finished"
    results = json.loads((runs_dir / "gpu_student" / "results.json").read_text())
    assert results["hardware"] == "NVIDIA H200"
    assert results["epochs_run"] == 300 and results["train_time_s"] == 300.0
    assert results["best_val_accuracy"] == 0.987
    assert results["gpu_training"]["teacher"]["accuracy_8_views"] == {"val": 0.99}
    assert {"dynamic", "int8"} <= set(results["files"])
    assert all(Path(f["path"]).is_file() for f in results["files"].values())
    config = json.loads((runs_dir / "gpu_student" / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["learning_rate"]) == (300, 512, 0.001)
    (run,) = list_runs()  # the Train page's run history sees it as finished, with the GPU's figures
    assert (run.name, run.state) == ("gpu_student", "finished")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../streamlit_app.py", default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    row = at.dataframe[0].value.iloc[0]
    assert (row["run"], row["epochs"], row["teacher"]) == ("gpu_student", "300/300", "GPU: gpu/teach.py")
    assert row["best val acc"] == 0.987 and row["duration"] == "5 min 00 s"
    at.selectbox(key="train_history_run").select("gpu_student").run()  # no epoch log: no curves, no error
    assert not at.exception, at.exception
    assert any("Test accuracy" in m.value for m in at.markdown)


def test_cli_writes_a_keras_models_weights_and_refuses_a_bad_file(tmp_path, capsys):
    from eurosat.model import build_model
    from eurosat.weights_npz import load_npz_weights, main

    model = build_model(filters=8, blocks_per_stage=(1, 1, 1))
    model.save(tmp_path / "m.keras")
    assert main([str(tmp_path / "m.keras"), str(tmp_path / "m.npz")]) == 0
    assert load_npz_weights(build_model(filters=8, blocks_per_stage=(1, 1, 1)), tmp_path / "m.npz") > 0
    (tmp_path / "bad.keras").write_text("no")
    assert main([str(tmp_path / "bad.keras"), str(tmp_path / "x.npz")]) == 2
    assert "not a Keras model file" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_import_cli_refuses_weights_of_another_architecture_and_leaves_no_folder(tmp_path, capsys):
    from eurosat.student_import import main

    code = main([str(tmp_path / "runs" / "x"), "--npz", str(FIXTURES / "torch_twin_weights.npz")])
    assert code == 2
    assert "does not fit this model" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
