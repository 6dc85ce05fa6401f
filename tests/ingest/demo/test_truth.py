from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import polars as pl


def _pos_landing(root: Path) -> pl.DataFrame:
    d = pl.read_parquet(root / "truth/defects.parquet")
    superseded = set(d.filter(pl.col("kind") == "superseded_file")["file"])
    rows = []
    for f in sorted((root / "landing/pos").glob("*.csv")):
        if f"pos/{f.name}" in superseded:
            continue
        for r in list(csv.reader(io.StringIO(f.read_bytes()[3:].decode("utf-8"))))[1:]:
            rows.append(tuple(r))
    rows = list(dict.fromkeys(rows))
    return pl.DataFrame(
        rows,
        schema=[
            "store",
            "date",
            "time",
            "doc",
            "type",
            "line",
            "card",
            "phone",
            "sku",
            "name",
            "price",
            "qty",
            "disc",
            "paid",
            "pay",
            "cashier",
        ],
        orient="row",
    )


def test_pos_truth_matches_landing(tiny):
    root, _ = tiny
    s = pl.read_parquet(root / "truth/sales_lines.parquet").filter(pl.col("channel") == "pos")
    r = pl.read_parquet(root / "truth/returns.parquet").filter(pl.col("channel") == "pos")
    land = _pos_landing(root)
    sell = land.filter(pl.col("type") == "SELL")
    ret = land.filter(pl.col("type") == "SELL_RETURN")
    j = s.join(sell, left_on=["order_id", "line_id"], right_on=["doc", "line"], how="left")
    assert (
        j["sku_right"].null_count() == 0
        if "sku_right" in j.columns
        else j["name"].null_count() == 0
    )
    assert (j["sku"] == j["sku_right"]).all()
    assert (j["quantity"].cast(pl.Utf8) == j["qty"]).all()
    assert len(sell) == len(s)
    assert len(ret) == len(r)
    assert sum(Decimal(x) for x in sell["paid"]) == s["net_amount"].sum()
    assert -sum(Decimal(x) for x in ret["paid"]) == r["amount"].sum()


def test_web_truth_matches_landing(tiny):
    root, _ = tiny
    s = pl.read_parquet(root / "truth/sales_lines.parquet").filter(pl.col("channel") == "web")
    got = set()
    for f in sorted((root / "landing/web/orders").glob("*.ndjson")):
        for line in set(f.read_text(encoding="utf-8").splitlines()):
            o = json.loads(line)
            for li in o["line_items"]:
                got.add((str(o["id"]), str(li["id"]), li["sku"], li["quantity"], o["test"]))
    want = {
        (a, b, c, d, e)
        for a, b, c, d, e in s.select(
            "order_id", "line_id", "sku", "quantity", "is_test"
        ).iter_rows()
    }
    assert got == want


def test_truth_schemas(tiny):
    root, _ = tiny
    s = pl.read_parquet(root / "truth/sales_lines.parquet")
    assert s.columns == [
        "channel",
        "order_id",
        "line_id",
        "sku",
        "channel_sku",
        "location_id",
        "order_ts_local",
        "business_date",
        "quantity",
        "unit_price",
        "discount",
        "net_amount",
        "currency",
        "status",
        "ship_date",
        "is_test",
        "is_brushing",
        "person_id",
    ]
    assert s["unit_price"].dtype == pl.Decimal(18, 2)
    # a line has left its location exactly when its status says so, never before its order
    left = s["status"].is_in(["shipped", "completed"])
    assert (s["ship_date"].is_not_null() == left).all() and left.any() and (~left).any()
    assert (s["ship_date"] >= s["business_date"]).all()
    assert (
        s.filter(pl.col("channel") == "pos")["ship_date"]
        == s.filter(pl.col("channel") == "pos")["business_date"]
    ).all()
    assert (s["quantity"] > 0).all()
    assert (
        s["net_amount"] == s["unit_price"] * s["quantity"].cast(pl.Decimal(18, 0)) - s["discount"]
    ).all()
    assert set(s["status"]) <= {"pending", "paid", "shipped", "completed", "cancelled"}
    assert set(s["channel"]) == {"web", "wechat", "tmall", "jd", "douyin", "amazon", "pos"}
    assert s.select("channel", "order_id", "line_id").is_duplicated().sum() == 0
    r = pl.read_parquet(root / "truth/returns.parquet")
    assert (r["quantity"] > 0).all() and (r["amount"] > 0).all()
    d = pl.read_parquet(root / "truth/defects.parquet")
    assert d.columns == ["defect_id", "kind", "channel", "file", "row", "detail"]
    i = pl.read_parquet(root / "truth/identifiers.parquet")
    assert i.columns == [
        "channel",
        "source_file",
        "record_key",
        "identifier_type",
        "identifier_value",
        "person_id",
    ]
    assert set(i["channel"]) >= {
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
    }


def test_demand_is_consistent_with_sales(tiny):
    root, _ = tiny
    dm = pl.read_parquet(root / "truth/demand.parquet")
    assert (dm["sold_units"] <= dm["on_hand_start"]).all()
    assert (dm["sold_units"] <= dm["true_demand"]).all()
    s = pl.read_parquet(root / "truth/sales_lines.parquet").filter(
        (pl.col("status") != "cancelled") & ~pl.col("is_test") & ~pl.col("is_brushing")
    )
    agg = s.group_by("business_date", "location_id", "sku").agg(pl.col("quantity").sum().alias("q"))
    j = dm.filter(pl.col("sold_units") > 0).join(
        agg,
        left_on=["date", "location_id", "sku"],
        right_on=["business_date", "location_id", "sku"],
        how="full",
        coalesce=True,
    )
    assert j["q"].null_count() == 0 and j["sold_units"].null_count() == 0
    assert (j["q"] == j["sold_units"]).all()
    # reserved: units of those lines placed by the end of the day and not shipped by then
    last = dm["date"].max()
    open_by_day = (
        s.with_columns(pl.col("ship_date").fill_null(last + dt.timedelta(days=1)))
        .with_columns(
            pl.date_ranges("business_date", pl.col("ship_date") - dt.timedelta(days=1)).alias("d")
        )
        .explode("d")
        .drop_nulls("d")
        .group_by("d", "location_id", "sku")
        .agg(pl.col("quantity").sum().alias("open"))
    )
    r = dm.join(
        open_by_day,
        left_on=["date", "location_id", "sku"],
        right_on=["d", "location_id", "sku"],
        how="left",
    )
    assert r.height == dm.height and open_by_day.height > 0
    assert (r["reserved"] == r["open"].fill_null(0)).all()
    outside = open_by_day.join(
        dm, left_on=["d", "location_id", "sku"], right_on=["date", "location_id", "sku"], how="anti"
    )
    assert outside.height == 0


def test_identifier_values_are_in_their_files(tiny):
    root, _ = tiny
    ids = pl.read_parquet(root / "truth/identifiers.parquet")
    enc = {"tmall": "gb18030", "jd": "gb18030"}
    cache: dict[str, str] = {}
    sample = (
        ids.group_by("channel", "identifier_type", maintain_order=True).head(25).select(ids.columns)
    )
    for ch, src, _key, _typ, val, _pid in sample.iter_rows():
        path = root / "landing" / src
        assert path.exists(), src
        if src not in cache:
            cache[src] = path.read_bytes().decode(enc.get(ch, "utf-8-sig"), errors="replace")
        assert val in cache[src], (src, val)
    # people are known for records of real customers
    wx = ids.filter(
        (pl.col("channel") == "wechat")
        & (pl.col("source_file").str.starts_with("wechat/mp_orders"))
    )
    assert wx["person_id"].null_count() == 0
    assert os.path.exists(root / "truth/persons.parquet")
