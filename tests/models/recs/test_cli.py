"""``zhongtai recs evaluate`` on a synthetic table written as CSV with string event types:
the comparison is printed, metrics.csv and recommendations.parquet are written for every test
user, and the metrics recompute from the written lists."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from models.recs.metrics import score_lists
from orchestration.cli import app
from tests.models.recs.synthetic import synthetic_interactions

runner = CliRunner()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recs_cli")
    frame = synthetic_interactions(users=200, items=80, days=100, seed=2)
    table = frame.select(
        pl.col("user").alias("customer"),
        pl.col("item").alias("product"),
        (pl.col("ts") * 86400 + 1.6e9).cast(pl.Int64).alias("when"),
        pl.lit("purchase").alias("event"),
        # an item attribute: the model learns each user's affinity to it
        (pl.lit("d") + (pl.col("item").str.slice(1).cast(pl.Int64) % 4).cast(pl.String)).alias(
            "dept"
        ),
    )
    table = pl.concat([table, table.head(5)])  # a double delivery
    table.write_csv(folder / "interactions.csv")
    result = runner.invoke(
        app,
        [
            "recs",
            "evaluate",
            "--interactions",
            str(folder / "interactions.csv"),
            "--user-col",
            "customer",
            "--item-col",
            "product",
            "--time-col",
            "when",
            "--weight-col",
            "event",
            "--category-col",
            "dept",
            "--output",
            str(folder / "out"),
        ],
    )
    return folder, table, result


def test_prints_the_comparison_and_writes_the_files(evaluated):
    folder, table, result = evaluated
    assert result.exit_code == 0, result.output
    for model in (
        "zhongtai",
        "popularity",
        "trending",
        "buy_again",
        "implicit_als",
        "implicit_itemknn",
    ):
        assert model in result.output
    duplicates = table.height - table.unique().height
    assert duplicates >= 5
    # the console wraps long lines (the input's path comes first): compare words, not lines
    said = " ".join(result.output.split())
    assert f"{table.height} rows read, {table.height - duplicates} used" in said
    assert "exact duplicate row" in said
    metrics = pl.read_csv(folder / "out" / "metrics.csv")
    assert metrics.columns == ["model", "metric", "value"]
    assert metrics["model"].n_unique() == 6
    assert (folder / "out" / "report.md").exists()


def test_metrics_recompute_from_the_written_lists(evaluated):
    folder, table, _ = evaluated
    recs = pl.read_parquet(folder / "out" / "recommendations.parquet")
    assert recs.columns == ["model", "user", "item", "rank"]
    t = table.unique()
    lo, hi = t["when"].min(), t["when"].max()
    cutoff = hi - 0.2 * (hi - lo)
    test = t.filter(pl.col("when") >= cutoff).select(
        pl.col("customer").alias("user"), pl.col("product").alias("item")
    )
    catalogue = t.filter(pl.col("when") < cutoff)["product"].n_unique()
    metrics = pl.read_csv(folder / "out" / "metrics.csv")
    for model in ("zhongtai", "buy_again"):
        mine = recs.filter(pl.col("model") == model)
        assert set(mine["user"]) == set(test["user"])  # every test user has a list
        again = score_lists(mine, test, catalogue)
        for metric, value in again.items():
            written = metrics.filter((pl.col("model") == model) & (pl.col("metric") == metric))
            assert written["value"][0] == pytest.approx(value)


def test_a_missing_column_is_a_clear_error(evaluated):
    folder, _, _ = evaluated
    result = runner.invoke(
        app, ["recs", "evaluate", "--interactions", str(folder / "interactions.csv")]
    )
    assert result.exit_code == 2
    assert "interactions.csv" in result.output and "'user_id'" in result.output


def test_a_missing_category_column_is_a_clear_error(evaluated):
    folder, _, _ = evaluated
    args = ["recs", "evaluate", "--interactions", str(folder / "interactions.csv")]
    args += ["--user-col", "customer", "--item-col", "product", "--time-col", "when"]
    result = runner.invoke(app, [*args, "--category-col", "aisle"])
    assert result.exit_code == 2
    assert "interactions.csv" in result.output and "'aisle'" in result.output
