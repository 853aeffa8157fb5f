"""eurosat.train end to end on a tiny synthetic pool: metrics file, checkpoints, resume, export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eurosat import train
from eurosat.inference import TFLiteClassifier
from eurosat.train import main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.conftest import write_fake_pool_and_split

    root = tmp_path_factory.mktemp("tiny")
    pool, split = write_fake_pool_and_split(root)
    out = root / "run"
    args = ["--data", str(pool), "--split", str(split), "--out", str(out), "--batch-size", "16"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "CALIBRATION_CANDIDATES", 2)  # still a choice; half the conversions
        assert main([*args, "--epochs", "1"]) == 0
        first = (out / "metrics.jsonl").read_text()
        assert main([*args, "--epochs", "2", "--resume"]) == 0
    return out, first


def test_run_writes_metrics_status_and_checkpoints(tiny_run):
    out, first = tiny_run
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]  # resumed after epoch 1, did not start over
    assert (out / "metrics.jsonl").read_text().startswith(first)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert np.isfinite(lines[-1][key])
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "finished" and status["epoch"] == 2
    assert (out / "last.keras").is_file() and (out / "best.keras").is_file()
    assert json.loads((out / "config.json").read_text())["epochs"] == 2


def test_tensorboard_logs_in_the_run_folder(tiny_run):
    pytest.importorskip("tensorboard")  # optional extra (requirements-tensorboard.txt; make test installs it)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = tiny_run
    acc = EventAccumulator(str(out / "tensorboard" / "validation"))
    acc.Reload()
    tags = acc.Tags()
    assert "epoch_accuracy" in tags["tensors"] + tags["scalars"]
    # both epochs (the resumed one too) are logged for validation
    kind = "tensors" if "epoch_accuracy" in tags["tensors"] else "scalars"
    events = acc.Tensors("epoch_accuracy") if kind == "tensors" else acc.Scalars("epoch_accuracy")
    assert len(events) == 2


def test_results_have_test_metrics_for_keras_and_every_tflite(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    assert set(results["test"]) == {"keras", "keras_tta", "tflite_float32", "tflite_dynamic", "tflite_int8",
                                    "tflite_tta"}
    # the default files are single-pass; the "8 views, slower" file is exported beside them
    assert results["served_views"] == 1 and results["flops_per_tile_exported"] == results["flops_per_tile"]
    assert results["tta"] and results["flops_per_tile_tta"] == 8 * results["flops_per_tile"]
    assert (out / "eurosat_resnet_light_tta.tflite").is_file()
    cal = results["calibration"]
    assert 0.25 <= cal["temperature"] <= 4.0 and cal["fitted_on"] == "val"
    assert {"ece", "nll", "reliability"} <= set(cal["test_after"])
    assert 0.0 <= results["decision"]["min_probability"] <= 1.0
    for report in results["test"].values():
        assert report["n"] == 10  # 1 test image per class
        assert 0.0 <= report["accuracy"] <= 1.0
        assert len(report["confusion_matrix"]) == 10
        assert set(report["per_class"]["Forest"]) == {"precision", "recall", "f1", "support"}
    for kind in ("float32", "dynamic", "int8"):
        assert 0.0 <= results["test"][f"tflite_{kind}"]["agreement_with_keras"] <= 1.0
    assert results["test"]["tflite_float32"]["agreement_with_keras"] >= 0.9  # float32: same model
    assert 600_000 < results["parameters"] < 800_000


def test_exported_tflite_honours_the_contract(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    x = np.random.default_rng(0).uniform(0, 255, (5, 64, 64, 3)).astype(np.float32)
    for kind in ("float32", "dynamic", "int8"):
        info = results["files"][kind]
        clf = TFLiteClassifier(info["path"], batch_size=3)  # 5 tiles in batches of 3: batch resized
        p = clf.predict(x)
        assert p.shape == (5, 10) and p.dtype == np.float32
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=0.02)
        assert info["parity"]["finite"] and info["parity"]["mean_abs_prob_diff"] < 0.05
    assert results["files"]["float32"]["parity"]["max_abs_prob_diff"] < 1e-4
    assert results["files"]["dynamic"]["size_bytes"] < 2_000_000
    assert results["files"]["int8"]["size_bytes"] < 2_000_000
    calib = results["files"]["int8"]["calibration"]  # chosen among candidates on the validation split
    scores = calib["agreement_with_float_on_selection_images"]
    assert calib["candidates"] == len(scores) > 1 and calib["selection_images"] == 10
    assert scores[calib["chosen"]] == max(scores)


def test_missing_data_is_one_clear_message(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--data", str(tmp_path / "missing.zip"), "--out", str(out), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "EuroSAT data not found" in err and "Traceback" not in err
    assert json.loads((out / "status.json").read_text())["state"] == "failed"


def test_results_describe_the_whole_resumed_run_and_a_small_keras_file(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    epochs = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert results["epochs_run"] == 2
    assert results["best_val_accuracy"] == max(e["val_accuracy"] for e in epochs)
    assert results["train_time_s"] == pytest.approx(sum(e["epoch_time_s"] for e in epochs), abs=0.2)
    assert results["files"]["keras"]["size_bytes"] < 2_000_000


def test_finalize_redoes_test_and_export_without_training(tiny_run, tmp_path):
    import shutil

    out, _ = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    for f in [copy / "results.json", *copy.glob("*.tflite"), copy / "eurosat_resnet_light.keras"]:
        f.unlink()
    metrics_before = (copy / "metrics.jsonl").read_text()
    assert main(["--out", str(copy), "--finalize"]) == 0
    results = json.loads((copy / "results.json").read_text())
    assert set(results["test"]) == {"keras", "keras_tta", "tflite_float32", "tflite_dynamic", "tflite_int8",
                                    "tflite_tta"}
    assert (copy / "metrics.jsonl").read_text() == metrics_before  # no epoch was trained
    assert json.loads((copy / "status.json").read_text())["state"] == "finished"


def test_init_from_starts_at_the_given_weights(tiny_run, tmp_path, capsys):
    import keras

    out, _ = tiny_run
    cfg = json.loads((out / "config.json").read_text())
    start = out / "eurosat_resnet_light.keras"
    ft = tmp_path / "ft"
    args = ["--data", cfg["data"], "--split", cfg["split"], "--out", str(ft), "--batch-size", "16",
            "--epochs", "1", "--lr", "1e-12", "--no-export"]
    assert main([*args, "--init-from", str(start)]) == 0
    before = keras.models.load_model(start).get_layer("predictions").get_weights()[0]
    after = keras.models.load_model(ft / "best.keras").get_layer("predictions").get_weights()[0]
    np.testing.assert_allclose(after, before, atol=1e-4)  # lr ~0: the run began at those weights
    assert main([*args, "--init-from", str(tmp_path / "missing.keras")]) == 2
    assert "--init-from: model file" in capsys.readouterr().err


def test_checkpoints_hold_precise_batchnorm_statistics(tiny_run):
    """best.keras is saved after a validation that re-estimated the batch-norm statistics on the
    run's clean training subset: estimating them again from that subset changes nothing."""
    from pathlib import Path

    import keras

    from eurosat.batchnorm import batchnorm_layers, recompute_batchnorm_statistics
    from eurosat.data import ImageSource, read_split
    from eurosat.model import register_custom_layers

    out, _ = tiny_run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["precise_bn"] is True and json.loads((out / "results.json").read_text())["precise_bn"]
    x_train, _ = ImageSource(cfg["data"]).load(read_split(Path(cfg["split"]))["train"])
    register_custom_layers()
    model = keras.models.load_model(out / "best.keras", compile=False)
    saved = [layer.moving_variance.numpy().copy() for layer in batchnorm_layers(model)]
    recompute_batchnorm_statistics(model, train.precise_bn_images(x_train, cfg["seed"]))
    for layer, before in zip(batchnorm_layers(model), saved, strict=True):
        np.testing.assert_allclose(layer.moving_variance.numpy(), before, rtol=1e-3, atol=1e-5)


def test_teacher_files_and_flags():
    from eurosat.config import teacher_files

    assert teacher_files("a.tflite, b.tflite,") == ["a.tflite", "b.tflite"]
    cfg, _, _ = train.parse_args(["--no-precise-bn"])
    assert cfg.precise_bn is False
    with pytest.raises(SystemExit):
        train.parse_args(["--teacher", "models/eurosat_resnet_light_tta.tflite,missing.tflite"])
    assert train.parse_args(["--distill-temperature", "2.5"])[0].distill_temperature == 2.5
    with pytest.raises(SystemExit):
        train.parse_args(["--distill-temperature", "0"])


def test_a_distillation_temperature_softens_the_teachers_targets_keeping_their_order(rng):
    from eurosat import config
    from eurosat.calibration import apply_temperature
    from eurosat.config import TrainConfig

    x = rng.integers(0, 256, (6, 64, 64, 3)).astype(np.float32)
    y = np.arange(6) % 10
    teacher = str(config.models_dir() / config.TFLITE_DYNAMIC)
    _, sharp = train.training_targets(x, y, TrainConfig(teacher=teacher, distill_weight=1.0))
    _, soft = train.training_targets(x, y, TrainConfig(teacher=teacher, distill_weight=1.0,
                                                       distill_temperature=3.0))
    np.testing.assert_allclose(soft, apply_temperature(sharp, 3.0), atol=1e-5)
    assert (soft.argmax(1) == sharp.argmax(1)).all() and (soft.max(1) < sharp.max(1)).all()


def test_function_matching_adds_mixed_tiles_labelled_by_the_teacher_and_the_mixed_labels(rng):
    from eurosat import config
    from eurosat.config import TrainConfig
    from eurosat.inference import TFLiteClassifier

    x = rng.integers(0, 256, (8, 64, 64, 3)).astype(np.uint8)
    y = np.arange(8) % 10
    teacher = str(config.models_dir() / config.TFLITE_DYNAMIC)
    cfg = TrainConfig(teacher=teacher, distill_weight=0.6, teacher_mix_fraction=0.5)
    x_fit, targets = train.training_targets(x, y, cfg)
    assert x_fit.shape == (12, 64, 64, 3) and targets.shape == (12, 10)
    np.testing.assert_array_equal(x_fit[:8], x)
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-5)
    x_plain, plain_targets = train.training_targets(x, y, TrainConfig(teacher_mix_fraction=0.5))
    np.testing.assert_array_equal(x_plain, x_fit)  # same seed, same mixed tiles
    mixed_labels = plain_targets[8:]  # without a teacher the mixed tiles keep their mixed labels
    assert (mixed_labels.max(1) < 1.0).all()
    expected = 0.6 * TFLiteClassifier(teacher).predict(x_fit[8:]) + 0.4 * mixed_labels
    np.testing.assert_allclose(targets[8:], expected, atol=1e-5)
    assert train.parse_args(["--teacher-mix", "1.0"])[0].teacher_mix_fraction == 1.0
    with pytest.raises(SystemExit):
        train.parse_args(["--teacher-mix", "-0.1"])
