"""WeChat: mini-program orders, after-sales and events (openid per app, unionid when authorised,
bound phone), official-account follow events and follower list, WeCom external contacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..catalog import sku_codes
from ..defects import Defects
from ..demand import World
from ..util import DAY, rng_for
from .common import browse_sessions, channel_lines, ident_frame, person_view

APPID_SHOP = "wx3f8a6c2b1d9e0a77"
APPID_MEMBER = "wx91c0d2e4f6a8b3c5"
OA_ID = "gh_5d8e2f1a9c3b"
STATUS = {
    "pending": (10, "待付款"),
    "paid": (20, "待发货"),
    "shipped": (30, "待收货"),
    "completed": (100, "已完成"),
    "cancelled": (250, "已取消"),
}


def _nul(name: str, values: np.ndarray) -> pl.Series:
    return pl.Series(name, np.asarray(values).astype(str)).replace("", None)


def _fmt(e: pl.Expr) -> pl.Expr:
    return (
        pl.when(e > 0)
        .then(pl.from_epoch(e, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
        .otherwise(None)
    )


def _ndjson_by_day(
    df: pl.DataFrame, t_col: str, rel_fmt: str, landing: Path, ymd: list[str], drop: list[str]
) -> tuple[int, int, np.ndarray]:
    src = np.empty(len(df), dtype=object)
    files = 0
    tt = df[t_col].to_numpy()
    js = df.select(pl.struct(pl.exclude(drop)).struct.json_encode().alias("j"))["j"].to_list()
    bounds = np.nonzero(np.diff(tt))[0] + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(df)], strict=True):
        if b <= a:
            continue
        rel = rel_fmt.format(ymd[tt[a]])
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("\n".join(js[a:b]) + "\n", encoding="utf-8")
        src[a:b] = rel
        files += 1
    return files, len(df), src


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "wechat")
    P = w.persons
    T = w.cal.days
    sd = w.start_day
    n_p = len(P)
    pid_of = P["person_id"].to_numpy()
    auth = P["wx_authorised"].to_numpy()
    bound = P["is_member"].to_numpy() | (rng.random(n_p) < 0.5)
    op_shop = P["openid_mp_shop"].to_numpy()
    op_mem = P["openid_mp_member"].to_numpy()
    op_oa = P["openid_oa"].to_numpy()
    union = P["unionid"].to_numpy()
    ymd = w.cal.ymd
    id_parts = []
    files = rows = 0

    # ------------------------------------------------------------------ orders
    o = w.orders.filter(pl.col("channel") == "wechat").sort(["ts", "order_idx"])
    pidx = o["person_idx"].to_numpy()
    p = np.maximum(pidx, 0)
    pv = person_view(w, pidx, o["t"].to_numpy())
    o = o.with_columns(
        pl.Series("openid", op_shop[p]),
        _nul("unionid", np.where(auth[p], union[p], "")),
        _nul("phone", np.where(bound[p], pv["phone"], "")),
        pl.Series("person_id", pv["person_id"]),
        pl.Series("user_name", pv["full_name"]),
        pl.Series("tel", pv["phone"]),
        pl.Series("prov", pv["province"]),
        pl.Series("city", pv["city_zh"]),
        pl.Series("detail", pv["address1"]),
        pl.Series("zip", pv["zip"]),
    )
    sm, li = channel_lines(w, o, "wechat")
    items = (
        li.sort(["order_idx", "line_no"])
        .group_by("order_idx", maintain_order=True)
        .agg(
            pl.struct(
                pl.col("line_no").alias("item_index"),
                pl.col("channel_item_id").alias("product_id"),
                pl.col("channel_sku").alias("sku_id"),
                pl.col("name_zh").alias("title"),
                pl.col("quantity").alias("sku_cnt"),
                pl.col("unit_price_cents").alias("sale_price"),
                pl.col("net_cents").alias("real_price"),
            ).alias("items")
        )
    )
    o = o.join(items, on="order_idx", how="left", maintain_order="left")
    st = pl.col("status")
    shipped = st.is_in(["shipped", "completed"])
    o = o.with_columns(
        st.replace_strict({k: v[0] for k, v in STATUS.items()}, return_dtype=pl.Int64).alias(
            "status_code"
        ),
        st.replace_strict({k: v[1] for k, v in STATUS.items()}, return_dtype=pl.Utf8).alias(
            "status_desc"
        ),
    )
    od = o.select(
        "order_id",
        pl.lit(APPID_SHOP).alias("appid"),
        "openid",
        "unionid",
        "phone",
        _fmt(pl.col("ts")).alias("create_time"),
        _fmt(
            pl.when(~st.is_in(["pending", "cancelled"])).then(pl.col("pay_ts")).otherwise(0)
        ).alias("pay_time"),
        pl.col("status_code").alias("status"),
        "status_desc",
        pl.struct(
            pl.col("order_gross").alias("product_price"),
            pl.col("order_discount").alias("discounted_price"),
            pl.lit(0).alias("freight"),
            (pl.col("order_gross") - pl.col("order_discount")).alias("order_price"),
        ).alias("price_info"),
        pl.when(pl.col("coupon") != "").then(pl.col("coupon")).otherwise(None).alias("coupon_name"),
        "items",
        pl.struct(
            pl.col("user_name"),
            pl.col("tel").alias("tel_number"),
            pl.col("prov").alias("province_name"),
            pl.col("city").alias("city_name"),
            pl.col("detail").alias("detail_info"),
            pl.col("zip").alias("postal_code"),
        ).alias("address_info"),
        pl.when(shipped)
        .then(
            pl.struct(
                pl.lit("SF").alias("delivery_id"),
                pl.format("SF{}", pl.col("order_id").str.slice(6)).alias("waybill_id"),
                _fmt((sd + pl.col("ship_day")) * DAY + 52000).alias("ship_time"),
            )
        )
        .otherwise(None)
        .alias("delivery"),
        "t",
        "person_id",
        "tel",
    )
    f, r, src = _ndjson_by_day(
        od, "t", "wechat/mp_orders/mp_orders_{}.ndjson", landing, ymd, ["t", "person_id", "tel"]
    )
    files += f
    rows += r
    keys = od["order_id"].to_numpy()
    pid = od["person_id"].to_numpy()
    id_parts += [
        ident_frame("wechat", src, keys, "wechat_openid", od["openid"].to_numpy(), pid),
        ident_frame(
            "wechat", src, keys, "wechat_unionid", od["unionid"].fill_null("").to_numpy(), pid
        ),
        ident_frame("wechat", src, keys, "phone", od["phone"].fill_null("").to_numpy(), pid),
        ident_frame("wechat", src, keys, "phone", od["tel"].to_numpy(), pid),
    ]
    # after-sales
    rt = (
        w.returns.join(
            o.select("order_idx", "order_id"), on="order_idx", how="inner", maintain_order="left"
        )
        .join(
            li.select("order_idx", "line_no", "channel_sku"),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .sort(["return_ts", "order_idx", "line_no"])
    )
    ad = rt.select(
        (
            pl.lit(4_200_000_000_000 + w.shard * 10**9)
            + pl.int_range(pl.len()) * 17
            + pl.col("order_idx") % 13
        )
        .cast(pl.Utf8)
        .alias("aftersale_id"),
        "order_id",
        pl.col("line_no").alias("item_index"),
        pl.col("channel_sku").alias("sku_id"),
        pl.col("return_qty").alias("count"),
        pl.col("refund_cents").alias("refund_amount"),
        pl.lit("RETURN").alias("type"),
        _fmt(pl.col("return_ts") - 2 * DAY).alias("create_time"),
        _fmt(pl.col("return_ts")).alias("update_time"),
        pl.lit("MERCHANT_REFUND_SUCCESS").alias("status"),
        (pl.col("return_ts") // DAY - sd).alias("t"),
    )
    f, r, _ = _ndjson_by_day(
        ad, "t", "wechat/mp_aftersales/mp_aftersales_{}.ndjson", landing, ymd, ["t"]
    )
    files += f
    rows += r

    # ------------------------------------------------------------------ mini-program events
    users = np.nonzero(P["uses_wechat"].to_numpy())[0]
    sp, stt, ss = browse_sessions(w, rng, users, 6.0)
    n_s = len(sp)
    member_app = rng.random(n_s) < 0.25
    k_ev = 1 + rng.poisson(2.5, size=n_s)
    e_s = np.repeat(np.arange(n_s), k_ev)
    step = np.concatenate([np.arange(k) for k in k_ev]) if n_s else np.zeros(0, dtype=np.int64)
    shop_sk = np.nonzero(w.assort["wechat"])[0]
    codes = (
        sku_codes(w.products, w.seed)
        .filter(pl.col("channel") == "wechat")["channel_sku"]
        .to_numpy()
    )
    ev_shop = np.array(["view_item", "view_item", "add_to_cart", "share", "search"])
    ev_mem = np.array(["points_view", "coupon_claim", "member_code_show", "checkin"])
    kind = np.where(
        step == 0,
        "mp_open",
        np.where(
            member_app[e_s],
            ev_mem[rng.integers(0, len(ev_mem), size=len(e_s))],
            ev_shop[rng.integers(0, len(ev_shop), size=len(e_s))],
        ),
    )
    ep = sp[e_s]
    ets = (sd + stt[e_s]) * DAY + np.minimum(
        ss[e_s] + step * rng.integers(5, 90, size=len(e_s)), DAY - 1
    )
    sku = np.where(
        np.isin(kind, ["view_item", "add_to_cart", "share"]),
        codes[shop_sk[rng.integers(0, len(shop_sk), size=len(e_s))]],
        "",
    )
    app = np.where(member_app[e_s], APPID_MEMBER, APPID_SHOP)
    oid = np.where(member_app[e_s], op_mem[ep], op_shop[ep])
    ev = (
        pl.DataFrame(
            {
                "ts": ets,
                "appid": app,
                "openid": oid,
                "unionid": np.where(auth[ep], union[ep], ""),
                "event": kind,
                "sku_id": sku,
                "scene": np.array([1001, 1007, 1044, 1089, 1011])[
                    rng.integers(0, 5, size=len(e_s))
                ],
                "pid": pid_of[ep],
            }
        )
        .with_columns(pl.col("unionid", "sku_id").replace("", None))
        .sort(["ts", "openid", "event"])
    )
    ev = ev.with_row_index("k").with_columns(
        (
            pl.lit("mpe")
            + pl.col("ts").cast(pl.Utf8)
            + (pl.col("k") + w.shard * 10**7).cast(pl.Utf8).str.zfill(7)
        ).alias("event_id"),
        (pl.col("ts") // DAY - sd).alias("t"),
    )
    evo = ev.select(
        "event_id",
        _fmt(pl.col("ts")).alias("event_time"),
        "appid",
        "openid",
        "unionid",
        "event",
        "sku_id",
        "scene",
        "t",
        "pid",
    )
    f, r, src = _ndjson_by_day(
        evo, "t", "wechat/mp_events/mp_events_{}.ndjson", landing, ymd, ["t", "pid"]
    )
    files += f
    rows += r
    keys = evo["event_id"].to_numpy()
    pid = evo["pid"].to_numpy()
    id_parts += [
        ident_frame("wechat", src, keys, "wechat_openid", evo["openid"].to_numpy(), pid),
        ident_frame(
            "wechat", src, keys, "wechat_unionid", evo["unionid"].fill_null("").to_numpy(), pid
        ),
    ]

    # ------------------------------------------------------------------ official account
    fol = users[rng.random(len(users)) < 0.6]
    lo = np.clip(P["acq_day"].to_numpy()[fol], 0, T - 1)
    before = P["acq_day"].to_numpy()[fol] < 0
    sub_day = np.where(before, -1, lo + rng.integers(0, 30, size=len(fol)))
    unsub = rng.random(len(fol)) < 0.1
    unsub_day = np.where(unsub, np.maximum(sub_day, 0) + rng.integers(5, 200, size=len(fol)), 10**6)
    scene_store = P["home_store"].to_numpy()[fol]
    ev_rows = []
    for i in range(len(fol)):
        if 0 <= sub_day[i] < T:
            ev_rows.append((int(sub_day[i]), int(fol[i]), "subscribe"))
        if unsub_day[i] < T:
            ev_rows.append((int(unsub_day[i]), int(fol[i]), "unsubscribe"))
    oa = pl.DataFrame(ev_rows, schema=["t", "pidx", "Event"], orient="row")
    oa = oa.with_columns(pl.Series("sec", rng.integers(8 * 3600, 23 * 3600, size=len(oa))))
    oa = oa.with_columns(
        ((sd + pl.col("t")) * DAY + pl.col("sec") - 8 * 3600).alias("CreateTime")
    ).sort(["CreateTime", "pidx"])
    pi = oa["pidx"].to_numpy()
    st_ = scene_store[np.searchsorted(fol, pi)] if len(fol) else np.array([])
    oa = oa.with_columns(
        pl.lit(OA_ID).alias("ToUserName"),
        pl.Series("FromUserName", op_oa[pi]),
        pl.lit("event").alias("MsgType"),
        pl.Series(
            "EventKey",
            np.where(
                (oa["Event"].to_numpy() == "subscribe") & (st_ != ""),
                np.char.add("qrscene_store_", st_.astype(str)),
                "",
            ),
        ),
        pl.Series("pid", pid_of[pi]),
    )
    oao = oa.select(
        "ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "EventKey", "t", "pid"
    )
    f, r, src = _ndjson_by_day(
        oao, "t", "wechat/oa_events/oa_events_{}.ndjson", landing, ymd, ["t", "pid"]
    )
    files += f
    rows += r
    id_parts.append(
        ident_frame(
            "wechat",
            src,
            np.char.add(
                np.char.add(oao["FromUserName"].to_numpy().astype(str), ":"),
                oao["CreateTime"].cast(pl.Utf8).to_numpy().astype(str),
            ),
            "wechat_openid",
            oao["FromUserName"].to_numpy(),
            oao["pid"].to_numpy(),
        )
    )
    still = fol[unsub_day >= T]
    sub_ts = (
        sd
        + np.where(
            sub_day[unsub_day >= T] < 0, -int(rng.integers(30, 700)), sub_day[unsub_day >= T]
        )
    ) * DAY + 40000
    fl = (
        pl.DataFrame(
            {
                "openid": op_oa[still],
                "unionid": np.where(auth[still], union[still], ""),
                "subscribe": 1,
                "subscribe_time": sub_ts - 8 * 3600,
                "subscribe_scene": np.where(
                    scene_store[unsub_day >= T] != "", "ADD_SCENE_QR_CODE", "ADD_SCENE_SEARCH"
                ),
                "pid": pid_of[still],
            }
        )
        .with_columns(pl.col("unionid").replace("", None))
        .sort("openid")
    )
    rel = "wechat/oa_followers/oa_followers.csv"
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    fl.drop("pid").write_csv(landing / rel, line_terminator="\n", null_value="")
    files += 1
    rows += len(fl)
    id_parts += [
        ident_frame(
            "wechat",
            rel,
            fl["openid"].to_numpy(),
            "wechat_openid",
            fl["openid"].to_numpy(),
            fl["pid"].to_numpy(),
        ),
        ident_frame(
            "wechat",
            rel,
            fl["openid"].to_numpy(),
            "wechat_unionid",
            fl["unionid"].fill_null("").to_numpy(),
            fl["pid"].to_numpy(),
        ),
    ]

    # ------------------------------------------------------------------ WeCom external contacts
    wc = np.nonzero(P["wecom_added"].to_numpy())[0]
    add_day = np.clip(
        np.maximum(P["member_join_day"].to_numpy()[wc], P["acq_day"].to_numpy()[wc])
        + rng.integers(0, 40, size=len(wc)),
        -700,
        T - 1,
    )
    store = P["home_store"].to_numpy()[wc]
    staff = np.char.add(
        np.char.add(np.char.replace(np.char.replace(store.astype(str), "ST-", ""), "-", ""), "-BA"),
        np.char.zfill(rng.integers(1, 6, size=len(wc)).astype(str), 2),
    )
    ph = np.array([P["phone"][int(i)] for i in wc]) if len(wc) else np.array([], dtype=str)
    has_phone = rng.random(len(wc)) < 0.7
    rel = "wechat/wecom/external_contacts.ndjson"
    wcd = (
        pl.DataFrame(
            {
                "external_userid": P["wecom_external_userid"].to_numpy()[wc],
                "name": P["full_name"].to_numpy()[wc],
                "type": 1,
                "gender": np.where(P["female"].to_numpy()[wc], 2, 1),
                "unionid": np.where(auth[wc], union[wc], ""),
                "userid": staff,
                "remark": np.char.add(
                    P["full_name"].to_numpy()[wc].astype(str),
                    np.where(P["is_member"].to_numpy()[wc], " 会员", ""),
                ),
                "createtime": (sd + add_day) * DAY + 50000 - 8 * 3600,
                "add_way": 1,
                "state": np.char.add("store_", store.astype(str)),
                "mobile": np.where(has_phone, ph, ""),
                "pid": pid_of[wc],
            }
        )
        .with_columns(pl.col("unionid", "mobile").replace("", None))
        .sort("external_userid")
    )
    wout = wcd.select(
        "external_userid",
        "name",
        "type",
        "gender",
        "unionid",
        pl.concat_list(
            pl.struct(
                "userid",
                "remark",
                "createtime",
                "add_way",
                "state",
                pl.when(pl.col("mobile").is_not_null())
                .then(pl.concat_list("mobile"))
                .otherwise(pl.lit([], dtype=pl.List(pl.Utf8)))
                .alias("remark_mobiles"),
            )
        ).alias("follow_user"),
    )
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    lines = wout.select(pl.struct(pl.all()).struct.json_encode())
    (landing / rel).write_text(
        "\n".join(lines.to_series().to_list()) + ("\n" if len(wout) else ""), encoding="utf-8"
    )
    files += 1
    rows += len(wout)
    k = wcd["external_userid"].to_numpy()
    pp = wcd["pid"].to_numpy()
    id_parts += [
        ident_frame("wechat", rel, k, "wecom_external_userid", k, pp),
        ident_frame(
            "wechat", rel, k, "wechat_unionid", wcd["unionid"].fill_null("").to_numpy(), pp
        ),
        ident_frame("wechat", rel, k, "phone", wcd["mobile"].fill_null("").to_numpy(), pp),
    ]
    return {"channel": "wechat", "files": files, "rows": rows, "identifiers": pl.concat(id_parts)}
