"""Transfer learning: weights copied by layer name and shape, frozen backbones, a lower backbone rate,
upscaled inputs, and (slow) fine-tunes through the trainer that start from a weights file made here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eurosat import architectures as archs
from eurosat import transfer
from eurosat.errors import TrainingError


def _model(name: str = "resnet_light_small", seed: int = 0, **kw):
    import keras

    keras.utils.set_random_seed(seed)
    return archs.get(name).build(**kw)


def test_matching_layers_are_copied_and_a_new_head_is_kept(tmp_path):
    source = _model(seed=1)
    path = tmp_path / "source.keras"
    source.save(path)
    target = _model(seed=2)
    conv = "stage2_block1_1_conv"
    assert not np.allclose(target.get_layer(conv).get_weights()[0], source.get_layer(conv).get_weights()[0])
    report = transfer.copy_matching_weights(target, path)
    np.testing.assert_array_equal(
        target.get_layer(conv).get_weights()[0], source.get_layer(conv).get_weights()[0]
    )
    assert conv in report.copied and "predictions" in report.copied and not report.skipped


def test_a_deeper_model_keeps_its_extra_blocks_as_initialised(tmp_path):
    path = tmp_path / "light.keras"
    _model("resnet_light", seed=1).save(path)
    deep = _model("resnet_light_deep", seed=2)
    extra = "stage2_block3_1_conv"
    before = deep.get_layer(extra).get_weights()[0].copy()
    report = transfer.copy_matching_weights(deep, path)
    assert report.skipped.get(extra) == "not in the weights file" and "stage2_block2_1_conv" in report.copied
    np.testing.assert_array_equal(deep.get_layer(extra).get_weights()[0], before)
    assert "copied" in report.summary()


def test_a_model_of_other_widths_matches_nothing(tmp_path):
    path = tmp_path / "small.keras"
    _model("resnet_light_small", seed=1).save(path)
    with pytest.raises(TrainingError, match="no layer"):  # every shape differs (not the normaliser)
        transfer.copy_matching_weights(_model("resnet_light", seed=2), path)


def test_a_missing_file_and_a_wrong_kind_are_clear_errors(tmp_path):
    path = tmp_path / "model.keras"
    _model().save(path)
    with pytest.raises(TrainingError, match="not found"):
        transfer.copy_matching_weights(_model(), tmp_path / "missing.keras")
    with pytest.raises(TrainingError, match=".keras"):
        transfer.check_weights_spec(str(tmp_path / "weights.h5"))
    transfer.check_weights_spec("imagenet")
    transfer.check_weights_spec(str(path))


def test_freezing_leaves_only_the_head_trainable():
    model = _model()
    changed = transfer.set_backbone_trainable(model, False)
    trainable = {v.path.split("/")[0] for v in model.trainable_variables}
    assert trainable == {"predictions"} and changed > 10
    assert transfer.set_backbone_trainable(model, True) == changed
    assert len(model.trainable_variables) > 2


def test_frozen_epochs():
    assert transfer.frozen_at(0, True, None) and transfer.frozen_at(99, True, None)
    assert transfer.frozen_at(2, True, 3) and not transfer.frozen_at(3, True, 3)
    assert not transfer.frozen_at(0, False, 3)


def test_the_backbone_moves_at_the_scaled_rate():
    """One AdamW step moves each weight by about the learning rate (Adam normalises the gradient):
    backbone weights by scale × lr, the head by lr."""
    import keras

    model = _model()
    opt = transfer.backbone_scaled_adamw()(backbone_lr_scale=0.1, learning_rate=1e-3, weight_decay=0.0)
    model.compile(optimizer=opt, loss="categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(8) % 10, 10)
    before = {layer: model.get_layer(layer).get_weights()[0].copy() for layer in ("stem_conv", "predictions")}
    model.train_on_batch(x, y)
    step = {
        layer: np.median(np.abs(model.get_layer(layer).get_weights()[0] - w)) for layer, w in before.items()
    }
    assert step["predictions"] == pytest.approx(1e-3, rel=0.2)
    assert step["stem_conv"] == pytest.approx(1e-4, rel=0.2)


def test_upscaled_input_keeps_the_contract_and_costs_the_pixels():
    model = _model(input_size=128)
    assert model.input_shape == (None, 64, 64, 3) and model.get_layer("upscale").output.shape[1] == 128
    out = model.predict(np.full((2, 64, 64, 3), 100, np.float32), verbose=0)
    assert out.shape == (2, 10) and np.allclose(out.sum(1), 1, atol=1e-5)
    at64 = archs.model_flops(_model())
    assert archs.model_flops(model) == pytest.approx(4 * at64, rel=0.01)
    assert transfer.upscaled_mflops(100.0, 128) == 400.0


def test_imagenet_is_refused_where_there_is_none_and_sizes_are_checked():
    with pytest.raises(TrainingError, match="no ImageNet weights"):
        archs.get("resnet_light").build(weights="imagenet")
    with pytest.raises(TrainingError, match="Input size"):
        archs.get("resnet_light").build(input_size=100)


def test_settings_that_cannot_work_together_are_refused():
    from eurosat.config import TrainConfig
    from eurosat.train import check_transfer_settings

    def cfg(**kw):
        return TrainConfig(data="", out="", epochs=5, **kw)

    check_transfer_settings(
        cfg(
            arch="mobilenetv3_small",
            weights="imagenet",
            freeze_backbone=True,
            unfreeze_epoch=2,
            backbone_lr_scale=0.1,
            input_size=96,
        )
    )
    for bad, why in [
        (dict(weights="imagenet"), "no ImageNet"),
        (dict(unfreeze_epoch=2), "needs"),
        (dict(freeze_backbone=True, unfreeze_epoch=5), "unfreeze-epoch"),
        (dict(backbone_lr_scale=0.0), "lr-scale"),
        (dict(input_size=65), "input-size"),
    ]:
        with pytest.raises(TrainingError, match=why):
            check_transfer_settings(cfg(**bad))


def test_train_settings_pass_the_transfer_flags(tmp_path):
    from eurosat.runs import TrainSettings

    weights = tmp_path / "w.keras"
    s = TrainSettings(
        data="d.zip",
        epochs=4,
        weights=str(weights),
        freeze_backbone=True,
        unfreeze_epoch=2,
        backbone_lr_scale=0.1,
        input_size=128,
    )
    cmd = s.command(tmp_path / "run")
    for flag, value in [
        ("--weights", str(weights)),
        ("--unfreeze-epoch", "2"),
        ("--backbone-lr-scale", "0.1"),
        ("--input-size", "128"),
    ]:
        assert cmd[cmd.index(flag) + 1] == value
    assert "--freeze-backbone" in cmd
    with pytest.raises(TrainingError, match="existing .keras"):
        s.validate()  # the file does not exist
    plain = TrainSettings(data="d.zip").command(tmp_path / "run")
    assert not {"--weights", "--freeze-backbone", "--input-size"} & set(plain)


# --- through the trainer (slow: real, tiny training runs) ------------------------------------------------


@pytest.fixture(scope="module")
def pool_and_split(tmp_path_factory):
    from tests.conftest import write_fake_pool_and_split

    root = tmp_path_factory.mktemp("transfer")
    pool, split = write_fake_pool_and_split(root)
    source = _model(seed=7)
    source.save(root / "source.keras")
    return pool, split, root / "source.keras"


def _fine_tune(pool_and_split, out, *extra):
    from eurosat.train import main

    pool, split, source = pool_and_split
    assert (
        main(
            [
                "--data",
                str(pool),
                "--split",
                str(split),
                "--out",
                str(out),
                "--arch",
                "resnet_light_small",
                "--batch-size",
                "16",
                "--no-export",
                "--no-calibrate",
                "--patience",
                "9",
                "--weights",
                str(source),
                *extra,
            ]
        )
        == 0
    )
    import keras

    return keras.models.load_model(out / "last.keras", compile=False), keras.models.load_model(source)


@pytest.mark.slow
def test_a_frozen_fine_tune_starts_from_the_file_and_trains_only_the_head(pool_and_split, tmp_path):
    tuned, source = _fine_tune(pool_and_split, tmp_path / "frozen", "--epochs", "1", "--freeze-backbone")
    for layer in ("stem_conv", "stage3_block2_2_conv", "stage3_block2_2_bn"):  # BN statistics too
        for a, b in zip(
            tuned.get_layer(layer).get_weights(), source.get_layer(layer).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(
        tuned.get_layer("predictions").get_weights()[0], source.get_layer("predictions").get_weights()[0]
    )
    assert json.loads((tmp_path / "frozen" / "config.json").read_text())["freeze_backbone"] is True


@pytest.mark.slow
def test_the_backbone_thaws_at_the_unfreeze_epoch(pool_and_split, tmp_path, capsys):
    tuned, source = _fine_tune(
        pool_and_split,
        tmp_path / "thaw",
        "--epochs",
        "2",
        "--freeze-backbone",
        "--unfreeze-epoch",
        "1",
        "--backbone-lr-scale",
        "0.5",
    )
    assert "epoch 2: backbone unfrozen" in capsys.readouterr().out
    assert not np.allclose(
        tuned.get_layer("stem_conv").get_weights()[0], source.get_layer("stem_conv").get_weights()[0]
    )
    lines = (tmp_path / "thaw" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == [1, 2]


@pytest.mark.slow
def test_an_upscaled_model_exports_files_that_honour_the_contract(pool_and_split, tmp_path, monkeypatch):
    from eurosat import config, train
    from eurosat.inference import TFLiteClassifier

    monkeypatch.setattr(train, "CALIBRATION_CANDIDATES", 1)
    pool, split, _ = pool_and_split
    out = tmp_path / "up"
    assert train.main(["--data", str(pool), "--split", str(split), "--out", str(out), "--arch",
                       "resnet_light_small", "--batch-size", "16", "--epochs", "1", "--no-tta",
                       "--input-size", "96"]) == 0
    results = json.loads((out / "results.json").read_text())
    small = archs.stored_table()["resnet_light_small"]["mflops"]
    assert results["flops_per_tile"] / 1e6 == pytest.approx(small * (96 / 64) ** 2, rel=0.01)
    for name in (config.TFLITE_DYNAMIC, config.TFLITE_INT8):
        probs = TFLiteClassifier(out / name).predict(np.full((3, 64, 64, 3), 120, np.float32))
        assert probs.shape == (3, 10) and np.allclose(probs.sum(1), 1, atol=1e-2)


def test_imagenet_weights_load_through_keras_with_each_input_convention(tmp_path, monkeypatch):
    """Keras's own ImageNet path with the download replaced by a weights file made here (offline)."""
    import keras
    from keras.src.utils import file_utils

    small = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(64, 64, 3),
                                                include_preprocessing=True)
    small.save_weights(tmp_path / "mnv3.weights.h5")
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: str(tmp_path / "mnv3.weights.h5"))
    model = archs.get("mobilenetv3_small").build(weights="imagenet")
    conv = next(layer.name for layer in small.layers if layer.weights)
    theirs = small.get_layer(conv).get_weights()[0]
    np.testing.assert_array_equal(model.get_layer(conv).get_weights()[0], theirs)
    assert "normalize" not in [layer.name for layer in model.layers]  # MobileNetV3 rescales 0-255 itself

    resnet = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    resnet.save_weights(tmp_path / "r50.weights.h5")
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: str(tmp_path / "r50.weights.h5"))
    model = archs.get("resnet50").build(weights="imagenet")
    bgr = resnet.get_layer("conv1_conv").get_weights()[0]
    np.testing.assert_array_equal(model.get_layer("conv1_conv").get_weights()[0], bgr[:, :, ::-1, :])  # RGB
    x = np.zeros((1, 64, 64, 3), np.float32)
    shift = keras.Model(model.input, model.get_layer("normalize").output)(x).numpy()[0, 0, 0]
    np.testing.assert_allclose(shift, [-123.68, -116.779, -103.939], atol=1e-3)  # caffe mean, unscaled

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(TrainingError, match="weights file"):
        archs.get("mobilenetv3_small").build(weights="imagenet")
