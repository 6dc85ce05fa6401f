"""True demand, order attempts for every sales stream, inventory simulation, censoring.

The flow:
1. for each stream (a channel, or a store) draw the number of order attempts per day
   from seasonality × events × promotions × growth (× weather and footfall for stores);
2. attach a person (active that day, weighted by channel preference and activity), a
   time of day, order lines (category from the person's tastes, SKU from the day's
   SKU weights: popularity × availability × markdown lift × season × novelty) and a
   fulfilling location;
3. true demand per day × location × SKU is the sum of the attempted units of real,
   not-cancelled orders; a day-by-day (s, S)-style replenishment simulation per
   location × SKU gives the stock at opening; lines are served first come, first
   served, so sales are censored by stock (a line can be partly served).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .calendar import Calendar
from .catalog import DOUYIN_HOSTS
from .population import SALES_CHANNELS
from .util import DAY, day_number, rng_for

# name, channel, sub, price channel, family, base orders/day at 20k persons, pref column,
# extra-lines lambda, cancel rate, yearly growth, person country
STREAMS = [
    ("tmall", "tmall", "flagship", "tmall", "cn_online", 100.0, "tmall", 0.55, 0.05, -0.05, "CN"),
    ("tmall_global", "tmall", "global", "tmall", "cn_online", 12.0, "tmall", 0.35, 0.05, 0.1, "CN"),
    ("jd", "jd", "", "jd", "jd", 38.0, "jd", 0.45, 0.04, 0.0, "CN"),
    ("douyin", "douyin", "", "douyin", "douyin", 48.0, "douyin", 0.12, 0.07, 0.7, "CN"),
    ("web", "web", "", "web", "cn_online", 28.0, "web", 0.6, 0.04, 0.15, "CN"),
    ("wechat", "wechat", "", "wechat", "cn_online", 36.0, "wechat", 0.5, 0.05, 0.3, "CN"),
    ("amazon_us", "amazon", "US", "amazon_us", "amazon", 18.0, "amazon", 0.3, 0.02, 0.25, "US"),
    ("amazon_de", "amazon", "DE", "amazon_de", "amazon", 8.0, "amazon", 0.3, 0.02, 0.25, "DE"),
    ("amazon_uk", "amazon", "UK", "amazon_uk", "amazon", 7.0, "amazon", 0.3, 0.02, 0.25, "GB"),
]
STORE_CONVERSION = 0.034
FBA_OF = {"US": "FBA-US-ONT8", "DE": "FBA-DE-FRA7", "UK": "FBA-UK-LTN4"}

# hourly profiles (24 weights)
HOURS_ONLINE = np.array(
    [
        3.0,
        1.6,
        0.8,
        0.4,
        0.3,
        0.3,
        0.5,
        1.0,
        1.8,
        2.6,
        3.2,
        3.5,
        3.8,
        3.6,
        3.4,
        3.5,
        3.6,
        3.7,
        3.9,
        4.4,
        5.2,
        6.0,
        6.4,
        5.0,
    ]
)
HOURS_DOUYIN = np.array(
    [
        2.0,
        1.0,
        0.5,
        0.3,
        0.2,
        0.2,
        0.3,
        0.6,
        1.0,
        1.4,
        1.8,
        2.0,
        2.4,
        2.2,
        2.0,
        2.0,
        2.1,
        2.3,
        3.0,
        6.0,
        9.0,
        10.0,
        9.5,
        6.0,
    ]
)
HOURS_STORE = np.array(
    [
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        2.0,
        3.0,
        4.0,
        4.2,
        4.6,
        5.0,
        4.8,
        4.2,
        4.0,
        5.0,
        5.2,
        3.6,
        1.0,
        0,
    ]
)
HOURS_AMAZON_UTC = np.array(
    [
        2.0,
        1.5,
        1.2,
        1.6,
        2.0,
        2.4,
        2.8,
        3.0,
        3.0,
        3.2,
        3.4,
        3.4,
        3.2,
        3.4,
        3.8,
        4.2,
        4.6,
        4.8,
        4.6,
        4.2,
        3.8,
        3.4,
        3.0,
        2.4,
    ]
)


@dataclass
class World:
    seed: int
    cal: Calendar
    scale: float
    products: pl.DataFrame
    locations: pl.DataFrame
    cities: pl.DataFrame
    persons: pl.DataFrame
    prices: dict
    assort: dict
    weather: pl.DataFrame
    footfall: np.ndarray
    store_open: np.ndarray
    orders: pl.DataFrame = field(default=None)
    lines: pl.DataFrame = field(default=None)
    demand: pl.DataFrame = field(default=None)
    live_sessions: pl.DataFrame = field(default=None)
    planted_live_session: dict | None = field(default=None)  # orders.py, truth
    carried: np.ndarray = field(default=None)
    planted_prices: pl.DataFrame = field(default=None)
    # index of this shard of a brand generated in shards (0 = the first or only one): the
    # channels' running numbers (receipts, order names, after-sale ids) start in its own block
    shard: int = 0

    @property
    def start_day(self) -> int:
        return day_number(self.cal.start)


def sku_weights(w: World, pc: str) -> np.ndarray:
    """Relative attractiveness (days × n_sku) of each SKU in a price channel."""
    cal, p = w.cal, w.products
    t = np.arange(cal.days)[:, None]
    sd = w.start_day
    launch = (p["launch_date"].cast(pl.Date).cast(pl.Int64).to_numpy() - sd)[None, :]
    disc = p["discontinued_date"].cast(pl.Date).cast(pl.Int64).fill_null(10**7).to_numpy()
    disc = (disc - sd)[None, :]
    live = (t >= launch) & (t <= disc)
    pop = p["popularity"].to_numpy()[None, :]
    if pc == "douyin":
        pop = pop**1.4
    season = p["season"].to_numpy()[None, :]
    cat = p["category"].to_numpy()[None, :]
    summer = cal.summer()[:, None]
    winter = cal.winter()[:, None]
    gift = cal.gifting()[:, None]
    sm = np.where(season == 1, 0.25 + 1.75 * summer, np.where(season == 2, 0.4 + 1.3 * winter, 1.0))
    gm = np.where(
        cat == "gift_set", 0.35 + 3.0 * gift, np.where(cat == "fragrance", 1.0 + 0.8 * gift, 1.0)
    )
    age = t - launch
    novelty = np.where(
        (age >= 0) & (launch > -30), 1.0 + 1.5 * np.exp(-np.maximum(age, 0) / 30.0), 1.0
    )
    wgt = pop * live * w.assort[pc][None, :] * w.prices[pc]["lift"] * sm * gm * novelty
    return wgt


def _hours(rng: np.random.Generator, n: int, profile: np.ndarray) -> np.ndarray:
    p = profile / profile.sum()
    h = rng.choice(24, size=n, p=p)
    return h * 3600 + rng.integers(0, 3600, size=n)


def _pick_persons(rng, pool_idx, pool_w, acq, churn, t_orders) -> np.ndarray:
    """For orders on days ``t_orders`` (sorted), a person index from the pool (active that day)."""
    out = np.full(len(t_orders), -1, dtype=np.int64)
    if len(pool_idx) == 0:
        return out
    a = acq[pool_idx]
    c = churn[pool_idx]
    days, starts, counts = np.unique(t_orders, return_index=True, return_counts=True)
    for d, s0, k in zip(days.tolist(), starts.tolist(), counts.tolist(), strict=True):
        wt = pool_w * ((a <= d) & (c > d))
        cs = np.cumsum(wt)
        if cs[-1] <= 0:
            continue
        u = rng.random(k) * cs[-1]
        out[s0 : s0 + k] = pool_idx[np.minimum(np.searchsorted(cs, u, side="right"), len(cs) - 1)]
    return out


def _live_sessions(w: World, rng: np.random.Generator) -> pl.DataFrame:
    """Douyin live sessions: the brand's own room every evening plus host (达人) sessions."""
    cal = w.cal
    rows = []
    traffic = cal.traffic("douyin")
    for t in range(cal.days):
        if traffic[t] < 0.5:
            continue
        rows.append((t, "0", 19 * 3600 + 1800, 4 * 3600, 1.0))
        for hid, _nick, _rate in DOUYIN_HOSTS[1:]:
            p = 0.06 * (1 + 2.0 * (traffic[t] > 1.3))
            if rng.random() < p:
                start = int(rng.choice([19, 20])) * 3600
                rows.append(
                    (t, hid, start, int(rng.integers(3, 5)) * 3600, float(rng.uniform(2.0, 5.0)))
                )
    df = pl.DataFrame(rows, schema=["t", "host_id", "start_sec", "dur_sec", "power"], orient="row")
    df = df.with_row_index("session_idx").with_columns(
        (
            pl.lit(7_400_000_000_000_000_000, dtype=pl.Int64)
            + pl.col("session_idx").cast(pl.Int64) * 7_919_131
            + pl.col("t") * 13
        )
        .cast(pl.Utf8)
        .alias("room_id")
    )
    return df


def stream_rate(
    w: World, spec, rng: np.random.Generator, sessions: pl.DataFrame | None
) -> np.ndarray:
    """Expected order attempts per day of a stream (days,): seasonality × events × promotions
    × growth × a smooth noise path (the stream's first draws from ``rng``) × live sessions."""
    _name, _channel, _sub, pc, fam, base, _pref, _lam, _cancel, growth, _country = spec
    cal = w.cal
    wgt = sku_weights(w, pc)
    nolift = wgt / w.prices[pc]["lift"]
    promo_factor = wgt.sum(1) / np.maximum(nolift.sum(1), 1e-12)
    tt = np.arange(cal.days)
    noise = np.exp(
        np.convolve(rng.normal(0, 0.08, cal.days + 6), np.ones(7) / 7**0.5, "valid")[: cal.days]
    )
    mu = (
        base
        * max(w.scale, 0.05)
        * cal.weekly(fam)
        * cal.yearly(fam)
        * cal.traffic(fam)
        * (1 + growth) ** (tt / 365.0)
        * promo_factor**0.7
        * noise
    )
    if sessions is not None:
        extra = sessions.group_by("t").agg((pl.col("power").sum() - 1).alias("x")).sort("t")
        boost = np.zeros(cal.days)
        boost[extra["t"].to_numpy()] = extra["x"].to_numpy()
        mu = mu * (0.7 + 0.25 * boost)
    return mu


def stream_pool(w: World, spec) -> tuple[np.ndarray, np.ndarray]:
    """Persons who can place an order on a stream and their weights (preference × activity)."""
    _name, _channel, _sub, _pc, _fam, _base, pref, _lam, _cancel, _growth, country = spec
    P = w.persons
    pw = P[f"pref_{pref}"].to_numpy() * P["activity"].to_numpy()
    ok = pw > 0
    if country != "CN":
        ok &= P["country"].to_numpy() == country
    else:
        ok &= ~P["overseas"].to_numpy()
    pool = np.nonzero(ok)[0]
    return pool, pw[pool]


def _stream_orders(w: World, spec, rng: np.random.Generator, sessions: pl.DataFrame | None) -> dict:
    fam = spec[4]
    cal = w.cal
    mu = stream_rate(w, spec, rng, sessions)
    host = None
    tt = np.arange(cal.days)
    counts = rng.poisson(mu)
    t = np.repeat(tt, counts)
    n = len(t)
    if sessions is not None:
        # each order comes from a live session that day (85 %) or from the shop window / video (15 %)
        s_t = sessions["t"].to_numpy()
        s_pow = sessions["power"].to_numpy()
        sess = np.full(n, -1, dtype=np.int64)
        secs = _hours(rng, n, HOURS_DOUYIN)
        live = rng.random(n) < 0.85
        for d in np.unique(t):
            idx = np.nonzero((t == d) & live)[0]
            cand = np.nonzero(s_t == d)[0]
            if len(cand) == 0 or len(idx) == 0:
                continue
            pw = s_pow[cand] / s_pow[cand].sum()
            pick = cand[rng.choice(len(cand), size=len(idx), p=pw)]
            sess[idx] = pick
        has = sess >= 0
        st = sessions["start_sec"].to_numpy()
        du = sessions["dur_sec"].to_numpy()
        secs = np.where(
            has,
            st[np.maximum(sess, 0)] + (rng.random(n) * du[np.maximum(sess, 0)]).astype(np.int64),
            secs,
        )
        secs = np.minimum(secs, DAY - 1)
        host = np.where(has, sessions["host_id"].to_numpy()[np.maximum(sess, 0)], "")
    elif fam == "amazon":
        secs = (
            _hours(rng, n, HOURS_AMAZON_UTC) + 8 * 3600
        )  # UTC profile shown as Shanghai wall time
        # keep the Shanghai date = the simulated day: shift times past midnight into the day
        secs = secs % DAY
    else:
        secs = _hours(rng, n, HOURS_ONLINE)
        d11 = np.array(
            [(cal.dates[i].month, cal.dates[i].day) == (11, 11) for i in range(cal.days)]
        )
        early = d11[t] & (rng.random(n) < 0.3)
        secs = np.where(early, rng.integers(0, 3600, size=n), secs)
    order = np.lexsort((secs, t))
    t, secs = t[order], secs[order]
    if sessions is not None:
        sess, host = sess[order], host[order]
    P = w.persons
    pool, pool_w = stream_pool(w, spec)
    person = _pick_persons(rng, pool, pool_w, P["acq_day"].to_numpy(), P["churn_day"].to_numpy(), t)
    keep = person >= 0
    out = {"t": t[keep], "sec": secs[keep], "person": person[keep]}
    if sessions is not None:
        out["session"] = sess[keep]
        out["host_id"] = host[keep]
    return out


def _store_orders(w: World, rng: np.random.Generator) -> list[dict]:
    P = w.persons
    stores = w.locations.filter(pl.col("location_type") == "store")["location_id"].to_list()
    home = P["home_store"].to_numpy()
    pw = P["pref_pos"].to_numpy() * P["activity"].to_numpy()
    out = []
    for j, sid in enumerate(stores):
        mu = w.footfall[:, j] * STORE_CONVERSION * max(w.scale, 0.12)
        counts = rng.poisson(mu)
        t = np.repeat(np.arange(w.cal.days), counts)
        secs = _hours(rng, len(t), HOURS_STORE)
        o = np.lexsort((secs, t))
        t, secs = t[o], secs[o]
        pool = np.nonzero((home == sid) & (pw > 0))[0]
        person = _pick_persons(
            rng, pool, pw[pool], P["acq_day"].to_numpy(), P["churn_day"].to_numpy(), t
        )
        anonymous = rng.random(len(t)) < 0.42
        person = np.where(anonymous, -1, person)
        out.append({"t": t, "sec": secs, "person": person, "store": sid})
    return out


def _lines_for(w: World, rng, t, person, pc, lam, wgt) -> dict:
    """Order lines for orders (t, person): line count, category, SKU, quantity."""
    n = len(t)
    n_lines = 1 + np.minimum(rng.poisson(lam, size=n), 4)
    oidx = np.repeat(np.arange(n), n_lines)
    lt = t[oidx]
    lp = person[oidx]
    cat_of = w.products["cat_idx"].to_numpy()
    ncat = int(cat_of.max()) + 1
    # category availability per day
    cat_tot = np.zeros((w.cal.days, ncat))
    for c in range(ncat):
        cat_tot[:, c] = wgt[:, cat_of == c].sum(1)
    avail = cat_tot > 0
    taste_cols = [c for c in w.persons.columns if c.startswith("taste_")]
    tastes = w.persons.select(taste_cols).to_numpy()
    mean_taste = tastes.mean(0)
    tp = np.where((lp >= 0)[:, None], tastes[np.maximum(lp, 0)], mean_taste[None, :])
    # weight categories by how much of them is on offer that day (share of SKU weight)
    share = cat_tot / np.maximum(cat_tot.sum(1, keepdims=True), 1e-12)
    pr = tp * avail[lt] * np.sqrt(share[lt])
    pr = pr / np.maximum(pr.sum(1, keepdims=True), 1e-12)
    u = rng.random(len(lt))
    cat = np.minimum((np.cumsum(pr, 1) < u[:, None]).sum(1), ncat - 1)
    # SKU within category and day: offset trick on normalised cumulative weights
    keys = np.zeros_like(wgt)
    for c in range(ncat):
        m = cat_of == c
        cs = np.cumsum(wgt[:, m], axis=1)
        tot = np.maximum(cs[:, -1:], 1e-12)
        keys[:, m] = c + np.minimum(cs / tot, 1.0 - 1e-12)
    flat = (keys + (np.arange(w.cal.days) * ncat)[:, None]).ravel()
    order = np.argsort(flat, kind="stable")
    flat_sorted = flat[order]
    q = lt * ncat + cat + rng.random(len(lt)) * (1 - 2e-12) + 1e-12
    pos = np.searchsorted(flat_sorted, q, side="left")
    pos = np.minimum(pos, len(flat_sorted) - 1)
    sku = order[pos] % wgt.shape[1]
    qu = rng.random(len(lt))
    promo = w.prices[pc]["promo"][lt, sku] > 0
    qu = np.where(promo, qu + 0.05, qu)
    qty = 1 + (qu > 0.87).astype(np.int64) + (qu > 0.975).astype(np.int64)
    return {"oidx": oidx, "sku": sku, "qty": qty}


def simulate(w: World) -> None:
    """Fill ``w.orders``, ``w.lines``, ``w.demand``, ``w.live_sessions``."""
    P = w.persons
    loc_ids = w.locations["location_id"].to_list()
    loc_index = {lid: i for i, lid in enumerate(loc_ids)}
    city_wh = w.cities["warehouse"].to_numpy()
    p_city = P["city_idx"].to_numpy()

    order_parts, line_parts = [], []
    next_order = 0
    rng_s = rng_for(w.seed, "demand.sessions")
    sessions = _live_sessions(w, rng_s)
    w.live_sessions = sessions
    for spec in STREAMS:
        name, channel, sub, pc, fam, _base, _pref, lam, cancel_rate, _g, _c = spec
        rng = rng_for(w.seed, "demand.stream", name)
        o = _stream_orders(w, spec, rng, sessions if channel == "douyin" else None)
        n = len(o["t"])
        if channel == "amazon":
            afn = rng.random(n) < 0.86
            loc = np.where(afn, FBA_OF[sub], "WH-SH")
            fulfil = np.where(afn, "AFN", "MFN")
        elif sub == "global":
            loc = np.full(n, "WH-SH")
            fulfil = np.full(n, "")
        else:
            loc = city_wh[p_city[o["person"]]]
            fulfil = np.full(n, "")
        cancelled = rng.random(n) < cancel_rate
        wgt = sku_weights(w, pc)
        li = _lines_for(w, rng, o["t"], o["person"], pc, lam, wgt)
        order_parts.append(
            pl.DataFrame(
                {
                    "order_idx": np.arange(next_order, next_order + n, dtype=np.int64),
                    "stream": name,
                    "channel": channel,
                    "sub": sub,
                    "price_channel": pc,
                    "t": o["t"].astype(np.int64),
                    "sec": o["sec"].astype(np.int64),
                    "person_idx": o["person"].astype(np.int64),
                    "location_id": loc.astype(str),
                    "fulfillment": fulfil.astype(str),
                    "cancelled": cancelled,
                    "is_test": np.zeros(n, dtype=bool),
                    "is_brushing": np.zeros(n, dtype=bool),
                    "host_id": o.get("host_id", np.full(n, "")).astype(str),
                    "session_idx": o.get("session", np.full(n, -1)).astype(np.int64),
                }
            )
        )
        line_parts.append(
            pl.DataFrame(
                {
                    "order_idx": (li["oidx"] + next_order).astype(np.int64),
                    "sku_idx": li["sku"].astype(np.int64),
                    "qty_attempt": li["qty"].astype(np.int64),
                }
            )
        )
        next_order += n
    rng = rng_for(w.seed, "demand.stores")
    for so in _store_orders(w, rng):
        n = len(so["t"])
        li = _lines_for(w, rng, so["t"], so["person"], "pos", 0.5, sku_weights(w, "pos"))
        order_parts.append(
            pl.DataFrame(
                {
                    "order_idx": np.arange(next_order, next_order + n, dtype=np.int64),
                    "stream": "pos",
                    "channel": "pos",
                    "sub": so["store"],
                    "price_channel": "pos",
                    "t": so["t"].astype(np.int64),
                    "sec": so["sec"].astype(np.int64),
                    "person_idx": so["person"].astype(np.int64),
                    "location_id": so["store"],
                    "fulfillment": "",
                    "cancelled": np.zeros(n, dtype=bool),
                    "is_test": np.zeros(n, dtype=bool),
                    "is_brushing": np.zeros(n, dtype=bool),
                    "host_id": "",
                    "session_idx": np.full(n, -1, dtype=np.int64),
                }
            )
        )
        line_parts.append(
            pl.DataFrame(
                {
                    "order_idx": (li["oidx"] + next_order).astype(np.int64),
                    "sku_idx": li["sku"].astype(np.int64),
                    "qty_attempt": li["qty"].astype(np.int64),
                }
            )
        )
        next_order += n
    orders = pl.concat(order_parts, how="vertical_relaxed")
    lines = pl.concat(line_parts)
    lines = lines.with_columns(
        pl.int_range(pl.len()).over("order_idx").cast(pl.Int64).alias("line_no") + 1
    )

    lines = _repeat_purchases(w, orders, lines)
    w.orders, w.lines = orders, lines
    _inventory_and_censor(w, loc_index)


def _repeat_purchases(w: World, orders: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Consumables are re-bought: a share of lines repeat the person's previous SKU if on offer."""
    rng = rng_for(w.seed, "demand.repeat")
    df = lines.join(
        orders.select("order_idx", "person_idx", "t", "sec", "price_channel"),
        on="order_idx",
        maintain_order="left",
    )
    df = df.sort(["person_idx", "t", "sec", "order_idx", "line_no"])
    prev = df["sku_idx"].shift(1).fill_null(-1).to_numpy()
    same = (df["person_idx"].to_numpy() == df["person_idx"].shift(1).fill_null(-2).to_numpy()) & (
        df["person_idx"].to_numpy() >= 0
    )
    t = df["t"].to_numpy()
    pcs = df["price_channel"].to_numpy()
    ok = same & (rng.random(len(df)) < 0.3) & (prev >= 0)
    new = df["sku_idx"].to_numpy().copy()
    for pc in np.unique(pcs[ok]):
        m = ok & (pcs == pc)
        wgt = sku_weights(w, pc)
        avail = wgt[t[m], prev[m]] > 0
        idx = np.nonzero(m)[0][avail]
        new[idx] = prev[idx]
    df = df.with_columns(pl.Series("sku_idx", new))
    # avoid two lines of one order with the same SKU: keep the first, merge quantities
    df = df.group_by(["order_idx", "sku_idx"], maintain_order=True).agg(
        pl.col("qty_attempt").sum(), pl.col("line_no").min()
    )
    df = df.sort(["order_idx", "line_no"]).with_columns(
        (pl.int_range(pl.len()).over("order_idx") + 1).cast(pl.Int64).alias("line_no")
    )
    return df.select("order_idx", "line_no", "sku_idx", "qty_attempt")


def _inventory_and_censor(w: World, loc_index: dict) -> None:
    cal = w.cal
    rng = rng_for(w.seed, "demand.inventory")
    orders, lines = w.orders, w.lines
    nl = len(loc_index)
    ns = len(w.products)
    T = cal.days
    li = lines.join(
        orders.select(
            "order_idx", "t", "sec", "location_id", "cancelled", "is_test", "is_brushing"
        ),
        on="order_idx",
        maintain_order="left",
    )
    li = li.with_columns(
        pl.col("location_id").replace_strict(loc_index, return_dtype=pl.Int64).alias("loc")
    )
    real = ~(li["cancelled"].to_numpy() | li["is_test"].to_numpy() | li["is_brushing"].to_numpy())
    t = li["t"].to_numpy()
    loc = li["loc"].to_numpy()
    sku = li["sku_idx"].to_numpy()
    q = li["qty_attempt"].to_numpy()
    D = np.zeros((T, nl, ns), dtype=np.int64)
    np.add.at(D, (t[real], loc[real], sku[real]), q[real])

    # which location carries which SKU
    ltype = w.locations["location_type"].to_numpy()
    lids = w.locations["location_id"].to_list()
    carried = np.zeros((nl, ns), dtype=bool)
    for i, lid in enumerate(lids):
        if ltype[i] == "store":
            carried[i] = w.assort["pos"]
        elif ltype[i] == "warehouse":
            carried[i] = np.ones(ns, dtype=bool)
        else:
            carried[i] = w.assort["amazon_" + lid.split("-")[1].lower()]
    carried |= D.sum(0) > 0
    w.carried = carried

    # planner's view of the event calendar per location family
    fam_of = np.where(ltype == "store", "store", np.where(ltype == "fba", "amazon", "cn_online"))
    expected = np.stack([cal.traffic(f) * cal.yearly(f) for f in fam_of], axis=1)  # T × nl
    lead = np.where(ltype == "store", 2, np.where(ltype == "fba", 28, 10))
    review = np.where(ltype == "store", 3, np.where(ltype == "fba", 14, 7))
    cover = np.where(ltype == "store", 6, np.where(ltype == "fba", 21, 12)).astype(float)

    sd = w.start_day
    launch = w.products["launch_date"].cast(pl.Int64).to_numpy() - sd
    disc = w.products["discontinued_date"].cast(pl.Int64).fill_null(10**7).to_numpy() - sd
    # initial run-rate estimate: mean real demand over the first 8 weeks (or since launch)
    first = D[: min(56, T)].astype(float)
    rate = first.mean(0)
    rate = np.where(rate > 0, rate, D.astype(float).mean(0) * 1.0)
    rate *= rng.lognormal(0, 0.15, size=rate.shape)
    on_hand = np.round(
        rate * (cover + lead + review)[:, None] * rng.uniform(0.7, 1.3, size=rate.shape)
    ).astype(np.int64)
    on_hand = np.where(carried & (launch[None, :] <= 0), on_hand, 0)
    pipeline = np.zeros((T + 120, nl, ns), dtype=np.int64)
    # supplier disruptions: some SKUs cannot be replenished for 3..8 weeks
    blocked = np.zeros((T, ns), dtype=bool)
    for s in np.nonzero(rng.random(ns) < 0.12)[0]:
        b0 = int(rng.integers(0, max(T - 20, 1)))
        blocked[b0 : b0 + int(rng.integers(21, 57)), s] = True
    plan_err = rng.lognormal(0, 0.3, size=(T, ns))
    forecast = rate.copy()
    out_start = np.zeros((T, nl, ns), dtype=np.int64)
    sold = np.zeros((T, nl, ns), dtype=np.int64)
    # units ordered and not yet arrived at the end of each day (arrivals count on their day)
    transit = np.zeros((nl, ns), dtype=np.int64)
    transit_end = np.zeros((T, nl, ns), dtype=np.int64)
    review_day = rng.integers(0, 7, size=nl)
    for d in range(T):
        if d:
            transit_end[d - 1] = transit  # out at the end of the day before
        on_hand = on_hand + pipeline[d]
        transit = transit - pipeline[d]
        out_start[d] = on_hand
        s_d = np.minimum(D[d], on_hand)
        sold[d] = s_d
        on_hand = on_hand - s_d
        # forecast from sales (biased low under stockouts, as in real life)
        base_d = np.maximum(expected[d], 0.2)[:, None]
        launched = (launch <= d)[None, :]
        forecast = np.where(launched, 0.93 * forecast + 0.07 * (s_d / base_d), forecast)
        rev = ((d + review_day) % review) == 0
        if not rev.any():
            continue
        horizon_end = np.minimum(d + lead + review + cover.astype(int), T - 1)
        mult = np.array(
            [
                expected[d + 1 : horizon_end[i] + 1, i].mean() if horizon_end[i] > d else 1.0
                for i in range(nl)
            ]
        )
        target = forecast * mult[:, None] * (lead + review + cover)[:, None] * plan_err[d][None, :]
        # new launches: stock ahead of launch with a guess
        pre = (launch > d - 21) & (launch <= d + int(lead.max()) + 14)
        if pre.any():
            target[:, pre] = np.maximum(
                target[:, pre], rate[:, pre] * (lead + review + cover)[:, None]
            )
        target = np.where(carried, target, 0)
        target[:, disc <= d + 45] = 0  # run down discontinued SKUs
        position = on_hand + pipeline[d + 1 : d + 121].sum(0)
        order_q = np.maximum(np.round(target).astype(np.int64) - position, 0)
        order_q[~rev] = 0
        order_q[:, blocked[d]] = np.where(ltype[:, None] == "store", order_q[:, blocked[d]], 0)
        jitter = rng.integers(0, 4, size=nl)
        for i in np.nonzero(rev)[0]:
            pipeline[d + lead[i] + jitter[i], i] += order_q[i]
        transit = transit + order_q
    if T:
        transit_end[T - 1] = transit
    # censor lines: first come, first served within day × location × SKU
    cap = out_start[t, loc, sku]
    li = li.with_columns(pl.Series("cap", np.where(real, cap, 10**9)), pl.Series("real", real))
    li = li.sort(["t", "loc", "sku_idx", "sec", "order_idx", "line_no"])
    li = li.with_columns(
        pl.when(pl.col("real"))
        .then(pl.col("qty_attempt"))
        .otherwise(0)
        .cum_sum()
        .over(["t", "loc", "sku_idx"])
        .alias("cum")
    )
    li = li.with_columns(
        pl.when(pl.col("real"))
        .then(
            pl.min_horizontal(
                pl.max_horizontal(pl.col("cap") - (pl.col("cum") - pl.col("qty_attempt")), 0),
                pl.col("qty_attempt"),
            )
        )
        .otherwise(pl.col("qty_attempt"))
        .alias("quantity")
    )
    kept = li.filter(pl.col("quantity") > 0).select(
        "order_idx", "line_no", "sku_idx", "qty_attempt", "quantity"
    )
    kept = kept.sort(["order_idx", "line_no"]).with_columns(
        (pl.int_range(pl.len()).over("order_idx") + 1).cast(pl.Int64).alias("line_no")
    )
    w.lines = kept
    w.orders = orders.filter(pl.col("order_idx").is_in(kept["order_idx"].unique().implode()))
    # demand truth: rows for carried (location, SKU) while the SKU is live (or stock remains)
    tt, ll, ss = np.nonzero(np.broadcast_to(carried[None], (T, nl, ns)))
    live = (
        ((tt >= launch[ss]) & (tt <= disc[ss])) | (out_start[tt, ll, ss] > 0) | (D[tt, ll, ss] > 0)
    )
    opened = w.locations["opened_date"].cast(pl.Int64).to_numpy() - sd
    live &= tt >= opened[ll]
    tt, ll, ss = tt[live], ll[live], ss[live]
    w.demand = pl.DataFrame(
        {
            "t": tt.astype(np.int64),
            "loc_idx": ll.astype(np.int64),
            "sku_idx": ss.astype(np.int64),
            "true_demand": D[tt, ll, ss],
            "sold_units": sold[tt, ll, ss],
            "on_hand_start": out_start[tt, ll, ss],
            "in_transit_end": transit_end[tt, ll, ss],
        }
    ).with_columns(
        ((pl.col("on_hand_start") < pl.col("true_demand")) | (pl.col("on_hand_start") == 0)).alias(
            "stockout"
        )
    )


__all__ = ["SALES_CHANNELS", "STREAMS", "World", "simulate", "sku_weights"]
