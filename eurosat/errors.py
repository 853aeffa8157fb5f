"""Typed, actionable errors. The UI shows their message with ``st.error``."""

from __future__ import annotations


class EuroSATError(Exception):
    """Base class: every message is meant to be shown to a user as is."""


class DataNotFoundError(EuroSATError):
    """The EuroSAT data (zip or folder) is missing or unreadable."""


class ModelLoadError(EuroSATError):
    """A model file is missing, corrupt or does not honour the model contract."""


class ImageError(EuroSATError):
    """An image file cannot be decoded or is not usable."""


class GeoError(EuroSATError):
    """A raster or area of interest cannot be used (no georeference, outside, too large...)."""


class TrainingError(EuroSATError):
    """A training run cannot be launched, stopped or read."""
