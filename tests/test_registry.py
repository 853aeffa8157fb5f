"""eurosat.registry: which model the app uses; promoting a run and reverting to the shipped model.

Fabricated finished runs carry copies of the shipped model files (real TFLite/Keras files);
tests/test_runs.py promotes a really trained run.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from eurosat import config
from eurosat.errors import ModelLoadError, TrainingError
from eurosat.inference import TFLiteClassifier
from eurosat.registry import active_model, active_pointer, promote_run, revert_to_shipped, shipped_model
from tests.test_runs import fake_report, write_fake_run


def test_shipped_model_is_used_when_nothing_is_promoted(runs_dir):
    info = active_model()
    assert info == shipped_model() and info.source == "shipped"
    assert info.directory == config.models_dir() and info.tflite.is_file()


def test_promote_switches_every_reader_to_the_run_and_revert_goes_back(runs_dir):
    run = write_fake_run(runs_dir, "good", with_models=True)
    info = promote_run(run)
    assert info.source == "promoted" and info.name == "good"
    assert info.directory == runs_dir / "promoted" / "good"
    assert active_model() == info
    pointer = json.loads(active_pointer().read_text())
    assert pointer["run"] == "good" and pointer["directory"] == str(info.directory)
    assert not list(runs_dir.glob(".*.tmp"))  # the pointer was swapped, not left half-written
    # the promoted copy carries the run's test metrics (shown in the sidebar label)
    acc = fake_report(2)["accuracy"]
    assert info.metrics["test"]["tflite_dynamic"]["accuracy"] == acc and f"{acc:.2%}" in info.label
    assert TFLiteClassifier(active_model().tflite).predict(np.zeros((1, 64, 64, 3))).shape == (1, 10)

    back = revert_to_shipped()
    assert back == shipped_model() == active_model()
    assert not active_pointer().exists() and (runs_dir / "promoted" / "good").is_dir()


def test_a_second_promotion_replaces_the_first(runs_dir):
    promote_run(write_fake_run(runs_dir, "first", with_models=True))
    promote_run(write_fake_run(runs_dir, "second", with_models=True))
    assert active_model().name == "second"


@pytest.mark.parametrize("state", ["stopped", "failed", "running"])
def test_only_finished_runs_can_be_promoted(runs_dir, state):
    run = write_fake_run(runs_dir, "r", state=state, done=1)
    with pytest.raises(TrainingError, match="not finished"):
        promote_run(run)
    assert active_model().source == "shipped" and not active_pointer().exists()


def test_a_run_without_exported_models_is_refused_and_the_current_model_stays(runs_dir):
    promote_run(write_fake_run(runs_dir, "good", with_models=True))
    with pytest.raises(TrainingError, match="missing"):
        promote_run(write_fake_run(runs_dir, "no-export"))  # finished with --no-export
    assert active_model().name == "good"


def test_a_broken_tflite_file_is_refused_before_the_pointer_moves(runs_dir):
    run = write_fake_run(runs_dir, "broken", with_models=True)
    (run / config.TFLITE_DYNAMIC).write_bytes(b"not a flatbuffer" * 100)
    with pytest.raises(ModelLoadError, match="not a valid TFLite model"):
        promote_run(run)
    assert active_model().source == "shipped"


def test_a_pointer_to_missing_files_falls_back_to_the_shipped_model(runs_dir):
    info = promote_run(write_fake_run(runs_dir, "gone", with_models=True))
    info.tflite.unlink()
    assert active_model() == shipped_model()
    active_pointer().write_text("{not json")
    assert active_model() == shipped_model()
