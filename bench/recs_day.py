"""What an incremental day's recommendations lose against scoring everyone on the same day.

    ZHONGTAI_DATA_DIR=/abs/tree .venv/bin/python bench/recs_day.py [--out FILE]

On a data tree whose last `recommendations` run was incremental (`zhongtai materialize
--incremental`: only the changed customers scored, models/recs/rescore.py), scores every
customer in scope in this process with the same stored ranker and the same day's components
(read-only: nothing is written to the tree) and compares the lists, per customer, with the
stored ones: the customers scored again (who must match the full scoring row for row) and
the customers whose stored list was kept (whose lists are as old as the last full scoring).
Prints and writes (``--out``) the share with an identical top-10 (same SKUs, same order), the
same 10 SKUs, and the mean overlap@10 (shared SKUs / 10), with the CPU seconds of the full
scoring.

``--ages 1 3 6``: how the kept lists drift with the age of the last full scoring (the cadence
keeps them up to 6 days of data old). For each age k, every customer is scored with the same
ranker and the components of the data before the last k days (today's customers, stock and
listings: what would change those rescores a customer anyway), and compared with today's full
scoring over the customers with no interaction in those k days: the customers whose stored
list a k-day-old full scoring would have left in place. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import polars as pl


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def compare(stored: pl.DataFrame, full: pl.DataFrame, customers: list[str]) -> dict:
    """identical (same SKUs in the same order), same_skus, overlap@10 of ``stored`` against
    ``full`` over ``customers``."""
    keep = pl.col("customer_id").is_in(customers)
    a = (
        stored.filter(keep)
        .sort("customer_id", "rank")
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("sku").alias("a"))
    )
    b = (
        full.filter(keep)
        .sort("customer_id", "rank")
        .group_by("customer_id", maintain_order=True)
        .agg(pl.col("sku").alias("b"))
    )
    j = a.join(b, on="customer_id", how="full", coalesce=True).with_columns(
        pl.col("a").fill_null([]), pl.col("b").fill_null([])
    )
    both = j.with_columns(
        (pl.col("a") == pl.col("b")).alias("identical"),
        (pl.col("a").list.sort() == pl.col("b").list.sort()).alias("same_skus"),
        (pl.col("a").list.set_intersection(pl.col("b")).list.len() / 10.0).alias("overlap"),
    )
    n = both.height
    return {
        "customers": n,
        "identical_top10": round(float(both["identical"].mean()), 4) if n else None,
        "same_10_skus": round(float(both["same_skus"].mean()), 4) if n else None,
        "overlap@10": round(float(both["overlap"].mean()), 4) if n else None,
        "rows_identical": stored.filter(keep)
        .sort("customer_id", "rank")
        .equals(full.filter(keep).sort("customer_id", "rank")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--ages", type=int, nargs="*", default=[])
    a = ap.parse_args()

    import dataclasses

    from ingest.config import connect
    from models.recs.model import ZhongtaiRecommender
    from models.recs.rescore import as_lists
    from models.recs.store import load_learned, read_manifest
    from models.recs.warehouse import read_serving_inputs
    from orchestration.defs.recs import RecsRunConfig, recommender
    from orchestration.resources import paths

    p, config = paths(), RecsRunConfig()
    with connect(p.warehouse, read_only=True) as con:
        stored = con.sql("select * from recs.recommendations").pl()
        state = con.sql("select * from recs.list_inputs").pl()
        run = con.sql("select * from recs.list_runs").pl().row(0, named=True)
        inputs = read_serving_inputs(con)
    c0, t0 = cpu(), time.perf_counter()
    model, fit = recommender(inputs, config, p.models / "recs")
    if fit.action != "reused" or fit.manifest.get("fitted_at") != run["fitted_at"]:
        raise SystemExit(f"the stored ranker is not the lists' ({fit.action}: {fit.reason})")
    full, _ = inputs.serve(model, config.per_customer, config.max_per_category)
    full = as_lists(full)
    seconds = {
        "full_scoring_cpu_s": round(cpu() - c0, 1),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    rescored = state.filter(pl.col("scored_now") == run["now"])["customer_id"].to_list()
    kept = state.filter(pl.col("scored_now") < run["now"])["customer_id"].to_list()
    result = {
        "now": run["now"],
        "full_now": run["full_now"],
        "in_scope": state.height,
        "rescored": compare(stored, full, rescored),
        "kept": compare(stored, full, kept),
        "everyone": compare(stored, full, state["customer_id"].to_list()),
        **seconds,
    }
    learned = load_learned(p.models / "recs", read_manifest(p.models / "recs"))
    for k in a.ages:
        cut = float(int(inputs.now)) - k + 1  # the data of the day k days before the last
        old = inputs.frame.filter(pl.col("ts") < cut)
        quiet = inputs.customers.filter(
            ~pl.col("customer_id").is_in(
                inputs.frame.filter(pl.col("ts") >= cut)["user"].unique().implode()
            )
        )["customer_id"].to_list()
        then = dataclasses.replace(inputs, frame=old, now=float(old["ts"].max()))
        aged = ZhongtaiRecommender(model.cfg, model.horizon_days).refresh(
            old.drop("channel"), learned, inputs.segments, inputs.categories
        )
        lists, _ = then.serve(aged, config.per_customer, config.max_per_category)
        result[f"kept_{k}_days_old"] = compare(as_lists(lists), full, quiet)
    print(json.dumps(result, indent=1))
    if a.out:
        a.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
