"""Store point of sale: one CSV per store per business day (UTF-8 with BOM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..population import DEFAULT_PHONE
from ..util import DAY, money_expr, rng_for
from .common import ident_frame, local_ts, person_view

HEADER = [
    "门店编号",
    "销售日期",
    "销售时间",
    "单据号",
    "单据类型",
    "行号",
    "会员卡号",
    "会员手机",
    "商品编号",
    "商品名称",
    "单价",
    "数量",
    "折扣金额",
    "实收金额",
    "付款方式",
    "收银员",
]
PAYMENTS = np.array(["微信支付", "支付宝", "银行卡", "现金"])
SLASH_DATE_STORE = "ST-WH-01"


def shared_card(store: str) -> str:
    """The store's shared member card (a CRM record created by the staff)."""
    a, b = store.split("-")[1], store.split("-")[2]
    code = {"SH": 1, "BJ": 2, "HZ": 3, "GZ": 4, "SZ": 5, "CD": 6, "WH": 7}.get(a, 9)
    return f"66880000{code}{b}0"


def receipt_keys(w: World, rng) -> pl.DataFrame:
    """Per POS sale receipt: member card and phone keyed, payment, cashier."""
    o = w.orders.filter(pl.col("channel") == "pos").sort(["ts", "order_idx"])
    n = len(o)
    pidx = o["person_idx"].to_numpy()
    t = o["t"].to_numpy()
    pv = person_view(w, pidx, t)
    P = w.persons
    p = np.maximum(pidx, 0)
    known = pidx >= 0
    member = known & P["is_member"].to_numpy()[p] & (t >= P["member_join_day"].to_numpy()[p])
    u = rng.random(n)
    card = np.where(member & (u < 0.7), pv["member_no"], "")
    phone = np.where(member & (u >= 0.55), pv["phone"], "")
    # non-members: some give their phone for e-receipts
    phone = np.where(known & ~member & (u < 0.2), pv["phone"], phone)
    v = rng.random(n)
    store = o["location_id"].to_numpy()
    shared = (card == "") & (phone == "") & (v < 0.09)
    card = np.where(shared, np.array([shared_card(s) for s in store]), card)
    default = (card == "") & (phone == "") & (v >= 0.09) & (v < 0.15)
    phone = np.where(default, DEFAULT_PHONE, phone)
    cashier = np.char.add(
        np.char.add("C", np.char.replace(np.char.replace(store.astype(str), "ST-", ""), "-", "")),
        np.char.zfill(rng.integers(1, 5, size=n).astype(str), 2),
    )
    pay = PAYMENTS[rng.choice(4, size=n, p=[0.46, 0.3, 0.17, 0.07])]
    return pl.DataFrame(
        {
            "order_idx": o["order_idx"],
            "card": card.astype(str),
            "mphone": phone.astype(str),
            "shared": shared,
            "default": default,
            "payment": pay,
            "cashier": cashier,
            "person_id": pv["person_id"],
        }
    )


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "pos")
    keys = receipt_keys(w, rng)
    prod = w.products.select("sku_idx", "sku", "name_zh")
    o = w.orders.filter(pl.col("channel") == "pos").select(
        "order_idx", "order_id", "location_id", "t", "sec"
    )
    sales = (
        w.lines.join(o, on="order_idx", how="inner", maintain_order="left")
        .join(keys, on="order_idx", how="left", maintain_order="left")
        .join(prod, on="sku_idx", how="left", maintain_order="left")
        .with_columns(
            pl.lit("SELL").alias("doc_type"),
            pl.col("line_no").alias("row_no"),
            pl.col("quantity").alias("qty_signed"),
            pl.col("discount_cents").alias("disc"),
            pl.col("net_cents").alias("paid"),
            pl.col("t").alias("bday"),
            pl.col("sec").alias("bsec"),
        )
    )
    r = w.returns.filter(pl.col("return_receipt").is_not_null())
    rets = (
        r.join(
            w.lines.select("order_idx", "line_no", "sku_idx", "unit_price_cents"),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .join(o, on="order_idx", how="inner", maintain_order="left")
        .join(keys, on="order_idx", how="left", maintain_order="left")
        .join(prod, on="sku_idx", how="left", maintain_order="left")
        .with_columns(
            pl.lit("SELL_RETURN").alias("doc_type"),
            pl.col("return_receipt").alias("order_id"),
            pl.col("return_line_no").alias("row_no"),
            (-pl.col("return_qty")).alias("qty_signed"),
            (pl.col("unit_price_cents") * pl.col("return_qty") - pl.col("refund_cents")).alias(
                "disc"
            ),
            (-pl.col("refund_cents")).alias("paid"),
            pl.col("return_day").alias("bday"),
            (pl.col("return_ts") % DAY).alias("bsec"),
        )
    )
    cols = [
        "location_id",
        "bday",
        "bsec",
        "order_id",
        "doc_type",
        "row_no",
        "card",
        "mphone",
        "sku",
        "name_zh",
        "unit_price_cents",
        "qty_signed",
        "disc",
        "paid",
        "payment",
        "cashier",
        "person_id",
        "shared",
        "default",
    ]
    allr = pl.concat([sales.select(cols), rets.select(cols)]).sort(
        ["location_id", "bday", "bsec", "order_id", "row_no"]
    )
    days = pl.DataFrame({"bday": np.arange(w.cal.days, dtype=np.int64), "date_iso": w.cal.iso})
    allr = allr.join(days, on="bday", how="left", maintain_order="left")
    allr = allr.with_columns(
        pl.when(pl.col("location_id") == SLASH_DATE_STORE)
        .then(pl.col("date_iso").str.replace_all("-", "/"))
        .otherwise(pl.col("date_iso"))
        .alias("c_date"),
        pl.from_epoch(pl.col("bsec"), time_unit="s").dt.strftime("%H:%M:%S").alias("c_time"),
        money_expr("unit_price_cents").alias("c_price"),
        money_expr("disc").alias("c_disc"),
        money_expr("paid").alias("c_paid"),
        pl.col("row_no").cast(pl.Utf8).alias("c_row"),
        pl.col("qty_signed").cast(pl.Utf8).alias("c_qty"),
    )
    out_cols = [
        "location_id",
        "c_date",
        "c_time",
        "order_id",
        "doc_type",
        "c_row",
        "card",
        "mphone",
        "sku",
        "name_zh",
        "c_price",
        "c_qty",
        "c_disc",
        "c_paid",
        "payment",
        "cashier",
    ]
    out_dir = landing / "pos"
    out_dir.mkdir(parents=True, exist_ok=True)
    ymd = np.array(w.cal.ymd)
    text = allr.select(pl.col(c).replace("", None) for c in out_cols).write_csv(
        include_header=False, line_terminator="\n", null_value=""
    )
    all_lines = text.split("\n")[:-1]
    loc_a = allr["location_id"].to_numpy()
    day_a = allr["bday"].to_numpy()
    doc_a = allr["doc_type"].to_numpy()
    src = np.char.add(np.char.add(np.char.add("pos/pos_", loc_a.astype(str)), "_"), ymd[day_a])
    src = np.char.add(src, ".csv").astype(object)
    brk = np.nonzero((loc_a[1:] != loc_a[:-1]) | (day_a[1:] != day_a[:-1]))[0] + 1
    bounds = list(zip(np.r_[0, brk].tolist(), np.r_[brk, len(allr)].tolist(), strict=True))

    # choose defect targets
    def n_sell(a, b):
        return int((doc_a[a:b] == "SELL").sum())

    big = [
        i
        for i, (a, b) in enumerate(bounds)
        if loc_a[a] != SLASH_DATE_STORE and b - a >= 4 and n_sell(a, b) >= 2
    ]
    pick = rng.permutation(len(big))
    redeliver = {big[pick[0]]} if len(big) > 0 else set()
    resend = {big[i] for i in pick[1:3]} if len(big) > 2 else set()
    bom = b"\xef\xbb\xbf"
    head = ",".join(HEADER) + "\n"
    files = rows = 0
    dup_draw = rng.random(len(allr))
    for gi, (a, b) in enumerate(bounds):
        store = loc_a[a]
        d = int(day_a[a])
        fname = f"pos_{store}_{ymd[d]}.csv"
        rel = f"pos/{fname}"
        lines = all_lines[a:b]
        if gi in redeliver:
            # the original: one line with a wrong quantity, one line missing; v2 is the truth
            v2name = f"pos_{store}_{ymd[d]}_v2.csv"
            (out_dir / v2name).write_bytes(bom + (head + "\n".join(lines) + "\n").encode("utf-8"))
            files += 1
            rows += len(lines)
            sell_rows = [i for i in range(len(lines)) if doc_a[a + i] == "SELL"]
            wrong, missing = sell_rows[0], sell_rows[-1]
            bad = list(lines)
            c = allr.row(a + wrong, named=True)
            q = c["qty_signed"] + 1
            paid = c["unit_price_cents"] * q - c["disc"]
            cells = bad[wrong].split(",")
            cells[11] = str(q)
            cells[13] = f"{paid // 100}.{paid % 100:02d}"
            bad[wrong] = ",".join(cells)
            m = allr.row(a + missing, named=True)
            del bad[missing]
            (out_dir / fname).write_bytes(bom + (head + "\n".join(bad) + "\n").encode("utf-8"))
            files += 1
            rows += len(bad)
            defects.add(
                "corrected_redelivery",
                "pos",
                f"pos/{v2name}",
                None,
                f"supersedes {rel}: there row {wrong + 1} had quantity {q} instead of {q - 1} and "
                f"receipt {m['order_id']} line {m['row_no']} was missing",
            )
            defects.add("superseded_file", "pos", rel, None, f"replaced by pos/{v2name}")
            src[a:b] = f"pos/{v2name}"
            continue
        dup_rows = set(np.nonzero(dup_draw[a:b] < 0.002)[0].tolist())
        if dup_rows:
            out_lines = []
            for i, ln in enumerate(lines):
                out_lines.append(ln)
                if i in dup_rows:
                    out_lines.append(ln)
                    defects.add(
                        "exact_duplicate_row",
                        "pos",
                        rel,
                        len(out_lines),
                        f"copy of row {len(out_lines) - 1}",
                    )
        else:
            out_lines = lines
        data = bom + (head + "\n".join(out_lines) + "\n").encode("utf-8")
        (out_dir / fname).write_bytes(data)
        files += 1
        rows += len(out_lines)
        if store == SLASH_DATE_STORE:
            defects.add("mixed_date_format", "pos", rel, None, "销售日期 written yyyy/MM/dd")
        if gi in resend:
            (out_dir / "resend").mkdir(exist_ok=True)
            (out_dir / "resend" / fname).write_bytes(data)
            files += 1
            rows += len(out_lines)
            defects.add(
                "duplicate_file",
                "pos",
                f"pos/resend/{fname}",
                None,
                f"byte-identical copy of {rel}",
            )
    ids = _idents(allr, src.astype(str))
    return {"files": files, "rows": rows, "identifiers": ids}


def _idents(g: pl.DataFrame, src: np.ndarray) -> pl.DataFrame:
    pid = g["person_id"].to_numpy()
    keys = g["order_id"].to_numpy()
    return pl.concat(
        [
            ident_frame("pos", src, keys, "member_no", g["card"].to_numpy(), pid),
            ident_frame("pos", src, keys, "phone", g["mphone"].to_numpy(), pid),
        ]
    )


__all__ = ["HEADER", "local_ts", "shared_card", "write"]
