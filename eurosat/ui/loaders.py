"""Cached loaders: models are loaded once per process (``st.cache_resource``).

The cache key includes the file's modification time so that a promoted or replaced
model is picked up without restarting the app.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from eurosat import config
from eurosat.registry import ModelInfo, active_model
from eurosat.serving import ClassifierPool, JobGate
from eurosat.workers import WorkerPool


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@st.cache_resource(show_spinner=False, max_entries=4)
def _classifier(path: str, mtime: float, num_threads: int) -> ClassifierPool:  # noqa: ARG001
    return ClassifierPool(path, num_threads=num_threads)


def current_model() -> ModelInfo:
    """The model the app uses now (promoted run, else shipped)."""
    return active_model()


def get_classifier(int8: bool = False, num_threads: int | None = None) -> ClassifierPool:
    """The active model's TFLite classifier (dynamic-range by default), shared by every user of this
    server: a pool of interpreters, shortest job first (:mod:`eurosat.serving`), each with
    ``num_threads`` LiteRT threads (default :func:`eurosat.config.serving_threads`).

    Raises:
        ModelLoadError: the file is missing or broken.
    """
    info = current_model()
    path = info.tflite_int8 if int8 else info.tflite
    return _classifier(str(path), _mtime(path), num_threads or config.serving_threads())


@st.cache_resource(show_spinner="Loading the Keras model (TensorFlow)…", max_entries=2)
def _keras_model(path: str, mtime: float):  # noqa: ARG001
    from eurosat.explain import load_keras_model

    return load_keras_model(path)


def get_keras_model():
    """The active model's Keras model (imports TensorFlow on first use)."""
    path = current_model().keras
    return _keras_model(str(path), _mtime(path))


@st.cache_resource(show_spinner="Preparing the explainer…", max_entries=2)
def _explainer(path: str, mtime: float):
    from eurosat.explain import CamExplainer

    return CamExplainer(_keras_model(path, mtime))


def get_explainer():
    """The active model's cached ``eurosat.explain.CamExplainer`` (Grad-CAM & co., imports TensorFlow).

    Raises:
        ModelLoadError: the Keras file is missing or broken.
    """
    path = current_model().keras
    return _explainer(str(path), _mtime(path))


@st.cache_resource(show_spinner=False)
def _workers(num_threads: int) -> WorkerPool:
    return WorkerPool(num_threads=num_threads, preload=current_model().tflite)


def get_workers() -> WorkerPool | None:
    """The server's classification worker processes (:mod:`eurosat.workers`), started on first use
    and shared by every session; ``None`` when ``EUROSAT_WORKER_PROCESSES=0``."""
    return _workers(config.serving_threads()) if config.worker_processes() else None


@st.cache_resource(show_spinner=False)
def job_gate() -> JobGate:
    """The server's one :class:`eurosat.serving.JobGate` (shared by every session)."""
    return JobGate()
