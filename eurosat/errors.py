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


class ImagerySourceError(EuroSATError):
    """Imagery cannot be had from a source (a STAC catalogue, its items, their band files)."""


class CatalogueError(ImagerySourceError):
    """The STAC catalogue cannot be reached or answers with something unusable."""


class CatalogueTimeoutError(CatalogueError):
    """The STAC catalogue did not answer within the timeout."""


class NoImageryError(ImagerySourceError):
    """No item of the catalogue covers the rectangle in the date range."""


class TooCloudyError(NoImageryError):
    """Items exist, but every one is cloudier than the limit."""


class MissingBandError(ImagerySourceError):
    """An item lacks the red, green or blue band, or a band file cannot be read."""
