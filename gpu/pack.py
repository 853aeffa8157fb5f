"""Cut EuroSAT_RGB.zip into parts small enough to travel to the GPU machine, one part per call.

A device call carries at most 64 MiB (the working tree included); the zip is 86 MB. The parts go to
``.gpu/`` (ignored by git, named in each call's ``carry``), with the zip's sha256, which
``gpu/teach.py`` checks after joining them. See ``gpu/README.md`` for the two calls.

    python gpu/pack.py ../shared/data/EuroSAT_RGB.zip
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PART_BYTES = 44 * 2**20  # two parts of the 86 MB zip; each call also carries the ~9 MB working tree


def pack(zip_path: Path, out_dir: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """Write ``out_dir/<zip name>.part1…`` and ``.sha256``; returns the parts."""
    data = zip_path.read_bytes()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(zip_path.name + ".part*"):
        old.unlink()
    parts = []
    for i, start in enumerate(range(0, len(data), part_bytes), start=1):
        part = out_dir / f"{zip_path.name}.part{i}"
        part.write_bytes(data[start : start + part_bytes])
        parts.append(part)
    (out_dir / f"{zip_path.name}.sha256").write_text(f"{hashlib.sha256(data).hexdigest()}  {zip_path.name}\n")
    return parts


def joined_zip(path: Path, tmp_dir: Path = Path("/tmp")) -> Path:
    """``path`` if it exists, else its parts ``path.part1``, ``path.part2``… joined (checked by sha256)."""
    if path.exists():
        return path
    parts = sorted(path.parent.glob(path.name + ".part*"), key=lambda p: int(p.suffix[5:]))
    if not parts:
        raise SystemExit(f"no {path} and no {path}.part* here: see gpu/README.md (two calls carry the parts)")
    out = tmp_dir / path.name
    digest = hashlib.sha256()
    with out.open("wb") as f:
        for p in parts:
            data = p.read_bytes()
            digest.update(data)
            f.write(data)
    want_file = path.with_name(path.name + ".sha256")
    if not want_file.exists():
        raise SystemExit(
            f"no {want_file.name} beside the parts: carry it with the first part (gpu/README.md)"
        )
    if want_file.read_text().split()[0] != digest.hexdigest():
        raise SystemExit(
            f"the joined parts {[p.name for p in parts]} do not match {want_file.name}: "
            "a part is missing or stale (did the machine go back between the two calls?)"
        )
    return out


if __name__ == "__main__":
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/EuroSAT_RGB.zip")
    for p in pack(src, Path(".gpu")):
        print(p, p.stat().st_size)
