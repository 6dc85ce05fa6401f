import json

import dagster as dg
import polars as pl

from orchestration.defs.automation import (
    THEN_TAG,
    changed_lake_keys,
    incremental_selection,
    ingest_job,
    lake_files_sensor,
    landing_files_sensor,
)
from orchestration.defs.ingest import (
    CHANNELS,
    LAKE_CHECKS_TAG,
    LAKE_KEYS,
    NEW_FILES,
    all_channels_tags,
)
from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS
from tests.conftest import copy_landing


def _requests(result) -> list[dg.RunRequest]:
    return result if isinstance(result, list) else []


def test_landing_sensor_requests_one_run_per_changed_channel(data_dir):
    ctx = dg.build_sensor_context()
    assert isinstance(landing_files_sensor(ctx), dg.SkipReason)  # nothing landed yet
    pos = data_dir.landing / "pos" / "pos_ST-SH-01_20250301.csv"
    web = data_dir.landing / "web" / "orders_20250301.ndjson"
    for f in (pos, web):
        f.parent.mkdir(parents=True)
        f.write_text("门店编号\n")
    first = _requests(landing_files_sensor(ctx))
    assert sorted(r.partition_key for r in first) == ["pos", "web"]
    ctx = dg.build_sensor_context(cursor=ctx.cursor)
    assert isinstance(landing_files_sensor(ctx), dg.SkipReason)  # nothing new
    web.write_text("门店编号,销售日期\n")  # changed content and size, in web only
    second = _requests(landing_files_sensor(ctx))
    assert [r.partition_key for r in second] == ["web"]
    assert second[0].run_key not in {r.run_key for r in first}
    assert set(json.loads(ctx.cursor)) == {"pos", "web"}


def test_schedule_runs_every_channel_in_one_run_then_every_sku_group():
    from orchestration.definitions import defs
    from orchestration.defs.automation import daily_full_run, then_request
    from orchestration.defs.forecast import DEMAND_FORECAST_BY_GROUP, all_groups_tags

    ctx = dg.build_schedule_context(repository_def=defs.get_repository_def())
    (req,) = daily_full_run.evaluate_tick(ctx).run_requests
    assert req.partition_key is None
    assert {k: req.tags[k] for k in all_channels_tags()} == all_channels_tags()
    first = set(req.asset_selection)
    assert set(LAKE_KEYS) <= first and DEMAND_FORECAST_BY_GROUP not in first
    # the first run names the second; then_sku_groups_sensor requests it when it succeeded
    second = then_request("run1", req.tags)
    assert DEMAND_FORECAST_BY_GROUP in second.asset_selection
    assert {k: second.tags[k] for k in all_groups_tags()} == all_groups_tags()
    assert second.tags["trigger"] == "daily_full_run" and second.run_key == "then:run1"
    everything = defs.resolve_asset_graph().get_all_asset_keys()
    assert first | set(second.asset_selection) == set(everything)
    assert not first & set(second.asset_selection)
    assert then_request("run2", {"trigger": "x"}) is None  # a run that names no second
    assert all_channels_tags() == {
        "dagster/asset_partition_range_start": CHANNELS[0],
        "dagster/asset_partition_range_end": CHANNELS[-1],
    }


def test_channel_run_ingests_its_channel_alone_then_lake_sensor_runs_downstream(
    tiny_demo, data_dir
):
    from orchestration.definitions import defs

    copy_landing(tiny_demo, data_dir, "pos", "crm")
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def(ingest_job.name)
    # the pos run as the landing sensor requests it (its lake checks read the files it loaded,
    # and a passing suite does not rebuild the data docs: test_an_incremental_ingest_run_...
    # checks both paths and the docs of an untagged run)
    requests = _requests(landing_files_sensor(dg.build_sensor_context()))
    (pos,) = [r for r in requests if r.partition_key == "pos"]
    assert pos.tags[LAKE_CHECKS_TAG] == NEW_FILES
    result = job.execute_in_process(partition_key="pos", instance=instance, tags=pos.tags)
    assert result.success
    # the crm files stay in landing, untouched: only the pos partition ran
    assert (data_dir.manifest_dir / "pos.json").exists()
    assert not (data_dir.manifest_dir / "crm.json").exists()
    mats = [m for m in result.get_asset_materialization_events() if m.partition == "pos"]
    assert {m.asset_key for m in mats} == set(LAKE_KEYS)
    # the reconciliation checks the run's channel: crm's files are not "not ingested" there
    (rec,) = [
        c
        for c in result.get_asset_check_evaluations()
        if c.check_name == "every_landing_row_accounted_for"
    ]
    assert rec.passed and rec.metadata["channels"].value == "pos"
    manifest = json.loads((data_dir.manifest_dir / "pos.json").read_text(encoding="utf-8"))
    loaded = [f for f, r in manifest["files"].items() if r["status"] == "loaded"]
    assert rec.metadata["files_checked"].value == len(loaded) > 0

    # a warehouse built before: what does not depend on pos's entities was materialised (on a
    # new instance the sensor's run would add what it reads that was never built, e.g. members)
    graph = defs.resolve_asset_graph()
    built = graph.get_all_asset_keys() - incremental_selection(changed_lake_keys(result)).resolve(
        graph
    )
    for key in built - set(LAKE_KEYS):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    ctx = dg.build_sensor_context(instance=instance, definitions=defs)
    req = lake_files_sensor(ctx)
    assert isinstance(req, dg.RunRequest), req
    selected = set(req.asset_selection)
    assert dg.AssetKey(["staging", "stg_lake__order_lines"]) in selected
    assert not selected & set(LAKE_KEYS)  # the lake is not run again
    assert dg.AssetKey(["staging", "stg_lake__members"]) not in selected  # pos has no members
    assert "order_lines" in req.tags["entities"].split(",")
    # its row-level dbt tests read the rows it adds (macros/tested_since.sql)
    assert req.tags[DBT_TESTS_TAG] == NEW_ROWS
    assert dg.AssetKey(["forecast", "backtest"]) in selected  # never run here: due
    # the forecast's SKU-group partitions and what follows them: a second run, named in a tag
    by_group = dg.AssetKey(["forecast", "demand_forecast_by_group"])
    assert by_group not in selected and by_group.to_user_string() in req.tags[THEN_TAG]
    again = dg.build_sensor_context(instance=instance, definitions=defs, cursor=ctx.cursor)
    assert isinstance(lake_files_sensor(again), dg.SkipReason)  # nothing loaded since

    # a re-run of the same partition loads nothing: no downstream run
    assert job.execute_in_process(partition_key="pos", instance=instance, tags=pos.tags).success
    assert isinstance(lake_files_sensor(again), dg.SkipReason)


def test_an_incremental_ingest_run_checks_only_the_files_it_loaded(tiny_demo, data_dir):
    """The lake checks of a run tagged zhongtai/lake_checks=new_files (the landing sensor's and
    `materialize --incremental`'s ingest runs) read the files that run loaded; untagged runs
    the whole lake."""
    import shutil
    from pathlib import Path

    from orchestration.definitions import defs

    # a few first deliveries of one store (no `_v2` correction among them): seconds, not minutes
    files = sorted((tiny_demo.landing / "pos").glob("pos_*.csv"))
    names = {f.stem for f in files}
    files = [f for f in files if "_v" not in f.stem and f"{f.stem}_v2" not in names][:4]
    (data_dir.landing / "pos").mkdir(parents=True)
    files = [Path(shutil.copy(f, data_dir.landing / "pos" / f.name)) for f in files]
    held = data_dir.root / "held" / files[-1].name
    held.parent.mkdir()
    shutil.move(files[-1], held)
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def(ingest_job.name)
    tags = {LAKE_CHECKS_TAG: NEW_FILES}

    def checks(result) -> dict[str, dict]:
        return {
            c.check_name: {k: v.value for k, v in c.metadata.items()} | {"passed": c.passed}
            for c in result.get_asset_check_evaluations()
        }

    def loaded() -> int:
        manifest = json.loads((data_dir.manifest_dir / "pos.json").read_text(encoding="utf-8"))
        return sum(r["status"] == "loaded" for r in manifest["files"].values())

    first = checks(job.execute_in_process(partition_key="pos", instance=instance, tags=tags))
    before = loaded()
    assert first["every_landing_row_accounted_for"]["files_checked"] == before == 3
    assert first["every_landing_row_accounted_for"]["passed"]
    whole_lake = first["gx_lake_order_lines"]["rows"]
    assert whole_lake > 0
    shutil.move(held, files[-1])  # one new file
    second = checks(job.execute_in_process(partition_key="pos", instance=instance, tags=tags))
    assert second["every_landing_row_accounted_for"]["files_checked"] == 1
    assert "files loaded since" in second["every_landing_row_accounted_for"]["scope"]
    new_lines = pl.read_parquet(data_dir.lake_raw / "order_lines" / "*.parquet").filter(
        pl.col("source_file") == f"pos/{files[-1].name}"
    )
    assert second["gx_lake_order_lines"]["rows"] == new_lines.height > 0
    assert all(c["passed"] for n, c in second.items() if n.startswith("gx_lake"))
    # a passing suite of an incremental run leaves the data docs site as it is
    assert all(
        c["data_docs"].startswith("not rebuilt") for n, c in second.items() if n.startswith("gx_")
    )
    # untagged (a full build): the whole lake again
    full = checks(job.execute_in_process(partition_key="pos", instance=instance))
    assert full["every_landing_row_accounted_for"]["files_checked"] == before + 1 == loaded()
    assert full["gx_lake_order_lines"]["rows"] == whole_lake + new_lines.height
    assert full["gx_lake_order_lines"]["data_docs"].endswith("index.html")


def test_weekly_assets_are_left_out_of_incremental_runs_for_a_week():
    import time

    from orchestration.definitions import defs
    from orchestration.defs.cadence import WEEKLY, cadence_of, is_due, without_fresh
    from orchestration.defs.forecast import BACKTEST, DEMAND_FORECAST_KEY
    from orchestration.defs.ops_funnel import FUNNEL, UPLIFT
    from orchestration.defs.ops_price import ELASTICITY, SUGGESTIONS
    from orchestration.defs.recs import EVALUATION, RECOMMENDATIONS

    graph = defs.resolve_asset_graph()
    assert cadence_of(graph, BACKTEST) == cadence_of(graph, EVALUATION) == WEEKLY
    assert cadence_of(graph, UPLIFT) == WEEKLY  # a study, not a daily table
    assert cadence_of(graph, FUNNEL) is None
    assert cadence_of(graph, ELASTICITY) == WEEKLY  # fitted on the whole history
    assert cadence_of(graph, SUGGESTIONS) is None  # priced daily from the latest prices
    assert cadence_of(graph, DEMAND_FORECAST_KEY) is None  # the daily forecast
    assert cadence_of(graph, RECOMMENDATIONS) is None  # served daily, after the stock rules
    instance = dg.DagsterInstance.ephemeral()
    keys = {BACKTEST, DEMAND_FORECAST_KEY, EVALUATION}
    assert is_due(BACKTEST, WEEKLY, instance)  # never run
    assert without_fresh(keys, instance, graph) == (keys, set())
    instance.report_runless_asset_event(dg.AssetMaterialization(BACKTEST))
    assert without_fresh(keys, instance, graph) == ({DEMAND_FORECAST_KEY, EVALUATION}, {BACKTEST})
    later = time.time() + WEEKLY.total_seconds() + 60
    assert is_due(BACKTEST, WEEKLY, instance, now=later)
    job = defs.resolve_job_def("weekly_refresh")
    weekly = {BACKTEST, DEMAND_FORECAST_KEY, EVALUATION, UPLIFT, ELASTICITY}
    assert weekly <= set(job.asset_layer.selected_asset_keys)
    price = {ELASTICITY, SUGGESTIONS}
    instance.report_runless_asset_event(dg.AssetMaterialization(ELASTICITY))
    assert without_fresh(price, instance, graph) == ({SUGGESTIONS}, {ELASTICITY})
    assert RECOMMENDATIONS not in job.asset_layer.selected_asset_keys


def test_run_channels_reads_a_partition_a_range_or_none():
    from orchestration.defs.ingest import RANGE_END, RANGE_START, run_channels

    assert run_channels({"dagster/partition": "pos"}) == ["pos"]
    assert run_channels(all_channels_tags()) == CHANNELS
    assert run_channels({RANGE_START: CHANNELS[1], RANGE_END: CHANNELS[2]}) == CHANNELS[1:3]
    assert run_channels({}) == CHANNELS
