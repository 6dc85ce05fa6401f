"""Web shop clickstream in the Segment spec (NDJSON per day): page, identify, e-commerce track
events; bot sessions and one malformed line are planted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import DAY, HEX, random_strings, rng_for
from .common import browse_sessions, ident_frame, phone_formats

UA = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.47",
]
BOT_UA = [
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.6099.109 Safari/537.36",
]
UTC = 8 * 3600


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "web.clickstream")
    P = w.persons
    T = w.cal.days
    sd = w.start_day
    skus = w.products["sku"].to_numpy()
    names = w.products["name_zh"].to_numpy()
    cats = w.products["category"].to_numpy()
    price = w.prices["web"]["price"]
    # browse sessions + one session per web order (ending with Order Completed)
    users = np.nonzero(P["web_user"].to_numpy() | (P["pref_web"].to_numpy() > 0))[0]
    bp, bt, bs = browse_sessions(w, rng, users, 5.0)
    o = w.orders.filter(
        (pl.col("channel") == "web") & ~pl.col("is_test") & (pl.col("status") != "pending")
    ).sort(["ts", "order_idx"])
    op = o["person_idx"].to_numpy()
    ot = o["t"].to_numpy()
    osec = o["sec"].to_numpy()
    n_b, n_o = len(bp), len(o)
    # session table
    s_p = np.r_[bp, op]
    s_t = np.r_[bt, ot]
    s_start = np.r_[bs, np.maximum(osec - rng.integers(120, 1500, size=n_o), 0)]
    is_order = np.r_[np.zeros(n_b, dtype=bool), np.ones(n_o, dtype=bool)]
    order_row = np.r_[np.full(n_b, -1), np.arange(n_o)]
    ns = len(s_p)
    n_anon = P["n_anon"].to_numpy()[s_p]
    k_anon = np.minimum((s_t / max(T, 1) * n_anon).astype(np.int64), n_anon - 1)
    anon = np.where(
        k_anon == 0,
        P["anon_1"].to_numpy()[s_p],
        np.where(k_anon == 1, P["anon_2"].to_numpy()[s_p], P["anon_3"].to_numpy()[s_p]),
    )
    login = is_order | (rng.random(ns) < 0.3)
    ua = np.array(UA)[rng.integers(0, len(UA), size=ns)]
    ip = np.char.add(
        np.char.add("111.", rng.integers(0, 255, size=ns).astype(str)),
        np.char.add(
            np.char.add(".", rng.integers(0, 255, size=ns).astype(str)),
            np.char.add(".", rng.integers(1, 255, size=ns).astype(str)),
        ),
    )
    # events per session: page Home, [Products Searched], k × (Product Viewed [, Product Added]), [identify], [Checkout Started, Order Completed]
    k_view = 1 + rng.poisson(1.5, size=ns)
    ev_s, ev_kind, _ev_step = [], [], []
    for kind, cnt in (
        ("page", np.ones(ns, dtype=np.int64)),
        ("Products Searched", (rng.random(ns) < 0.4).astype(np.int64)),
        ("Product Viewed", k_view),
        ("Product Added", (is_order | (rng.random(ns) < 0.2)).astype(np.int64)),
        ("identify", login.astype(np.int64)),
        ("Checkout Started", is_order.astype(np.int64)),
        ("Order Completed", is_order.astype(np.int64)),
    ):
        idx = np.repeat(np.arange(ns), cnt)
        ev_s.append(idx)
        ev_kind.append(np.full(len(idx), kind))
    ev_s = np.concatenate(ev_s)
    ev_kind = np.concatenate(ev_kind)
    order_kind = {
        "page": 0,
        "Products Searched": 1,
        "Product Viewed": 2,
        "Product Added": 3,
        "identify": 4,
        "Checkout Started": 5,
        "Order Completed": 6,
    }
    kord = (
        pl.Series(ev_kind, dtype=pl.Utf8)
        .replace_strict(order_kind, return_dtype=pl.Int64)
        .to_numpy()
    )
    o_ = np.lexsort((kord, ev_s))
    ev_s, ev_kind, kord = ev_s[o_], ev_kind[o_], kord[o_]
    first_of = np.searchsorted(ev_s, ev_s, side="left")
    step = np.arange(len(ev_s)) - first_of
    sec = s_start[ev_s] + step * rng.integers(5, 60, size=len(ev_s))
    # Order Completed at the order time
    oc = ev_kind == "Order Completed"
    sec = np.where(
        oc,
        osec[np.maximum(order_row[ev_s], 0)],
        np.minimum(
            sec, np.where(is_order[ev_s], osec[np.maximum(order_row[ev_s], 0)] - 1, DAY - 1)
        ),
    )
    sec = np.clip(sec, 0, DAY - 1)
    ts_local = (sd + s_t[ev_s]) * DAY + sec
    p = s_p[ev_s]
    t_ev = s_t[ev_s]
    # userId after identify within the session
    after_login = login[ev_s] & (kord >= 4)
    cust = P["shop_customer_id"].to_numpy()[p].astype(str)
    user_id = np.where(after_login, cust, "")
    sku_i = rng.integers(0, len(skus), size=len(ev_s))
    # viewed/added products from the web price list of that day
    pr = price[t_ev, sku_i]
    email = np.where(
        t_ev >= P["email_change_day"].to_numpy()[p],
        P["email_new"].to_numpy()[p],
        P["email"].to_numpy()[p],
    )
    phone_raw = np.where(
        t_ev >= P["phone_change_day"].to_numpy()[p],
        P["phone_new"].to_numpy()[p],
        P["phone"].to_numpy()[p],
    )
    phone = phone_formats(phone_raw, rng.integers(0, 4, size=len(ev_s)))
    df = pl.DataFrame(
        {
            "ts": ts_local,
            "sess": ev_s,
            "kind": ev_kind,
            "kord": kord,
            "anon": anon[ev_s],
            "user_id": user_id,
            "ua": ua[ev_s],
            "ip": ip[ev_s],
            "sku": skus[sku_i],
            "name": names[sku_i],
            "cat": cats[sku_i],
            "price_c": pr,
            "email": np.where(kord == 4, email, ""),
            "phone": np.where(kord == 4, phone, ""),
            "order_row": np.where(oc, order_row[ev_s], -1),
            "pid": P["person_id"].to_numpy()[p],
            "bot": False,
        }
    )
    # bot sessions
    n_bots = max(2, int(round(ns * 0.004)))
    bt_day = rng.integers(0, T, size=n_bots)
    b_len = rng.integers(60, 300, size=n_bots)
    b_idx = np.repeat(np.arange(n_bots), b_len)
    b_step = np.arange(len(b_idx)) - np.searchsorted(b_idx, b_idx, side="left")
    b_start = rng.integers(0, DAY - 400, size=n_bots)
    b_anon = random_strings(rng, n_bots, 32, HEX)
    bsk = rng.integers(0, len(skus), size=len(b_idx))
    bots = pl.DataFrame(
        {
            "ts": (sd + bt_day[b_idx]) * DAY + b_start[b_idx] + (b_step * 0.7).astype(np.int64),
            "sess": ns + b_idx,
            "kind": "Product Viewed",
            "kord": 2,
            "anon": b_anon[b_idx],
            "user_id": "",
            "ua": np.array(BOT_UA)[b_idx % len(BOT_UA)],
            "ip": np.char.add("47.100.0.", (b_idx % 250).astype(str)),
            "sku": skus[bsk],
            "name": names[bsk],
            "cat": cats[bsk],
            "price_c": price[bt_day[b_idx], bsk],
            "email": "",
            "phone": "",
            "order_row": -1,
            "pid": -1,
            "bot": True,
        }
    )
    df = pl.concat([df, bots.cast(df.schema)]).sort(["ts", "sess", "kord"])
    df = df.with_columns(
        pl.Series("mid", random_strings(rng, len(df), 24, HEX)),
        (
            pl.from_epoch(pl.col("ts") - UTC, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
            + ".000Z"
        ).alias("timestamp"),
        (pl.col("ts") // DAY - sd).alias("t"),
    )
    # Order Completed payloads
    li = w.lines.join(
        o.select("order_idx"), on="order_idx", how="semi", maintain_order="left"
    ).join(
        w.products.select("sku_idx", "sku", "name_zh", "category"),
        on="sku_idx",
        how="left",
        maintain_order="left",
    )
    prods = (
        li.sort(["order_idx", "line_no"])
        .group_by("order_idx", maintain_order=True)
        .agg(
            pl.struct(
                pl.col("sku").alias("product_id"),
                "sku",
                pl.col("category"),
                pl.col("name_zh").alias("name"),
                pl.lit("QINGHE").alias("brand"),
                (pl.col("unit_price_cents") / 100).alias("price"),
                "quantity",
            ).alias("products")
        )
    )
    orow = (
        o.with_row_index("order_row")
        .with_columns(pl.col("order_row").cast(pl.Int64))
        .join(prods, on="order_idx", how="left", maintain_order="left")
    )
    ocd = (
        df.filter(pl.col("kind") == "Order Completed")
        .select("mid", "order_row")
        .join(
            orow.select(
                "order_row", "order_id", "order_gross", "order_discount", "coupon", "products"
            ),
            on="order_row",
            how="left",
            maintain_order="left",
        )
    )
    ctx = pl.struct(
        pl.col("ip"),
        pl.col("ua").alias("userAgent"),
        pl.struct(pl.lit("analytics.js").alias("name"), pl.lit("4.15.3").alias("version")).alias(
            "library"
        ),
    )
    uid = pl.when(pl.col("user_id") != "").then(pl.col("user_id")).otherwise(None).alias("userId")
    parts = []
    base = [
        pl.col("anon").alias("anonymousId"),
        uid,
        ctx.alias("context"),
        "timestamp",
        pl.col("mid").alias("messageId"),
    ]
    sel = df.with_row_index("row")
    pg = sel.filter(pl.col("kind") == "page")
    parts.append(
        pg.select(
            "row",
            pl.struct(
                pl.lit("page").alias("type"),
                pl.lit("Home").alias("name"),
                pl.struct(
                    pl.lit("/").alias("path"), pl.lit("https://www.qinghe-beauty.cn/").alias("url")
                ).alias("properties"),
                *base,
            )
            .struct.json_encode()
            .alias("j"),
        )
    )
    sr = sel.filter(pl.col("kind") == "Products Searched")
    parts.append(
        sr.select(
            "row",
            pl.struct(
                pl.lit("track").alias("type"),
                pl.lit("Products Searched").alias("event"),
                pl.struct(pl.col("name").str.slice(2, 2).alias("query")).alias("properties"),
                *base,
            )
            .struct.json_encode()
            .alias("j"),
        )
    )
    for kind in ("Product Viewed", "Product Added"):
        pv = sel.filter(pl.col("kind") == kind)
        parts.append(
            pv.select(
                "row",
                pl.struct(
                    pl.lit("track").alias("type"),
                    pl.lit(kind).alias("event"),
                    pl.struct(
                        pl.col("sku").alias("product_id"),
                        "sku",
                        pl.col("cat").alias("category"),
                        "name",
                        pl.lit("QINGHE").alias("brand"),
                        (pl.col("price_c") / 100).alias("price"),
                        pl.lit("CNY").alias("currency"),
                        *([pl.lit(1).alias("quantity")] if kind == "Product Added" else []),
                    ).alias("properties"),
                    *base,
                )
                .struct.json_encode()
                .alias("j"),
            )
        )
    idf = sel.filter(pl.col("kind") == "identify")
    parts.append(
        idf.select(
            "row",
            pl.struct(
                pl.lit("identify").alias("type"),
                uid,
                pl.col("anon").alias("anonymousId"),
                pl.struct(
                    pl.when(pl.col("email") != "")
                    .then(pl.col("email"))
                    .otherwise(None)
                    .alias("email"),
                    pl.when(pl.col("phone") != "")
                    .then(pl.col("phone"))
                    .otherwise(None)
                    .alias("phone"),
                ).alias("traits"),
                ctx.alias("context"),
                "timestamp",
                pl.col("mid").alias("messageId"),
            )
            .struct.json_encode()
            .alias("j"),
        )
    )
    cs = sel.filter(pl.col("kind") == "Checkout Started")
    parts.append(
        cs.select(
            "row",
            pl.struct(
                pl.lit("track").alias("type"),
                pl.lit("Checkout Started").alias("event"),
                pl.struct(pl.lit("CNY").alias("currency")).alias("properties"),
                *base,
            )
            .struct.json_encode()
            .alias("j"),
        )
    )
    oc_rows = sel.filter(pl.col("kind") == "Order Completed").join(
        ocd, on="mid", how="left", maintain_order="left"
    )
    parts.append(
        oc_rows.select(
            "row",
            pl.struct(
                pl.lit("track").alias("type"),
                pl.lit("Order Completed").alias("event"),
                pl.struct(
                    "order_id",
                    ((pl.col("order_gross") - pl.col("order_discount")) / 100).alias("total"),
                    ((pl.col("order_gross") - pl.col("order_discount")) / 100).alias("revenue"),
                    pl.lit(0.0).alias("shipping"),
                    pl.lit(0.0).alias("tax"),
                    (pl.col("order_discount") / 100).alias("discount"),
                    pl.when(pl.col("coupon") != "")
                    .then(pl.col("coupon"))
                    .otherwise(None)
                    .alias("coupon"),
                    pl.lit("CNY").alias("currency"),
                    "products",
                ).alias("properties"),
                *base,
            )
            .struct.json_encode()
            .alias("j"),
        )
    )
    js = pl.concat(parts).sort("row")["j"].to_list()
    # write per day, planting one malformed line and recording bot sessions
    tt = df["t"].to_numpy()
    sess = df["sess"].to_numpy()
    isbot = df["bot"].to_numpy()
    bounds = np.nonzero(np.diff(tt))[0] + 1
    src = np.empty(len(df), dtype=object)
    line_no = np.zeros(len(df), dtype=np.int64)
    days_present = sorted(set(tt.tolist()))
    bad_day = days_present[int(rng.integers(0, len(days_present)))] if days_present else -1
    files = 0
    n_lines = 0
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(df)], strict=True):
        if b <= a:
            continue
        d = int(tt[a])
        rel = f"web/clickstream/segment_{w.cal.ymd[d]}.ndjson"
        buf = js[a:b]
        nums = np.arange(1, b - a + 1)
        if d == bad_day:
            at = int(rng.integers(0, b - a))
            broken = buf[at][: max(10, len(buf[at]) // 2)]
            buf = buf[:at] + [broken] + buf[at:]
            nums = np.where(nums > at, nums + 1, nums)
            defects.add(
                "malformed_json_line",
                "web",
                rel,
                at + 1,
                "line cut off mid-object (a partial copy of the next event)",
            )
        seen = set()
        for j in range(a, b):
            if isbot[j] and sess[j] not in seen:
                seen.add(sess[j])
                defects.add(
                    "bot_session",
                    "web",
                    rel,
                    int(nums[j - a]),
                    f"anonymousId {df['anon'][j]}: crawler, {int((sess == sess[j]).sum())} events",
                )
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("\n".join(buf) + "\n", encoding="utf-8")
        src[a:b] = rel
        line_no[a:b] = nums
        files += 1
        n_lines += len(buf)
    keys = df["mid"].to_numpy()
    pid = df["pid"].to_numpy()
    ids = pl.concat(
        [
            ident_frame("web", src, keys, "anonymous_id", df["anon"].to_numpy(), pid),
            ident_frame("web", src, keys, "shop_customer_id", df["user_id"].to_numpy(), pid),
            ident_frame("web", src, keys, "email", df["email"].to_numpy(), pid),
            ident_frame("web", src, keys, "phone", df["phone"].to_numpy(), pid),
        ]
    )
    return {"channel": "web", "files": files, "rows": n_lines, "identifiers": ids}
