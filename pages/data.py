"""Data: the EuroSAT pool and its split, sample images, colours, augmentation, your imagery against it."""

from pathlib import Path

import streamlit as st

from eurosat import config
from eurosat import data_charts as charts
from eurosat import data_explore as dx
from eurosat.classes import CLASS_NAMES
from eurosat.data import read_split
from eurosat.errors import EuroSATError
from eurosat.geo import BandSpec, inspect_scene
from eurosat.ui.frame import ensure_frame
from eurosat.ui.state import MAP_RESULT

PER_CLASS = 60  # images per class in the statistics sample (the gallery shows its first GALLERY)
GALLERY = 12
SEED = 0
KEY = "data_w_"  # prefix of this page's widget keys
AUGMENTED = "data_augmented"  # (image path, seed, views) of the last "Show augmentations"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@st.cache_data(show_spinner=False, max_entries=4)
def _split_counts(path: str, mtime: float):  # noqa: ARG001
    return dx.split_counts(read_split(Path(path)))


@st.cache_data(show_spinner="Reading a sample of EuroSAT…", max_entries=2)
def _sample(path: str, mtime: float, per_class: int, seed: int):  # noqa: ARG001
    return dx.load_sample(path, per_class, seed)


@st.cache_data(show_spinner=False, max_entries=2)
def _eurosat_stats(path: str, mtime: float, per_class: int, seed: int):
    x, y, _ = _sample(path, mtime, per_class, seed)
    return dx.channel_stats(x, y), *dx.channel_histograms(x)


@st.cache_data(show_spinner="Reading the scene…", max_entries=4)
def _scene_stats(path: str, mtime: float, bands: tuple[int, int, int], offset: bool,  # noqa: ARG001
                 zip_path: str | None, zip_mtime: float, per_class: int, seed: int):
    pixels = dx.scene_sample(path, spec=BandSpec(bands, offset))
    edges, counts = dx.channel_histograms(pixels)
    table = None
    if zip_path is not None:
        table = dx.compare_distributions(_sample(zip_path, zip_mtime, per_class, seed)[0], pixels)
    return len(pixels), edges, counts, table


def _table_height(rows: int) -> int:
    """Pixel height of a dataframe showing ``rows`` rows and its header, without an empty row."""
    return 35 * (rows + 1) + 3


ensure_frame()
st.title("Data — EuroSAT and your imagery")
st.caption(
    "What the model learnt from: the EuroSAT RGB pool (64 × 64 px Sentinel-2 tiles, 10 m pixels, on the "
    "0-255 scale of DN × 255 / 2750), how it is split, what its classes look like, how training augments "
    "them, and how the colours of your imagery compare."
)

zip_path = config.eurosat_zip()
zip_mtime = _mtime(zip_path)
sample = None
try:
    sample = _sample(str(zip_path), zip_mtime, PER_CLASS, SEED)
except EuroSATError as exc:
    st.warning(f"**No EuroSAT images to show.** {exc} The sample gallery, colour statistics and "
               "augmentation preview need them; the split and your imagery are shown below.")

# --- the pool and the split ---------------------------------------------------------------------
st.header("The pool and the split")
try:
    counts = _split_counts(str(config.SPLIT_FILE), _mtime(config.SPLIT_FILE))
except EuroSATError as exc:
    st.warning(str(exc))
else:
    total = int(counts["total"].sum())
    subsets = [c for c in counts.columns if c not in ("class", "total")]
    st.caption(
        f"The fixed split `{config.SPLIT_FILE.name}` (stratified per class, seed {config.SPLIT_SEED}): "
        + " · ".join(f"{s} {int(counts[s].sum()):,} ({counts[s].sum() / max(total, 1):.0%})" for s in subsets)
        + f". The classes are not balanced: {counts.loc[counts['total'].idxmin(), 'class']} has the fewest "
        f"images, {counts.loc[counts['total'].idxmax(), 'class']} the most."
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.split_figure(counts), key=f"{KEY}split_chart")
    right.dataframe(counts, hide_index=True, height=_table_height(len(counts)))

# --- sample gallery ---------------------------------------------------------------------------------
st.header("Sample images per class")
picked = None
if sample is None:
    st.info("The gallery needs the EuroSAT images (see the warning above).")
else:
    x, y, items = sample
    name = st.selectbox("Class", CLASS_NAMES, key=f"{KEY}class")
    shown = [i for i in range(len(items)) if items[i].label == CLASS_NAMES.index(name)][:GALLERY]
    labels = {i: Path(items[i].path).stem for i in shown}
    st.caption(f"{len(shown)} images of {name} drawn at random (seed {SEED}), enlarged 2× (each is "
               "64 × 64 px, 640 m × 640 m on the ground).")
    grid, big = st.columns([3, 1])
    cols = grid.columns(6)
    for k, i in enumerate(shown):
        cols[k % 6].image(dx.upscale(x[i], 128), caption=f"#{labels[i].rsplit('_', 1)[-1]}")
    if shown:
        by_label = {v: k for k, v in labels.items()}
        picked = by_label[big.selectbox("Enlarge", list(by_label), key=f"{KEY}enlarge_{name}")]
        r, g, b = x[picked].reshape(-1, 3).mean(axis=0)
        big.image(dx.upscale(x[picked], 256), caption=f"{labels[picked]} at 4× (256 px)")
        big.caption(f"Mean colour R {r:.0f} · G {g:.0f} · B {b:.0f} ({dx.rgb_hex((r, g, b))})")

# --- colours per class ------------------------------------------------------------------------------
st.header("Colours per class")
if sample is None:
    st.info("The colour statistics need the EuroSAT images (see the warning above).")
else:
    stats, edges, eurosat_counts = _eurosat_stats(str(zip_path), zip_mtime, PER_CLASS, SEED)
    st.caption(f"On a seeded sample of {PER_CLASS} images per class ({int(stats['images'].sum()):,} images, "
               f"{int(eurosat_counts[0].sum()):,} pixels per channel).")
    st.plotly_chart(charts.channel_histogram_figure(edges, {"EuroSAT sample": eurosat_counts},
                                                    title="EuroSAT pixel values per channel"),
                    key=f"{KEY}eurosat_hist")
    left, right = st.columns([2, 3])
    left.plotly_chart(charts.mean_colour_figure(stats), key=f"{KEY}mean_colours")
    right.dataframe(stats.round(1), hide_index=True, height=_table_height(len(stats)))

# --- augmentation preview ---------------------------------------------------------------------------
st.header("Augmentation preview")
if sample is None or picked is None:
    st.info("The augmentation preview needs the EuroSAT images (see the warning above).")
else:
    x, y, items = sample
    st.caption(
        "During training every image of a batch goes through `eurosat.data.augment_batch`: random horizontal "
        "and vertical flips and a transpose (together the 8 flips/rotations), a zoom of 0.9-1.1 and a shift "
        "of ±4 px (edges reflected), brightness ±8 % and contrast 0.85-1.15. The first four views are the "
        "original and the flips alone; the others are the trainer's own random draws."
    )
    path = items[picked].path
    if st.button(f"Show augmentations of {Path(path).stem}", key=f"{KEY}augment"):
        last = st.session_state.get(AUGMENTED)
        seed = last[1] + 1 if last and last[0] == path else SEED
        try:
            with st.spinner("Augmenting (loads TensorFlow the first time)…"):
                st.session_state[AUGMENTED] = (path, seed, dx.augmentation_views(x[picked], n=8, seed=seed))
        except ImportError as exc:
            st.error(f"The preview needs TensorFlow, which cannot be imported here ({exc}).")
    last = st.session_state.get(AUGMENTED)
    if last and last[0] == path:
        cols = st.columns(6)
        for k, (view, img) in enumerate(last[2]):
            cols[k % 6].image(dx.upscale(img, 128), caption=view)
        st.caption(f"Random seed {last[1]}; press again for other draws.")
    else:
        st.caption("Pick an image under **Enlarge** above, then press the button.")

# --- your imagery against EuroSAT -------------------------------------------------------------------
st.header("Your imagery against EuroSAT")
result = st.session_state.get(MAP_RESULT)
scene, spec, where = config.default_scene(), None, "the shipped Sentinel-2 scene"
if result is not None:
    if Path(result.scene_path).is_file():
        scene, spec, where = Path(result.scene_path), result.spec, "the scene of your last Map result"
    else:
        st.warning(f"The scene of your last Map result ('{result.scene_path}') is gone; showing the "
                   "shipped scene instead.")
try:
    if spec is None:
        spec = inspect_scene(scene).default_spec()
    n_px, s_edges, scene_counts, table = _scene_stats(
        str(scene), _mtime(scene), spec.bands, spec.offset,
        str(zip_path) if sample is not None else None, zip_mtime, PER_CLASS, SEED)
except EuroSATError as exc:
    st.warning(f"**No scene to compare.** {exc}")
else:
    st.caption(f"`{scene.name}`, {where}: {n_px:,} valid pixels (bands {spec.bands}, on the EuroSAT scale, "
               "no data left out), against the EuroSAT sample above.")
    series = {"EuroSAT sample": eurosat_counts} if sample is not None else {}
    series[scene.name] = scene_counts
    st.plotly_chart(charts.channel_histogram_figure(s_edges, series, title=f"EuroSAT against {scene.name}"),
                    key=f"{KEY}scene_hist")
    if table is None:
        st.info("The comparison table needs the EuroSAT images (see the warning above).")
    else:
        st.markdown(dx.difference_sentence(table, scene_name=f"`{scene.name}`"))
        first = ["channel", "summary", "difference"]
        order = first + [c for c in table.columns if c not in first]
        st.dataframe(table.round(1), hide_index=True, column_order=order, column_config={
            c: st.column_config.NumberColumn(c.replace("_", " ").replace("eurosat", "EuroSAT"))
            for c in table.columns if c not in ("channel", "summary")})
        st.caption("A model sees the world through the EuroSAT colours: imagery much brighter, bluer or with "
                   "a narrower range (hazy, snowy, a different season or processing level) is off its "
                   "training distribution and its answers are less reliable.")
