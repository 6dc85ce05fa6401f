"""The web shop spec (Shopify orders + Segment clickstream) on the tiny demo brand, checked
against the generator's truth.

Two engine gaps hold clickstream rows in quarantine today (ingest/specs/NEEDS-web.md):
Segment's UTC ``timestamp`` ends in ``Z``, which the engine cannot read as UTC, and ``page``
and ``identify`` calls have no ``event`` name to map. The tests below pin that state, prove
the mapping on the same events written with an explicit offset, and carry strict ``xfail``
tests of the intended behaviour: they start passing (and then fail as XPASS) once the engine
gaps are closed and the spec is updated.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from ingest.config import SPECS_DIR, DataPaths
from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.reconcile import reconcile, unclaimed_files
from ingest.spec import load_spec
from tests.conftest import copy_landing

CHANNEL = "web"
CLICKS = "web/clickstream/"
# truth identifier types -> the canonical type the lake records them under
TRUTH_TYPES = {
    "shop_customer_id": "user_id",
    "anonymous_id": "anonymous_id",
    "email": "email",
    "phone": "phone",
}
SEGMENT_TYPES = {
    "Products Searched": "search",
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Checkout Started": "checkout",
    "Order Completed": "order_completed",
}


def ingest_copy(demo, paths: DataPaths):
    copy_landing(demo, paths, CHANNEL)
    spec = load_spec(SPECS_DIR / f"{CHANNEL}.yml")
    return paths, spec, ingest_channel(spec, paths)


@pytest.fixture(scope="module")
def loaded(tiny_demo, tmp_path_factory):
    """The channel ingested once for the read-only tests of this module."""
    return ingest_copy(tiny_demo, DataPaths(tmp_path_factory.mktemp(CHANNEL) / "data"))


@pytest.fixture(scope="module")
def loaded_with_offsets(tiny_demo, tmp_path_factory):
    """The same clickstream with ``+00:00`` in place of ``Z`` (the same instants; Segment
    accepts either): what the spec makes of the events once the time can be read."""
    paths = DataPaths(tmp_path_factory.mktemp("web_offsets") / "data")
    copy_landing(tiny_demo, paths, CHANNEL)
    for path in (paths.landing / CHANNEL / "clickstream").glob("*.ndjson"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('.000Z"', '.000+00:00"'), encoding="utf-8")
    spec = load_spec(SPECS_DIR / f"{CHANNEL}.yml")
    return paths, spec, ingest_channel(spec, paths)


def lake(paths, entity: str) -> pl.DataFrame:
    return pl.read_parquet(paths.lake_raw / entity / "*.parquet").filter(
        pl.col("channel") == CHANNEL
    )


def quarantine(paths) -> pl.DataFrame:
    return pl.read_parquet(paths.quarantine / "*.parquet").filter(pl.col("channel") == CHANNEL)


def truth(demo, name: str) -> pl.DataFrame:
    return pl.read_parquet(demo.truth / f"{name}.parquet").filter(pl.col("channel") == CHANNEL)


def utc(local: pl.Expr) -> pl.Expr:
    return (
        local.dt.replace_time_zone("Asia/Shanghai")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


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


def planted(demo, kind: str) -> pl.DataFrame:
    return truth(demo, "defects").filter(pl.col("kind") == kind)


def held_at(q: pl.DataFrame, file: str, row: int) -> pl.DataFrame:
    return q.filter((pl.col("source_file") == file) & (pl.col("source_row") == row))


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = [f for f in (tiny_demo.landing / CHANNEL).rglob("*") if f.is_file()]
    assert {f.parent.name for f in files} == {"orders", "clickstream"}
    assert report.count("loaded") == len(files) > 0
    balance = reconcile(paths, {CHANNEL: spec})
    assert len(balance) == len(files)
    assert [b for b in balance if b.missing or b.status != "loaded"] == []
    assert unclaimed_files(paths, {CHANNEL: spec}) == []


def test_order_lines_and_returns_equal_the_truth(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "order_lines")
    want = truth(tiny_demo, "sales_lines")
    assert got.height == want.height > 0
    both = want.join(got, on=["order_id", "line_id"], how="full", suffix="_lake", coalesce=True)
    assert both.height == want.height
    for col in ("quantity", "net_amount", "currency", "sku", "is_test"):
        assert both.filter(pl.col(col).ne_missing(pl.col(f"{col}_lake"))).height == 0, col
    totals = pl.col("quantity").sum(), pl.col("net_amount").sum()
    assert (
        got.group_by("currency").agg(*totals).sort("currency").rows()
        == want.group_by("currency").agg(*totals).sort("currency").rows()
    )
    ret, want_ret = lake(paths, "returns"), truth(tiny_demo, "returns")
    assert ret.height == want_ret.height
    assert ret["amount"].sum() == want_ret["amount"].sum()


def test_planted_order_defects_are_quarantined_or_kept_flagged(loaded, tiny_demo):
    paths, _, _ = loaded
    q = quarantine(paths)
    dups = planted(tiny_demo, "exact_duplicate_row")
    assert dups.height > 0
    for d in dups.iter_rows(named=True):
        hit = held_at(q, d["file"], d["row"])
        assert set(hit["reason_code"]) == {"duplicate_row"}, d
        assert hit["reason"][0].startswith("exact duplicate of row")
    tests = planted(tiny_demo, "test_order")
    assert tests.height > 0
    orders = lake(paths, "orders")
    for d in tests.iter_rows(named=True):
        kept = orders.filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert kept["is_test"].to_list() == [True], d
    # nothing else of the order files is held back
    order_q = q.filter(pl.col("source_file").str.starts_with("web/orders/"))
    planted_rows = set(dups.select("file", "row").iter_rows())
    assert set(order_q.select("source_file", "source_row").iter_rows()) == planted_rows


def test_clickstream_quarantine_holds_only_planted_defects_and_the_engine_gaps(loaded, tiny_demo):
    paths, _, _ = loaded
    q = quarantine(paths).filter(pl.col("source_file").str.starts_with(CLICKS))
    bad = planted(tiny_demo, "malformed_json_line")
    assert bad.height == 1
    hit = held_at(q, bad["file"][0], bad["row"][0])
    assert hit["reason_code"].to_list() == ["malformed_record"]
    calls = segment_calls(tiny_demo).join(
        q.select("source_file", "source_row", "reason_code", "field", "reason"),
        on=["source_file", "source_row"],
        how="left",
    )
    assert calls["reason_code"].null_count() == 0  # today, every call is held (see module doc)
    # page and identify calls: no event name to map (engine gap 2)
    others = calls.filter(pl.col("type") != "track")
    assert set(others["type"]) == {"page", "identify"}
    assert set(others["reason_code"]) == {"unmatched_row"}
    # track calls: a UTC time written with Z (engine gap 1), never read as Beijing time
    track = calls.filter(pl.col("type") == "track")
    assert set(track["reason_code"]) == {"invalid_value"} and set(track["field"]) == {"timestamp"}
    assert track["reason"].str.contains(r"Z' is not a valid timestamp").all()
    assert q.height == calls.height + 1


def test_clickstream_mapping_on_events_written_with_an_offset(loaded_with_offsets, tiny_demo):
    paths, spec, _ = loaded_with_offsets
    assert [b for b in reconcile(paths, {CHANNEL: spec}) if b.missing] == []
    events = lake(paths, "events")
    calls = segment_calls(tiny_demo)
    track = calls.filter(pl.col("type") == "track")
    assert set(events["event_id"]) == set(track["message_id"])
    assert events.height == track.height > 0
    pairs = set(events.select("native_event", "event_type").unique().iter_rows())
    assert pairs == set(SEGMENT_TYPES.items())
    assert set(events["platform"]) == {"web"} and events["user_agent"].null_count() == 0
    # Order Completed is stamped at the order's creation: the instant must be the order's
    completed = events.filter(pl.col("event_type") == "order_completed")
    sold = truth(tiny_demo, "sales_lines").filter(
        ~pl.col("is_test") & (pl.col("status") != "pending")
    )
    orders = sold.group_by("order_id").agg(pl.col("order_ts_local").first())
    assert set(completed["order_id"]) == set(orders["order_id"])
    both = completed.join(orders, on="order_id")
    assert both.filter(utc(pl.col("order_ts_local")) != pl.col("event_ts")).height == 0
    assert both.filter(pl.col("business_date") != pl.col("order_ts_local").dt.date()).height == 0
    viewed = events.filter(pl.col("event_type").is_in(["product_view", "add_to_cart"]))
    assert viewed["sku"].null_count() == 0 and viewed["value"].null_count() == 0
    # the shop's SKU is the master SKU: both columns carry it
    assert viewed.filter(pl.col("sku") != pl.col("channel_sku")).height == 0
    assert events.filter(pl.col("event_type") == "search")["search_query"].null_count() == 0
    # bot sessions are kept, with the user agent that will flag them
    bots = planted(tiny_demo, "bot_session")
    assert bots.height > 0
    for d in bots.iter_rows(named=True):
        first = events.filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert first.height == 1, d
        anon = d["detail"].split()[1].rstrip(":")
        assert d["detail"].startswith("anonymousId")
        ids = lake(paths, "identifiers").filter(pl.col("identifier_value") == anon)
        assert ids.height >= 60  # the whole crawler session is kept
    # identifiers of every kept (track) call
    ids = lake(paths, "identifiers").filter(pl.col("entity") == "events")
    want = set()
    for row in (
        truth(tiny_demo, "identifiers")
        .filter(pl.col("source_file").str.starts_with(CLICKS))
        .filter(pl.col("record_key").is_in(track["message_id"].implode()))
        .iter_rows(named=True)
    ):
        ident = normalize_id(TRUTH_TYPES[row["identifier_type"]], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want <= got
    assert set(ids.filter(pl.col("identifier_type") == "user_id")["scope"]) == {"web"}


@pytest.mark.xfail(
    strict=True, reason="engine: Z timestamps and page/identify event types (NEEDS-web.md)"
)
def test_every_segment_call_lands_as_written_with_its_identifiers(loaded, tiny_demo):
    paths, _, _ = loaded
    events = lake(paths, "events")
    calls = segment_calls(tiny_demo)
    # bot sessions are kept for later flagging
    for d in planted(tiny_demo, "bot_session").iter_rows(named=True):
        first = events.filter(
            (pl.col("source_file") == d["file"]) & (pl.col("source_row") == d["row"])
        )
        assert first.height == 1, d
    assert set(events["event_id"]) == set(calls["message_id"])
    assert {"page_view", "identify"} <= set(events["event_type"])
    ids = lake(paths, "identifiers")
    want = set()
    for row in (
        truth(tiny_demo, "identifiers")
        .filter(pl.col("source_file").str.starts_with(CLICKS))
        .iter_rows(named=True)
    ):
        ident = normalize_id(TRUTH_TYPES[row["identifier_type"]], row["identifier_value"])
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want <= got


def test_every_truth_identifier_of_the_orders_is_in_the_lake(loaded, tiny_demo):
    paths, _, _ = loaded
    ids = lake(paths, "identifiers").filter(pl.col("entity") == "orders")
    want = set()
    for row in (
        truth(tiny_demo, "identifiers")
        .filter(pl.col("source_file").str.starts_with("web/orders/"))
        .iter_rows(named=True)
    ):
        ident = normalize_id(TRUTH_TYPES[row["identifier_type"]], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want <= got
