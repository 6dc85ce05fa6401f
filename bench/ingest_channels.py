"""Per channel, in one process: CPU seconds of the raw read and of the ingest of the same files.

    .venv/bin/python bench/ingest_channels.py --landing /tmp/g20/landing --channels pos,erp

The raw read is ``bench_ingest``'s (polars ``read_csv``/``read_ndjson`` of every landing
file of the channel, one file at a time, all columns as text); the ingest is
``ingest.engine.ingest_channel`` into an empty lake in a temporary folder (the landing folder
is linked, never written). CPU seconds (``time.process_time``: every thread of this
process), not wall time: on a shared machine the wall time is mostly waiting for a core.
The write floor (``--write-floor``) is the CPU of writing the lake files that ingest
produced, again, with the engine's own writer (``ingest.engine._write_all``: the same
files, one per source file per entity) from frames already in memory: a cost no ingest
under the lake's contract can avoid, so raw / (raw + floor) bounds the ratio any ingest
could reach. ``--read-only`` times the engine's read instead of the whole ingest: ``read_sources`` of
the channel's files in the batches ``ingest_channel`` makes (per source, at most 500 files or
64 MiB), the checks that decide between polars and the exact reader included.
Polars is warmed up (one Parquet write, the schema files) before the first channel, so that
the first one does not carry the start-up. Not a test: run on demand, figures go to
bench/README.md.
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
import time
from pathlib import Path

import polars as pl
from bench_ingest import _read_channel

from ingest.canonical import ENTITIES
from ingest.config import DataPaths
from ingest.engine import (
    _chunks,
    _Item,
    _write_all,
    discover,
    ensure_schema_files,
    ingest_channel,
    read_sources,
)
from ingest.spec import load_specs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--landing", type=Path, required=True, help="a landing folder (read only)")
    ap.add_argument("--channels", default="", help="comma-separated; default: every channel")
    ap.add_argument(
        "--write-floor",
        action="store_true",
        help="also time writing the channel's lake files again from memory (the floor)",
    )
    ap.add_argument(
        "--read-only",
        action="store_true",
        help="time the engine's read (read_sources, batched as the ingest) instead of the ingest",
    )
    args = ap.parse_args()
    specs = load_specs()
    channels = [c for c in args.channels.split(",") if c] or list(specs)
    with tempfile.TemporaryDirectory(prefix="ingest_channels_") as tmp:
        paths = DataPaths(Path(tmp))
        paths.landing.symlink_to(args.landing.resolve())
        pl.DataFrame({"a": [1]}).write_parquet(Path(tmp) / "warm.parquet")
        ensure_schema_files(paths, ENTITIES)
        what = "engine read" if args.read_only else "ingest"
        floor_cols = " write floor CPU s | raw / (raw + floor) |" if args.write_floor else ""
        print(
            f"| channel | files | MB | rows | raw read CPU s | {what} CPU s | raw / {what} |"
            + floor_cols
        )
        print(
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
            + " ---: | ---: |" * bool(floor_cols)
        )
        total = [0.0, 0.0, 0.0]
        for channel in channels:
            spec = specs[channel]
            files = len(discover(spec, paths))
            c0 = time.process_time()
            rows, nbytes = _read_channel((spec, paths))
            c1 = time.process_time()
            before = set(paths.lake.rglob("*.parquet"))
            if args.read_only:
                _engine_read(spec, paths)
            else:
                ingest_channel(spec, paths)
            c2 = time.process_time()
            raw, ingest = c1 - c0, c2 - c1
            total[0] += raw
            total[1] += ingest
            row = (
                f"| {channel} | {files:,} | {nbytes / 2**20:.1f} | {rows:,} | {raw:.2f} | "
                f"{ingest:.2f} | {raw / ingest:.0%} |"
            )
            if args.write_floor:
                floor = _write_floor(sorted(set(paths.lake.rglob("*.parquet")) - before), Path(tmp))
                total[2] += floor
                row += f" {floor:.2f} | {raw / (raw + floor):.0%} |"
            print(row, flush=True)
        last = (
            f" {total[2]:.2f} | {total[0] / (total[0] + total[2]):.0%} |"
            if args.write_floor
            else ""
        )
        print(
            f"| total | | | | {total[0]:.2f} | {total[1]:.2f} | {total[0] / total[1]:.0%} |" + last
        )


def _engine_read(spec, paths: DataPaths) -> None:
    """``read_sources`` of every landing file of the channel, in ``ingest_channel``'s batches."""
    batch = inspect.signature(ingest_channel).parameters
    items = [_Item(p, rel, "", s, None, 0, None) for s, p, rel in discover(spec, paths)]
    items.sort(key=lambda it: (it.source.name, it.rel))
    for chunk in _chunks(items, batch["batch_files"].default, batch["batch_bytes"].default):
        by_source: dict[str, list[_Item]] = {}
        for item in chunk:
            by_source.setdefault(item.source.name, []).append(item)
        for group in by_source.values():
            read_sources([(it.path, it.rel) for it in group], group[0].source)


def _write_floor(written: list[Path], tmp: Path) -> float:
    """CPU seconds of writing ``written`` again with the engine's writer, frames in memory."""
    out = tmp / "floor"
    writes = [(pl.read_parquet(p), out / f"{k}" / p.name) for k, p in enumerate(written)]
    c0 = time.process_time()
    _write_all(writes)
    return time.process_time() - c0


if __name__ == "__main__":
    main()
