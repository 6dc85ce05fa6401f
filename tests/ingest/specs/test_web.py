"""The web shop spec (Shopify orders + Segment clickstream) on the tiny demo brand, checked
against the generator's truth."""

from __future__ import annotations

import json

import polars as pl

from ingest.config import SPECS_DIR
from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.reconcile import reconcile
from ingest.spec import load_spec
from tests.ingest.specs.lakeview import (
    assert_agree,
    assert_consents_equal_truth,
    assert_every_file_balances,
    lake,
    matched,
    planted,
    quarantine,
    truth,
    utc,
)

CHANNEL = "web"
CLICKS = "web/clickstream/"
# truth identifier types -> the canonical type the lake records them under
TRUTH_TYPES = {
    "shop_customer_id": "user_id",
    "anonymous_id": "anonymous_id",
    "email": "email",
    "phone": "phone",
}
# every Segment call of the demo (track calls by event name) and its canonical type
SEGMENT_TYPES = {
    "page": "page_view",
    "identify": "identify",
    "Products Searched": "search",
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Checkout Started": "checkout",
    "Order Completed": "order_completed",
}


def segment_calls(demo) -> pl.DataFrame:
    """Every well-formed clickstream line: file, line number, messageId, type, event."""
    rows = []
    for path in sorted((demo.landing / CHANNEL / "clickstream").glob("*.ndjson")):
        rel = path.relative_to(demo.landing).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            rows.append((rel, n, obj["messageId"], obj["type"], obj.get("event")))
    return pl.DataFrame(
        rows, schema=["source_file", "source_row", "message_id", "type", "event"], orient="row"
    )


def held_at(q: pl.DataFrame, file: str, row: int) -> pl.DataFrame:
    return q.filter((pl.col("source_file") == file) & (pl.col("source_row") == row))


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = [f for f in (tiny_demo.landing / CHANNEL).rglob("*") if f.is_file()]
    assert {f.parent.name for f in files} == {"orders", "clickstream", "consent_log"}
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)


def test_order_lines_and_returns_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "order_lines", CHANNEL)
    want = truth(tiny_demo, "sales_lines", CHANNEL)
    assert got.height == want.height > 0
    both = matched(want, got, ["order_id", "line_id"])
    assert_agree(both, "quantity", "net_amount", "currency", "sku", "is_test")
    totals = pl.col("quantity").sum(), pl.col("net_amount").sum()
    assert (
        got.group_by("currency").agg(*totals).sort("currency").rows()
        == want.group_by("currency").agg(*totals).sort("currency").rows()
    )
    ret, want_ret = lake(paths, "returns", CHANNEL), truth(tiny_demo, "returns", CHANNEL)
    assert ret.height == want_ret.height
    assert ret["amount"].sum() == want_ret["amount"].sum()


def test_planted_order_defects_are_quarantined_or_kept_flagged(loaded, tiny_demo):
    paths, _, _ = loaded
    q = quarantine(paths, CHANNEL)
    dups = planted(tiny_demo, "exact_duplicate_row", CHANNEL)
    assert dups.height > 0
    for d in dups.iter_rows(named=True):
        hit = held_at(q, d["file"], d["row"])
        assert set(hit["reason_code"]) == {"duplicate_row"}, d
        assert hit["reason"][0].startswith("exact duplicate of row")
    tests = planted(tiny_demo, "test_order", CHANNEL)
    assert tests.height > 0
    orders = lake(paths, "orders", CHANNEL)
    for d in tests.iter_rows(named=True):
        kept = orders.filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert kept["is_test"].to_list() == [True], d
    # nothing else of the order files is held back
    order_q = q.filter(pl.col("source_file").str.starts_with("web/orders/"))
    planted_rows = set(dups.select("file", "row").iter_rows())
    assert set(order_q.select("source_file", "source_row").iter_rows()) == planted_rows


def test_clickstream_quarantine_holds_only_the_planted_defects(loaded, tiny_demo):
    paths, _, _ = loaded
    q = quarantine(paths, CHANNEL).filter(pl.col("source_file").str.starts_with(CLICKS))
    bad = planted(tiny_demo, "malformed_json_line", CHANNEL)
    assert bad.height == 1
    assert q.select("source_file", "source_row", "reason_code").rows() == [
        (bad["file"][0], bad["row"][0], "malformed_record")
    ]


def test_every_segment_call_is_an_event_of_its_canonical_type(loaded, tiny_demo):
    paths, _, _ = loaded
    events = lake(paths, "events", CHANNEL)
    calls = segment_calls(tiny_demo)
    # page, identify and track calls alike, each once
    assert set(calls["type"]) == {"page", "identify", "track"}
    assert sorted(events["event_id"]) == sorted(calls["message_id"])
    both = calls.join(events, left_on="message_id", right_on="event_id")
    assert both.height == calls.height > 0
    assert both.filter(pl.col("source_row") != pl.col("source_row_right")).height == 0
    native = pl.coalesce("event", "type")
    assert both.filter(native != pl.col("native_event")).height == 0
    pairs = set(events.select("native_event", "event_type").unique().iter_rows())
    assert pairs == set(SEGMENT_TYPES.items())
    assert set(events["platform"]) == {"web"}
    assert events["user_agent"].null_count() == 0 and events["ip"].null_count() == 0
    pages = events.filter(pl.col("event_type") == "page_view")
    assert pages["page"].str.starts_with("https://").all()
    # Order Completed is stamped at the order's creation: the instant must be the order's,
    # the value its revenue (the order's net of discounts)
    completed = events.filter(pl.col("event_type") == "order_completed")
    sold = truth(tiny_demo, "sales_lines", CHANNEL).filter(
        ~pl.col("is_test") & (pl.col("status") != "pending")
    )
    orders = sold.group_by("order_id").agg(
        pl.col("order_ts_local").first(), pl.col("net_amount").sum()
    )
    assert set(completed["order_id"]) == set(orders["order_id"])
    both = completed.join(orders, on="order_id")
    assert both.filter(utc(pl.col("order_ts_local")) != pl.col("event_ts")).height == 0
    assert both.filter(pl.col("business_date") != pl.col("order_ts_local").dt.date()).height == 0
    assert both.filter(pl.col("value") != pl.col("net_amount")).height == 0
    # a UTC time written with Z is read as UTC: files are per Beijing day
    day = pl.col("source_file").str.extract(r"(\d{8})\.ndjson$").str.to_date("%Y%m%d")
    assert events.filter(pl.col("business_date") != day).height == 0
    viewed = events.filter(pl.col("event_type").is_in(["product_view", "add_to_cart"]))
    assert viewed["sku"].null_count() == 0 and viewed["value"].null_count() == 0
    # the shop's SKU is the master SKU, and its product id: all three columns carry it
    assert viewed.filter(pl.col("sku") != pl.col("channel_sku")).height == 0
    assert viewed.filter(pl.col("sku") != pl.col("channel_item_id")).height == 0
    assert events.filter(pl.col("event_type") == "search")["search_query"].null_count() == 0


def test_bot_sessions_are_kept_for_later_flagging(loaded, tiny_demo):
    paths, _, _ = loaded
    events = lake(paths, "events", CHANNEL)
    ids = lake(paths, "identifiers", CHANNEL)
    bots = planted(tiny_demo, "bot_session", CHANNEL)
    assert bots.height > 0
    for d in bots.iter_rows(named=True):
        first = events.filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert first.height == 1, d
        assert d["detail"].startswith("anonymousId")
        anon = d["detail"].split()[1].rstrip(":")
        session = ids.filter(pl.col("identifier_value") == anon)
        assert session.height >= 60  # the whole crawler session is kept
        # with the user agent and address that will flag it
        agents = events.filter(pl.col("event_id").is_in(session["record_id"].implode()))
        assert agents["user_agent"].null_count() == agents["ip"].null_count() == 0


def test_every_truth_identifier_of_the_clickstream_is_in_the_lake(loaded, tiny_demo):
    paths, _, _ = loaded
    ids = lake(paths, "identifiers", CHANNEL).filter(pl.col("entity") == "events")
    want = set()
    for row in (
        truth(tiny_demo, "identifiers", CHANNEL)
        .filter(pl.col("source_file").str.starts_with(CLICKS))
        .iter_rows(named=True)
    ):
        ident = normalize_id(TRUTH_TYPES[row["identifier_type"]], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want == got  # every one, and nothing invented
    # identify calls tie the browser to the customer id, e-mail and phone
    assert {"anonymous_id", "user_id", "email", "phone"} == {t for _, t, _ in want}
    assert set(ids.filter(pl.col("identifier_type") == "user_id")["scope"]) == {"web"}


def test_every_truth_identifier_of_the_orders_is_in_the_lake(loaded, tiny_demo):
    paths, _, _ = loaded
    ids = lake(paths, "identifiers", CHANNEL).filter(pl.col("entity") == "orders")
    want = set()
    for row in (
        truth(tiny_demo, "identifiers", CHANNEL)
        .filter(pl.col("source_file").str.starts_with("web/orders/"))
        .iter_rows(named=True)
    ):
        ident = normalize_id(TRUTH_TYPES[row["identifier_type"]], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want <= got


def test_other_segment_events_and_an_unknown_call(data_dir):
    base = {
        "anonymousId": "a1",
        "userId": None,
        "context": {"ip": "1.2.3.4", "userAgent": "UA", "page": {"url": "https://x.cn/p"}},
        "timestamp": "2024-11-01T16:30:00.000Z",
    }
    calls = [
        {"type": "track", "event": "Product Clicked", "properties": {"product_id": "QH-1"}},
        {"type": "track", "event": "Coupon Applied", "properties": {"coupon_id": "C30"}},
        {"type": "track", "event": "Order Refunded", "properties": {"order_id": "9", "revenue": 5}},
        {"type": "track", "event": "Video Played", "properties": {}},
        {"type": "screen", "name": "Home"},
    ]
    rows = [{**base, **c, "messageId": f"m{i}"} for i, c in enumerate(calls, start=1)]
    path = data_dir.landing / CHANNEL / "clickstream" / "segment_20241102.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    spec = load_spec(SPECS_DIR / f"{CHANNEL}.yml")
    ingest_channel(spec, data_dir)
    events = lake(data_dir, "events", CHANNEL).sort("event_id")
    assert events.select("event_id", "event_type", "channel_item_id", "order_id").rows() == [
        ("m1", "product_click", "QH-1", None),
        ("m2", "coupon_applied", None, None),
        ("m3", "order_refunded", None, "9"),
    ]
    # 16:30 UTC is 00:30 the next day in Beijing; the page falls back to the context's
    assert str(events["event_ts"][0]) == "2024-11-01 16:30:00"
    assert set(events["business_date"].cast(pl.String)) == {"2024-11-02"}
    assert set(events["page"]) == {"https://x.cn/p"} and events["value"].to_list()[2] == 5
    q = quarantine(data_dir, CHANNEL).sort("source_row")
    assert q.select("source_row", "reason_code", "field").rows() == [
        (4, "unknown_value", "event+type"),
        (5, "unknown_value", "event+type"),
    ]
    assert "'Video Played' is not in" in q["reason"][0] and "'screen' is not in" in q["reason"][1]
    assert [b for b in reconcile(data_dir, {CHANNEL: spec}) if b.missing] == []


def test_segment_ecommerce_v2_events_are_mapped():
    """Every Segment e-commerce v2 event name has a canonical type (calls such as screen,
    group and alias stay unknown: they are not shop events)."""
    from ingest.canonical import EVENT_TYPES
    from ingest.spec import load_specs

    source = next(s for s in load_specs()["web"].sources if s.name == "clickstream")
    vocabulary = source.entities["events"].fields["event_type"].map
    v2 = [
        "Products Searched", "Product List Viewed", "Product List Filtered", "Product Clicked",
        "Product Viewed", "Product Added", "Product Removed", "Cart Viewed", "Checkout Started",
        "Checkout Step Viewed", "Checkout Step Completed", "Payment Info Entered",
        "Order Completed", "Order Refunded", "Order Cancelled", "Coupon Applied",
        "Promotion Viewed", "Promotion Clicked", "Product Added to Wishlist",
        "Product Removed from Wishlist", "Wishlist Product Added to Cart", "Product Shared",
        "Cart Shared", "Product Reviewed",
    ]  # fmt: skip
    assert [n for n in v2 if n not in vocabulary] == []
    assert set(vocabulary.values()) <= set(EVENT_TYPES)
    assert not {"screen", "group", "alias"} & set(vocabulary)


def test_cookie_banner_choices_are_ads_consent_events_of_the_visitor(loaded, tiny_demo):
    """Every line of the banner's consent log is an `ads` consent event (Marketing cookies)
    of the visitor's anonymous id, the same id the clickstream carries."""
    paths, _, _ = loaded
    n = assert_consents_equal_truth(paths, tiny_demo, CHANNEL)
    consents = lake(paths, "consents", CHANNEL)
    assert n == consents.height > 0
    assert set(consents["purpose"]) == {"ads"} and set(consents["granted"]) == {True, False}
    visitors = set(
        lake(paths, "identifiers", CHANNEL).filter(pl.col("entity") == "consents")[
            "identifier_value"
        ]
    )
    browsing = set(
        lake(paths, "identifiers", CHANNEL).filter(
            (pl.col("entity") == "events") & (pl.col("identifier_type") == "anonymous_id")
        )["identifier_value"]
    )
    assert visitors & browsing  # the ids the ledger needs OneID to resolve
