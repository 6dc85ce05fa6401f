"""Own web shop: Shopify order JSON per day, and Segment clickstream (see clickstream.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from ..defects import Defects
from ..demand import World
from ..util import money_str, rng_for
from .common import EMOJI, fullwidth, ident_frame, iso_local, person_view, phone_formats

FIN = {"pending": "pending", "cancelled": "voided"}


def write_orders(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "web.orders")
    o = w.orders.filter(pl.col("channel") == "web").sort(["ts", "order_idx"])
    n = len(o)
    pidx = o["person_idx"].to_numpy()
    t = o["t"].to_numpy()
    pv = person_view(w, pidx, t)
    P = w.persons
    p = np.maximum(pidx, 0)
    test = o["is_test"].to_numpy()
    # identifiers as the shop shows them
    style = rng.integers(0, 4, size=n)
    phone_raw = pv["phone"]
    phone_shown = phone_formats(phone_raw, style)
    no_phone = rng.random(n) < 0.1
    phone_shown = np.where(no_phone | (phone_raw == ""), None, phone_shown)
    em = pv["email"].astype(object)
    mess = rng.random(n)
    em = np.where(
        mess < 0.06,
        np.char.upper(em.astype(str)),
        np.where(mess < 0.12, np.char.add(np.char.add(" ", em.astype(str)), " "), em.astype(str)),
    ).astype(object)
    em = np.where(pv["email"] == "", None, em)
    first = pv["first_name"].astype(object)
    last = pv["last_name"].astype(object)
    name_defect = np.zeros(n, dtype=np.int64)
    r = rng.random(n)
    if n > 5:
        r[rng.choice(np.nonzero(~test & (pidx >= 0))[0], size=2, replace=False)] = [0.0, 0.011]
    fw = (r < 0.006) & ~test
    emo = (r >= 0.006) & (r < 0.012) & ~test
    for i in np.nonzero(fw)[0]:
        first[i] = fullwidth(str(P["name_pinyin"][int(p[i])]).split(" ")[-1].title())
        name_defect[i] = 1
    for i in np.nonzero(emo)[0]:
        first[i] = f"{first[i]}{EMOJI[int(rng.integers(0, len(EMOJI)))]}"
        name_defect[i] = 2
    cust_id = np.where(pidx >= 0, P["shop_customer_id"].to_numpy()[p], 6_999_999_999_999)
    member = np.where(pidx >= 0, P["is_member"].to_numpy()[p], False)
    accepts = np.where(
        pidx >= 0,
        P["consent_email"].to_numpy()[p] & (t < P["consent_email_revoked_day"].to_numpy()[p]),
        False,
    )
    em = np.where(test, "qa-test@qinghe-beauty.cn", em)
    first = np.where(test, "Test", first)
    last = np.where(test, "QA", last)
    phone_shown = np.where(test, "13900000000", phone_shown)

    # lines, fulfilments, refunds
    li = w.lines.join(
        o.select("order_idx"), on="order_idx", how="semi", maintain_order="left"
    ).sort(["order_idx", "line_no"])
    names = w.products["name_zh"].to_list()
    skus = w.products["sku"].to_list()
    lines_by = {}
    for oi, lid, sk, q, up, dc in zip(
        li["order_idx"].to_list(),
        li["line_id"].to_list(),
        li["sku_idx"].to_list(),
        li["quantity"].to_list(),
        li["unit_price_cents"].to_list(),
        li["discount_cents"].to_list(),
        strict=True,
    ):
        lines_by.setdefault(oi, []).append(
            {
                "id": int(lid),
                "sku": skus[sk],
                "title": names[sk],
                "quantity": q,
                "price": money_str(up),
                "total_discount": money_str(dc),
            }
        )
    ret = (
        w.returns.join(o.select("order_idx"), on="order_idx", how="semi", maintain_order="left")
        .join(
            li.select("order_idx", "line_no", "line_id"),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .sort(["return_ts", "order_idx", "line_no"])
    )
    refunds_by: dict[int, list] = {}
    rid = 9_880_000_000_000
    refunded_qty: dict[int, int] = {}
    for oi, rts, lid, rq, amt in zip(
        ret["order_idx"].to_list(),
        ret["return_ts"].to_list(),
        ret["line_id"].to_list(),
        ret["return_qty"].to_list(),
        ret["refund_cents"].to_list(),
        strict=True,
    ):
        lst = refunds_by.setdefault(oi, [])
        created = iso_local([rts])[0]
        if not lst or lst[-1]["created_at"] != created:
            rid += 1 + (rid * 7 + oi) % 5000
            lst.append({"id": rid, "created_at": created, "refund_line_items": []})
        lst[-1]["refund_line_items"].append(
            {"line_item_id": int(lid), "quantity": rq, "subtotal": money_str(amt)}
        )
        refunded_qty[oi] = refunded_qty.get(oi, 0) + rq
    total_qty = li.group_by("order_idx").agg(pl.col("quantity").sum()).to_dict(as_series=False)
    total_qty = dict(zip(total_qty["order_idx"], total_qty["quantity"], strict=True))

    created = iso_local(o["ts"].to_numpy()).to_list()
    cancel = iso_local(o["cancel_ts"].to_numpy()).to_list()
    ship_ts = (w.start_day + o["ship_day"].to_numpy()) * 86400 + rng.integers(
        9 * 3600, 18 * 3600, size=n
    )
    # same-day shipping happens after the order, and on its ship day (the truth's ship date)
    ship_ts = np.maximum(ship_ts, o["ts"].to_numpy() + 1800)
    ship_ts = np.minimum(ship_ts, (w.start_day + o["ship_day"].to_numpy() + 1) * 86400 - 1)
    ship_iso = iso_local(ship_ts).to_list()
    status = o["status"].to_list()
    records = []
    order_idx = o["order_idx"].to_list()
    gross = o["order_gross"].to_list()
    disc = o["order_discount"].to_list()
    coupon = o["coupon"].to_list()
    loc = o["location_id"].to_list()
    oid = o["order_id"].to_list()
    oname = o["order_name"].to_list()
    for i in range(n):
        oi = order_idx[i]
        st = status[i]
        if st == "cancelled":
            fin = "voided"
        elif st == "pending":
            fin = "pending"
        elif oi in refunded_qty:
            fin = "refunded" if refunded_qty[oi] >= total_qty[oi] else "partially_refunded"
        else:
            fin = "paid"
        shipped = st in ("shipped", "completed")
        dcodes = []
        if coupon[i]:
            dcodes = [
                {
                    "code": coupon[i],
                    "amount": money_str(disc[i]),
                    "type": "percentage" if coupon[i] == "WELCOME10" else "fixed_amount",
                }
            ]
        tags = ", ".join(
            x for x in (("member" if member[i] else ""), ("test" if test[i] else "")) if x
        )
        ship_phone = phone_shown[i]
        rec = {
            "id": int(oid[i]),
            "name": oname[i],
            "email": em[i],
            "phone": phone_shown[i],
            "created_at": created[i],
            "currency": "CNY",
            "subtotal_price": money_str(gross[i] - disc[i]),
            "total_discounts": money_str(disc[i]),
            "total_price": money_str(gross[i] - disc[i]),
            "financial_status": fin,
            "fulfillment_status": "fulfilled" if shipped else None,
            "cancelled_at": cancel[i] if st == "cancelled" else None,
            "test": bool(test[i]),
            "tags": tags,
            "source_name": "web",
            "buyer_accepts_marketing": bool(accepts[i]),
            "discount_codes": dcodes,
            "line_items": lines_by[oi],
            "shipping_address": {
                "name": f"{last[i]}{first[i]}",
                "address1": str(pv["address1"][i]) if not test[i] else "测试地址1号",
                "city": str(pv["city_zh"][i]) or "上海",
                "province": str(pv["province"][i]) or "上海",
                "country_code": "CN",
                "zip": str(pv["zip"][i]) or "200000",
                "phone": ship_phone,
            },
            "customer": {
                "id": int(cust_id[i]),
                "email": em[i],
                "phone": phone_shown[i],
                "first_name": first[i],
                "last_name": last[i],
            },
            "fulfillments": (
                [
                    {
                        "id": int(oid[i]) // 10 + 4_100_000_000_000,
                        "location_id": loc[i],
                        "status": "success",
                        "created_at": ship_iso[i],
                    }
                ]
                if shipped
                else []
            ),
            "refunds": refunds_by.get(oi, []),
        }
        records.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
    # files per day with planted duplicates
    ymd = w.cal.ymd
    out_dir = landing / "web" / "orders"
    out_dir.mkdir(parents=True, exist_ok=True)
    dup = (rng.random(n) < 0.004) & ~test
    if n > 5 and dup.sum() < 2:
        dup[rng.choice(np.nonzero(~test)[0], size=2, replace=False)] = True
    files = 0
    rows_written = 0
    id_parts = []
    line_of = np.zeros(n, dtype=np.int64)
    file_of = np.empty(n, dtype=object)
    for d in np.unique(t):
        idx = np.nonzero(t == d)[0]
        fname = f"shopify_orders_{ymd[d]}.ndjson"
        rel = f"web/orders/{fname}"
        buf = []
        formats = set()
        for i in idx:
            buf.append(records[i])
            line_of[i] = len(buf)
            file_of[i] = rel
            ph = phone_shown[i]
            if ph is not None:
                formats.add(("+" in ph, " " in ph, "-" in ph))
            if dup[i]:
                buf.append(records[i])
                defects.add(
                    "exact_duplicate_row",
                    "web",
                    rel,
                    len(buf),
                    f"copy of line {line_of[i]} (order {oid[i]})",
                )
            if test[i]:
                defects.add(
                    "test_order", "web", rel, int(line_of[i]), f"order {oid[i]} has test=true"
                )
            if name_defect[i]:
                defects.add(
                    "fullwidth_or_emoji_name",
                    "web",
                    rel,
                    int(line_of[i]),
                    f"customer.first_name {'full-width' if name_defect[i] == 1 else 'with emoji'}: {first[i]}",
                )
        if len(formats) > 1:
            defects.add("mixed_phone_formats", "web", rel, None, f"{len(formats)} phone spellings")
        (out_dir / fname).write_text("\n".join(buf) + "\n", encoding="utf-8")
        files += 1
        rows_written += len(buf)
    # truth identifiers (order-level record key = Shopify id)
    pid = pv["person_id"]
    keys = np.array(oid)
    emv = np.array([e if e is not None else "" for e in em], dtype=object).astype(str)
    phv = np.array([x if x is not None else "" for x in phone_shown], dtype=object).astype(str)
    id_parts.append(ident_frame("web", file_of, keys, "email", emv, pid))
    id_parts.append(ident_frame("web", file_of, keys, "phone", phv, pid))
    id_parts.append(ident_frame("web", file_of, keys, "shop_customer_id", cust_id.astype(str), pid))
    return {"files": files, "rows": rows_written, "identifiers": pl.concat(id_parts)}
