"""AppTest of the Train page on fabricated run folders in a tmp EUROSAT_RUNS_DIR (no training)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from eurosat import runs
from eurosat.registry import active_model
from tests.test_runs import fake_report, fake_trainer, write_fake_run


def open_train_page() -> AppTest:
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def test_form_has_every_training_setting(runs_dir):
    at = open_train_page()
    assert [w.label for w in at.number_input] == ["Epochs", "Batch size", "Learning rate", "Subset fraction",
                                                  "Unfreeze at epoch (0: stay frozen)",
                                                  "Backbone learning-rate scale",
                                                  "Teacher's share of each target",
                                                  "Mixed tiles (× training images)"]
    data, name, weights_file, teacher = at.text_input
    assert data.label.startswith("Data") and data.value.endswith("EuroSAT_RGB.zip")
    assert name.label == "Run name" and weights_file.label.startswith("Weights file")
    assert teacher.label.startswith("Teacher .tflite") and teacher.value == ""
    assert [w.label for w in at.checkbox] == ["Augmentation", "Export TFLite", "Freeze the backbone",
                                              "Make and label them afresh in every batch (consistent "
                                              "teaching, slower)"]
    assert at.selectbox(key="train_weights").value == "none"
    assert at.selectbox(key="train_input_size").value == 64
    assert button(at, "Start training")
    assert any("No training is running" in i.value for i in at.info)
    assert any("No finished, stopped or failed runs yet" in i.value for i in at.info)


def test_history_shows_finished_and_crashed_runs_with_their_test_results(runs_dir):
    write_fake_run(runs_dir, "good", with_models=True)
    write_fake_run(runs_dir, "died", state="running", done=1, started=2e9)  # its pid is dead
    at = open_train_page()
    table = at.dataframe[0].value
    assert list(table["run"]) == ["died", "good"]
    assert list(table["state"]) == ["crashed", "finished"]
    assert table.loc[1, "test acc (TFLite)"] == fake_report(2)["accuracy"]
    assert button(at, "Promote 'died'").disabled  # a crashed run cannot be promoted

    at.selectbox(key="train_history_run").select("good").run()
    assert [r.value for r in at.radio] == ["keras"]  # first of the tested models
    assert at.radio[0].options == [
        "Keras (float32)", "TFLite dynamic-range (used by the app)", "TFLite full int8"]
    per_class = at.dataframe[1].value
    assert list(per_class.columns) == ["class", "precision", "recall", "f1", "support"]
    assert len(per_class) == 10
    assert any("Test accuracy" in m.value for m in at.markdown)
    # learning curves and confusion matrix, then the comparison of the two runs (val accuracy, val loss)
    assert len(at.get("plotly_chart")) == 4
    assert any("No confusion difference: 'died'" in c.value for c in at.caption)


def test_compare_two_finished_runs(runs_dir):
    write_fake_run(runs_dir, "a", with_models=True)
    write_fake_run(runs_dir, "b", with_models=True)
    at = open_train_page()
    assert set(at.multiselect(key="train_compare_runs").value) == {"a", "b"}
    table = next(d.value for d in at.dataframe if "test accuracy" in list(d.value.index))
    assert list(table.columns) == ["b", "a"] and "recall Forest" in table.index
    assert table.loc["test accuracy", "a"] == table.loc["test accuracy", "b"]
    assert len(at.get("plotly_chart")) == 5  # + the confusion difference
    at.multiselect(key="train_compare_runs").set_value(["a"]).run()
    assert not at.exception and any("Pick two or more runs" in c.value for c in at.caption)


def test_promote_then_revert_changes_the_model_in_use(runs_dir):
    write_fake_run(runs_dir, "good", with_models=True)
    at = open_train_page()
    assert not button(at, "Promote 'good'").disabled
    button(at, "Promote 'good'").click().run()
    assert not at.exception, at.exception
    assert active_model().name == "good" and active_model().source == "promoted"
    assert any("now uses good (promoted" in s.value for s in at.success)
    assert any(c.value.startswith("good (promoted") for c in at.caption)
    button(at, "Revert to the shipped model").click().run()
    assert active_model().source == "shipped"
    assert any("(shipped" in s.value for s in at.success)


def test_live_view_shows_the_running_training_refuses_a_second_and_stops_it(runs_dir):
    trainer = fake_trainer()
    try:
        write_fake_run(runs_dir, "busy", state="running", epochs=4, done=1, pid=trainer.pid)
        (runs_dir / runs.LOCK_FILE).write_text(f'{{"pid": {trainer.pid}, "run": "busy"}}')
        at = open_train_page()
        assert any(h.value == "Running: busy" for h in at.subheader)
        assert "Epoch 2/4" in at.get("progress")[0].proto.text
        assert len(at.get("plotly_chart")) == 1  # live curves; the history lists past runs only
        assert any("No finished, stopped or failed runs yet" in i.value for i in at.info)

        at.text_input[1].input("another")
        button(at, "Start training").click().run()
        assert any("already running: 'busy'" in e.value for e in at.error)
        assert not (runs_dir / "another").exists()

        button(at, "Stop training").click().run()
        assert any("Stop requested" in w.value for w in at.warning)
        assert trainer.wait(10) != 0
        assert runs.read_run(runs_dir / "busy").state == "stopped"
    finally:
        if trainer.poll() is None:
            trainer.kill()
        trainer.wait()


def test_architecture_picker_shows_its_cost_before_launch(runs_dir):
    at = open_train_page()
    picker = at.selectbox(key="train_arch")
    assert picker.value == "resnet_light" and "mobilenetv3_small" in picker.options
    assert any("698,858 parameters, 211.5 MFLOPs" in c.value for c in at.caption)
    picker.set_value("mobilenetv3_small").run()
    assert not at.exception
    shown = [c.value for c in at.caption]
    assert any("944,890 parameters, 9.8 MFLOPs" in c and "0.05× the default" in c for c in shown), shown
    settings = runs.TrainSettings(arch="mobilenetv3_small")
    cmd = settings.command(runs_dir / "r")
    assert cmd[cmd.index("--arch") + 1] == "mobilenetv3_small"
    assert "--arch" not in runs.TrainSettings().command(runs_dir / "r")  # the default needs no flag


def test_transfer_settings_reach_the_trainer_and_bad_ones_are_refused(runs_dir, tmp_path, monkeypatch):
    launched = []
    monkeypatch.setattr(runs, "launch_run", lambda settings: launched.append(settings) or runs.Run(
        "x", runs_dir / "x", "starting", {}, {}, [], None, {"pid": 1}))
    at = open_train_page()
    at.selectbox(key="train_arch").set_value("mobilenetv3_small").run()
    at.selectbox(key="train_input_size").set_value(128).run()
    assert any("≈39.2 MFLOPs per tile" in c.value and "upscaled to 128 px" in c.value for c in at.caption), [
        c.value for c in at.caption]
    at.selectbox(key="train_weights").set_value("imagenet")  # form widgets: sent with the submit
    at.checkbox(key="train_freeze").check()
    at.number_input(key="train_unfreeze").set_value(3)
    at.number_input(key="train_backbone_lr").set_value(0.1)
    button(at, "Start training").click().run()
    assert not at.exception, at.exception
    s = launched[-1]
    assert (s.arch, s.weights, s.freeze_backbone, s.unfreeze_epoch, s.input_size) == (
        "mobilenetv3_small", "imagenet", True, 3, 128)
    assert abs(s.backbone_lr_scale - 0.1) < 1e-9

    monkeypatch.undo()
    at.selectbox(key="train_weights").set_value("file")
    at.text_input(key="train_weights_file").input(str(tmp_path / "missing.keras"))
    button(at, "Start training").click().run()
    assert any("existing .keras" in e.value for e in at.error), [e.value for e in at.error]
    assert not any(p.is_dir() for p in runs_dir.iterdir())  # nothing was started


def test_distillation_settings_reach_the_trainer_and_a_missing_teacher_is_refused(runs_dir, tmp_path,
                                                                                  monkeypatch):
    from eurosat import config

    launched = []
    monkeypatch.setattr(runs, "launch_run", lambda settings: launched.append(settings) or runs.Run(
        "x", runs_dir / "x", "starting", {}, {}, [], None, {"pid": 1}))
    at = open_train_page()
    teacher = str(config.models_dir() / config.TFLITE_TTA)
    at.text_input(key="train_teacher").input(teacher)
    at.number_input(key="train_distill_weight").set_value(0.6)
    at.number_input(key="train_teacher_mix").set_value(1.0)
    at.checkbox(key="train_teacher_online").check()
    button(at, "Start training").click().run()
    assert not at.exception, at.exception
    s = launched[-1]
    assert (s.teacher, s.teacher_mix_fraction, s.teacher_online) == (teacher, 1.0, True)
    assert abs(s.distill_weight - 0.6) < 1e-9

    monkeypatch.undo()
    at.text_input(key="train_teacher").input(str(tmp_path / "missing.tflite"))
    button(at, "Start training").click().run()
    assert any("is not a .tflite file here" in e.value for e in at.error), [e.value for e in at.error]
    assert not any(p.is_dir() for p in runs_dir.iterdir())  # nothing was started


def test_test_only_relaunches_a_stopped_run_and_needs_a_checkpoint(runs_dir, monkeypatch):
    import shutil
    import sys

    from eurosat import config

    monkeypatch.setattr(runs, "test_command", lambda run_dir: [
        sys.executable, "-c", "import time; time.sleep(60)", "-m", runs.TRAINER_MODULE])
    write_fake_run(runs_dir, "empty", state="stopped", done=0, started=1e9)
    halted = write_fake_run(runs_dir, "halted", state="stopped", done=2, started=2e9)
    shutil.copyfile(config.models_dir() / config.KERAS_FILE, halted / "best.keras")
    at = open_train_page()
    assert at.selectbox(key="train_history_run").value == "halted"
    assert not button(at, "Test only").disabled
    button(at, "Test only").click().run()
    assert not at.exception, at.exception
    run = runs.read_run(halted)
    try:
        assert run.state == "testing" and runs.current_run().name == "halted"
        assert any(h.value == "Running: halted" for h in at.subheader)
        at.selectbox(key="train_history_run").select("empty").run()
        assert button(at, "Test only").disabled
        assert any("needs a run that is over and has a best checkpoint" in c.value for c in at.caption)
    finally:
        runs.stop_run(halted)
