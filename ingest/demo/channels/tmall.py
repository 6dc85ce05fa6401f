"""Tmall / Taobao seller-centre exports: weekly ExportOrderList + ExportOrderDetailList (+ refunds),
GB18030, Chinese headers (some with trailing spaces), ``="…"`` order numbers, ``'``-prefixed phones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import ALNUM, DAY, money_expr, random_strings, rng_for
from .common import STATUS_TMALL, ident_frame, mask_phone, person_view, raw_lines

STORES = {
    "flagship": ("106235489", "青禾官方旗舰店", "tmall_open_s1"),
    "global": ("2208765432", "青禾海外旗舰店", "tmall_open_s2"),
}
HEADER_CLASSIC = [
    "订单编号",
    "买家会员名",
    "买家支付宝账号",
    "买家应付货款",
    "买家应付邮费",
    "买家支付积分",
    "总金额",
    "返点积分",
    "买家实际支付金额",
    "买家实际支付积分",
    "订单状态",
    "买家留言",
    "收货人姓名",
    "收货地址 ",
    "运送方式",
    "联系电话 ",
    "联系手机",
    "订单创建时间",
    "订单付款时间 ",
    "宝贝标题 ",
    "宝贝种类",
    "物流单号 ",
    "物流公司",
    "订单备注",
    "宝贝总数量",
    "店铺Id",
    "店铺名称",
    "订单关闭原因",
    "卖家服务费",
    "买家服务费",
    "发票抬头",
    "是否手机订单",
    "退款金额",
    "确认收货时间",
    "打款商家金额",
    "买家OpenUid",
]
HEADER_NEW = [
    "订单编号",
    "支付单号",
    "买家应付货款",
    "买家应付邮费",
    "总金额",
    "买家实付金额",
    "订单状态",
    "收货人姓名",
    "联系手机",
    "收货地址 ",
    "运送方式",
    "订单创建时间",
    "订单付款时间 ",
    "商品标题",
    "宝贝种类",
    "物流单号 ",
    "物流公司",
    "备注标签",
    "商家备注",
    "宝贝总数量",
    "开票信息",
    "手机订单",
    "商品属性SKU",
    "发货时间",
    "退款金额",
    "确认收货时间",
    "买家OpenUid",
]
HEADER_DETAIL = [
    "订单编号",
    "子订单编号",
    "标题",
    "价格",
    "购买数量",
    "外部系统编号",
    "商品属性",
    "套餐信息",
    "备注",
    "订单状态",
    "商家编码",
]
HEADER_REFUND = [
    "退款编号",
    "订单编号",
    "子订单编号",
    "宝贝标题",
    "商家编码",
    "退货数量",
    "买家退款金额",
    "退款申请时间",
    "退款完结时间",
    "退款状态",
    "是否需要退货",
    "退款原因",
]
REASONS = ["不喜欢/不想要", "过敏", "七天无理由退换货", "商品与描述不符", "收到商品破损"]
ENC = "gb18030"


def _ts(expr: pl.Expr) -> pl.Expr:
    return (
        pl.when(expr > 0)
        .then(pl.from_epoch(expr, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
        .otherwise(pl.lit(""))
    )


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "tmall")
    T = w.cal.days
    sd = w.start_day
    switch = int(T * 0.45)
    rotate_day = int(T * 0.6)
    P = w.persons
    o = w.orders.filter(pl.col("channel") == "tmall").sort(["ts", "order_idx"])
    n = len(o)
    pidx = o["person_idx"].to_numpy()
    t = o["t"].to_numpy()
    brush = o["is_brushing"].to_numpy()
    pv = person_view(w, np.where(brush, -1, pidx), t)
    p = np.maximum(pidx, 0)
    sub = o["sub"].to_numpy()
    # buyer identity as the platform hands it to this store
    nick = P["tmall_nick"].to_numpy()[p].astype(str)
    blur = rng.random(n) < np.clip(t / max(T, 1), 0, 1) * 0.85
    nick = np.where(
        blur,
        np.char.add(
            np.char.add(np.array([x[:1] for x in nick]), "**"), np.array([x[-1:] for x in nick])
        ),
        nick,
    )
    rot = P["tmall_rotates"].to_numpy()[p] & (t >= rotate_day)
    s1 = np.where(rot, P["tmall_open_s1_new"].to_numpy()[p], P["tmall_open_s1"].to_numpy()[p])
    s2 = np.where(rot, P["tmall_open_s2_new"].to_numpy()[p], P["tmall_open_s2"].to_numpy()[p])
    open_uid = np.where(sub == "flagship", s1, s2)
    name = pv["full_name"].astype(str)
    phone = pv["phone"].astype(str)
    addr = np.char.add(
        np.char.add(
            np.char.add(np.char.add(pv["province"].astype(str), " "), pv["city_zh"].astype(str)),
            "市 ",
        ),
        pv["address1"].astype(str),
    )
    addr = np.char.add(np.char.add(np.char.add(addr, "("), pv["zip"].astype(str)), ")")
    # brushing ring: throw-away accounts, one address
    nb = int(brush.sum())
    if nb:
        fake_nick = np.char.add("tb", rng.integers(10**9, 10**10, size=nb).astype(str))
        nick[brush] = np.where(
            blur[brush],
            np.char.add(np.char.add("t**", np.array([x[-1:] for x in fake_nick])), ""),
            fake_nick,
        )
        open_uid[brush] = np.char.add("AAF", random_strings(rng, nb, 21, ALNUM))
        ring = -pidx[brush] - 100
        name[brush] = np.array(["王先生", "刘女士", "陈先生", "张女士"])[ring % 4]
        phone[brush] = np.array(["15700001234", "18800004321", "13300005678", "17700008765"])[
            ring % 4
        ]
        addr[brush] = np.array(
            [
                "浙江省 金华市 义乌市稠城街道工人北路888号(322000)",
                "广东省 揭阳市 普宁市流沙东街道88号(515300)",
                "福建省 莆田市 荔城区镇海街道荔园路66号(351100)",
                "河北省 石家庄市 长安区建设北大街188号(050000)",
            ]
        )[ring % 4]
    o = o.with_columns(
        pl.Series("nick", nick),
        pl.Series("open_uid", open_uid.astype(str)),
        pl.Series("rname", name),
        pl.Series("rphone", phone),
        pl.Series("addr", addr.astype(str)),
        pl.Series("person_id", np.where(brush | (pidx < 0), -1, P["person_id"].to_numpy()[p])),
    )
    li = w.lines.join(
        o.select("order_idx"), on="order_idx", how="semi", maintain_order="left"
    ).sort(["order_idx", "line_no"])
    # unknown channel SKUs
    from ..catalog import sku_codes

    sm = sku_codes(w.products, w.seed).filter(pl.col("channel") == "tmall")
    code = dict(zip(sm["sku"].to_list(), sm["channel_sku"].to_list(), strict=True))
    skus = w.products["sku"].to_numpy()
    csku = np.array([code[s] for s in skus[li["sku_idx"].to_numpy()]], dtype=object)
    unk = rng.random(len(li)) < 0.003
    if len(li) > 10 and unk.sum() < 2:
        unk[rng.choice(len(li), size=2, replace=False)] = True
    unk &= ~li.join(
        o.select("order_idx", "is_brushing"), on="order_idx", how="left", maintain_order="left"
    )["is_brushing"].to_numpy()
    bad_codes = np.where(
        rng.random(len(li)) < 0.5,
        np.char.add(skus[li["sku_idx"].to_numpy()].astype(str), "-NEW"),
        np.char.add("QHX", rng.integers(10000, 99999, size=len(li)).astype(str)),
    )
    csku[unk] = bad_codes[unk]
    ov = getattr(w, "channel_sku_override", {}) or {}
    for oi, ln, c in zip(
        li["order_idx"].to_numpy()[unk].tolist(),
        li["line_no"].to_numpy()[unk].tolist(),
        csku[unk].tolist(),
        strict=True,
    ):
        ov[(oi, ln)] = c
    w.channel_sku_override = ov
    li = li.with_columns(pl.Series("csku", csku.astype(str)), pl.Series("unknown", unk))
    prod = w.products.select("sku_idx", "name_zh")
    li = li.join(prod, on="sku_idx", how="left", maintain_order="left")
    agg = li.group_by("order_idx", maintain_order=True).agg(
        pl.col("name_zh").str.join("，").alias("titles"),
        pl.len().alias("kinds"),
        pl.col("quantity").sum().alias("tot_qty"),
    )
    ret = w.returns.join(o.select("order_idx"), on="order_idx", how="semi", maintain_order="left")
    refund = ret.group_by("order_idx").agg(pl.col("refund_cents").sum().alias("refund"))
    o = (
        o.join(agg, on="order_idx", how="left", maintain_order="left")
        .join(refund, on="order_idx", how="left", maintain_order="left")
        .with_columns(pl.col("refund").fill_null(0))
    )
    net = pl.col("order_gross") - pl.col("order_discount")
    paid = ~pl.col("status").is_in(["pending", "cancelled"])
    unpaid_close = pl.col("status") == "cancelled"
    o = o.with_columns(
        pl.format('="{}"', pl.col("order_id")).alias("c_id"),
        money_expr("order_gross").alias("c_gross"),
        pl.when(paid).then(money_expr(net)).otherwise(pl.lit("0.00")).alias("c_paid"),
        pl.col("status").replace_strict(STATUS_TMALL, return_dtype=pl.Utf8).alias("c_status"),
        _ts(pl.col("ts")).alias("c_created"),
        _ts(pl.when(paid).then(pl.col("pay_ts")).otherwise(0)).alias("c_paytime"),
        pl.when(pl.col("status").is_in(["shipped", "completed"]))
        .then(pl.format("SF{}", (pl.col("order_id").str.slice(6, 10))))
        .otherwise(pl.lit(""))
        .alias("c_track"),
        pl.when(pl.col("status").is_in(["shipped", "completed"]))
        .then(pl.lit("顺丰速运"))
        .otherwise(pl.lit(""))
        .alias("c_carrier"),
        _ts(
            pl.when(pl.col("status") == "completed")
            .then((sd + pl.col("complete_day")) * DAY + 36000)
            .otherwise(0)
        ).alias("c_confirm"),
        _ts(
            pl.when(pl.col("status").is_in(["shipped", "completed"]))
            .then((sd + pl.col("ship_day")) * DAY + 50400)
            .otherwise(0)
        ).alias("c_shiptime"),
        pl.when(unpaid_close).then(pl.lit("买家不想买了")).otherwise(pl.lit("")).alias("c_close"),
        money_expr("refund").alias("c_refund"),
        pl.when(pl.col("status") == "completed")
        .then(money_expr(net - pl.col("refund")) + "元")
        .otherwise(pl.lit("0.00元"))
        .alias("c_settle"),
        pl.col("sub")
        .replace_strict({k: v[0] for k, v in STORES.items()}, return_dtype=pl.Utf8)
        .alias("c_shop_id"),
        pl.col("sub")
        .replace_strict({k: v[1] for k, v in STORES.items()}, return_dtype=pl.Utf8)
        .alias("c_shop"),
        pl.format("'{}", pl.col("rphone")).alias("c_phone_full"),
        (pl.col("rphone").str.slice(0, 3) + "****" + pl.col("rphone").str.slice(7, 4)).alias(
            "c_phone_mask"
        ),
        (pl.col("rname").str.slice(0, 1) + "**").alias("c_name_mask"),
        (
            pl.col("addr")
            .str.extract(r"^(\S+ \S+ .+?[区县市])", 1)
            .fill_null(pl.col("addr").str.slice(0, 8))
            + "****"
        ).alias("c_addr_mask"),
        pl.format("2024{}", pl.col("order_id").str.slice(4, 14)).alias("c_payno"),
    )
    o = o.with_columns(
        pl.when(pl.col("status") == "pending")
        .then(pl.lit(""))
        .otherwise(pl.col("c_payno"))
        .alias("c_payno")
    )
    classic_cols = [
        "c_id",
        "nick",
        "c_phone_mask",
        "c_gross",
        pl.lit("0.00"),
        pl.lit("0"),
        "c_gross",
        pl.lit("0"),
        "c_paid",
        pl.lit("0"),
        "c_status",
        pl.lit(""),
        "rname",
        "addr",
        pl.lit("快递"),
        pl.lit(""),
        "c_phone_full",
        "c_created",
        "c_paytime",
        "titles",
        pl.col("kinds").cast(pl.Utf8),
        "c_track",
        "c_carrier",
        pl.lit(""),
        pl.col("tot_qty").cast(pl.Utf8),
        "c_shop_id",
        "c_shop",
        "c_close",
        pl.lit("0.00"),
        pl.lit("0.00"),
        pl.lit(""),
        pl.lit("手机订单"),
        "c_refund",
        "c_confirm",
        "c_settle",
        "open_uid",
    ]
    new_cols = [
        "c_id",
        "c_payno",
        "c_gross",
        pl.lit("0.00"),
        "c_gross",
        "c_paid",
        "c_status",
        "c_name_mask",
        "c_phone_mask",
        "c_addr_mask",
        pl.lit("快递"),
        "c_created",
        "c_paytime",
        "titles",
        pl.col("kinds").cast(pl.Utf8),
        "c_track",
        "c_carrier",
        pl.lit(""),
        pl.lit(""),
        pl.col("tot_qty").cast(pl.Utf8),
        pl.lit(""),
        pl.lit("是"),
        pl.lit(""),
        "c_shiptime",
        "c_refund",
        "c_confirm",
        "open_uid",
    ]
    oc = o.select(
        pl.col("order_idx"),
        pl.col("t"),
        pl.col("sub"),
        *[
            (c if not isinstance(c, str) else pl.col(c)).alias(f"k{i}")
            for i, c in enumerate(classic_cols)
        ],
    )
    on_ = o.select(
        *[
            (c if not isinstance(c, str) else pl.col(c)).alias(f"k{i}")
            for i, c in enumerate(new_cols)
        ]
    )
    classic_lines = raw_lines(oc.select([f"k{i}" for i in range(len(classic_cols))]))
    new_lines = raw_lines(on_)
    lo = li.join(
        o.select("order_idx", "c_id", "c_status"), on="order_idx", how="left", maintain_order="left"
    )
    detail_lines = raw_lines(
        lo,
        exprs=[
            "c_id",
            "line_id",
            "name_zh",
            money_expr("unit_price_cents"),
            pl.col("quantity").cast(pl.Utf8),
            pl.lit(""),
            pl.lit("规格：标准装"),
            pl.lit(""),
            pl.lit(""),
            "c_status",
            "csku",
        ],
    )
    line_rows_of = {}
    lo_oidx = lo["order_idx"].to_numpy()
    for k, oi in enumerate(lo_oidx.tolist()):
        line_rows_of.setdefault(oi, []).append(k)
    # refunds
    rt = (
        ret.join(
            li.select("order_idx", "line_no", "line_id", "name_zh", "csku"),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .join(
            o.select("order_idx", "c_id", "sub"), on="order_idx", how="left", maintain_order="left"
        )
        .sort(["return_ts", "order_idx", "line_no"])
    )
    rt = rt.with_columns(
        pl.format(
            "{}",
            pl.lit(18_000_000_000 + w.shard * 10**8)
            + pl.int_range(pl.len()) * 37
            + (pl.col("order_idx") % 31),
        ).alias("rid"),
        (pl.col("return_ts") // DAY - sd).alias("rday"),
    )
    refund_lines = raw_lines(
        rt,
        exprs=[
            "rid",
            "c_id",
            "line_id",
            "name_zh",
            "csku",
            pl.col("return_qty").cast(pl.Utf8),
            money_expr("refund_cents"),
            _ts(pl.col("return_ts") - 3 * DAY),
            _ts(pl.col("return_ts")),
            pl.lit("退款成功"),
            pl.lit("是"),
            pl.col("order_idx").map_elements(
                lambda x: REASONS[x % len(REASONS)], return_dtype=pl.Utf8
            ),
        ],
    )
    # write weekly files per store
    out = landing / "tmall"
    files = rows = 0
    id_parts = []
    oidx_a = o["order_idx"].to_numpy()
    sub_a = o["sub"].to_numpy()
    rsub = rt["sub"].to_numpy()
    rday = rt["rday"].to_numpy()
    oid_a = o["order_id"].to_numpy()
    src_order = np.empty(n, dtype=object)
    classic_of = np.zeros(n, dtype=bool)
    unk_a = lo["unknown"].to_numpy()
    for store in sorted(STORES):
        for wk in range(0, (T + 6) // 7):
            lo_d, hi_d = wk * 7, min(wk * 7 + 7, T)
            # the file name carries the export time: 08:xx the morning after the week
            nxt = dt.date.fromordinal(w.cal.dates[hi_d - 1].toordinal() + 1)
            exp = nxt.strftime("%Y%m%d") + f"08{(wk * 7 + (store == 'global') * 3) % 60:02d}"
            sel = np.nonzero((sub_a == store) & (t >= lo_d) & (t < hi_d))[0]
            if len(sel) == 0:
                continue
            classic = hi_d - 1 < switch
            header = HEADER_CLASSIC if classic else HEADER_NEW
            body = [classic_lines[i] if classic else new_lines[i] for i in sel]
            rel = f"tmall/{store}/ExportOrderList{exp}.csv"
            _write(out.parent / rel, header, body)
            src_order[sel] = rel
            classic_of[sel] = classic
            files += 1
            rows += len(body)
            for k, i in enumerate(sel):
                if brush[i]:
                    defects.add(
                        "brushing_order",
                        "tmall",
                        rel,
                        k + 1,
                        f"order {oid_a[i]} ring {-pidx[i] - 100}",
                    )
            # detail
            drows = [r for i in sel for r in line_rows_of.get(int(oidx_a[i]), [])]
            drel = f"tmall/{store}/ExportOrderDetailList{exp}.csv"
            _write(out.parent / drel, HEADER_DETAIL, [detail_lines[r] for r in drows])
            files += 1
            rows += len(drows)
            for k, r in enumerate(drows):
                if unk_a[r]:
                    defects.add(
                        "unknown_channel_sku",
                        "tmall",
                        drel,
                        k + 1,
                        f"商家编码 {lo['csku'][r]} not in sku_map",
                    )
            rsel = np.nonzero((rsub == store) & (rday >= lo_d) & (rday < hi_d))[0]
            if len(rsel):
                rrel = f"tmall/{store}/ExportRefundList{exp}.csv"
                _write(out.parent / rrel, HEADER_REFUND, [refund_lines[i] for i in rsel])
                files += 1
                rows += len(rsel)
    # identifiers (order level)
    classic_mask = classic_of
    pid = o["person_id"].to_numpy()
    keys = o["order_id"].to_numpy()
    src = src_order.astype(str)
    c_nick = np.where(classic_mask, nick, "")
    c_full = np.where(classic_mask, np.char.add("'", phone.astype(str)), "")
    masked = mask_phone(phone.astype(str))
    id_parts += [
        ident_frame("tmall", src, keys, "marketplace_buyer_nick", c_nick, pid),
        ident_frame("tmall", src, keys, "marketplace_buyer_id", open_uid.astype(str), pid),
        ident_frame("tmall", src, keys, "phone", c_full, pid),
        ident_frame("tmall", src, keys, "phone_masked", masked, pid),
    ]
    return {"channel": "tmall", "files": files, "rows": rows, "identifiers": pl.concat(id_parts)}


def _write(path: Path, header: list[str], body: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ",".join(header) + "\r\n" + "".join(x + "\r\n" for x in body)
    path.write_bytes(text.encode(ENC))
