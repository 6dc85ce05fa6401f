"""End to end: generate a tiny demo brand, materialise the whole graph, and compare the mart
with what the generator says it sold (its truth files, not a re-derivation by our code)."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import polars as pl
import pytest

from ingest.config import DataPaths
from ingest.demo import generate

SLICE_CHANNELS = ["pos", "web"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZHONGTAI_DATA_DIR", str(root))
        generate(root, seed=11, customers=400, days=45)
        from orchestration.definitions import defs

        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
        yield DataPaths(root), result


def _mart(paths: DataPaths) -> pl.DataFrame:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return pl.from_arrow(
            con.sql(
                "select sales_date, channel, location_id, sku, units_sold, net_sales, "
                "units_returned, returns_amount from marts.fct_daily_sales"
            ).arrow()
        )
    finally:
        con.close()


def _expected(paths: DataPaths) -> pl.DataFrame:
    keys = ["sales_date", "channel", "location_id", "sku"]
    lines = pl.read_parquet(paths.truth / "sales_lines.parquet").filter(
        pl.col("channel").is_in(SLICE_CHANNELS)
    )
    sold = (
        lines.filter(~pl.col("is_test") & pl.col("status").is_in(["paid", "shipped", "completed"]))
        .group_by(pl.col("business_date").alias("sales_date"), "channel", "location_id", "sku")
        .agg(
            pl.col("quantity").sum().alias("units_sold"),
            pl.col("net_amount").cast(pl.Float64).sum().alias("net_sales"),
        )
    )
    test_orders = lines.filter(pl.col("is_test")).select("channel", "order_id").unique()
    returned = (
        pl.read_parquet(paths.truth / "returns.parquet")
        .filter(pl.col("channel").is_in(SLICE_CHANNELS))
        .join(test_orders, on=["channel", "order_id"], how="anti")
        .group_by(pl.col("return_date").alias("sales_date"), "channel", "location_id", "sku")
        .agg(
            pl.col("quantity").sum().alias("units_returned"),
            pl.col("amount").cast(pl.Float64).sum().alias("returns_amount"),
        )
    )
    return (
        sold.join(returned, on=keys, how="full", coalesce=True)
        .with_columns(pl.col("units_sold", "units_returned").fill_null(0).cast(pl.Int64))
        .with_columns(pl.col("net_sales", "returns_amount").fill_null(0.0).round(2))
        .sort(keys)
    )


def test_run_succeeds_and_every_error_check_passes(built):
    _, result = built
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 20
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []


def test_mart_equals_what_the_generator_sold(built):
    paths, _ = built
    keys = ["sales_date", "channel", "location_id", "sku"]
    got = (
        _mart(paths)
        .filter(pl.col("channel").is_in(SLICE_CHANNELS))
        .with_columns(
            pl.col("net_sales", "returns_amount").cast(pl.Float64).round(2),
            pl.col("units_sold", "units_returned").cast(pl.Int64),
        )
        .sort(keys)
    )
    want = _expected(paths).select(got.columns)
    assert got.height == want.height > 0
    assert got["units_sold"].sum() == want["units_sold"].sum()
    assert round(got["net_sales"].sum(), 2) == round(want["net_sales"].sum(), 2)
    assert got.equals(want)


def test_planted_defects_in_the_slice_are_handled(built):
    paths, _ = built
    defects = pl.read_parquet(paths.truth / "defects.parquet")
    manifest = json.loads((paths.manifest_dir / "pos.json").read_text(encoding="utf-8"))["files"]
    statuses = {rec["status"] for rec in manifest.values()}
    assert {"loaded", "duplicate", "superseded"} <= statuses
    quarantine = pl.read_parquet(paths.quarantine / "*.parquet")
    for row in defects.filter(pl.col("kind") == "exact_duplicate_row").iter_rows(named=True):
        if row["channel"] in SLICE_CHANNELS:
            hit = quarantine.filter(
                (pl.col("source_file") == row["file"]) & (pl.col("source_row") == row["row"])
            )
            assert hit.height >= 1, row
            assert hit["reason"][0].startswith("exact duplicate of row")
