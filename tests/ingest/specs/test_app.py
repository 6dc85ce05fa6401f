"""The mobile app spec on the tiny demo brand, checked against the generator's truth."""

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

CHANNEL = "app"
# native app events without a canonical event type yet (ingest/specs/NEEDS-app.md): held in
# quarantine as unknown values until canonical.EVENT_TYPES gains one
NO_CANONICAL_TYPE = {"add_wishlist"}


def ingest_copy(demo, paths: DataPaths):
    copy_landing(demo, paths, CHANNEL)
    spec = load_spec(SPECS_DIR / f"{CHANNEL}.yml")
    return paths, spec, ingest_channel(spec, paths)


@pytest.fixture(scope="module")
def loaded(tiny_demo, tmp_path_factory):
    """The channel ingested once for the read-only tests of this module."""
    return ingest_copy(tiny_demo, DataPaths(tmp_path_factory.mktemp(CHANNEL) / "data"))


def lake(paths, entity: str) -> pl.DataFrame:
    return pl.read_parquet(paths.lake_raw / entity / "*.parquet").filter(
        pl.col("channel") == CHANNEL
    )


def quarantine(paths) -> pl.DataFrame:
    return pl.read_parquet(paths.quarantine / "*.parquet").filter(pl.col("channel") == CHANNEL)


def truth(demo, name: str) -> pl.DataFrame:
    return pl.read_parquet(demo.truth / f"{name}.parquet").filter(pl.col("channel") == CHANNEL)


def held_event_ids(paths) -> set[str]:
    q = quarantine(paths)
    return {json.loads(r)["event_id"] for r in q["raw_record"]} if q.height else set()


def test_every_landing_row_is_in_the_lake_or_in_quarantine(loaded, tiny_demo):
    paths, spec, report = loaded
    files = [f for f in (tiny_demo.landing / CHANNEL).rglob("*") if f.is_file()]
    assert report.count("loaded") == len(files) > 0
    balance = reconcile(paths, {CHANNEL: spec})
    assert len(balance) == len(files)
    assert [b for b in balance if b.missing or b.status != "loaded"] == []
    assert unclaimed_files(paths, {CHANNEL: spec}) == []
    # no defect is planted in the app's files; the only rows held back are the native events
    # that have no canonical type yet, each with a reason naming the value
    assert truth(tiny_demo, "defects").height == 0
    q = quarantine(paths)
    natives = {json.loads(r)["event_name"] for r in q["raw_record"]}
    assert natives <= NO_CANONICAL_TYPE
    assert set(q["reason_code"]) <= {"unknown_value"} and set(q["field"]) <= {"event_name"}
    assert all("add_wishlist" in r for r in q["reason"])


def test_every_event_is_kept_with_its_canonical_type(loaded, tiny_demo):
    paths, _, _ = loaded
    got = lake(paths, "events")
    events = set(truth(tiny_demo, "identifiers")["record_key"])  # every event has a device id
    held = held_event_ids(paths)
    assert set(got["event_id"]) | held == events and not set(got["event_id"]) & held
    assert got["event_id"].n_unique() == got.height > 0
    pairs = set(got.select("native_event", "event_type").unique().iter_rows())
    assert pairs <= {
        ("app_open", "app_open"),
        ("push_open", "push_open"),
        ("login", "login"),
        ("view_product", "product_view"),
        ("search", "search"),
        ("add_to_cart", "add_to_cart"),
        ("view_cart", "page_view"),
    }
    assert {"app_open", "product_view", "add_to_cart", "search", "login"} <= {e for _, e in pairs}
    products = got.filter(pl.col("event_type").is_in(["product_view", "add_to_cart"]))
    assert products["sku"].null_count() == 0 and products["channel_sku"].null_count() == 0
    known_skus = set(pl.read_parquet(tiny_demo.truth / "sales_lines.parquet")["sku"])
    assert set(products["sku"]) & known_skus  # master SKUs, as the catalogue spells them
    searches = got.filter(pl.col("event_type") == "search")
    assert searches["search_query"].null_count() == 0
    assert set(got["platform"]) <= {"iOS", "Android"}
    # files are per local day (+08:00 stamps): every event's business date is its file's date
    day = pl.col("source_file").str.extract(r"(\d{8})\.ndjson$").str.to_date("%Y%m%d")
    assert got.filter(pl.col("business_date") != day).height == 0


def test_every_truth_identifier_of_a_kept_event_is_in_the_lake(loaded, tiny_demo):
    paths, _, _ = loaded
    ids = lake(paths, "identifiers")
    held = held_event_ids(paths)
    want = set()
    for row in truth(tiny_demo, "identifiers").iter_rows(named=True):
        if row["record_key"] in held:
            continue
        ident = normalize_id(row["identifier_type"], row["identifier_value"])
        assert ident is not None, row
        want.add((row["record_key"], ident.type, ident.value))
    got = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    assert want and want <= got
    assert {"device_id", "member_no"} <= {t for _, t, _ in want}
    # and every device and member number of the channel is known, held events or not
    truth_values = {
        (normalize_id(t, v).type, normalize_id(t, v).value)
        for t, v in truth(tiny_demo, "identifiers")
        .select("identifier_type", "identifier_value")
        .unique()
        .iter_rows()
    }
    assert truth_values <= set(ids.select("identifier_type", "identifier_value").iter_rows())
