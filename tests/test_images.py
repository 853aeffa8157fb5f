"""Uploads: decoding every kind of image (and refusing bad ones), tiling, resizing, classifying."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from eurosat import images
from eurosat.classes import NUM_CLASSES
from eurosat.errors import ImageError
from eurosat.images import (
    MAX_PIXELS,
    RESIZE,
    TILES,
    analyse_upload,
    cut_tiles,
    decode_image,
    for_display,
    prepare,
    scale_dn,
    tile_options,
)

# --------------------------------------------------------------------------- helpers


def pil_bytes(arr_or_im, fmt: str = "PNG", **kw) -> bytes:
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    bio = io.BytesIO()
    im.save(bio, fmt, **kw)
    return bio.getvalue()


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_16bit_rgb(arr: np.ndarray) -> bytes:
    """A 16-bit-per-sample RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    body = _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming huge dimensions (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _chunk(b"IEND", b"")
    )


def tiff_bytes(bands: np.ndarray, **profile) -> bytes:
    """A (C, H, W) array written as a GeoTIFF in memory with rasterio."""
    from affine import Affine
    from rasterio.io import MemoryFile

    c, h, w = bands.shape
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            width=w,
            height=h,
            count=c,
            dtype=bands.dtype.name,
            crs="EPSG:32633",
            transform=Affine(10, 0, 330000, 0, -10, 5822040),
            **profile,
        ) as dst:
            dst.write(bands)
        return mem.read()


@pytest.fixture
def rgb(rng) -> np.ndarray:
    return rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)


def joined(notes: list[str]) -> str:
    return " ".join(notes).lower()


# --------------------------------------------------------------------------- good inputs


def test_png_rgb_is_exact(rgb):
    out = decode_image(pil_bytes(rgb), "a.png")
    assert out.rgb.dtype == np.uint8 and out.rgb.shape == (64, 64, 3)
    np.testing.assert_array_equal(out.rgb, rgb)
    assert out.notes == [] and out.source_format == "PNG"


def test_jpeg_rgb_decodes_close(rgb):
    smooth = np.full((64, 64, 3), (90, 120, 60), np.uint8)
    out = decode_image(pil_bytes(smooth, "JPEG", quality=95), "a.jpg")
    assert out.source_format == "JPEG"
    assert np.abs(out.rgb.astype(int) - smooth).max() <= 3


def test_rgba_drops_alpha_and_says_so(rgb):
    rgba = np.dstack([rgb, np.full((64, 64), 7, np.uint8)])
    out = decode_image(pil_bytes(rgba), "a.png")
    np.testing.assert_array_equal(out.rgb, rgb)
    assert "alpha" in joined(out.notes)


def test_greyscale_is_replicated_with_a_warning(rng):
    grey = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    out = decode_image(pil_bytes(grey), "g.png")
    for ch in range(3):
        np.testing.assert_array_equal(out.rgb[..., ch], grey)
    assert "greyscale" in joined(out.notes) and "colour" in joined(out.notes)


def test_palette_goes_through_its_colour_table(rng):
    idx = rng.integers(0, 4, (64, 64), dtype=np.uint8)
    palette = [10, 20, 30, 200, 100, 50, 0, 255, 0, 1, 2, 3]
    im = Image.frombytes("P", (64, 64), idx.tobytes())
    im.putpalette(palette + [0] * (768 - len(palette)))
    out = decode_image(pil_bytes(im), "p.png")
    expected = np.array(palette, np.uint8).reshape(4, 3)[idx]
    np.testing.assert_array_equal(out.rgb, expected)
    assert "palette" in joined(out.notes)


def test_palette_with_transparency(rng):
    im = Image.frombytes("P", (64, 64), rng.integers(0, 4, (64, 64), dtype=np.uint8).tobytes())
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    out = decode_image(pil_bytes(im, transparency=0), "p.png")
    assert out.rgb.shape == (64, 64, 3)
    assert "palette" in joined(out.notes) and "alpha" in joined(out.notes)


def test_16bit_greyscale_is_scaled_as_sentinel2_dn():
    dn = np.full((64, 64), 1100, np.uint16)
    dn[0, 0] = 2750
    dn[0, 1] = 9000  # saturates
    out = decode_image(pil_bytes(dn), "g16.png")
    assert out.rgb[5, 5].tolist() == [102, 102, 102]  # 1100 * 255 / 2750 = 102
    assert out.rgb[0, 0].tolist() == [255, 255, 255]
    assert out.rgb[0, 1].tolist() == [255, 255, 255]
    text = joined(out.notes)
    assert "2750" in text and "greyscale" in text


def test_16bit_rgb_png_is_not_truncated_to_8_bits(rng):
    dn = rng.integers(0, 2751, (64, 64, 3)).astype(np.uint16)
    out = decode_image(png_16bit_rgb(dn), "rgb16.png")
    np.testing.assert_array_equal(out.rgb, scale_dn(dn))
    assert "2750" in joined(out.notes)


def test_16bit_rgb_tiff_is_scaled(rng):
    dn = rng.integers(0, 2751, (3, 64, 64)).astype(np.uint16)
    out = decode_image(tiff_bytes(dn), "s2.tif")
    np.testing.assert_array_equal(out.rgb, scale_dn(np.transpose(dn, (1, 2, 0))))
    assert out.source_format == "TIFF"


def test_saturating_16bit_hints_at_the_2022_offset():
    dn = np.full((3, 64, 64), 4000, np.uint16)
    out = decode_image(tiff_bytes(dn), "s2.tif")
    assert "1000 dn offset" in joined(out.notes)


def test_8bit_geotiff_is_used_as_is(rgb):
    out = decode_image(tiff_bytes(np.transpose(rgb, (2, 0, 1)).copy(), compress="deflate"), "scene.tif")
    np.testing.assert_array_equal(out.rgb, rgb)
    assert out.notes == []


def test_13_band_tiff_takes_bands_4_3_2():
    bands = np.stack([np.full((64, 64), 100 * b, np.uint16) for b in range(1, 14)])
    out = decode_image(tiff_bytes(bands), "s2_all.tif")
    assert out.rgb[0, 0].tolist() == scale_dn(np.array([400, 300, 200])).tolist()
    assert "4, 3, 2" in joined(out.notes)


def test_rgba_tiff_drops_alpha(rgb):
    bands = np.concatenate([np.transpose(rgb, (2, 0, 1)), np.full((1, 64, 64), 255, np.uint8)])
    out = decode_image(tiff_bytes(bands, photometric="RGB", alpha="YES"), "rgba.tif")
    np.testing.assert_array_equal(out.rgb, rgb)
    assert "alpha" in joined(out.notes)


def test_float_reflectance_tiff():
    refl = np.full((3, 64, 64), 0.11, np.float32)  # 0.11 * 10000 = 1100 DN -> 102
    out = decode_image(tiff_bytes(refl), "refl.tif")
    assert out.rgb[0, 0].tolist() == [102, 102, 102]
    assert "reflectance" in joined(out.notes)


def test_cmyk_jpeg_is_converted(rng):
    im = Image.new("CMYK", (64, 64), (0, 0, 0, 0))
    out = decode_image(pil_bytes(im, "JPEG"), "cmyk.jpg")
    assert out.rgb.shape == (64, 64, 3) and out.rgb.mean() > 240  # no ink = white
    assert "cmyk" in joined(out.notes)


# --------------------------------------------------------------------------- bad inputs


def test_empty_file():
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"", "empty.png")


def test_not_an_image():
    with pytest.raises(ImageError, match="JPEG, PNG or TIFF"):
        decode_image(b"hello, this is a text file\n" * 10, "notes.txt")


def test_other_image_format_is_refused(rgb):
    with pytest.raises(ImageError, match="GIF"):
        decode_image(pil_bytes(rgb, "GIF"), "a.gif")


def test_truncated_jpeg(rgb):
    data = pil_bytes(rgb, "JPEG", quality=90)
    with pytest.raises(ImageError, match="damaged"):
        decode_image(data[: len(data) // 2], "cut.jpg")


def test_corrupt_png_body(rgb):
    data = bytearray(pil_bytes(rgb))
    data[60:200] = b"\xff" * 140
    with pytest.raises(ImageError, match="damaged"):
        decode_image(bytes(data), "bad.png")


def test_corrupt_tiff():
    with pytest.raises(ImageError, match="damaged"):
        decode_image(b"II*\x00" + b"\x07" * 100, "bad.tif")


@pytest.mark.parametrize("mp", [60, 300])  # Pillow warns above the limit and raises above twice it
def test_decompression_bomb_png_is_refused(mp):
    side = int(np.sqrt(mp * 1e6))
    with pytest.raises(ImageError, match="50 MP"):
        decode_image(png_header_only(side, side), "bomb.png")


def test_pixel_limit_is_exact():
    w = MAX_PIXELS // 5000
    with pytest.raises(ImageError, match="50 MP"):
        decode_image(png_header_only(w + 1, 5000), "big.png")  # one column over the limit
    # exactly at the limit the header is accepted; the fake body then fails to decode (not a size error)
    with pytest.raises(ImageError, match="damaged"):
        decode_image(png_header_only(w, 5000), "ok_size.png")


def test_decompression_bomb_tiff_is_refused():
    from affine import Affine
    from rasterio.io import MemoryFile

    with MemoryFile() as mem:  # 8000 x 8000 sparse tiled file: a few hundred bytes
        with mem.open(
            driver="GTiff",
            width=8000,
            height=8000,
            count=3,
            dtype="uint8",
            tiled=True,
            sparse_ok=True,
            compress="deflate",
            crs="EPSG:32633",
            transform=Affine(10, 0, 330000, 0, -10, 5822040),
        ):
            pass
        data = mem.read()
    assert len(data) < 1_000_000
    with pytest.raises(ImageError, match="50 MP"):
        decode_image(data, "bomb.tif")


def test_five_band_tiff_is_refused_clearly():
    with pytest.raises(ImageError, match="5 bands.*13"):
        decode_image(tiff_bytes(np.zeros((5, 64, 64), np.uint16)), "five.tif")


# --------------------------------------------------------------------------- model input


def test_64_goes_in_as_is(rgb):
    for mode in (TILES, RESIZE):
        p = prepare(rgb, mode)
        assert p.how == "as is" and p.grid == (1, 1) and p.notes == []
        np.testing.assert_array_equal(p.tiles[0], rgb)


def test_tiles_are_cut_row_major_with_a_leftover_note(rng):
    img = rng.integers(0, 256, (130, 200, 3), dtype=np.uint8)
    p = prepare(img, TILES)
    assert p.how == "tiles" and p.grid == (2, 3) and p.tiles.shape == (6, 64, 64, 3)
    np.testing.assert_array_equal(p.tiles[4], img[64:128, 64:128])  # row 1, col 1
    np.testing.assert_array_equal(p.tiles[2], img[0:64, 128:192])  # row 0, col 2
    assert any("not classified" in n for n in p.notes)


def test_exact_multiple_has_no_leftover_note(rng):
    p = prepare(rng.integers(0, 256, (128, 64, 3), dtype=np.uint8), TILES)
    assert p.grid == (2, 1) and not any("not classified" in n for n in p.notes)


def test_resize_mode_gives_one_tile_and_says_so(rng):
    img = rng.integers(0, 256, (100, 300, 3), dtype=np.uint8)
    p = prepare(img, RESIZE)
    assert p.how == "resized" and p.tiles.shape == (1, 64, 64, 3)
    assert "640 m" in " ".join(p.notes) and "aspect" in joined(p.notes)


def test_resize_keeps_a_flat_colour():
    p = prepare(np.full((300, 300, 3), (10, 200, 90), np.uint8), RESIZE)
    assert np.abs(p.tiles[0].astype(int) - [10, 200, 90]).max() <= 1


def test_small_image_is_enlarged_in_either_mode(rng):
    for mode in (TILES, RESIZE):
        p = prepare(rng.integers(0, 256, (40, 90, 3), dtype=np.uint8), mode)
        assert p.tiles.shape == (1, 64, 64, 3) and "smaller" in joined(p.notes)


def test_too_many_tiles_is_refused(monkeypatch, rng):
    monkeypatch.setattr(images, "MAX_TILES", 5)
    with pytest.raises(ImageError, match="at most 5 "):
        prepare(np.zeros((192, 128, 3), np.uint8), TILES)  # 6 tiles


def test_unknown_mode():
    with pytest.raises(ValueError):
        prepare(np.zeros((64, 64, 3), np.uint8), "stretch")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 63), st.integers(0, 63))
def test_cut_tiles_reassembles_to_the_cropped_image(rows, cols, extra_h, extra_w):
    h, w = rows * 64 + extra_h, cols * 64 + extra_w
    img = np.random.default_rng(rows * 7 + cols).integers(0, 256, (h, w, 3), dtype=np.uint8)
    tiles, grid = cut_tiles(img)
    assert grid == (rows, cols)
    back = tiles.reshape(rows, cols, 64, 64, 3).transpose(0, 2, 1, 3, 4).reshape(rows * 64, cols * 64, 3)
    np.testing.assert_array_equal(back, img[: rows * 64, : cols * 64])


def test_for_display_bounds(rng):
    assert for_display(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).shape == (256, 256, 3)
    assert max(for_display(np.zeros((3000, 1500, 3), np.uint8)).shape[:2]) == 1024
    mid = np.zeros((500, 400, 3), np.uint8)
    assert for_display(mid) is mid


class FakeClassifier:
    """Probabilities from each tile's mean red value: class = red // 26 (deterministic)."""

    def __init__(self):
        self.calls = 0

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        self.calls += 1
        cls = np.minimum(tiles[..., 0].mean(axis=(1, 2)) // 26, NUM_CLASSES - 1).astype(int)
        probs = np.full((len(tiles), NUM_CLASSES), 0.02, np.float32)
        probs[np.arange(len(tiles)), cls] = 0.82
        return probs


def test_analyse_upload_tiles(rng):
    img = np.zeros((128, 192, 3), np.uint8)
    for r in range(2):
        for c in range(3):
            img[r * 64 : (r + 1) * 64, c * 64 : (c + 1) * 64, 0] = 26 * (r * 3 + c) + 5
    res = analyse_upload(pil_bytes(img), "area.png", TILES, FakeClassifier(), key="k")
    assert res.key == "k" and res.n_tiles == 6 and res.grid == (2, 3)
    np.testing.assert_array_equal(res.label_grid, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_allclose(res.mean_probs.sum(), 1.0, rtol=1e-5)
    assert res.tile_label(4) == "row 2, col 2"
    assert res.display.shape == (256, 384, 3)  # enlarged for display


def test_analyse_upload_propagates_image_errors():
    clf = FakeClassifier()
    with pytest.raises(ImageError):
        analyse_upload(b"", "x.png", TILES, clf)
    assert clf.calls == 0


def test_tile_options_sorted_by_confidence():
    probs = np.array([[0.5, 0.5] + [0] * 8, [0.05, 0.95] + [0] * 8, [0.7, 0.3] + [0] * 8])
    opts = tile_options(probs, ["a", "b", "c"])
    assert [i for i, _ in opts] == [1, 2, 0]
    assert opts[0][1] == "b — Forest 95%"
