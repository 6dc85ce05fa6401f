"""The same dbt project on Spark (profiles.yml target ``spark``: dbt-spark's session method on a
local pyspark): built from the lake Parquet of the session demo (``built_demo``), every table it
builds has the row count, the sum of every numeric column (money, units, counts) and the number
of distinct values of every text column that the DuckDB warehouse has.

dbt runs in a subprocess (its Spark driver, a JVM, ends with it) with its catalog in memory,
its warehouse and working directory in this test's temporary folder. The identity sources (a
Python asset's tables, not in the lake) reach Spark as the DuckDB warehouse's identity tables
exported to Parquet. The comparison reads the Parquet files Spark wrote with DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import time

import duckdb
import pytest

from ingest.config import DBT_PROJECT_DIR
from orchestration.resources import dbt_executable

pytestmark = pytest.mark.slow

# Numbers must agree exactly, but for floating-point columns (shares, lifts, weights).
FLOAT_TOLERANCE = 1e-9
NUMERIC = ("DECIMAL", "BIGINT", "INTEGER", "HUGEINT", "DOUBLE", "FLOAT")
# Ratios computed in double precision and cast to 2 decimals: a value on a half cent may round
# to the next cent on one engine (DuckDB casts through double arithmetic, Spark through the
# double's exact decimal). Compared row by row (table: key, columns): at most 0.01 apart.
ROUNDED_RATIOS = {"customer_360": ("customer_id", ("aov_cny", "ltv_estimate_cny"))}


@pytest.fixture(scope="module")
def spark_build(built_demo, tmp_path_factory):
    paths, result = built_demo
    assert result.success
    tmp = tmp_path_factory.mktemp("spark")
    sources = tmp / "sources"
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        identity = [
            r[0]
            for r in con.sql(
                "select table_name from information_schema.tables where table_schema = 'identity'"
            ).fetchall()
        ]
        for table in identity:
            (sources / "identity" / table).mkdir(parents=True)
            con.sql(
                f"copy identity.{table} to '{sources / 'identity' / table / 'part-0.parquet'}' "
                "(format parquet)"
            )
    env = {
        **os.environ,
        "ZHONGTAI_DATA_DIR": str(paths.root),
        "ZHONGTAI_SPARK_DIR": str(tmp / "spark"),
    }
    cmd = [
        dbt_executable(),
        "build",
        "--target", "spark",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(tmp / "target"),
        "--log-path", str(tmp / "logs"),
        "--vars", json.dumps({"source_parquet_dir": str(sources)}),
        "--resource-type", "model",
        "--resource-type", "seed",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    print(f"dbt build --target spark: {seconds:.1f} s")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    results = json.loads((tmp / "target" / "run_results.json").read_text())
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    return paths, tmp / "spark" / "warehouse", results, manifest


def _spark_table(warehouse, schema: str, name: str) -> str:
    """The Parquet files of a table Spark built (a managed table: <warehouse>/<schema>.db/<name>)."""
    return f"read_parquet('{warehouse / f'{schema}.db' / name}/*.parquet')"


def test_spark_builds_every_model_and_seed(spark_build):
    _, _, results, _ = spark_build
    status = {r["unique_id"]: r["status"] for r in results["results"]}
    assert [u for u, s in status.items() if s != "success"] == []
    models = {u.removeprefix("model.zhongtai.") for u in status if u.startswith("model.")}
    assert sum(m.startswith("stg_lake__") for m in models) == 18
    assert {"fct_orders", "fct_order_lines", "fct_daily_sales", "customer_360"} <= models
    assert {"inventory_position", "channel_atp", "ops_customer_journeys"} <= models
    assert sum(u.startswith("seed.") for u in status) == 3


def test_spark_tables_match_duckdb(spark_build):
    """Per table: the row count, the sum of each numeric column and the number of distinct
    values of every other column (text, dates, timestamps, booleans) are the same on Spark as
    in the DuckDB warehouse (floating-point sums to 1e-9, relative)."""
    paths, warehouse, results, manifest = spark_build
    nodes = [
        manifest["nodes"][r["unique_id"]]
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    ]
    # every model is a table but the masked views, which hold no data of their own
    assert {n["schema"] for n in nodes if n["config"]["materialized"] != "table"} == {
        "marts_masked"
    }
    tables = sorted(
        (n["schema"], n["alias"]) for n in nodes if n["config"]["materialized"] == "table"
    )
    mismatches, rows = [], {}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for schema, model in tables:
            columns = con.sql(
                "select column_name, data_type from information_schema.columns "
                f"where table_schema = '{schema}' and table_name = '{model}' "
                "order by ordinal_position"
            ).fetchall()
            assert columns, f"{schema}.{model} is not in the DuckDB warehouse"
            measures, floats = ["count(*) as row_count"], set()
            for name, dtype in columns:
                if name == "computed_at" or name in ROUNDED_RATIOS.get(model, ("", ()))[1]:
                    continue  # when the model ran; ratios compared row by row below
                if dtype.startswith(NUMERIC):
                    measures.append(f'sum("{name}") as "sum_{name}"')
                    if dtype in ("DOUBLE", "FLOAT"):
                        floats.add(f"sum_{name}")
                else:
                    measures.append(f'count(distinct "{name}") as "distinct_{name}"')
            select = ", ".join(measures)
            duck = con.sql(f"select {select} from {schema}.{model}").fetchone()
            spark = con.sql(f"select {select} from {_spark_table(warehouse, schema, model)}")
            for measure, d, s in zip(spark.columns, duck, spark.fetchone(), strict=True):
                if measure in floats and d is not None and s is not None:
                    same = abs(d - s) <= FLOAT_TOLERANCE * max(1.0, abs(d))
                else:
                    same = d == s
                if not same:
                    mismatches.append((model, measure, d, s))
            rows[model] = duck[0]
        for model, (key, ratios) in ROUNDED_RATIOS.items():
            for ratio in ratios:
                worst = con.sql(
                    f"select count(*), max(abs(d.{ratio} - s.{ratio})), "
                    f"count(*) filter (where (d.{ratio} is null) <> (s.{ratio} is null)) "
                    f"from marts.{model} as d "
                    f"join {_spark_table(warehouse, 'marts', model)} as s using ({key})"
                ).fetchone()
                if worst[0] != rows[model] or (worst[1] or 0) > 0.01 or worst[2]:
                    mismatches.append((model, ratio, "rows, max difference, nulls", worst))
    assert len(rows) == len(tables) >= 45
    assert rows["fct_orders"] > 1000 and rows["fct_order_lines"] > 1000
    assert rows["fct_daily_sales"] > 1000 and rows["customer_360"] > 100
    assert mismatches == []
