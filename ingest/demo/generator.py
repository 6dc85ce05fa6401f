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


def build_world(seed: int, customers: int, days: int, start: dt.date) -> World:
    cal = Calendar(start, days)
    products = products_frame(start, days, seed)
    locations = locations_frame(start)
    cities = cities_frame()
    persons = build_population(customers, days, seed)
    prices = price_matrices(cal, products, seed)
    assort = assortment(products, seed)
    planted_prices = plant_price_conflict(cal, products, prices, assort, seed)
    wx = weather(cal, cities, seed)
    ff, is_open = footfall(cal, locations, wx, cities, seed, 0)
    w = World(
        seed,
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
    )
    simulate(w)
    finalize(w)
    return w


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    customers: int = 20_000,
    days: int = 400,
    start: dt.date = dt.date(2024, 11, 1),
) -> dict:
    """Write ``out_dir/landing/<channel>/...`` and ``out_dir/truth/*.parquet``.

    Removes and rewrites ``out_dir/landing`` and ``out_dir/truth`` first, so re-runs with
    the same arguments give byte-identical files. Returns a summary: files and rows per
    channel, persons, truth row counts, seconds.
    """
    from .channels import erp, pos, web

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    truth_dir = out_dir / "truth"
    for d in (landing, truth_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    w = build_world(seed, customers, days, start)
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
