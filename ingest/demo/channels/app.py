"""Mobile app events (NDJSON per day): device_id, member login, push opens, product views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import DAY, rng_for
from .common import browse_sessions, ident_frame

EVENTS = np.array(
    [
        "view_product",
        "view_product",
        "view_product",
        "search",
        "add_to_cart",
        "view_cart",
        "add_wishlist",
    ]
)
KEYWORDS = np.array(
    [
        "精华",
        "面霜",
        "口红",
        "防晒",
        "礼盒",
        "洗发水",
        "香水",
        "眼霜",
        "人参",
        "水光",
        "身体乳",
        "气垫",
    ]
)


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "app")
    P = w.persons
    sd = w.start_day
    users = np.nonzero(P["app_user"].to_numpy())[0]
    sp, st, ss = browse_sessions(w, rng, users, 14.0)
    n = len(sp)
    push = rng.random(n) < 0.15
    member = P["is_member"].to_numpy()[sp] & (st >= P["member_join_day"].to_numpy()[sp])
    login = member & (rng.random(n) < 0.35)
    k = 1 + rng.poisson(3.0, size=n)
    # session layout: [push_open|app_open], [login], k behaviour events
    first = np.where(push, "push_open", "app_open")
    n_ev = 1 + login.astype(np.int64) + k
    s_of = np.repeat(np.arange(n), n_ev)
    pos = np.concatenate([np.arange(m) for m in n_ev]) if n else np.zeros(0, dtype=np.int64)
    beh = EVENTS[rng.integers(0, len(EVENTS), size=len(s_of))]
    name = np.where(pos == 0, first[s_of], np.where((pos == 1) & login[s_of], "login", beh))
    logged = member[s_of] & login[s_of] & (pos >= 1)  # events after the login carry member_id
    ts = (sd + st[s_of]) * DAY + np.minimum(
        ss[s_of] + pos * rng.integers(3, 120, size=len(s_of)), DAY - 1
    )
    p = sp[s_of]
    dev = np.where(
        st[s_of] >= P["device_change_day"].to_numpy()[p],
        P["device_id_new"].to_numpy()[p],
        P["device_id"].to_numpy()[p],
    )
    os_ = P["device_os"].to_numpy()[p]
    skus = w.products["sku"].to_numpy()
    sku = np.where(
        np.isin(name, ["view_product", "add_to_cart", "add_wishlist"]),
        skus[rng.integers(0, len(skus), size=len(s_of))],
        "",
    )
    kw = np.where(name == "search", KEYWORDS[rng.integers(0, len(KEYWORDS), size=len(s_of))], "")
    camp = np.where(name == "push_open", np.char.add("push_", np.array(w.cal.ymd)[st[s_of]]), "")
    ver = np.where(st[s_of] < w.cal.days // 2, "5.2.1", "5.4.0")
    mem_no = np.where(logged, P["member_no"].to_numpy()[p], "")
    df = pl.DataFrame(
        {
            "ts": ts,
            "device_id": dev,
            "event_name": name,
            "os": os_,
            "app_version": ver,
            "member_id": mem_no,
            "sku": sku,
            "keyword": kw,
            "campaign_id": camp,
            "pid": P["person_id"].to_numpy()[p],
        }
    )
    df = (
        df.sort(["ts", "device_id", "event_name"])
        .with_row_index("k")
        .with_columns(
            (
                pl.lit("ae-")
                + pl.col("ts").cast(pl.Utf8)
                + "-"
                + (pl.col("k") + w.shard * 10**7).cast(pl.Utf8).str.zfill(7)
            ).alias("event_id"),
            (pl.col("ts") // DAY - sd).alias("t"),
        )
    )
    df = df.with_columns(pl.col("member_id", "sku", "keyword", "campaign_id").replace("", None))
    out = df.select(
        "event_id",
        "event_name",
        (pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00").alias(
            "event_time"
        ),
        "device_id",
        pl.col("os").alias("platform"),
        "app_version",
        "member_id",
        pl.struct("sku", "keyword", "campaign_id").alias("properties"),
        "t",
        "pid",
    )
    js = out.select(pl.struct(pl.exclude("t", "pid")).struct.json_encode().alias("j"))[
        "j"
    ].to_list()
    tt = out["t"].to_numpy()
    src = np.empty(len(out), dtype=object)
    files = 0
    bounds = np.nonzero(np.diff(tt))[0] + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(out)], strict=True):
        if b <= a:
            continue
        rel = f"app/events/app_events_{w.cal.ymd[tt[a]]}.ndjson"
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("\n".join(js[a:b]) + "\n", encoding="utf-8")
        src[a:b] = rel
        files += 1
    keys = out["event_id"].to_numpy()
    pid = out["pid"].to_numpy()
    ids = pl.concat(
        [
            ident_frame("app", src, keys, "device_id", out["device_id"].to_numpy(), pid),
            ident_frame(
                "app", src, keys, "member_no", out["member_id"].fill_null("").to_numpy(), pid
            ),
        ]
    )
    return {"channel": "app", "files": files, "rows": len(out), "identifiers": ids}
