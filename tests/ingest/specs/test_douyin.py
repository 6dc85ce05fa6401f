"""The Douyin shop spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import polars as pl

from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.reconcile import reconcile
from ingest.spec import load_specs
from tests.conftest import copy_landing
from tests.ingest.specs.lakeview import (
    assert_agree,
    assert_every_file_balances,
    ingest_copy,
    lake,
    matched,
    quarantine,
    sku_map,
    truth,
    utc,
)

CHANNEL = "douyin"
# truth identifier types -> the canonical type the lake records them under
TRUTH_TYPES = {
    "phone_masked": "phone",
    "phone_ciphertext": "marketplace_buyer_id",
    "douyin_user_id": "douyin_user_id",
}


def hosts(demo) -> set[str]:
    """The hosts (达人ID) the brand pays commission to, from the ERP's fee schedule."""
    fees = pl.read_csv(demo.landing / "erp" / "channel_fees.csv", infer_schema=False)
    return set(
        fees.filter((pl.col("channel") == CHANNEL) & (pl.col("fee_type") == "host_commission"))[
            "host_id"
        ]
    )


def test_every_landing_row_is_in_the_lake_and_nothing_is_quarantined(loaded, tiny_demo):
    paths, spec, report = loaded
    files = [f for f in (tiny_demo.landing / CHANNEL).rglob("*") if f.is_file()]
    assert {f.parent.name for f in files} == {"orders", "aftersales", "live_events"}
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)
    # no defect is planted in Douyin's files: every row is good and must be kept
    assert truth(tiny_demo, "defects", CHANNEL).height == 0
    assert quarantine(paths, CHANNEL).height == 0


def test_order_lines_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL)
    assert got.height == want.height > 0
    both = matched(want, got, ["order_id", "line_id"])
    assert_agree(
        both,
        "quantity",
        "unit_price",
        "discount",
        "net_amount",
        "currency",
        "status",
        "location_id",
        "channel_sku",
        "business_date",
    )
    assert both.filter(utc(pl.col("order_ts_local")) != pl.col("order_ts")).height == 0
    # the master SKU is the warehouse's job (erp sku_map), not the export's
    assert got["sku"].null_count() == got.height
    # 商品ID is Douyin's item id of the line's 商家编码, as the ERP's SKU map has it
    items = got.join(sku_map(tiny_demo, CHANNEL), on="channel_sku", how="left", suffix="_erp")
    assert got["channel_item_id"].null_count() == 0
    assert items.filter(pl.col("channel_item_id") != pl.col("channel_item_id_erp")).height == 0
    totals = pl.col("quantity").sum(), pl.col("net_amount").sum()
    assert (
        got.group_by("currency").agg(*totals).sort("currency").rows()
        == want.group_by("currency").agg(*totals).sort("currency").rows()
    )


def test_one_order_per_main_order_number(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "orders", CHANNEL)
    want = (
        truth(tiny_demo, "sales_lines", CHANNEL)
        .group_by("order_id")
        .agg(
            pl.col("net_amount").sum(),
            pl.col("status").first(),
            pl.col("location_id").first(),
            pl.col("order_ts_local").first(),
            pl.col("ship_date").first(),
        )
    )
    assert got["order_id"].n_unique() == got.height == want.height > 0
    both = matched(want, got, "order_id")
    # 发货时间: the local day the order left its warehouse, blank (`-`) until it ships
    assert both["ship_date_lake"].is_not_null().sum() > 0
    assert_agree(both, "status", "location_id", "ship_date", net_amount="order_total")
    assert both.filter(utc(pl.col("order_ts_local")) != pl.col("order_ts")).height == 0
    assert set(got["payment_method"]) <= {"抖音支付", "微信", "支付宝"}


def test_orders_name_their_host_and_traffic_source(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "orders", CHANNEL)
    assert set(got["traffic_source"]) == {"直播", "精选联盟", "商品卡"}
    # the brand's own live room is host 0; affiliate hosts (精选联盟) are the hosts the ERP
    # pays commission to; a 商品卡 order has no host
    own = got.filter(pl.col("traffic_source") == "直播")
    assert set(own["anchor_id"]) == {"0"} and set(own["anchor_name"]) == {"青禾官方旗舰店"}
    affiliates = got.filter(pl.col("traffic_source") == "精选联盟")
    assert affiliates.height > 0 and set(affiliates["anchor_id"]) <= hosts(tiny_demo)
    assert affiliates["anchor_name"].null_count() == 0
    cards = got.filter(pl.col("traffic_source") == "商品卡")
    assert cards["anchor_id"].null_count() == cards["anchor_name"].null_count() == cards.height
    # one host per host name
    assert got.group_by("anchor_id").agg(pl.col("anchor_name").n_unique())["anchor_name"].max() == 1
    # a live-room order follows its buyer's add-to-cart in that host's room, of one of the
    # order's items (buyer: the person the truth names for the order and the event)
    who = (
        truth(tiny_demo, "identifiers", CHANNEL)
        .filter(pl.col("person_id").is_not_null())
        .select("record_key", "person_id")
        .unique()
    )
    carts = (
        lake(paths, "events", CHANNEL)
        .filter(pl.col("event_type") == "live_add_to_cart")
        .join(who, left_on="event_id", right_on="record_key")
        .select("person_id", "anchor_id", "channel_item_id", pl.col("event_ts").alias("cart_ts"))
    )
    live = got.filter(pl.col("anchor_id").is_not_null()).join(
        who, left_on="order_id", right_on="record_key"
    )
    assert live.height == got.height - cards.height > 0  # every live order has a buyer
    lines = lake(paths, "order_lines", CHANNEL).select("order_id", "channel_item_id")
    followed = (
        live.join(lines, on="order_id")
        .join(carts, on=["person_id", "anchor_id", "channel_item_id"])
        .filter(pl.col("cart_ts") <= pl.col("order_ts"))
    )
    assert set(followed["order_id"]) == set(live["order_id"])


def test_returns_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "returns", CHANNEL)
    want = truth(tiny_demo, "returns", CHANNEL)
    assert got.height == want.height > 0
    both = matched(want, got, ["order_id", "line_id"])
    assert_agree(both, "quantity", "amount", "currency", return_date="business_date")
    assert got["return_id"].n_unique() == got.height
    assert got.select(pl.col("quantity").sum(), pl.col("amount").sum()).row(0) == want.select(
        pl.col("quantity").sum(), pl.col("amount").sum()
    ).row(0)


def test_live_room_events_are_typed_per_room_and_host(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "events", CHANNEL)
    live = truth(tiny_demo, "identifiers", CHANNEL).filter(
        pl.col("source_file").str.starts_with("douyin/live_events/")
    )
    assert set(got["event_id"]) == set(live["record_key"])
    assert got.height == live["record_key"].n_unique() > 0
    assert set(got["event_type"]) <= {
        "live_enter",
        "live_like",
        "live_comment",
        "live_follow",
        "live_add_to_cart",
    }
    assert got["live_session_id"].null_count() == 0
    assert got["anchor_id"].null_count() == 0
    assert "0" in set(got["anchor_id"])  # the brand's own live room
    assert set(got["anchor_id"]) <= hosts(tiny_demo) | {"0"}
    # an add-to-cart names Douyin's item id, which the ERP's SKU map resolves
    carts = got.filter(pl.col("event_type") == "live_add_to_cart")
    assert carts.height > 0 and carts["channel_item_id"].null_count() == 0
    assert set(carts["channel_item_id"]) <= set(sku_map(tiny_demo, CHANNEL)["channel_item_id"])
    assert got.filter(pl.col("event_type") != "live_add_to_cart")[
        "channel_item_id"
    ].null_count() == (got.height - carts.height)
    # a comment keeps its text; no other event has any
    comments = got.filter(pl.col("event_type") == "live_comment")
    assert comments.height > 0 and comments["text"].null_count() == 0
    assert got["text"].null_count() == got.height - comments.height
    # files are per local day: every event's business date is its file's date
    day = pl.col("source_file").str.extract(r"(\d{8})\.ndjson$").str.to_date("%Y%m%d")
    assert got.filter(pl.col("business_date") != day).height == 0


def test_every_truth_identifier_is_in_the_lake(loaded, tiny_demo):
    paths, _, _ = loaded
    ids = lake(paths, "identifiers", CHANNEL)
    want = set()
    for row in truth(tiny_demo, "identifiers", CHANNEL).iter_rows(named=True):
        ident = normalize_id(TRUTH_TYPES[row["identifier_type"]], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want <= got
    phones = ids.filter(pl.col("identifier_type") == "phone")
    assert phones.height > 0 and phones["is_partial"].all()  # 138****5678
    buyer = ids.filter(pl.col("identifier_type") == "marketplace_buyer_id")
    assert set(buyer["scope"]) == {"douyin"}


def test_a_re_exported_week_replaces_the_first_export(tiny_demo, data_dir):
    paths, spec, _ = ingest_copy(tiny_demo, data_dir, CHANNEL)
    exports = sorted((paths.landing / CHANNEL / "orders").glob("*.csv"))
    first = next(f for f in exports if ",已发货," in f.read_text(encoding="utf-8-sig"))
    text = first.read_text(encoding="utf-8-sig")
    v2 = first.with_name(first.stem + "_v2.csv")
    # a later export of the same week: every shipped order is now completed
    v2.write_text("\ufeff" + text.replace(",已发货,", ",已完成,"), encoding="utf-8")
    report = ingest_channel(spec, paths)
    assert report.count("loaded") == 1
    lines = lake(paths, "order_lines", CHANNEL)
    rel = f"{CHANNEL}/orders/{first.name}"
    assert rel not in set(lines["source_file"])
    assert f"{CHANNEL}/orders/{v2.name}" in set(lines["source_file"])
    week = lines.filter(pl.col("source_file").str.ends_with("_v2.csv"))
    assert "shipped" not in set(week["status"])
    assert [b for b in reconcile(paths, {CHANNEL: spec}) if b.missing] == []


def test_a_malformed_ship_time_is_quarantined_naming_file_row_and_field(tiny_demo, data_dir):
    copy_landing(tiny_demo, data_dir, CHANNEL)
    export = next(
        f
        for f in sorted((data_dir.landing / CHANNEL / "orders").glob("*.csv"))
        if ",已完成," in f.read_text(encoding="utf-8-sig")
    )
    rows = export.read_text(encoding="utf-8-sig").splitlines()
    header = rows[0].split(",")
    col = header.index("发货时间")
    line = next(i for i, r in enumerate(rows) if ",已完成," in r)
    cells = rows[line].split(",")
    cells[col] = "2024/13/45 25:61:00"
    rows[line] = ",".join(cells)
    export.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    ingest_channel(load_specs()[CHANNEL], data_dir)
    bad = quarantine(data_dir, CHANNEL).filter(pl.col("field") == "发货时间")
    assert bad.height >= 1  # the order row (and its line, which shares the source row)
    assert set(bad["source_file"]) == {f"{CHANNEL}/orders/{export.name}"}
    assert set(bad["source_row"]) == {line}
    assert all("2024/13/45 25:61:00" in r for r in bad["raw_record"])
