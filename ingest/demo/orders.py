"""Turns served order attempts into orders as the channels know them: prices, coupons,
statuses, order ids, test and brushing orders, and returns."""

from __future__ import annotations

import numpy as np
import polars as pl

from .demand import World
from .util import DAY, rng_for

RETURN_RATE = {
    "tmall": 0.07,
    "tmall_global": 0.04,
    "jd": 0.06,
    "douyin": 0.15,
    "web": 0.06,
    "wechat": 0.05,
    "amazon_us": 0.05,
    "amazon_de": 0.06,
    "amazon_uk": 0.05,
    "pos": 0.015,
}
# The planted unprofitable live session: a high-commission host's busiest session (early
# enough for returns to come back), sold at a deep discount, most of it returned.
PLANTED_MIN_HOST_RATE = 0.25
PLANTED_RETURN_RATE = 0.7
PLANTED_RETURN_WINDOW_DAYS = 25
AMAZON_PREFIX = {
    "US": [111, 112, 113, 114],
    "DE": [302, 303, 304, 305, 306],
    "UK": [202, 203, 204, 205, 206],
}


# Receipt numbers of one store and day per shard of a brand generated in shards (a till each):
# shard k numbers its receipts from k * POS_SHARD_BLOCK + 1.
POS_SHARD_BLOCK = 1_000


def _seq_ids(rng, n: int, base: int, lo: int, hi: int) -> np.ndarray:
    return base + np.cumsum(rng.integers(lo, hi, size=n, dtype=np.int64))


def _add_test_and_brushing(w: World) -> None:
    rng = rng_for(w.seed, "orders.special")
    o, li = w.orders, w.lines
    nxt = int(o["order_idx"].max()) + 1 if len(o) else 0
    T = w.cal.days
    cheap = int(
        np.argmin(w.products["list_price_cents"].to_numpy() + np.where(w.assort["tmall"], 0, 10**9))
    )
    rows, lrows = [], []
    # web test orders (staff checking the checkout)
    n_test = max(3, int(round(len(o.filter(pl.col("channel") == "web")) * 0.002)))
    for k in range(n_test):
        t = int(rng.integers(0, T))
        rows.append(
            dict(
                order_idx=nxt,
                stream="web",
                channel="web",
                sub="",
                price_channel="web",
                t=t,
                sec=int(rng.integers(9 * 3600, 18 * 3600)),
                person_idx=-1,
                location_id="WH-SH",
                fulfillment="",
                cancelled=bool(k % 3 == 2),
                is_test=True,
                is_brushing=False,
                host_id="",
                session_idx=-1,
            )
        )
        sku = int(rng.integers(0, len(w.products)))
        lrows.append(dict(order_idx=nxt, line_no=1, sku_idx=sku, qty_attempt=1, quantity=1))
        nxt += 1
    # Tmall brushing rings: many throw-away accounts, one address, tiny amounts
    n_rings = max(1, int(round(3 * max(w.scale, 0.34))))
    for r in range(n_rings):
        t0 = int(rng.integers(0, max(T - 3, 1)))
        for _k in range(int(rng.integers(12, 31))):
            t = min(t0 + int(rng.integers(0, 3)), T - 1)
            rows.append(
                dict(
                    order_idx=nxt,
                    stream="tmall",
                    channel="tmall",
                    sub="flagship",
                    price_channel="tmall",
                    t=t,
                    sec=int(rng.integers(1 * 3600, 5 * 3600)),
                    person_idx=-(100 + r),
                    location_id="WH-SH",
                    fulfillment="",
                    cancelled=False,
                    is_test=False,
                    is_brushing=True,
                    host_id="",
                    session_idx=-1,
                )
            )
            lrows.append(dict(order_idx=nxt, line_no=1, sku_idx=cheap, qty_attempt=1, quantity=1))
            nxt += 1
    w.orders = pl.concat([o, pl.DataFrame(rows, schema=o.schema)]).sort(["t", "sec", "order_idx"])
    w.lines = pl.concat([li, pl.DataFrame(lrows, schema=li.schema)]).sort(["order_idx", "line_no"])


def _planted_live_session(w: World, o: pl.DataFrame, og_a: np.ndarray) -> np.ndarray:
    """Mask of the orders of the planted unprofitable Douyin live session; records it in
    ``w.planted_live_session`` (truth). Chooses, without any random draw, the session with the
    most non-cancelled orders among hosts whose commission is at least
    ``PLANTED_MIN_HOST_RATE`` and whose day leaves ``PLANTED_RETURN_WINDOW_DAYS`` for returns
    (ties: the earlier session). No such session (a tiny window): nothing is planted."""
    from .catalog import DOUYIN_HOSTS

    rates = {h: r for h, _n, r in DOUYIN_HOSTS}
    S = w.live_sessions
    none = np.zeros(len(o), dtype=bool)
    w.planted_live_session = None
    if S is None or not len(S):
        return none
    ok = S.filter(
        (pl.col("t") <= w.cal.days - 1 - PLANTED_RETURN_WINDOW_DAYS)
        & (pl.col("host_id").replace_strict(rates, default=0.0) >= PLANTED_MIN_HOST_RATE)
    )
    counts = (
        o.filter((pl.col("channel") == "douyin") & ~pl.col("cancelled") & ~pl.col("is_test"))
        .group_by("session_idx")
        .agg(pl.len().alias("n"), pl.col("host_id").first())
    )
    cand = ok.join(counts, on="session_idx", how="inner").sort(
        ["n", "session_idx"], descending=[True, False]
    )
    if cand.is_empty():
        return none
    best = cand.row(0, named=True)
    mask = (o["session_idx"].to_numpy() == best["session_idx"]) & (
        o["channel"].to_numpy() == "douyin"
    )
    w.planted_live_session = {
        "host_id": best["host_id"],
        "session_date": w.cal.dates[best["t"]],
        "room_id": best["room_id"],
        "orders": int(mask.sum()),
        "gross_cents": int(og_a[mask].sum()),
        "host_commission_rate": rates[best["host_id"]],
        "return_rate": PLANTED_RETURN_RATE,
    }
    return mask


def finalize(w: World) -> None:
    _add_test_and_brushing(w)
    rng = rng_for(w.seed, "orders.finalize")
    T = w.cal.days
    sd = w.start_day
    o, li = w.orders, w.lines
    n = len(o)
    t = o["t"].to_numpy()
    o["stream"].to_numpy()
    channel = o["channel"].to_numpy()
    # ---- prices
    lt = li.join(
        o.select("order_idx", "t", "price_channel", "stream", "channel"),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    price = np.zeros(len(lt), dtype=np.int64)
    listp = np.zeros(len(lt), dtype=np.int64)
    pcs = lt["price_channel"].to_numpy()
    ltt = lt["t"].to_numpy()
    lsk = lt["sku_idx"].to_numpy()
    cur = np.full(len(lt), "CNY", dtype=object)
    for pc in np.unique(pcs):
        m = pcs == pc
        price[m] = w.prices[pc]["price"][ltt[m], lsk[m]]
        listp[m] = w.prices[pc]["list"][ltt[m], lsk[m]]
        cur[m] = w.prices[pc]["currency"]
    gross = price * lt["quantity"].to_numpy()
    li = li.with_columns(
        pl.Series("unit_price_cents", price),
        pl.Series("list_price_cents", listp),
        pl.Series("currency", cur.astype(str)),
        pl.Series("gross_cents", gross),
    )
    og = li.group_by("order_idx").agg(pl.col("gross_cents").sum().alias("order_gross"))
    o = o.join(og, on="order_idx", how="left", maintain_order="left")
    # ---- order-level coupons
    og_a = o["order_gross"].to_numpy()
    u = rng.random(n)
    code = np.full(n, "", dtype=object)
    disc = np.zeros(n, dtype=np.int64)
    ev = {f: w.cal.event_markdown(f) for f in ("cn_online", "jd", "douyin")}
    fam = {
        "tmall": "cn_online",
        "wechat": "cn_online",
        "web": "cn_online",
        "jd": "jd",
        "douyin": "douyin",
    }
    for ch in ("tmall", "jd", "douyin", "wechat"):
        m = channel == ch
        on_event = ev[fam[ch]][t] > 0
        tiers = np.minimum(og_a // 30000, 3)
        e = m & on_event & (tiers > 0)
        disc[e] = tiers[e] * 3000
        code[e] = "满300减30"
        c = m & ~on_event & (u < 0.2) & (og_a >= 10000)
        disc[c] = np.where(og_a[c] >= 30000, 2000, 1000)
        code[c] = np.where(og_a[c] >= 30000, "店铺券20", "店铺券10")
    host = o["host_id"].to_numpy()
    h = (channel == "douyin") & (host != "") & (host != "0") & (rng.random(n) < 0.4) & (og_a > 3000)
    disc[h] += 1000
    code[h] = np.where(code[h] == "", "达人券10", code[h] + "+达人券10")
    web = channel == "web"
    wc = web & (u < 0.15) & ~o["is_test"].to_numpy()
    kind = rng.random(n)
    w10 = wc & (kind < 0.5)
    disc[w10] = og_a[w10] // 10
    code[w10] = "WELCOME10"
    v20 = wc & (kind >= 0.5) & (og_a >= 20000)
    disc[v20] = 2000
    code[v20] = "VIP20"
    pos = channel == "pos"
    pmem = pos & (o["person_idx"].to_numpy() >= 0) & (u < 0.25)
    disc[pmem] = og_a[pmem] // 20
    code[pmem] = "会员95折"
    amz = channel == "amazon"
    ac = amz & (u < 0.08)
    disc[ac] = og_a[ac] // 10
    code[ac] = "PLM-" + str(w.seed % 97)
    planted = _planted_live_session(w, o, og_a)
    if planted.any():
        # deep "秒杀" price in the planted session, on top of any coupon (own RNG stream)
        rp = rng_for(w.seed, "orders.planted_live_session", "discount")
        share = rp.uniform(0.55, 0.60, size=int(planted.sum()))
        disc[planted] = np.maximum(disc[planted], np.round(og_a[planted] * share).astype(np.int64))
        code[planted] = np.where(code[planted] == "", "直播秒杀", "直播秒杀+" + code[planted])
    brush = o["is_brushing"].to_numpy()
    disc[brush] = og_a[brush] - rng.integers(10, 500, size=int(brush.sum()))  # pays ¥0.10..¥5
    code[brush] = "店铺券"
    disc = np.minimum(disc, np.maximum(og_a - 1, 0))
    o = o.with_columns(pl.Series("order_discount", disc), pl.Series("coupon", code.astype(str)))
    # allocate to lines proportionally, remainder on the first line
    li = li.join(
        o.select("order_idx", "order_discount", "order_gross"),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    li = li.with_columns(
        (
            pl.col("order_discount")
            * pl.col("gross_cents")
            // pl.max_horizontal(pl.col("order_gross"), 1)
        ).alias("d0")
    )
    li = li.with_columns(
        (pl.col("order_discount") - pl.col("d0").sum().over("order_idx")).alias("rem")
    )
    li = li.with_columns(
        pl.when(pl.col("line_no") == 1)
        .then(pl.col("d0") + pl.col("rem"))
        .otherwise(pl.col("d0"))
        .alias("discount_cents")
    )
    li = li.with_columns(
        (pl.col("gross_cents") - pl.col("discount_cents")).alias("net_cents")
    ).drop("d0", "rem", "order_discount", "order_gross")
    # ---- statuses and dates
    cancelled = o["cancelled"].to_numpy()
    online = channel != "pos"
    pending = online & (t == T - 1) & (rng.random(n) < 0.15) & ~cancelled & ~brush
    pay_sec = o["sec"].to_numpy() + rng.integers(5, 900, size=n)
    ship_day = t + 1 + (rng.random(n) < 0.35)
    # the web shop's warehouse ships every paid order by the end of the window (one fulfilment each)
    ship_day = np.where(channel == "web", np.minimum(ship_day, T - 1), ship_day)
    complete_day = ship_day + rng.integers(3, 8, size=n)
    status = np.where(
        cancelled,
        "cancelled",
        np.where(
            pending,
            "pending",
            np.where(
                ship_day > T - 1, "paid", np.where(complete_day > T - 1, "shipped", "completed")
            ),
        ),
    )
    status = np.where(pos, "completed", status)
    cancel_ts = (sd + t) * DAY + o["sec"].to_numpy() + rng.integers(600, 2 * DAY, size=n)
    cancel_ts = np.minimum(cancel_ts, (sd + T) * DAY - 1)
    o = o.with_columns(
        ((sd + pl.col("t")) * DAY + pl.col("sec")).alias("ts"),
        pl.Series("status", status),
        pl.Series("pay_ts", (sd + t) * DAY + np.minimum(pay_sec, DAY - 1)),
        pl.Series("ship_day", ship_day.astype(np.int64)),
        pl.Series("complete_day", complete_day.astype(np.int64)),
        pl.Series("cancel_ts", np.where(cancelled, cancel_ts, 0).astype(np.int64)),
    )
    # ---- order ids, in time order per channel
    o = o.sort(["ts", "order_idx"])
    ids = np.full(len(o), "", dtype=object)
    ch_a = o["channel"].to_numpy()
    sub_a = o["sub"].to_numpy()
    rid = rng_for(w.seed, "orders.ids")
    ymd = np.array(w.cal.ymd)
    t_sorted = o["t"].to_numpy()
    m = ch_a == "web"
    ids[m] = _seq_ids(rid, int(m.sum()), 5_812_345_678_900, 1_000, 900_000).astype(str)
    m = ch_a == "tmall"
    ids[m] = _seq_ids(rid, int(m.sum()), 2_412_000_000_000_000_000, 10**9, 10**11).astype(str)
    m = ch_a == "jd"
    ids[m] = _seq_ids(rid, int(m.sum()), 300_100_000_000, 10_000, 500_000).astype(str)
    m = ch_a == "douyin"
    ids[m] = _seq_ids(rid, int(m.sum()), 6_920_000_000_000_000_000, 10**9, 10**11).astype(str)
    m = ch_a == "wechat"
    if m.any():
        seq = (
            pl.DataFrame({"t": t_sorted[m]})
            .with_columns((pl.int_range(pl.len()).over("t") + 1 + w.shard * 100_000).alias("k"))[
                "k"
            ]
            .to_numpy()
        )
        ids[m] = np.char.add(np.char.add("WX", ymd[t_sorted[m]]), np.char.zfill(seq.astype(str), 6))
    for mk, prefixes in AMAZON_PREFIX.items():
        m = (ch_a == "amazon") & (sub_a == mk)
        k = int(m.sum())
        if k:
            from .population import _unique_ints

            a = _unique_ints(rid, k, 10**13, 10**14 - 1).astype(str)
            pre = rid.choice(prefixes, size=k).astype(str)
            ids[m] = [f"{p}-{x[:7]}-{x[7:]}" for p, x in zip(pre, a, strict=True)]
    m = ch_a == "pos"
    if m.any():
        code_s = np.array([s.split("-")[1] + s.split("-")[2] for s in sub_a[m]])
        seq = (
            pl.DataFrame({"s": sub_a[m], "t": t_sorted[m]})
            .with_columns(
                (pl.int_range(pl.len()).over(["s", "t"]) + 1 + w.shard * POS_SHARD_BLOCK).alias("k")
            )["k"]
            .to_numpy()
        )
        ids[m] = np.char.add(
            np.char.add(code_s, ymd[t_sorted[m]]), np.char.zfill(seq.astype(str), 4)
        )
    o = o.with_columns(pl.Series("order_id", ids.astype(str)))
    # web order names #1001..
    o = o.with_columns(
        pl.when(pl.col("channel") == "web")
        .then(pl.format("#{}", pl.int_range(pl.len()).over("channel") + 1001 + w.shard * 10**6))
        .otherwise(pl.lit(""))
        .alias("order_name")
    )
    # ---- line ids
    li = li.join(
        o.select("order_idx", "channel", "ts", "order_id"),
        on="order_idx",
        how="left",
        maintain_order="left",
    ).sort(["ts", "order_idx", "line_no"])
    lch = li["channel"].to_numpy()
    lid = li["line_no"].cast(pl.Utf8).to_numpy().astype(object)
    m = lch == "web"
    lid[m] = _seq_ids(rid, int(m.sum()), 13_900_000_000_000, 1_000, 90_000).astype(str)
    for ch, base in (("tmall", 2_412_500_000_000_000_000), ("douyin", 6_925_000_000_000_000_000)):
        m = lch == ch
        lid[m] = _seq_ids(rid, int(m.sum()), base, 10**9, 10**11).astype(str)
    li = li.with_columns(pl.Series("line_id", lid.astype(str))).drop("channel", "ts", "order_id")
    # ---- returns
    rr = rng_for(w.seed, "orders.returns")
    lj = li.join(
        o.select(
            "order_idx",
            "stream",
            "status",
            "t",
            "complete_day",
            "is_test",
            "is_brushing",
            "location_id",
            "fulfillment",
        ),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    rate = lj["stream"].replace_strict(RETURN_RATE, return_dtype=pl.Float64).to_numpy()
    eligible = (
        (lj["status"].to_numpy() == "completed")
        & ~lj["is_test"].to_numpy()
        & ~lj["is_brushing"].to_numpy()
    )
    eligible &= (
        lj["fulfillment"].to_numpy() != "MFN"
    )  # Amazon returns come from the FBA returns report only
    ret = eligible & (rr.random(len(lj)) < rate)
    if planted.any():
        # most of the planted session's lines come back, in full (own RNG stream)
        rp = rng_for(w.seed, "orders.planted_live_session", "returns")
        in_plant = np.isin(lj["order_idx"].to_numpy(), o["order_idx"].to_numpy()[planted])
        ret = np.where(in_plant, eligible & (rp.random(len(lj)) < PLANTED_RETURN_RATE), ret)
    q = lj["quantity"].to_numpy()
    rq = np.where(
        rr.random(len(lj)) < 0.75,
        q,
        1 + (rr.random(len(lj)) * np.maximum(q - 1, 1)).astype(np.int64),
    )
    rq = np.minimum(rq, q)
    if planted.any():
        rq = np.where(in_plant, q, rq)
    is_pos = lj["stream"].to_numpy() == "pos"
    rday = np.where(
        is_pos,
        lj["t"].to_numpy() + rr.integers(1, 15, size=len(lj)),
        lj["complete_day"].to_numpy() + rr.integers(0, 11, size=len(lj)),
    )
    ret &= rday <= T - 1
    if len(w.store_open):
        store_ids = w.locations.filter(pl.col("location_type") == "store")["location_id"].to_list()
        sidx = {s: i for i, s in enumerate(store_ids)}
        loc = lj["location_id"].to_numpy()
        for s, i in sidx.items():
            mm = ret & is_pos & (loc == s)
            ret[mm] &= w.store_open[np.minimum(rday[mm], T - 1), i]
    rsec = np.where(
        is_pos,
        rr.integers(11 * 3600, 21 * 3600, size=len(lj)),
        rr.integers(8 * 3600, 23 * 3600, size=len(lj)),
    )
    net = lj["net_cents"].to_numpy()
    refund = np.where(rq == q, net, np.round(net * rq / np.maximum(q, 1)).astype(np.int64))
    returns = pl.DataFrame(
        {
            "order_idx": lj["order_idx"].to_numpy()[ret],
            "line_no": lj["line_no"].to_numpy()[ret],
            "return_qty": rq[ret].astype(np.int64),
            "return_day": rday[ret].astype(np.int64),
            "return_ts": ((sd + rday[ret]) * DAY + rsec[ret]).astype(np.int64),
            "refund_cents": refund[ret].astype(np.int64),
        }
    ).filter(pl.col("refund_cents") > 0)
    w.orders = o
    w.lines = li.sort(["order_idx", "line_no"])
    w.returns = returns.sort(["return_ts", "order_idx", "line_no"])
    _pos_return_receipts(w)
    _unshipped(w)


def ship_day_of(o: pl.DataFrame) -> pl.Expr:
    """The day an order left its location: a store sale on its day, an online order on its
    ship_day (beyond the last day when it has not shipped: pending or paid)."""
    return pl.when(pl.col("channel") == "pos").then(pl.col("t")).otherwise(pl.col("ship_day"))


def _unshipped(w: World) -> None:
    """``unshipped_end`` on the demand truth: units of real orders (not cancelled, test or
    brushing: the orders the stock simulation served) placed by the end of each day and not
    shipped by then, per location x SKU. They are out of the simulation's stock (served when
    placed) but still on the shelf, so the ERP's physical snapshot counts them."""
    T = w.cal.days
    loc_index = {lid: i for i, lid in enumerate(w.locations["location_id"].to_list())}
    li = w.lines.join(
        w.orders.select(
            "order_idx",
            "t",
            "location_id",
            "cancelled",
            "is_test",
            "is_brushing",
            ship_day_of(w.orders).alias("ship"),
        ),
        on="order_idx",
        how="left",
    ).filter(~(pl.col("cancelled") | pl.col("is_test") | pl.col("is_brushing")))
    loc = li["location_id"].replace_strict(loc_index, return_dtype=pl.Int64).to_numpy()
    sku, q = li["sku_idx"].to_numpy(), li["quantity"].to_numpy()
    t, ship = li["t"].to_numpy(), np.minimum(li["ship"].to_numpy(), T)
    flow = np.zeros((T + 1, len(loc_index), len(w.products)), dtype=np.int64)
    np.add.at(flow, (t, loc, sku), q)
    np.add.at(flow, (ship, loc, sku), -q)
    open_units = np.cumsum(flow[:T], axis=0)
    d = w.demand
    # a pair the simulation no longer lists (discontinued, nothing left to sell) while sold
    # units still wait to ship is still on the shelf: listed with no stock left to sell, and
    # once more the day after the last of them shipped (its count at 0)
    listed = np.zeros(open_units.shape, dtype=bool)
    listed[d["t"].to_numpy(), d["loc_idx"].to_numpy(), d["sku_idx"].to_numpy()] = True
    shelf = open_units > 0
    shelf[1:] |= open_units[:-1] > 0
    tt, ll, ss = np.nonzero(shelf & ~listed)
    extra = pl.DataFrame(
        {
            "t": tt.astype(np.int64),
            "loc_idx": ll.astype(np.int64),
            "sku_idx": ss.astype(np.int64),
            "true_demand": np.zeros(len(tt), np.int64),
            "sold_units": np.zeros(len(tt), np.int64),
            "on_hand_start": np.zeros(len(tt), np.int64),
            "in_transit_end": np.zeros(len(tt), np.int64),
            "stockout": np.ones(len(tt), bool),
        },
        schema=d.schema,
    )
    d = pl.concat([d, extra]).sort(["t", "loc_idx", "sku_idx"])
    w.demand = d.with_columns(
        pl.Series(
            "unshipped_end",
            open_units[d["t"].to_numpy(), d["loc_idx"].to_numpy(), d["sku_idx"].to_numpy()],
        )
    )


def _pos_return_receipts(w: World) -> None:
    """POS returns are their own receipts (SELL_RETURN) at the same store on the return day."""
    r = w.returns.join(
        w.orders.select("order_idx", "channel", "location_id", "order_id"),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    pr = r.filter(pl.col("channel") == "pos")
    # one return receipt per (original receipt, return day)
    rec = pr.group_by(["order_idx", "return_day"], maintain_order=True).agg(
        pl.col("return_ts").min().alias("rts"), pl.col("location_id").first()
    )
    # numbering: after the store's sales receipts of that day, so numbers never collide
    sales_n = (
        w.orders.filter(pl.col("channel") == "pos")
        .group_by(["location_id", "t"])
        .agg(pl.len().alias("n_sales"))
    )
    rec = rec.join(
        sales_n,
        left_on=["location_id", "return_day"],
        right_on=["location_id", "t"],
        how="left",
        maintain_order="left",
    ).with_columns(pl.col("n_sales").fill_null(0))
    rec = rec.sort(["location_id", "return_day", "rts", "order_idx"]).with_columns(
        (
            pl.int_range(pl.len()).over(["location_id", "return_day"])
            + 1
            + pl.col("n_sales")
            + w.shard * POS_SHARD_BLOCK
        ).alias("k")
    )
    ymd = pl.Series(w.cal.ymd)
    rec = rec.with_columns(
        (
            pl.col("location_id").str.split("-").list.get(1)
            + pl.col("location_id").str.split("-").list.get(2)
            + pl.col("return_day").map_elements(lambda d: ymd[d], return_dtype=pl.Utf8)
            + pl.col("k").cast(pl.Utf8).str.zfill(4)
        ).alias("return_receipt")
    )
    pr = pr.join(
        rec.select("order_idx", "return_day", "return_receipt", "rts"),
        on=["order_idx", "return_day"],
        how="left",
        maintain_order="left",
    )
    pr = pr.sort(["return_receipt", "line_no"]).with_columns(
        (pl.int_range(pl.len()).over("return_receipt") + 1).alias("return_line_no"),
        pl.col("rts").alias("return_ts"),
    )
    rest = w.returns.join(
        pr.select("order_idx", "line_no", "return_receipt", "return_line_no", "return_ts"),
        on=["order_idx", "line_no"],
        how="left",
        suffix="_pos",
        maintain_order="left",
    )
    rest = rest.with_columns(pl.coalesce("return_ts_pos", "return_ts").alias("return_ts")).drop(
        "return_ts_pos"
    )
    w.returns = rest.with_columns(pl.col("return_line_no").cast(pl.Int64))
