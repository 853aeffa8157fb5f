"""eurosat.runs: launch, lock, stop and list training runs.

Fast tests use fabricated run folders and a stand-in "trainer" (a sleeping Python process whose
command line names ``-m eurosat.train``); the slow ones launch the real trainer on a tiny subset
of the real EuroSAT zip through :func:`eurosat.runs.launch_run`, the Train page's code path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from eurosat import config, runs
from eurosat.classes import NUM_CLASSES
from eurosat.errors import DataNotFoundError, TrainingError
from eurosat.metrics import classification_report

T0 = 1_700_000_000.0


# --- helpers shared with tests/test_registry.py and tests/app/test_train_page.py -------------------

def fake_trainer() -> subprocess.Popen:
    """A process that looks like a trainer to :func:`runs.trainer_alive`, in its own session."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-m", runs.TRAINER_MODULE],
                            start_new_session=True)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def fake_report(seed: int, n: int = 50) -> dict:
    """A classification report of random predictions that are right about 60 % of the time."""
    gen = np.random.default_rng(seed)
    y = gen.integers(0, NUM_CLASSES, n)
    pred = np.where(gen.random(n) < 0.6, y, gen.integers(0, NUM_CLASSES, n))
    return classification_report(y, pred)


def write_fake_run(root: Path, name: str, state: str = "finished", pid: int | None = None,
                   epochs: int = 3, done: int | None = None, with_models: bool = False,
                   started: float = T0) -> Path:
    """Fabricate a run folder like eurosat.train writes it (models copied from models/ if asked)."""
    d = root / name
    d.mkdir(parents=True)
    done = epochs if done is None else done
    cfg = config.TrainConfig(data="/data/EuroSAT_RGB.zip", out=str(d), epochs=epochs, batch_size=16,
                             subset=0.01)
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    rows = [{"epoch": e, "loss": 2.0 / e, "accuracy": 0.3 + 0.1 * e, "val_loss": 2.2 / e,
             "val_accuracy": 0.25 + 0.1 * e, "lr": 1e-3, "epoch_time_s": 10.0, "time": started + 10 * e}
            for e in range(1, done + 1)]
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    status = {"state": state, "pid": pid if pid is not None else dead_pid(), "epoch": done,
              "epochs": epochs, "started": started, "updated": started + 10 * done + 5}
    if state == "running":
        status.update(epoch=done + 1, step=3, steps=10, epoch_started=started + 10 * done)
    (d / "status.json").write_text(json.dumps(status))
    if state == "finished":
        files = {}
        if with_models:
            for kind, fname in (("keras", config.KERAS_FILE), ("dynamic", config.TFLITE_DYNAMIC),
                                ("int8", config.TFLITE_INT8)):
                shutil.copyfile(config.models_dir() / fname, d / fname)
                files[kind] = {"path": str(d / fname), "size_bytes": (d / fname).stat().st_size}
        test = {"keras": fake_report(1)}
        if with_models:
            test.update(tflite_dynamic=fake_report(2), tflite_int8=fake_report(3))
        results = {"classes": [], "parameters": 698858, "epochs_run": done,
                   "best_val_accuracy": rows[-1]["val_accuracy"], "test": test, "files": files}
        (d / "results.json").write_text(json.dumps(results))
    return d


@pytest.fixture
def trainer():
    """A stand-in trainer process, killed at the end of the test."""
    p = fake_trainer()
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


@pytest.fixture
def data_file(tmp_path) -> Path:
    """An existing path to pass as --data (the stand-in trainer never reads it)."""
    p = tmp_path / "EuroSAT_RGB.zip"
    p.write_bytes(b"")
    return p


# --- fast tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"epochs": 0}, "Epochs"), ({"batch_size": 0}, "Batch size"), ({"learning_rate": 0.0}, "Learning rate"),
    ({"subset": 0.0}, "Subset"), ({"subset": 1.5}, "Subset"), ({"name": "../evil"}, "not allowed"),
    ({"name": "promoted"}, "not allowed"),
])
def test_bad_settings_are_refused_with_the_setting_named(kwargs, words):
    with pytest.raises(TrainingError, match=words):
        runs.TrainSettings(**kwargs).validate()


def test_command_runs_the_trainer_module_with_the_form_settings(tmp_path):
    s = runs.TrainSettings(data="/d.zip", epochs=3, batch_size=8, learning_rate=0.001, augment=False,
                           subset=0.25, export=False)
    cmd = s.command(tmp_path / "r")
    assert cmd[:3] == [sys.executable, "-m", "eurosat.train"]
    args = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert args["--out"] == str(tmp_path / "r") and args["--epochs"] == "3"
    assert args["--batch-size"] == "8" and float(args["--lr"]) == 0.001 and float(args["--subset"]) == 0.25
    assert "--no-augment" in cmd and "--no-export" in cmd
    assert "--no-augment" not in runs.TrainSettings(data="/d.zip").command(tmp_path / "r")


def test_distillation_settings_become_trainer_flags_the_trainer_accepts(tmp_path):
    from eurosat import config, train

    teacher = str(config.models_dir() / config.TFLITE_TTA)
    s = runs.TrainSettings(data="/d.zip", teacher=teacher, distill_weight=0.6, teacher_mix_fraction=1.0,
                           teacher_online=True)
    s.validate()
    cmd = s.command(tmp_path / "r")
    cfg, _, _ = train.parse_args(cmd[3:])  # the trainer itself parses what the page launches
    assert (cfg.teacher, cfg.distill_weight, cfg.teacher_mix_fraction, cfg.teacher_online) == (
        teacher, 0.6, 1.0, True)
    plain = runs.TrainSettings(data="/d.zip").command(tmp_path / "r")
    assert not any(a.startswith("--teacher") or a == "--distill-weight" for a in plain)


@pytest.mark.parametrize("kwargs, words", [
    ({"teacher": "/nowhere/t.tflite"}, "not a .tflite file"),
    ({"teacher": "README.md"}, "not a .tflite file"),
    ({"distill_weight": 1.5}, "Teacher weight"),
    ({"teacher_mix_fraction": 3.0}, "Mixed tiles"),
    ({"teacher_online": True, "teacher_mix_fraction": 1.0}, "needs a teacher"),
])
def test_bad_distillation_settings_are_refused(kwargs, words):
    with pytest.raises(TrainingError, match=words):
        runs.TrainSettings(**kwargs).validate()


def test_trainer_alive_only_for_live_trainer_processes(trainer):
    assert runs.trainer_alive(trainer.pid)
    assert not runs.trainer_alive(os.getpid())  # alive, but pytest is not a trainer
    assert not runs.trainer_alive(dead_pid())
    assert not runs.trainer_alive(None)
    trainer.kill()
    stat = Path(f"/proc/{trainer.pid}/stat")
    for _ in range(100):  # killed, not waited for: it stays a zombie
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    assert not runs.trainer_alive(trainer.pid)


def test_read_metrics_skips_a_half_written_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1, "loss": 1.0}\n{"epoch": 2, "lo')
    assert runs.read_metrics(tmp_path) == [{"epoch": 1, "loss": 1.0}]
    assert runs.read_metrics(tmp_path / "missing") == []


def test_log_tail_gives_the_last_lines(tmp_path):
    (tmp_path / runs.LOG_FILE).write_text("".join(f"line {i}\n" for i in range(100)))
    assert runs.log_tail(tmp_path, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert runs.log_tail(tmp_path / "missing") == ""


def test_state_of_runs_whose_process_is_gone(runs_dir, trainer):
    write_fake_run(runs_dir, "done")
    write_fake_run(runs_dir, "crash", state="running", done=1)
    write_fake_run(runs_dir, "asked", state="running", done=1)
    (runs_dir / "asked" / runs.STOP_FILE).write_text("{}")
    write_fake_run(runs_dir, "live", state="running", done=1, pid=trainer.pid)
    (runs_dir / "never").mkdir()  # launched, died before writing its status
    (runs_dir / "never" / runs.LAUNCH_FILE).write_text(json.dumps({"pid": dead_pid(), "started": T0}))
    states = {r.name: r.state for r in runs.list_runs(runs_dir)}
    assert states == {"done": "finished", "crash": "crashed", "asked": "stopped", "live": "running",
                      "never": "crashed"}
    assert runs.current_run(runs_dir).name == "live"


def test_progress_fraction_and_eta_from_status_and_epoch_times(runs_dir, trainer):
    d = write_fake_run(runs_dir, "r", state="running", epochs=4, done=1, pid=trainer.pid)
    run = runs.read_run(d)  # epoch 2/4, step 3/10; epoch 1 took 10 s -> 1 s per step
    p = runs.progress(run, now=run.status["updated"])
    assert p.fraction == pytest.approx(13 / 40)
    assert p.eta_s == pytest.approx(27.0)
    assert "Epoch 2/4" in p.text and "step 3/10" in p.text and "27 s" in p.text
    assert runs.progress(runs.read_run(write_fake_run(runs_dir, "f"))).fraction == 1.0


def test_history_rows_carry_settings_and_accuracies(runs_dir):
    write_fake_run(runs_dir, "old", started=T0)
    write_fake_run(runs_dir, "new", state="stopped", done=1, started=T0 + 100)
    rows = runs.history_rows(runs.list_runs(runs_dir))
    assert [r["run"] for r in rows] == ["new", "old"]  # newest first
    old = rows[1]
    assert old["epochs"] == "3/3" and old["batch"] == 16 and old["subset"] == 0.01
    assert old["best val acc"] == pytest.approx(0.55)
    assert old["test acc (Keras)"] == fake_report(1)["accuracy"]
    assert rows[0]["test acc (Keras)"] is None and rows[0]["state"] == "stopped"
    assert old["architecture"] == "resnet_light" and old["teacher"] == "—"


def test_the_history_says_what_a_run_learnt_from():
    assert runs.teacher_summary({}) == "—"
    assert runs.teacher_summary({"teacher": "a.tflite"}) == "1 file"
    assert runs.teacher_summary({"teacher": "a.tflite,b.tflite", "teacher_mix_fraction": 1.0,
                                 "teacher_online": True}) == "2 files + 1× mixed (per batch)"
    once = runs.teacher_summary({"teacher": "a.tflite", "teacher_mix_fraction": 0.5})
    assert once == "1 file + 0.5× mixed (once)"
    assert runs.teacher_summary({"teacher_mix_fraction": 1.0}) == "— + 1× mixed"


def test_missing_data_and_taken_names_are_refused_before_anything_starts(runs_dir, data_file):
    with pytest.raises(DataNotFoundError, match="No EuroSAT pool"):
        runs.launch_run(runs.TrainSettings(data=str(data_file.parent / "nope.zip"), name="a"))
    write_fake_run(runs_dir, "taken")
    with pytest.raises(TrainingError, match="already exists"):
        runs.launch_run(runs.TrainSettings(data=str(data_file), name="taken"))
    assert not (runs_dir / "a").exists() and not (runs_dir / runs.LOCK_FILE).exists()


@pytest.fixture
def stand_in_command(monkeypatch):
    """Make launch_run start a stand-in trainer instead of TensorFlow (the plumbing stays real)."""
    monkeypatch.setattr(runs.TrainSettings, "command",
                        lambda self, run_dir: [sys.executable, "-c", "import time; time.sleep(120)",
                                               "-m", runs.TRAINER_MODULE])


def test_lock_refuses_a_second_launch_and_a_stale_lock_is_taken_over(runs_dir, data_file, trainer,
                                                                      stand_in_command):
    lock = runs_dir / runs.LOCK_FILE
    lock.write_text(json.dumps({"pid": trainer.pid, "run": "holder"}))
    (runs_dir / "holder").mkdir()
    with pytest.raises(TrainingError, match="already running: 'holder'"):
        runs.launch_run(runs.TrainSettings(data=str(data_file), name="second"))
    assert not (runs_dir / "second").exists()
    for stale_pid in (dead_pid(), os.getpid()):  # dead, or alive but not a trainer
        lock.write_text(json.dumps({"pid": stale_pid, "run": "ghost"}))
        assert runs.lock_holder(runs_dir) is None
    run = runs.launch_run(runs.TrainSettings(data=str(data_file), name="taker"))
    try:
        assert json.loads(lock.read_text())["run"] == "taker"
        assert runs.lock_holder(runs_dir)["pid"] == run.pid and run.state == "starting"
        with pytest.raises(TrainingError, match="already running: 'taker'"):
            runs.launch_run(runs.TrainSettings(data=str(data_file), name="third"))
    finally:
        runs.stop_run(run.path)
    assert runs.wait_for(run.path, timeout_s=10, poll_s=0.1).state == "stopped"
    assert runs.lock_holder(runs_dir) is None


def test_a_trainer_that_cannot_start_leaves_no_run_and_no_lock(runs_dir, data_file, monkeypatch):
    monkeypatch.setattr(runs.TrainSettings, "command", lambda self, run_dir: ["/nonexistent/python"])
    with pytest.raises(TrainingError, match="Could not start the trainer"):
        runs.launch_run(runs.TrainSettings(data=str(data_file), name="x"))
    assert not (runs_dir / "x").exists() and not (runs_dir / runs.LOCK_FILE).exists()


def test_a_running_run_without_lock_also_blocks_a_launch(runs_dir, data_file, trainer):
    write_fake_run(runs_dir, "from-shell", state="running", done=1, pid=trainer.pid)
    with pytest.raises(TrainingError, match="from-shell"):
        runs.launch_run(runs.TrainSettings(data=str(data_file), name="x"))


def test_stop_signals_the_trainer_and_refuses_runs_that_are_not_running(runs_dir, trainer):
    d = write_fake_run(runs_dir, "live", state="running", done=1, pid=trainer.pid)
    assert runs.stop_run(d) == trainer.pid
    assert trainer.wait(10) != 0  # ended by SIGTERM
    assert runs.read_run(d).state == "stopped"
    with pytest.raises(TrainingError, match="not running"):
        runs.stop_run(d)


# --- real training (slow) ----------------------------------------------------------------------------

TINY = {"epochs": 2, "batch_size": 16, "subset": 0.005}


@pytest.mark.slow
def test_page_launch_trains_a_tiny_run_that_can_be_promoted(runs_dir, eurosat_zip):
    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import active_model, promote_run, revert_to_shipped

    run = runs.launch_run(runs.TrainSettings(data=str(eurosat_zip), name="tiny", **TINY))
    assert run.path == config.runs_dir() / "tiny"
    seen: list[tuple[str, int]] = []  # (progress text, step) while running
    deadline = time.monotonic() + 900
    while run.state not in runs.DONE_STATES and time.monotonic() < deadline:
        run = runs.read_run(run.path)
        if run.state == "running":
            seen.append((runs.progress(run).text, run.status.get("step", 0)))
        time.sleep(0.2)
    assert run.state == "finished", runs.log_tail(run.path, 40)
    assert seen and seen[0][0].startswith("Epoch 1/2")  # progress was visible while it ran
    assert [r["epoch"] for r in run.metrics] == [1, 2]
    assert all(0 <= r["val_accuracy"] <= 1 for r in run.metrics)
    assert set(run.results["test"]) >= {"keras", "tflite_dynamic", "tflite_int8"}
    assert (run.path / "last.keras").is_file() and (run.path / runs.LOG_FILE).stat().st_size > 0
    row = runs.history_rows(runs.list_runs())[0]
    assert row["run"] == "tiny" and row["test acc (TFLite)"] is not None
    assert runs.lock_holder() is None  # free for the next launch

    assert active_model().source == "shipped"
    info = promote_run(run.path)
    assert active_model() == info and info.name == "tiny" and info.source == "promoted"
    assert info.directory == runs_dir / "promoted" / "tiny"
    assert TFLiteClassifier(active_model().tflite).predict(np.zeros((2, 64, 64, 3))).shape == (2, 10)
    assert revert_to_shipped().source == "shipped" and active_model().source == "shipped"


@pytest.mark.slow
def test_stopping_a_real_run_keeps_its_checkpoint_and_partial_metrics(runs_dir, eurosat_zip):
    (runs_dir / runs.LOCK_FILE).write_text(json.dumps({"pid": dead_pid(), "run": "crashed-before"}))
    run = runs.launch_run(runs.TrainSettings(data=str(eurosat_zip), name="long",
                                             **{**TINY, "epochs": 50}))
    try:
        assert json.loads((runs_dir / runs.LOCK_FILE).read_text())["run"] == "long"  # stale lock taken over
        with pytest.raises(TrainingError, match="already running: 'long'"):
            runs.launch_run(runs.TrainSettings(data=str(eurosat_zip), name="second", **TINY))
        deadline = time.monotonic() + 600
        while not (run.state == "running" and run.status.get("step", 0) > 0) and time.monotonic() < deadline:
            assert run.state not in runs.DONE_STATES, runs.log_tail(run.path, 40)
            time.sleep(0.2)
            run = runs.read_run(run.path)
    finally:
        runs.stop_run(run.path)
    run = runs.wait_for(run.path, timeout_s=300)
    assert run.state == "stopped" and run.status["state"] == "stopped"
    assert (run.path / "last.keras").is_file()
    assert run.metrics and run.metrics[-1].get("partial") is True and len(run.metrics) < 50
    assert not (run.path / "results.json").exists()
    deadline = time.monotonic() + 60
    while runs.trainer_alive(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not runs.trainer_alive(run.pid)  # the process ended

    # "Test only": the stopped run's best checkpoint is tested and exported, no epoch is trained
    assert runs.testable(run) and not run.promotable
    epochs_before = len(run.metrics)
    tested = runs.launch_test(run.path)
    assert tested.state == "testing" and runs.current_run() is not None
    with pytest.raises(TrainingError, match="still running"):
        runs.launch_test(run.path)
    run = runs.wait_for(run.path, timeout_s=600)
    assert run.state == "finished", runs.log_tail(run.path, 40)
    assert run.promotable and len(run.metrics) == epochs_before
    assert set(run.results["test"]) >= {"keras", "tflite_dynamic", "tflite_int8"}
    assert "test only" in runs.log_tail(run.path, 400)
