"""Recommendation fit + recommend-all: the Zhongtai model beside implicit ALS, same data.

    .venv/bin/python bench/recs.py --interactions 1000000 --users 50000 --items 5000

The data: users with a taste cluster (of 50), Zipf-like item popularity inside each cluster,
a few staple items each user comes back to, timestamps over a year. Each model runs in its
own process (fork) so that its peak RSS is its own; the figure includes the data (measured
before fitting, printed too). Fit = everything the model learns (for Zhongtai: components and
the ranker on held-out windows); recommend-all = top 20 for every user.
Not a test: run on demand, figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np
import polars as pl


def make_interactions(n: int, users: int, items: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    clusters = 50
    item_cluster = rng.integers(0, clusters, items)
    user_cluster = rng.integers(0, clusters, users)
    by_cluster = [np.where(item_cluster == c)[0] for c in range(clusters)]
    u = rng.integers(0, users, n)
    # 40 % staples: one of three items fixed per user; 60 % discovery within the cluster
    staple = rng.random(n) < 0.4
    out = np.empty(n, dtype=np.int64)
    s_idx = np.nonzero(staple)[0]
    out[s_idx] = (u[s_idx] * 7919 + rng.integers(0, 3, len(s_idx)) * 104729) % items
    d_idx = np.nonzero(~staple)[0]
    for c in range(clusters):
        members = by_cluster[c]
        if len(members) == 0:
            continue
        mask = user_cluster[u[d_idx]] == c
        k = int(mask.sum())
        ranks = np.minimum(rng.zipf(1.3, k) - 1, len(members) - 1)
        out[d_idx[mask]] = members[ranks]
    ts = rng.uniform(0, 365, n)
    return pl.DataFrame(
        {
            "user": pl.Series(u).cast(pl.String),
            "item": pl.Series(out).cast(pl.String),
            "ts": ts,
            "weight": np.ones(n),
        }
    )


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(name: str, args, queue) -> None:
    frame = make_interactions(args.interactions, args.users, args.items)
    # libraries imported before the clock starts: with PYTHONDONTWRITEBYTECODE set (as on the
    # shared machine) importing scikit-learn compiles it anew, tens of seconds under load
    import implicit.als  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    data_rss = _rss_mib()
    users = frame["user"].unique().to_list()
    t0 = time.perf_counter()
    if name == "zhongtai":
        from models.recs.model import ZhongtaiRecommender

        model = ZhongtaiRecommender(horizon_days=28).fit(frame)
        fit = time.perf_counter() - t0
        recs = model.recommend(users, 20)
        n_rows = recs.height
    else:
        import warnings

        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        from models.recs.evaluate import _matrix

        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index, x = _matrix(frame)
            model = AlternatingLeastSquares(
                factors=64, regularization=0.05, iterations=15, random_state=0
            )
            model.fit(x, show_progress=False)
            fit = time.perf_counter() - t0
            codes = np.arange(x.shape[0])
            n_rows = 0
            for start in range(0, len(codes), 10_000):
                batch = codes[start : start + 10_000]
                ids, _ = model.recommend(batch, x[batch], N=20, filter_already_liked_items=False)
                n_rows += int((ids >= 0).sum())
    total = time.perf_counter() - t0
    queue.put((name, fit, total, n_rows, data_rss, _rss_mib()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interactions", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--items", type=int, default=5_000)
    ap.add_argument("--models", default="zhongtai,implicit_als")
    args = ap.parse_args()
    ctx = mp.get_context("fork")
    print(f"{args.interactions:,} interactions, {args.users:,} users, {args.items:,} items")
    print("| model | fit s | fit + recommend-all s | rows | data RSS MiB | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models.split(","):
        q = ctx.Queue()
        p = ctx.Process(target=run, args=(name, args, q))
        p.start()
        name, fit, total, rows, data_rss, peak = q.get()
        p.join()
        fit_s = "n/a" if fit != fit else f"{fit:.1f}"
        print(f"| {name} | {fit_s} | {total:.1f} | {rows:,} | {data_rss:,.0f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
