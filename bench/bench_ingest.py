"""Ingest throughput at scale, beside the raw read rate of the same files in the same run.

    .venv/bin/python bench/bench_ingest.py --customers 340000 --days 400 --out /tmp/zt-bench

Generates the demo brand at the given scale (unless --skip-generate; in shards of
--shard-customers persons, --workers at a time, so the generator's memory is one shard's),
then measures:
  1. raw read: polars read_csv / read_ndjson of every landing file, one file at a time (all
     columns as text; GB18030 files decoded first, as any reader must), in one process,
     and again with the channels spread over as many processes as the ingest uses;
  2. the full ingest (every channel spec, ingest_all: parallel processes, mapping,
     quarantine, Parquet writes, manifests), from an empty lake.
Prints rows, MB, wall and CPU seconds, rows/s and MB/s for each, the ratios, and peak RSS
(the largest single process, and the whole tree of this process and its workers summed,
sampled from /proc every 0.5 s).
Not a test: run on demand (make bench), figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl
from scale import Sampler  # bench/scale.py: RSS of a process tree from /proc

from ingest.config import DataPaths
from ingest.demo import generate
from ingest.engine import _decode, discover, ingest_all
from ingest.spec import load_specs


def peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def raw_read(paths: DataPaths, specs) -> tuple[int, int, float]:
    """Every landing file read by polars, one file at a time, in this process."""
    t0 = time.perf_counter()
    done = [_read_channel((spec, paths)) for spec in specs.values()]
    return sum(r for r, _ in done), sum(n for _, n in done), time.perf_counter() - t0


def raw_read_parallel(paths: DataPaths, specs, workers: int) -> tuple[int, int, float]:
    """``raw_read`` with the channels spread over ``workers`` processes, largest first: the
    split ``ingest_all`` uses, so that the peer has as many cores as the ingest."""
    order = sorted(specs, key=lambda c: _landing_bytes(paths, c), reverse=True)
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        done = list(pool.map(_read_channel, [(specs[c], paths) for c in order]))
    return sum(r for r, _ in done), sum(n for _, n in done), time.perf_counter() - t0


def _landing_bytes(paths: DataPaths, channel: str) -> int:
    folder = paths.landing / channel
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _read_channel(args) -> tuple[int, int]:
    """(rows, bytes) of one channel's landing files, each read by polars on its own."""
    spec, paths = args
    rows = nbytes = 0
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
    return rows, nbytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--customers", type=int, default=340_000)
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("/tmp/zt-bench"))
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--shard-customers", type=int, default=17_000, help="persons per shard")
    ap.add_argument("--workers", type=int, default=2, help="shards generated at once")
    ap.add_argument(
        "--skip-parallel-read",
        action="store_true",
        help="leave out the raw read spread over processes (the 1-process read is the peer)",
    )
    args = ap.parse_args()
    paths = DataPaths(args.out.resolve())
    if not args.skip_generate:
        t0 = time.perf_counter()
        generate(
            paths.root,
            seed=args.seed,
            customers=args.customers,
            days=args.days,
            shard_customers=args.shard_customers,
            workers=args.workers,
        )
        print(f"generate: {time.perf_counter() - t0:.1f} s")
    lines = pl.read_parquet(paths.truth / "sales_lines.parquet", columns=["channel"]).height
    specs = load_specs()
    workers = min(len(specs), os.cpu_count() or 1)  # what ingest_all uses
    load = [f"{os.getloadavg()[0]:.1f}"]
    tree_peak = {}

    def sampled(name, fn, *a):
        sampler = Sampler(os.getpid(), 0.5)
        sampler.start()
        try:
            return fn(*a)
        finally:
            sampler.stop.set()
            sampler.join()
            tree_peak[name] = max((x["rss"] for x in sampler.samples), default=0) / 2**20

    c0 = cpu_seconds()
    rows, nbytes, raw_s = sampled("raw1", raw_read, paths, specs)
    c1 = cpu_seconds()
    par_s = None
    if not args.skip_parallel_read:
        _, _, par_s = sampled("raw2", raw_read_parallel, paths, specs, workers)
    c2 = cpu_seconds()
    shutil.rmtree(paths.lake, ignore_errors=True)
    t0 = time.perf_counter()
    reports = sampled("ingest", ingest_all, specs, paths)
    ingest_s = time.perf_counter() - t0
    c3 = cpu_seconds()
    load.append(f"{os.getloadavg()[0]:.1f}")
    quarantined = sum(r.quarantined for r in reports.values())
    mb = nbytes / 2**20
    n_files = sum(1 for _ in paths.landing.rglob("*.*"))
    print(f"scale: {args.customers} persons, {args.days} days, {lines:,} order lines (truth)")
    print(f"landing: {rows:,} rows, {mb:,.0f} MB in {n_files:,} files")
    print(f"load average (1 min) before -> after: {' -> '.join(load)}")
    print("| step | wall s | CPU s | rows/s | MB/s |")
    print("| --- | --- | --- | --- | --- |")
    steps = [
        ("raw polars read, file by file, 1 process", raw_s, c1 - c0),
        (f"raw polars read, file by file, {workers} processes", par_s, c2 - c1),
        (f"full ingest (ingest_all, {workers} processes)", ingest_s, c3 - c2),
    ]
    for name, wall, cpu in steps:
        if wall is not None:
            print(f"| {name} | {wall:.1f} | {cpu:.1f} | {rows / wall:,.0f} | {mb / wall:.1f} |")
    par = f", {par_s / ingest_s:.0%} of the {workers}-process read" if par_s else ""
    print(
        f"ingest / raw read rate: {raw_s / ingest_s:.0%} of the 1-process read{par}; "
        f"CPU: raw {c1 - c0:.1f} s, ingest {c3 - c2:.1f} s ({(c1 - c0) / (c3 - c2):.0%})"
    )
    print(f"quarantined rows: {quarantined:,}")
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB (largest of this process and its workers)")
    print(
        "peak RSS of the process tree (summed, sampled): "
        + ", ".join(f"{k} {v:,.0f} MiB" for k, v in tree_peak.items())
    )


if __name__ == "__main__":
    main()
