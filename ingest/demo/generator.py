"""Entry point: ``generate(out_dir, seed=..., customers=..., days=..., start=...)``."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

from . import truth
from .calendar import Calendar
from .catalog import (
    assortment,
    cities_frame,
    locations_frame,
    plant_price_conflict,
    price_matrices,
    products_frame,
)
from .defects import Defects
from .demand import World, simulate
from .environment import footfall, weather
from .orders import finalize
from .population import build_population


def build_world(
    seed: int, customers: int, days: int, start: dt.date, shard: int = 0, id_offset: int = 0
) -> World:
    """The simulated brand. ``shard``/``id_offset``: one shard of a brand generated in shards,
    with the catalogue, stores, prices, weather and calendar of ``seed`` and persons (and all
    their behaviour) of the shard's own seed, ids starting after ``id_offset`` persons."""
    cal = Calendar(start, days)
    products = products_frame(start, days, seed)
    locations = locations_frame(start)
    cities = cities_frame()
    persons = build_population(customers, days, shard_seed(seed, shard), id_offset)
    prices = price_matrices(cal, products, seed)
    assort = assortment(products, seed)
    planted_prices = plant_price_conflict(cal, products, prices, assort, seed)
    wx = weather(cal, cities, seed)
    ff, is_open = footfall(cal, locations, wx, cities, seed, 0)
    w = World(
        shard_seed(seed, shard),
        cal,
        customers / 20_000,
        products,
        locations,
        cities,
        persons,
        prices,
        assort,
        wx,
        ff,
        is_open,
        planted_prices=planted_prices,
        shard=shard,
    )
    simulate(w)
    finalize(w)
    return w


def shard_seed(seed: int, shard: int) -> int:
    """The seed of a shard's persons; shard 0 keeps ``seed`` (a 1-shard brand is the default)."""
    return seed + (shard << 20)


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    customers: int = 20_000,
    days: int = 400,
    start: dt.date = dt.date(2024, 11, 1),
    shard_customers: int | None = None,
    workers: int = 1,
) -> dict:
    """Write ``out_dir/landing/<channel>/...`` and ``out_dir/truth/*.parquet``.

    Removes and rewrites ``out_dir/landing`` and ``out_dir/truth`` first, so re-runs with
    the same arguments give byte-identical files. Returns a summary: files and rows per
    channel, persons, truth row counts, seconds.

    ``shard_customers``: when ``customers`` is larger, the persons are generated in shards of
    at most that many (each in its own process, ``workers`` at a time, so memory is bounded by
    the shard, not the brand; see ``_generate_in_shards``). ``None`` = one shard.
    """
    if shard_customers and customers > shard_customers:
        return _generate_in_shards(
            Path(out_dir), seed, customers, days, start, shard_customers, workers
        )
    return _generate_one(Path(out_dir), seed, customers, days, start)


def _generate_one(
    out_dir: Path,
    seed: int,
    customers: int,
    days: int,
    start: dt.date,
    shard: int = 0,
    id_offset: int = 0,
) -> dict:
    from .channels import erp, pos, web

    t0 = time.perf_counter()
    landing = out_dir / "landing"
    truth_dir = out_dir / "truth"
    for d in (landing, truth_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    w = build_world(seed, customers, days, start, shard, id_offset)
    t_world = time.perf_counter()
    defects = Defects()
    id_parts = []
    channels: dict[str, dict] = {}
    channels["erp"] = erp.write(w, landing)
    r = web.write_orders(w, landing, defects)
    id_parts.append(r.pop("identifiers"))
    channels["web"] = r
    r = pos.write(w, landing, defects)
    id_parts.append(r.pop("identifiers"))
    channels["pos"] = r
    for name in _optional_writers():
        r = name(w, landing, defects)
        ch = r.pop("channel")
        ids = r.pop("identifiers", None)
        if ids is not None:
            id_parts.append(ids)
        prev = channels.get(ch)
        if prev:
            prev["files"] += r["files"]
            prev["rows"] += r["rows"]
        else:
            channels[ch] = r
    truth_rows = truth.write_all(w, truth_dir, id_parts, defects.frame())
    t_end = time.perf_counter()
    return {
        "seed": seed,
        "shard": shard,
        "customers": customers,
        "days": days,
        "start": start.isoformat(),
        "persons": len(w.persons),
        "channels": channels,
        "truth": truth_rows,
        "seconds": round(t_end - t0, 2),
        "seconds_simulation": round(t_world - t0, 2),
    }


def _optional_writers():
    """Writers of the other channels (each returns a dict with ``channel``)."""
    import importlib

    out = []
    for mod, fn in (
        ("web_clickstream", "write"),
        ("app", "write"),
        ("wechat", "write"),
        ("tmall", "write"),
        ("jd", "write"),
        ("douyin", "write"),
        ("amazon", "write"),
        ("crm", "write"),
        ("social", "write"),
        ("consent_sources", "write_wechat"),
        ("consent_sources", "write_web"),
    ):
        try:
            m = importlib.import_module(f".channels.{mod}", __package__)
        except ModuleNotFoundError:
            continue
        out.append(getattr(m, fn))
    return out


# Channels whose files describe the brand, not its customers (catalogue, prices, stock, stores,
# weather, footfall): in a brand generated in shards they come from the first shard alone.
BRAND_CHANNELS = ("erp",)


def _generate_in_shards(
    out_dir: Path,
    seed: int,
    customers: int,
    days: int,
    start: dt.date,
    shard_customers: int,
    workers: int,
) -> dict:
    """One brand of ``customers`` persons generated as shards of ``shard_customers``.

    Every shard shares the catalogue, stores, prices, weather and calendar of ``seed``; its
    persons, their behaviour and the channels' running numbers are its own (``shard_seed``,
    ids after the previous shards' persons, receipt/after-sale numbers in the shard's block).
    Each shard is generated in a process of its own into ``out_dir/.shards/<k>`` and merged, in
    shard order, into ``out_dir/landing`` as soon as it and the ones before it are done:
    a landing file of the same name gets the shard's rows appended (the header once), so the
    landing is what the channels of one brand of that size deliver, with files that grow with
    the brand; ``BRAND_CHANNELS`` and files byte-equal to the first shard's are kept once. The
    truth tables are the shards' tables concatenated. Memory is that of one shard per worker.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    landing = out_dir / "landing"
    truth_dir = out_dir / "truth"
    parts = out_dir / ".shards"
    for d in (landing, truth_dir, parts):
        if d.exists():
            shutil.rmtree(d)
    landing.mkdir(parents=True)
    truth_dir.mkdir(parents=True)
    sizes = [shard_customers] * (customers // shard_customers)
    if customers % shard_customers:
        sizes.append(customers % shard_customers)
    offsets = [sum(sizes[:k]) for k in range(len(sizes))]
    ctx = multiprocessing.get_context("spawn")
    channels: dict[str, dict] = {}
    merged = {"appended": 0, "kept_once": 0, "header_differs": 0}
    summaries = []
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as pool:
        futures = [
            pool.submit(_generate_one, parts / str(k), seed, n, days, start, k, offsets[k])
            for k, n in enumerate(sizes)
        ]
        for k, fut in enumerate(futures):
            summary = fut.result()
            summaries.append(summary)
            counts = _merge_landing(parts / str(k) / "landing", landing, first=k == 0)
            for key, v in counts.items():
                merged[key] += v
            shutil.rmtree(parts / str(k) / "landing")
            for ch, r in summary["channels"].items():
                if k and ch in BRAND_CHANNELS:
                    continue
                c = channels.setdefault(ch, {"files": 0, "rows": 0})
                c["rows"] += r["rows"]
    for ch in channels:
        channels[ch]["files"] = sum(1 for f in (landing / ch).rglob("*") if f.is_file())
    truth_rows = _merge_truth([parts / str(k) / "truth" for k in range(len(sizes))], truth_dir)
    shutil.rmtree(parts)
    return {
        "seed": seed,
        "customers": customers,
        "days": days,
        "start": start.isoformat(),
        "persons": sum(s["persons"] for s in summaries),
        "shards": len(sizes),
        "shard_customers": shard_customers,
        "merge": merged,
        "channels": channels,
        "truth": truth_rows,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _merge_landing(src: Path, dst: Path, *, first: bool) -> dict:
    """Move (first shard) or append one shard's landing files into ``dst``.

    A file new to ``dst`` is moved. Otherwise: CSV/TSV rows are appended after the file's
    header line (which must be the same bytes, BOM and encoding included; a file whose header
    differs is left out and counted), NDJSON lines appended; a file that does not end in a
    line break gets one first. Files of ``BRAND_CHANNELS`` and files byte-equal to what
    ``dst`` holds are kept once.
    """
    counts = {"appended": 0, "kept_once": 0, "header_differs": 0}
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = f.relative_to(src)
        out = dst / rel
        if first or not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(f, out)
            continue
        if rel.parts[0] in BRAND_CHANNELS:
            counts["kept_once"] += 1
            continue
        data = f.read_bytes()
        if out.stat().st_size == len(data) and out.read_bytes() == data:
            counts["kept_once"] += 1
            continue
        if f.suffix.lower() in (".csv", ".tsv", ".txt"):
            head, _, rows = data.partition(b"\n")
            with out.open("rb") as fh:
                own_head = fh.readline().rstrip(b"\n")
            if head != own_head:
                counts["header_differs"] += 1
                continue
        else:
            rows = data
        if not rows:
            continue
        size = out.stat().st_size
        with out.open("r+b") as fh:
            if size:
                fh.seek(size - 1)
                last = fh.read(1)
                if last != b"\n":
                    fh.write(b"\n")
            fh.seek(0, 2)
            fh.write(rows)
        counts["appended"] += 1
    return counts


def _merge_truth(dirs: list[Path], truth_dir: Path) -> dict:
    """Each truth table of the shards, concatenated (streamed) into ``truth_dir``."""
    import polars as pl

    rows = {}
    for f in sorted(dirs[0].glob("*.parquet")):
        files = [d / f.name for d in dirs if (d / f.name).exists()]
        frames = [pl.scan_parquet(x) for x in files]
        pl.concat(frames, how="diagonal_relaxed").sink_parquet(truth_dir / f.name)
        rows[f.stem] = pl.scan_parquet(truth_dir / f.name).select(pl.len()).collect().item()
    return rows
