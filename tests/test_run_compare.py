"""eurosat.run_compare on fabricated runs: known differences, and runs without results give empty cells."""

from __future__ import annotations

import json

import numpy as np

from eurosat import run_compare
from eurosat.runs import read_run
from tests.test_runs import write_fake_run


def test_confusion_difference_and_table(runs_dir):
    a, b = write_fake_run(runs_dir, "a", with_models=True), write_fake_run(runs_dir, "b", with_models=True)
    results = json.loads((b / "results.json").read_text())
    cm = np.asarray(results["test"]["tflite_dynamic"]["confusion_matrix"])
    cm[0, 0] -= 2
    cm[0, 1] += 2
    results["test"]["tflite_dynamic"]["confusion_matrix"] = cm.tolist()
    results["test"]["tflite_dynamic"]["accuracy"] = "broken"  # a hand-edited file
    (b / "results.json").write_text(json.dumps(results))
    ra, rb = read_run(a), read_run(b)
    diff = run_compare.confusion_difference(ra, rb)
    assert diff[0, 0] == -2 and diff[0, 1] == 2 and np.count_nonzero(diff) == 2
    table = run_compare.metrics_table([ra, rb])
    assert table.loc["parameters", "a"] == 698858 and np.isnan(table.loc["test accuracy", "b"])
    assert not np.isnan(table.loc["recall Forest", "a"])


def test_a_run_without_results(runs_dir):
    d = write_fake_run(runs_dir, "died", state="running", done=1, started=2e9)
    run = read_run(d)
    assert run_compare.served_report(run) == {} and run_compare.confusion_of(run) is None
    assert run_compare.metrics_table([run])["died"].isna().sum() >= 10
    assert len(run_compare.curves_overlay([run]).data) == 1
