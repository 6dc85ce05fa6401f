"""Ingest throughput at scale, beside the raw read rate of the same files in the same run.

    .venv/bin/python bench/bench_ingest.py --customers 300000 --days 400 --out /tmp/zt-bench

Generates the demo brand at the given scale (unless --skip-generate), then measures:
  1. raw read: polars read_csv / read_ndjson of every landing file (all columns as text;
     GB18030 files decoded first, as any reader must), one process;
  2. the full ingest (every channel spec, ingest_all: parallel processes, mapping,
     quarantine, Parquet writes, manifests), from an empty lake.
Prints rows, MB, seconds, rows/s and MB/s for both, the ratio, and peak RSS.
Not a test: run on demand (make bench), figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import time
from pathlib import Path

import polars as pl

from ingest.config import DataPaths
from ingest.demo import generate
from ingest.engine import _decode, discover, ingest_all
from ingest.spec import load_specs


def peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def raw_read(paths: DataPaths, specs) -> tuple[int, int, float]:
    rows = nbytes = 0
    t0 = time.perf_counter()
    for spec in specs.values():
        for source, path, _ in discover(spec, paths):
            nbytes += path.stat().st_size
            if source.format == "ndjson":
                try:
                    rows += pl.read_ndjson(path, infer_schema_length=None).height
                except Exception:  # noqa: BLE001 - a planted malformed line: count lines
                    rows += sum(1 for ln in path.read_text().splitlines() if ln.strip())
                continue
            text = _decode(path, source.encoding, "replace")
            sep = source.delimiter or ("\t" if source.format == "tsv" else ",")
            rows += pl.read_csv(
                io.StringIO(text), separator=sep, infer_schema=False, truncate_ragged_lines=True
            ).height
    return rows, nbytes, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--customers", type=int, default=300_000)
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("/tmp/zt-bench"))
    ap.add_argument("--skip-generate", action="store_true")
    args = ap.parse_args()
    paths = DataPaths(args.out.resolve())
    if not args.skip_generate:
        t0 = time.perf_counter()
        generate(paths.root, seed=args.seed, customers=args.customers, days=args.days)
        print(f"generate: {time.perf_counter() - t0:.1f} s")
    lines = pl.read_parquet(paths.truth / "sales_lines.parquet", columns=["channel"]).height
    specs = load_specs()
    rows, nbytes, raw_s = raw_read(paths, specs)
    shutil.rmtree(paths.lake, ignore_errors=True)
    t0 = time.perf_counter()
    reports = ingest_all(specs, paths)
    ingest_s = time.perf_counter() - t0
    quarantined = sum(r.quarantined for r in reports.values())
    mb = nbytes / 2**20
    print(f"scale: {args.customers} persons, {args.days} days, {lines:,} order lines (truth)")
    print(
        f"landing: {rows:,} rows, {mb:,.0f} MB in {sum(1 for _ in paths.landing.rglob('*.*')):,} files"
    )
    print("| step | seconds | rows/s | MB/s |")
    print("| --- | --- | --- | --- |")
    print(f"| raw polars read (1 process) | {raw_s:.1f} | {rows / raw_s:,.0f} | {mb / raw_s:.1f} |")
    print(
        f"| full ingest (ingest_all) | {ingest_s:.1f} | {rows / ingest_s:,.0f} | {mb / ingest_s:.1f} |"
    )
    print(f"ingest / raw read rate: {raw_s / ingest_s:.0%}; quarantined rows: {quarantined:,}")
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB (largest of this process and its workers)")


if __name__ == "__main__":
    main()
