"""Douyin shop (抖店) order export (weekly CSV, ``-`` for blanks, 达人ID/达人昵称, masked receiver beside
ciphertext), after-sales export, and live-room events (NDJSON per day) with Douyin user ids."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from ..catalog import DOUYIN_HOSTS, sku_codes
from ..defects import Defects
from ..demand import World
from ..util import DAY, money_expr, rng_for
from .common import cells, channel_lines, ident_frame, mask_name, mask_phone, person_view

HEADER = [
    "主订单编号",
    "子订单编号",
    "选购商品",
    "商品规格",
    "商品数量",
    "商品ID",
    "商家编码",
    "商品单价",
    "订单应付金额",
    "运费",
    "优惠总金额",
    "平台优惠",
    "商家优惠",
    "达人优惠",
    "支付方式",
    "手续费",
    "收件人",
    "收件人手机号",
    "省",
    "市",
    "区",
    "街道",
    "详细地址",
    "买家留言",
    "订单提交时间",
    "商家备注",
    "订单完成时间",
    "支付完成时间",
    "APP渠道",
    "流量来源",
    "订单状态",
    "订单类型",
    "达人ID",
    "达人昵称",
    "所属门店ID",
    "售后状态",
    "取消原因",
    "仓库ID",
    "仓库名称",
    "广告渠道",
    "流量类型",
    "流量体裁",
    "流量渠道",
    "发货时间",
    "加密收件人",
    "加密收件人手机号",
    "加密详细地址",
]
HEADER_AS = [
    "售后单号",
    "主订单编号",
    "子订单编号",
    "商品ID",
    "商家编码",
    "商品名称",
    "售后类型",
    "退货数量",
    "退款金额",
    "申请时间",
    "退款时间",
    "售后状态",
]
STATUS = {
    "completed": "已完成",
    "shipped": "已发货",
    "paid": "待发货",
    "pending": "待支付",
    "cancelled": "已关闭",
}
COMMENTS = [
    "主播好美",
    "这个色号适合黄皮吗",
    "已拍",
    "求链接",
    "敏感肌能用吗",
    "上链接！",
    "回购第三次了",
    "有赠品吗",
    "包邮吗",
    "💄💄💄",
    "油皮可以用吗",
    "孕妇能用吗",
    "想要礼盒",
    "好用！",
]


def cipher(values: list[str], salt: str) -> list[str]:
    """Deterministic stand-in for Douyin's encrypted receiver fields."""
    out = []
    for v in values:
        h = hashlib.blake2b((salt + v).encode("utf-8"), digest_size=24).digest()
        out.append(
            "#"
            + base64.b64encode(h[:12]).decode()
            + "#"
            + base64.b64encode(h[12:]).decode()
            + "#*CgkIARCtHCABKAE=#1##"
        )
    return out


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "douyin")
    T = w.cal.days
    sd = w.start_day
    o = w.orders.filter(pl.col("channel") == "douyin").sort(["ts", "order_idx"])
    n = len(o)
    pidx = o["person_idx"].to_numpy()
    pv = person_view(w, pidx, o["t"].to_numpy())
    hosts = {h: nick for h, nick, _ in DOUYIN_HOSTS}
    salt = f"dy{w.seed}"
    street = (
        pl.Series(pv["address1"].astype(str))
        .str.extract(r"^(.+?[区县])", 1)
        .fill_null("-")
        .to_numpy()
    )
    o = o.with_columns(
        pl.Series("rname", mask_name(pv["full_name"])),
        pl.Series("rphone", mask_phone(pv["phone"])),
        pl.Series("prov", pv["province"]),
        pl.Series("city", np.char.add(pv["city_zh"].astype(str), "市")),
        pl.Series("dist", street),
        pl.Series("person_id", pv["person_id"]),
        pl.Series("c_name", cipher(pv["full_name"].tolist(), salt)),
        pl.Series("c_phone", cipher(pv["phone"].tolist(), salt)),
        pl.Series("c_addr", cipher(pv["address1"].tolist(), salt)),
        pl.Series(
            "app",
            np.array(["抖音", "抖音极速版", "抖音火山版"])[
                rng.choice(3, size=n, p=[0.85, 0.12, 0.03])
            ],
        ),
        pl.Series(
            "pay",
            np.array(["抖音支付", "微信", "支付宝"])[rng.choice(3, size=n, p=[0.5, 0.3, 0.2])],
        ),
        pl.Series("paid_flow", rng.random(n) < 0.35),
    )
    sm, li = channel_lines(w, o, "douyin")
    rets = w.returns.join(o.select("order_idx"), on="order_idx", how="semi", maintain_order="left")
    li = li.join(
        rets.select("order_idx", "line_no", pl.lit(True).alias("returned")),
        on=["order_idx", "line_no"],
        how="left",
        maintain_order="left",
    ).with_columns(pl.col("returned").fill_null(False))
    rows = li.join(o, on="order_idx", how="inner", maintain_order="left").sort(
        ["ts", "order_idx", "line_no"]
    )
    rows = rows.with_columns(
        pl.col("host_id")
        .replace_strict(hosts, default="-", return_dtype=pl.Utf8)
        .alias("host_nick")
    )
    live = pl.col("host_id") != ""
    dash = pl.lit("-")
    last_day = pl.col("t") == T - 1

    def ts(e):
        return (
            pl.when(e > 0)
            .then(pl.from_epoch(e, time_unit="s").dt.strftime("%Y/%m/%d %H:%M:%S"))
            .otherwise(dash)
        )  # noqa: E731

    host_coupon = (
        pl.when(pl.col("coupon").str.contains("达人券"))
        .then(pl.min_horizontal(pl.col("discount_cents"), pl.lit(1000) * (pl.col("line_no") == 1)))
        .otherwise(0)
    )
    body = cells(
        rows,
        [
            "order_id",
            "line_id",
            "name_zh",
            pl.lit("标准装"),
            pl.col("quantity").cast(pl.Utf8),
            "channel_item_id",
            "channel_sku",
            money_expr("unit_price_cents"),
            money_expr(pl.col("order_gross") - pl.col("order_discount")),
            pl.lit("0.00"),
            money_expr("discount_cents"),
            pl.lit("0.00"),
            money_expr(pl.col("discount_cents") - host_coupon),
            money_expr(host_coupon),
            "pay",
            money_expr((pl.col("net_cents") * 6 / 1000).round(0).cast(pl.Int64)),
            "rname",
            "rphone",
            "prov",
            "city",
            "dist",
            dash,
            pl.lit("****"),
            dash,
            ts(pl.col("ts")),
            dash,
            ts(
                pl.when(pl.col("status") == "completed")
                .then((sd + pl.col("complete_day")) * DAY + 43200)
                .otherwise(0)
            ),
            ts(
                pl.when(~pl.col("status").is_in(["pending", "cancelled"]))
                .then(pl.col("pay_ts"))
                .otherwise(0)
            ),
            "app",
            pl.when(live)
            .then(
                pl.when(pl.col("host_id") == "0").then(pl.lit("直播")).otherwise(pl.lit("精选联盟"))
            )
            .otherwise(pl.lit("商品卡")),
            pl.col("status").replace_strict(STATUS, return_dtype=pl.Utf8),
            pl.lit("普通订单"),
            pl.when(live).then(pl.col("host_id")).otherwise(dash),
            pl.when(live).then(pl.col("host_nick")).otherwise(dash),
            dash,
            pl.when(pl.col("returned")).then(pl.lit("同意退款，退款成功")).otherwise(dash),
            pl.when(pl.col("status") == "cancelled").then(pl.lit("不想要了")).otherwise(dash),
            "location_id",
            pl.col("location_id").replace_strict(
                {"WH-SH": "华东仓", "WH-GZ": "华南仓", "WH-CD": "西南仓"},
                default="华东仓",
                return_dtype=pl.Utf8,
            ),
            dash,
            pl.when(pl.col("paid_flow")).then(pl.lit("付费流量")).otherwise(pl.lit("自然流量")),
            pl.when(last_day)
            .then(pl.lit("数据将于第二天更新"))
            .otherwise(pl.when(live).then(pl.lit("直播")).otherwise(pl.lit("其他"))),
            pl.when(live).then(pl.lit("直播间")).otherwise(pl.lit("商品卡")),
            ts(
                pl.when(pl.col("status").is_in(["shipped", "completed"]))
                .then((sd + pl.col("ship_day")) * DAY + 54000)
                .otherwise(0)
            ),
            "c_name",
            "c_phone",
            "c_addr",
        ],
    )
    body.columns = HEADER
    files = nrows = 0
    dates = w.cal.dates
    rt = rows["t"].to_numpy()
    src = np.empty(len(rows), dtype=object)
    for k in range((T + 6) // 7):
        sel = np.nonzero((rt >= 7 * k) & (rt < 7 * k + 7))[0]
        if len(sel) == 0:
            continue
        a, b = dates[7 * k].strftime("%Y%m%d"), dates[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
        rel = f"douyin/orders/doudian_orders_{a}_{b}.csv"
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_bytes(
            b"\xef\xbb\xbf" + body[sel].write_csv(line_terminator="\n").encode("utf-8")
        )
        src[sel] = rel
        files += 1
        nrows += len(sel)
    # after-sales
    r = (
        rets.join(
            li.select(
                "order_idx", "line_no", "line_id", "channel_item_id", "channel_sku", "name_zh"
            ),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .join(o.select("order_idx", "order_id"), on="order_idx", how="left", maintain_order="left")
        .sort(["return_ts", "order_idx", "line_no"])
    )
    rb = cells(
        r,
        [
            (
                pl.lit(7_300_000_000_000_000_000 + w.shard * 10**12)
                + pl.int_range(pl.len()) * 7919
                + pl.col("order_idx") % 97
            ).cast(pl.Utf8),
            "order_id",
            "line_id",
            "channel_item_id",
            "channel_sku",
            "name_zh",
            pl.lit("退货退款"),
            pl.col("return_qty").cast(pl.Utf8),
            money_expr("refund_cents"),
            ts(pl.col("return_ts") - 2 * DAY),
            ts(pl.col("return_ts")),
            pl.lit("同意退款，退款成功"),
        ],
    )
    rb.columns = HEADER_AS
    rd = r["return_ts"].to_numpy() // DAY - sd
    for k in range((T + 6) // 7):
        sel = np.nonzero((rd >= 7 * k) & (rd < 7 * k + 7))[0]
        if len(sel) == 0:
            continue
        a, b = dates[7 * k].strftime("%Y%m%d"), dates[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
        p = landing / "douyin" / "aftersales" / f"doudian_aftersales_{a}_{b}.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\xef\xbb\xbf" + rb[sel].write_csv(line_terminator="\n").encode("utf-8"))
        files += 1
        nrows += len(sel)
    keys = rows["order_id"].to_numpy()
    pid = rows["person_id"].to_numpy()
    id_parts = [
        ident_frame(
            "douyin", src.astype(str), keys, "phone_masked", rows["rphone"].to_numpy(), pid
        ),
        ident_frame(
            "douyin", src.astype(str), keys, "phone_ciphertext", rows["c_phone"].to_numpy(), pid
        ),
    ]
    f2, r2, ids2 = _live_events(w, o, landing, rng)
    id_parts.append(ids2)
    return {
        "channel": "douyin",
        "files": files + f2,
        "rows": nrows + r2,
        "identifiers": pl.concat(id_parts),
    }


def _live_events(w: World, o: pl.DataFrame, landing: Path, rng) -> tuple[int, int, pl.DataFrame]:
    P = w.persons
    S = w.live_sessions
    sd = w.start_day
    prod = (
        sku_codes(w.products, w.seed)
        .filter(pl.col("channel") == "douyin")["channel_item_id"]
        .to_numpy()
    )
    dy_skus = np.nonzero(w.assort["douyin"])[0]
    hosts = {h: nick for h, nick, _ in DOUYIN_HOSTS}
    # buyers: enter, (comment), add_to_cart, before their order
    b = o.filter(pl.col("session_idx") >= 0)
    b_li = w.lines.join(
        b.select("order_idx"), on="order_idx", how="semi", maintain_order="left"
    ).filter(pl.col("line_no") == 1)
    b = b.join(
        b_li.select("order_idx", "sku_idx"), on="order_idx", how="left", maintain_order="left"
    )
    nb = len(b)
    b_ts = b["ts"].to_numpy()
    b_p = b["person_idx"].to_numpy()
    b_s = b["session_idx"].to_numpy()
    b_sku = b["sku_idx"].fill_null(0).to_numpy()
    uid_of = P["douyin_uid"].to_numpy()
    b_uid = uid_of[np.maximum(b_p, 0)]
    ev = [
        (b_s, b_p, b_ts - rng.integers(120, 2400, size=nb), "enter", b_sku, b_uid),
        (b_s, b_p, b_ts - rng.integers(20, 300, size=nb), "add_to_cart", b_sku, b_uid),
    ]
    cm = rng.random(nb) < 0.3
    ev.append(
        (
            b_s[cm],
            b_p[cm],
            b_ts[cm] - rng.integers(300, 900, size=int(cm.sum())),
            "comment",
            b_sku[cm],
            b_uid[cm],
        )
    )
    # other viewers (half of them people outside the customer base)
    n_view = rng.poisson(S["power"].to_numpy() * 30 * max(w.scale, 0.05))
    vs = np.repeat(np.arange(len(S)), n_view)
    nv = len(vs)
    pool = np.nonzero((P["pref_douyin"].to_numpy() > 0) | P["social_user"].to_numpy())[0]
    vp = np.where(
        rng.random(nv) < 0.5,
        pool[rng.integers(0, max(len(pool), 1), size=nv)] if len(pool) else -1,
        -1,
    )
    v_uid = np.where(
        vp >= 0, uid_of[np.maximum(vp, 0)], rng.integers(10**10, 9 * 10**10, size=nv).astype(str)
    )
    st = (sd + S["t"].to_numpy()) * DAY + S["start_sec"].to_numpy()
    du = S["dur_sec"].to_numpy()
    v_enter = st[vs] + (rng.random(nv) * du[vs] * 0.9).astype(np.int64)
    v_sku = dy_skus[rng.integers(0, len(dy_skus), size=nv)]
    ev.append((vs, vp, v_enter, "enter", v_sku, v_uid))
    nl = rng.poisson(2.0, size=nv)
    ls = np.repeat(np.arange(nv), nl)
    ev.append(
        (
            vs[ls],
            vp[ls],
            v_enter[ls] + rng.integers(10, 1200, size=len(ls)),
            "like",
            v_sku[ls],
            v_uid[ls],
        )
    )
    for kind, pr in (("comment", 0.25), ("follow", 0.05), ("add_to_cart", 0.08)):
        m = rng.random(nv) < pr
        ev.append(
            (
                vs[m],
                vp[m],
                v_enter[m] + rng.integers(30, 1500, size=int(m.sum())),
                kind,
                v_sku[m],
                v_uid[m],
            )
        )
    sess = np.concatenate([e[0] for e in ev])
    pers = np.concatenate([e[1] for e in ev])
    ts = np.concatenate([e[2] for e in ev])
    kind = np.concatenate([np.full(len(e[0]), e[3]) for e in ev])
    sku = np.concatenate([e[4] for e in ev])
    uid = np.concatenate([e[5].astype(str) for e in ev])
    ne = len(sess)
    nick = np.where(
        pers >= 0,
        P["douyin_nick"].to_numpy()[np.maximum(pers, 0)],
        np.char.add("用户", np.array([u[-7:] for u in uid])),
    )
    df = pl.DataFrame(
        {
            "sess": sess,
            "pidx": pers,
            "ts": ts,
            "event_type": kind,
            "sku": sku,
            "uid": uid,
            "nick": nick,
        }
    )
    df = df.with_columns(
        pl.Series("room_id", S["room_id"].to_numpy()[sess]),
        pl.Series("anchor_id", S["host_id"].to_numpy()[sess]),
        pl.Series("comment", np.array(COMMENTS)[rng.integers(0, len(COMMENTS), size=ne)]),
    )
    df = df.sort(["ts", "room_id", "uid", "event_type"]).with_row_index("k")
    df = df.with_columns(
        (
            pl.lit("le")
            + pl.col("ts").cast(pl.Utf8)
            + (pl.col("k") + w.shard * 10**7).cast(pl.Utf8).str.zfill(7)
        ).alias("event_id"),
        (pl.col("ts") // DAY - sd).alias("t"),
    )
    df = df.filter((pl.col("t") >= 0) & (pl.col("t") < w.cal.days))
    out = df.select(
        "event_id",
        pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S").alias("event_time"),
        "room_id",
        pl.col("anchor_id").alias("author_id"),
        pl.col("anchor_id").replace_strict(hosts, return_dtype=pl.Utf8).alias("author_nickname"),
        pl.col("uid").alias("douyin_user_id"),
        pl.col("nick").alias("nickname"),
        "event_type",
        pl.when(pl.col("event_type") == "comment")
        .then(pl.col("comment"))
        .otherwise(None)
        .alias("content"),
        pl.when(pl.col("event_type") == "add_to_cart")
        .then(pl.lit(pl.Series(prod)).gather(pl.col("sku")))
        .otherwise(None)
        .alias("product_id"),
        "t",
        "pidx",
    )
    files = rows = 0
    parts = []
    for (t,), g in sorted(out.partition_by(["t"], as_dict=True, maintain_order=True).items()):
        rel = f"douyin/live_events/live_events_{w.cal.ymd[t]}.ndjson"
        js = g.select(pl.struct(pl.exclude("t", "pidx")).struct.json_encode())
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("\n".join(js.to_series().to_list()) + "\n", encoding="utf-8")
        files += 1
        rows += len(g)
        pid = np.where(
            g["pidx"].to_numpy() >= 0,
            P["person_id"].to_numpy()[np.maximum(g["pidx"].to_numpy(), 0)],
            -1,
        )
        parts.append(
            ident_frame(
                "douyin",
                rel,
                g["event_id"].to_numpy(),
                "douyin_user_id",
                g["douyin_user_id"].to_numpy(),
                pid,
            )
        )
    return files, rows, pl.concat(parts) if parts else None
