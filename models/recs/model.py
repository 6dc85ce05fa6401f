"""The Zhongtai recommender: explicit buy-again with each item's own repurchase cycle, item-kNN
discovery, popular-in-segment for thin users, blended by a learned ranker.

Why this shape. In cosmetics, personal care and grocery most of what a customer buys next is
something they bought before, when it runs out; the rest is discovery. A score of either alone
loses to the other's baseline, and a hand-set blend is tuned to one catalogue. So:

1. **Components**, fitted on the training interactions (``user, item, ts, weight``):
   - a user profile: each interaction weighted and decayed, ``w * 0.5 ** (age / half_life)``;
   - buy-again statistics per (user, item): distinct days, last time, and per item its
     repurchase cycle (median gap between a customer's consecutive purchase days, shrunk to
     the catalogue's median when an item has few gaps) and its repeat rate (share of its
     buyers who came back, smoothed); the due-ness of an item for a user is the time since
     they last had it divided by the item's cycle; per (user, item) the user's own cycle (their
     gaps shrunk to the item's), per user their purchase cadence and share of repeat buys;
   - item-kNN: items as vectors over users, BM25-weighted (a user who touches everything says
     less about each item; saturation of heavy counts), cosine similarity with shrinkage
     ``dot / (|a||b| + shrink)`` so that two items seen together by two users are not
     "identical", top-K neighbours per item; one similarity per signal group (co-purchase,
     co-view) when the interactions say which is which;
   - popularity overall, recently, and within the user's segment.
2. **Candidates** per user: their own history (buy again), their kNN neighbours, the popular
   items of their segment and overall.
3. **Ranker**: a gradient-boosted classifier (scikit-learn) on features of each candidate
   (due-ness, repeat rate, counts, kNN scores, popularity...), trained on the training data
   itself: the last stretch of the training window is held out as labels and the components
   are refitted on what comes before it. Nothing after the cutoff is read. With too few
   positives to learn from, a fixed blend ranks instead (``fixed_blend``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sp

FEATURES = (
    "hist_weight",
    "hist_days",
    "days_since",
    "due_ratio",
    "cycle",
    "repeat_rate",
    "pop",
    "pop_recent",
    "seg_share",
    "user_items",
    "user_days_since",
    "item_age",
    "browse_weight",
    "due_bought",
    "user_bought_days",
    "recency_rank",
    "pop_trend",
    "seg_trend",
    "cat_affinity",
    "cat_bought",
    "trend_in_cat",
    "user_repeat_share",
    "item_share_of_user",
    "own_due",
    "own_cycle",
    "user_due",
)


COLD_ORDERS = ("pop", "pop_recent", "trend", "first", "first_trend")
# what ``ZhongtaiRecommender.fit`` learns beyond the components of its data (``learned``)
LEARNED = ("ranker", "feature_names", "cold_order", "ranker_info")


@dataclass
class RecsConfig:
    """Hyperparameters. Defaults are general (not fitted to one data set)."""

    half_life_days: float = 60.0
    neighbours: int = 50
    shrink: float = 10.0
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    candidates_history: int = 50
    candidates_knn: int = 50
    candidates_popular: int = 30
    candidates_all_below: int = 500
    trend_half_life_days: float = 14.0
    category_prior: float = 5.0
    ranker_users: int = 30_000
    ranker_windows: int = 6
    ranker_stride: float = 0.5
    ranker_max_rows: int = 600_000
    ranker_min_positives: int = 30
    ranker_max_iter: int = 100
    ranker_leaves: int = 15
    ranker_learning_rate: float = 0.1
    cycle_prior_gaps: float = 5.0
    repeat_prior_buyers: float = 10.0
    seed: int = 0


@dataclass
class Index:
    users: np.ndarray  # user id per index
    items: np.ndarray  # item id per index
    user_pos: dict = field(default_factory=dict)
    item_pos: dict = field(default_factory=dict)

    @classmethod
    def of(cls, frame: pl.DataFrame) -> Index:
        users = np.array(frame["user"].unique().sort().to_list(), dtype=object)
        items = np.array(frame["item"].unique().sort().to_list(), dtype=object)
        return cls(
            users,
            items,
            {u: k for k, u in enumerate(users)},
            {i: k for k, i in enumerate(items)},
        )

    def encode(self, frame: pl.DataFrame) -> pl.DataFrame:
        umap = pl.DataFrame(
            {"user": self.users.tolist(), "u": np.arange(len(self.users), dtype=np.int32)},
            schema={"user": pl.String, "u": pl.Int32},
        )
        imap = pl.DataFrame(
            {"item": self.items.tolist(), "i": np.arange(len(self.items), dtype=np.int32)},
            schema={"item": pl.String, "i": pl.Int32},
        )
        return frame.join(umap, on="user", how="inner").join(imap, on="item", how="inner")


def shrunk_gap(log_sum, n, prior_log, m: float):
    """A repurchase gap as the geometric mean of ``n`` gaps (``log_sum``: their logs summed),
    shrunk towards ``exp(prior_log)`` as if ``m`` more gaps of that length were seen."""
    return np.exp((log_sum + m * prior_log) / (n + m))


def bm25_item_vectors(x: sp.csr_matrix, k1: float, b: float) -> sp.csc_matrix:
    """BM25 weights of a users x items matrix, items as documents over users as terms: a user
    with many items gets a low idf; a heavy count saturates; long items are normalised."""
    x = x.tocoo()
    n_items = x.shape[1]
    items_per_user = np.bincount(x.row, minlength=x.shape[0])
    idf = np.log(n_items / (1.0 + items_per_user)).clip(min=0.0) + 1e-3
    length = np.bincount(x.col, weights=x.data, minlength=n_items)
    avg = length.mean() if n_items else 1.0
    norm = k1 * (1.0 - b + b * length / (avg or 1.0))
    data = x.data * (k1 + 1.0) / (x.data + norm[x.col]) * idf[x.row]
    return sp.csc_matrix((data, (x.row, x.col)), shape=x.shape)


def item_similarity(x: sp.csr_matrix, cfg: RecsConfig) -> sp.csr_matrix:
    """items x items: cosine of BM25 item vectors with shrinkage, top-K per row, no diagonal."""
    n_items = x.shape[1]
    if x.nnz == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    v = bm25_item_vectors(x, cfg.bm25_k1, cfg.bm25_b)
    norms = np.sqrt(np.asarray(v.multiply(v).sum(axis=0)).ravel())
    rows, cols, vals = [], [], []
    chunk = max(1, int(2e7 // max(n_items, 1)))
    vt = v.T.tocsr()
    for start in range(0, n_items, chunk):
        stop = min(n_items, start + chunk)
        dots = (vt[start:stop] @ v).toarray()
        denom = norms[start:stop, None] * norms[None, :] + cfg.shrink
        sims = dots / np.where(denom > 0, denom, 1.0)
        sims[np.arange(stop - start), np.arange(start, stop)] = 0.0
        k = min(cfg.neighbours, n_items - 1)
        if k <= 0:
            continue
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_vals = np.take_along_axis(sims, top, axis=1)
        keep = top_vals > 0
        r = np.repeat(np.arange(start, stop), k).reshape(-1, k)
        rows.append(r[keep])
        cols.append(top[keep])
        vals.append(top_vals[keep])
    if not rows:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
    )


class Components:
    """Everything the features need, fitted on one window of interactions (encoded: u, i)."""

    def __init__(
        self,
        frame: pl.DataFrame,
        n_users: int,
        n_items: int,
        now: float,
        cfg: RecsConfig,
        segments: np.ndarray | None = None,
        categories: np.ndarray | None = None,
    ):
        self.cfg, self.now, self.n_users, self.n_items = cfg, now, n_users, n_items
        f = frame.with_columns(
            (pl.col("weight") * (0.5 ** ((now - pl.col("ts")) / cfg.half_life_days))).alias("wd"),
            pl.col("ts").floor().alias("day"),
        )
        prof = f.group_by("u", "i").agg(pl.col("wd").sum())
        self.profile = sp.csr_matrix(
            (
                np.log1p(prof["wd"].to_numpy()).astype(np.float32),
                (prof["u"].to_numpy(), prof["i"].to_numpy()),
            ),
            shape=(n_users, n_items),
        )
        groups = sorted(f["group"].unique().to_list()) if "group" in f.columns else ["all"]
        self.groups = groups
        self.sims = {}
        for g in groups:
            fg = f.filter(pl.col("group") == g) if "group" in f.columns else f
            agg = fg.group_by("u", "i").agg(pl.col("wd").sum())
            xg = sp.csr_matrix(
                (agg["wd"].to_numpy(), (agg["u"].to_numpy(), agg["i"].to_numpy())),
                shape=(n_users, n_items),
            )
            self.sims[g] = item_similarity(xg, cfg)
        # buy-again statistics on the target rows (purchases when the data says which)
        target = f.filter(pl.col("target")) if "target" in f.columns else f
        if target.height == 0:
            target = f
        days = target.group_by("u", "i", "day").agg().sort("u", "i", "day")
        gaps = days.with_columns(
            (pl.col("day") - pl.col("day").shift(1).over("u", "i")).alias("gap")
        )
        is_target = pl.col("target") if "target" in f.columns else pl.lit(True)
        self.hist = (
            f.group_by("u", "i")
            .agg(
                pl.col("wd").sum().alias("wd"),
                pl.col("wd").filter(~is_target).sum().alias("wd_browse"),
                pl.col("ts").max().alias("last_ts"),
            )
            .join(
                gaps.group_by("u", "i").agg(
                    pl.len().alias("n_days"),
                    pl.col("day").max().alias("last_target_ts"),
                    # the user's own rebuy gaps of this item (log, summed; count)
                    pl.col("gap").log().sum().alias("own_log_gaps"),
                    pl.col("gap").count().alias("own_gaps"),
                ),
                on=["u", "i"],
                how="left",
            )
            .with_columns(pl.col("n_days").fill_null(0))
        )
        # distinct purchase days per user (log): a repeat buyer and a first-timer differ
        self.user_bought_days = np.zeros(n_users)
        per_user = days.group_by("u").agg(pl.col("day").n_unique().alias("d"))
        self.user_bought_days[per_user["u"].to_numpy()] = np.log1p(per_user["d"].to_numpy())
        self._fit_user_repeats(gaps)
        # each user's purchase cadence: the geometric mean gap between their purchase days,
        # shrunk to everyone's with ``cycle_prior_gaps`` gaps; and their last purchase day
        udays = days.group_by("u", "day").agg().sort("u", "day")
        ugaps = udays.with_columns((pl.col("day") - pl.col("day").shift(1).over("u")).alias("g"))
        per_u = ugaps.group_by("u").agg(
            pl.col("g").log().sum().alias("lg"),
            pl.col("g").count().alias("n"),
            pl.col("day").max().alias("last"),
        )
        g_all = ugaps["g"].drop_nulls()
        g_log = float(np.log(g_all.to_numpy()).mean()) if g_all.len() else math.log(30)
        self.user_cadence = np.full(n_users, math.exp(g_log))
        self.user_last_bought = np.full(n_users, np.nan)
        if per_u.height:
            uu, nn = per_u["u"].to_numpy(), per_u["n"].to_numpy().astype(float)
            mg = cfg.cycle_prior_gaps
            self.user_cadence[uu] = shrunk_gap(per_u["lg"].to_numpy(), nn, g_log, mg)
            self.user_last_bought[uu] = per_u["last"].to_numpy()
        per_item = (
            gaps.filter(pl.col("gap").is_not_null())
            .group_by("i")
            .agg(pl.col("gap").log().median().alias("log_gap"), pl.len().alias("n_gaps"))
        )
        all_gaps = gaps["gap"].drop_nulls()
        global_log = float(np.log(all_gaps.to_numpy()).mean()) if all_gaps.len() else math.log(30)
        m = cfg.cycle_prior_gaps
        cycle = np.full(n_items, math.exp(global_log))
        if per_item.height:
            log_gap = per_item["log_gap"].to_numpy()
            n = per_item["n_gaps"].to_numpy()
            cycle[per_item["i"].to_numpy()] = shrunk_gap(n * log_gap, n, global_log, m)
        self.cycle = cycle
        buyers = (
            days.group_by("u", "i")
            .agg(pl.len().alias("n"))
            .group_by("i")
            .agg(pl.len().alias("buyers"), (pl.col("n") >= 2).sum().alias("repeaters"))
        )
        total_b = buyers["buyers"].sum() if buyers.height else 0
        g_rate = (buyers["repeaters"].sum() / total_b) if total_b else 0.0
        mb = cfg.repeat_prior_buyers
        rate = np.full(n_items, g_rate)
        if buyers.height:
            rate[buyers["i"].to_numpy()] = (buyers["repeaters"].to_numpy() + mb * g_rate) / (
                buyers["buyers"].to_numpy() + mb
            )
        self.repeat_rate = rate
        self.buyers = np.zeros(n_items)
        if buyers.height:
            self.buyers[buyers["i"].to_numpy()] = buyers["buyers"].to_numpy()
        # popularity: distinct users, overall and in the recent stretch
        span = float(f["ts"].max() - f["ts"].min()) if f.height else 0.0
        recent_from = now - max(7.0, 0.1 * span)
        self.pop = np.bincount(prof["i"].to_numpy(), minlength=n_items).astype(float)
        rec = f.filter(pl.col("ts") >= recent_from).group_by("u", "i").agg()
        self.pop_recent = np.bincount(rec["i"].to_numpy(), minlength=n_items).astype(float)
        self.active_users = max(int(prof["u"].n_unique()), 1)
        self.recent_users = max(int(rec["u"].n_unique()), 1)
        first = f.group_by("i").agg(pl.col("ts").min())
        self.item_first = np.full(n_items, np.nan)
        self.item_first[first["i"].to_numpy()] = first["ts"].to_numpy()
        self.popular_order = self.order("pop_recent")
        self.user_items = np.diff(self.profile.indptr).astype(float)
        last = f.group_by("u").agg(pl.col("ts").max())
        self.user_last = np.full(n_users, np.nan)
        self.user_last[last["u"].to_numpy()] = last["ts"].to_numpy()
        # segments: share of a segment's users who had each item
        self.segments = segments
        self.seg_share = None
        if segments is not None:
            codes = segments
            n_seg = int(codes.max()) + 1 if len(codes) else 1
            seg_of = codes[prof["u"].to_numpy()]
            counts = np.zeros((n_seg, n_items))
            np.add.at(counts, (seg_of, prof["i"].to_numpy()), 1.0)
            seg_users = np.bincount(codes, minlength=n_seg).astype(float)
            self.seg_share = counts / np.maximum(seg_users, 1.0)[:, None]
            self.seg_order = np.argsort(-self.seg_share, axis=1, kind="stable")
        self._fit_trend(f, target, days, segments)
        self._fit_categories(f, target, categories)
        # 1 = the item the user touched last, 2 the one before... (ties: by item)
        self.hist = self.hist.sort("u", "i").with_columns(
            pl.col("last_ts").rank("ordinal", descending=True).over("u").alias("recency_rank")
        )

    def _fit_user_repeats(self, gaps: pl.DataFrame) -> None:
        """Per user, the share of their (item, day) purchases that repeat an item they had
        bought before, shrunk to everyone's share with ``repeat_prior_buyers`` purchases (a
        stock-up buyer and an explorer differ); per (user, item) the item's share of the
        user's purchase rows; per item, how many users had it as (one of) their first
        purchase, overall and decayed (what new customers start with)."""
        rows = gaps.group_by("u").agg(
            pl.len().alias("n"), pl.col("gap").is_not_null().sum().alias("again")
        )
        total = float(rows["n"].sum()) if rows.height else 0.0
        g = float(rows["again"].sum()) / total if total else 0.0
        m = self.cfg.repeat_prior_buyers
        self.user_repeat_share = np.full(self.n_users, g)
        self.user_rows = np.zeros(self.n_users)
        if rows.height:
            u = rows["u"].to_numpy()
            n, again = rows["n"].to_numpy().astype(float), rows["again"].to_numpy()
            self.user_repeat_share[u] = (again + m * g) / (n + m)
            self.user_rows[u] = n
        first = gaps.filter(pl.col("day") == pl.col("day").min().over("u"))
        hl = self.cfg.trend_half_life_days
        self.first = np.bincount(first["i"].to_numpy(), minlength=self.n_items).astype(float)
        self.first_trend = np.bincount(
            first["i"].to_numpy(),
            weights=(0.5 ** ((self.now - first["day"]) / hl)).to_numpy(),
            minlength=self.n_items,
        )

    def _fit_trend(self, f, target, days, segments) -> None:
        """Trending: purchases (target rows; one per user, item and day) decayed with a short
        half-life, as shares of the total, overall and within each segment."""
        hl = self.cfg.trend_half_life_days
        d = days.with_columns((0.5 ** ((self.now - pl.col("day")) / hl)).alias("w"))
        self.trend = np.bincount(
            d["i"].to_numpy(), weights=d["w"].to_numpy(), minlength=self.n_items
        )
        self.trend = self.trend / max(self.trend.sum(), 1e-12)
        self.seg_trend = None
        if segments is not None:
            n_seg = int(segments.max()) + 1 if len(segments) else 1
            counts = np.zeros((n_seg, self.n_items))
            np.add.at(counts, (segments[d["u"].to_numpy()], d["i"].to_numpy()), d["w"].to_numpy())
            self.seg_trend = counts / np.maximum(counts.sum(1, keepdims=True), 1e-12)

    def _fit_categories(self, f, target, categories) -> None:
        """Category affinity (an item attribute such as category, when given): each user's
        decayed interactions (resp. purchases) per category as a share, shrunk to the
        catalogue's share with ``category_prior`` pseudo-interactions; and each item's share of
        its category's trend."""
        self.categories = categories
        if categories is None:
            return
        cats = np.where(categories >= 0, categories, categories.max() + 1)
        n_cat = int(cats.max()) + 1
        self.item_cat = cats

        def share(rows: pl.DataFrame) -> np.ndarray:
            m = np.zeros((self.n_users, n_cat))
            np.add.at(m, (rows["u"].to_numpy(), cats[rows["i"].to_numpy()]), rows["wd"].to_numpy())
            prior = m.sum(0) / max(m.sum(), 1e-12)
            a = self.cfg.category_prior
            return (m + a * prior[None, :]) / (m.sum(1, keepdims=True) + a)

        self.cat_affinity = share(f)
        self.cat_bought = share(target)
        cat_total = np.bincount(cats, weights=self.trend, minlength=n_cat)
        self.trend_in_cat = self.trend / np.maximum(cat_total[cats], 1e-12)

    def order(self, by: str) -> np.ndarray:
        """Items by popularity: ``pop`` (users over the whole window) or ``pop_recent`` (the
        recent stretch), the other as the tie-break; ``trend`` (decayed purchases); ``first`` and
        ``first_trend`` (items of customers' first purchase day, all and decayed)."""
        if by == "pop":
            return np.lexsort((-self.pop_recent, -self.pop))
        if by == "trend":
            return np.lexsort((-self.pop, -self.trend))
        if by == "first":  # what customers bought on their first purchase day
            return np.lexsort((-self.pop, -self.first))
        if by == "first_trend":  # the same, recent first purchases weighing more
            return np.lexsort((-self.pop, -self.first_trend))
        return np.lexsort((-self.pop, -self.pop_recent))

    def knn_scores(self, users: np.ndarray) -> dict[str, np.ndarray]:
        """Dense users x items kNN scores per group for a batch of users."""
        prof = self.profile[users]
        return {g: (prof @ s).toarray() for g, s in self.sims.items()}

    def candidates(self, users: np.ndarray, knn_total: np.ndarray) -> tuple[np.ndarray, ...]:
        """(row in the batch, item) of every candidate, sorted by row then item: the user's
        history (heaviest first, at most ``candidates_history``), their top kNN items, the
        popular items overall and of their segment. Whole-batch array operations."""
        cfg = self.cfg
        n_batch, n_items = len(users), self.n_items
        if n_items <= cfg.candidates_all_below:  # a small catalogue: every item is a candidate
            return np.repeat(np.arange(n_batch), n_items), np.tile(np.arange(n_items), n_batch)
        prof = self.profile[users].tocoo()
        h_rows, h_items = prof.row.astype(np.int64), prof.col.astype(np.int64)
        if cfg.candidates_history < n_items and len(h_rows):
            order = np.lexsort((-prof.data, h_rows))
            h_rows, h_items = h_rows[order], h_items[order]
            first = np.searchsorted(h_rows, np.arange(n_batch))
            keep = np.arange(len(h_rows)) - first[h_rows] < cfg.candidates_history
            h_rows, h_items = h_rows[keep], h_items[keep]
        parts_r, parts_i = [h_rows], [h_items]
        k = min(cfg.candidates_knn, n_items)
        if k > 0 and n_batch:
            top = (
                np.argpartition(-knn_total, k - 1, axis=1)[:, :k]
                if k < n_items
                else np.broadcast_to(np.arange(n_items), (n_batch, n_items))
            )
            r = np.repeat(np.arange(n_batch), top.shape[1]).reshape(top.shape)
            pos = np.take_along_axis(knn_total, top, axis=1) > 0
            parts_r.append(r[pos])
            parts_i.append(top[pos])
        n_pop = min(cfg.candidates_popular, n_items)
        rows = np.arange(n_batch)
        parts_r.append(np.repeat(rows, n_pop))
        parts_i.append(np.tile(self.popular_order[:n_pop], n_batch))
        if self.seg_share is not None:
            parts_r.append(np.repeat(rows, n_pop))
            parts_i.append(self.seg_order[self.segments[users], :n_pop].ravel())
        key = _sorted_unique(np.concatenate(parts_r) * n_items + np.concatenate(parts_i))
        return key // n_items, key % n_items

    def candidates_and_features(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        """(u, i, feature matrix, feature names) of every candidate of a batch of users."""
        knn = self.knn_scores(users)
        knn_total = sum(knn.values())
        rows, items = self.candidates(users, knn_total)
        u = users[rows]
        cand = pl.DataFrame({"u": u.astype(np.int32), "i": items.astype(np.int32)})
        h = cand.join(self.hist, on=["u", "i"], how="left")
        wd = h["wd"].fill_null(0.0).to_numpy()
        n_days = h["n_days"].fill_null(0).to_numpy().astype(float)
        last = h["last_ts"].to_numpy().astype(float)
        last_target = h["last_target_ts"].to_numpy().astype(float)
        since = self.now - last  # NaN when never seen
        since_bought = self.now - last_target  # NaN when never bought
        own_n = h["own_gaps"].fill_null(0).to_numpy().astype(float)
        own_lg = h["own_log_gaps"].fill_null(0.0).to_numpy().astype(float)
        m = self.cfg.cycle_prior_gaps
        own_cycle = shrunk_gap(own_lg, own_n, np.log(self.cycle[items]), m)
        cols = {
            "hist_weight": np.log1p(wd),
            "hist_days": n_days,
            "days_since": since,
            "due_ratio": since / self.cycle[items],
            "cycle": self.cycle[items],
            "repeat_rate": self.repeat_rate[items],
            # shares of the active users, not counts: comparable between the held-out
            # windows the ranker learns on and the full history it scores with
            "pop": self.pop[items] / self.active_users,
            "pop_recent": self.pop_recent[items] / self.recent_users,
            "seg_share": (
                self.seg_share[self.segments[u], items]
                if self.seg_share is not None
                else np.zeros(len(items))
            ),
            "user_items": np.log1p(self.user_items[u]),
            "user_days_since": self.now - self.user_last[u],
            "item_age": self.now - self.item_first[items],
            "browse_weight": np.log1p(h["wd_browse"].fill_null(0.0).to_numpy()),
            "due_bought": since_bought / self.cycle[items],
            "user_bought_days": self.user_bought_days[u],
            "recency_rank": h["recency_rank"].to_numpy().astype(float),
            "pop_trend": self.trend[items] * self.n_items,
            "seg_trend": (
                self.seg_trend[self.segments[u], items] * self.n_items
                if self.seg_trend is not None
                else np.zeros(len(items))
            ),
            "cat_affinity": self._cat(
                self.cat_affinity if self.categories is not None else None, u, items
            ),
            "cat_bought": self._cat(
                self.cat_bought if self.categories is not None else None, u, items
            ),
            "trend_in_cat": (
                self.trend_in_cat[items] if self.categories is not None else np.zeros(len(items))
            ),
            "user_repeat_share": self.user_repeat_share[u],
            # the user's own cycle of this item (their gaps, shrunk to the item's cycle with
            # ``cycle_prior_gaps`` gaps) and the time since they last bought it over it
            "own_due": since_bought / own_cycle,
            "own_cycle": own_cycle,
            "user_due": (self.now - self.user_last_bought[u]) / self.user_cadence[u],
            "item_share_of_user": n_days / np.maximum(self.user_rows[u], 1.0),
        }
        for g, scores in knn.items():
            cols[f"knn_{g}"] = scores[rows, items]
        cols["knn_rank"] = _row_ranks(knn_total[rows, items], rows)
        names = self.feature_names()
        # each column cast to float32 in place: the same values as stacking them as float64
        # and casting the whole (a 2.2M x 29 float64 copy at 10,000 customers x 400 days)
        x = np.empty((len(items), len(names)), dtype=np.float32)
        for k, n in enumerate(names):
            x[:, k] = cols[n]
        return u, items, x, names

    def feature_names(self) -> list[str]:
        """The columns of ``candidates_and_features``: the fixed features, one kNN score per
        signal group, the kNN rank (what a ranker fitted on other components must match)."""
        return [*FEATURES, *(f"knn_{g}" for g in self.sims), "knn_rank"]

    def _cat(self, matrix: np.ndarray | None, u: np.ndarray, items: np.ndarray) -> np.ndarray:
        if matrix is None:
            return np.zeros(len(items))
        return matrix[u, self.item_cat[items]]

    def batches(self, users: np.ndarray):
        size = int(max(64, min(4096, 2e7 // max(self.n_items, 1) // max(len(self.sims), 1))))
        for start in range(0, len(users), size):
            yield users[start : start + size]


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """np.unique by one sort (numpy 2's hash-based unique is many times slower on int keys)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of ``keys`` in ``sorted_keys`` (sorted, unique) by binary search."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys).clip(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _row_ranks(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rank (1 = best) of each candidate's kNN score among its user's candidates (``rows``
    sorted); NaN for a candidate without a kNN score. O(candidates), no users x items sort."""
    order = np.lexsort((-scores, rows))
    first = np.searchsorted(rows[order], rows[order])
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(len(scores)) - first + 1.0
    return np.where(scores > 0, ranks, np.nan)


def fixed_blend(x: np.ndarray, names: list[str]) -> np.ndarray:
    """The ranking used when there is too little data to learn one: due repeat items first
    (repeat rate x a bell around the item's cycle), then kNN, then popularity."""
    col = {n: x[:, k] for k, n in enumerate(names)}
    due = np.nan_to_num(col["due_ratio"], nan=np.inf)
    bell = np.exp(-0.5 * np.log(np.clip(due, 1e-3, 1e6)) ** 2)
    again = np.where(col["hist_days"] > 0, col["repeat_rate"] * (0.5 + bell), 0.0)
    knn = sum(col[n] for n in names if n.startswith("knn_") and n != "knn_rank")
    knn = knn / (knn.max() or 1.0)
    return 2.0 * again + 0.5 * col["hist_weight"] + knn + 0.01 * col["pop_recent"]


class ZhongtaiRecommender:
    """fit(train) then recommend(users, n). ``train``: user, item, ts (days), weight, and
    optionally ``group`` (signal group for its own kNN, e.g. purchase / browse) and ``target``
    (rows that count as a purchase, for buy-again and the ranker's labels)."""

    name = "zhongtai"

    def __init__(self, cfg: RecsConfig | None = None, horizon_days: float | None = None):
        self.cfg = cfg or RecsConfig()
        self.horizon_days = horizon_days
        self.ranker = None
        self.feature_names: list[str] | None = None
        self.cold_order = "pop_recent"
        self.ranker_info: dict = {}
        self.segment_index: dict = {}

    def fit(
        self, train: pl.DataFrame, segments: dict | None = None, categories: dict | None = None
    ) -> ZhongtaiRecommender:
        """``segments``: user -> segment; ``categories``: item -> category (or any item
        attribute that groups items), both optional."""
        enc = self._encode(train, segments, categories)
        now = float(enc["ts"].max())
        span = now - float(enc["ts"].min())
        horizon = self.horizon_days or max(1.0, 0.2 * span)
        self._fit_ranker(enc, now, horizon)
        self._fit_components(enc, now)
        return self

    def learned(self) -> dict:
        """What the fit learned beyond the components (``LEARNED``: the ranker, its feature
        columns, the cold users' popularity order, what the ranker saw): the part a later
        run can reuse with components of its own data (``refresh``)."""
        return {k: getattr(self, k) for k in LEARNED}

    def refresh(
        self,
        train: pl.DataFrame,
        learned: dict,
        segments: dict | None = None,
        categories: dict | None = None,
    ) -> ZhongtaiRecommender:
        """The components fitted on ``train`` (every interaction up to now: the profiles,
        buy-again, item-kNN similarities, popularity, trends) with the ranker and cold order
        of an earlier fit (``learned``) instead of fitting them again: the ranker's features
        are per candidate, not per item or user id, so it scores users and SKUs it never
        saw. The caller checks ``components.feature_names()`` against the ranker's."""
        for k in LEARNED:
            setattr(self, k, learned[k])
        enc = self._encode(train, segments, categories)
        self._fit_components(enc, float(enc["ts"].max()))
        return self

    def _encode(self, train: pl.DataFrame, segments: dict | None, categories: dict | None):
        self.index = Index.of(train)
        self.segment_codes = self._segment_codes(segments)
        self.category_codes = self._category_codes(categories)
        return self.index.encode(train)

    def _fit_components(self, enc: pl.DataFrame, now: float) -> None:
        self.components = Components(
            enc,
            len(self.index.users),
            len(self.index.items),
            now,
            self.cfg,
            self.segment_codes,
            self.category_codes,
        )
        self.components.popular_order = self.components.order(self.cold_order)

    def _segment_codes(self, segments: dict | None) -> np.ndarray | None:
        if not segments:
            return None
        names = sorted({str(s) for s in segments.values() if s is not None})
        code = {s: k + 1 for k, s in enumerate(names)}  # 0: unknown segment
        self.segment_index = code
        return np.array(
            [code.get(str(segments.get(u)), 0) for u in self.index.users], dtype=np.int64
        )

    def _category_codes(self, categories: dict | None) -> np.ndarray | None:
        """Category code per item index (-1: unknown); None without categories."""
        if not categories:
            return None
        names = sorted({str(c) for c in categories.values() if c is not None})
        code = {c: k for k, c in enumerate(names)}
        codes = np.array(
            [code.get(str(categories.get(i)), -1) for i in self.index.items], dtype=np.int64
        )
        return codes if (codes >= 0).any() else None

    def _window(self, enc: pl.DataFrame, split: float, horizon: float, max_users: int, seed: int):
        """Features of the candidates of users active in [split, split + horizon), computed
        from the rows before ``split``, labelled by what they then had (or bought)."""
        inner = enc.filter(pl.col("ts") < split)
        held = enc.filter((pl.col("ts") >= split) & (pl.col("ts") < split + horizon))
        if "target" in held.columns and held["target"].any():
            held = held.filter(pl.col("target"))
        if inner.height == 0 or held.height == 0:
            return None
        comp = Components(
            inner,
            len(self.index.users),
            len(self.index.items),
            float(inner["ts"].max()),
            self.cfg,
            self.segment_codes,
            self.category_codes,
        )
        warm = np.unique(inner["u"].to_numpy())
        users = np.intersect1d(np.unique(held["u"].to_numpy()), warm)
        if len(users) > max_users:
            rng = np.random.default_rng(seed)
            users = np.sort(rng.choice(users, max_users, replace=False))
        n_items = len(self.index.items)
        positives = _sorted_unique(
            held["u"].to_numpy().astype(np.int64) * n_items + held["i"].to_numpy()
        )
        xs, ys, names = [], [], None
        for batch in comp.batches(users):
            u, i, x, names = comp.candidates_and_features(batch)
            xs.append(x)
            ys.append(_contains(positives, u.astype(np.int64) * n_items + i))
        if not xs:
            return None
        # users new in this stretch: which popularity order would have served them better
        cold = held.filter(~pl.col("u").is_in(warm.tolist()))
        cold_hits = {}
        for by in COLD_ORDERS:
            top = comp.order(by)[:10]
            cold_hits[by] = int(cold.select("u", "i").unique()["i"].is_in(top.tolist()).sum())
        return np.vstack(xs), np.concatenate(ys), names, len(users), len(positives), cold_hits

    def _fit_ranker(self, enc: pl.DataFrame, now: float, horizon: float) -> None:
        """Hold out the last ``horizon`` days of the training data as labels, and the
        ``ranker_windows - 1`` stretches before it (more examples from the same history)."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        windows = []
        per_window = max(1, self.cfg.ranker_users // self.cfg.ranker_windows)
        start = float(enc["ts"].min())
        stride = self.cfg.ranker_stride * horizon
        for k in range(self.cfg.ranker_windows):
            split = now - horizon - k * stride
            if k > 0 and split - start < 0.5 * (now - start):
                break  # a window with much less history than the model will score with
            w = self._window(enc, split, horizon, per_window, self.cfg.seed + k)
            if w is not None:
                windows.append(w)
        if not windows:
            self.ranker_info = {"ranker": "fixed blend (no held-out stretch in training)"}
            return
        # new customers get popular items: the order (over the whole history or recent) that
        # hit more of what new customers bought in the held-out stretches (ties: recent)
        hits = {by: sum(w[5][by] for w in windows) for by in COLD_ORDERS}
        self.cold_order = max(COLD_ORDERS, key=lambda by: (hits[by], by == "pop_recent"))
        x = np.vstack([w[0] for w in windows])
        y = np.concatenate([w[1] for w in windows])
        if len(y) > self.cfg.ranker_max_rows:
            # every positive, a uniform sample of negatives: the order of the scores is what
            # matters, and the boosting time grows with the rows
            rng = np.random.default_rng(self.cfg.seed)
            neg = np.flatnonzero(~y)
            keep_neg = max(self.cfg.ranker_max_rows - int(y.sum()), 0)
            keep = np.sort(
                np.concatenate(
                    [np.flatnonzero(y), rng.choice(neg, min(keep_neg, len(neg)), replace=False)]
                )
            )
            x, y = x[keep], y[keep]
        names = windows[0][2]
        self.ranker_info = {
            "cold_order": self.cold_order,
            "cold_hits": hits,
            "ranker_windows": len(windows),
            "ranker_users": int(sum(w[3] for w in windows)),
            "ranker_rows": int(len(y)),
            "ranker_positives": int(y.sum()),
            "candidate_recall": round(float(y.sum()) / max(sum(w[4] for w in windows), 1), 4),
        }
        if y.sum() < self.cfg.ranker_min_positives or y.all():
            self.ranker_info["ranker"] = "fixed blend (too few held-out positives)"
            return
        clf = HistGradientBoostingClassifier(
            max_iter=self.cfg.ranker_max_iter,
            learning_rate=self.cfg.ranker_learning_rate,
            max_leaf_nodes=self.cfg.ranker_leaves,
            min_samples_leaf=50,
            l2_regularization=1.0,
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=10,
            random_state=self.cfg.seed,
        )
        with threadpool_limits(1):  # 2 shared cores: no OpenMP oversubscription
            clf.fit(x, y)
        self.ranker, self.feature_names = clf, names
        self.ranker_info["ranker"] = "gradient boosting"

    def score(self, x: np.ndarray, names: list[str]) -> np.ndarray:
        if self.ranker is not None:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):  # as in fit: no OpenMP oversubscription
                return self.ranker.predict_proba(x)[:, 1]
        return fixed_blend(x, names)

    def recommend(self, users: list, n: int = 20, segments: dict | None = None) -> pl.DataFrame:
        """Top-n (user, item, rank, score, source) for each user; users unknown to the model
        get the popular items of their segment (``segments``: user -> segment), else overall.
        ``source`` says why: buy_again (bought before), viewed (browsed, never bought),
        similar (kNN), popular."""
        comp = self.components
        known = [u for u in users if u in self.index.user_pos]
        cold = [u for u in users if u not in self.index.user_pos]
        frames = []
        codes = np.array([self.index.user_pos[u] for u in known], dtype=np.int64)
        for batch in comp.batches(codes):
            u, i, x, names = comp.candidates_and_features(batch)
            s = self.score(x, names)
            col = {nm: x[:, k] for k, nm in enumerate(names)}
            knn = sum(col[nm] for nm in names if nm.startswith("knn_") and nm != "knn_rank")
            source = np.select(
                [col["hist_days"] > 0, col["browse_weight"] > 0, knn > 0],
                ["buy_again", "viewed", "similar"],
                "popular",
            )
            frames.append(
                pl.DataFrame({"u": u, "i": i, "score": s.astype(np.float64), "source": source})
            )
        out = []
        if frames:
            ranked = (
                pl.concat(frames)
                .sort(["u", "score", "i"], descending=[False, True, False])
                .with_columns(pl.int_range(1, pl.len() + 1).over("u").alias("rank"))
                .filter(pl.col("rank") <= n)
            )
            out.append(
                pl.DataFrame(
                    {
                        "user": pl.Series(
                            self.index.users[ranked["u"].to_numpy()], dtype=pl.String
                        ),
                        "item": pl.Series(
                            self.index.items[ranked["i"].to_numpy()], dtype=pl.String
                        ),
                        "rank": ranked["rank"],
                        "score": ranked["score"],
                        "source": ranked["source"],
                    }
                )
            )
        if cold:
            out.append(self.popular_for(cold, n, segments))
        if not out:
            return pl.DataFrame(
                schema={
                    "user": pl.String,
                    "item": pl.String,
                    "rank": pl.Int64,
                    "score": pl.Float64,
                    "source": pl.String,
                }
            )
        return pl.concat([o.with_columns(pl.col("rank").cast(pl.Int64)) for o in out])

    def popular_for(self, users: list, n: int, segments: dict | None = None) -> pl.DataFrame:
        """Popular items of each user's segment (overall when the segment is unknown)."""
        comp = self.components
        seg_code = self.segment_index if comp.seg_share is not None else {}
        n = min(n, len(self.index.items))
        codes = np.array(
            [seg_code.get(str((segments or {}).get(u)), 0) for u in users], dtype=np.int64
        )
        if comp.seg_share is not None:
            codes = np.where(codes < len(comp.seg_order), codes, 0)
            orders = np.where(
                (codes > 0)[:, None], comp.seg_order[codes, :n], comp.popular_order[None, :n]
            )
        else:
            orders = np.broadcast_to(comp.popular_order[:n], (len(users), n))
        ranks = np.tile(np.arange(1, n + 1), len(users))
        return pl.DataFrame(
            {
                "user": pl.Series(np.repeat(np.array(users, dtype=object), n), dtype=pl.String),
                "item": pl.Series(self.index.items[orders.ravel()], dtype=pl.String),
                "rank": pl.Series(ranks, dtype=pl.Int64),
                "score": pl.Series((n - ranks).astype(np.float64)),
                "source": pl.Series(["popular"] * len(ranks), dtype=pl.String),
            }
        )
