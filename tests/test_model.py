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
