"""How right is a class map, and how much of each class is really there: a labelled stratified sample.

Areas counted off a map are biased by its errors (every Forest cell called Pasture moves area from one
class to the other). Good practice (Olofsson et al. 2014, "Good practices for estimating area and
assessing accuracy of land change", RSE 148) is to label a stratified random sample of the map's cells
from the imagery, then estimate accuracy and the *error-adjusted* area of each class with confidence
intervals. The strata here are the map's classes plus its *Uncertain* cells (their composition is
estimated like any stratum's; Stehman 2014, "Estimating area and map accuracy for stratified random
sampling when the strata are different from the map classes"). Cloud / no-data cells are outside the
assessed area: nothing can be labelled under a cloud.

Estimators (stratum ``h``: area weight ``W_h``, ``n_h`` labelled cells; ``s²`` sample variances with
``n_h - 1``): a class's area share ``Σ W_h ȳ_h``, variance ``Σ W_h² s²_h / n_h``; user's accuracy of a
class = the share of its stratum's cells labelled that class; the overall accuracy of the classified land is
the same stratified mean over the land strata (their weights re-normalised: the land area is known);
producer's accuracy is a ratio estimator (Stehman 2014, eq. 28). Every variance carries the
finite-population factor ``1 - n_h / N_h`` (a stratum labelled in full is known exactly; small maps have
such strata). Intervals are normal, 95 % by default. Cells labelled "can't tell" are left out of their
stratum (the weights stay the map's): this assumes they are like the stratum's other cells (missing at
random within the stratum); :meth:`Sample.top_up` draws replacements.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from eurosat.classes import CLASS_NAMES, NUM_CLASSES
from eurosat.decision import CLOUD_CODE, UNCERTAIN_CODE, UNCERTAIN_LABEL
from eurosat.errors import EuroSATError

#: Reference label of a sampled cell that could not be labelled (left out of the estimates).
CANT_TELL = "Can't tell"
#: Integer reference of an unlabelled cell, and of one labelled "can't tell".
UNLABELLED, UNUSABLE = -1, -2
#: Columns of a sample table (CSV): one row per sampled cell.
SAMPLE_COLUMNS = ("sample_id", "cell_index", "cell_row", "cell_col", "lon", "lat", "reference")


class AccuracyError(EuroSATError):
    """A sample or a labels file that cannot be used (the message says what to fix)."""


@dataclass(frozen=True)
class Strata:
    """The assessed area split by the map: one stratum per class present, plus Uncertain.

    Attributes:
        codes: int (K,) stratum codes: a class index 0-9, or 254 (Uncertain).
        cells: int (K,) cells in each stratum.
        areas_km2: float (K,) area of each stratum.
    """

    codes: np.ndarray
    cells: np.ndarray
    areas_km2: np.ndarray

    @property
    def total_km2(self) -> float:
        """Area assessed (every cell that is not cloud / no data)."""
        return float(self.areas_km2.sum())

    @property
    def weights(self) -> np.ndarray:
        """Area share of each stratum, ``W_h``: float (K,), summing to 1."""
        return self.areas_km2 / self.areas_km2.sum()

    @property
    def labels(self) -> list[str]:
        """Stratum names: the class name, or "Uncertain"."""
        return [stratum_label(int(c)) for c in self.codes]

    def position(self, code: int) -> int:
        """Index of stratum ``code`` in :attr:`codes`."""
        hits = np.flatnonzero(self.codes == code)
        if not len(hits):
            raise AccuracyError(f"The map has no '{stratum_label(code)}' cells.")
        return int(hits[0])


def stratum_label(code: int) -> str:
    """The name of a stratum code."""
    return CLASS_NAMES[code] if 0 <= code < NUM_CLASSES else UNCERTAIN_LABEL


def strata_of(codes: np.ndarray, areas_km2: np.ndarray) -> Strata:
    """Strata of a class map.

    Args:
        codes: int (N,) map codes per cell (0-9 class, 253 cloud / no data, 254 uncertain).
        areas_km2: float (N,) area of each cell.

    Raises:
        AccuracyError: no cell outside cloud / no data.
    """
    codes = np.asarray(codes)
    kept = [c for c in (*range(NUM_CLASSES), UNCERTAIN_CODE) if np.any(codes == c)]
    if not kept:
        raise AccuracyError("Every cell of this map is cloud / no data: there is nothing to assess.")
    return Strata(codes=np.array(kept), cells=np.array([int(np.sum(codes == c)) for c in kept]),
                  areas_km2=np.array([float(np.sum(areas_km2[codes == c])) for c in kept]))


def allocate(strata: Strata, total: int, minimum: int) -> np.ndarray:
    """Sample size per stratum: proportional to area, at least ``minimum`` (Olofsson et al. 2014, §5.1.2).

    A stratum never gets more than its cells; the rest of ``total`` goes to the others by area.

    Args:
        strata: the map's strata.
        total: cells to label in all.
        minimum: cells per stratum at least (rare classes need enough for their user's accuracy).

    Returns:
        int (K,) cells to sample in each stratum.

    Raises:
        AccuracyError: ``total`` or ``minimum`` below 2 (a variance needs two cells per stratum).
    """
    if minimum < 2 or total < 2:
        raise AccuracyError("Label at least 2 cells per stratum: a standard error needs two.")
    floor = np.minimum(strata.cells, minimum)
    sizes = floor.copy()
    left = max(0, total - int(floor.sum()))
    room = strata.cells - sizes
    while left > 0 and room.sum() > 0:
        share = np.where(room > 0, strata.weights, 0.0)
        if share.sum() <= 0:  # only zero-area strata have room: share by cells instead
            share = np.where(room > 0, 1.0, 0.0)
        add = np.minimum(room, np.floor(left * share / share.sum()).astype(int))
        if add.sum() == 0:  # the rounding left a few: one each to the largest strata with room
            add = np.zeros_like(sizes)
            for h in np.argsort(-share)[:left]:
                add[h] = 1 if room[h] > 0 else 0
        sizes += add
        room -= add
        left -= int(add.sum())
    return sizes


def draw_sample(codes: np.ndarray, strata: Strata, sizes: np.ndarray, seed: int = 0) -> np.ndarray:
    """A stratified random sample of cells, in random order (so a labeller meets the strata mixed).

    Args:
        codes: int (N,) map codes per cell (as given to :func:`strata_of`).
        strata: the map's strata; sizes: int (K,) cells per stratum (:func:`allocate`).
        seed: random seed (the same seed draws the same cells).

    Returns:
        int (n,) cell indexes into ``codes``.
    """
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(codes == c), size=int(k), replace=False)
              for c, k in zip(strata.codes, sizes, strict=True) if k > 0]
    cells = np.concatenate(picked) if picked else np.zeros(0, int)
    return rng.permutation(cells)


@dataclass(frozen=True)
class Estimate:
    """An estimate with its standard error (NaN when a stratum has fewer than two labelled cells)."""

    value: float
    se: float

    def half_width(self, level: float = 0.95) -> float:
        """Half-width of the normal confidence interval at ``level``."""
        return float(norm.ppf(0.5 + level / 2) * self.se)


@dataclass(frozen=True)
class Assessment:
    """Accuracy of a map and error-adjusted class areas from a labelled stratified sample.

    Attributes:
        strata: the map's strata.
        counts: int (K, 10) labelled cells per stratum (rows) and reference class (columns).
        unusable: int (K,) cells labelled "can't tell" per stratum.
        overall: accuracy of the classified land (the Uncertain stratum left out).
        users: user's accuracy per class stratum (class index → estimate): of the cells mapped as
            the class, the share that is it.
        producers: producer's accuracy per class (class index → estimate, where the class is
            estimated present): of the class's true area, the share mapped as it.
        area_km2: error-adjusted area per reference class (10 estimates).
        mapped_km2: float (10,) area mapped as each class.
    """

    strata: Strata
    counts: np.ndarray
    unusable: np.ndarray
    overall: Estimate
    users: dict[int, Estimate]
    producers: dict[int, Estimate]
    area_km2: list[Estimate]
    mapped_km2: np.ndarray

    @property
    def n_labelled(self) -> int:
        """Cells with a reference class."""
        return int(self.counts.sum())

    @property
    def proportions(self) -> np.ndarray:
        """Estimated area proportions ``p_hj = W_h n_hj / n_h``: float (K, 10) (Olofsson's Table 9)."""
        n = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.strata.weights[:, None] * self.counts, n,
                         out=np.zeros(self.counts.shape), where=n > 0)

    def users_interval(self, code: int, level: float = 0.95) -> tuple[float, float]:
        """Wilson score interval of a class's user's accuracy (its stratum's share labelled as it).

        Unlike the normal interval it does not shrink to zero width when every labelled cell agrees
        (10 of 10 gives 72–100 %, not 100 ± 0); exact when the stratum was labelled in full.
        """
        from scipy.stats import binomtest

        h = self.strata.position(code)
        n, k = int(self.counts[h].sum()), int(self.counts[h, code])
        if n == 0:
            return float("nan"), float("nan")
        if n >= int(self.strata.cells[h]):
            return k / n, k / n
        ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        return float(ci.low), float(ci.high)

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per class: mapped and adjusted km² (± half-width), user's accuracy (± half-width and
        its Wilson interval) and producer's accuracy (± half-width, and that interval clipped to 0–1:
        the normal interval of a ratio estimated from few cells can reach past 100 %)."""
        rows = []
        for j, name in enumerate(CLASS_NAMES):
            area, user, prod = self.area_km2[j], self.users.get(j), self.producers.get(j)
            if self.mapped_km2[j] == 0 and self.counts[:, j].sum() == 0:  # neither mapped nor seen
                continue
            low, high = self.users_interval(j, level) if user else (np.nan, np.nan)
            rows.append({"class": name, "mapped_km2": self.mapped_km2[j], "adjusted_km2": area.value,
                         "adjusted_pm_km2": area.half_width(level),
                         "users_accuracy": user.value if user else np.nan,
                         "users_pm": user.half_width(level) if user else np.nan,
                         "users_low": low, "users_high": high,
                         "producers_accuracy": prod.value if prod else np.nan,
                         "producers_pm": (pm := prod.half_width(level) if prod else np.nan),
                         "producers_low": max(0.0, prod.value - pm) if prod else np.nan,
                         "producers_high": min(1.0, prod.value + pm) if prod else np.nan})
        return pd.DataFrame(rows)


def _term(n: int, size: int) -> float | None:
    """The finite-population factor ``(1 - n_h / N_h) / n_h`` of a stratum's variance term; None while
    ``s²_h`` cannot be estimated (one cell of several labelled). A stratum labelled in full adds 0."""
    if n >= size:
        return 0.0
    return None if n < 2 else (1 - n / size) / n


def _var(g: np.ndarray) -> float:
    return float(g.var(ddof=1)) if len(g) > 1 else 0.0


def _stratified_total(weights: np.ndarray, sizes: np.ndarray, groups: list[np.ndarray]) -> Estimate:
    """``Σ W_h ȳ_h`` and its standard error, from the indicator values of each stratum's sample.

    ``sizes`` are the strata's cells ``N_h`` (finite-population correction: small maps are often
    labelled in full in their rare strata). NaN while a stratum has no labelled cell (nothing is known of
    that share of the area); the standard error NaN while one has a single labelled cell of several.
    """
    if any(len(g) == 0 for g in groups):
        return Estimate(float("nan"), float("nan"))
    value = sum(w * float(g.mean()) for w, g in zip(weights, groups, strict=True))
    terms = [_term(len(g), int(n)) for g, n in zip(groups, sizes, strict=True)]
    if any(t is None for t in terms):
        return Estimate(float(value), float("nan"))
    var = sum(w * w * _var(g) * (t or 0.0) for w, g, t in zip(weights, groups, terms, strict=True))
    return Estimate(float(value), float(np.sqrt(var)))


def _ratio(weights: np.ndarray, sizes: np.ndarray, ys: list[np.ndarray], xs: list[np.ndarray]
           ) -> Estimate | None:
    """``R = Ŷ / X̂`` of two stratified totals and its standard error (Stehman 2014, eq. 28, with the
    finite-population correction); NaN while a stratum has no labelled cell, None when the class is
    estimated absent (``X̂ = 0``)."""
    if any(len(g) == 0 for g in ys):
        return Estimate(float("nan"), float("nan"))
    y = sum(w * float(g.mean()) for w, g in zip(weights, ys, strict=True))
    x = sum(w * float(g.mean()) for w, g in zip(weights, xs, strict=True))
    if x <= 0:
        return None
    r = y / x
    terms = [_term(len(g), int(n)) for g, n in zip(ys, sizes, strict=True)]
    if any(t is None for t in terms):
        return Estimate(float(r), float("nan"))
    var = 0.0
    for w, gy, gx, t in zip(weights, ys, xs, terms, strict=True):
        cov = float(np.cov(gy, gx, ddof=1)[0, 1]) if len(gy) > 1 else 0.0
        var += w * w * (_var(gy) + r * r * _var(gx) - 2 * r * cov) * (t or 0.0)
    return Estimate(float(r), float(np.sqrt(max(var, 0.0)) / x))


def assess(strata: Strata, sample_strata: np.ndarray, reference: np.ndarray) -> Assessment:
    """Accuracy and error-adjusted areas from a labelled sample.

    Args:
        strata: the map's strata (:func:`strata_of`).
        sample_strata: int (n,) stratum code of each sampled cell.
        reference: int (n,) reference class 0-9 of each sampled cell; :data:`UNUSABLE` for "can't tell"
            and :data:`UNLABELLED` for not labelled yet (both left out).

    Returns:
        The assessment. Every estimate that weighs all strata (areas, overall and producer's accuracy)
        is NaN while a stratum has no labelled cell; standard errors are NaN while one has a single
        labelled cell of several.

    Raises:
        AccuracyError: no sampled cell has a reference class.
    """
    sample_strata, reference = np.asarray(sample_strata), np.asarray(reference)
    usable = reference >= 0
    if not usable.any():
        raise AccuracyError("No sampled cell is labelled yet: label some cells first.")
    k = len(strata.codes)
    counts = np.zeros((k, NUM_CLASSES), int)
    unusable = np.zeros(k, int)
    refs: list[np.ndarray] = []
    for h, code in enumerate(strata.codes):
        in_h = sample_strata == code
        ref_h = reference[in_h & usable]
        refs.append(ref_h)
        counts[h] = np.bincount(ref_h, minlength=NUM_CLASSES)
        unusable[h] = int(np.sum(in_h & (reference == UNUSABLE)))
    w = strata.weights
    N = strata.cells  # noqa: N806 (the N_h of the formulas)
    area = [_stratified_total(w, N, [(r == j).astype(float) for r in refs]) for j in range(NUM_CLASSES)]
    area_km2 = [Estimate(a.value * strata.total_km2, a.se * strata.total_km2) for a in area]
    users = {}
    for h, code in enumerate(strata.codes):
        n = len(refs[h])
        if code < NUM_CLASSES and n:
            u = float(np.mean(refs[h] == code))
            t = _term(n, int(N[h]))  # s² = n/(n-1)·u(1-u): Olofsson's u(1-u)/(n-1), corrected
            se = float("nan") if t is None else float(np.sqrt(_var(refs[h] == code) * t))
            users[int(code)] = Estimate(u, se)
    producers = {}
    for j in range(NUM_CLASSES):
        est = _ratio(w, N, [((r == j) & (code == j)).astype(float) for r, code in zip(refs, strata.codes,
                                                                                    strict=True)],
                     [(r == j).astype(float) for r in refs])
        if est is not None:
            producers[j] = est
    land = strata.codes < NUM_CLASSES
    if land.any():
        wl = w[land] / w[land].sum()
        overall = _stratified_total(wl, N[land], [(refs[h] == strata.codes[h]).astype(float)
                                         for h in np.flatnonzero(land)])
    else:
        overall = Estimate(float("nan"), float("nan"))
    mapped = np.zeros(NUM_CLASSES)
    for code, a in zip(strata.codes, strata.areas_km2, strict=True):
        if code < NUM_CLASSES:
            mapped[code] = a
    return Assessment(strata=strata, counts=counts, unusable=unusable, overall=overall, users=users,
                      producers=producers, area_km2=area_km2, mapped_km2=mapped)


@dataclass
class Sample:
    """A drawn sample and its labels so far (the one mutable piece: :attr:`reference`).

    Attributes:
        strata: the strata of the map it was drawn from (the areas the estimates weigh by).
        cells: int (n,) sampled cell indexes of that map, in labelling order.
        sample_strata: int (n,) stratum code of each.
        reference: int (n,) reference class, :data:`UNLABELLED` or :data:`UNUSABLE`.
        seed: the draw's seed.
    """

    strata: Strata
    cells: np.ndarray
    sample_strata: np.ndarray
    reference: np.ndarray
    seed: int = 0

    @classmethod
    def draw(cls, codes: np.ndarray, areas_km2: np.ndarray, total: int, minimum: int, seed: int = 0
             ) -> Sample:
        """Strata, allocation and a random draw in one (see :func:`allocate`, :func:`draw_sample`)."""
        strata = strata_of(codes, areas_km2)
        cells = draw_sample(codes, strata, allocate(strata, total, minimum), seed)
        return cls(strata, cells, np.asarray(codes)[cells], np.full(len(cells), UNLABELLED), seed)

    @property
    def n(self) -> int:
        """Cells in the sample."""
        return len(self.cells)

    @property
    def n_done(self) -> int:
        """Cells labelled (a class or "can't tell")."""
        return int(np.sum(self.reference != UNLABELLED))

    def next_unlabelled(self, start: int = 0) -> int | None:
        """Position of the first unlabelled cell at or after ``start`` (wrapping), or None."""
        order = np.roll(np.arange(self.n), -start) if self.n else np.zeros(0, int)
        todo = order[self.reference[order] == UNLABELLED]
        return int(todo[0]) if len(todo) else None

    def short_strata(self) -> list[str]:
        """Strata with fewer than two cells labelled with a class (no standard error yet; a one-cell
        stratum needs its one), as "name k/n" (k labelled of the n drawn)."""
        usable = self.reference >= 0
        out = []
        for c in self.strata.codes:
            drawn = self.sample_strata == c
            k = int(np.sum(drawn & usable))
            size = int(self.strata.cells[self.strata.position(int(c))])
            if k < min(2, size):
                out.append(f"{stratum_label(int(c))} {k}/{int(drawn.sum())}")
        return out

    def top_up(self, codes: np.ndarray, minimum: int = 2, seed: int | None = None) -> int:
        """Draw more cells (at random, from the unsampled ones) into strata with fewer than ``minimum``
        labelled with a class once every cell drawn there has been looked at — e.g. after "can't tell".

        Adding random cells to a stratum keeps it a simple random sample. Returns the cells added.
        """
        rng = np.random.default_rng(self.seed + 1 + self.n if seed is None else seed)
        usable, added = self.reference >= 0, []
        for c in self.strata.codes:
            drawn = self.sample_strata == c
            need = minimum - int(np.sum(drawn & usable)) - int(np.sum(drawn & (self.reference == UNLABELLED)))
            pool = np.setdiff1d(np.flatnonzero(np.asarray(codes) == c), self.cells)
            if need > 0 and len(pool):
                added.append(rng.choice(pool, size=min(need, len(pool)), replace=False))
        if not added:
            return 0
        new = np.concatenate(added)
        self.cells = np.concatenate([self.cells, new])
        self.sample_strata = np.concatenate([self.sample_strata, np.asarray(codes)[new]])
        self.reference = np.concatenate([self.reference, np.full(len(new), UNLABELLED)])
        return len(new)

    def assessment(self) -> Assessment:
        """:func:`assess` of the labels so far."""
        return assess(self.strata, self.sample_strata, self.reference)


def reference_code(text: object) -> int:
    """The reference code of a label: a class name (any case), "can't tell", or blank (unlabelled).

    Raises:
        AccuracyError: anything else.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or str(text).strip() == "":
        return UNLABELLED
    s = str(text).strip().lower().replace("\u2019", "'")
    names = {n.lower(): i for i, n in enumerate(CLASS_NAMES)}
    if s in names:
        return names[s]
    if s in (CANT_TELL.lower(), "cant tell", "can't tell", "unknown", "?"):
        return UNUSABLE
    raise AccuracyError(f"'{text}' is not a reference label: use one of {', '.join(CLASS_NAMES)}, "
                        f"'{CANT_TELL}', or leave it blank.")


def reference_text(code: int) -> str:
    """The label written for a reference code (blank when unlabelled)."""
    return CLASS_NAMES[code] if code >= 0 else (CANT_TELL if code == UNUSABLE else "")


def sample_table(cells: np.ndarray, rows: np.ndarray, cols: np.ndarray, centers_lonlat: np.ndarray,
                 reference: np.ndarray | None = None) -> pd.DataFrame:
    """The sample as a table (the CSV a labeller fills in): one row per sampled cell, without the map's
    class (labelling stays blind; the labels are matched back by ``cell_index``).

    Args:
        cells: int (n,) sampled cell indexes; rows, cols: (N,) per cell of the map;
        centers_lonlat: float (N, 2) cell centres; reference: int (n,) labels so far (default none).
    """
    ref = np.full(len(cells), UNLABELLED) if reference is None else reference
    return pd.DataFrame({
        "sample_id": np.arange(1, len(cells) + 1), "cell_index": cells,
        "cell_row": rows[cells], "cell_col": cols[cells],
        "lon": centers_lonlat[cells, 0].round(6), "lat": centers_lonlat[cells, 1].round(6),
        "reference": [reference_text(int(r)) for r in ref],
    })[list(SAMPLE_COLUMNS)]


#: Largest labels file read (bytes): a sample CSV of 2,000 cells is about 150 kB.
MAX_LABELS_BYTES = 5_000_000


def _labels_table(data: bytes) -> pd.DataFrame:
    """The CSV as a table: UTF-8 (with or without BOM), UTF-16 or Windows-1252; comma, semicolon or tab."""
    encodings = ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            continue
        try:
            table = pd.read_csv(io.StringIO(text), sep=None, engine="python", dtype=str)
        except (ValueError, csv.Error, pd.errors.ParserError) as exc:
            raise AccuracyError(f"The labels file is not a CSV table ({exc}).") from exc
        table.columns = [str(c).strip().lower() for c in table.columns]
        return table
    raise AccuracyError("The labels file is not text (UTF-8, UTF-16 or Windows-1252): save it as CSV.")


def read_labels(data: bytes, cells: np.ndarray) -> np.ndarray:
    """Reference codes from a filled-in sample CSV, for the sample ``cells`` (in their order).

    Rows are matched by ``cell_index``; cells missing from the file, and blank labels, stay unlabelled.
    Excel's ways of saving are read too (semicolons, BOM, Windows-1252, ’ for ').

    Raises:
        AccuracyError: too large or not a CSV, no ``cell_index`` / ``reference`` column, a cell index that is
            not a whole number or not in this sample, one cell given two different labels, or a label that
            is not a class.
    """
    if len(data) > MAX_LABELS_BYTES:
        raise AccuracyError(f"The labels file is {len(data) / 1e6:.1f} MB; a sample CSV is far smaller "
                            f"(at most {MAX_LABELS_BYTES / 1e6:.0f} MB is read).")
    table = _labels_table(data)
    missing = {"cell_index", "reference"} - set(table.columns)
    if missing:
        raise AccuracyError(f"The labels file has no {' or '.join(sorted(missing))} column: download the "
                            "sample CSV, fill in its 'reference' column and upload it again.")
    position = {int(c): i for i, c in enumerate(cells)}
    out = np.full(len(cells), UNLABELLED)
    seen: dict[int, int] = {}
    for line, (cell, ref) in enumerate(zip(table["cell_index"], table["reference"], strict=True), start=2):
        text = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell).strip()
        if not text.lstrip("-").isdigit() or int(text) not in position:
            raise AccuracyError(f"Line {line}: cell {text or '(blank)'} is not in this sample (was the file "
                                "made for another map or another draw?).")
        try:
            code = reference_code(ref)
        except AccuracyError as exc:
            raise AccuracyError(f"Line {line}: {exc}") from None
        i = position[int(text)]
        if code == UNLABELLED:
            continue
        if i in seen and seen[i] != code:
            raise AccuracyError(f"Line {line}: cell {text} is labelled twice, differently "
                                f"('{reference_text(seen[i])}' and '{reference_text(code)}').")
        seen[i] = code
        out[i] = code
    return out


def outside_assessment(codes: np.ndarray) -> int:
    """Cells left out of the assessed area (cloud / no data)."""
    return int(np.sum(np.asarray(codes) == CLOUD_CODE))
