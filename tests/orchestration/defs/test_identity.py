"""The identity asset and its check, invoked directly on a small warehouse written here: the
asset reads staging, writes the identity schema, keeps ids across runs, and closes the
warehouse; the check scores against a truth when there is one."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest

from orchestration.defs.identity import customer_identifiers, identity_matches_the_demo_truth

ROWS = [
    # channel, entity, record_id, field, type, value, partial, scope, file
    (
        "crm",
        "members",
        "668810000001",
        "member_no",
        "member_no",
        "668810000001",
        False,
        None,
        "crm/m.csv",
    ),
    (
        "crm",
        "members",
        "668810000001",
        "mobile",
        "phone",
        "+8613900000001",
        False,
        None,
        "crm/m.csv",
    ),
    (
        "pos",
        "orders",
        "S1 R1",
        "member_card",
        "member_card",
        "668810000001",
        False,
        None,
        "pos/a.csv",
    ),
    ("pos", "orders", "S1 R2", "member_phone", "phone", "+8613800138000", False, None, "pos/a.csv"),
    ("web", "orders", "5001", "email", "email", "b@qq.com", False, None, "web/o.ndjson"),
    ("web", "orders", "5001", "phone", "phone", "+8613900000001", False, None, "web/o.ndjson"),
    ("tmall", "orders", "2412", "mobile", "phone", "139****0001", True, None, "tmall/x.csv"),
    (
        "tmall",
        "orders",
        "2412",
        "open_uid",
        "marketplace_buyer_id",
        "AAF1",
        False,
        "flagship",
        "tmall/x.csv",
    ),
]


def _warehouse(root, rows=ROWS):
    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("create schema staging")
    frame = pl.DataFrame(
        rows,
        schema=[
            "channel",
            "entity",
            "record_id",
            "field",
            "identifier_type",
            "identifier_value",
            "is_partial",
            "scope",
            "source_file",
        ],
        orient="row",
    ).with_columns(pl.lit(1, dtype=pl.Int64).alias("source_row"))
    con.register("f", frame.to_arrow())
    con.execute("create table staging.stg_lake__identifiers as select * from f")
    con.execute(
        "create table staging.stg_lake__orders as select 'web' as channel, '5001' as order_id, "
        "timestamp '2025-01-02 10:00:00' as ordered_at"
    )
    con.close()


TABLES = (
    "customer_identifiers",
    "record_customers",
    "identifier_links",
    "blocked_identifiers",
    "limit_audit",
)


def _day(data_dir, saved, changes: list[str], config) -> tuple[dict, list[pl.DataFrame]]:
    """The asset on a copy of the warehouse ``saved`` with ``changes`` (SQL) made: its
    metadata, and the rows of ``TABLES`` and of identity_merges (without their time)."""
    shutil.copy(saved, data_dir.warehouse)
    con = duckdb.connect(str(data_dir.warehouse))
    for sql in changes:
        con.execute(sql)
    con.close()
    meta = _meta(customer_identifiers(dg.build_asset_context(), config))
    con = duckdb.connect(str(data_dir.warehouse), read_only=True)
    rows = [con.execute(f"select * from identity.{t} order by all").pl() for t in TABLES]
    merges = "select * exclude (run_at) from identity.identity_merges order by all"
    rows.append(con.execute(merges).pl())
    con.close()
    return meta, rows


def _read(root, sql):
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return pl.from_arrow(con.execute(sql).arrow())
    finally:
        con.close()


def test_the_asset_writes_the_identity_schema_and_keeps_ids(data_dir):
    _warehouse(data_dir.root)
    result = customer_identifiers(dg.build_asset_context())
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert meta["customers"] == 2 and meta["blocked"] == 1 and meta["refusals"] == 0
    assert meta["identifiers"] == 4 and meta["partial_identifiers"] == 1
    tables = set(
        _read(
            data_dir.root,
            "select table_name from information_schema.tables where table_schema = 'identity'",
        )["table_name"]
    )
    assert {
        "customer_identifiers",
        "record_customers",
        "blocked_identifiers",
        "limit_audit",
        "identity_merges",
    } <= tables
    ci = _read(data_dir.root, "select * from identity.customer_identifiers")
    member = ci.filter(pl.col("identifier_type") == "member_no")
    email = ci.filter(pl.col("identifier_type") == "email")
    assert member["customer_id"].item() == email["customer_id"].item()  # via the phone
    assert str(email["first_seen"].item()) == "2025-01-02 10:00:00"  # from the order's time
    blocked = _read(data_dir.root, "select * from identity.blocked_identifiers")
    assert blocked["identifier_value"].to_list() == ["+8613800138000"]
    # the warehouse is closed: a read-write connection opens at once
    duckdb.connect(str(data_dir.warehouse)).close()
    # a second run on the same data: same ids, nothing merged
    customer_identifiers(dg.build_asset_context())
    again = _read(data_dir.root, "select * from identity.customer_identifiers")
    assert (
        again.sort(["identifier_type", "identifier_value"])
        .select("identifier_value", "customer_id")
        .equals(
            ci.sort(["identifier_type", "identifier_value"]).select(
                "identifier_value", "customer_id"
            )
        )
    )
    assert (
        _read(data_dir.root, "select count(*) as n from identity.identity_merges")["n"].item() == 0
    )


def test_new_evidence_appends_a_merge(data_dir):
    _warehouse(data_dir.root, ROWS[:4] + ROWS[6:])
    customer_identifiers(dg.build_asset_context())
    before = _read(data_dir.root, "select * from identity.record_customers")
    con = duckdb.connect(str(data_dir.warehouse))
    con.execute(
        "insert into staging.stg_lake__identifiers values "
        "('tmall', 'orders', '2413', 'open_uid', 'marketplace_buyer_id', 'AAF1', false, 'flagship', 'tmall/y.csv', 1),"
        "('tmall', 'orders', '2413', 'mobile', 'phone', '+8613900000001', false, null, 'tmall/y.csv', 1)"
    )
    con.close()
    customer_identifiers(dg.build_asset_context())
    merges = _read(data_dir.root, "select * from identity.identity_merges")
    assert merges["kind"].to_list() == ["merge"]
    ids = sorted(before["customer_id"].drop_nulls().unique().to_list())
    assert merges.select("from_customer_id", "to_customer_id").row(0) == (ids[1], ids[0])
    assert merges["run_at"].null_count() == 0


def test_a_new_day_resolves_a_part_equal_to_a_full_resolution(data_dir):
    """The asset on a new day re-resolves the part its new record can change, and writes
    the rows a full resolution of the same staging writes (the merge included)."""
    from orchestration.defs.identity import IdentityConfig

    _warehouse(data_dir.root, ROWS[:4] + ROWS[6:])
    first = _meta(customer_identifiers(dg.build_asset_context()))
    assert first["identity_run"] == "full" and first["identity_run_reason"] == (
        "no state of a previous run"
    )
    saved = data_dir.root / "saved.duckdb"
    shutil.copy(data_dir.warehouse, saved)
    new = (
        "insert into staging.stg_lake__identifiers values "
        "('tmall', 'orders', '2413', 'open_uid', 'marketplace_buyer_id', 'AAF1', false, 'flagship', 'tmall/y.csv', 1),"
        "('tmall', 'orders', '2413', 'mobile', 'phone', '+8613900000001', false, null, 'tmall/y.csv', 1)"
    )
    part, part_rows = _day(data_dir, saved, [new], IdentityConfig())
    full, full_rows = _day(data_dir, saved, [new], IdentityConfig(incremental=False))
    assert part["identity_run"] == "incremental" and full["identity_run"] == "full"
    assert 0 < part["records_resolved"] < part["records"] == full["records_resolved"]
    assert part["merges"] == full["merges"] == 1
    for name, a, b in zip([*TABLES, "identity_merges"], part_rows, full_rows, strict=True):
        assert a.equals(b), name
    assert all(r.height for r in part_rows[:3])


def test_the_check_passes_with_a_note_without_truth(data_dir):
    _warehouse(data_dir.root)
    customer_identifiers(dg.build_asset_context())
    result = identity_matches_the_demo_truth()
    assert result.passed and "no data/truth/" in getattr(
        result.metadata["note"], "value", result.metadata["note"]
    )


@pytest.mark.parametrize(("web_person", "passed"), [(1, True), (2, False)])
def test_the_check_warns_below_the_floors(data_dir, web_person, passed):
    _warehouse(data_dir.root)
    customer_identifiers(dg.build_asset_context())
    truth = pl.DataFrame(
        {
            "channel": ["crm", "pos", "web", "tmall"],
            "source_file": ["crm/m.csv", "pos/a.csv", "web/o.ndjson", "tmall/x.csv"],
            "record_key": ["668810000001", "R1", "5001", "2412"],
            "person_id": [1, 1, web_person, 3],
        }
    )
    data_dir.truth.mkdir()
    truth.write_parquet(data_dir.truth / "identifiers.parquet")
    result = identity_matches_the_demo_truth()
    assert result.passed is passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert getattr(result.metadata["precision"], "value", result.metadata["precision"]) == (
        1.0 if passed else pytest.approx(1 / 3, abs=1e-3)
    )


def test_the_asset_and_its_check_are_in_the_graph():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["identity", "customer_identifiers"])
    node = graph.get(key)
    assert node.group_name == "identity"
    assert dg.AssetKey(["staging", "stg_lake__identifiers"]) in node.parent_keys
    checks = {(k.asset_key, k.name) for k in graph.asset_check_keys}
    assert (key, "identity_matches_the_demo_truth") in checks


def _marketplace_warehouse(root) -> None:
    """The masked-receiver demo of tests/models/identity/test_names_and_tiers.py as staging
    tables: CRM members with their names, JD orders with the masked buyer name."""
    from tests.models.identity.test_names_and_tiers import _marketplace_demo

    ids, names = _marketplace_demo(n=200)
    split = pl.col("record").str.split("|")
    entity = (
        pl.when(split.list.first() == "crm").then(pl.lit("members")).otherwise(pl.lit("orders"))
    )
    keyed = ids.with_columns(
        split.list.first().alias("channel"), entity.alias("entity"), split.list.last().alias("key")
    )
    rows = [
        (c, e, k, t, t, v, p, sc, f"{c}/a.csv")
        for c, e, k, t, v, p, sc in keyed.select(
            "channel", "entity", "key", "identifier_type", "identifier_value", "is_partial", "scope"
        ).iter_rows()
    ]
    _warehouse(root, rows)
    named = names.with_columns(split.list.first().alias("channel"), split.list.last().alias("key"))
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    members = named.filter(pl.col("channel") == "crm").select(
        "channel", pl.col("key").alias("member_no"), "name"
    )
    orders = named.filter(pl.col("channel") == "jd").select(
        "channel",
        pl.col("key").alias("order_id"),
        pl.col("name").alias("buyer_name"),
        pl.lit(dt.datetime(2025, 3, 1, 12)).alias("ordered_at"),
    )
    con.register("m", members.to_arrow())
    con.register("o", orders.to_arrow())
    con.execute("create table staging.stg_lake__members as select * from m")
    con.execute("create or replace table staging.stg_lake__orders as select * from o")
    con.close()


def _meta(result) -> dict:
    return {k: getattr(v, "value", v) for k, v in result.metadata.items()}


def test_a_new_day_predicts_with_the_stored_model_and_retrains_on_its_cadence(data_dir):
    from orchestration.defs.identity import IdentityConfig

    _marketplace_warehouse(data_dir.root)
    first = _meta(customer_identifiers(dg.build_asset_context()))
    assert first["splink_model"] == "trained" and "no stored fit" in first["splink_model_reason"]
    assert first["probabilistic_links"] > 50 and first["splink_trained_through"] == "2025-03-01"
    assert (data_dir.models / "identity" / "splink_model.json").exists()
    tables = ("record_customers", "customer_identifiers", "identifier_links")

    def identity_tables():
        return [_read(data_dir.root, f"select * from identity.{t} order by all") for t in tables]

    trained = identity_tables()
    again = _meta(customer_identifiers(dg.build_asset_context()))
    assert again["splink_model"] == "reused" and "fresh" in again["splink_model_reason"]
    assert again["probabilistic_links"] == first["probabilistic_links"]
    assert again["evidence_ceiling_computed"] is False
    # the model it trained, predicted with again: the same tables, row for row
    for table, before, after in zip(tables, trained, identity_tables(), strict=True):
        assert after.height > 0 and after.equals(before), table
    every = _meta(
        customer_identifiers(dg.build_asset_context(), IdentityConfig(retrain_every_days=0))
    )
    assert every["splink_model"] == "trained" and "cadence 0" in every["splink_model_reason"]
    # a damaged store is retrained, with the reason
    (data_dir.models / "identity" / "splink_model.json").write_text("{}")
    damaged = _meta(customer_identifiers(dg.build_asset_context()))
    assert damaged["splink_model"] == "trained"
    assert "stored model unusable" in damaged["splink_model_reason"]
    assert damaged["probabilistic_links"] == first["probabilistic_links"]


def test_a_day_that_reuses_the_model_leaves_the_pairwise_scores_to_the_check(data_dir):
    """The pairwise scores against the truth are asset metadata on the runs that train; a
    day that predicts with the stored model does not compute them (the check does)."""
    _marketplace_warehouse(data_dir.root)
    keys = [str(i) for i in range(200)]
    truth = pl.DataFrame(
        {
            "channel": ["crm"] * 200 + ["jd"] * 100,
            "source_file": ["crm/a.csv"] * 200 + ["jd/a.csv"] * 100,
            "record_key": keys + keys[:100],
            "person_id": list(range(200)) + list(range(100)),
        }
    )
    data_dir.truth.mkdir()
    truth.write_parquet(data_dir.truth / "identifiers.parquet")
    first = _meta(customer_identifiers(dg.build_asset_context()))
    assert first["splink_model"] == "trained" and first["pairwise_scores_computed"] is True
    assert first["pairwise_precision"] == 1.0 and first["pairwise_recall"] > 0.9
    again = _meta(customer_identifiers(dg.build_asset_context()))
    assert again["splink_model"] == "reused" and again["pairwise_scores_computed"] is False
    assert "pairwise_precision" not in again and "truth_persons" not in again
    check = identity_matches_the_demo_truth()
    assert _meta(check)["precision"] == first["pairwise_precision"]
    assert _meta(check)["recall"] == first["pairwise_recall"]


def _write_360(path, as_of: str, rows: list[tuple]) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.customer_360 as select customer_id, "
        "cast(as_of_date as date) as as_of_date, r_score, rfm_segment from (values "
        + ", ".join(f"('{c}', '{as_of}', {r}, '{seg}')" for c, r, seg in rows)
        + ") as t(customer_id, as_of_date, r_score, rfm_segment)"
    )
    con.close()


def test_customer_360_history_appends_one_picture_per_as_of_date(data_dir):
    from orchestration.defs.identity import (
        customer_360_history,
        history_has_one_row_per_customer_and_date,
    )

    wh = data_dir.warehouse
    _write_360(wh, "2025-03-01", [("C1", 5, "champions"), ("C2", 2, "at_risk")])
    first = customer_360_history()
    assert first.metadata["rows"] == 2 and first.metadata["snapshots"] == 1
    # the next load: C1 lapses, C3 is new; the 360 gains a column
    _write_360(wh, "2025-03-15", [("C1", 3, "needs_attention"), ("C2", 2, "at_risk")])
    con = duckdb.connect(str(wh))
    con.execute("insert into marts.customer_360 values ('C3', '2025-03-15', 4, 'new')")
    con.execute("alter table marts.customer_360 add column ltv double default 1.5")
    con.close()
    second = customer_360_history()
    assert second.metadata["snapshots"] == 2
    assert second.metadata["rfm_segment_changed"] == 1  # C1 only; C3 had none
    again = customer_360_history()  # a re-run on the same data changes nothing
    assert again.metadata["snapshots"] == 2
    con = duckdb.connect(str(wh))
    got = con.execute(
        "select customer_id, cast(as_of_date as varchar), rfm_segment, ltv "
        "from history.customer_360 order by 1, 2"
    ).fetchall()
    con.close()
    assert got == [
        ("C1", "2025-03-01", "champions", None),
        ("C1", "2025-03-15", "needs_attention", 1.5),
        ("C2", "2025-03-01", "at_risk", None),
        ("C2", "2025-03-15", "at_risk", 1.5),
        ("C3", "2025-03-15", "new", 1.5),
    ]
    assert history_has_one_row_per_customer_and_date().passed
    con = duckdb.connect(str(wh))
    con.execute(
        "insert into history.customer_360 (customer_id, as_of_date) values ('C1', '2025-03-15')"
    )
    con.close()
    bad = history_has_one_row_per_customer_and_date()
    assert not bad.passed and bad.metadata["duplicate_keys"].value == 1


def test_the_identifiers_read_joins_the_times_of_entities_with_identifiers_only(data_dir):
    """Record times come from the staged entities that carry identifiers: a staged entity
    without any (here order lines, whose time does not even parse) is not read; the orders'
    times still are."""
    from models.identity.warehouse import read_identifiers

    _warehouse(data_dir.root)
    con = duckdb.connect(str(data_dir.warehouse))
    try:
        con.execute(
            "create table staging.stg_lake__order_lines as select 'web' as channel, '5001' as "
            "order_id, 1 as line_id, 'not a time' as order_ts"
        )
        ids = read_identifiers(con)
    finally:
        con.close()
    assert ids.height == len(ROWS)
    web = ids.filter(pl.col("record") == "web\x1forders\x1f5001")
    assert web["seen_at"].to_list() == [dt.datetime(2025, 1, 2, 10)] * 2


LEDGERED = "2025-01-03 00:00:00+00"
CONTACT = ("amazon", "order_contacts", "A7/buyer", "email", "email", "li@x.cn", False, None,
           "amazon/c.csv")  # fmt: skip


def _ledgered_warehouse(root) -> None:
    """``_warehouse`` with the staging of a dbt build: every staged table with its
    source_file, the incremental ones with their ledger of lake files; an order contact whose
    order is not delivered yet, a member snapshot (a table rebuilt in full, no ledger)."""
    _warehouse(root, [*ROWS, CONTACT])
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute(
        "create or replace table staging.stg_lake__orders as select 'web' as channel, "
        "'5001' as order_id, timestamp '2025-01-02 10:00:00' as ordered_at, "
        "'web/o.ndjson' as source_file"
    )
    con.execute(
        "create table staging.stg_lake__order_contacts as select 'amazon' as channel, "
        "'A7' as order_id, 'buyer' as contact_role, 'Li Lei' as name, "
        "'amazon/c.csv' as source_file"
    )
    con.execute(
        "create table staging.stg_lake__members as select 'crm' as channel, "
        "'668810000001' as member_no, 'Li Na' as name, timestamp '2024-05-01' as joined_ts, "
        "'crm/m.csv' as source_file"
    )
    for model in ("identifiers", "orders", "order_contacts"):
        con.execute(
            f"create table staging.stg_lake__{model}__lake_files as select distinct "
            "replace(source_file, '/', '__') || '.parquet' as lake_file, source_file, "
            f"100::bigint as size, timestamptz '{LEDGERED}' as modified "
            f"from staging.stg_lake__{model}"
        )
    con.close()


def _ledger_row(model: str, source_file: str) -> str:
    return (
        f"insert into staging.stg_lake__{model}__lake_files values ('{source_file}.parquet', "
        f"'{source_file}', 100, timestamptz '2025-01-04 00:00:00+00')"
    )


NEW_FILE = [
    "insert into staging.stg_lake__identifiers values "
    "('tmall', 'orders', '2413', 'open_uid', 'marketplace_buyer_id', 'AAF1', false, 'flagship', "
    "'tmall/y.csv', 1), ('tmall', 'orders', '2413', 'mobile', 'phone', '+8613900000001', false, "
    "null, 'tmall/y.csv', 1)",
    _ledger_row("identifiers", "tmall/y.csv"),
]
DAYS = {
    # new lake files only: the records found from the ledgers
    "a new file": (NEW_FILE, "staging ledgers: 2 records in new lake files of 4 tables"),
    # an old contact's order delivered: the contact's time changes, no identifier file new
    "the order of an old contact": (
        [
            "insert into staging.stg_lake__orders values "
            "('amazon', 'A7', timestamp '2025-02-01 09:00:00', 'amazon/o.csv')",
            _ledger_row("orders", "amazon/o.csv"),
        ],
        "staging ledgers: 3 records in new lake files of 4 tables",
    ),
    # a table rebuilt in full (no ledger): a member's name changed, every member compared
    "a member renamed": (
        ["update staging.stg_lake__members set name = 'Wang Fang'", *NEW_FILE],
        "staging ledgers: 2 records in new lake files of 4 tables",
    ),
    # a file changed in place (a correction, an erasure): one record corrected, one gone from
    # it (found by no new file): every record compared
    "a file changed in place": (
        [
            "update staging.stg_lake__identifiers set identifier_value = '668810000009' "
            "where source_file = 'pos/a.csv' and field = 'member_card'",
            "delete from staging.stg_lake__identifiers where record_id = 'S1 R2'",
            "update staging.stg_lake__identifiers__lake_files set size = 90 "
            "where source_file = 'pos/a.csv'",
        ],
        "compared all: 1 lake files of stg_lake__identifiers changed, gone or not dated since "
        "the previous run",
    ),
    # a file gone (a retention purge): every record compared
    "a file gone": (
        [
            "delete from staging.stg_lake__identifiers where source_file = 'pos/a.csv'",
            "delete from staging.stg_lake__identifiers__lake_files where source_file = 'pos/a.csv'",
        ],
        "compared all: 1 lake files of stg_lake__identifiers changed, gone or not dated since "
        "the previous run",
    ),
    # the state of a run that kept no ledger (written before this code)
    "no ledger kept": (NEW_FILE, "compared all: no staging ledger kept with the state"),
}


@pytest.mark.parametrize("case", list(DAYS))
def test_a_new_day_found_from_the_staging_ledgers_equals_a_full_resolution(data_dir, case):
    """The changed records of a day whose staging ledgers show only new lake files are the
    records of those files (and those timed by a newly delivered order, and every record of a
    table without a ledger); a file changed or gone leaves it to the comparison of every
    record. Either way the tables equal a full resolution's, row for row."""
    import json

    from orchestration.defs.identity import IdentityConfig

    _ledgered_warehouse(data_dir.root)
    first = _meta(customer_identifiers(dg.build_asset_context()))
    assert first["identity_run"] == "full"
    changes, found_by = DAYS[case]
    if case == "no ledger kept":  # the state as the code before the ledgers wrote it
        con = duckdb.connect(str(data_dir.warehouse))
        manifest = json.loads(
            con.execute("select manifest from identity.state_manifest").fetchone()[0]
        )
        for key in ("ledgers", "staging_sha256"):
            manifest.pop(key)
        manifest["counts"].pop("state_lake_files")
        con.execute("drop table identity.state_lake_files")
        con.execute("update identity.state_manifest set manifest = ?", [json.dumps(manifest)])
        con.close()
    saved = data_dir.root / "saved.duckdb"
    shutil.copy(data_dir.warehouse, saved)
    part, part_rows = _day(data_dir, saved, changes, IdentityConfig())
    full, full_rows = _day(data_dir, saved, changes, IdentityConfig(incremental=False))
    assert part["identity_run"] == "incremental", part["identity_run_reason"]
    assert part["records_resolved"] > 0
    if case != "a file gone":  # its two records are gone, the part is all that is left
        assert part["records_resolved"] < part["records"]
    for name, a, b in zip([*TABLES, "identity_merges"], part_rows, full_rows, strict=True):
        assert a.equals(b), name
    assert part["identity_changes_found_by"] == found_by
    if case == "the order of an old contact":  # the contact's time is the order's now
        seen = part_rows[0].filter(pl.col("identifier_value") == "li@x.cn")["first_seen"]
        assert seen.to_list() == [dt.datetime(2025, 2, 1, 9)]
    # the next run starts from the ledgers this one kept: the member table's record only
    again = _meta(customer_identifiers(dg.build_asset_context()))
    assert again["identity_run_reason"] == "no new or changed records"
    assert again["identity_changes_found_by"] == (
        "staging ledgers: 1 records in new lake files of 4 tables"
    )


def test_a_change_of_the_staging_code_compares_every_record(data_dir, monkeypatch):
    """Staging rebuilt by other code (``--full-refresh``) under the same ledgers: the ledgers
    cannot say what changed, every record is compared."""
    import orchestration.defs.identity as asset

    _ledgered_warehouse(data_dir.root)
    customer_identifiers(dg.build_asset_context())
    con = duckdb.connect(str(data_dir.warehouse))
    for sql in NEW_FILE:
        con.execute(sql)
    con.close()
    monkeypatch.setattr(asset, "staging_sha256", lambda: "other staging code")
    meta = _meta(customer_identifiers(dg.build_asset_context()))
    assert meta["identity_run"] == "incremental"
    assert meta["identity_changes_found_by"] == (
        "compared all: the staging models changed since the previous run"
    )
