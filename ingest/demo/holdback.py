"""Hold back the newest days of the demo's landing files and deliver them later: the input of
an incremental run ("one new day of landing files after a full build", bench/README.md).

The generator is not prefix-stable (a world of ``days + 1`` days is another world, its files
differ from the first day on), so a new day is made by generating the longer world and moving
the files it delivers on its last day(s) aside into ``<root>/landing_next/``; ``deliver``
moves them into ``<root>/landing/`` as the channels would drop them.

A file's delivery day is the last date stamped in its name (``..._20250301.csv``, a weekly
``..._20250228_20250301.csv``, a Tmall export ``ExportOrderList202503020859.csv``). Files
without a date (product master, consent export, ...) and the files of a folder whose every
file would be held back (a folder with one snapshot) stay: they stand for data every day
already has.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

NEXT_DIR = "landing_next"
_STAMP = re.compile(r"(20\d{2})(\d{2})(\d{2})(?:\d{4})?(?!\d)")


def delivery_day(name: str) -> dt.date | None:
    """The last date stamped in a file name, or None."""
    days = []
    for m in _STAMP.finditer(name):
        try:
            days.append(dt.date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            continue
    return max(days) if days else None


def hold_back(root: Path, last_day: dt.date, days: int = 1) -> list[str]:
    """Move the landing files delivered on the ``days`` days up to ``last_day`` (the world's
    last day) or later (an export made the morning after) into ``root/landing_next``, same
    relative paths. Returns the moved paths, relative to the landing folder."""
    if days < 1:
        raise ValueError(f"hold back at least one day, not {days}")
    landing, target = Path(root) / "landing", Path(root) / NEXT_DIR
    if target.exists() and any(target.rglob("*")):
        raise FileExistsError(f"{target} is not empty: deliver or remove it first")
    files = [f for f in sorted(landing.rglob("*")) if f.is_file()]
    dated = {f: delivery_day(f.name) for f in files}
    cutoff = last_day - dt.timedelta(days=days - 1)
    held: list[Path] = []
    by_folder: dict[Path, list[Path]] = {}
    for f in files:
        by_folder.setdefault(f.parent, []).append(f)
    for folder_files in by_folder.values():
        new = [f for f in folder_files if dated[f] is not None and dated[f] >= cutoff]
        if new and len(new) < len(folder_files):
            held += new
    moved = []
    for f in held:
        rel = f.relative_to(landing)
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(f), target / rel)
        moved.append(rel.as_posix())
    return sorted(moved)


def deliver(root: Path) -> list[str]:
    """Move every held-back file into the landing folder (what the channels drop on the new
    day). Returns the delivered paths, relative to the landing folder."""
    source, landing = Path(root) / NEXT_DIR, Path(root) / "landing"
    if not source.exists():
        return []
    moved = []
    for f in sorted(source.rglob("*")):
        if f.is_file():
            rel = f.relative_to(source)
            (landing / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(f), landing / rel)
            moved.append(rel.as_posix())
    shutil.rmtree(source)
    return moved
