"""The asset graph as a spec: definitions load, the expected assets and checks exist."""

import dagster as dg

from ingest.canonical import ENTITIES
from orchestration.definitions import defs


def _keys() -> set[str]:
    return {k.to_user_string() for k in defs.resolve_all_asset_keys()}


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)


def test_expected_assets_exist():
    keys = _keys()
    lake = {f"lake/{e}" for e in ENTITIES} | {"lake/quarantine"}
    assert lake <= keys
    assert {f"staging/stg_lake__{e}" for e in ENTITIES} <= keys
    staging = {"stg_lake__orders", "stg_lake__order_lines", "stg_lake__returns"}
    assert {f"staging/{m}" for m in staging} <= keys
    assert "marts/fct_daily_sales" in keys
    assert {"marts/fct_orders", "marts/fct_order_lines", "marts/dim_customers"} <= keys
    assert {"identity/customer_identifiers", "history/customer_360"} <= keys
    assert {"marts/inventory_position", "marts/channel_atp", "reference/allocation_rules"} <= keys
    replenishment = {"replenishment_proposals", "transfer_proposals", "policy_simulation"}
    assert {f"replenishment/{k}" for k in replenishment} <= keys


def test_lineage_runs_from_lake_to_mart():
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["staging", "stg_lake__order_lines"])).parent_keys
    assert dg.AssetKey(["lake", "order_lines"]) in upstream
    mart_parents = graph.get(dg.AssetKey(["marts", "fct_daily_sales"])).parent_keys
    assert dg.AssetKey(["intermediate", "int_order_lines"]) in mart_parents
    int_parents = graph.get(dg.AssetKey(["intermediate", "int_order_lines"])).parent_keys
    assert dg.AssetKey(["staging", "stg_lake__sku_map"]) not in int_parents  # via int_sku_map
    assert dg.AssetKey(["intermediate", "int_sku_map"]) in int_parents


def test_customer_marts_run_after_identity_which_runs_after_staging():
    graph = defs.resolve_asset_graph()
    identity = dg.AssetKey(["identity", "customer_identifiers"])
    assert dg.AssetKey(["staging", "stg_lake__identifiers"]) in graph.get(identity).parent_keys
    for mart in ("fct_orders", "dim_customers"):
        assert identity in graph.get(dg.AssetKey(["marts", mart])).parent_keys
    lines_parents = graph.get(dg.AssetKey(["marts", "fct_order_lines"])).parent_keys
    assert dg.AssetKey(["marts", "fct_orders"]) in lines_parents
    # both identity tables the marts read are one asset, not two source assets
    assert "identity/record_customers" not in _keys()
    # the dbt multi-asset is subsettable: Dagster splits it around identity in one run
    dbt_node = graph.get(dg.AssetKey(["marts", "fct_orders"]))
    assert dbt_node.assets_def.can_subset


def test_groups_come_from_dbt_folders():
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert specs["staging/stg_lake__orders"].group_name == "staging"
    assert specs["marts/fct_daily_sales"].group_name == "marts"
    assert specs["lake/orders"].group_name == "lake"


def test_expected_checks_exist():
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("lake/quarantine", "every_landing_row_accounted_for") in checks
    assert ("lake/quarantine", "quarantine_rate_is_low") in checks
    assert ("lake/quarantine", "no_unclaimed_landing_files") in checks
    assert ("marts/inventory_position", "inventory_snapshots_are_fresh") in checks
    assert ("marts/fct_order_lines", "returns_never_exceed_sold_units") in checks
    assert ("history/customer_360", "history_has_one_row_per_customer_and_date") in checks
    # Great Expectations suites run as checks on the lake and on staging
    assert ("lake/identifiers", "gx_lake_phones") in checks
    assert ("staging/stg_lake__events", "gx_staging_events") in checks
    # dbt data tests arrive as checks on their models
    assert any(a == "marts/fct_daily_sales" and n.startswith("unique_") for a, n in checks)
    assert any(a == "marts/fct_orders" and n.startswith("relationships_") for a, n in checks)
    assert any(a == "marts/dim_customers" and n.startswith("unique_") for a, n in checks)
    assert any(
        a == "staging/stg_lake__order_lines" and "expression_is_true" in n for a, n in checks
    )


def test_jobs_sensors_schedules_exist():
    assert defs.resolve_job_def("full_graph") is not None
    assert defs.resolve_sensor_def("landing_files_sensor") is not None
    assert defs.resolve_schedule_def("daily_full_run").cron_schedule == "0 6 * * *"


def test_replenishment_runs_after_the_forecast_and_the_inventory_marts():
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["replenishment", "replenishment_proposals"])).parent_keys
    assert dg.AssetKey(["forecast", "demand_forecast"]) in parents
    assert dg.AssetKey(["marts", "inventory_position"]) in parents
    sim = graph.get(dg.AssetKey(["replenishment", "policy_simulation"])).parent_keys
    assert dg.AssetKey(["forecast", "backtest"]) in sim


def test_the_dbt_resource_knows_its_dbt_version_without_running_dbt(monkeypatch, tmp_path):
    """dagster-dbt asks `dbt --version` (a new process) in the first dbt step of every run; the
    resource answers from the installed dbt-core for the dbt of this environment, and still
    asks any other executable."""
    import importlib.metadata
    import sys
    from pathlib import Path

    import dagster_dbt.core.resource as dbt_core_resource
    from packaging import version

    from orchestration.resources import DBT_PROJECT, DbtCli, dbt_resource

    asked = []

    def check_output(cmd, *args, **kwargs):
        asked.append(cmd)
        return b"Core:\n  - installed: 9.8.7\n"

    monkeypatch.setattr(dbt_core_resource, "check_output", check_output)
    resource = dbt_resource()
    assert Path(resource.dbt_executable).parent == Path(sys.executable).parent
    assert resource._cli_version == version.parse(importlib.metadata.version("dbt-core"))
    assert asked == []
    elsewhere = tmp_path / "bin" / "dbt"  # another installation (asked, answered above)
    elsewhere.parent.mkdir()
    elsewhere.write_text("#!/bin/sh\n")
    elsewhere.chmod(0o755)
    other = DbtCli(project_dir=DBT_PROJECT, dbt_executable=str(elsewhere))
    assert other._cli_version == version.parse("9.8.7")
    assert asked == [[str(elsewhere), "--version"]]
