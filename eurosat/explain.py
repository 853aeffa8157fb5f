"""Class-activation maps (Grad-CAM, Grad-CAM++, Score-CAM) with tf-keras-vis, as heatmap arrays.

By default the maps are taken at the model's last feature map (``stage3_block2_out`` for the light
ResNet, ``stage3_block3_out`` for its 3-blocks-per-stage variant: the 8×8×128 output of the last
residual block, after its GELU; see :func:`eurosat.architectures.last_feature_layer`) and upsampled
bilinearly to 64×64.
tf-keras-vis is always called with ``seek_penultimate_conv_layer=False``: otherwise it silently
walks back from the named layer to the last ``Conv2D`` (before BatchNorm and the residual add).

TensorFlow is imported only inside the functions that need it, so importing this module (for
:func:`overlay`) stays cheap.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from eurosat.classes import NUM_CLASSES, TILE_SIZE
from eurosat.errors import EuroSATError, ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    import keras

# Score-CAM hands Keras a list of one batch for a one-input model; Keras 3 warns, harmlessly.
warnings.filterwarnings(
    "ignore",
    message="The structure of `inputs` doesn't match",
    category=UserWarning,
    module=r"keras\.src\.models\.functional",
)

#: Method id -> name shown to users.
METHODS: dict[str, str] = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "scorecam": "Score-CAM"}
DEFAULT_METHOD = "gradcam"
#: Size of the images made for display (a 64×64 tile is enlarged 4×).
DISPLAY_SIZE = 256


def load_keras_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` model honouring the model contract (for Grad-CAM).

    Raises:
        ModelLoadError: the file is missing, is not a Keras model, or does not map
            (N, 64, 64, 3) images to (N, 10) probabilities.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(
            f"Keras model '{path}' not found. Reinstall the shipped models/ folder or promote a "
            "trained run on the Train page."
        )
    import keras

    from eurosat.model import register_custom_layers

    register_custom_layers()  # a model trained with --input-size holds an Upscale layer
    try:
        model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"'{path.name}' is not a readable Keras model: {exc}") from exc
    in_shape = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
    out_shape = tuple(model.outputs[0].shape[1:]) if len(model.outputs) == 1 else None
    if in_shape != (TILE_SIZE, TILE_SIZE, 3) or out_shape != (NUM_CLASSES,):
        raise ModelLoadError(
            f"'{path.name}' does not take (N, 64, 64, 3) tiles and return 10 class probabilities "
            f"(input {in_shape}, output {out_shape})."
        )
    return model


def _as_batch(image: np.ndarray) -> np.ndarray:
    x = np.asarray(image, dtype=np.float32)
    if x.shape != (TILE_SIZE, TILE_SIZE, 3):
        raise ValueError(f"expected one (64, 64, 3) image, got {x.shape}")
    return x[None]


class CamExplainer:
    """Class-activation maps for one Keras model; safe to cache and share between sessions.

    The model is never modified: Grad-CAM and Grad-CAM++ work on a clone whose softmax is
    replaced by a linear output (``ReplaceToLinear``, scores are logits); Score-CAM uses the
    softmax probabilities of the model itself and needs no change.

    Args:
        model: Keras model of the model contract.
        layer: name of the layer whose output is explained (None: the model's last feature map).
        cache_size: heatmaps remembered (keyed by image, class and method).

    Raises:
        ModelLoadError: the model has no such layer, or its output is not a feature map.
    """

    def __init__(self, model: keras.Model, layer: str | None = None, cache_size: int = 64):
        if layer is None:  # the last feature map, whatever the architecture (its depth varies)
            from eurosat.architectures import last_feature_layer

            try:
                layer = last_feature_layer(model)
            except EuroSATError as exc:
                raise ModelLoadError(f"The Keras model has no feature map to explain: {exc}") from exc
        try:
            out = model.get_layer(layer).output
        except ValueError as exc:
            raise ModelLoadError(
                f"The Keras model has no layer '{layer}' to explain; it was not built by "
                "eurosat.model.build_model."
            ) from exc
        if len(out.shape) != 4:
            raise ModelLoadError(f"Layer '{layer}' gives {out.shape}, not a (N, H, W, C) feature map.")
        self.model = model
        self.layer = layer
        h, w, c = (int(d) for d in out.shape[1:])
        self.feature_shape: tuple[int, int, int] = (h, w, c)
        self._visualizers: dict[str, Any] = {}
        self._cache: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _visualizer(self, method: str) -> Any:
        with self._lock:
            if method not in self._visualizers:
                from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

                if method == "gradcam":
                    from tf_keras_vis.gradcam import Gradcam

                    vis = Gradcam(self.model, model_modifier=ReplaceToLinear(), clone=True)
                elif method == "gradcam++":
                    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

                    vis = GradcamPlusPlus(self.model, model_modifier=ReplaceToLinear(), clone=True)
                else:
                    from tf_keras_vis.scorecam import Scorecam

                    vis = Scorecam(self.model)
                self._visualizers[method] = vis
            return self._visualizers[method]

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities of one uint8/float (64, 64, 3) image on the 0-255 scale: float32 (10,)."""
        return np.asarray(self.model(_as_batch(image), training=False))[0].astype(np.float32)

    def heatmap(self, image: np.ndarray, class_index: int, method: str = DEFAULT_METHOD) -> np.ndarray:
        """Where the evidence for ``class_index`` lies in ``image``.

        Args:
            image: (64, 64, 3) on the EuroSAT 0-255 scale.
            class_index: class to explain (index into ``CLASS_NAMES``).
            method: a key of :data:`METHODS`.

        Returns:
            float32 (64, 64) in [0, 1], 1 at the strongest evidence; all zeros when no place in
            the image speaks for the class (the map is rectified, so only positive evidence counts).
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        if not 0 <= int(class_index) < NUM_CLASSES:
            raise ValueError(f"class_index must be in 0..{NUM_CLASSES - 1}, got {class_index}")
        x = _as_batch(image)
        key = (hashlib.sha1(x.tobytes()).hexdigest(), int(class_index), method)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        cam = self._compute(x, int(class_index), method)
        with self._lock:
            self._cache[key] = cam
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return cam

    def _compute(self, x: np.ndarray, class_index: int, method: str) -> np.ndarray:
        from tf_keras_vis.utils.scores import CategoricalScore

        vis = self._visualizer(method)
        kwargs: dict[str, Any] = {
            "penultimate_layer": self.layer,
            "seek_penultimate_conv_layer": False,
            "normalize_cam": False,  # tf-keras-vis adds 1e-7 to the range: tiny maps never reach 1
        }
        if method == "scorecam":
            import keras

            # Score-CAM runs model.predict over one masked copy per channel: keep its progress
            # bar off stdout (Keras's logging switch is per thread).
            was_on = keras.config.is_interactive_logging_enabled()
            keras.config.disable_interactive_logging()
            try:
                cam = vis(CategoricalScore([class_index]), x, batch_size=64, **kwargs)
            finally:
                if was_on:
                    keras.config.enable_interactive_logging()
        else:
            cam = vis(CategoricalScore([class_index]), x, **kwargs)
        return normalise_map(np.asarray(cam, dtype=np.float64).reshape(TILE_SIZE, TILE_SIZE))


def normalise_map(cam: np.ndarray) -> np.ndarray:
    """Scale a rectified map to [0, 1] (min-max) as float32.

    NaN/inf become 0; a map without positive values stays all zeros; a flat positive map
    (evidence everywhere alike) becomes all ones.
    """
    cam = np.nan_to_num(np.asarray(cam, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    cam = np.maximum(cam, 0.0)
    hi, lo = float(cam.max()), float(cam.min())
    if hi <= 0.0:
        return np.zeros(cam.shape, np.float32)
    if hi - lo <= 1e-9 * hi:
        return np.ones(cam.shape, np.float32)
    return ((cam - lo) / (hi - lo)).astype(np.float32)


def gradcam(
    model: keras.Model,
    image: np.ndarray,
    class_index: int,
    method: str = DEFAULT_METHOD,
    layer: str | None = None,
) -> np.ndarray:
    """One heatmap for one image (builds a :class:`CamExplainer`; reuse one for many images).

    Args:
        model: Keras model of the model contract (not modified).
        image: (64, 64, 3) on the EuroSAT 0-255 scale.
        class_index: class to explain.
        method: "gradcam", "gradcam++" or "scorecam".
        layer: layer whose output is explained (None: the model's last feature map).

    Returns:
        float32 (64, 64) in [0, 1].
    """
    return CamExplainer(model, layer).heatmap(image, class_index, method)


# --------------------------------------------------------------------------- display

# Turbo colour map (Google, 2019), polynomial approximation by its author: dark blue -> red.
_TURBO_R = (0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943)
_TURBO_G = (0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604)
_TURBO_B = (0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973)


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """Heatmap in [0, 1] (H, W) -> uint8 (H, W, 3), Turbo colour map: 0 near-black, blue, ..., 1 red."""
    x = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, 1.0)
    powers = np.stack([x**k for k in range(6)], axis=-1)
    rgb = np.stack([powers @ np.array(c) for c in (_TURBO_R, _TURBO_G, _TURBO_B)], axis=-1)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def colorbar(width: int = DISPLAY_SIZE, height: int = 12) -> np.ndarray:
    """The colour scale of :func:`colorize` as a uint8 (height, width, 3) strip, 0 on the left."""
    return colorize(np.tile(np.linspace(0.0, 1.0, width), (height, 1)))


def enlarge(image: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """A uint8 (H, W, 3) image enlarged to (size, size, 3) with nearest-neighbour (pixels stay sharp)."""
    im = Image.fromarray(np.asarray(image, dtype=np.uint8))
    return np.asarray(im.resize((size, size), Image.Resampling.NEAREST))


def heatmap_image(heatmap: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """The heatmap alone, coloured and enlarged bilinearly: uint8 (size, size, 3)."""
    big = Image.fromarray(np.asarray(heatmap, dtype=np.float32))  # mode "F"
    big = big.resize((size, size), Image.Resampling.BILINEAR)
    return colorize(np.asarray(big))


def overlay(
    image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, size: int = DISPLAY_SIZE
) -> np.ndarray:
    """The coloured heatmap blended over the image, for display.

    Args:
        image: uint8 (64, 64, 3).
        heatmap: float (64, 64) in [0, 1].
        opacity: weight of the heatmap, 0 (image only) to 1 (heatmap only).
        size: output side in pixels (image enlarged nearest, heatmap bilinear).

    Returns:
        uint8 (size, size, 3).
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    base = enlarge(image, size).astype(np.float32)
    heat = heatmap_image(heatmap, size).astype(np.float32)
    return np.clip(np.rint((1.0 - opacity) * base + opacity * heat), 0, 255).astype(np.uint8)


def evidence_share(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the heatmap's total mass inside ``mask`` (bool, same shape); 0 for an empty map."""
    total = float(np.sum(heatmap))
    return float(np.sum(heatmap[mask]) / total) if total > 0 else 0.0
