"""The Bayes-optimal precision@10 on the demo brand: an upper bound for any recommender.

The demo generator (``ingest/demo``) is re-run in-process with the same seed and scale, and
its latent state at the evaluation's cutoff is kept: every person's channel preferences and
activity (which set how often they order on each stream), lifecycle (acquired, churned), category
tastes, home store and city, the last SKU they drew before the cutoff (a line repeats the
person's previous line with probability 0.3), the streams' expected order counts per day (their
seasonality, events and noise path), the SKUs' daily weights per channel (popularity,
assortment, markdowns, season, novelty) and the stock at each location at the opening of each
day. The test window is then re-simulated from that state ``--reps`` times with fresh random
streams, with the generator's own functions (``stream_rate``, ``stream_pool``, ``_pick_persons``,
``_lines_for``, the repeat rule, cancellation, the stock), which gives for every customer and
SKU the probability that the customer buys the SKU in the window GIVEN the latent state and
the history up to the cutoff. The realised test purchases are never read for it.

The Bayes-optimal ranker shows each customer the 10 SKUs of highest probability. Its expected
precision@10 is an upper bound for any method that does not know the window's random draws
(and it knows the latents, which no method does, so the bound is generous). A finite number of
replications brackets it: lists from one half scored with the other (cross-fitted, at most the
optimum) and lists scored in-sample (the top 10 of noisy estimates, at least the optimum in
expectation); both are printed by number of replications.

Users are the evaluation's: unified customer ids of the warehouse (``recs/evaluation``: the
last 4 weeks of purchases, ``models.recs.evaluate``). A simulated order of a person on a channel
lands on the customer id that person's orders on that channel got before the cutoff (drawn from
their shares, including "no customer id", e.g. Amazon and anonymous receipts); a channel the
person never bought on before lands on their main customer id, or on a new customer.

    ZHONGTAI_DATA_DIR=data .venv/bin/python bench/recs_bayes_bound.py --customers 20000 \
        --days 400 [--seed 7] [--reps 3200 --chunks 16] [--models zhongtai,popularity]

Prints the bound (expected and realised precision@10) beside popularity (and, with
``--models``, the evaluation of those models on the same split). Not a test; figures go to
bench/README.md.

Assumptions (the bound is an approximation of the generator's process in these places):
- stock: a line is served when its location holds stock at the opening of the day
  (``on_hand_start > 0``); the generator serves lines first come, first served, so on a day
  the stock runs out some lines would be cut; the bound serves them (slightly generous);
- the time of day of a simulated order follows the stream's hourly profile (Douyin's live
  sessions are not placed); it only matters on the window's first (partial) day;
- an order's customer id is drawn as described above (identity resolution is not re-run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

REPEAT_SHARE = 0.3  # ingest.demo.demand._repeat_purchases
STORE_ANONYMOUS = 0.42  # ingest.demo.demand._store_orders
AMAZON_AFN = 0.86  # ingest.demo.demand.simulate


@dataclass
class Latent:
    """The generator's world and the original (before the repeat rule) order lines."""

    w: object  # ingest.demo.demand.World
    drawn: pl.DataFrame  # order_idx, line_no, sku_idx: every attempted line as first drawn
    attempts: pl.DataFrame  # order_idx, person_idx, t, sec: every order attempt


def build_latent(seed: int, customers: int, days: int, start: dt.date) -> Latent:
    """Re-run the generator (``build_world``) and keep the lines as drawn before the repeat
    rule replaced some of them (the rule looks at the previous line as drawn)."""
    from ingest.demo import demand
    from ingest.demo.generator import build_world

    kept = {}
    original = demand._repeat_purchases

    def capture(w, orders, lines):
        kept["orders"] = orders.select("order_idx", "person_idx", "t", "sec")
        kept["lines"] = lines.select("order_idx", "line_no", "sku_idx")
        return original(w, orders, lines)

    demand._repeat_purchases = capture
    try:
        w = build_world(seed, customers, days, start)
    finally:
        demand._repeat_purchases = original
    return Latent(w, kept["lines"], kept["orders"])


def last_drawn_before(latent: Latent, lo: int) -> np.ndarray:
    """Per person, the SKU of their last line (as drawn) of an order attempt before local
    second ``lo`` (seconds since the first day's midnight); -1 when none."""
    n = len(latent.w.persons)
    df = (
        latent.drawn.join(latent.attempts, on="order_idx")
        .filter((pl.col("person_idx") >= 0) & (pl.col("t") * 86_400 + pl.col("sec") < lo))
        .sort(["person_idx", "t", "sec", "order_idx", "line_no"])
        .group_by("person_idx", maintain_order=True)
        .last()
    )
    out = np.full(n, -1, dtype=np.int64)
    out[df["person_idx"].to_numpy()] = df["sku_idx"].to_numpy()
    return out


def stock_open(w, d0: int, d1: int) -> np.ndarray:
    """(days d0..d1-1) × locations × SKUs: stock on hand at the opening of the day > 0."""
    locs = {lid: i for i, lid in enumerate(w.locations["location_id"].to_list())}
    out = np.zeros((d1 - d0, len(locs), len(w.products)), dtype=bool)
    d = w.demand.filter((pl.col("t") >= d0) & (pl.col("t") < d1) & (pl.col("on_hand_start") > 0))
    out[d["t"].to_numpy() - d0, d["loc_idx"].to_numpy(), d["sku_idx"].to_numpy()] = True
    assert len(locs) == out.shape[1]
    return out


class Attribution:
    """Which target (customer) a simulated order of (person, channel) lands on.

    ``keys`` (person * n_channels + channel, sorted) with ``targets`` and cumulative shares
    ``cum`` within each key; a key not listed goes nowhere with the channel's ``lost`` share,
    else to ``fallback[person]``."""

    def __init__(self, keys, targets, cum, fallback, n_targets, channels, lost=None):
        self.keys = np.asarray(keys, dtype=np.int64)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.cum = np.asarray(cum, dtype=np.float64)
        self.fallback = np.asarray(fallback, dtype=np.int64)
        self.lost = np.zeros(len(channels)) if lost is None else np.asarray(lost, dtype=float)
        self.n_targets = n_targets
        self.channels = list(channels)
        self._code = {c: i for i, c in enumerate(self.channels)}
        self._scale = 0.999_999
        self._combined = self.keys + self.cum * self._scale

    def code(self, channel: str) -> int:
        return self._code[channel]

    @classmethod
    def persons(cls, n_persons: int, channels) -> Attribution:
        """Every order lands on its person (the person-level world, no identity resolution)."""
        return cls([], [], [], np.arange(n_persons), n_persons, channels)

    def draw(self, person: np.ndarray, channel: np.ndarray, rng) -> np.ndarray:
        key = person * len(self.channels) + channel
        fallback = np.where(rng.random(len(key)) < self.lost[channel], -1, self.fallback[person])
        if len(self.keys) == 0:
            return fallback
        u = rng.random(len(key)) * self._scale
        pos = np.searchsorted(self._combined, key + u, side="left")
        pos = np.minimum(pos, len(self.keys) - 1)
        listed = self.keys[pos] == key
        return np.where(listed, self.targets[pos], fallback)


def _attempts(w, lo: int, hi: int, reps: int, rng, attribution: Attribution) -> dict:
    """Order attempts of ``reps`` replications with local time in [lo, hi): arrays of rep,
    person, t, sec, price channel code, channel code, cancelled, location index, and their
    lines (order index, line_no, sku as drawn)."""
    from ingest.demo.demand import (
        FBA_OF,
        HOURS_AMAZON_UTC,
        HOURS_DOUYIN,
        HOURS_ONLINE,
        HOURS_STORE,
        STORE_CONVERSION,
        STREAMS,
        _hours,
        _lines_for,
        _pick_persons,
        sku_weights,
        stream_pool,
        stream_rate,
    )
    from ingest.demo.util import DAY, rng_for

    P = w.persons
    acq, churn = P["acq_day"].to_numpy(), P["churn_day"].to_numpy()
    loc_index = {lid: i for i, lid in enumerate(w.locations["location_id"].to_list())}
    city_wh = np.array([loc_index[x] for x in w.cities["warehouse"].to_list()])
    p_city = P["city_idx"].to_numpy()
    d0, d1 = lo // DAY, (hi - 1) // DAY + 1
    days = np.arange(d0, d1)
    parts = []

    def add(rep, t, sec, person, pc, channel, cancel_rate, loc, lam):
        # a store's receipts without a person (anonymous walk-ins) are kept: their lines are
        # drawn with the mean taste, and a walk-in who shows a phone or the store's shared
        # card becomes a customer of the warehouse with no history
        keep = (t * DAY + sec >= lo) & (t * DAY + sec < hi) & ((person >= 0) | (channel == "pos"))
        t, sec, person, loc, rep = t[keep], sec[keep], person[keep], loc[keep], rep[keep]
        n = len(t)
        li = _lines_for(w, rng, t, person, pc, lam, sku_weights(w, pc))
        parts.append(
            {
                "rep": rep,
                "person": person,
                "t": t,
                "sec": sec,
                "pc": pc,
                "channel": np.full(n, attribution.code(channel)),
                "cancelled": rng.random(n) < cancel_rate,
                "loc": loc,
                "oidx": li["oidx"],
                "sku": li["sku"],
            }
        )

    for spec in STREAMS:
        name, channel, sub, pc, fam, _b, _p, lam, cancel_rate, _g, _c = spec
        sessions = w.live_sessions if channel == "douyin" else None
        mu = stream_rate(w, spec, rng_for(w.seed, "demand.stream", name), sessions)[days]
        counts = rng.poisson(np.tile(mu, (reps, 1)))  # reps × days
        t = np.repeat(np.tile(days, reps), counts.ravel())
        reps_of = np.repeat(np.repeat(np.arange(reps), len(days)), counts.ravel())
        order = np.argsort(t, kind="stable")
        t, reps_of = t[order], reps_of[order]
        n = len(t)
        if channel == "douyin":
            sec = _hours(rng, n, HOURS_DOUYIN)
        elif fam == "amazon":
            sec = (_hours(rng, n, HOURS_AMAZON_UTC) + 8 * 3600) % DAY
        else:
            sec = _hours(rng, n, HOURS_ONLINE)
        pool, pool_w = stream_pool(w, spec)
        person = _pick_persons(rng, pool, pool_w, acq, churn, t)
        if channel == "amazon":
            afn = rng.random(n) < AMAZON_AFN
            loc = np.where(afn, loc_index[FBA_OF[sub]], loc_index["WH-SH"])
        elif sub == "global":
            loc = np.full(n, loc_index["WH-SH"])
        else:
            loc = city_wh[p_city[np.maximum(person, 0)]]
        add(reps_of, t, sec, person, pc, channel, cancel_rate, loc, lam)
    stores = w.locations.filter(pl.col("location_type") == "store")["location_id"].to_list()
    home = P["home_store"].to_numpy()
    pw = P["pref_pos"].to_numpy() * P["activity"].to_numpy()
    for j, sid in enumerate(stores):
        mu = (w.footfall[:, j] * STORE_CONVERSION * max(w.scale, 0.12))[days]
        counts = rng.poisson(np.tile(mu, (reps, 1)))
        t = np.repeat(np.tile(days, reps), counts.ravel())
        reps_of = np.repeat(np.repeat(np.arange(reps), len(days)), counts.ravel())
        order = np.argsort(t, kind="stable")
        t, reps_of = t[order], reps_of[order]
        n = len(t)
        sec = _hours(rng, n, HOURS_STORE)
        pool = np.nonzero((home == sid) & (pw > 0))[0]
        person = _pick_persons(rng, pool, pw[pool], acq, churn, t)
        person = np.where(rng.random(n) < STORE_ANONYMOUS, -1, person)
        add(reps_of, t, sec, person, "pos", "pos", 0.0, np.full(n, loc_index[sid]), 0.5)
    return parts


@dataclass
class Window:
    """Counts over ``reps`` re-simulations of the test window."""

    reps: int
    bought: np.ndarray  # targets × SKUs: replications in which the target bought the SKU
    any_bought: np.ndarray  # targets: replications in which the target bought anything
    walk_in_bought: np.ndarray  # SKUs: anonymous store receipts (served) holding the SKU
    walk_in_receipts: int  # anonymous store receipts with a served line


def simulate_window(
    latent: Latent,
    lo: int,
    hi: int,
    reps: int,
    attribution: Attribution,
    seed: int = 0,
    block: int = 20,
) -> Window:
    """Re-simulate the order attempts with local time in [lo, hi) ``reps`` times from the
    latent state; a purchase is a served line of an order not cancelled."""
    from ingest.demo.demand import sku_weights
    from ingest.demo.util import DAY

    w = latent.w
    ns = len(w.products)
    prev0 = last_drawn_before(latent, lo)
    d0, d1 = lo // DAY, (hi - 1) // DAY + 1
    stock = stock_open(w, d0, d1)
    live = {pc: sku_weights(w, pc) > 0 for pc in set(w.prices) | {"pos"}}
    bought = np.zeros((attribution.n_targets, ns), dtype=np.int32)
    any_bought = np.zeros(attribution.n_targets, dtype=np.int32)
    walk_in_bought = np.zeros(ns, dtype=np.int64)
    walk_in_receipts = 0
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xBA7E5]))
    done = 0
    while done < reps:
        k = min(block, reps - done)
        parts = _attempts(w, lo, hi, k, rng, attribution)
        offs = np.cumsum([0] + [len(p["t"]) for p in parts])
        orders = {
            key: np.concatenate([p[key] for p in parts])
            for key in ("rep", "person", "t", "sec", "channel", "cancelled", "loc")
        }
        orders["rep"] = orders["rep"] + done
        pcs = [p["pc"] for p in parts]
        order_pc = np.repeat(np.arange(len(parts)), np.diff(offs))
        l_order = np.concatenate([p["oidx"] + offs[i] for i, p in enumerate(parts)])
        l_sku = np.concatenate([p["sku"] for p in parts])
        l_no = np.arange(len(l_order))  # lines come in order within an order
        # the repeat rule: each line repeats the person's previous line as drawn (p = 0.3)
        lp = orders["person"][l_order]
        key = np.lexsort(
            (
                l_no,
                l_order,
                orders["sec"][l_order],
                orders["t"][l_order],
                lp,
                orders["rep"][l_order],
            )
        )
        l_order, l_sku, lp = l_order[key], l_sku[key], lp[key]
        lr = orders["rep"][l_order]
        lt = orders["t"][l_order]
        first = np.ones(len(l_order), dtype=bool)
        first[1:] = (lp[1:] != lp[:-1]) | (lr[1:] != lr[:-1])
        prev = np.empty_like(l_sku)
        prev[1:] = l_sku[:-1]
        prev[first] = prev0[np.maximum(lp[first], 0)]
        new = l_sku.copy()
        prev[first & (lp < 0)] = -1  # no repeat without a person
        ok = (rng.random(len(new)) < REPEAT_SHARE) & (prev >= 0) & (lp >= 0)
        l_pc = order_pc[l_order]
        for i, pc in enumerate(pcs):
            m = np.nonzero(ok & (l_pc == i))[0]
            m = m[live[pc][lt[m], prev[m]]]
            new[m] = prev[m]
        served = ~orders["cancelled"][l_order] & stock[lt - d0, orders["loc"][l_order], new]
        o_target = np.full(len(orders["person"]), -1, dtype=np.int64)
        known = orders["person"] >= 0
        o_target[known] = attribution.draw(orders["person"][known], orders["channel"][known], rng)
        tgt = o_target[l_order]
        walk_in = served & (lp < 0)
        receipt_sku = np.unique(l_order[walk_in].astype(np.int64) * ns + new[walk_in])
        walk_in_bought += np.bincount(receipt_sku % ns, minlength=ns)
        walk_in_receipts += len(np.unique(receipt_sku // ns))
        m = served & (tgt >= 0)
        pair = np.unique((lr[m].astype(np.int64) * attribution.n_targets + tgt[m]) * ns + new[m])
        size = attribution.n_targets * ns
        bought += np.bincount(pair % size, minlength=size).reshape(bought.shape).astype(np.int32)
        rep_tgt = np.unique(pair // ns) % attribution.n_targets
        any_bought += np.bincount(rep_tgt, minlength=attribution.n_targets).astype(np.int32)
        done += k
    return Window(reps, bought, any_bought, walk_in_bought, walk_in_receipts)


@dataclass
class Bound:
    """Expected and realised precision@k of the Bayes ranker (the k SKUs of highest probability).

    ``expected``: cross-fitted, lists from half A scored with half B's probabilities: unbiased
    for a ranker that knows the probabilities only as well as half A estimates them, so at most
    the Bayes optimum (a lower estimate of it). ``expected_in_sample``: lists and scores from
    all replications pooled: the top k of noisy estimates is biased upwards (the mean of a
    maximum is at least the maximum of the means), so at least the Bayes optimum in expectation
    (an upper estimate). The true Bayes-optimal precision lies between the two.
    Both are ratios of expectations: sum over the customers who can be test users of their
    expected hits, over k × their expected number (a customer counts when they buy in the
    window), plus the realised number of walk-in test users (receipts without a person, whose
    lists are the walk-ins' top k)."""

    expected: float
    expected_in_sample: float
    expected_given_test: float  # mean over the realised test users of top-k P(s | buys) / k
    realised: float  # P@k of the pooled lists on the realised test purchases
    expected_test_users: float
    walk_in_users: int
    lists: np.ndarray  # targets × k: SKU indices, best first (pooled)


def merge(windows: list[Window]) -> Window:
    """The counts of several independent runs of ``simulate_window`` as one."""
    return Window(
        sum(w.reps for w in windows),
        sum(w.bought for w in windows),
        sum(w.any_bought for w in windows),
        sum(w.walk_in_bought for w in windows),
        sum(w.walk_in_receipts for w in windows),
    )


def top_lists(prob: np.ndarray, k: int = 10) -> np.ndarray:
    """Each row's k columns of highest value (ties: the column of higher total, then index)."""
    prob = np.atleast_2d(prob)
    tie = prob.sum(0)
    tie = tie / (tie.max() + 1.0) * 1e-9
    score = prob + tie[None, :]
    part = np.argpartition(-score, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(score, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def bound(a: Window, b: Window, potential, realised_users, truth_sets, k: int = 10) -> Bound:
    """The Bayes ranker's precision@k from two independent halves of replications.

    ``potential``: targets that can be test users; ``realised_users``: the target of each
    realised test user (-1: a walk-in, a customer made of receipts without a person);
    ``truth_sets``: their sets of SKU indices bought in the window, read only for the realised
    precision (a sanity check), never for the probabilities or the lists."""
    p_a, p_b = a.bought / a.reps, b.bought / b.reps
    pooled = (a.bought + b.bought) / (a.reps + b.reps)
    sel_b = b.any_bought / b.reps
    sel = (a.any_bought + b.any_bought) / (a.reps + b.reps)
    walk = (a.walk_in_bought + b.walk_in_bought) / max(a.walk_in_receipts + b.walk_in_receipts, 1)
    walk_a = a.walk_in_bought / max(a.walk_in_receipts, 1)
    walk_b = b.walk_in_bought / max(b.walk_in_receipts, 1)
    ru = np.asarray(realised_users, dtype=np.int64)
    n_walk = int((ru < 0).sum())

    def expected(rank, score, sel_, walk_rank, walk_score) -> tuple[float, float]:
        hits = np.take_along_axis(score, top_lists(rank[potential], k), axis=1).sum(1)
        walk_hits = float(walk_score[top_lists(walk_rank, k)[0]].sum())
        users = float(sel_[potential].sum())
        return (float(hits.sum()) + n_walk * walk_hits) / (k * (users + n_walk)), users

    cross, _ = expected(p_a, p_b[potential], sel_b, walk_a, walk_b)
    in_sample, users = expected(pooled, pooled[potential], sel, walk, walk)
    lists = top_lists(pooled, k)
    walk_list = top_lists(walk, k)[0]
    mapped = ru >= 0
    hits_b = np.take_along_axis(p_b, top_lists(p_a, k), axis=1).sum(1)
    given = np.where(
        sel_b[ru[mapped]] > 0, hits_b[ru[mapped]] / np.maximum(sel_b[ru[mapped]], 1e-12), 0
    )
    walk_given = float(walk_b[top_lists(walk_a, k)[0]].sum())
    given_mean = (float(given.sum()) + n_walk * walk_given) / max(len(ru), 1)
    realised = [
        len(set((lists[u] if u >= 0 else walk_list).tolist()) & s)
        for u, s in zip(ru, truth_sets, strict=True)
    ]
    return Bound(
        cross,
        in_sample,
        given_mean / k,
        float(np.mean(realised)) / k,
        users,
        n_walk,
        lists,
    )


# --- the warehouse side: the evaluation's split and each order's customer ------------------


def evaluation_split(con):
    """The ``recs/evaluation`` asset's split: (frame, cutoff, horizon, truth) in UTC days."""
    from models.recs.warehouse import read_interactions
    from orchestration.defs.recs import TEST_WEEKS

    frame = read_interactions(con)
    lo, hi = float(frame["ts"].min()), float(frame["ts"].max())
    horizon = min(7.0 * TEST_WEEKS, 0.3 * (hi - lo))
    cutoff = hi - horizon
    test = frame.filter(
        pl.col("target") & (pl.col("ts") >= cutoff) & (pl.col("ts") <= cutoff + horizon)
    )
    return frame, cutoff, horizon, test.select("user", "item").unique()


def warehouse_orders(con, w) -> pl.DataFrame:
    """Every generated order of a person as the warehouse holds it: person_idx, channel,
    customer_id (null when the warehouse has none), ts (UTC days, the warehouse's), local
    (generator seconds since the first day's midnight)."""
    from ingest.demo.util import DAY

    wh = con.sql(
        """
        select channel, order_id, any_value(customer_id) as customer_id,
               min(epoch(ordered_at)) / 86400.0 as ts
        from marts.fct_order_lines
        where is_real_order and sku is not null and quantity > 0 and ordered_at is not null
        group by 1, 2
        """
    ).pl()
    o = w.orders.filter(pl.col("person_idx") >= 0).select(
        "channel",
        pl.col("order_id").cast(pl.String),
        "person_idx",
        (pl.col("t") * DAY + pl.col("sec")).alias("local"),
    )
    return o.join(wh, on=["channel", "order_id"], how="inner")


def attribution_from_warehouse(
    orders: pl.DataFrame, cutoff: float, n_persons: int, channels, prior: float = 2.0
):
    """(Attribution, customer ids by target): each (person, channel)'s orders before the
    cutoff, by customer id; an order lands on no customer (null customer id: lost) with the
    posterior mean of a share whose prior is the channel's lost share (``prior`` orders'
    weight), else on the customer ids in their shares; a channel the person has no order on
    before the cutoff: lost with the channel's share, else the person's main customer (most
    orders before the cutoff), else the person's own new-customer target."""
    before = orders.filter(pl.col("ts") < cutoff)
    customers = sorted(before["customer_id"].drop_nulls().unique().to_list())
    cpos = {c: i for i, c in enumerate(customers)}
    n_c = len(customers)
    code = {c: i for i, c in enumerate(channels)}
    b = before.with_columns(
        pl.col("customer_id").replace_strict(cpos, default=-1, return_dtype=pl.Int64).alias("c"),
        pl.col("channel").replace_strict(code, return_dtype=pl.Int64).alias("ch"),
    )
    lost_by = b.group_by("ch").agg((pl.col("c") < 0).mean().alias("l"))
    lost = np.zeros(len(channels))
    lost[lost_by["ch"].to_numpy()] = lost_by["l"].to_numpy()
    main = (
        b.filter(pl.col("c") >= 0)
        .group_by("person_idx", "c")
        .len()
        .sort(["person_idx", "len", "c"], descending=[False, True, False])
        .group_by("person_idx", maintain_order=True)
        .first()
    )
    fallback = n_c + np.arange(n_persons)
    fallback[main["person_idx"].to_numpy()] = main["c"].to_numpy()
    counts = (
        b.group_by("person_idx", "ch", "c")
        .len()
        .with_columns(
            (pl.col("person_idx") * len(channels) + pl.col("ch")).alias("key"),
            pl.col("len").sum().over("person_idx", "ch").alias("n"),
            pl.when(pl.col("c") < 0)
            .then(pl.col("len"))
            .otherwise(0)
            .sum()
            .over("person_idx", "ch")
            .alias("n_lost"),
        )
        .with_columns(
            pl.col("ch").replace_strict(dict(enumerate(lost.tolist()))).alias("l"),
        )
        .with_columns(
            ((pl.col("n_lost") + prior * pl.col("l")) / (pl.col("n") + prior)).alias("p_lost")
        )
    )
    kept = counts.filter(pl.col("c") >= 0).select(
        "key",
        "c",
        ((1 - pl.col("p_lost")) * pl.col("len") / (pl.col("n") - pl.col("n_lost"))).alias("p"),
    )
    lost_rows = counts.group_by("key", "person_idx").agg(
        pl.col("p_lost").first(), (pl.col("n") == pl.col("n_lost")).first().alias("all_lost")
    )
    rest = lost_rows.filter(pl.col("all_lost")).select(
        "key",
        pl.col("person_idx")
        .map_elements(lambda i: int(fallback[i]), return_dtype=pl.Int64)
        .alias("c"),
        (1 - pl.col("p_lost")).alias("p"),
    )
    shares = (
        pl.concat(
            [
                kept,
                rest,
                lost_rows.select(
                    "key", pl.lit(-1, pl.Int64).alias("c"), pl.col("p_lost").alias("p")
                ),
            ],
            how="vertical_relaxed",
        )
        .sort("key", "c")
        .with_columns(
            (pl.col("p").cum_sum().over("key") / pl.col("p").sum().over("key")).alias("cum")
        )
    )
    att = Attribution(
        shares["key"].to_numpy(),
        shares["c"].to_numpy(),
        shares["cum"].to_numpy(),
        fallback,
        n_c + n_persons,
        channels,
        lost,
    )
    return att, customers


def compare_lists(recs, lists, prob, sel, walk, target_of, spos, bought_before) -> dict:
    """A model's top 10 (``recs``: user, item, rank) and the Bayes ranker's, per realised test
    user, scored with the bound's probabilities given that the user buys: the expected
    precision@10 of each and the share of each list that the user bought before the cutoff."""
    walk_list = top_lists(walk, lists.shape[1])[0]
    mine = dict(
        recs.sort("user", "rank").group_by("user", maintain_order=True).agg("item").iter_rows()
    )
    skus = list(spos)
    e_model = e_bayes = own_model = own_bayes = 0.0
    n = 0
    for user, tgt in target_of.items():
        if tgt >= 0:
            p = prob[tgt] / sel[tgt] if sel[tgt] > 0 else prob[tgt]
            best = lists[tgt]
        else:
            p, best = walk, walk_list
        items = [spos[i] for i in mine.get(user, []) if i in spos][:10]
        e_model += float(p[items].sum()) / 10
        e_bayes += float(p[best].sum()) / 10
        own_model += sum((user, skus[i]) in bought_before for i in items) / 10
        own_bayes += sum((user, skus[i]) in bought_before for i in best) / 10
        n += 1
    return {
        "expected_p@10_model_lists": round(e_model / n, 4),
        "expected_p@10_bayes_lists": round(e_bayes / n, 4),
        "share_bought_before_model_lists": round(own_model / n, 4),
        "share_bought_before_bayes_lists": round(own_bayes / n, 4),
    }


def main() -> None:
    from ingest.config import connect, data_paths
    from ingest.demo.util import DAY
    from models.recs.evaluate import evaluate, popularity_list
    from models.recs.metrics import score_lists
    from models.recs.warehouse import read_products, usual_channels

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--start", default="2024-11-01")
    parser.add_argument("--reps", type=int, default=800, help="replications of the window")
    parser.add_argument("--chunks", type=int, default=8, help="seeds the replications are cut in")
    parser.add_argument("--warehouse", default=None, help="default: ZHONGTAI_DATA_DIR's")
    parser.add_argument("--models", default="", help="also evaluate these models (e.g. zhongtai)")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args()
    t0 = time.perf_counter()
    latent = build_latent(args.seed, args.customers, args.days, dt.date.fromisoformat(args.start))
    w = latent.w
    t_world = time.perf_counter() - t0
    channels = ["tmall", "jd", "douyin", "web", "wechat", "amazon", "pos"]
    with connect(args.warehouse or data_paths().warehouse, read_only=True) as con:
        frame, cutoff, horizon, truth = evaluation_split(con)
        orders = warehouse_orders(con, w)
        categories = dict(read_products(con).select("sku", "category").iter_rows())
    # local generator seconds of the cutoff: the warehouse's UTC days against the generator's
    # local time of the same orders (the shift is the time zone, the same for every order)
    start_day = (dt.date.fromisoformat(args.start) - dt.date(1970, 1, 1)).days
    shift = (orders["ts"] * DAY - (orders["local"] + start_day * DAY)).median()
    lo = int(np.ceil(cutoff * DAY - shift)) - start_day * DAY
    hi = int(np.floor((cutoff + horizon) * DAY - shift)) - start_day * DAY + 1
    att, customers = attribution_from_warehouse(orders, cutoff, len(w.persons), channels)
    t1 = time.perf_counter()
    per = max(args.reps // args.chunks, 1)
    chunks = [simulate_window(latent, lo, hi, per, att, seed=k + 1) for k in range(args.chunks)]
    t_sim = time.perf_counter() - t1
    half_a = merge(chunks[: args.chunks // 2])
    half_b = merge(chunks[args.chunks // 2 :])
    # the realised test users, as targets: their customer id; a customer with no order before
    # the cutoff (new, or browse-only) is their person's (from any of their orders: identity
    # only, never what was bought) fallback target
    cpos = {c: i for i, c in enumerate(customers)}
    person_of = (
        orders.group_by("customer_id", "person_idx")
        .len()
        .sort(["customer_id", "len", "person_idx"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .first()
    )
    person_of = dict(person_of.select("customer_id", "person_idx").iter_rows())
    skus = w.products["sku"].to_list()
    spos = {s: i for i, s in enumerate(skus)}
    users = sorted(truth["user"].unique().to_list())
    sets = dict(truth.group_by("user").agg("item").iter_rows())
    targets, truth_sets = [], []
    for u in users:
        if u in cpos:
            targets.append(cpos[u])
        elif u in person_of:
            targets.append(int(att.fallback[person_of[u]]))
        else:  # no order of a person: receipts of walk-ins who showed a phone or a card
            targets.append(-1)
        truth_sets.append({spos[s] for s in sets[u] if s in spos})
    has_main = att.fallback < len(customers)
    potential = np.concatenate(
        [np.arange(len(customers)), len(customers) + np.nonzero(~has_main)[0]]
    )
    b = bound(half_a, half_b, potential, targets, truth_sets)
    # the two estimates close in on the Bayes optimum as the replications grow
    curve = []
    m = 1
    while 2 * m <= args.chunks:
        c = bound(merge(chunks[:m]), merge(chunks[m : 2 * m]), potential, targets, truth_sets)
        curve.append(
            {
                "reps": 2 * m * per,
                "cross_fitted": round(c.expected, 4),
                "in_sample": round(c.expected_in_sample, 4),
                "realised": round(c.realised, 4),
            }
        )
        m *= 2
    # popularity on the same split (what the evaluation pads with and compares to)
    train = frame.filter(pl.col("ts") < cutoff)
    popular = popularity_list(train, 20)
    pop_recs = pl.DataFrame(
        {
            "user": [u for u in users for _ in popular],
            "item": popular * len(users),
            "rank": list(range(1, 21)) * len(users),
        }
    )
    n_cat = train["item"].n_unique()
    pop_p10 = score_lists(pop_recs, truth, n_cat)["precision@10"]
    # the bound's probabilities of the popularity list: a calibration check (expected against
    # realised precision of a list the bound did not choose)
    p_b, sel_b = half_b.bought / half_b.reps, half_b.any_bought / half_b.reps
    pop_idx = [spos[s] for s in popular[:10] if s in spos]
    walk_b = half_b.walk_in_bought / max(half_b.walk_in_receipts, 1)
    pop_expected = (
        float(p_b[potential][:, pop_idx].sum()) + b.walk_in_users * float(walk_b[pop_idx].sum())
    ) / (10 * (float(sel_b[potential].sum()) + b.walk_in_users))
    out = {
        "seed": args.seed,
        "customers": args.customers,
        "days": args.days,
        "reps": per * args.chunks,
        "cutoff_days": round(cutoff, 4),
        "horizon_days": round(horizon, 4),
        "window_local_seconds": [lo, hi],
        "test_users": len(users),
        "test_users_walk_in": b.walk_in_users,
        "expected_test_users": round(b.expected_test_users + b.walk_in_users, 1),
        "bound_expected_p@10": round(b.expected, 4),
        "bound_expected_in_sample_p@10": round(b.expected_in_sample, 4),
        "bound_expected_given_test_p@10": round(b.expected_given_test, 4),
        "bound_realised_p@10": round(b.realised, 4),
        "popularity_p@10": round(pop_p10, 4),
        "popularity_expected_p@10_by_the_bound": round(pop_expected, 4),
        "target_1.5x_popularity": round(1.5 * pop_p10, 4),
        "by_replications": curve,
        "seconds_world": round(t_world, 1),
        "seconds_simulation": round(t_sim, 1),
    }
    models = [m for m in args.models.split(",") if m]
    if models:
        from models.recs.model import RecsConfig

        segments = usual_channels(frame.filter(pl.col("ts") < cutoff))
        result = evaluate(
            frame.drop("channel"),
            cutoff=cutoff,
            horizon_days=horizon,
            models=tuple(models),
            segments=segments,
            cfg=RecsConfig(),
            categories=categories,
        )
        pooled = merge(chunks)
        prob = pooled.bought / pooled.reps
        sel = pooled.any_bought / pooled.reps
        walk = pooled.walk_in_bought / max(pooled.walk_in_receipts, 1)
        bought_before = set(
            train.filter(pl.col("target")).select("user", "item").unique().iter_rows()
        )
        target_of = dict(zip(users, targets, strict=True))
        for m in models:
            out[f"{m}_p@10"] = round(result.value(m, "precision@10"), 4)
            # the same lists scored with the bound's probabilities (P(s | the customer buys)),
            # beside the Bayes ranker's: where the model's lists fall short
            recs = result.recommendations.filter((pl.col("model") == m) & (pl.col("rank") <= 10))
            out[f"{m}_compared_with_the_bound"] = compare_lists(
                recs, b.lists, prob, sel, walk, target_of, spos, bought_before
            )
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
