"""The mobile app spec on the tiny demo brand, checked against the generator's truth."""

from __future__ import annotations

import json

import polars as pl

from ingest.identifiers import normalize_id
from tests.ingest.specs.lakeview import assert_every_file_balances, lake, quarantine, truth

CHANNEL = "app"
# every native event name and its canonical type
EVENT_TYPES = {
    "app_open": "app_open",
    "push_open": "push_open",
    "login": "login",
    "view_product": "product_view",
    "search": "search",
    "add_to_cart": "add_to_cart",
    "view_cart": "cart_view",
    "add_wishlist": "add_to_wishlist",
}


def landing_events(demo) -> pl.DataFrame:
    """event_id, app_version and properties.campaign_id of every landing event."""
    rows = []
    for path in sorted((demo.landing / CHANNEL / "events").glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            props = rec.get("properties") or {}
            rows.append((rec["event_id"], rec["app_version"], props.get("campaign_id")))
    names = ["event_id", "version", "campaign_id"]
    return pl.DataFrame(rows, schema={n: pl.String for n in names}, orient="row")


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = [f for f in (tiny_demo.landing / CHANNEL).rglob("*") if f.is_file()]
    assert report.count("loaded") == len(files) > 0
    assert_every_file_balances(paths, spec, files)
    # no defect is planted in the app's files: every event is kept
    assert truth(tiny_demo, "defects", CHANNEL).height == 0
    assert quarantine(paths, CHANNEL).height == 0


def test_every_event_is_kept_with_its_canonical_type(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "events", CHANNEL)
    # every event has a device id
    events = set(truth(tiny_demo, "identifiers", CHANNEL)["record_key"])
    assert set(got["event_id"]) == events
    assert got["event_id"].n_unique() == got.height > 0
    raw = landing_events(tiny_demo)
    assert got.height == raw.height
    pairs = set(got.select("native_event", "event_type").unique().iter_rows())
    assert pairs == set(EVENT_TYPES.items())  # every native name of the demo, as mapped
    products = got.filter(
        pl.col("event_type").is_in(["product_view", "add_to_cart", "add_to_wishlist"])
    )
    assert products["sku"].null_count() == 0 and products["channel_sku"].null_count() == 0
    known_skus = set(pl.read_parquet(tiny_demo.truth / "sales_lines.parquet")["sku"])
    assert set(products["sku"]) & known_skus  # master SKUs, as the catalogue spells them
    searches = got.filter(pl.col("event_type") == "search")
    assert searches["search_query"].null_count() == 0
    assert set(got["platform"]) <= {"iOS", "Android"}
    # the app version and the push campaign, as the app wrote them
    both = raw.join(got, on="event_id", how="inner")
    assert both.height == raw.height
    assert got["app_version"].null_count() == 0
    assert both.filter(pl.col("version") != pl.col("app_version")).height == 0
    assert both.filter(pl.col("campaign_id").ne_missing(pl.col("campaign"))).height == 0
    pushes = got.filter(pl.col("event_type") == "push_open")
    assert pushes.height > 0 and pushes["campaign"].null_count() == 0
    # files are per local day (+08:00 stamps): every event's business date is its file's date
    day = pl.col("source_file").str.extract(r"(\d{8})\.ndjson$").str.to_date("%Y%m%d")
    assert got.filter(pl.col("business_date") != day).height == 0


def test_every_truth_identifier_is_in_the_lake(loaded, tiny_demo):
    paths, _, _ = loaded
    ids = lake(paths, "identifiers", CHANNEL)
    want = set()
    for row in truth(tiny_demo, "identifiers", CHANNEL).iter_rows(named=True):
        ident = normalize_id(row["identifier_type"], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want == got  # every one, and nothing invented
    assert {"device_id", "member_no"} <= {t for _, t, _ in want}
