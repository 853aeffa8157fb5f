"""Domain facts declared once, as data: classes, colours, statistics, radiometry."""

from __future__ import annotations

#: Output order of every shipped model (the model contract).
CLASS_NAMES: tuple[str, ...] = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
NUM_CLASSES: int = len(CLASS_NAMES)

#: One colour per class (hex), used by the class map, legend, charts and GeoTIFF colour table.
CLASS_COLORS: dict[str, str] = {
    "AnnualCrop": "#e6c84f",
    "Forest": "#1b7a2e",
    "HerbaceousVegetation": "#8fd16a",
    "Highway": "#7f7f7f",
    "Industrial": "#b03aa2",
    "Pasture": "#c7e9a0",
    "PermanentCrop": "#d98b2b",
    "Residential": "#d7301f",
    "River": "#3a8fd9",
    "SeaLake": "#0b3d91",
}

#: EuroSAT-RGB per-channel mean and std on the 0-1 scale (shared/data README).
EUROSAT_MEAN: tuple[float, float, float] = (0.3444, 0.3803, 0.4078)
EUROSAT_STD: tuple[float, float, float] = (0.2027, 0.1369, 0.1156)

#: EuroSAT RGB maps Sentinel-2 L1C digital numbers 0..2750 linearly to 0..255.
EUROSAT_DN_MAX: float = 2750.0
#: Offset added to L1C/L2A digital numbers from processing baseline 04.00 (2022-01-25) on.
BASELINE_04_OFFSET: float = 1000.0

TILE_SIZE: int = 64  # pixels
PIXEL_SIZE_M: float = 10.0  # metres per pixel of Sentinel-2 visible bands

ATTRIBUTION: str = "Contains modified Copernicus Sentinel data"


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """Convert ``#rrggbb`` to an (r, g, b) tuple of ints 0-255."""
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)
