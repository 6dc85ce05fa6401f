"""What reusing a stored recommender fit costs in quality (``models/recs/store.py``): on a
built warehouse, the recommendations of a fit made ``--ages`` days earlier (its ranker, with
components refitted on today's interactions, as ``fit_or_load`` serves an incremental day)
against those of a refit on today's data.

    ZHONGTAI_DATA_DIR=/abs/data .venv/bin/python bench/recs_stored_fit.py --ages 1 6

1. Serving: the ``recommendations`` asset's lists (``build_recommendations``: stock, channel,
   durable and diversity rules) for every customer; the share of identical top-10 lists (same
   SKUs, same order), of lists with the same SKUs, and the mean overlap@10.
2. The evaluation's time split (the ``evaluation`` asset's: last 4 weeks of purchases, at most
   30 % of the range; segments from the training rows): precision@10 and recall@20 of the
   refit against the stored fits, on the same test users.
``--seeds`` adds refits with other seeds: how much two refits on the same data differ (the
ranker's own noise). A "fit k days old" is fitted on the rows more than k - 1 days before the
last one (``ts < floor(last) - (k - 1)``: its last day is k days before today's). Never part
of `make test`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import resource
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ingest.config import connect  # noqa: E402
from models.recs.evaluate import _pad, popularity_list, time_split  # noqa: E402
from models.recs.metrics import score_lists  # noqa: E402
from models.recs.model import ZhongtaiRecommender  # noqa: E402
from models.recs.warehouse import read_serving_inputs, usual_channels  # noqa: E402
from orchestration.defs.recs import TEST_WEEKS, RecsRunConfig, _cfg  # noqa: E402
from orchestration.resources import paths  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stored(train, age, cfg, horizon, segments, categories) -> ZhongtaiRecommender:
    """The ranker of a fit ``age`` days old, with components refitted on ``train``."""
    last = math.floor(float(train["ts"].max()))
    old = train.filter(pl.col("ts") < last - (age - 1))
    learned = ZhongtaiRecommender(cfg, horizon).fit(old, segments, categories).learned()
    return ZhongtaiRecommender(cfg, horizon).refresh(train, learned, segments, categories)


def agreement(a: pl.DataFrame, b: pl.DataFrame) -> dict:
    """Per customer: identical top-10 (order too), same SKUs, overlap@10 (shared SKUs / 10)."""
    la = a.sort("customer_id", "rank").group_by("customer_id", maintain_order=True).agg("sku")
    lb = b.sort("customer_id", "rank").group_by("customer_id", maintain_order=True).agg("sku")
    j = la.join(lb, on="customer_id", how="full", suffix="_b", coalesce=True)
    rows = [
        (x or [], y or []) for x, y in zip(j["sku"].to_list(), j["sku_b"].to_list(), strict=True)
    ]
    n = len(rows)
    return {
        "customers": n,
        "identical_top10": round(sum(x == y for x, y in rows) / n, 4),
        "same_skus": round(sum(set(x) == set(y) for x, y in rows) / n, 4),
        "overlap@10": round(sum(len(set(x) & set(y)) / 10 for x, y in rows) / n, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ages", type=int, nargs="*", default=[1, 6])
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[],
        help="also refits with these seeds (the ranker's own noise: its early-stopping split "
        "and the windows' user samples) against the refit of seed 0",
    )
    a = ap.parse_args()
    config = RecsRunConfig()
    cfg, horizon = _cfg(config), 7.0 * TEST_WEEKS
    with connect(paths().warehouse, read_only=True) as con:
        inputs = read_serving_inputs(con)
    frame, customers, segments = inputs.frame, inputs.customers, inputs.segments
    categories = inputs.categories
    train = frame.drop("channel")

    def served(model):
        return inputs.serve(model, config.per_customer, config.max_per_category)[0]

    print(f"load {os.getloadavg()}; {frame.height} interactions, {customers.height} customers")
    t = cpu()
    refit = served(ZhongtaiRecommender(cfg, horizon).fit(train, segments, categories))
    print(f"serving, refit: {cpu() - t:.1f} CPU s")
    for age in a.ages:
        got = served(stored(train, age, cfg, horizon, segments, categories))
        print(f"serving, fit {age} day(s) old against a refit: {agreement(got, refit)}")
    for seed in a.seeds:
        other = dataclasses.replace(cfg, seed=seed)
        got = served(ZhongtaiRecommender(other, horizon).fit(train, segments, categories))
        print(f"serving, refit with seed {seed} against seed 0: {agreement(got, refit)}")

    # the evaluation's split, as orchestration/defs/recs.py's `evaluation` asset makes it
    lo, hi = float(frame["ts"].min()), float(frame["ts"].max())
    h = min(7.0 * TEST_WEEKS, 0.3 * (hi - lo))
    split = time_split(frame.drop("channel"), cutoff=hi - h, horizon_days=h)
    seg_train = usual_channels(frame.filter(pl.col("ts") < hi - h))
    test = split.test.filter(pl.col("target")) if "target" in split.test.columns else split.test
    truth = test.select("user", "item").unique()
    users = sorted(truth["user"].unique().to_list())
    popular, n_cat = popularity_list(split.train, 20), split.train["item"].n_unique()

    def scored(model) -> dict:
        recs = model.recommend(users, 20, seg_train).sort("user", "rank")
        s = score_lists(_pad(recs.select("user", "item"), users, popular, 20), truth, n_cat)
        return {k: round(float(s[k]), 4) for k in ("precision@10", "recall@20", "ndcg@10")}

    fresh = ZhongtaiRecommender(cfg, horizon).fit(split.train, seg_train, categories)
    print(f"evaluation split ({len(users)} test users), refit: {scored(fresh)}")
    for age in a.ages:
        m = stored(split.train, age, cfg, horizon, seg_train, categories)
        print(f"evaluation split, fit {age} day(s) old: {scored(m)}")
    for seed in a.seeds:
        other = dataclasses.replace(cfg, seed=seed)
        m = ZhongtaiRecommender(other, horizon).fit(split.train, seg_train, categories)
        print(f"evaluation split, refit with seed {seed}: {scored(m)}")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
