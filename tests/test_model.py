"""eurosat.model: architecture, size, FLOPs, normalisation inside the model."""

from __future__ import annotations

import numpy as np
import pytest

from eurosat.classes import EUROSAT_MEAN, EUROSAT_STD


@pytest.fixture(scope="module")
def model():
    from eurosat.model import build_model

    return build_model()


def test_parameter_count_and_flops(model):
    from eurosat.model import count_flops

    assert 600_000 <= model.count_params() <= 800_000
    assert model.get_layer("stem_conv").filters == 32
    assert model.get_layer("stem_conv").strides == (2, 2)
    # stride-2 stem: ~211 MFLOPs per 64×64 tile (2 FLOPs per multiply-add)
    assert 180e6 <= count_flops(model) <= 240e6


def test_io_contract(model):
    x = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    p = np.asarray(model(x, training=False))
    assert p.shape == (3, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_named_last_conv_layer_and_gelu(model):
    from eurosat.model import LAST_CONV_LAYER

    layer = model.get_layer(LAST_CONV_LAYER)
    assert tuple(layer.output.shape[1:]) == (8, 8, 128)
    assert "gelu" in str(layer.activation)


def test_normalisation_is_the_first_layer(model):
    norm = model.get_layer("normalize")
    mean_img = np.broadcast_to(np.array(EUROSAT_MEAN) * 255, (1, 64, 64, 3)).astype(np.float32)
    out = np.asarray(norm(mean_img))
    np.testing.assert_allclose(out, 0.0, atol=1e-4)
    one_std = mean_img + np.array(EUROSAT_STD, np.float32) * 255
    np.testing.assert_allclose(np.asarray(norm(one_std)), 1.0, atol=1e-3)


def test_compact_keras_file_is_small_standard_and_close(model, tmp_path):
    """float16-stored weights: a plain keras.models.load_model gives a float32 model that predicts
    (nearly) the same probabilities, from a file under the 2 MB bar."""
    import keras

    from eurosat.export import save_keras_compact

    # give BatchNorm statistics non-trivial values so they are part of the check
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.2, 2.0, layer.moving_variance.shape))
    plain, compact = tmp_path / "plain.keras", tmp_path / "compact.keras"
    model.save(plain)
    save_keras_compact(model, compact)
    assert compact.stat().st_size <= 2_000_000 < plain.stat().st_size
    loaded = keras.models.load_model(compact)
    assert all(w.dtype == "float32" for w in loaded.weights)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(b, a.astype(np.float16).astype(np.float32))
    x = rng.uniform(0, 255, (8, 64, 64, 3)).astype(np.float32)
    p, q = np.asarray(model(x, training=False)), np.asarray(loaded(x, training=False))
    assert np.abs(p - q).max() < 0.02
    assert not (tmp_path / "compact.keras.tmp").exists()


def test_model_card_tables_go_between_the_readme_markers(tmp_path):
    import json

    from eurosat import config
    from eurosat.modelcard import BEGIN, END, main, render

    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{BEGIN}\nold tables\n{END}\n\nafter\n")
    assert main([str(config.models_dir()), "--readme", str(readme)]) == 0
    text = readme.read_text()
    tables = render(json.loads((config.models_dir() / config.METRICS_FILE).read_text()))
    assert f"{BEGIN}\n{tables}\n{END}" in text and "old tables" not in text
    assert text.startswith("# title") and text.endswith("after\n")


def test_tta_model_averages_the_eight_views_and_is_orientation_free():
    import keras

    from eurosat.model import build_model, with_tta

    keras.utils.set_random_seed(0)
    model = build_model()  # fresh: other tests here change the shared model's BatchNorm statistics
    tta = with_tta(model)
    x = np.random.default_rng(2).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    views = [np.rot90(v, k, axes=(1, 2)) for v in (x, x.transpose(0, 2, 1, 3)) for k in range(4)]
    expected = np.mean([np.asarray(model(np.ascontiguousarray(v), training=False)) for v in views], axis=0)
    got = np.asarray(tta(x, training=False))
    assert got.shape == (3, 10)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for turned in (np.rot90(x, 1, axes=(1, 2)), x[:, ::-1], x.transpose(0, 2, 1, 3)):
        np.testing.assert_allclose(np.asarray(tta(np.ascontiguousarray(turned), training=False)), got,
                                   atol=1e-5)
    plain = np.asarray(model(x, training=False))
    # it is not the plain model (compared in log space: an untrained model's softmax saturates)
    assert np.abs(np.log(plain + 1e-30) - np.log(got + 1e-30)).max() > 0.1


def test_model_card_names_the_architecture_teacher_and_what_a_fine_tune_started_from():
    import json

    from eurosat import config
    from eurosat.modelcard import render

    metrics = json.loads((config.models_dir() / config.METRICS_FILE).read_text())
    metrics.update(
        architecture="resnet_light_deep", ema=False, precise_bn=True, train_time_s=1800.0,
        distillation={"teacher": "runs/a/x_tta.tflite,runs/b/y_tta.tflite", "weight": 0.7},
        parent={"file": "best.keras", "run": "deep", "architecture": "resnet_light_deep", "epochs_run": 45,
                "train_time_s": 5400.0, "distillation": {"teacher": "t", "weight": 0.6}, "ema": True,
                "parent": None},
    )
    card = render(metrics)
    assert "| architecture | `resnet_light_deep`" in card
    assert "`x_tta.tflite` (a), `y_tta.tflite` (b)" in card and "0.7 ×" in card and "softened" not in card
    metrics["distillation"]["temperature"] = 3.0
    assert "`y_tta.tflite` (b), softened at T = 3.0 + the rest one-hot" in render(metrics)
    assert "precise batch-norm statistics" in card and "EMA of the weights" not in card
    assert "run `deep` (resnet_light_deep, 45 epochs, 1.50 h, distilled, EMA)" in card
    assert "2.00 h with the runs it started from" in card  # 0.5 h here + 1.5 h before


def test_model_card_gives_the_validation_accuracy_of_the_shipped_weights_beside_the_best_in_training():
    import json

    from eurosat import config
    from eurosat.modelcard import render

    metrics = json.loads((config.models_dir() / config.METRICS_FILE).read_text())
    metrics["best_val_accuracy"] = 0.9500
    metrics["precise_bn"] = True
    metrics["calibration"]["val_after"]["accuracy"] = 0.98642
    card = render(metrics)
    assert "| best validation accuracy (during training, one view) | 95.00% |" in card
    assert ("| validation accuracy of the shipped weights (one view, batch-norm statistics re-estimated) "
            "| 98.64% |") in card
    del metrics["calibration"]["val_after"]["accuracy"]
    assert "shipped weights" not in render(metrics)


def test_model_card_says_how_the_mixed_tiles_of_function_matching_were_made():
    import json

    from eurosat import config
    from eurosat.modelcard import render

    metrics = json.loads((config.models_dir() / config.METRICS_FILE).read_text())
    metrics["distillation"] = {"teacher": "runs/a/x_tta.tflite", "weight": 0.7}
    metrics.update(teacher_mix_fraction=0.0, teacher_online=False)
    assert "mixed tiles" not in render(metrics)
    metrics["teacher_mix_fraction"] = 1.0
    assert "1 × as many mixed tiles" in render(metrics) and "made once before training" in render(metrics)
    metrics["teacher_online"] = True
    assert "afresh in every batch" in render(metrics) and "made once" not in render(metrics)


def test_the_readme_model_card_is_the_one_the_shipped_metrics_give(repo_root):
    """A release that changes models/ regenerates the card: python -m eurosat.modelcard --readme README.md."""
    import json

    from eurosat import config
    from eurosat.modelcard import BEGIN, END, render

    readme = (repo_root / "README.md").read_text()
    card = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
    assert card == render(json.loads((config.models_dir() / config.METRICS_FILE).read_text()))


def test_model_card_of_a_gpu_trained_student_names_its_teacher_and_hardware():
    import json

    from eurosat import config
    from eurosat.modelcard import render

    metrics = json.loads((config.models_dir() / config.METRICS_FILE).read_text())
    metrics.update(hardware="NVIDIA H200", parent=None, gpu_training={
        "script": "gpu/teach.py", "device": "NVIDIA H200", "torch": "2.11.0",
        "teacher": {"width": 64, "epochs": 120, "accuracy_8_views": {"val": 0.9914, "test": 0.9905}},
        "student": {"epochs": 400, "init": "None"},
        "args": {"student_lr": "0.003", "ema_decay": "0.999", "batch": "512"}})
    card = render(metrics)
    assert "ResNet-18-style, width 64" in card and "120 epochs" in card and "val 99.14%, test 99.05%" in card
    assert "function matching" in card and "400 epochs" in card and "started from" not in card
    assert "| training | 6 epochs, batch" not in card  # the Keras trainer's settings do not apply
    assert "on NVIDIA H200" in card and "| architecture | `resnet_light_deep`" in card
