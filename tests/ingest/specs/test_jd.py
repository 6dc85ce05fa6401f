"""The JD spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import json

import polars as pl

from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.reconcile import reconcile
from ingest.spec import load_specs
from tests.ingest.specs.lakeview import (
    assert_agree,
    assert_every_file_balances,
    lake,
    matched,
    planted,
    quarantine,
    sku_map,
    truth,
    utc,
)

CHANNEL = "jd"
TRUTH_TYPES = {"phone_masked": "phone"}


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded_per_test, tiny_demo):
    paths, spec, report = loaded_per_test
    files = sorted((tiny_demo.landing / CHANNEL).rglob("*.csv"))
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)


def test_quarantine_holds_only_the_truncated_row(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    cut = planted(tiny_demo, "truncated_file", CHANNEL)
    assert cut.height == 1
    q = quarantine(paths, CHANNEL)
    assert q.select("source_file", "source_row", "reason_code").rows() == [
        (cut["file"][0], cut["row"][0], "ragged_row")
    ]
    assert "header has 29" in q["reason"][0]


def test_order_lines_equal_the_truth_less_the_truncated_row(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL).with_columns(
        utc(pl.col("order_ts_local")).alias("ts")
    )
    key = ["order_id", "line_id"]
    # the line cut off by the truncated download is a real sale the file no longer shows
    lost = want.join(got, on=key, how="anti")
    assert lost.height == 1
    assert quarantine(paths, CHANNEL)["raw_record"][0].startswith(lost["order_id"][0] + ",")
    assert got.join(want, on=key, how="anti").height == 0
    assert got.height == want.height - 1
    both = want.join(got, on=key, how="inner", suffix="_lake")
    assert_agree(
        both,
        "quantity",
        "unit_price",
        "channel_sku",
        "status",
        "location_id",
        "currency",
        "business_date",
        ts="order_ts",
    )
    assert got["sku"].null_count() == got.height  # master SKU is the warehouse's job
    assert (got["channel_item_id"] == got["line_id"]).all()
    # no line discount in the export: staging allocates the order's (test_orders_...)
    assert got["discount"].null_count() == got["net_amount"].null_count() == got.height
    gross = (pl.col("unit_price") * pl.col("quantity")).alias("gross")
    assert both.filter(gross.ne_missing(pl.col("line_total"))).height == 0
    kept = want.join(got, on=key, how="semi")
    assert got.select(pl.col("quantity").sum(), pl.col("line_total").sum()).row(0) == kept.select(
        pl.col("quantity").sum(), gross.sum()
    ).row(0)


def test_orders_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "orders", CHANNEL)
    sold = truth(tiny_demo, "sales_lines", CHANNEL)
    # an order whose only line was cut off by the truncated download is not in the file
    shown = sold.join(lake(paths, "order_lines", CHANNEL), on=["order_id", "line_id"], how="semi")
    assert sold["order_id"].n_unique() - shown["order_id"].n_unique() <= 1
    want = (
        sold.join(shown.select("order_id").unique(), on="order_id", how="semi")
        .group_by("order_id")
        .agg(
            pl.col("status").first(),
            pl.col("location_id").first(),
            (pl.col("unit_price") * pl.col("quantity")).sum().alias("gross"),
            pl.col("discount").sum(),
            pl.col("net_amount").sum().alias("net"),
        )
    )
    assert got.height == want.height > 0
    # 订单金额 before discounts, 结算金额 after them (应付金额 is 0.00 until paid); the
    # discount is what staging allocates to the lines
    assert_agree(
        matched(want, got, "order_id"),
        "status",
        "location_id",
        gross="gross_total",
        net="order_total",
        discount="discount_total",
    )


def test_returns_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "returns", CHANNEL)
    want = truth(tiny_demo, "returns", CHANNEL)
    assert got.height == want.height > 0
    key = ["order_id", "line_id"]
    assert_agree(matched(want, got, key), "quantity", "amount", return_date="business_date")
    assert got.join(lake(paths, "order_lines", CHANNEL), on=key, how="anti").height == 0


def test_unknown_channel_skus_are_kept_for_the_warehouse(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    unknown = planted(tiny_demo, "unknown_channel_sku", CHANNEL)
    assert unknown.height > 0
    known = set(sku_map(tiny_demo, CHANNEL)["channel_sku"])
    lines = lake(paths, "order_lines", CHANNEL)
    for d in unknown.iter_rows(named=True):
        kept = lines.filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert kept.height == 1, d
        assert kept["channel_sku"][0] in d["detail"] and kept["channel_sku"][0] not in known


def test_identifiers_cover_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "identifiers", CHANNEL)
    orders = set(lake(paths, "orders", CHANNEL)["order_id"])
    want = set()
    for itype, value, key in (
        truth(tiny_demo, "identifiers", CHANNEL)
        .select("identifier_type", "identifier_value", "record_key")
        .iter_rows()
    ):
        ident = normalize_id(TRUTH_TYPES.get(itype, itype), value)
        if ident is not None and key in orders:
            want.add((ident.type, ident.value))
    assert want and want <= set(got.select("identifier_type", "identifier_value").iter_rows())
    pins = got.filter(pl.col("identifier_type") == "marketplace_buyer_id")
    assert set(pins["scope"]) == {"jd"}
    phones = got.filter(pl.col("identifier_type") == "phone")
    assert phones.height > 0 and phones["is_partial"].all()  # JD masks every phone


def test_a_corrected_download_replaces_the_truncated_one(loaded_per_test, tiny_demo):
    paths, spec, _ = loaded_per_test
    cut = planted(tiny_demo, "truncated_file", CHANNEL)["file"][0]
    original = tiny_demo.landing / cut
    data = original.read_bytes()
    whole = data[: data.rstrip(b"\r\n").rfind(b"\r\n") + 2]  # the complete rows only
    fixed = paths.landing / cut.replace(".csv", "_v2.csv")
    fixed.write_bytes(whole)
    report = ingest_channel(spec, paths)
    assert report.count("loaded") == 1
    manifest = json.loads((paths.manifest_dir / f"{CHANNEL}.json").read_text())["files"]
    assert manifest[cut]["status"] == "superseded"
    assert quarantine(paths, CHANNEL).height == 0  # the ragged row went with the file it came from
    lines = lake(paths, "order_lines", CHANNEL)
    assert cut not in set(lines["source_file"])
    assert lines.filter(pl.col("source_file") == fixed.relative_to(paths.landing).as_posix()).height
    assert [b for b in reconcile(paths, {CHANNEL: spec}) if b.missing] == []


def test_only_a_finished_return_is_a_return(data_dir):
    header = "服务单号,订单号,商品ID,商品名称,申请数量,退款金额,申请时间,审核时间,服务单状态,售后类型,退款原因"
    rows = [
        "1601,300100000001,100012559915,精华,1,367.00,2024-11-10 10:00:00,2024-11-12 10:00:00,完成,退货,七天无理由",
        "1602,300100000002,100012559915,精华,1,0.00,2024-11-10 10:00:00,2024-11-12 10:00:00,完成,换货,质量问题",
        "1603,300100000003,100012559915,精华,1,367.00,2024-11-10 10:00:00,,审核不通过,退货,七天无理由",
    ]
    path = data_dir.landing / CHANNEL / "aftersales" / "jd_aftersales_20241108_20241114.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("gb18030"))
    spec = load_specs()[CHANNEL]
    ingest_channel(spec, data_dir)
    ret = lake(data_dir, "returns", CHANNEL)
    assert ret.select("return_id", "order_id", "line_id", "quantity").rows() == [
        ("1601", "300100000001", "100012559915", 1)
    ]
    assert str(ret["return_ts"][0]) == "2024-11-12 02:00:00"  # Beijing time, stored as UTC
    # an exchange and a refused return are no returns: visible in quarantine, not dropped
    q = quarantine(data_dir, CHANNEL).sort("source_row")
    assert q.select("source_row", "reason_code").rows() == [
        (2, "unmatched_row"),
        (3, "unmatched_row"),
    ]
    assert [b for b in reconcile(data_dir, {CHANNEL: spec}) if b.missing] == []
