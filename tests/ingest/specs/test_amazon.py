"""The Amazon spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

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
    quarantine,
    truth,
    utc,
)

CHANNEL = "amazon"
TRUTH_TYPES = {"amazon_relay_email": "email"}
# Amazon's order-status: Pending = payment not authorised, Unshipped = paid and waiting to
# ship, Shipped covers shipped and delivered ones
STATUS = {
    "pending": "pending",
    "paid": "paid",
    "shipped": "shipped",
    "completed": "shipped",
    "cancelled": "cancelled",
}
RETURNS_HEADER = [
    "return-date",
    "order-id",
    "sku",
    "asin",
    "fnsku",
    "product-name",
    "quantity",
    "fulfillment-center-id",
    "detailed-disposition",
    "reason",
    "status",
    "license-plate-number",
    "customer-comments",
]


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded_per_test, tiny_demo):
    paths, spec, report = loaded_per_test
    files = sorted((tiny_demo.landing / CHANNEL).rglob("*.txt"))
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)
    # no defect is planted in Amazon's files: nothing belongs in quarantine
    defects = pl.read_parquet(tiny_demo.truth / "defects.parquet")
    assert defects.filter(pl.col("channel") == CHANNEL).height == 0
    assert quarantine(paths, CHANNEL).height == 0


def test_order_lines_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL).with_columns(
        utc(pl.col("order_ts_local")).alias("ts"),
        pl.col("status").replace_strict(STATUS).alias("amazon_status"),
    )
    assert got.height == want.height > 0
    # the report has no line number: a line is the order's seller SKU
    assert (got["line_id"] == got["channel_sku"]).all()
    key = ["order_id", "channel_sku"]
    both = matched(want, got, key)
    assert_agree(
        both,
        "quantity",
        "discount",
        "currency",
        "business_date",
        ts="order_ts",
        amazon_status="status_lake",
    )
    assert got["sku"].null_count() == got.height  # master SKU is the warehouse's job

    def per_currency(df: pl.DataFrame) -> dict:
        agg = df.group_by("currency").agg(pl.col("quantity").sum(), pl.col("discount").sum())
        return {r[0]: r[1:] for r in agg.iter_rows()}

    assert per_currency(got) == per_currency(want)
    assert set(got["currency"]) == {"USD", "EUR", "GBP"}


def test_order_line_amounts_follow_from_the_line_total(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL)
    both = matched(want, got, ["order_id", "channel_sku"])
    # item-price is the line total: the unit price and the net follow from it
    assert_agree(both, "unit_price", "net_amount")

    def per_currency(df: pl.DataFrame) -> dict:
        return dict(df.group_by("currency").agg(pl.col("net_amount").sum()).iter_rows())

    assert per_currency(got) == per_currency(want)
    asins = got["channel_item_id"]
    assert asins.null_count() == 0 and asins.str.starts_with("B0").all()


def test_orders_equal_the_truth(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    got = lake(paths, "orders", CHANNEL)
    want = (
        truth(tiny_demo, "sales_lines", CHANNEL)
        .group_by("order_id")
        .agg(
            utc(pl.col("order_ts_local").first()).alias("order_ts"),
            pl.col("status").first().replace_strict(STATUS),
            pl.col("currency").first(),
        )
    )
    assert got.height == want.height > 0
    assert_agree(matched(want, got, "order_id"), "order_ts", "status", "currency")
    assert set(got["native_status"]) <= {"Pending", "Unshipped", "Shipped", "Cancelled", "Shipping"}


def test_mfn_buyers_are_order_contacts_with_their_identifiers(loaded_per_test, tiny_demo):
    paths, _, _ = loaded_per_test
    contacts = lake(paths, "order_contacts", CHANNEL)
    mfn_files = sorted((tiny_demo.landing / CHANNEL).glob("*/mfn_buyers/*.txt"))
    rows = sum(len(f.read_text(encoding="utf-8").splitlines()) - 1 for f in mfn_files)
    assert contacts.height == rows > 0
    assert set(contacts["contact_role"]) == {"buyer"}
    assert contacts["name"].null_count() == 0
    assert set(contacts["country"]) <= {"US", "DE", "GB"}
    # every contact belongs to an order of the All Orders report
    assert contacts.join(lake(paths, "orders", CHANNEL), on="order_id", how="anti").height == 0
    got = lake(paths, "identifiers", CHANNEL)
    assert set(got["entity"]) == {"order_contacts"}
    want = set()
    for itype, value in (
        truth(tiny_demo, "identifiers", CHANNEL)
        .select("identifier_type", "identifier_value")
        .iter_rows()
    ):
        ident = normalize_id(TRUTH_TYPES.get(itype, itype), value)
        if ident is not None:  # the demo's phones are not all valid numbers
            want.add((ident.type, ident.value))
    assert want and want <= set(got.select("identifier_type", "identifier_value").iter_rows())
    emails = got.filter(pl.col("identifier_type") == "email")["identifier_value"]
    assert emails.str.contains(r"@marketplace\.amazon\.").all()


def test_national_phone_numbers_are_read_in_the_buyer_country(data_dir):
    header = [
        "amazon-order-id",
        "purchase-date",
        "buyer-email",
        "buyer-name",
        "buyer-phone-number",
        "recipient-name",
        "ship-address-1",
        "ship-city",
        "ship-state",
        "ship-postal-code",
        "ship-country",
        "ship-phone-number",
    ]
    row = [
        "302-1234567-1234567",
        "2024-11-03T05:31:52+00:00",
        " Abc123@Marketplace.Amazon.de ",
        "Emily Fischer",
        "",
        "Emily Fischer",
        "Hauptstraße 1",
        "Berlin",
        "BE",
        "10115",
        "DE",
        "030 23125000",
    ]
    path = (
        data_dir.landing / CHANNEL / "DE" / "mfn_buyers" / "MFN_Buyer_Info_DE_20241101_20241107.txt"
    )
    path.parent.mkdir(parents=True)
    path.write_text("\t".join(header) + "\n" + "\t".join(row) + "\n", encoding="utf-8")
    ingest_channel(load_specs()[CHANNEL], data_dir)
    ids = lake(data_dir, "identifiers", CHANNEL).sort("field")
    assert ids.select("field", "identifier_type", "identifier_value").rows() == [
        ("buyer_email", "email", "abc123@marketplace.amazon.de"),
        ("ship_phone", "phone", "+493023125000"),
    ]


def test_fba_returns(data_dir):
    """The tiny demo has no FBA return yet: a report in the real shape."""
    rows = [
        [
            "2024-11-20T09:15:00+00:00",
            "111-1717611-1345800",
            "QH-MU-036-US",
            "B0DDUKHADQ",
            "X00DDUKHA",
            "QINGHE Lip Tint",
            "1",
            "ONT8",
            "SELLABLE",
            "UNWANTED_ITEM",
            "Unit returned to inventory",
            "LPN1717611",
            "",
        ],
        [
            "2024-11-30T23:30:00+00:00",
            "111-1717611-1345800",
            "QH-SK-021-US",
            "B0DDUKHADR",
            "X00DDUKHB",
            "QINGHE Toner",
            "2",
            "ONT8",
            "CUSTOMER_DAMAGED",
            "DEFECTIVE",
            "Unit returned to inventory",
            "LPN1717612",
            "",
        ],
    ]
    path = (
        data_dir.landing
        / CHANNEL
        / "US"
        / "returns"
        / "FBA_Customer_Returns_US_20241115_20241121.txt"
    )
    path.parent.mkdir(parents=True)
    path.write_text(
        "\n".join("\t".join(r) for r in [RETURNS_HEADER, *rows]) + "\n", encoding="utf-8"
    )
    spec = load_specs()[CHANNEL]
    ingest_channel(spec, data_dir)
    ret = lake(data_dir, "returns", CHANNEL).sort("line_id")
    assert ret.select("return_id", "order_id", "line_id", "channel_sku", "quantity").rows() == [
        ("LPN1717611", "111-1717611-1345800", "QH-MU-036-US", "QH-MU-036-US", 1),
        ("LPN1717612", "111-1717611-1345800", "QH-SK-021-US", "QH-SK-021-US", 2),
    ]
    assert [str(t) for t in ret["return_ts"]] == ["2024-11-20 09:15:00", "2024-11-30 23:30:00"]
    # business dates in Beijing time, as for every channel
    assert [str(d) for d in ret["business_date"]] == ["2024-11-20", "2024-12-01"]
    assert ret["amount"].null_count() == 2  # the FBA returns report has no refund amount
    # the receiving fulfilment centre, as our location id (template with the marketplace)
    assert ret["location_id"].to_list() == ["FBA-US-ONT8", "FBA-US-ONT8"]
    assert quarantine(data_dir, CHANNEL).height == 0
    assert [b for b in reconcile(data_dir, {CHANNEL: spec}) if b.missing] == []
