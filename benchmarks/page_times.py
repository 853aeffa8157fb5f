"""How long the Data and Model analysis pages take to open, cold and warm, through the router.

    .venv/bin/python benchmarks/page_times.py [--repeats 3]

Each page is run with Streamlit's AppTest (the script as a server runs it, without a browser):
the first run in a fresh process ("cold": imports, reading the stored analysis / the data sample,
caches empty) and then ``--repeats`` reruns ("warm", median). The Model analysis page reads the
shipped ``models/analysis_test.npz``; nothing is computed. Writes ``benchmarks/page_times.md``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("pages/data.py", "pages/analysis.py", "pages/map.py")

CHILD = """
import sys, time
from streamlit.testing.v1 import AppTest
page, repeats = sys.argv[1], int(sys.argv[2])
at = AppTest.from_file("streamlit_app.py", default_timeout=300)
at.run()
t0 = time.perf_counter(); at.switch_page(page); at.run(); cold = time.perf_counter() - t0
assert not at.exception, at.exception
warm = []
for _ in range(repeats):
    t0 = time.perf_counter(); at.run(); warm.append(time.perf_counter() - t0)
print(cold, *warm)
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    rows = []
    for page in PAGES:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, page, str(a.repeats)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        values = [float(v) for v in out[-(a.repeats + 1) :]]
        rows.append((page, values[0], statistics.median(values[1:]), time.perf_counter() - t0))
    lines = [
        f"`python benchmarks/page_times.py --repeats {a.repeats}` (AppTest through the router, 2 cores):",
        "",
        "| page | first open s (cold process) | rerun s (warm, median) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {page} | {cold:.2f} | {warm:.2f} |" for page, cold, warm, _ in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "page_times.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
