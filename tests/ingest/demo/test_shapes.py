from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import polars as pl

from ingest.demo.channels.pos import HEADER as POS_HEADER

CHANNELS = [
    "web",
    "app",
    "wechat",
    "tmall",
    "jd",
    "douyin",
    "amazon",
    "pos",
    "crm",
    "social",
    "erp",
]


def _defects(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "truth" / "defects.parquet")


def test_every_channel_has_files(tiny):
    root, summary = tiny
    for ch in CHANNELS:
        assert any((root / "landing" / ch).rglob("*.*")), ch
        assert summary["channels"][ch]["files"] > 0


def test_web_orders_contract(tiny):
    root, _ = tiny
    locs = pl.read_csv(root / "landing/erp/locations.csv")
    warehouses = set(locs.filter(pl.col("location_type") == "warehouse")["location_id"])
    bad = set(
        zip(
            *_defects(root).filter(pl.col("kind") == "malformed_json_line").select("file", "row"),
            strict=False,
        )
    )
    seen_lines: set[int] = set()
    n = 0
    for f in sorted((root / "landing/web/orders").glob("shopify_orders_*.ndjson")):
        rel = f"web/orders/{f.name}"
        assert re.fullmatch(r"shopify_orders_\d{8}\.ndjson", f.name)
        raw = f.read_text(encoding="utf-8").splitlines()
        uniq = list(dict.fromkeys(raw))
        for i, line in enumerate(raw, 1):
            if (rel, i) in bad:
                continue
            json.loads(line)
        for line in uniq:
            o = json.loads(line)
            n += 1
            assert (
                o["created_at"].endswith("+08:00")
                and o["currency"] == "CNY"
                and o["source_name"] == "web"
            )
            assert o["name"].startswith("#")
            assert o["financial_status"] in {
                "pending",
                "paid",
                "partially_refunded",
                "refunded",
                "voided",
            }
            assert o["fulfillment_status"] in {None, "fulfilled", "partial"}
            for k in ("subtotal_price", "total_discounts", "total_price"):
                assert re.fullmatch(r"\d+\.\d{2}", o[k])
            if o["financial_status"] == "voided":
                assert o["cancelled_at"] and o["fulfillments"] == []
            if o["cancelled_at"] is None and o["financial_status"] in {
                "paid",
                "partially_refunded",
                "refunded",
            }:
                assert len(o["fulfillments"]) == 1 and o["fulfillment_status"] == "fulfilled"
            for fu in o["fulfillments"]:
                assert fu["location_id"] in warehouses and fu["status"] == "success"
            items = {li["id"]: li for li in o["line_items"]}
            for li in o["line_items"]:
                assert li["id"] not in seen_lines
                seen_lines.add(li["id"])
                assert isinstance(li["quantity"], int) and li["quantity"] > 0
            for r in o["refunds"]:
                for rl in r["refund_line_items"]:
                    assert rl["line_item_id"] in items
    assert n > 0


def test_pos_files_contract(tiny):
    root, _ = tiny
    files = sorted((root / "landing/pos").glob("pos_*.csv"))
    assert files
    slash = 0
    for f in files:
        data = f.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), f
        rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
        assert rows[0] == POS_HEADER
        m = re.fullmatch(r"pos_(ST-[A-Z]{2}-\d{2})_(\d{8})(_v2)?\.csv", f.name)
        assert m, f.name
        for r in rows[1:]:
            assert r[0] == m.group(1)
            assert re.fullmatch(r"\d{4}([-/])\d{2}\1\d{2}", r[1])
            slash += "/" in r[1]
            assert r[1].replace("/", "").replace("-", "") == m.group(2)
            assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", r[2])
            assert r[4] in ("SELL", "SELL_RETURN")
            price, qty, disc, paid = Decimal(r[10]), int(r[11]), Decimal(r[12]), Decimal(r[13])
            assert disc >= 0
            if r[4] == "SELL":
                assert qty > 0 and paid == price * qty - disc
            else:
                assert qty < 0 and paid == -(price * -qty - disc)
            assert r[14] in ("微信支付", "支付宝", "银行卡", "现金")
            assert r[7] == "" or re.fullmatch(r"1\d{10}", r[7])
    assert slash > 0


def test_erp_master_data(tiny):
    root, _ = tiny
    p = pl.read_csv(root / "landing/erp/products.csv", infer_schema=False)
    assert p.columns == [
        "sku",
        "name_zh",
        "name_en",
        "category",
        "brand_line",
        "unit_cost",
        "list_price",
        "currency",
        "launch_date",
        "discontinued_date",
        "repurchase_cycle_days",
    ]
    assert 120 <= len(p) <= 200
    assert set(p["category"]) == {
        "skincare",
        "makeup",
        "haircare",
        "bodycare",
        "fragrance",
        "gift_set",
    }
    loc = pl.read_csv(root / "landing/erp/locations.csv")
    assert loc.columns == [
        "location_id",
        "location_type",
        "name",
        "city",
        "country",
        "lat",
        "lon",
        "timezone",
        "opened_date",
    ]
    counts = dict(loc.group_by("location_type").len().iter_rows())
    assert 8 <= counts["store"] <= 12 and 2 <= counts["warehouse"] <= 3 and 2 <= counts["fba"] <= 3


def test_tmall_is_gb18030_with_quirks(tiny):
    root, _ = tiny
    f = sorted((root / "landing/tmall/flagship").glob("ExportOrderList*.csv"))[0]
    text = f.read_bytes().decode("gb18030")
    header = text.splitlines()[0].split(",")
    assert "收货地址 " in header and header[0] == "订单编号"
    first = text.splitlines()[1].split(",")
    assert first[0].startswith('="') and first[0].endswith('"')


def test_amazon_report_has_no_buyer_pii(tiny):
    root, _ = tiny
    for f in (root / "landing/amazon").rglob("All_Orders_*.txt"):
        header = f.read_text(encoding="utf-8").splitlines()[0].split("\t")
        assert header[0] == "amazon-order-id"
        assert not any("email" in h or "buyer" in h or "phone" in h for h in header)
        for line in f.read_text(encoding="utf-8").splitlines()[1:]:
            assert line.split("\t")[2].endswith("+00:00")
