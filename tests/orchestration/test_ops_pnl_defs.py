"""The ops assets and checks are in the graph, and the routing and live-session checks fail on
bad tables (a small warehouse written here, not the demo)."""

import datetime as dt

import dagster as dg
import polars as pl

from ingest.config import connect, replace_tables
from orchestration.definitions import defs
from orchestration.defs import ops_pnl


def test_ops_assets_and_checks_exist_with_their_inputs():
    graph = defs.resolve_asset_graph()
    pnl = graph.get(dg.AssetKey(["ops", "channel_pnl"])).parent_keys
    assert {
        dg.AssetKey(["marts", "fct_order_lines"]),
        dg.AssetKey(["staging", "stg_lake__fees"]),
    } <= pnl
    routing = graph.get(dg.AssetKey(["ops", "order_routing"])).parent_keys
    assert dg.AssetKey(["marts", "inventory_position"]) in routing
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {
        ("ops/channel_pnl", "channel_pnl_adds_up"),
        ("ops/live_session_pnl", "live_sessions_make_money"),
        ("ops/order_routing", "routing_respects_atp"),
        ("ops/order_routing", "routing_sends_no_data_abroad_without_consent"),
    } <= checks
    assert dg.AssetKey(["intermediate", "int_customer_consents"]) in routing


def _warehouse(tmp_path, monkeypatch, routing_lines, sessions, abroad=False):
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(tmp_path))
    con = connect(tmp_path / "warehouse.duckdb")
    orders = pl.DataFrame(
        {"channel": ["jd"], "order_id": ["1"], "units": [2], "units_unrouted": [0],
         "proposed_nodes": ["WH-SH"], "sends_data_abroad": [abroad],
         "cross_border_consent": [False]}
    )  # fmt: skip
    replace_tables(
        con,
        "ops",
        {
            "order_routing_lines": routing_lines,
            "order_routing": orders,
            "live_session_pnl": sessions,
        },
    )
    con.close()


def _lines(qty, free):
    return pl.DataFrame(
        {"channel": ["jd"], "order_id": ["1"], "order_date": [dt.date(2025, 1, 1)],
         "location_id": ["WH-SH"], "sku": ["A"], "quantity": [qty], "available_before": [free]}
    )  # fmt: skip


def _sessions(contribution):
    return pl.DataFrame(
        {"session_date": [dt.date(2025, 1, 1)], "host_id": ["H"], "host_name": ["h"],
         "gross_sales": [100.0], "contribution": [contribution], "gmv_rank": [1],
         "return_rate": [0.5]}
    )  # fmt: skip


def test_checks_pass_on_good_tables_and_fail_on_bad_ones(tmp_path, monkeypatch):
    _warehouse(tmp_path, monkeypatch, _lines(2, 5), _sessions(10.0))
    assert ops_pnl.routing_respects_atp().passed
    assert ops_pnl.live_sessions_make_money().passed
    _warehouse(tmp_path, monkeypatch, _lines(2, 1), _sessions(-10.0))
    bad = ops_pnl.routing_respects_atp()
    assert not bad.passed and bad.metadata["lines_beyond_atp"].value == 1
    warn = ops_pnl.live_sessions_make_money()
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN


def test_the_cross_border_routing_check_fails_on_data_abroad_without_consent(tmp_path, monkeypatch):
    _warehouse(tmp_path, monkeypatch, _lines(2, 5), _sessions(10.0))
    assert ops_pnl.routing_sends_no_data_abroad_without_consent().passed
    _warehouse(tmp_path, monkeypatch, _lines(2, 5), _sessions(10.0), abroad=True)
    bad = ops_pnl.routing_sends_no_data_abroad_without_consent()
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.ERROR
    assert bad.metadata["without_cross_border_consent"].value == 1
