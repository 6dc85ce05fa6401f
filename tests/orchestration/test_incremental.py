"""One new day after a full build: the incremental dbt staging models (macros/
incremental_deliveries.sql) and the order-keyed ones (macros/incremental_orders.sql) end equal
to a full build on the same lake, a re-run with nothing new changes nothing, and `zhongtai
materialize --incremental` selects only what depends on the lake entities that got files."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from types import SimpleNamespace

import dagster as dg
import duckdb
import polars as pl
import pytest

from ingest.config import DataPaths, data_paths
from ingest.demo.holdback import NEXT_DIR, deliver, delivery_day, hold_back
from ingest.engine import ingest_all
from ingest.spec import load_specs_lenient
from orchestration.defs.automation import incremental_keys, incremental_selection
from tests.conftest import DEMO_SCALE
from tests.faults.conftest import DBT_SELECT, dbt_target, run_dbt

# a long module: scheduled first (tests/conftest.py)
pytestmark = pytest.mark.slow

INCREMENTAL = [
    "stg_lake__events",
    "stg_lake__order_lines",
    "stg_lake__orders",
    "stg_lake__order_contacts",
    "stg_lake__identifiers",
    "stg_lake__returns",
    "stg_lake__social",
    "stg_lake__points",
    "stg_lake__inventory",
]
SELECT = [*DBT_SELECT, *INCREMENTAL]
LAST_DAY = dt.date(2024, 11, 1) + dt.timedelta(days=DEMO_SCALE["days"] - 1)
# not read by the staging models above nor by the sales marts: less ingest work
SKIP = shutil.ignore_patterns("clickstream", "mp_events", "live_events")


def test_delivery_day_reads_the_last_date_of_a_file_name():
    assert delivery_day("pos_ST-SH-01_20250301.csv") == dt.date(2025, 3, 1)
    assert delivery_day("doudian_orders_20250228_20250301.csv") == dt.date(2025, 3, 1)
    assert delivery_day("ExportOrderList202503020859.csv") == dt.date(2025, 3, 2)
    assert delivery_day("products.csv") is None


def _table(paths: DataPaths, schema: str, name: str) -> list[tuple]:
    """Every row, lineage timestamp left out (the two trees ingested at other times)."""
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return sorted(
            con.execute(f"select * exclude (ingested_at) from {schema}.{name}").fetchall()
            if name.startswith("stg_")
            else con.execute(f"select * from {schema}.{name}").fetchall(),
            key=repr,
        )
    finally:
        con.close()


def _incremental_runs(target) -> set[str]:
    """The models the last dbt run built incrementally (reading the new lake files, their rows
    kept where the table holds no later delivery: macros/incremental_deliveries.sql)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]
        for r in results
        if " as built" in (r.get("compiled_code") or "")
    }


def _built(paths: DataPaths, target, select: list[str]) -> dict[str, list[tuple]]:
    """A dbt run of `select`, then the rows of every incremental model."""
    run_dbt(paths, target, select)
    return {m: _table(paths, "staging", m) for m in INCREMENTAL}


def _full_build(paths: DataPaths, target, select: list[str], folder) -> DataPaths:
    """A full build from scratch on a copy of the same lake."""
    full = DataPaths(folder / "data")
    shutil.copytree(paths.lake, full.lake)
    run_dbt(full, target, select)
    return full


@pytest.fixture(scope="module")
def new_day(tiny_demo, tmp_path_factory):
    """The tiny demo built without its last day, that day delivered (with a corrected
    re-delivery of an old POS file, one line short) and built incrementally; and the same
    landing built in full from scratch."""
    specs = load_specs_lenient()[0]
    target = dbt_target(tmp_path_factory.mktemp("incremental_dbt"))
    inc = DataPaths(tmp_path_factory.mktemp("incremental") / "data")
    shutil.copytree(tiny_demo.landing, inc.landing, ignore=SKIP)
    held = hold_back(inc.root, LAST_DAY)
    assert held and all(delivery_day(h) >= LAST_DAY for h in held)
    assert (inc.landing / "crm").exists()  # a folder of one snapshot stays
    old = next(
        p
        for p in sorted((inc.landing / "pos").glob("pos_*.csv"))
        if "_v" not in p.stem and len(p.read_bytes().splitlines()) > 3
    )
    lines = old.read_bytes().splitlines(keepends=True)
    (inc.root / NEXT_DIR / "pos" / f"{old.stem}_v2.csv").write_bytes(b"".join(lines[:-1]))

    ingest_all(specs, inc, workers=1)
    run_dbt(inc, target, SELECT)
    assert not _incremental_runs(target)  # the first build reads the whole lake
    first = _table(inc, "staging", "stg_lake__order_lines")
    # retention-like: a lake events file loses its first rows in place (same name)
    purged = sorted((inc.lake_raw / "events").glob("*__*.parquet"))[0]
    frame = pl.read_parquet(purged)
    frame.slice(3).write_parquet(purged)
    gone = set(frame.head(3).select("source_file", "source_row").iter_rows())
    delivered = deliver(inc.root)
    assert len(delivered) == len(held) + 1
    ingest_all(specs, inc, workers=1)
    after = _built(inc, target, SELECT)
    incremental = _incremental_runs(target)
    again = _built(inc, target, INCREMENTAL)  # nothing new
    full = _full_build(inc, target, SELECT, tmp_path_factory.mktemp("full"))
    return SimpleNamespace(
        inc=inc,
        full=full,
        first=first,
        incremental=incremental,
        after=after,
        again=again,
        corrected=old.relative_to(inc.landing).as_posix(),
        purged=gone,
    )


def test_the_new_day_adds_only_its_rows(new_day):
    assert len(new_day.first) < len(new_day.after["stg_lake__order_lines"])
    # the second run read only the lake rows ingested after the first: every big staging model
    assert new_day.incremental == set(INCREMENTAL)


def test_incremental_build_equals_a_full_build(new_day):
    inc, full, after = new_day.inc, new_day.full, new_day.after
    for model in INCREMENTAL:
        assert after[model] == _table(full, "staging", model), model
    for mart in ("fct_daily_sales", "int_unmapped_channel_skus"):
        schema = "marts" if mart.startswith("fct") else "intermediate"
        assert _table(inc, schema, mart) == _table(full, schema, mart), mart
    con = duckdb.connect(str(inc.warehouse), read_only=True)
    units, sales = con.execute(
        "select sum(units_sold), sum(net_sales) from marts.fct_daily_sales"
    ).fetchone()
    con.close()
    assert units > 0 and sales > 0


def test_a_corrected_file_replaces_its_rows(new_day):
    old = new_day.corrected
    corrected = old.replace(".csv", "_v2.csv")
    con = duckdb.connect(str(new_day.inc.warehouse), read_only=True)
    by_file = dict(
        con.execute(
            "select source_file, count(*) from staging.stg_lake__order_lines group by 1"
        ).fetchall()
    )
    con.close()
    assert old not in by_file and by_file.get(corrected, 0) > 0, sorted(by_file)


def test_rows_purged_from_the_lake_leave_staging(new_day):
    kept = {(r[-2], r[-1]) for r in new_day.after["stg_lake__events"]}
    assert new_day.purged and not new_day.purged & kept


def test_a_rerun_with_nothing_new_changes_nothing(new_day):
    assert new_day.after == new_day.again


def _copy_tree(src: DataPaths, dest: DataPaths) -> None:
    """The lake and the warehouse, file times kept (the ledger compares them)."""
    shutil.copytree(src.lake, dest.lake)
    shutil.copy2(src.warehouse, dest.warehouse)


def _lake_file(paths: DataPaths, entity: str, rows: int = 2):
    """A lake file of the entity with at least `rows` rows (sorted: the same on every run)."""
    return next(
        p
        for p in sorted((paths.lake_raw / entity).glob("*__*.parquet"))
        if pl.read_parquet(p).height >= rows
    )


@pytest.fixture(scope="module")
def lake_files(new_day, tmp_path_factory):
    """After the new day: a run with nothing new while an old lake file cannot be read (size
    and time kept), then a run after a file was rewritten in place, one rewritten with its old
    modification time, one removed and one added; and a full build of the same lake."""
    target = dbt_target(tmp_path_factory.mktemp("lake_files_dbt"))
    tree = DataPaths(tmp_path_factory.mktemp("lake_files") / "data")
    _copy_tree(new_day.inc, tree)

    # nothing new: the run opens no lake file, so an unreadable old one goes unnoticed
    old = _lake_file(tree, "order_lines")
    data, stat = old.read_bytes(), old.stat()
    old.write_bytes(b"x" * len(data))
    os.utime(old, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    untouched = _built(tree, target, INCREMENTAL)
    old.write_bytes(data)
    os.utime(old, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    # rewritten in place, same name, same ingested_at: a status changes
    rewritten = _lake_file(tree, "orders")
    frame = pl.read_parquet(rewritten)
    every = pl.read_parquet(tree.lake_raw / "orders" / "*__*.parquet")["order_id"].value_counts()
    once = set(every.filter(pl.col("count") == 1)["order_id"])
    order = next(o for o in frame["order_id"] if o in once)  # no other delivery outranks it
    frame.with_columns(
        pl.when(pl.col("order_id") == order)
        .then(pl.lit("rewritten"))
        .otherwise(pl.col("status"))
        .alias("status")
    ).write_parquet(rewritten)
    # rewritten with its old modification time: found by its size
    shrunk = _lake_file(tree, "returns")
    stat = shrunk.stat()
    frame = pl.read_parquet(shrunk)
    cut = frame.select("source_file", "source_row").row(0)
    frame.slice(1).write_parquet(shrunk)
    os.utime(shrunk, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert shrunk.stat().st_size != stat.st_size
    # removed
    removed = _lake_file(tree, "order_lines")
    removed_rows = set(pl.read_parquet(removed).select("source_file", "source_row").iter_rows())
    removed.unlink()
    # added: a copy of an order file under another name, its orders renumbered, ingested later
    source = _lake_file(tree, "orders")
    added = source.with_name(source.name.replace("__", "__added_", 1))
    pl.read_parquet(source).with_columns(
        (pl.col("order_id") + "-added").alias("order_id"),
        (pl.col("source_file") + ".added").alias("source_file"),
        (pl.col("ingested_at") + pl.duration(days=1)).alias("ingested_at"),
    ).write_parquet(added)
    after = _built(tree, target, INCREMENTAL)
    full = _full_build(tree, target, INCREMENTAL, tmp_path_factory.mktemp("lake_files_full"))
    new = pl.read_parquet(added)["order_id"].to_list()
    changes = {"order": order, "cut": cut, "removed": removed_rows, "added": new}
    return SimpleNamespace(tree=tree, full=full, untouched=untouched, after=after, **changes)


def test_a_run_with_nothing_new_reads_no_lake_file(new_day, lake_files):
    assert lake_files.untouched == new_day.again


def test_rewritten_removed_and_new_lake_files_equal_a_full_build(lake_files):
    for model in INCREMENTAL:
        assert lake_files.after[model] == _table(lake_files.full, "staging", model), model
    con = duckdb.connect(str(lake_files.tree.warehouse), read_only=True)
    try:
        status = con.execute(
            "select status from staging.stg_lake__orders where order_id = ?", [lake_files.order]
        ).fetchall()
        returns = set(
            con.execute("select source_file, source_row from staging.stg_lake__returns").fetchall()
        )
        lines = set(
            con.execute(
                "select source_file, source_row from staging.stg_lake__order_lines"
            ).fetchall()
        )
        added = con.execute(
            "select count(*) from staging.stg_lake__orders where list_contains(?, order_id)",
            [lake_files.added],
        ).fetchone()[0]
    finally:
        con.close()
    assert status == [("rewritten",)]  # the rewritten file was read again
    assert lake_files.cut not in returns  # the row cut from the file left staging
    assert lake_files.removed and not lake_files.removed & lines
    assert added == len(lake_files.added) > 0


def test_the_ledger_holds_every_lake_file_of_the_model(lake_files):
    con = duckdb.connect(str(lake_files.tree.warehouse), read_only=True)
    try:
        for model in INCREMENTAL:
            entity = model.removeprefix("stg_lake__")
            held = dict(
                con.execute(f"select lake_file, size from staging.{model}__lake_files").fetchall()
            )
            lake = {
                p.name: p.stat().st_size
                for p in (lake_files.tree.lake_raw / entity).glob("*.parquet")
                if p.name != "_schema.parquet"
            }
            assert held == lake, model
    finally:
        con.close()


# the order-keyed incremental models (macros/incremental_orders.sql), with their schemas
ORDER_MODELS = {
    "int_order_lines": "intermediate",
    "fct_orders": "marts",
    "fct_order_lines": "marts",
}


def _identity(paths: DataPaths, rekeyed: bool) -> None:
    """A stand-in for identity resolution (identity.record_customers: each order record and
    order contact of the lake with a customer, a third unlinked). ``rekeyed``: a fifth of the
    records move to other customers, as a merge or split of the identity step moves them."""
    lake = paths.lake_raw
    records = [
        f"select distinct channel, 'orders' as entity, order_id as record_id "
        f"from read_parquet('{lake}/orders/*__*.parquet', union_by_name = true)"
    ]
    if list((lake / "order_contacts").glob("*__*.parquet")):
        records.append(
            f"select distinct channel, 'order_contacts', order_id || '/' || contact_role "
            f"from read_parquet('{lake}/order_contacts/*__*.parquet', union_by_name = true)"
        )
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.warehouse))
    try:
        con.execute("create schema if not exists identity")
        con.execute(
            f"""
            create or replace table identity.record_customers as
            select channel, entity, record_id,
                case
                    when hash(record_id) % 3 = 0 then null
                    when {rekeyed} and hash(record_id) % 5 = 1 then 'M' || hash(record_id) % 7
                    else 'C' || hash(channel, record_id) % 50
                end as customer_id
            from ({" union all ".join(records)}) as r
            """
        )
    finally:
        con.close()


def _order_tables(paths: DataPaths) -> dict[str, list[tuple]]:
    return {m: _table(paths, schema, m) for m, schema in ORDER_MODELS.items()}


def _new_lake_file(paths: DataPaths, entity: str, name: str, frame: pl.DataFrame) -> None:
    """A lake file of a landing file delivered after every other (a day later)."""
    frame.with_columns(
        pl.col("ingested_at") + pl.duration(days=1), pl.lit(f"{name}.csv").alias("source_file")
    ).write_parquet(paths.lake_raw / entity / f"{name}__day.parquet")


def _renumbered_orders(paths: DataPaths, suffix: str) -> None:
    """New orders with their lines, delivered a day later: a lake file of orders and the lines
    of those orders, copied under other order ids (`<order_id>-<suffix>`), dates kept."""
    orders = _lake_file(paths, "orders")
    frame = pl.read_parquet(orders)
    renumbered = [(pl.col("order_id") + f"-{suffix}").alias("order_id")]
    _new_lake_file(paths, "orders", f"{orders.stem}_{suffix}", frame.with_columns(renumbered))
    lines = pl.read_parquet(paths.lake_raw / "order_lines" / "*__*.parquet")
    new_lines = lines.join(frame.select("channel", "order_id"), on=["channel", "order_id"])
    assert new_lines.height > 0
    _new_lake_file(paths, "order_lines", f"lines_{suffix}", new_lines.with_columns(renumbered))


def _cancelled_late(paths: DataPaths, name: str, pick) -> pl.DataFrame:
    """A later delivery of one order delivered once before (``pick`` chooses it among them,
    sorted), cancelled; its rows."""
    every = pl.read_parquet(paths.lake_raw / "orders" / "*__*.parquet")
    once = every.group_by("channel", "order_id").len().filter(pl.col("len") == 1)
    late = pick(every.join(once, on=["channel", "order_id"]).sort("channel", "order_id"))
    assert late.height == 1
    late = late.drop("len").with_columns(pl.lit("cancelled").alias("status"))
    _new_lake_file(paths, "orders", name, late)
    return late


@pytest.fixture(scope="module")
def order_day(new_day, tmp_path_factory):
    """After the new day, the order-keyed models built in full; then a day of the lake sensor
    (ZHONGTAI_DBT_RUN=day): new orders with their lines, a later delivery of an old order
    (cancelled), identity moving a fifth of the records to other customers; and the same
    lake and identity built in full. Before the day, a row of an order the day does not touch
    is altered in each model: kept by the day (it rebuilt only its orders), then restored."""
    from orchestration.defs.transform import DAY_RUN, DBT_RUN_ENV

    select = ["+fct_order_lines"]
    target = dbt_target(tmp_path_factory.mktemp("order_day_dbt"))
    tree = DataPaths(tmp_path_factory.mktemp("order_day") / "data")
    _copy_tree(new_day.full, tree)
    _identity(tree, rekeyed=False)
    run_dbt(tree, target, ["fx_rates_monthly"], "seed")
    run_dbt(tree, target, select)
    before = _order_tables(tree)

    _renumbered_orders(tree, "new")
    late = _cancelled_late(tree, "late", lambda orders: orders.slice(7, 1))
    _identity(tree, rekeyed=True)

    con = duckdb.connect(str(tree.warehouse))
    untouched = con.execute(
        "select channel, order_id from marts.fct_order_lines l "
        "where not exists (select 1 from identity.record_customers r "
        "    where r.channel = l.channel and split_part(r.record_id, '/', 1) = l.order_id "
        "    and hash(r.record_id) % 5 = 1) "
        "and not (channel = ? and order_id = ?) order by all limit 1",
        list(late.select("channel", "order_id").row(0)),
    ).fetchone()
    for model, schema in ORDER_MODELS.items():
        con.execute(
            f"update {schema}.{model} set status = 'altered' where channel = ? and order_id = ?",
            list(untouched),
        )
    con.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DBT_RUN_ENV, DAY_RUN)
        run_dbt(tree, target, select)
    con = duckdb.connect(str(tree.warehouse))
    kept = {
        model: con.execute(
            f"select count(*) from {schema}.{model} where status = 'altered'"
        ).fetchone()[0]
        for model, schema in ORDER_MODELS.items()
    }
    con.close()
    after = _order_tables(tree)

    full = DataPaths(tmp_path_factory.mktemp("order_day_full") / "data")
    shutil.copytree(tree.lake, full.lake)
    _identity(full, rekeyed=True)
    run_dbt(full, target, ["fx_rates_monthly"], "seed")
    run_dbt(full, target, select)
    return SimpleNamespace(
        tree=tree, full=full, before=before, after=after, kept=kept, untouched=untouched,
        late=late.select("channel", "order_id").row(0),
    )  # fmt: skip


def test_the_order_models_of_a_day_equal_a_full_build(order_day):
    """New orders, a later delivery of an old one and customers moved by identity: the
    order-keyed models rebuilt for those orders equal a full build of the same lake (the
    order altered before the day aside)."""
    full = _order_tables(order_day.full)

    def others(rows: list[tuple]) -> list[tuple]:
        return [r for r in rows if r[:2] != order_day.untouched]

    for model in ORDER_MODELS:
        assert others(order_day.after[model]) == others(full[model]), model
    con = duckdb.connect(str(order_day.full.warehouse), read_only=True)
    moved, status = con.execute(
        "select count(*) filter (where customer_id like 'M%'), "
        "max(status) filter (where channel = ? and order_id = ?) from marts.fct_orders",
        list(order_day.late),
    ).fetchone()
    con.close()
    assert moved > 0 and status == "cancelled"
    assert len(order_day.after["fct_orders"]) > len(order_day.before["fct_orders"])


def test_the_order_models_of_a_day_rebuild_only_its_orders(order_day):
    """The row altered before the day, of an order the day does not touch, is still altered:
    the day rebuilt its orders only (a full build would have rebuilt it)."""
    assert all(n > 0 for n in order_day.kept.values()), order_day.kept


def _inventory(paths: DataPaths) -> list[tuple]:
    return _table(paths, "marts", "inventory_position")


@pytest.fixture(scope="module")
def inventory_day(order_day, tmp_path_factory):
    """inventory_position (macros/incremental_inventory.sql) built on the order day's full
    build; then a day: the next day's snapshots, a corrected snapshot of a middle date
    (delivered later), an order with a location placed after that date cancelled late, and
    new orders with lines on their old dates; and the same lake and identity built in full.
    Before the day, a row on the first date is altered: kept by the day (it rebuilt the dates
    from the earliest one changed), then left out of the comparison."""
    from orchestration.defs.transform import DAY_RUN, DBT_RUN_ENV

    select = ["+inventory_position"]
    target = dbt_target(tmp_path_factory.mktemp("inventory_day_dbt"))
    tree = DataPaths(tmp_path_factory.mktemp("inventory_day") / "data")
    _copy_tree(order_day.full, tree)
    run_dbt(tree, target, select)
    before = _inventory(tree)

    snaps = pl.read_parquet(tree.lake_raw / "inventory" / "*__*.parquet")
    dates = sorted(snaps["snapshot_date"].unique())
    assert len(dates) >= 4
    last, middle = dates[-1], dates[len(dates) // 2]
    next_day = snaps.filter(pl.col("snapshot_date") == last).with_columns(
        (pl.col("snapshot_date") + pl.duration(days=1)).cast(pl.Date),
        (pl.col("on_hand") + 1),
    )
    corrected = (
        snaps.filter(pl.col("snapshot_date") == middle).head(1).with_columns(pl.col("on_hand") + 7)
    )
    _new_lake_file(tree, "inventory", "inventory_next", pl.concat([next_day, corrected]))
    _cancelled_late(
        tree, "inventory_late", lambda orders: orders.filter(
            pl.col("location_id").is_not_null()
            & (pl.col("business_date") > middle)
            & pl.col("status").is_in(["paid", "shipped", "completed"])
        ).slice(0, 1),
    )  # fmt: skip
    _renumbered_orders(tree, "inv")
    _identity(tree, rekeyed=True)

    con = duckdb.connect(str(tree.warehouse))
    altered = con.execute(
        "select location_id, sku, position_date from marts.inventory_position "
        "where position_date = (select min(position_date) from marts.inventory_position) "
        "order by all limit 1"
    ).fetchone()
    con.execute(
        "update marts.inventory_position set in_transit = -99 "
        "where location_id = ? and sku = ? and position_date = ?",
        list(altered),
    )
    con.close()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DBT_RUN_ENV, DAY_RUN)
        run_dbt(tree, target, select)
    after = _inventory(tree)
    con = duckdb.connect(str(tree.warehouse), read_only=True)
    kept = con.execute(
        "select in_transit from marts.inventory_position "
        "where location_id = ? and sku = ? and position_date = ?",
        list(altered),
    ).fetchone()[0]
    con.close()

    full = DataPaths(tmp_path_factory.mktemp("inventory_day_full") / "data")
    shutil.copytree(tree.lake, full.lake)
    _identity(full, rekeyed=True)
    run_dbt(full, target, ["fx_rates_monthly"], "seed")
    run_dbt(full, target, select)
    return SimpleNamespace(
        before=before, after=after, full=_inventory(full), altered=altered, kept=kept,
        next_day=(last + dt.timedelta(days=1)),
    )  # fmt: skip


def test_inventory_position_of_a_day_equals_a_full_build(inventory_day):
    """The next day's snapshots, a snapshot corrected on a middle date, an order cancelled
    late and new orders on old dates: the dates rebuilt from the earliest one changed, each
    pair carried from its last row before it, equal a full build of the same inputs (the row
    altered before the day aside), is_latest on the new day only."""

    def others(rows: list[tuple]) -> list[tuple]:
        return [r for r in rows if (r[1], r[3], r[0]) != inventory_day.altered]

    assert others(inventory_day.after) == others(inventory_day.full)
    assert inventory_day.after != inventory_day.before
    latest = {r[0] for r in inventory_day.full if r[-1]}
    assert latest == {inventory_day.next_day}


def test_inventory_position_of_a_day_keeps_the_dates_before_its_changes(inventory_day):
    """The row on the first date, altered before the day, is still altered: the day rebuilt
    only the dates from its earliest change (a full build would have rebuilt it)."""
    assert inventory_day.kept == -99


def test_incremental_selection_is_what_depends_on_the_changed_entities():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    events = incremental_selection([dg.AssetKey(["lake", "events"])]).resolve(graph)
    assert dg.AssetKey(["staging", "stg_lake__events"]) in events
    assert dg.AssetKey(["staging", "stg_lake__orders"]) not in events
    assert not any(k.path[0] == "lake" for k in events)
    orders = incremental_selection([dg.AssetKey(["lake", "orders"])]).resolve(graph)
    assert dg.AssetKey(["marts", "fct_daily_sales"]) in orders
    assert dg.AssetKey(["staging", "stg_lake__events"]) not in orders
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.get_subset(asset_selection=orders)  # multi-assets selected whole


def test_a_first_incremental_run_builds_what_it_reads_that_was_never_built():
    """On a new instance (files dropped into data/landing/ under `dagster dev`), the lake
    sensor's run reads models fed by no lake entity (the FX rates of fct_orders): they are
    added while never materialised, left out once they are, and the lake never is."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    orders = [dg.AssetKey(["lake", "orders"])]
    fx = dg.AssetKey(["intermediate", "int_fx_rates"])
    downstream = incremental_selection(orders).resolve(graph)
    assert fx not in downstream and dg.AssetKey(["marts", "fct_orders"]) in downstream
    with dg.DagsterInstance.ephemeral() as instance:
        first, _ = incremental_keys(orders, instance, graph)
        assert fx in first and downstream <= first
        assert not any(k.path[0] == "lake" for k in first)
        for key in first - downstream:
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        again, _ = incremental_keys(orders, instance, graph)
        assert again == downstream


def test_full_refresh_reaches_every_dbt_step():
    from orchestration.definitions import defs
    from orchestration.defs.transform import full_refresh_config

    job = defs.resolve_implicit_global_asset_job_def()
    keys = {dg.AssetKey(["staging", "stg_lake__events"]), dg.AssetKey(["marts", "fct_orders"])}
    config = full_refresh_config(job.get_subset(asset_selection=keys))
    assert config["ops"]
    assert all(v == {"config": {"full_refresh": True}} for v in config["ops"].values())
    dg.validate_run_config(job.get_subset(asset_selection=keys), config)


def test_incremental_refuses_a_selection(data_dir):
    from typer.testing import CliRunner

    from orchestration.cli import app

    res = CliRunner().invoke(app, ["materialize", "--incremental", "--select", "group:marts"])
    assert res.exit_code == 2 and "--incremental selects by itself" in res.output
    assert not data_dir.warehouse.exists()


def _compiled_tests(target) -> dict[str, str]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    tests = [r for r in results if r["unique_id"].startswith("test.")]
    assert tests and all(r["status"] in ("pass", "warn") for r in tests), tests
    return {r["unique_id"].split(".")[2]: r["compiled_code"] for r in tests}


def test_row_level_tests_of_an_incremental_run_read_the_new_rows_only(
    new_day, tmp_path, monkeypatch
):
    """With the cutoffs an incremental run passes (macros/tested_since.sql), not_null and
    accepted_values of an incremental model read the rows ingested after its cutoff; unique
    reads the rows whose key occurs among them; without cutoffs (a full build) every test
    reads the whole table."""
    from orchestration.defs.transform import TESTS_SINCE_ENV

    target = dbt_target(tmp_path / "dbt")
    run_dbt(new_day.inc, target, ["stg_lake__orders"], "test")
    whole = _compiled_tests(target)
    monkeypatch.setenv(
        TESTS_SINCE_ENV, json.dumps({"model.zhongtai.stg_lake__orders": "2024-01-02 03:04:05"})
    )
    run_dbt(new_day.inc, target, ["stg_lake__orders"], "test")
    since = _compiled_tests(target)
    cut = "ingested_at > cast('2024-01-02 03:04:05' as timestamp)"
    kinds = {name.split("_stg_lake__orders")[0] for name in since}
    assert {"not_null", "accepted_values", "unique"} <= kinds
    for name, sql in since.items():
        row_level = name.startswith(("not_null", "accepted_values", "expression_is_true"))
        assert (cut in sql) == (row_level or name.startswith("unique")), name
        assert cut not in whole[name], name
        if name.startswith("unique"):
            assert f"where {cut})" in sql and ") in (select" in sql, sql


def test_unique_of_an_incremental_run_finds_a_new_row_duplicating_an_old_one(
    new_day, tmp_path, monkeypatch
):
    """The new-keys `unique` (macros/tested_since.sql) fails when a row newer than the cutoff
    repeats the key of an old row, and passes on the same table when that row is old too
    (the old rows were tested by an earlier build)."""
    from orchestration.defs.transform import TESTS_SINCE_ENV
    from tests.faults.conftest import dbt_result

    tree = DataPaths(tmp_path / "data")
    tree.warehouse.parent.mkdir(parents=True)
    shutil.copy(new_day.inc.warehouse, tree.warehouse)
    con = duckdb.connect(str(tree.warehouse))
    cutoff = con.execute("select max(ingested_at) from staging.stg_lake__orders").fetchone()[0]
    con.execute(
        "insert into staging.stg_lake__orders select * replace "
        "(? + interval 1 second as ingested_at) "
        "from staging.stg_lake__orders order by ingested_at limit 1",
        [cutoff],
    )
    con.close()
    target = dbt_target(tmp_path / "dbt")
    select = ["unique_stg_lake__orders_channel_order_id"]

    def unique_test(since) -> tuple[int, str]:
        monkeypatch.setenv(TESTS_SINCE_ENV, json.dumps({"model.zhongtai.stg_lake__orders": since}))
        return dbt_result(tree, target, select, "test")

    code, out = unique_test(str(cutoff))
    assert code == 1 and "Got 1 result" in out, out[-2000:]
    code, out = unique_test(str(cutoff + dt.timedelta(seconds=2)))
    assert code == 0 and "ERROR=0" in out, out[-2000:]


def test_a_dbt_build_keeps_its_partial_parse_for_the_next(tmp_path, monkeypatch):
    """The invocation's parse replaces the project's (orchestration/defs/transform.py
    keep_partial_parse): the next `dbt build` on the same data tree skips the parse."""
    from orchestration.defs.transform import PARTIAL_PARSE, keep_partial_parse

    invocation, project = tmp_path / "invocation", tmp_path / "target"
    invocation.mkdir()
    project.mkdir()
    (project / PARTIAL_PARSE).write_bytes(b"parsed for another tree")
    keep_partial_parse(invocation, project)  # nothing written (a failed start): kept
    assert (project / PARTIAL_PARSE).read_bytes() == b"parsed for another tree"
    (invocation / PARTIAL_PARSE).write_bytes(b"parsed for this tree")
    keep_partial_parse(invocation, project)
    assert (project / PARTIAL_PARSE).read_bytes() == b"parsed for this tree"
    assert sorted(p.name for p in project.iterdir()) == [PARTIAL_PARSE]  # no temporary left
    # by default the data tree's own folder (DataPaths.dbt_parse), never the project's, which
    # every tree shares: a build on another tree no longer replaces this tree's parse
    tree = tmp_path / "tree"
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(tree))
    keep_partial_parse(invocation)
    assert (data_paths().dbt_parse / PARTIAL_PARSE).read_bytes() == b"parsed for this tree"
    assert data_paths().dbt_parse == tree.resolve() / "dbt_parse"
