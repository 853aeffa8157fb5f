"""Uploaded images: decode safely to uint8 RGB on the EuroSAT scale, then resize or cut into tiles.

Every way an upload can go wrong ends in :class:`eurosat.errors.ImageError` with a message meant
for the user; every conversion made on the way (alpha dropped, greyscale replicated, 16-bit
digital numbers rescaled...) is reported as a note to show beside the result.

Radiometry: 8-bit images are used as they are (EuroSAT RGB is 8-bit true colour). Images with
more than 8 bits are taken as Sentinel-2 L1C digital numbers and mapped like EuroSAT:
``uint8 = clip(round(DN * 255 / 2750), 0, 255)`` (see :data:`eurosat.classes.EUROSAT_DN_MAX`).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from eurosat.classes import CLASS_NAMES, EUROSAT_DN_MAX, NUM_CLASSES, TILE_SIZE
from eurosat.decision import CLOUD_CODE, UNCERTAIN_CODE, Thresholds, tile_codes
from eurosat.errors import ImageError
from eurosat.masks import TileQuality, rgb_masks, tile_quality

#: Largest image accepted, in pixels (width × height): about a 7000 × 7000 px image.
MAX_PIXELS: int = 50_000_000
#: Pillow's decompression-bomb guard: it warns above this and raises above twice this.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
#: Most 64×64 tiles classified from one image in tile mode (a 4096 × 4096 px image).
MAX_TILES: int = 4096
#: Most bytes one image may decode to (pixels × bands read × bytes per sample), checked from the
#: header before any pixel is decoded: a 50 MP 8-bit RGB image, or a 4096² 16-bit 4-band one.
MAX_DECODE_BYTES: int = 160_000_000
#: Most 64×64 tiles one session keeps over all its upload results (about 50 MB of tiles).
MAX_SESSION_TILES: int = 4096
#: Longest side of the copy of an image kept for display.
DISPLAY_MAX_SIDE: int = 1024

TILES = "tiles"
RESIZE = "resize"
#: Tiles keep the 10 m pixels the model was trained on; resizing changes the ground scale.
DEFAULT_MODE = TILES
MODES = (TILES, RESIZE)

_PILLOW_FORMATS = {"JPEG", "MPO", "PNG", "TIFF"}
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_S2_BANDS_RGB = (4, 3, 2)  # 1-based band numbers of B04, B03, B02 in a 13-band Sentinel-2 stack


class Classifier(Protocol):
    """Anything with ``predict(tiles (N, 64, 64, 3)) -> (N, 10)`` (e.g. ``TFLiteClassifier``)."""

    def predict(self, tiles: np.ndarray) -> np.ndarray: ...


@dataclass
class DecodedImage:
    """An upload decoded to what the model expects.

    Attributes:
        rgb: uint8 (H, W, 3) RGB on the EuroSAT 0-255 scale.
        notes: conversions made, one sentence each, to show to the user.
        source_format: "JPEG", "PNG" or "TIFF".
    """

    rgb: np.ndarray
    notes: list[str] = field(default_factory=list)
    source_format: str = ""


@dataclass
class PreparedImage:
    """Model input made from one image.

    Attributes:
        tiles: uint8 (N, 64, 64, 3), row-major over the tile grid.
        grid: (rows, cols) of the tiles (``(1, 1)`` for a single tile).
        how: "as is", "resized" or "tiles".
        notes: what was done, for the user.
    """

    tiles: np.ndarray
    grid: tuple[int, int]
    how: str
    notes: list[str] = field(default_factory=list)


@dataclass
class UploadResult:
    """One classified upload (kept in session state across page switches).

    Attributes:
        key: identifies the upload and mode it was made from (to skip recomputing).
        name: file name.
        display: uint8 (h, w, 3) copy of the image for display (at most 1024 px a side).
        tiles: uint8 (N, 64, 64, 3) model input.
        grid: (rows, cols) of the tiles.
        how: "as is", "resized" or "tiles".
        probs: float32 (N, 10) class probabilities per tile.
        notes: conversions made while decoding (alpha dropped, greyscale, 16-bit...), for the user.
        steps: how the model input was made (tiles, resizing, leftover pixels), for the user.
    """

    key: Any
    name: str
    display: np.ndarray
    tiles: np.ndarray
    grid: tuple[int, int]
    how: str
    probs: np.ndarray
    notes: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    quality: TileQuality | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def n_tiles(self) -> int:
        """Number of tiles classified."""
        return len(self.tiles)

    @property
    def tile_quality(self) -> TileQuality:
        """Per-tile clear / cloud / shadow / no-data shares (all clear when unknown)."""
        return self.quality if self.quality is not None else TileQuality.all_clear(len(self.probs))

    @property
    def codes(self) -> np.ndarray:
        """Code per tile: class 0-9, 253 cloud / no data, 254 uncertain: uint8 (N,)."""
        return tile_codes(self.probs, self.tile_quality.clear, self.thresholds)

    def status_counts(self) -> tuple[int, int, int]:
        """Tiles shown as (land, cloud / no data, uncertain)."""
        codes = self.codes
        return (int((codes < NUM_CLASSES).sum()), int((codes == CLOUD_CODE).sum()),
                int((codes == UNCERTAIN_CODE).sum()))

    @property
    def land_probs(self) -> np.ndarray | None:
        """Image-level probabilities over the tiles shown as land (mean), or None when there is none."""
        land = self.codes < NUM_CLASSES
        return self.probs[land].mean(axis=0) if land.any() else None

    @property
    def labels(self) -> np.ndarray:
        """Class index per tile, int (N,)."""
        return self.probs.argmax(axis=1)

    @property
    def mean_probs(self) -> np.ndarray:
        """Image-level probabilities: the mean over tiles, float (10,)."""
        return self.probs.mean(axis=0)

    @property
    def label_grid(self) -> np.ndarray:
        """Class index per tile laid out as the tile grid, int (rows, cols)."""
        return self.labels.reshape(self.grid)

    def tile_label(self, i: int) -> str:
        """Where tile ``i`` is: "row r, col c" (1-based)."""
        r, c = divmod(int(i), self.grid[1])
        return f"row {r + 1}, col {c + 1}"


@dataclass
class UploadFailure:
    """An upload that could not be used, with the message to show."""

    key: Any
    name: str
    message: str


# --------------------------------------------------------------------------- decoding


def scale_dn(values: np.ndarray) -> np.ndarray:
    """Sentinel-2 L1C digital numbers to uint8 like EuroSAT: ``clip(round(DN·255/2750), 0, 255)``."""
    x = np.asarray(values, dtype=np.float32) * (255.0 / EUROSAT_DN_MAX)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _dn_note(saturated: float) -> str:
    note = (
        "More than 8 bits per channel: values taken as Sentinel-2 L1C digital numbers and scaled "
        "like EuroSAT (DN × 255 / 2750, clipped to 0–255)."
    )
    if saturated > 0.05:
        note += (
            f" {saturated:.0%} of the pixels saturate at 255: if the data come from processing "
            "baseline 04.00 or later (2022 on), subtract the 1000 DN offset first."
        )
    return note


def _to_uint8(x: np.ndarray, notes: list[str]) -> np.ndarray:
    """Bring one image (H, W, C) of any numeric dtype to uint8 on the EuroSAT scale."""
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.bool_:
        return (x * np.uint8(255)).astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            notes.append(f"{(~finite).mean():.1%} of the pixel values are not numbers (NaN); set to 0.")
            x = np.where(finite, x, 0)
        if finite.any() and float(np.nanmax(np.abs(x))) <= 2.0:
            notes.append(
                "Floating-point values in 0–2 taken as top-of-atmosphere reflectance "
                "(× 10000 = Sentinel-2 L1C digital numbers) and scaled like EuroSAT."
            )
            x = x * 10000.0
        else:
            notes.append(
                "Floating-point values taken as Sentinel-2 L1C digital numbers and scaled like "
                "EuroSAT (DN × 255 / 2750)."
            )
        return scale_dn(x)
    if np.issubdtype(x.dtype, np.integer):
        out = scale_dn(np.clip(x, 0, None))
        notes.append(_dn_note(float((out == 255).mean())))
        return out
    raise ImageError(f"Pixel type {x.dtype} is not supported; save the image as 8-bit RGB.")


def _grey_note() -> str:
    return (
        "Greyscale image: the single channel was copied to red, green and blue. The model was "
        "trained on colour images, so expect a poor result."
    )


def _bands_to_rgb(bands: np.ndarray, alpha_last: bool, notes: list[str]) -> np.ndarray:
    """Choose the RGB channels of an (H, W, C) array by its channel count."""
    c = bands.shape[-1]
    if c == 1:
        notes.append(_grey_note())
        return np.repeat(bands, 3, axis=-1)
    if c == 2:
        notes.append("The second channel (transparency) was dropped.")
        notes.append(_grey_note())
        return np.repeat(bands[..., :1], 3, axis=-1)
    if c == 3:
        return bands
    if c == 4:
        what = "transparency (alpha)" if alpha_last else "4th band"
        notes.append(f"The {what} channel was dropped; bands 1–3 are used as red, green, blue.")
        return bands[..., :3]
    raise AssertionError("more bands are handled by the caller")  # pragma: no cover


def _decode_with_rasterio(data: bytes, name: str, mode: str | None = None) -> DecodedImage:
    """TIFF/GeoTIFF (any band count and pixel type) and 16-bit PNG through GDAL."""
    from rasterio.enums import ColorInterp
    from rasterio.errors import NotGeoreferencedWarning, RasterioError
    from rasterio.io import MemoryFile

    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with MemoryFile(data) as mem, mem.open() as src:
                fmt = "TIFF" if src.driver == "GTiff" else src.driver
                count = src.count
                itemsize = max(np.dtype(d).itemsize for d in src.dtypes)
                check_decode_budget(name, src.width, src.height, 3 if count == 13 else min(count, 4),
                                    itemsize, mode)
                if count > 4 and count != 13:
                    raise ImageError(
                        f"'{name}' has {count} bands. Only 1 (grey), 3 (RGB), 4 (RGB + alpha) or 13 "
                        "(all Sentinel-2 bands B01–B12 in order, of which B04, B03, B02 are used) "
                        "bands can be read; save it as an RGB image (bands B04, B03, B02)."
                    )
                indexes = list(_S2_BANDS_RGB) if count == 13 else list(range(1, count + 1))
                arr = src.read(indexes)  # (C, H, W)
                interp = src.colorinterp
                cmap = src.colormap(1) if interp[0] == ColorInterp.palette else None
    except ImageError:
        raise
    except (RasterioError, OSError, ValueError) as exc:
        detail = str(exc).split(": ", 1)[-1]  # drop GDAL's in-memory file name
        raise ImageError(f"'{name}' could not be decoded as an image: it looks damaged ({detail}).") from exc
    bands = np.transpose(arr, (1, 2, 0))  # band-row-col -> row-col-band
    if cmap is not None:
        lut = np.zeros((max(256, max(cmap) + 1), 3), dtype=np.uint8)
        for k, rgba in cmap.items():
            lut[k] = rgba[:3]
        notes.append("Palette image: converted to RGB through its colour table.")
        return DecodedImage(lut[bands[..., 0]], notes, fmt)
    if count == 13:
        notes.append("13-band image taken as Sentinel-2 B01–B12 in order: bands 4, 3, 2 used as RGB.")
    else:
        alpha_last = bool(interp) and interp[-1] == ColorInterp.alpha
        bands = _bands_to_rgb(bands, alpha_last or count == 2, notes)
    rgb = _to_uint8(np.ascontiguousarray(bands), notes)
    return DecodedImage(rgb, notes, fmt)


def check_decode_budget(name: str, width: int, height: int, bands: int, itemsize: int,
                        mode: str | None = None) -> None:
    """Refuse, from the header alone, an image whose decoding would cost too much.

    Args:
        name: file name, for the message.
        width, height: pixels; bands: bands that would be read; itemsize: bytes per sample.
        mode: :data:`TILES` also refuses an image that would give more than :data:`MAX_TILES` tiles
            (before decoding, not after); None: the decode limits only.

    Raises:
        ImageError: over :data:`MAX_PIXELS`, :data:`MAX_DECODE_BYTES` or (tiles) :data:`MAX_TILES`.
    """
    if width * height > MAX_PIXELS:
        raise ImageError(_too_big(name, width, height))
    need = width * height * bands * itemsize
    if need > MAX_DECODE_BYTES:
        raise ImageError(
            f"'{name}' would decode to {need / 1e6:,.0f} MB ({width} × {height} px × {bands} band"
            f"{'s' if bands != 1 else ''} × {itemsize} byte{'s' if itemsize != 1 else ''}); the limit is "
            f"{MAX_DECODE_BYTES / 1e6:.0f} MB. Crop it, or save it as 8-bit RGB.")
    tiles = (width // TILE_SIZE) * (height // TILE_SIZE)
    if mode == TILES and tiles > MAX_TILES:
        raise ImageError(
            f"The image ({width} × {height} px) would give {tiles:,} tiles; at most {MAX_TILES:,} are "
            "classified at once. Crop it, or choose 'Resize to one 64×64 tile'.")


def _too_big(name: str, width: int, height: int) -> str:
    return (
        f"'{name}' is {width} × {height} px ({width * height / 1e6:.0f} MP); images above "
        f"{MAX_PIXELS / 1e6:.0f} MP are refused. Crop it to the area you need."
    )


def _is_16bit_png(data: bytes) -> bool:
    """A PNG with 16 bits per sample (Pillow would silently keep only the top 8 of RGB)."""
    return data[:8] == _PNG_MAGIC and len(data) > 24 and data[24] == 16


def _pillow_to_rgb(im: Image.Image, notes: list[str]) -> np.ndarray:
    """Convert a decoded Pillow image of any mode to an (H, W, 3) array (not yet uint8-scaled)."""
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im)
    if mode in ("RGBA", "RGBa", "RGBX"):
        if mode != "RGBX":
            notes.append("Transparency (alpha channel) dropped: colours are used as stored.")
        return np.asarray(im)[..., :3]
    if mode in ("P", "PA"):
        notes.append("Palette image: converted to RGB through its colour table.")
        has_alpha = mode == "PA" or "transparency" in im.info
        if has_alpha:
            notes.append("Transparency (alpha channel) dropped: colours are used as stored.")
        return np.asarray(im.convert("RGBA"))[..., :3] if has_alpha else np.asarray(im.convert("RGB"))
    if mode in ("1", "L", "LA", "La"):
        if mode in ("LA", "La"):
            notes.append("Transparency (alpha channel) dropped.")
        grey = np.asarray(im.convert("L"))
        notes.append(_grey_note())
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode.startswith("I") or mode == "F":
        values = np.asarray(im)
        notes.append(_grey_note())
        return np.repeat(values[..., None], 3, axis=-1)
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{mode} colours converted to RGB.")
        return np.asarray(im.convert("RGB"))
    raise ImageError(f"Image mode {mode} is not supported; save the image as 8-bit RGB.")


#: Bytes per sample of Pillow image modes (default 1).
_PILLOW_ITEMSIZE = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}


def _decode_with_pillow(data: bytes, name: str, mode: str | None = None) -> DecodedImage:
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format or ""
                if fmt not in _PILLOW_FORMATS:
                    raise ImageError(f"'{name}' is a {fmt or 'unknown'} image; upload JPEG, PNG or TIFF.")
                check_decode_budget(name, im.width, im.height, len(im.getbands()),
                                    _PILLOW_ITEMSIZE.get(im.mode, 1), mode)
                if getattr(im, "n_frames", 1) > 1:
                    notes.append("Animated or multi-page image: only the first frame is used.")
                im.load()
                frame: Image.Image = ImageOps.exif_transpose(im) if fmt in ("JPEG", "MPO") else im
                arr = _pillow_to_rgb(frame, notes)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"'{name}' is larger than {MAX_PIXELS / 1e6:.0f} MP, the limit for one image (a guard "
            "against decompression bombs). Crop it to the area you need."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"'{name}' is not an image Pillow can read; upload JPEG, PNG or TIFF.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"'{name}' could not be decoded: the file looks damaged or truncated ({exc})."
        ) from exc
    rgb = _to_uint8(np.ascontiguousarray(arr), notes)
    return DecodedImage(rgb, notes, "JPEG" if fmt == "MPO" else fmt)


def decode_image(data: bytes, name: str = "image", mode: str | None = None) -> DecodedImage:
    """Decode uploaded bytes to uint8 (H, W, 3) RGB on the EuroSAT scale.

    JPEG and PNG are read with Pillow; TIFF/GeoTIFF (any band count, 8/16-bit, float) and 16-bit
    PNG with GDAL (rasterio). RGBA loses its alpha, greyscale is copied to three channels,
    palette images go through their colour table, 13-band images give bands 4/3/2, and values
    above 8 bits are scaled as Sentinel-2 digital numbers; each such step adds a note.

    Args:
        data: the file's bytes.
        name: file name, for messages.

    Raises:
        ImageError: empty, not an image, damaged, over :data:`MAX_PIXELS` / :data:`MAX_DECODE_BYTES`
            (or, with ``mode`` :data:`TILES`, :data:`MAX_TILES`) — checked before decoding — or an
            unusable band layout.
    """
    if not data:
        raise ImageError(f"'{name}' is empty (0 bytes).")
    if data[:4] in _TIFF_MAGIC or _is_16bit_png(data):
        decoded = _decode_with_rasterio(data, name, mode)
    else:
        decoded = _decode_with_pillow(data, name, mode)
    h, w = decoded.rgb.shape[:2]
    if h == 0 or w == 0:
        raise ImageError(f"'{name}' has no pixels.")
    return decoded


# --------------------------------------------------------------------------- model input


def resize_to_tile(rgb: np.ndarray) -> np.ndarray:
    """Resize a uint8 (H, W, 3) image to one (64, 64, 3) tile (Lanczos; the aspect ratio is not kept)."""
    im = Image.fromarray(rgb)
    return np.asarray(im.resize((TILE_SIZE, TILE_SIZE), Image.Resampling.LANCZOS, reducing_gap=3.0))


def cut_tiles(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut whole 64×64 tiles from the top-left corner, row by row.

    Returns:
        tiles uint8 (rows·cols, 64, 64, 3) and the grid (rows, cols); leftover right/bottom pixels
        that do not fill a tile are not used.
    """
    rows, cols = rgb.shape[0] // TILE_SIZE, rgb.shape[1] // TILE_SIZE
    cropped = rgb[: rows * TILE_SIZE, : cols * TILE_SIZE]
    tiles = cropped.reshape(rows, TILE_SIZE, cols, TILE_SIZE, 3).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(tiles.reshape(-1, TILE_SIZE, TILE_SIZE, 3)), (rows, cols)


def prepare(rgb: np.ndarray, mode: str = DEFAULT_MODE) -> PreparedImage:
    """Make model input from a decoded image.

    A 64×64 image goes in as is. A larger one is cut into 64×64 tiles (``mode="tiles"``,
    which keeps the 10 m ground pixels the model knows) or resized to one tile
    (``mode="resize"``). An image smaller than a tile in either direction is resized.

    Raises:
        ImageError: tile mode would give more than :data:`MAX_TILES` tiles.
        ValueError: unknown ``mode``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    h, w = rgb.shape[:2]
    if (h, w) == (TILE_SIZE, TILE_SIZE):
        return PreparedImage(rgb[None].copy(), (1, 1), "as is")
    if h < TILE_SIZE or w < TILE_SIZE:
        note = (
            f"The image ({w} × {h} px) is smaller than a 64 × 64 tile: it was enlarged to 64 × 64, "
            "so its pixels no longer cover 10 m each; expect a poorer result."
        )
        return PreparedImage(resize_to_tile(rgb)[None], (1, 1), "resized", [note])
    if mode == RESIZE:
        notes = [
            f"Resized from {w} × {h} px to 64 × 64: right only if the image covers about 640 m × 640 m "
            "(Sentinel-2 10 m pixels)."
        ]
        if max(w, h) / min(w, h) > 1.1:
            notes.append(f"The aspect ratio ({w / h:.2f}) was squeezed to square.")
        return PreparedImage(resize_to_tile(rgb)[None], (1, 1), "resized", notes)
    rows, cols = h // TILE_SIZE, w // TILE_SIZE
    if rows * cols > MAX_TILES:
        raise ImageError(
            f"The image ({w} × {h} px) would give {rows * cols:,} tiles; at most {MAX_TILES:,} are "
            "classified at once. Crop it, or choose 'Resize to one 64×64 tile'."
        )
    tiles, grid = cut_tiles(rgb)
    notes = [f"Cut into {rows} × {cols} = {rows * cols} tiles of 64 × 64 px."]
    if h % TILE_SIZE or w % TILE_SIZE:
        notes.append(
            f"The last {w % TILE_SIZE} px on the right and {h % TILE_SIZE} px at the bottom do not fill "
            "a whole tile and are not classified."
        )
    return PreparedImage(tiles, grid, "tiles", notes)


def for_display(rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE, min_side: int = 256) -> np.ndarray:
    """A copy of the image for the page: shrunk to ``max_side`` or enlarged (nearest) to ``min_side``."""
    h, w = rgb.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
    if max(h, w) < min_side:
        k = int(np.ceil(min_side / max(h, w)))
        return np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)
    return rgb


def tiles_quality(tiles: np.ndarray, grid: tuple[int, int]) -> TileQuality:
    """Cloud / shadow / no-data shares of an upload's tiles, the tests run over the whole tiled image.

    Args:
        tiles: uint8 (rows·cols, 64, 64, 3), row-major.
        grid: (rows, cols).
    """
    rows, cols = grid
    t = tiles.shape[1]
    mosaic = tiles.reshape(rows, cols, t, t, 3).swapaxes(1, 2).reshape(rows * t, cols * t, 3)
    return tile_quality(rgb_masks(mosaic, np.all(mosaic == 0, axis=-1)), t)


def analyse_upload(
    data: bytes, name: str, mode: str, classifier: Classifier, key: Any = None,
    thresholds: Thresholds | None = None,
) -> UploadResult:
    """Decode, prepare, mask and classify one upload (``thresholds``: the land / cloud / uncertain rule).

    Args:
        data: the file's bytes.
        name: file name.
        mode: :data:`TILES` or :data:`RESIZE` for images larger than 64×64.
        classifier: has ``predict(tiles) -> (N, 10)`` probabilities (LiteRT in the app).
        key: stored in the result to recognise the same upload later.

    Raises:
        ImageError: the image cannot be used (see :func:`decode_image` and :func:`prepare`).
    """
    decoded = decode_image(data, name, mode)
    prepared = prepare(decoded.rgb, mode)
    probs = np.asarray(classifier.predict(prepared.tiles), dtype=np.float32)
    if probs.shape != (len(prepared.tiles), NUM_CLASSES):
        raise ImageError(f"The model returned {probs.shape} for {len(prepared.tiles)} tiles.")
    return UploadResult(
        key=key,
        name=name,
        display=for_display(decoded.rgb),
        tiles=prepared.tiles,
        grid=prepared.grid,
        how=prepared.how,
        probs=probs,
        notes=decoded.notes,
        steps=prepared.notes,
        quality=tiles_quality(prepared.tiles, prepared.grid),
        thresholds=thresholds or Thresholds(),
    )


def analyse_uploads(items: Sequence[tuple[Any, str, bytes]], mode: str, classifier: Classifier,
                    thresholds: Thresholds | None = None,
                    max_tiles: int = MAX_SESSION_TILES) -> list[UploadResult | UploadFailure]:
    """:func:`analyse_upload` for several ``(key, name, bytes)`` uploads, one result or failure each.

    Their tiles add up to at most ``max_tiles`` (what a session keeps in memory): once that is
    reached, the remaining files are not decoded and get a failure saying so.
    """
    out: list[UploadResult | UploadFailure] = []
    total = 0
    for key, name, data in items:
        if total >= max_tiles:
            out.append(UploadFailure(key, name, f"'{name}' was not classified: this upload already holds "
                                     f"{total:,} tiles and a session keeps at most {max_tiles:,}. Upload "
                                     "fewer or smaller images at a time."))
            continue
        try:
            res = analyse_upload(data, name, mode, classifier, key=key, thresholds=thresholds)
        except ImageError as exc:
            out.append(UploadFailure(key, name, str(exc)))
            continue
        if total + res.n_tiles > max_tiles:
            out.append(UploadFailure(key, name, f"'{name}' gives {res.n_tiles:,} tiles: with the "
                                     f"{total:,} already here that is over the {max_tiles:,} a session "
                                     "keeps. Upload it on its own, or crop it."))
            continue
        total += res.n_tiles
        out.append(res)
    return out


def tile_options(probs: np.ndarray, names: Sequence[str]) -> list[tuple[int, str]]:
    """Tiles as (index, label) sorted by confidence, most confident first.

    Args:
        probs: float (N, 10) probabilities.
        names: where each tile is, e.g. "row 2, col 3" (N,).

    Returns:
        ``[(i, "row 2, col 3 — Forest 97%"), ...]``.
    """
    probs = np.asarray(probs)
    conf = probs.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    return [(int(i), f"{names[i]} — {CLASS_NAMES[int(probs[i].argmax())]} {conf[i]:.0%}") for i in order]


def tile_choices(result: Any) -> dict[str, int]:
    """``{label: tile index}`` for a selectbox, most confident first.

    Args:
        result: any object with ``probs`` (N, 10) and ``tile_label(i) -> str`` (an
            :class:`UploadResult`, or the Map page's area result).
    """
    names = [result.tile_label(i) for i in range(len(result.probs))]
    return {label: i for i, label in tile_options(result.probs, names)}
