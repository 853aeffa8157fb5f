"""Accuracy assessment and error-adjusted areas (eurosat.accuracy) on small synthetic inputs and on the
published worked example of Olofsson et al. (2014)."""

import numpy as np
import pytest

from eurosat.accuracy import (
    CANT_TELL,
    UNLABELLED,
    UNUSABLE,
    AccuracyError,
    Sample,
    Strata,
    allocate,
    assess,
    draw_sample,
    read_labels,
    reference_code,
    sample_table,
    strata_of,
)
from eurosat.classes import CLASS_NAMES
from eurosat.decision import CLOUD_CODE, UNCERTAIN_CODE

# Olofsson et al. 2014, Table 8: sample counts (rows: map stratum, columns: reference) and the mapped
# area in 30 m pixels (0.09 ha = 0.0009 km² each); classes deforestation, forest gain, stable forest,
# stable non-forest, here stand-ins 0-3.
OLOFSSON_COUNTS = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
OLOFSSON_PIXELS = np.array([200000, 150000, 3200000, 6450000])


def _olofsson():
    strata = Strata(codes=np.arange(4), cells=OLOFSSON_PIXELS, areas_km2=OLOFSSON_PIXELS * 0.0009)
    sample_strata = np.repeat(np.arange(4), OLOFSSON_COUNTS.sum(axis=1))
    reference = np.concatenate([np.repeat(np.arange(4), row) for row in OLOFSSON_COUNTS])
    return assess(strata, sample_strata, reference)


def test_olofsson_worked_example():
    a = _olofsson()
    # Table 9: estimated area proportions, to 4 decimals
    table9 = np.array([[0.0176, 0, 0.0013, 0.0011], [0, 0.0110, 0.0016, 0.0024],
                       [0.0019, 0, 0.2967, 0.0213], [0.0040, 0.0020, 0.0179, 0.6212]])
    assert np.allclose(a.proportions[:, :4], table9, atol=5e-5)
    # §5.2.1: overall 0.95 ± 0.02; user's 0.88 ± 0.07, 0.73 ± 0.10, 0.93 ± 0.04, 0.96 ± 0.02
    assert a.overall.value == pytest.approx(0.947, abs=5e-4)
    assert a.overall.half_width() == pytest.approx(0.018, abs=1e-3)
    users = [a.users[k] for k in range(4)]
    assert [round(u.value, 2) for u in users] == [0.88, 0.73, 0.93, 0.96]
    assert [round(u.half_width(), 2) for u in users] == [0.07, 0.10, 0.04, 0.02]
    # producer's 0.75 ± 0.21 (deforestation), 0.85, 0.93, 0.96
    assert [round(a.producers[k].value, 2) for k in range(4)] == [0.75, 0.85, 0.93, 0.96]
    assert a.producers[0].half_width() == pytest.approx(0.21, abs=0.005)
    # Wilson interval of the user's accuracy: about the normal one here (n = 75, not near 0 or 1)
    low, high = a.users_interval(0)
    assert low < 0.88 < high and high - low == pytest.approx(2 * 0.074, abs=0.01)
    # §5.2.2: deforestation 21,158 ha ± 6,158 ha (mapped 18,000 ha)
    assert a.area_km2[0].value * 100 == pytest.approx(21158, abs=1)
    assert a.area_km2[0].half_width() * 100 == pytest.approx(6158, abs=2)
    assert a.mapped_km2[0] * 100 == pytest.approx(18000)
    # the adjusted areas share out exactly the area assessed
    assert sum(e.value for e in a.area_km2) == pytest.approx(a.strata.total_km2)


def _population(rng, n=20000):
    """A synthetic map: truth with four classes, a map that errs, and an Uncertain stratum."""
    truth = rng.choice(4, size=n, p=[0.5, 0.3, 0.15, 0.05])
    codes = np.where(rng.random(n) < 0.85, truth, rng.choice(4, size=n))
    codes[rng.random(n) < 0.08] = UNCERTAIN_CODE
    return truth, codes, np.full(n, 0.1024)


def test_estimates_are_unbiased_and_intervals_cover():
    rng = np.random.default_rng(3)
    truth, codes, areas = _population(rng)
    true_km2 = np.array([areas[truth == j].sum() for j in range(4)])
    mapped_km2 = np.array([areas[codes == j].sum() for j in range(4)])
    strata = strata_of(codes, areas)
    sizes = allocate(strata, 200, 20)
    estimates, covered = [], []
    for seed in range(300):
        cells = draw_sample(codes, strata, sizes, seed)
        a = assess(strata, codes[cells], truth[cells])
        est = np.array([a.area_km2[j].value for j in range(4)])
        half = np.array([a.area_km2[j].half_width() for j in range(4)])
        estimates.append(est)
        covered.append(np.abs(est - true_km2) <= half)
    estimates = np.array(estimates)
    mc_se = estimates.std(axis=0) / np.sqrt(len(estimates))
    assert np.all(np.abs(estimates.mean(axis=0) - true_km2) < 4 * mc_se)
    # the map's own count is biased (rare class 3 gains from the others' errors), the estimate is not
    assert abs(mapped_km2[3] - true_km2[3]) > 10 * mc_se[3]
    coverage = np.mean(covered, axis=0)
    assert np.all((coverage > 0.89) & (coverage < 0.99)), coverage


def test_allocate_floor_proportional_and_capped():
    strata = Strata(codes=np.array([0, 1, 2]), cells=np.array([9000, 900, 3]),
                    areas_km2=np.array([90.0, 9.0, 0.03]))
    sizes = allocate(strata, 100, 10)
    assert sizes.sum() == 100
    assert sizes[2] == 3  # all its cells, never more
    assert sizes[1] >= 10 and sizes[0] > sizes[1]
    assert allocate(strata, 5, 2).tolist() == [2, 2, 2]  # the floor wins over a small total
    assert allocate(strata, 10**6, 2).tolist() == [9000, 900, 3]  # at most every cell
    with pytest.raises(AccuracyError, match="at least 2"):
        allocate(strata, 100, 1)


def test_draw_sample_is_stratified_without_repeats_and_seeded():
    codes = np.array([0] * 50 + [1] * 30 + [UNCERTAIN_CODE] * 10 + [CLOUD_CODE] * 10)
    strata = strata_of(codes, np.ones(len(codes)))
    assert strata.codes.tolist() == [0, 1, UNCERTAIN_CODE]  # cloud / no data is not assessed
    sizes = np.array([7, 5, 3])
    cells = draw_sample(codes, strata, sizes, seed=1)
    assert len(np.unique(cells)) == len(cells) == 15
    assert [int(np.sum(codes[cells] == c)) for c in strata.codes] == [7, 5, 3]
    assert np.array_equal(cells, draw_sample(codes, strata, sizes, seed=1))
    assert not np.array_equal(cells, draw_sample(codes, strata, sizes, seed=2))
    with pytest.raises(AccuracyError, match="nothing to assess"):
        strata_of(np.full(4, CLOUD_CODE), np.ones(4))


def test_perfect_labels_give_the_map_back_and_uncertain_is_shared_out():
    codes = np.array([0] * 40 + [1] * 40 + [UNCERTAIN_CODE] * 20)
    areas = np.ones(100)
    s = Sample.draw(codes, areas, total=30, minimum=10, seed=0)
    # the Uncertain cells are really half class 0, half class 1 in the labels
    s.reference[:] = np.where(s.sample_strata == UNCERTAIN_CODE, np.arange(s.n) % 2, s.sample_strata)
    a = s.assessment()
    assert a.overall.value == 1.0 and a.overall.se == 0.0
    assert a.users[0].value == a.users[1].value == 1.0
    assert a.users[0].se == 0.0 and a.users_interval(0)[0] < 0.8  # 10 of 10 agree: Wilson stays wide
    adjusted = [a.area_km2[j].value for j in (0, 1)]
    unc = s.sample_strata == UNCERTAIN_CODE
    share0 = np.mean(s.reference[unc] == 0)
    assert adjusted == pytest.approx([40 + 20 * share0, 40 + 20 * (1 - share0)])
    assert a.producers[0].value < 1.0  # class 0 cells hidden as Uncertain were not mapped as 0


def test_cant_tell_and_unlabelled_are_left_out():
    codes = np.array([0] * 20 + [1] * 20)
    s = Sample.draw(codes, np.ones(40), total=10, minimum=5, seed=4)
    with pytest.raises(AccuracyError, match="No sampled cell is labelled"):
        s.assessment()
    first0 = int(np.flatnonzero(s.sample_strata == 0)[0])
    s.reference[first0] = 0
    assert s.short_strata() == ["AnnualCrop 1/5", "Forest 0/5"]
    a = s.assessment()
    # stratum 1 has no labelled cell: nothing that weighs it is estimated yet
    assert np.isnan(a.overall.value) and np.isnan(a.area_km2[0].value) and np.isnan(a.producers[0].value)
    assert a.users[0].value == 1.0 and np.isnan(a.users[0].se)  # its own stratum, one cell: no SE
    s.reference[int(np.flatnonzero(s.sample_strata == 1)[0])] = 1
    a = s.assessment()
    assert a.overall.value == 1.0 and np.isnan(a.overall.se)  # one labelled cell each: no standard error
    s.reference[s.sample_strata == 0] = 0
    s.reference[s.sample_strata == 1] = [1, 1, 0, UNUSABLE, UNLABELLED]
    a = s.assessment()
    assert s.short_strata() == [] and s.n_done == 9
    assert a.unusable.tolist() == [0, 1]
    assert a.counts.sum() == 8
    assert a.users[1].value == pytest.approx(2 / 3)
    assert s.next_unlabelled() == int(np.flatnonzero(s.reference == UNLABELLED)[0])


def test_labels_csv_round_trip_and_clear_errors():
    codes = np.array([0] * 10 + [2] * 10)
    s = Sample.draw(codes, np.ones(20), total=6, minimum=3, seed=0)
    rows, cols = np.arange(20) // 5, np.arange(20) % 5
    centers = np.stack([np.linspace(10, 11, 20), np.linspace(50, 51, 20)], axis=1)
    table = sample_table(s.cells, rows, cols, centers)
    assert "stratum" not in table.columns  # blind: the map's class is not in the labeller's file
    assert (table["reference"] == "").all()
    table.loc[0, "reference"] = "forest"
    table.loc[1, "reference"] = CANT_TELL
    got = read_labels(table.to_csv(index=False).encode(), s.cells)
    assert got[0] == CLASS_NAMES.index("Forest") and got[1] == UNUSABLE
    assert (got[2:] == UNLABELLED).all()
    table.loc[2, "reference"] = "Cloud"
    with pytest.raises(AccuracyError, match="Line 4: 'Cloud' is not a reference label"):
        read_labels(table.to_csv(index=False).encode(), s.cells)
    other = table.copy()
    other.loc[0, "cell_index"] = 999
    with pytest.raises(AccuracyError, match="cell 999 is not in this sample"):
        read_labels(other.to_csv(index=False).encode(), s.cells)
    with pytest.raises(AccuracyError, match="no reference column"):
        read_labels(table.drop(columns="reference").to_csv(index=False).encode(), s.cells)
    with pytest.raises(AccuracyError, match="not a CSV|not text|no cell_index"):
        read_labels(b"\xff\xfe\x00garbage", s.cells)
    assert reference_code(" pasture ") == CLASS_NAMES.index("Pasture")


def test_labels_as_excel_saves_them_and_bad_rows():
    cells = np.array([4, 9, 2])
    # German Excel: semicolons, a BOM, Windows-1252, spaced headers, ’ for '
    text = " Cell_Index ;reference\r\n4;Forest\r\n9;Can\u2019t tell\r\n2;\r\n"
    for data in ("\ufeff" + text).encode("utf-8"), text.encode("cp1252"), text.encode("utf-16"):
        got = read_labels(data, cells)
        assert got.tolist() == [CLASS_NAMES.index("Forest"), UNUSABLE, UNLABELLED]
    with pytest.raises(AccuracyError, match="Line 2: cell 4.5 is not in this sample"):
        read_labels(b"cell_index,reference\n4.5,Forest\n", cells)
    assert read_labels(b"cell_index,reference\n4,Forest\n4,forest\n4,\n", cells)[0] == 1  # agreeing repeats
    with pytest.raises(AccuracyError, match="Line 3: cell 4 is labelled twice, differently"):
        read_labels(b"cell_index,reference\n4,Forest\n4,Pasture\n", cells)
    with pytest.raises(AccuracyError, match="MB"):
        read_labels(b"x" * 6_000_000, cells)


def test_top_up_replaces_cant_tell_with_fresh_random_cells():
    codes = np.array([0] * 30 + [1] * 3)
    s = Sample.draw(codes, np.ones(33), total=4, minimum=2, seed=0)
    s.reference[s.sample_strata == 0] = UNUSABLE
    s.reference[s.sample_strata == 1] = 1
    assert s.top_up(codes) == 2
    new = s.cells[-2:]
    assert (codes[new] == 0).all() and len(np.unique(s.cells)) == s.n == 6
    assert s.top_up(codes) == 0  # the new cells are not answered yet
    s.reference[-2:] = 0
    assert s.short_strata() == [] and s.assessment().overall.value == 1.0
    # the three-cell stratum gets its last cell, then nothing is left to draw
    s.reference[s.sample_strata == 1] = UNUSABLE
    assert s.top_up(codes) == 1 and int(np.sum(s.sample_strata == 1)) == 3
    s.reference[-1] = UNUSABLE
    assert s.top_up(codes) == 0


def test_allocate_with_a_zero_area_stratum():
    strata = Strata(codes=np.array([0, 1]), cells=np.array([50, 50]), areas_km2=np.array([0.0, 0.0]) + [1, 0])
    assert allocate(strata, 40, 2).sum() == 40


def test_a_map_labelled_in_full_is_known_exactly():
    rng = np.random.default_rng(7)
    truth, codes, areas = _population(rng, n=300)
    strata = strata_of(codes, areas)
    cells = draw_sample(codes, strata, strata.cells, seed=0)  # every cell
    a = assess(strata, codes[cells], truth[cells])
    for j in range(4):
        assert a.area_km2[j].value == pytest.approx(areas[truth == j].sum())
        assert a.area_km2[j].se == pytest.approx(0.0, abs=1e-12)
    assert a.overall.value == pytest.approx(np.mean(truth[codes < 4] == codes[codes < 4]))
    assert a.overall.se == pytest.approx(0.0, abs=1e-12)
    # a one-cell stratum labelled is exact; a larger one with a single label has no interval yet
    codes = np.array([0] * 10 + [1])
    s = Sample.draw(codes, np.ones(11), total=3, minimum=2, seed=0)
    s.reference[:] = s.sample_strata
    assert s.short_strata() == []
    s.reference[np.flatnonzero(s.sample_strata == 0)[0]] = UNUSABLE
    assert s.short_strata() == ["AnnualCrop 1/2"]
    assert np.isnan(s.assessment().overall.se)


def test_producers_interval_is_cut_at_zero_and_one():
    """A rare class mapped well whose true area lies mostly under a large stratum (one of its 20 cells):
    producer's 17 % ± 27, a normal interval below 0 %; the table's bounds stay within 0-1."""
    strata = Strata(codes=np.arange(2), cells=np.array([100, 10000]), areas_km2=np.array([10.0, 1000.0]))
    sample_strata = np.repeat([0, 1], [20, 20])
    reference = np.concatenate([np.zeros(20, int), [0], np.ones(19, int)])
    a = assess(strata, sample_strata, reference)
    row = a.table().set_index("class").loc[CLASS_NAMES[0]]
    assert row["producers_accuracy"] - row["producers_pm"] < 0  # the normal interval passes 0 %
    assert 0 <= row["producers_low"] <= row["producers_accuracy"] <= row["producers_high"] <= 1
    assert row["producers_low"] == pytest.approx(max(0, row["producers_accuracy"] - row["producers_pm"]))
