"""JD merchant back-office order export (weekly, GB18030, one row per order × item) and
after-sales (退换货) export. One file is truncated mid-row (defect)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import DAY, money_expr, rng_for
from .common import cells, channel_lines, ident_frame, mask_phone, person_view

HEADER = [
    "订单号",
    "商品ID",
    "商品名称",
    "订购数量",
    "支付方式",
    "下单时间",
    "京东价",
    "订单金额",
    "结算金额",
    "余额支付",
    "应付金额",
    "订单状态",
    "订单类型",
    "下单帐号",
    "客户姓名",
    "客户地址",
    "联系电话",
    "订单备注",
    "发票类型",
    "发票抬头",
    "商家备注",
    "运费金额",
    "付款确认时间",
    "货号",
    "订单完成时间",
    "订单来源",
    "订单渠道",
    "仓库id",
    "仓库名称",
]
HEADER_RET = [
    "服务单号",
    "订单号",
    "商品ID",
    "商品名称",
    "申请数量",
    "退款金额",
    "申请时间",
    "审核时间",
    "服务单状态",
    "售后类型",
    "退款原因",
]
STATUS = {
    "completed": "完成",
    "shipped": "等待确认收货",
    "paid": "等待出库",
    "pending": "等待付款",
    "cancelled": "取消",
}
WH_NAME = {"WH-SH": "青禾华东仓", "WH-GZ": "青禾华南仓", "WH-CD": "青禾西南仓"}
ENC = "gb18030"


def _ts(e: pl.Expr) -> pl.Expr:
    return (
        pl.when(e > 0)
        .then(pl.from_epoch(e, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
        .otherwise(pl.lit(None))
    )


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "jd")
    T = w.cal.days
    sd = w.start_day
    P = w.persons
    o = w.orders.filter(pl.col("channel") == "jd").sort(["ts", "order_idx"])
    n = len(o)
    pidx = o["person_idx"].to_numpy()
    t = o["t"].to_numpy()
    pv = person_view(w, pidx, t)
    p = np.maximum(pidx, 0)
    o = o.with_columns(
        pl.Series("pin", P["jd_pin"].to_numpy()[p]),
        pl.Series("cname", (pl.Series(pv["full_name"]).str.slice(0, 1) + "*").to_numpy()),
        pl.Series(
            "addr",
            np.char.add(
                np.char.add(
                    np.char.add(pv["province"].astype(str), pv["city_zh"].astype(str)), "市"
                ),
                np.char.add(np.array([a[:3] for a in pv["address1"].astype(str)]), "****"),
            ),
        ),
        pl.Series("tel", mask_phone(pv["phone"])),
        pl.Series("person_id", pv["person_id"]),
        pl.Series(
            "pay", np.array(["在线支付", "京东支付", "微信支付"])[rng.integers(0, 3, size=n)]
        ),
        pl.Series(
            "src",
            np.array(["京东APP", "京东小程序", "PC端"])[rng.choice(3, size=n, p=[0.8, 0.12, 0.08])],
        ),
    )
    sm, li = channel_lines(w, o, "jd")
    # JD keys a line by (订单号, 商品ID): make that the truth line id
    unk = rng.random(len(li)) < 0.003
    if len(li) > 10 and unk.sum() < 2:
        unk[rng.choice(len(li), size=2, replace=False)] = True
    code = li["channel_sku"].to_numpy().astype(object)
    code[unk] = np.char.add("JDX", rng.integers(10000, 99999, size=int(unk.sum())).astype(str))
    li = li.with_columns(pl.Series("code", code.astype(str)), pl.Series("unknown", unk))
    ov = getattr(w, "channel_sku_override", {}) or {}
    for oi, ln, c in zip(
        li["order_idx"].to_numpy()[unk].tolist(),
        li["line_no"].to_numpy()[unk].tolist(),
        code[unk].tolist(),
        strict=True,
    ):
        ov[(oi, ln)] = c
    w.channel_sku_override = ov
    lid = li.select("order_idx", "line_no", pl.col("channel_item_id").alias("jd_item"))
    w.lines = (
        w.lines.join(lid, on=["order_idx", "line_no"], how="left", maintain_order="left")
        .with_columns(pl.coalesce("jd_item", "line_id").alias("line_id"))
        .drop("jd_item")
    )
    net_o = pl.col("order_gross") - pl.col("order_discount")
    rows = li.join(o, on="order_idx", how="inner", maintain_order="left").sort(
        ["ts", "order_idx", "line_no"]
    )
    paid = ~pl.col("status").is_in(["pending", "cancelled"])
    body = cells(
        rows,
        [
            pl.col("order_id"),
            pl.col("channel_item_id"),
            pl.col("name_zh"),
            pl.col("quantity").cast(pl.Utf8),
            pl.col("pay"),
            _ts(pl.col("ts")),
            money_expr("unit_price_cents"),
            money_expr("order_gross"),
            money_expr(net_o),
            pl.lit("0.00"),
            pl.when(paid).then(money_expr(net_o)).otherwise(pl.lit("0.00")),
            pl.col("status").replace_strict(STATUS, return_dtype=pl.Utf8),
            pl.lit("SOP"),
            pl.col("pin"),
            pl.col("cname"),
            pl.col("addr"),
            pl.col("tel"),
            pl.lit(None, pl.Utf8),
            pl.lit("电子发票"),
            pl.lit("个人"),
            pl.lit(None, pl.Utf8),
            pl.lit("0.00"),
            _ts(pl.when(paid).then(pl.col("pay_ts")).otherwise(0)),
            pl.col("code"),
            _ts(
                pl.when(pl.col("status") == "completed")
                .then((sd + pl.col("complete_day")) * DAY + 39600)
                .otherwise(0)
            ),
            pl.col("src"),
            pl.lit("京东商城"),
            pl.col("location_id"),
            pl.col("location_id").replace_strict(
                WH_NAME, return_dtype=pl.Utf8, default="青禾华东仓"
            ),
        ],
    )
    body.columns = HEADER
    out = landing / "jd"
    out.mkdir(parents=True, exist_ok=True)
    rt = rows["t"].to_numpy()
    weeks = [k for k in range((T + 6) // 7) if ((rt >= 7 * k) & (rt < 7 * k + 7)).any()]
    trunc_week = weeks[int(rng.integers(0, len(weeks)))] if weeks else -1
    src = np.empty(len(rows), dtype=object)
    files = nrows = 0
    iso = w.cal.dates
    unk_a = rows["unknown"].to_numpy()
    for k in weeks:
        sel = np.nonzero((rt >= 7 * k) & (rt < 7 * k + 7))[0]
        a, b = iso[7 * k].strftime("%Y%m%d"), iso[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
        rel = f"jd/orders/jd_orders_{a}_{b}.csv"
        text = body[sel].write_csv(include_header=True, line_terminator="\r\n", null_value="")
        data = text.encode(ENC)
        for j, i in enumerate(sel):
            if unk_a[i]:
                defects.add(
                    "unknown_channel_sku",
                    "jd",
                    rel,
                    j + 1,
                    f"货号 {rows['code'][int(i)]} not in sku_map",
                )
        if k == trunc_week:
            # the download broke off in the middle of the last row
            last_start = data.rstrip(b"\r\n").rfind(b"\r\n") + 2
            cut = last_start + max(1, (len(data) - last_start) * 2 // 3)
            data = data[:cut]
            try:
                data.decode(ENC)
            except UnicodeDecodeError:
                data = data[:-1]
            defects.add(
                "truncated_file",
                "jd",
                rel,
                len(sel),
                f"file ends mid-row at byte {len(data)}; the last row is partial",
            )
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        src[sel] = rel
        files += 1
        nrows += len(sel)
    # after-sales
    r = (
        w.returns.join(
            o.select("order_idx", "order_id", "t"),
            on="order_idx",
            how="inner",
            maintain_order="left",
        )
        .join(
            li.select("order_idx", "line_no", "channel_item_id", "name_zh"),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .sort(["return_ts", "order_idx", "line_no"])
    )
    rb = cells(
        r,
        [
            (
                pl.lit(1_600_000_000 + w.shard * 10**8)
                + pl.int_range(pl.len()) * 13
                + pl.col("order_idx") % 11
            ).cast(pl.Utf8),
            "order_id",
            "channel_item_id",
            "name_zh",
            pl.col("return_qty").cast(pl.Utf8),
            money_expr("refund_cents"),
            _ts(pl.col("return_ts") - 2 * DAY),
            _ts(pl.col("return_ts")),
            pl.lit("完成"),
            pl.lit("退货"),
            pl.lit("七天无理由"),
        ],
    )
    rb.columns = HEADER_RET
    rday = (r["return_ts"].to_numpy() // DAY) - sd
    for k in range((T + 6) // 7):
        sel = np.nonzero((rday >= 7 * k) & (rday < 7 * k + 7))[0]
        if len(sel) == 0:
            continue
        a, b = iso[7 * k].strftime("%Y%m%d"), iso[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
        path = out / "aftersales" / f"jd_aftersales_{a}_{b}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rb[sel].write_csv(line_terminator="\r\n", null_value="").encode(ENC))
        files += 1
        nrows += len(sel)
    keys = rows["order_id"].to_numpy()
    pid = rows["person_id"].to_numpy()
    ids = pl.concat(
        [
            ident_frame(
                "jd", src.astype(str), keys, "marketplace_buyer_id", rows["pin"].to_numpy(), pid
            ),
            ident_frame("jd", src.astype(str), keys, "phone_masked", rows["tel"].to_numpy(), pid),
        ]
    )
    return {"channel": "jd", "files": files, "rows": nrows, "identifiers": ids}
