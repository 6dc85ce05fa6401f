"""The Tmall spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import polars as pl

from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.spec import load_specs
from tests.ingest.specs.lakeview import (
    assert_agree,
    assert_every_file_balances,
    lake,
    matched,
    quarantine,
    truth,
    utc,
)

CHANNEL = "tmall"
# truth identifier types that the lake records under a canonical type
TRUTH_TYPES = {"phone_masked": "phone", "marketplace_buyer_nick": "marketplace_buyer_id"}


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded_per_test, tiny_demo):
    paths, spec, report = loaded_per_test
    files = sorted((tiny_demo.landing / CHANNEL).rglob("*.csv"))
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)
    # the channel's planted defects (brushing, unknown SKUs) are kept for later flagging:
    # nothing of Tmall belongs in quarantine
    assert quarantine(paths, CHANNEL).height == 0


def test_order_lines_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL)
    assert got.height == want.height > 0
    key = ["order_id", "line_id"]
    both = want.join(got, on=key, how="full", suffix="_lake", coalesce=True)
    assert both.height == want.height  # same (order, sub-order) pairs on both sides
    for col in ("quantity", "unit_price", "channel_sku", "status", "currency"):
        assert both.filter(pl.col(col).ne_missing(pl.col(f"{col}_lake"))).height == 0, col
    assert got["sku"].null_count() == got.height  # master SKU is the warehouse's job
    # the detail list has no order time and no line discount: staging takes the time from
    # the order and allocates the order's discount (see test_orders_equal_the_truth)
    assert got["order_ts"].null_count() == got.height
    assert got["discount"].null_count() == got["net_amount"].null_count() == got.height
    gross = (pl.col("unit_price") * pl.col("quantity")).alias("gross")
    assert both.filter(gross.ne_missing(pl.col("line_total"))).height == 0
    assert got.select(pl.col("quantity").sum(), pl.col("line_total").sum()).row(0) == want.select(
        pl.col("quantity").sum(), gross.sum()
    ).row(0)


def test_orders_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "orders", CHANNEL)
    want = (
        truth(tiny_demo, "sales_lines", CHANNEL)
        .group_by("order_id")
        .agg(
            utc(pl.col("order_ts_local").first()).alias("order_ts"),
            pl.col("business_date").first(),
            pl.col("status").first(),
            (pl.col("unit_price") * pl.col("quantity")).sum().alias("gross"),
            pl.col("discount").sum(),
            pl.col("net_amount").sum().alias("net"),
        )
    )
    assert got.height == want.height > 0
    both = matched(want, got, "order_id")
    assert_agree(both, "order_ts", "business_date", "status", gross="gross_total")
    # the buyer pays once the order is paid: then what was paid is the net and the rest of
    # the gross is the discount staging allocates to the lines (a brushing order pays cents)
    paid = both.filter(pl.col("status").is_in(["paid", "shipped", "completed"]))
    assert paid.height > 0
    assert paid.filter(pl.col("net").ne_missing(pl.col("paid_total"))).height == 0
    assert paid.filter(pl.col("net").ne_missing(pl.col("order_total"))).height == 0
    assert paid.filter(pl.col("discount").ne_missing(pl.col("discount_total"))).height == 0
    unpaid = both.filter(pl.col("status").is_in(["pending", "cancelled"]))
    assert unpaid.height > 0 and (unpaid["paid_total"] == 0).all()
    assert set(got["currency"]) == {"CNY"}
    assert set(got["native_status"]) <= {
        "交易成功",
        "卖家已发货，等待买家确认",
        "买家已付款，等待卖家发货",
        "等待买家付款",
        "交易关闭",
    }


def test_returns_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "returns", CHANNEL)
    want = truth(tiny_demo, "returns", CHANNEL)
    assert got.height == want.height > 0
    key = ["order_id", "line_id"]
    assert_agree(matched(want, got, key), "quantity", "amount", return_date="business_date")
    assert got["amount"].sum() == want["amount"].sum()
    # every refund points at a sold line
    lines = lake(paths, "order_lines", CHANNEL).select(key)
    assert got.join(lines, on=key, how="anti").height == 0


def test_planted_defects_are_kept_for_later_flagging(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    defects = truth(tiny_demo, "defects", CHANNEL)
    assert set(defects["kind"]) <= {"brushing_order", "unknown_channel_sku"}
    by_kind = {
        "brushing_order": lake(paths, "orders", CHANNEL),
        "unknown_channel_sku": lake(paths, "order_lines", CHANNEL),
    }
    sku_map = pl.read_csv(tiny_demo.landing / "erp" / "sku_map.csv").filter(
        pl.col("channel") == CHANNEL
    )
    assert defects.height > 0
    for d in defects.iter_rows(named=True):
        kept = by_kind[d["kind"]].filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert kept.height == 1, d
        if d["kind"] == "unknown_channel_sku":
            code = kept["channel_sku"][0]
            assert code in d["detail"] and code not in set(sku_map["channel_sku"]), d


def test_identifiers_cover_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "identifiers", CHANNEL)
    want = set()
    for itype, value in (
        truth(tiny_demo, "identifiers", CHANNEL)
        .select("identifier_type", "identifier_value")
        .iter_rows()
    ):
        ident = normalize_id(TRUTH_TYPES.get(itype, itype), value)
        if ident is not None:
            want.add((ident.type, ident.value))
    assert want and want <= set(got.select("identifier_type", "identifier_value").iter_rows())
    # masked phones and blurred nicks (月**9) are partial: two buyers can share one
    masked = got.filter(pl.col("identifier_value").str.contains(r"\*\*"))
    assert set(masked["field"]) == {"mobile", "alipay_account", "buyer_nick"}
    assert masked["is_partial"].all()


def test_open_uid_is_scoped_to_its_store(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    uids = lake(paths, "identifiers", CHANNEL).filter(pl.col("field") == "open_uid")
    assert uids.height == lake(paths, "orders", CHANNEL).height
    store = pl.col("source_file").str.split("/").list.get(1)
    assert (uids.select(store)["source_file"] == uids["scope"]).all()
    assert set(uids["scope"]) == {"flagship", "global"}
    # the same buyer has a different OpenUid in each store: no value is shared across scopes
    assert uids.group_by("identifier_value").agg(pl.col("scope").n_unique())["scope"].max() == 1


def test_a_refund_that_did_not_succeed_is_not_a_return(data_dir):
    header = "退款编号,订单编号,子订单编号,宝贝标题,商家编码,退货数量,买家退款金额,退款申请时间,退款完结时间,退款状态,是否需要退货,退款原因"
    rows = [
        '1801,="2412000001",2412500001,面霜,QH-SK-001,1,99.00,2024-11-01 10:00:00,2024-11-04 10:00:00,退款成功,是,过敏',
        '1802,="2412000002",2412500002,面霜,QH-SK-001,1,99.00,2024-11-01 10:00:00,2024-11-04 10:00:00,退款关闭,是,过敏',
    ]
    path = data_dir.landing / CHANNEL / "flagship" / "ExportRefundList202411050800.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("gb18030"))
    ingest_channel(load_specs()[CHANNEL], data_dir)
    ret = lake(data_dir, "returns", CHANNEL)
    assert ret.select("order_id", "line_id", "quantity").rows() == [("2412000001", "2412500001", 1)]
    assert str(ret["return_ts"][0]) == "2024-11-04 02:00:00"  # Beijing time, stored as UTC
    q = quarantine(data_dir, CHANNEL)
    assert q.select("source_row", "reason_code").rows() == [(2, "unmatched_row")]
