"""Training runs from the dashboard: launch, lock, watch, stop and list (no Streamlit here).

A run is ``python -m eurosat.train ... --out <runs_dir>/<name>`` started as a background
process in its own session (``start_new_session=True``), so it outlives page reruns, the
browser tab and even the Streamlit server; the page finds it again from the files it writes
(see :mod:`eurosat.train` for ``status.json``, ``metrics.jsonl``, ``results.json``).

Files this module adds:

``<runs_dir>/train.lock``   JSON ``{pid, run, run_dir, started}`` of the training that holds the
                            machine. A lock whose pid is dead, a zombie, or not a ``eurosat.train``
                            process is stale and the next launch takes it over.
``<run>/launch.json``       how and when the dashboard started the run (pid, command)
``<run>/train.log``         the trainer's stdout and stderr
``<run>/stop_requested.json`` written by :func:`stop_run` before it sends SIGTERM

One training at a time: a launch is refused while the lock holder, or any run whose
``status.json`` names a live trainer process (e.g. one started from a shell), is running.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eurosat import config
from eurosat.errors import DataNotFoundError, TrainingError
from eurosat.train import CONFIG_FILE, METRICS_LOG, RESULTS_FILE, STATUS_FILE, write_json_atomic

LOCK_FILE = "train.lock"
GUARD_FILE = ".train.lock.guard"
LAUNCH_FILE = "launch.json"
STOP_FILE = "stop_requested.json"
LOG_FILE = "train.log"
BEST_CHECKPOINT = "best.keras"
TRAINER_MODULE = "eurosat.train"
#: Names the app itself uses in the runs folder (and the temporary files it writes beside them).
RESERVED_NAMES = frozenset({"promoted", "train.lock", "active.json"})
#: Endings no run name may have: they are the runs folder's own files and their temporary copies.
RESERVED_SUFFIXES = (".tmp", ".json", ".lock")

#: States written by the trainer while it works, plus "starting" (launched, no status yet).
ACTIVE_STATES = ("starting", "loading data", "running", "testing", "exporting")
#: States of a run that is over; "crashed" = the status says active but the process is gone.
DONE_STATES = ("finished", "stopped", "failed", "crashed")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DEFAULTS = config.TrainConfig(data="", out="")
_CHILDREN: dict[int, subprocess.Popen] = {}  # launched by this process; polled so none stays a zombie


@dataclass(frozen=True)
class TrainSettings:
    """What the Train page's form sets for one run (the rest are :class:`TrainConfig` defaults)."""

    data: str = field(default_factory=lambda: str(config.eurosat_zip()))
    epochs: int = _DEFAULTS.epochs
    batch_size: int = _DEFAULTS.batch_size
    learning_rate: float = _DEFAULTS.learning_rate
    augment: bool = _DEFAULTS.augment
    subset: float = _DEFAULTS.subset  # fraction of every split, (0, 1]
    name: str = ""  # run folder name; empty = a timestamped one
    export: bool = True  # TFLite export at the end (needed to promote the run)
    arch: str = _DEFAULTS.arch  # eurosat.architectures name
    weights: str = _DEFAULTS.weights  # "none", "imagenet" or a .keras file (eurosat.transfer)
    freeze_backbone: bool = _DEFAULTS.freeze_backbone
    unfreeze_epoch: int | None = _DEFAULTS.unfreeze_epoch
    backbone_lr_scale: float = _DEFAULTS.backbone_lr_scale
    input_size: int = _DEFAULTS.input_size
    teacher: str = ""  # distil from these .tflite files (comma-separated: their mean); empty = no teacher
    distill_weight: float = _DEFAULTS.distill_weight
    teacher_mix_fraction: float = _DEFAULTS.teacher_mix_fraction  # mixed tiles labelled by the teacher
    teacher_online: bool = _DEFAULTS.teacher_online  # ... made and labelled per batch (eurosat.consistent)

    def validate(self) -> None:
        """Raise :class:`TrainingError` naming the first bad setting."""
        if not 1 <= self.epochs <= 1000:
            raise TrainingError(f"Epochs must be between 1 and 1000, got {self.epochs}.")
        if not 1 <= self.batch_size <= 4096:
            raise TrainingError(f"Batch size must be between 1 and 4096, got {self.batch_size}.")
        if not 0 < self.learning_rate < 1:
            raise TrainingError(f"Learning rate must be in (0, 1), got {self.learning_rate}.")
        if not 0 < self.subset <= 1:
            raise TrainingError(f"Subset fraction must be in (0, 1], got {self.subset}.")
        from eurosat.architectures import ARCHITECTURES

        if self.arch not in ARCHITECTURES:
            raise TrainingError(f"Unknown architecture '{self.arch}'; choose one of "
                                f"{', '.join(ARCHITECTURES)}.")
        from eurosat.train import check_distillation_settings, check_transfer_settings

        as_config = config.TrainConfig(
            data="", out="", epochs=self.epochs, arch=self.arch, weights=self.weights,
            freeze_backbone=self.freeze_backbone, unfreeze_epoch=self.unfreeze_epoch,
            backbone_lr_scale=self.backbone_lr_scale, input_size=self.input_size,
            teacher=self.teacher or None, distill_weight=self.distill_weight,
            teacher_mix_fraction=self.teacher_mix_fraction, teacher_online=self.teacher_online)
        check_transfer_settings(as_config)
        check_distillation_settings(as_config)
        if self.name and (not _NAME_RE.match(self.name) or self.name in RESERVED_NAMES
                          or self.name.lower().endswith(RESERVED_SUFFIXES)):
            raise TrainingError(
                f"Run name '{self.name}' is not allowed: use up to 64 letters, digits, '.', '_' or '-' "
                f"(not {', '.join(sorted(RESERVED_NAMES))}, nor a name ending in "
                f"{', '.join(RESERVED_SUFFIXES)})."
            )

    def command(self, run_dir: Path) -> list[str]:
        """The trainer's command line for this run (``sys.executable -m eurosat.train ...``)."""
        cmd = [sys.executable, "-m", TRAINER_MODULE, "--data", str(self.data), "--out", str(run_dir),
               "--epochs", str(self.epochs), "--batch-size", str(self.batch_size),
               "--lr", repr(float(self.learning_rate)), "--subset", repr(float(self.subset))]
        if self.arch != _DEFAULTS.arch:
            cmd += ["--arch", self.arch]
        if self.weights != _DEFAULTS.weights:
            cmd += ["--weights", str(Path(self.weights).expanduser())
                    if self.weights not in ("none", "imagenet") else self.weights]
        if self.freeze_backbone:
            cmd.append("--freeze-backbone")
            if self.unfreeze_epoch is not None:
                cmd += ["--unfreeze-epoch", str(self.unfreeze_epoch)]
        if self.backbone_lr_scale != _DEFAULTS.backbone_lr_scale:
            cmd += ["--backbone-lr-scale", repr(float(self.backbone_lr_scale))]
        if self.input_size != _DEFAULTS.input_size:
            cmd += ["--input-size", str(self.input_size)]
        files = config.teacher_files(self.teacher)
        if files:
            cmd += ["--teacher", ",".join(str(Path(f).expanduser()) for f in files),
                    "--distill-weight", repr(float(self.distill_weight))]
        if self.teacher_mix_fraction:
            cmd += ["--teacher-mix", repr(float(self.teacher_mix_fraction))]
        if self.teacher_online:
            cmd.append("--teacher-online")
        if not self.augment:
            cmd.append("--no-augment")
        if not self.export:
            cmd.append("--no-export")
        return cmd


def _reap() -> None:
    """Collect children of this process that have exited (so their pid is really gone)."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)


def trainer_alive(pid: object) -> bool:
    """True if ``pid`` is a live (not zombie) ``python -m eurosat.train`` process.

    Where ``/proc`` is missing (not Linux) any live process counts.
    """
    _reap()
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True
    for _ in range(20):
        try:
            stat = (proc / "stat").read_text()
            if stat[stat.rindex(")") + 2 :][:1] in ("Z", "X"):
                return False
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        if cmdline:
            return TRAINER_MODULE in cmdline.decode(errors="replace").split("\0")
        time.sleep(0.005)  # just exec'd: the kernel shows the new command line a moment later
    return stat[stat.index("(") + 1 :].startswith("python")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_metrics(run_dir: Path) -> list[dict]:
    """The epoch rows of ``metrics.jsonl`` (a half-written last line is skipped)."""
    try:
        lines = (Path(run_dir) / METRICS_LOG).read_text().splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def log_tail(run_dir: Path, lines: int = 20, max_bytes: int = 32_768) -> str:
    """The last ``lines`` lines of the run's ``train.log`` (empty if there is none)."""
    path = Path(run_dir) / LOG_FILE
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


@dataclass
class Run:
    """One run folder as read now; ``state`` is resolved against the live process table."""

    name: str
    path: Path
    state: str
    status: dict
    config: dict
    metrics: list[dict]
    results: dict | None
    launch: dict

    @property
    def pid(self) -> int | None:
        """Trainer process id (from status.json, else launch.json)."""
        pid = self.status.get("pid") or self.launch.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def is_active(self) -> bool:
        """The trainer is alive and working on this run."""
        return self.state in ACTIVE_STATES

    @property
    def stop_requested(self) -> bool:
        """:func:`stop_run` was called for this run."""
        return (self.path / STOP_FILE).is_file()

    @property
    def started(self) -> float | None:
        """Start time (Unix seconds)."""
        return self.status.get("started") or self.launch.get("started")

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to the last status update (or to now while active)."""
        if self.started is None:
            return None
        end = time.time() if self.is_active else self.status.get("updated", self.started)
        return max(0.0, float(end) - float(self.started))

    @property
    def best_val_accuracy(self) -> float | None:
        """Best validation accuracy over the epochs so far; for a run without an epoch log here (a
        student trained on a GPU and imported, :mod:`eurosat.student_import`), its results' figure."""
        vals = [r["val_accuracy"] for r in self.metrics if isinstance(r.get("val_accuracy"), float)]
        if vals:
            return max(vals)
        results = self.results or {}
        best = results.get("best_val_accuracy") if results.get("epochs_run") and not self.metrics else None
        return float(best) if isinstance(best, int | float) else None

    @property
    def epochs_done(self) -> int:
        """Epochs finished: the epoch log's lines, or an imported run's ``epochs_run``."""
        if self.metrics:
            return len(self.metrics)
        done = (self.results or {}).get("epochs_run")
        return int(done) if isinstance(done, int | float) else 0

    def test_accuracy(self, model: str = "keras") -> float | None:
        """Test accuracy of ``model`` ("keras", "tflite_dynamic", "tflite_int8", ...) if tested."""
        acc = ((self.results or {}).get("test", {}).get(model) or {}).get("accuracy")
        return float(acc) if isinstance(acc, int | float) else None

    @property
    def promotable(self) -> bool:
        """Finished, tested and exported: its models can be made the app's."""
        return self.state == "finished" and "tflite_dynamic" in (self.results or {}).get("test", {})


def _resolve_state(run_dir: Path, status: dict, launch: dict) -> tuple[str, dict]:
    raw = status.get("state")
    if raw in ("finished", "stopped", "failed"):
        return raw, status
    pid = status.get("pid") or launch.get("pid")
    if trainer_alive(pid):
        return (raw or "starting"), status
    # Dead: re-read once, the trainer may have written its last status just before exiting.
    again = _read_json(run_dir / STATUS_FILE)
    if again.get("state") in ("finished", "stopped", "failed"):
        return again["state"], again
    return ("stopped" if (run_dir / STOP_FILE).exists() else "crashed"), again or status


def read_run(run_dir: Path) -> Run:
    """Read one run folder."""
    run_dir = Path(run_dir)
    status = _read_json(run_dir / STATUS_FILE)
    launch = _read_json(run_dir / LAUNCH_FILE)
    state, status = _resolve_state(run_dir, status, launch)
    results = _read_json(run_dir / RESULTS_FILE) or None
    return Run(run_dir.name, run_dir, state, status, _read_json(run_dir / CONFIG_FILE),
               read_metrics(run_dir), results, launch)


def list_runs(root: Path | None = None) -> list[Run]:
    """All run folders under ``root`` (default :func:`config.runs_dir`), newest first."""
    root = Path(root) if root is not None else config.runs_dir()
    if not root.is_dir():
        return []
    runs = []
    for d in root.iterdir():
        if d.is_dir() and d.name not in RESERVED_NAMES and any(
            (d / f).is_file() for f in (STATUS_FILE, LAUNCH_FILE, CONFIG_FILE)
        ):
            runs.append(read_run(d))
    return sorted(runs, key=lambda r: (r.started or 0.0, r.name), reverse=True)


def lock_holder(root: Path | None = None) -> dict | None:
    """The lock's content while its trainer is alive and working, else None (free or stale)."""
    root = Path(root) if root is not None else config.runs_dir()
    lock = _read_json(root / LOCK_FILE)
    if not lock or not trainer_alive(lock.get("pid")):
        return None
    # A trainer that has written its final status is only tearing down: the lock is free.
    status = _read_json(root / str(lock.get("run")) / STATUS_FILE)
    return None if status.get("state") in ("finished", "stopped", "failed") else lock


def current_run(root: Path | None = None) -> Run | None:
    """The run being trained now, if any (the lock holder, else any active run folder)."""
    root = Path(root) if root is not None else config.runs_dir()
    holder = lock_holder(root)
    if holder and (root / str(holder.get("run"))).is_dir():
        run = read_run(root / str(holder["run"]))
        if run.is_active:
            return run
    return next((r for r in list_runs(root) if r.is_active), None)


@contextmanager
def _guard(root: Path) -> Iterator[None]:
    """Serialise launches across threads and processes (``flock`` on a guard file)."""
    with open(root / GUARD_FILE, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _busy_message(name: str, pid: object) -> str:
    return (f"A training is already running: '{name}' (pid {pid}). Only one training runs at a time "
            "on this machine: wait for it to finish or stop it first.")


def looks_like_pool(path: Path) -> bool:
    """A ``.zip`` file, or a folder with class sub-folders (directly or under ``2750/``), checked
    without walking the tree (a path such as ``/`` is refused at once)."""
    from eurosat.classes import CLASS_NAMES

    try:
        if path.is_file():
            return path.suffix.lower() == ".zip"
        return path.is_dir() and any((path / sub / name).is_dir()
                                     for sub in ("", "2750") for name in CLASS_NAMES)
    except OSError:
        return False


def _refuse_if_busy(root: Path) -> None:
    """Raise :class:`TrainingError` while the lock holder, or any run folder's trainer, is working.

    Call it under :func:`_guard`."""
    holder = lock_holder(root)
    if holder:
        raise TrainingError(_busy_message(str(holder.get("run")), holder.get("pid")))
    other = next((r for r in list_runs(root) if r.is_active), None)
    if other:
        raise TrainingError(_busy_message(other.name, other.pid))


def _start_trainer(cmd: list[str], log_path: Path, header: bytes = b"") -> subprocess.Popen:
    """Start ``cmd`` in its own session, appending its output to ``log_path`` (after ``header``).

    Raises:
        OSError: the process could not be started.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with open(log_path, "ab") as log:
        if header:
            log.write(header)
            log.flush()
        proc = subprocess.Popen(cmd, cwd=config.REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    return proc


def launch_run(settings: TrainSettings, root: Path | None = None) -> Run:
    """Start a training in the background and take the lock.

    Args:
        settings: the run's settings; the run folder is ``root / settings.name``.
        root: runs folder (default :func:`config.runs_dir`); the trainer inherits the environment.

    Returns:
        The new run (state "starting").

    Raises:
        TrainingError: bad settings, a name already used, or a training already running.
        DataNotFoundError: the data path does not exist.
    """
    settings.validate()
    if not looks_like_pool(Path(settings.data).expanduser()):
        # one message whether the path is missing or something else: the form does not reveal paths
        raise DataNotFoundError(
            f"No EuroSAT pool at '{settings.data}'. Enter the path of EuroSAT_RGB.zip or of a folder "
            "with one sub-folder per class (or set EUROSAT_DATA_DIR)."
        )
    root = Path(root) if root is not None else config.runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    name = settings.name or time.strftime("run-%Y%m%d-%H%M%S")
    run_dir = root / name
    with _guard(root):
        _refuse_if_busy(root)
        if run_dir.exists():
            raise TrainingError(f"A run named '{name}' already exists in {root}: choose another name.")
        run_dir.mkdir(parents=True)
        cmd = settings.command(run_dir)
        started = time.time()
        try:
            proc = _start_trainer(cmd, run_dir / LOG_FILE)
        except OSError as exc:
            shutil.rmtree(run_dir)  # nothing ran: free the name again
            raise TrainingError(f"Could not start the trainer ({' '.join(cmd[:3])}): {exc}") from exc
        write_json_atomic(run_dir / LAUNCH_FILE, {"pid": proc.pid, "started": started, "command": cmd})
        write_json_atomic(root / LOCK_FILE, {"pid": proc.pid, "run": name, "run_dir": str(run_dir),
                                             "started": started})
    return read_run(run_dir)


def testable(run: Run) -> bool:
    """A run that is over and has a best checkpoint: "Test only" can test (and export) it."""
    return not run.is_active and (run.path / BEST_CHECKPOINT).is_file()


def test_command(run_dir: Path) -> list[str]:
    """The trainer's command line that tests and exports a run again (``--finalize``)."""
    return [sys.executable, "-m", TRAINER_MODULE, "--out", str(run_dir), "--finalize"]


def launch_test(run_dir: Path, root: Path | None = None) -> Run:
    """"Test only": test and export a run's best checkpoint again, in the background, no training.

    Runs ``python -m eurosat.train --out RUN --finalize`` under the same one-at-a-time lock as a
    training (it loads TensorFlow and the data). A stopped run becomes finished, tested and
    promotable; a finished one gets fresh test figures (``results.json``).

    Raises:
        TrainingError: the run has no ``best.keras``, is still running, or a training is running.
    """
    root = Path(root) if root is not None else config.runs_dir()
    run = read_run(Path(run_dir))
    if not testable(run):
        raise TrainingError(f"Run '{run.name}' cannot be tested: "
                            + ("it is still running." if run.is_active else "it has no best checkpoint "
                               "(no finished epoch)."))
    with _guard(root):
        _refuse_if_busy(root)
        cmd = test_command(run.path)
        (run.path / STOP_FILE).unlink(missing_ok=True)  # an old stop request is not this test's
        try:
            proc = _start_trainer(cmd, run.path / LOG_FILE, header=b"\n--- test only (no training) ---\n")
        except OSError as exc:
            raise TrainingError(f"Could not start the test ({' '.join(cmd[:3])}): {exc}") from exc
        # "testing" with the new pid at once: the page shows it live, not as the old finished state
        write_json_atomic(run.path / STATUS_FILE, {**run.status, "state": "testing", "pid": proc.pid,
                                                   "updated": time.time()})
        write_json_atomic(root / LOCK_FILE, {"pid": proc.pid, "run": run.name, "run_dir": str(run.path),
                                             "started": time.time()})
    return read_run(run.path)


def stop_run(run_dir: Path) -> int:
    """Ask a run's trainer to stop (SIGTERM to its process group); returns the pid.

    The trainer stops after the current batch, writes a partial epoch line, keeps
    ``last.keras`` and sets its status to "stopped". A run that is testing or exporting
    finishes that step first (it is nearly done).

    Raises:
        TrainingError: the run is not running.
    """
    run = read_run(Path(run_dir))
    pid = run.pid
    if not run.is_active or pid is None:
        raise TrainingError(f"Run '{run.name}' is not running (state: {run.state}); nothing to stop.")
    write_json_atomic(run.path / STOP_FILE, {"requested": time.time(), "pid": pid})
    try:
        pgid = os.getpgid(pid)
        if pgid == pid and pgid != os.getpgrp():
            os.killpg(pgid, signal.SIGTERM)  # the group start_new_session made
        else:
            os.kill(pid, signal.SIGTERM)  # started elsewhere: never signal a shared group
    except ProcessLookupError:
        pass  # ended meanwhile; read_run reports what it left
    return pid


def wait_for(run_dir: Path, done: tuple[str, ...] = DONE_STATES, timeout_s: float = 600.0,
             poll_s: float = 1.0) -> Run:
    """Poll a run until its state is in ``done`` (for scripts and tests).

    Raises:
        TimeoutError: still not there after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        run = read_run(Path(run_dir))
        if run.state in done:
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"run '{run.name}' still '{run.state}' after {timeout_s:.0f} s")
        time.sleep(poll_s)


@dataclass(frozen=True)
class Progress:
    """What the progress bar shows: fraction 0-1, a one-line text, ETA in seconds (None unknown)."""

    fraction: float
    text: str
    eta_s: float | None


def format_duration(seconds: float | None) -> str:
    """``95`` -> ``"1 min 35 s"``; None -> ``"–"``."""
    if seconds is None:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


_STATE_TEXT = {
    "starting": "Starting the trainer (importing TensorFlow)…",
    "loading data": "Loading the images…",
    "testing": "Testing the best checkpoint…",
    "exporting": "Exporting the TFLite models and testing them…",
}


def progress(run: Run, now: float | None = None) -> Progress:
    """Progress of a run from its status and metrics.

    The ETA assumes every remaining step takes as long as the recent ones (the last finished
    epochs' ``epoch_time_s``, validation included, else the current epoch's rate); early
    stopping can end the run sooner.
    """
    now = time.time() if now is None else now
    st = run.status
    epochs = int(st.get("epochs") or run.config.get("epochs") or 1)
    epoch, step, steps = int(st.get("epoch") or 0), int(st.get("step") or 0), int(st.get("steps") or 0)
    if run.state != "running" or not steps:
        frac = 1.0 if run.state == "finished" else min(1.0, run.epochs_done / epochs)
        done_text = f"{run.state.capitalize()} after {run.epochs_done}/{epochs} epochs"
        text = _STATE_TEXT.get(run.state, done_text)
        return Progress(frac, text, None)
    done = (epoch - 1) * steps + step
    total = epochs * steps
    full = [r["epoch_time_s"] for r in run.metrics if "epoch_time_s" in r and not r.get("partial")]
    recent = (full[1:] or full)[-3:]  # the first epoch also traces the graph: slower
    per_step = None
    if recent:
        per_step = sum(recent) / len(recent) / steps
    elif step > 0 and st.get("epoch_started") and st.get("updated"):
        per_step = (float(st["updated"]) - float(st["epoch_started"])) / step
    eta = None
    if per_step is not None:
        eta = max(0.0, (total - done) * per_step - max(0.0, now - float(st.get("updated", now))))
    text = f"Epoch {epoch}/{epochs} · step {step}/{steps}"
    if eta is not None:
        text += f" · about {format_duration(eta)} left"
    return Progress(min(1.0, max(0.0, done / total)), text, eta)


def teacher_summary(cfg: dict) -> str:
    """What a run learnt from, for the history table: "—", "2 files" or "2 files + 1× mixed (per batch)"."""
    files = config.teacher_files(str(cfg.get("teacher") or ""))
    mix = float(cfg.get("teacher_mix_fraction") or 0.0)
    if not files:
        return f"— + {mix:g}× mixed" if mix else "—"
    text = f"{len(files)} file{'s' if len(files) > 1 else ''}"
    if mix:
        text += f" + {mix:g}× mixed ({'per batch' if cfg.get('teacher_online') else 'once'})"
    return text


def history_rows(runs: list[Run]) -> list[dict]:
    """One row per run for the run-history table (accuracies as fractions 0-1).

    A student trained on a GPU and imported (:mod:`eurosat.student_import`) shows its training time on the
    GPU (not the import's) and its teacher script.
    """
    rows = []
    for r in runs:
        c, results = r.config, r.results or {}
        gpu = results.get("gpu_training")
        rows.append({  # results first: the table is wider than the page, the settings scroll
            "run": r.name,
            "state": r.state,
            "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started)) if r.started else "",
            "architecture": c.get("arch") or _DEFAULTS.arch,
            "epochs": f"{r.epochs_done}/{c.get('epochs', '?')}",
            "best val acc": r.best_val_accuracy,
            "test acc (Keras)": r.test_accuracy("keras"),
            "test acc (TFLite)": r.test_accuracy("tflite_dynamic"),
            "duration": format_duration(results.get("train_time_s") if gpu else r.duration_s),
            "teacher": f"GPU: {gpu.get('script')}" if gpu else teacher_summary(c),
            "batch": c.get("batch_size"),
            "lr": c.get("learning_rate"),
            "augment": c.get("augment"),
            "subset": c.get("subset"),
        })
    return rows
