"""Honest offline evaluation: a time split, the Zhongtai model and the baselines people reach
for, fitted on the same training rows and scored on the same test users in one run.

- Split: train = rows before the cutoff; test = rows at or after it (up to ``horizon_days``
  when given). Default cutoff: the last 20 % of the time range. The models receive only the
  training frame (``split`` returns copies; nothing else is passed), and a test proves that
  changing the test rows changes no recommendation.
- Test users: every user with at least one test row (``target`` rows when the data says
  which rows are purchases). Users unknown to a model get the popular items (every model:
  the same fallback, so that cold users do not favour one model).
- Baselines: ``popularity`` (most users in training), ``trending`` (purchases, one per user,
  item and day, decayed with a 14-day half-life: recency-weighted popularity), ``buy_again`` (each user's own most
  frequent items, ties to the most recent, padded with popularity), ``implicit_als`` and
  ``implicit_itemknn`` (BM25 item-kNN) from the ``implicit`` package, without filtering
  already-seen items (a repeat purchase is a hit for every model).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sp

from models.recs.metrics import METRICS, score_lists
from models.recs.model import Index, RecsConfig, ZhongtaiRecommender

BASELINES = ("popularity", "trending", "buy_again", "implicit_als", "implicit_itemknn")
TRENDING_HALF_LIFE_DAYS = 14.0


@dataclass
class Split:
    train: pl.DataFrame
    test: pl.DataFrame
    cutoff: float
    end: float


def default_cutoff(frame: pl.DataFrame, test_share: float = 0.2) -> float:
    lo, hi = float(frame["ts"].min()), float(frame["ts"].max())
    return hi - test_share * (hi - lo)


def time_split(
    frame: pl.DataFrame, cutoff: float | None = None, horizon_days: float | None = None
) -> Split:
    """Train strictly before ``cutoff``; test from it, for ``horizon_days`` when given."""
    cutoff = default_cutoff(frame) if cutoff is None else cutoff
    end = float(frame["ts"].max()) if horizon_days is None else cutoff + horizon_days
    train = frame.filter(pl.col("ts") < cutoff).clone()
    test = frame.filter((pl.col("ts") >= cutoff) & (pl.col("ts") <= end)).clone()
    if train.height == 0:
        raise ValueError(f"no interactions before the cutoff ({cutoff:.2f} days)")
    if test.height == 0:
        raise ValueError(f"no interactions at or after the cutoff ({cutoff:.2f} days)")
    return Split(train, test, cutoff, end)


def popularity_list(train: pl.DataFrame, n: int) -> list[str]:
    """Items by distinct users (ties: more rows, then the id, so runs are repeatable)."""
    pop = train.group_by("item").agg(
        pl.col("user").n_unique().alias("users"), pl.len().alias("rows")
    )
    return (
        pop.sort(["users", "rows", "item"], descending=[True, True, False])["item"]
        .head(n)
        .to_list()
    )


def trending_list(train: pl.DataFrame, n: int, half_life: float = TRENDING_HALF_LIFE_DAYS):
    """Items by recency-weighted purchases: one per user, item and day, weighted
    ``0.5 ** (age / half_life)`` (target rows when the data says which; ties: the id)."""
    target = train.filter(pl.col("target")) if "target" in train.columns else train
    if target.height == 0:
        target = train
    now = float(train["ts"].max())
    days = target.select("user", "item", pl.col("ts").floor().alias("day")).unique()
    return (
        days.group_by("item")
        .agg((0.5 ** ((now - pl.col("day")) / half_life)).sum().alias("w"))
        .sort(["w", "item"], descending=[True, False])["item"]
        .head(n)
        .to_list()
    )


def recs_none() -> pl.DataFrame:
    return pl.DataFrame(schema={"user": pl.String, "item": pl.String})


def _pad(recs: pl.DataFrame, users: list, popular: list[str], n: int) -> pl.DataFrame:
    """Each user's list filled up to n with popular items not already in it."""
    lists = (
        {u: items for u, items in recs.group_by("user").agg("item").iter_rows()}
        if recs.height
        else {}
    )
    rows = []
    for u in users:
        items = list(dict.fromkeys(lists.get(u, [])))[:n]
        have = set(items)
        for p in popular:
            if len(items) >= n:
                break
            if p not in have:
                items.append(p)
                have.add(p)
        rows.extend((u, item, rank) for rank, item in enumerate(items, start=1))
    return pl.DataFrame(
        rows, schema={"user": pl.String, "item": pl.String, "rank": pl.Int64}, orient="row"
    )


def buy_again(train: pl.DataFrame, users: list, n: int) -> pl.DataFrame:
    target = train.filter(pl.col("target")) if "target" in train.columns else train
    if target.height == 0:
        target = train
    counts = (
        target.filter(pl.col("user").is_in(users))
        .group_by("user", "item")
        .agg(pl.len().alias("n"), pl.col("ts").max().alias("last"))
        .sort(["user", "n", "last", "item"], descending=[False, True, True, False])
    )
    return counts.select("user", "item")


def _matrix(train: pl.DataFrame) -> tuple[Index, sp.csr_matrix]:
    index = Index.of(train)
    enc = index.encode(train).group_by("u", "i").agg(pl.col("weight").sum())
    x = sp.csr_matrix(
        (
            np.log1p(enc["weight"].to_numpy()).astype(np.float32) + 1.0,
            (enc["u"].to_numpy(), enc["i"].to_numpy()),
        ),
        shape=(len(index.users), len(index.items)),
    )
    return index, x


def implicit_recs(train: pl.DataFrame, users: list, n: int, kind: str, seed: int = 0):
    """ALS (64 factors, 15 iterations, regularisation 0.05) or BM25 item-kNN (K=100) from
    implicit, confidence log1p(summed weight) + 1, seen items allowed."""
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender
    from threadpoolctl import threadpool_limits

    index, x = _matrix(train)
    known = [u for u in users if u in index.user_pos]
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads and CSR-conversion notices
        if kind == "als":
            model = AlternatingLeastSquares(
                factors=64, regularization=0.05, iterations=15, random_state=seed
            )
        else:
            model = BM25Recommender(K=100)
        model.fit(x, show_progress=False)
        codes = np.array([index.user_pos[u] for u in known], dtype=np.int64)
        rows = []
        step = 10_000
        for start in range(0, len(codes), step):
            batch = codes[start : start + step]
            ids, _ = model.recommend(
                batch, x[batch], N=min(n, x.shape[1]), filter_already_liked_items=False
            )
            for u, items in zip(batch, ids, strict=True):
                rows.extend(
                    (index.users[u], index.items[i], r) for r, i in enumerate(items, 1) if i >= 0
                )
    return pl.DataFrame(
        rows, schema={"user": pl.String, "item": pl.String, "rank": pl.Int64}, orient="row"
    )


GROUPS = ("repeat_buyer", "browse_only", "new")


def user_groups(train: pl.DataFrame, users: list) -> pl.DataFrame:
    """user, group of every test user by what the training rows know of them: ``repeat_buyer``
    (bought before the cutoff; every row is a purchase when the data does not say which),
    ``browse_only`` (only views / carts before the cutoff), ``new`` (nothing before it)."""
    bought = train.filter(pl.col("target")) if "target" in train.columns else train
    buyers = bought["user"].unique().implode()
    seen = train["user"].unique().implode()
    return pl.DataFrame({"user": users}, schema={"user": pl.String}).with_columns(
        pl.when(pl.col("user").is_in(buyers))
        .then(pl.lit("repeat_buyer"))
        .when(pl.col("user").is_in(seen))
        .then(pl.lit("browse_only"))
        .otherwise(pl.lit("new"))
        .alias("group")
    )


def ceiling(
    train: pl.DataFrame, truth: pl.DataFrame, k: int = 10, popular: list | None = None
) -> dict:
    """What a customer's own history can reach: the share of test (user, item) pairs bought
    before the cutoff by the same user, browsed (not bought) before it, or new to them; and
    the precision@k of an oracle that shows each user exactly the test items of their own
    purchase history (resp. purchases and browsing) first, padded with nothing; with
    ``popular`` (the popularity list), the precision@k of that history oracle padded with the
    popular items: an upper bound of any blend of "what you had" and "what is popular"; and
    the precision@k of the best single list for everyone (the test's most bought items)."""
    bought = train.filter(pl.col("target")) if "target" in train.columns else train
    b = bought.select("user", "item").unique().with_columns(pl.lit(True).alias("_b"))
    v = train.select("user", "item").unique().with_columns(pl.lit(True).alias("_v"))
    t = (
        truth.join(b, on=["user", "item"], how="left")
        .join(v, on=["user", "item"], how="left")
        .with_columns(pl.col("_b").fill_null(False), pl.col("_v").fill_null(False))
    )
    n_pairs = max(t.height, 1)
    per_user = t.group_by("user").agg(pl.col("_b").sum().alias("b"), pl.col("_v").sum().alias("v"))
    n_users = max(per_user.height, 1)
    padded = {}
    if popular is not None:
        had = t.filter(pl.col("_v")).group_by("user").agg(pl.col("item"))
        oracle = dict(had.iter_rows())
        relevant = dict(t.group_by("user").agg(pl.col("item")).iter_rows())
        hits = 0
        for user, items in relevant.items():
            mine = oracle.get(user, [])[:k]
            fill = [p for p in popular if p not in set(mine)][: k - len(mine)]
            hits += len(mine) + len(set(fill) & set(items))
        padded[f"oracle_history_then_popular_precision@{k}"] = round(hits / (k * n_users), 4)
    # the same k items for everyone, the best such list: the test window's own most bought
    # items (an oracle reading the test rows), the ceiling of any popularity or trending list
    top = truth.group_by("item").len().sort(["len", "item"], descending=[True, False]).head(k)
    best_list = round(float(top["len"].sum()) / (k * n_users), 4)
    return {
        "test_pairs": t.height,
        "test_pairs_bought_before": round(int(t["_b"].sum()) / n_pairs, 4),
        "test_pairs_browsed_not_bought": round(int((t["_v"] & ~t["_b"]).sum()) / n_pairs, 4),
        "test_pairs_new_to_user": round(int((~t["_v"]).sum()) / n_pairs, 4),
        f"oracle_buy_again_precision@{k}": round(
            float(per_user["b"].clip(upper_bound=k).sum()) / (k * n_users), 4
        ),
        f"oracle_history_precision@{k}": round(
            float(per_user["v"].clip(upper_bound=k).sum()) / (k * n_users), 4
        ),
        **padded,
        f"oracle_test_popularity_precision@{k}": best_list,
    }


@dataclass
class EvaluationResult:
    metrics: pl.DataFrame  # model, metric, value
    recommendations: pl.DataFrame  # model, user, item, rank
    info: dict = field(default_factory=dict)
    by_group: pl.DataFrame | None = None  # model, group, users, metric columns
    models: dict = field(default_factory=dict)  # fitted models by name (zhongtai)

    def table(self) -> pl.DataFrame:
        """One row per model, one column per metric."""
        return self.metrics.pivot(on="metric", index="model", values="value").select(
            "model",
            *[m for m in METRICS if m in self.metrics["metric"].unique().to_list()],
            *[c for c in ("fit_seconds",) if c in self.metrics["metric"].unique().to_list()],
        )

    def value(self, model: str, metric: str) -> float:
        row = self.metrics.filter((pl.col("model") == model) & (pl.col("metric") == metric))
        return float(row["value"][0])


def evaluate(
    frame: pl.DataFrame,
    cutoff: float | None = None,
    horizon_days: float | None = None,
    n: int = 20,
    models: tuple[str, ...] = ("zhongtai", *BASELINES),
    segments: dict | None = None,
    cfg: RecsConfig | None = None,
    categories: dict | None = None,
) -> EvaluationResult:
    """Split, fit every model on the training rows, recommend n items to every test user,
    score. ``frame``: user, item, ts (days), weight [, group, target]."""
    split = time_split(frame, cutoff, horizon_days)
    test = split.test
    if "target" in test.columns:
        test = test.filter(pl.col("target"))
    truth = test.select("user", "item").unique()
    users = sorted(truth["user"].unique().to_list())
    if not users:
        raise ValueError("no test users after the cutoff")
    n_catalogue = split.train["item"].n_unique()
    popular = popularity_list(split.train, n)
    warm = set(split.train["user"].unique().to_list())
    info = {
        "cutoff_days": round(split.cutoff, 4),
        "test_end_days": round(split.end, 4),
        "train_rows": split.train.height,
        "test_rows": test.height,
        "test_users": len(users),
        "test_users_with_history": sum(1 for u in users if u in warm),
        "catalogue_items": n_catalogue,
        "test_items_new_after_cutoff": truth.filter(
            ~pl.col("item").is_in(split.train["item"].unique().implode())
        )["item"].n_unique(),
    }
    info.update(ceiling(split.train, truth, popular=popularity_list(split.train, 100)))
    groups = user_groups(split.train, users)
    info.update(
        {f"test_users_{g}": int((groups["group"] == g).sum()) for g in GROUPS},
    )
    recs_all, metric_rows, group_rows = [], [], []
    fitted = {}
    for name in models:
        t0 = time.perf_counter()
        if name == "popularity":
            recs = recs_none()
        elif name == "trending":
            recs = _pad(recs_none(), users, trending_list(split.train, n), n)
        elif name == "buy_again":
            recs = buy_again(split.train, users, n)
        elif name == "implicit_als":
            recs = implicit_recs(split.train, users, n, "als")
        elif name == "implicit_itemknn":
            recs = implicit_recs(split.train, users, n, "knn")
        elif name == "zhongtai":
            model = ZhongtaiRecommender(cfg, horizon_days=horizon_days).fit(
                split.train, segments, categories
            )
            recs = model.recommend(users, n, segments).sort("user", "rank")
            info.update({f"zhongtai_{k}": v for k, v in model.ranker_info.items()})
            fitted[name] = model
        else:
            raise ValueError(f"unknown model {name!r} (known: zhongtai, {', '.join(BASELINES)})")
        seconds = time.perf_counter() - t0
        recs = _pad(recs.select("user", "item"), users, popular, n)
        scores = score_lists(recs, truth, n_catalogue)
        metric_rows.extend((name, m, float(v)) for m, v in scores.items())
        metric_rows.append((name, "fit_seconds", round(seconds, 3)))
        recs_all.append(recs.with_columns(pl.lit(name).alias("model")))
        for g in GROUPS:
            members = groups.filter(pl.col("group") == g)["user"]
            if members.len() == 0:
                continue
            part = score_lists(
                recs.filter(pl.col("user").is_in(members.implode())),
                truth.filter(pl.col("user").is_in(members.implode())),
                n_catalogue,
            )
            part.pop("coverage@10")
            group_rows.append({"model": name, "group": g, "users": members.len(), **part})
    metrics = pl.DataFrame(
        metric_rows,
        schema={"model": pl.String, "metric": pl.String, "value": pl.Float64},
        orient="row",
    )
    recommendations = pl.concat(recs_all).select("model", "user", "item", "rank")
    by_group = pl.DataFrame(group_rows) if group_rows else None
    return EvaluationResult(metrics, recommendations, info, by_group, fitted)
