"""Hostile inputs: every place that takes a user's file gets zero-byte, truncated, random, wrong-type,
malformed, oversized and decompression-bomb files. Each must end in one clear message — ``st.error`` on
a page (``at.exception`` empty), ``error: ...`` on stderr and exit status 2 from a command line (no
traceback) — and the app or command must still work on a good file right after.

Entry points: the Upload page, the Explain page's upload, the Map page's "Open another GeoTIFF",
``python -m eurosat.classify SCENE``, ``python -m eurosat.evaluate MODEL --data --split``,
``python -m eurosat.train --data``, and the model folder (``EUROSAT_MODELS_DIR``) every page reads.
(``python -m eurosat.scaleout`` with a broken scene: ``tests/test_scaleout.py``.)
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from PIL import Image
from streamlit.testing.v1 import AppTest

from eurosat import classify as classify_cli
from eurosat import config, evaluate
from eurosat.ui.state import MAP_DRAWING, MAP_RESULT, MAP_WIDGET, UPLOAD_RESULTS
from tests.conftest import write_fake_eurosat
from tests.rasters import scene_like, write_tif

APP = str(config.REPO_ROOT / "streamlit_app.py")
RNG = np.random.default_rng(7)
GOOD_TILE = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)

# ---------------------------------------------------------------- hostile payloads, made in code


def png(arr: np.ndarray) -> bytes:
    bio = io.BytesIO()
    Image.fromarray(arr).save(bio, "PNG")
    return bio.getvalue()


def jpeg(arr: np.ndarray) -> bytes:
    bio = io.BytesIO()
    Image.fromarray(arr).save(bio, "JPEG", quality=90)
    return bio.getvalue()


def other_format(arr: np.ndarray, fmt: str) -> bytes:
    bio = io.BytesIO()
    Image.fromarray(arr).save(bio, fmt)
    return bio.getvalue()


def png_declaring(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` RGB pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is patched to declare ``width`` × ``height`` pixels."""
    data = bytearray(jpeg(GOOD_TILE))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tif_bytes(tmp: Path, data: np.ndarray, **kwargs) -> bytes:
    return write_tif(tmp / f"t{RNG.integers(1 << 30)}.tif", data, **kwargs).read_bytes()


def sparse_bomb(path: Path, side: int = 40_000) -> Path:
    """A georeferenced GeoTIFF declaring ``side``² × 3 pixels in a few hundred kB (sparse blocks)."""
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 3, "dtype": "uint8",
               "crs": "EPSG:32633", "transform": rasterio.Affine(10, 0, 330000, 0, -10, 5822040),
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
               "SPARSE_OK": "TRUE"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((3, 256, 256), 90, np.uint8), window=rasterio.windows.Window(0, 0, 256, 256))
    return path


def truncated_geotiff(tmp: Path, blocks: bool) -> bytes:
    """A georeferenced 768×512 noise GeoTIFF (cloud-optimised: directory first) cut short: within
    its header (it cannot be opened), or (``blocks``) at 60 %: it opens, but pixel blocks are cut."""
    plain = write_tif(tmp / "plain.tif", RNG.integers(0, 256, (3, 512, 768), dtype=np.uint8))
    rasterio.shutil.copy(plain, tmp / "cog.tif", driver="COG", BLOCKSIZE=256)
    data = (tmp / "cog.tif").read_bytes()
    return data[: int(len(data) * 0.6)] if blocks else data[:200]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def image_uploads(tmp) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, expected words of the message) for the image uploads."""
    return [
        ("empty.png", b"", "empty (0 bytes)"),
        ("truncated.png", png(GOOD_TILE)[:300], "damaged or truncated"),
        ("truncated.jpg", jpeg(GOOD_TILE)[:400], "damaged or truncated"),
        ("truncated.tif", truncated_geotiff(tmp, blocks=True), "damaged"),
        ("random.jpg", RNG.bytes(4096), "not an image"),
        ("notes.png", b"These are my notes, not an image.\n" * 30, "not an image"),
        ("bomb.png", png_declaring(100_000, 100_000), "decompression bombs"),
        ("bomb16.png", png_declaring(100_000, 100_000, 16), "are refused"),
        ("bomb.jpg", jpeg_declaring(65_000, 65_000), "decompression bombs"),
        ("bomb.tif", sparse_bomb(tmp / "bomb.tif").read_bytes(), "are refused"),
        ("oversized.tif", tif_bytes(tmp, np.zeros((3, 7200, 7200), np.uint8)), "are refused"),
        ("animation.png", other_format(GOOD_TILE, "GIF"), "is a GIF image"),
        ("bitmap.jpg", other_format(GOOD_TILE, "BMP"), "is a BMP image"),
        ("five_bands.tif", tif_bytes(tmp, np.zeros((5, 64, 64), np.uint8)), "has 5 bands"),
        ("complex.tif", tif_bytes(tmp, np.zeros((1, 64, 64), np.complex64)), "not supported"),
    ]


# ---------------------------------------------------------------- pages (AppTest)


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_upload_page_refuses_each_hostile_file_and_keeps_working(image_uploads, runs_dir):  # noqa: ARG001
    at = _open("pages/upload.py")
    at.file_uploader(key="upload_files").set_value(
        [(name, data, "application/octet-stream") for name, data, _ in image_uploads]).run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == [name for name, _, _ in image_uploads]
    errors = [e.value for e in at.error]
    assert len(errors) == len(image_uploads)
    for (name, _, words), message in zip(image_uploads, errors, strict=True):
        assert words in message and "Traceback" not in message, (name, message)
        # each message names its file (the pixel-type one is shown under the file's name instead)
        assert f"'{name}'" in message or name == "complex.tif", (name, message)
    # the same session still classifies a good file: a plain TIFF without georeferencing, 2 × 2 tiles
    at.file_uploader(key="upload_files").set_value([("plain.tif", _plain_tiff(), "image/tiff")]).run()
    assert not at.exception and not at.error
    results = at.session_state[UPLOAD_RESULTS]
    assert len(results) == 1 and results[0].n_tiles == 4 and results[0].probs.shape == (4, 10)


def _plain_tiff() -> bytes:
    bio = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(bio, "TIFF")
    return bio.getvalue()


def test_upload_page_tile_limit_is_a_message(runs_dir):  # noqa: ARG001
    at = _open("pages/upload.py")
    big = np.zeros((4160, 4160, 3), np.uint8)  # 17 MP, under the pixel limit, but 65 × 65 = 4,225 tiles
    bio = io.BytesIO()
    Image.fromarray(big).save(bio, "PNG", compress_level=1)
    at.file_uploader(key="upload_files").set_value([("big.png", bio.getvalue(), "image/png")]).run()
    assert not at.exception
    assert len(at.error) == 1 and "4,225 tiles" in at.error[0].value and "Resize" in at.error[0].value


def test_explain_page_refuses_each_hostile_file(image_uploads, runs_dir):  # noqa: ARG001
    at = _open("pages/explain.py")
    for name, data, words in image_uploads:
        at.file_uploader(key="explain_file").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, (name, at.exception)
        assert len(at.error) == 1 and words in at.error[0].value, (name, [e.value for e in at.error])


@pytest.mark.slow  # the good upload loads TensorFlow for Grad-CAM
def test_explain_page_works_after_a_hostile_file(runs_dir):  # noqa: ARG001
    at = _open("pages/explain.py")
    at.file_uploader(key="explain_file").set_value(("bomb.png", png_declaring(90_000, 90_000), "image/png"))
    at.run()
    assert len(at.error) == 1
    at.file_uploader(key="explain_file").set_value(("tile.png", png(GOOD_TILE), "image/png")).run()
    assert not at.exception and not at.error
    assert [c for img in at.image for c in img.captions][0] == "Input: tile.png"


@pytest.fixture(scope="module")
def geotiff_uploads(tmp) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, expected words) for the Map page's GeoTIFF upload."""
    return [
        ("empty.tif", b"", "cannot be read as a GeoTIFF"),
        ("random.tif", RNG.bytes(8192), "cannot be read as a GeoTIFF"),
        ("notes.tif", b"Not a raster, just text.\n" * 40, "cannot be read as a GeoTIFF"),
        ("truncated.tif", truncated_geotiff(tmp, blocks=False), "cannot be read as a GeoTIFF"),
        ("photo.tif", png(GOOD_TILE), "no georeferencing"),  # a PNG renamed: readable, but not placed
        ("no_crs.tif", tif_bytes(tmp, np.zeros((3, 128, 128), np.uint8), crs=None, transform=None),
         "no georeferencing"),
        ("one_band.tif", tif_bytes(tmp, np.zeros((1, 128, 128), np.uint8)), "has 1 band"),
        ("float.tif", tif_bytes(tmp, np.zeros((3, 128, 128), np.float32)), "float32"),
        ("int32.tif", tif_bytes(tmp, np.zeros((3, 128, 128), np.int32)), "int32"),
    ]


def _map_upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=f"{MAP_WIDGET}upload").set_value((name, data, "image/tiff")).run()
    assert not at.exception, (name, at.exception)
    return at


def _rectangle(w: float, s: float, e: float, n: float) -> dict:
    ring = [[w, s], [w, n], [e, n], [e, s], [w, s]]
    return {"last_active_drawing": {"type": "Feature", "properties": {},
                                    "geometry": {"type": "Polygon", "coordinates": [ring]}}}


@pytest.fixture
def map_data_dir(tmp_path, monkeypatch, runs_dir):  # noqa: ARG001
    d = tmp_path / "data"
    d.mkdir()
    scene_like(d / "sentinel2_scene.tif")
    monkeypatch.setenv("EUROSAT_DATA_DIR", str(d))
    return d


def test_map_page_refuses_each_hostile_geotiff_and_keeps_working(geotiff_uploads, map_data_dir, tmp_path):
    at = _open("pages/map.py")
    for name, data, words in geotiff_uploads:
        _map_upload(at, name, data)
        assert len(at.error) == 1 and words in at.error[0].value, (name, [e.value for e in at.error])
        assert "Traceback" not in at.error[0].value
    # a good GeoTIFF in the same session: a rectangle drawn on it is classified
    good = scene_like(tmp_path / "mine.tif").read_bytes()
    _map_upload(at, "mine.tif", good)
    assert not at.error
    at.session_state[MAP_DRAWING] = _rectangle(12.55, 52.47, 12.65, 52.51)
    at.run()
    assert not at.exception and not at.error
    result = at.session_state[MAP_RESULT]
    assert result.scene_name == "mine.tif" and result.n_tiles > 0


def test_map_page_bomb_geotiff_opens_bounded(map_data_dir, tmp_path):  # noqa: ARG001
    """A 12,000² px GeoTIFF in a few kB opens (the picture is read decimated) but cannot be classified
    whole on the page: the button is disabled and points to the command line."""
    at = _open("pages/map.py")
    _map_upload(at, "bomb.tif", sparse_bomb(tmp_path / "bomb.tif", side=12_000).read_bytes())
    assert not at.error
    whole = next(b for b in at.button if b.label.startswith("Classify the whole scene"))
    assert whole.disabled and "139,876 windows" in whole.label  # at the default 32 px cells


def test_map_page_truncated_cloud_optimised_geotiff(map_data_dir, tmp):  # noqa: ARG001
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/map.py").run()
    at.file_uploader(key=f"{MAP_WIDGET}upload").set_value(
        ("cut.tif", truncated_geotiff(tmp, blocks=True), "image/tiff")).run()
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    assert len(at.error) == 1 and "damaged" in at.error[0].value


# ---------------------------------------------------------------- the model folder (EUROSAT_MODELS_DIR)


def _broken_models(tmp_path: Path, how: str) -> Path:
    d = tmp_path / f"models_{how}"
    d.mkdir()
    shipped = config.models_dir()
    if how == "empty":
        return d
    for name in (config.TFLITE_DYNAMIC, config.TFLITE_INT8, config.KERAS_FILE):
        if how == "zero_bytes":
            (d / name).write_bytes(b"")
        elif how == "truncated":
            data = (shipped / name).read_bytes()
            (d / name).write_bytes(data[: len(data) // 2])
        elif how == "random":
            (d / name).write_bytes(RNG.bytes(50_000))
    (d / config.METRICS_FILE).write_text({"zero_bytes": "", "truncated": '{"test": {"tflite_dyn',
                                          "random": "[1, 2, 3]"}[how])
    return d


def test_broken_model_folder_is_a_message_on_every_page(tmp_path, monkeypatch, map_data_dir):  # noqa: ARG001
    """One session: the model folder empty, then zero-byte, truncated and random files (and metrics.json
    empty, truncated, not an object): Home, the sidebar, Upload and Map say so; then it is repaired."""
    at = AppTest.from_file(APP, default_timeout=60)
    for i, how in enumerate(["empty", "zero_bytes", "truncated", "random"]):
        monkeypatch.setenv("EUROSAT_MODELS_DIR", str(_broken_models(tmp_path, how)))
        if i:
            at.switch_page("pages/home.py")
        at.run()
        assert not at.exception, (how, at.exception)
        assert any("No metrics found" in w.value for w in at.warning), how
        at.switch_page("pages/upload.py").run()
        upload = [(f"tile_{how}.png", png(GOOD_TILE), "image/png")]
        at.file_uploader(key="upload_files").set_value(upload).run()
        assert not at.exception, (how, at.exception)
        words = "not found" if how == "empty" else "not a valid TFLite model"
        assert any(words in e.value for e in at.error), (how, [e.value for e in at.error])
    at.switch_page("pages/map.py").run()
    at.session_state[MAP_DRAWING] = _rectangle(12.55, 52.47, 12.65, 52.51)
    at.run()
    assert not at.exception, at.exception
    assert any("not a valid TFLite model" in e.value for e in at.error)
    # the models are repaired: the same session works again
    monkeypatch.setenv("EUROSAT_MODELS_DIR", str(config.REPO_ROOT / "models"))
    at.switch_page("pages/upload.py").run()
    at.file_uploader(key="upload_files").set_value([("tile2.png", png(GOOD_TILE[::-1]), "image/png")]).run()
    assert not at.exception and not at.error
    assert at.session_state[UPLOAD_RESULTS][0].probs.shape == (1, 10)


# ---------------------------------------------------------------- command lines


def _one_clear_line(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and len(last) < 600, last
    return last


@pytest.fixture(scope="module")
def scene_files(tmp, geotiff_uploads) -> dict[str, tuple[Path, str]]:
    """The Map page's hostile GeoTIFFs as files, and one whose pixel blocks are cut: (path, words)."""
    (tmp / "cli").mkdir(exist_ok=True)
    files = {}
    cases = [*geotiff_uploads, ("cut_cog.tif", truncated_geotiff(tmp, blocks=True), "damaged or truncated")]
    for name, data, words in cases:
        files[name] = (tmp / "cli" / name, words)
        files[name][0].write_bytes(data)
    return files


def test_classify_cli_hostile_paths(scene_files, tmp_path, runs_dir, capsys):  # noqa: ARG001
    out = tmp_path / "classes.tif"
    cases = {**scene_files, "missing.tif": (tmp_path / "missing.tif", "not found"),
             "a folder": (tmp_path, "not found")}
    for name, (path, words) in cases.items():
        last = _one_clear_line(capsys, classify_cli.main([str(path), "--out", str(out), "--quiet"]))
        assert words in last, (name, last)
        assert not out.exists(), name
    # an output that cannot be written
    good = scene_like(tmp_path / "good.tif")
    last = _one_clear_line(capsys, classify_cli.main([str(good), "--out", str(tmp_path), "--quiet"]))
    assert str(tmp_path.name) in last
    # and the command still works on a good scene
    assert classify_cli.main([str(good), "--out", str(out), "--quiet"]) == 0 and out.is_file()


@pytest.mark.slow
def test_classify_cli_process_prints_no_traceback(scene_files, tmp_path, runs_dir):  # noqa: ARG001
    cmd = [sys.executable, "-m", "eurosat.classify", str(scene_files["cut_cog.tif"][0]), "--out",
           str(tmp_path / "c.tif"), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=config.REPO_ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: 'cut_cog.tif' could not be read")


@pytest.fixture(scope="module")
def eval_data(tmp) -> tuple[Path, Path]:
    """A tiny EuroSAT-like zip and a split listing its 20 images as test."""
    pool = write_fake_eurosat(tmp / "pool", per_class=2, as_zip=True)
    split = tmp / "split.csv"
    with zipfile.ZipFile(pool) as z:
        names = [n.split("/", 1)[1] for n in z.namelist()]
    split.write_text("path,class,subset\n" + "".join(f"{n},{n.split('/')[0]},test\n" for n in names))
    return pool, split


def _zip_with(tmp: Path, name: str, members: dict[str, bytes]) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w") as z:
        for member, data in members.items():
            z.writestr(member, data)
    return path


def test_evaluate_cli_hostile_models(eval_data, tmp, capsys):
    pool, split = eval_data
    shipped = config.models_dir() / config.TFLITE_DYNAMIC
    models = tmp / "models"
    models.mkdir(exist_ok=True)
    cases = {
        "missing.tflite": (None, "not found"),
        "empty.tflite": (b"", "not a valid TFLite model"),
        "truncated.tflite": (shipped.read_bytes()[:300_000], "not a valid TFLite model"),
        "random.tflite": (RNG.bytes(20_000), "not a valid TFLite model"),
        "notes.tflite": (b"just text\n" * 100, "not a valid TFLite model"),
        "model.onnx": (b"\x08\x07", "neither a .tflite nor a .keras"),
    }
    for name, (data, words) in cases.items():
        if data is not None:
            (models / name).write_bytes(data)
        code = evaluate.main([str(models / name), "--data", str(pool), "--split", str(split)])
        assert words in _one_clear_line(capsys, code), name
    assert evaluate.main([str(shipped), "--data", str(pool), "--split", str(split)]) == 0
    assert '"accuracy"' in capsys.readouterr().out


def test_evaluate_cli_hostile_data_and_split(eval_data, tmp, capsys):
    pool, split = eval_data
    shipped = str(config.models_dir() / config.TFLITE_DYNAMIC)
    member = "2750/Forest/Forest_1.jpg"
    one = tmp / "one.csv"
    one.write_text("path,class,subset\nForest/Forest_1.jpg,Forest,test\n")
    data_cases = {
        "missing.zip": (tmp / "missing.zip", "not found"),
        "empty.zip": (tmp / "empty.zip", "not a readable zip"),
        "random.zip": (tmp / "random.zip", "not a readable zip"),
        "truncated.zip": (tmp / "truncated.zip", "not a readable zip"),
        "no_images.zip": (_zip_with(tmp, "no_images.zip", {"readme.txt": b"hello"}), "No EuroSAT images"),
        "corrupt.zip": (_zip_with(tmp, "corrupt.zip", {member: b"\xff\xd8garbage"}), "cannot be decoded"),
        "bomb.zip": (_zip_with(tmp, "bomb.zip", {member: jpeg_declaring(65_000, 65_000)}),
                     "cannot be decoded"),
        "large.zip": (_zip_with(tmp, "large.zip", {member: jpeg_declaring(640, 640)}), "640×640 px"),
    }
    (tmp / "empty.zip").write_bytes(b"")
    (tmp / "random.zip").write_bytes(RNG.bytes(5000))
    (tmp / "truncated.zip").write_bytes(pool.read_bytes()[: pool.stat().st_size // 2])
    for name, (path, words) in data_cases.items():
        code = evaluate.main([shipped, "--data", str(path), "--split", str(one)])
        assert words in _one_clear_line(capsys, code), name
    bad_splits = {"binary.csv": b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "columns.csv": b"a,b\n1,2\n",
                  "class.csv": b"path,class,subset\nX/X_1.jpg,Volcano,test\n",
                  "subset.csv": b"path,class,subset\nForest/Forest_1.jpg,Forest,holdout\n"}
    for name, data in bad_splits.items():
        (tmp / name).write_bytes(data)
        code = evaluate.main([shipped, "--data", str(pool), "--split", str(tmp / name)])
        assert "not a split CSV" in _one_clear_line(capsys, code), name
    code = evaluate.main([shipped, "--data", str(pool), "--split", str(tmp)])  # a folder
    assert "not a split CSV" in _one_clear_line(capsys, code)
    assert evaluate.main([shipped, "--data", str(pool), "--split", str(split)]) == 0


@pytest.mark.slow  # loads TensorFlow
def test_evaluate_cli_hostile_keras_files(eval_data, tmp, capsys):
    pool, split = eval_data
    not_a_model = _zip_with(tmp, "z.zip", {"config.json": b"{}"}).read_bytes()
    for name, data in {"empty.keras": b"", "random.keras": RNG.bytes(10_000),
                       "not_a_model.keras": not_a_model}.items():
        (tmp / name).write_bytes(data)
        code = evaluate.main([str(tmp / name), "--data", str(pool), "--split", str(split)])
        assert "Keras model" in _one_clear_line(capsys, code), name


@pytest.mark.slow  # the trainer loads TensorFlow before reading the data
def test_train_cli_hostile_data(eval_data, tmp, tmp_path, capsys):
    from eurosat.train import main as train_main

    pool, split = eval_data
    listed = [line.split(",")[0] for line in split.read_text().splitlines()[1:]]
    corrupt = _zip_with(tmp, "train_corrupt.zip", {f"2750/{p}": b"garbage" for p in listed})
    (tmp / "train_empty.zip").write_bytes(b"")
    cases = {"missing": (tmp / "nope.zip", "not found"),
             "empty": (tmp / "train_empty.zip", "not a readable zip"),
             "folder without images": (tmp_path, "No EuroSAT images"),
             "corrupt images": (corrupt, "cannot be decoded")}
    for name, (data, words) in cases.items():
        out = tmp_path / f"run_{name.replace(' ', '_')}"
        code = train_main(["--data", str(data), "--split", str(split), "--out", str(out), "--epochs", "1"])
        assert words in _one_clear_line(capsys, code), name
        assert '"failed"' in (out / "status.json").read_text()
    shutil.rmtree(tmp_path / "run_missing", ignore_errors=True)
