"""bench/scale.py: steps from the Dagster event log, grouped into stages, summed and tabled."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ev(step, kind, t, **kw):
    return {"step_key": step, "type": kind, "timestamp": t, **kw}


EVENTS = [
    ev("ingest_landing_files", "STEP_START", 100.0),
    ev("ingest_landing_files", "ASSET_MATERIALIZATION", 105.0, asset_key="lake/orders"),
    ev("ingest_landing_files", "ASSET_MATERIALIZATION", 106.0, asset_key="lake/events"),
    ev("ingest_landing_files", "STEP_SUCCESS", 110.0, duration_ms=9_500),
    # a dbt step: models materialised, and source tests evaluated on lake assets
    ev("warehouse_models", "STEP_START", 110.0),
    ev("warehouse_models", "ASSET_CHECK_EVALUATION", 111.0, asset_key="lake/orders"),
    ev("warehouse_models", "ASSET_CHECK_EVALUATION", 111.5, asset_key="lake/events"),
    ev("warehouse_models", "ASSET_CHECK_EVALUATION", 111.6, asset_key="lake/returns"),
    ev("warehouse_models", "ASSET_MATERIALIZATION", 112.0, asset_key="staging/stg_lake__orders"),
    ev("warehouse_models", "ASSET_MATERIALIZATION", 113.0, asset_key="marts/fct_orders"),
    ev("warehouse_models", "STEP_SUCCESS", 130.0, duration_ms=20_000),
    # a check step on a lake asset belongs to ingest
    ev("lake__order_lines_gx", "STEP_START", 130.0),
    ev("lake__order_lines_gx", "ASSET_CHECK_EVALUATION", 131.0, asset_key="lake/order_lines"),
    ev("lake__order_lines_gx", "STEP_SUCCESS", 132.0, duration_ms=2_000),
    # a failed step without events: its key names the stage; no duration_ms: end - start
    ev("forecast__backtest", "STEP_START", 132.0),
    ev("forecast__backtest", "STEP_FAILURE", 140.0),
    ev("ops__funnel", "STEP_START", 140.0),
    ev("ops__funnel", "ASSET_MATERIALIZATION", 141.0, asset_key="ops/funnel"),
    ev("ops__funnel", "STEP_SUCCESS", 142.0, duration_ms=2_000),
    # planned, never started: no duration, not counted
    ev("recs__evaluation", "ASSET_MATERIALIZATION_PLANNED", 99.0),
    ev(None, "RUN_START", 99.0),
]


def test_steps_are_grouped_by_the_assets_they_materialise(scale):
    steps = scale.steps_from_events(EVENTS)
    stages = {k: scale.stage_of(s) for k, s in steps.items()}
    assert stages == {
        "ingest_landing_files": "ingest",
        "warehouse_models": "dbt",  # 2 dbt materialisations outvote 3 lake checks
        "lake__order_lines_gx": "ingest",
        "forecast__backtest": "forecast",
        "ops__funnel": "rest",
        "recs__evaluation": "recs",
    }
    assert steps["forecast__backtest"].status == "failure"
    assert steps["forecast__backtest"].seconds == pytest.approx(8.0)
    assert steps["ingest_landing_files"].seconds == pytest.approx(9.5)
    assert steps["recs__evaluation"].seconds is None


def test_stage_summary_sums_steps_and_attributes_samples(scale):
    steps = scale.steps_from_events(EVENTS)
    # RSS peaks at 3 GiB while dbt runs; CPU grows by 1 s per wall second
    samples = [
        {"t": t, "rss": (3 if 115 <= t <= 120 else 1) * 2**30, "cpu": float(t - 100)}
        for t in range(100, 143)
    ]
    out = scale.stage_summary(steps, samples)
    assert out["ingest"]["seconds"] == pytest.approx(11.5)  # 9.5 + 2.0
    assert out["ingest"]["steps"] == 2
    assert out["ingest"]["cpu_seconds"] == pytest.approx(12.0)  # 10 + 2
    assert out["dbt"]["peak_rss_mib"] == 3072
    assert out["ingest"]["peak_rss_mib"] == 1024
    assert out["forecast"]["seconds"] == pytest.approx(8.0)
    assert out["recs"]["steps"] == 0
    assert out["dbt"]["top"] == [("warehouse_models", 20.0)]


def test_report_prints_ratios_between_consecutive_scales(scale):
    def result(customers, factor, peer_s):
        steps = scale.steps_from_events(EVENTS)
        stages = scale.stage_summary(steps, [])
        for row in stages.values():
            row["seconds"] *= factor
        return {
            "customers": customers, "days": 400, "order_lines": 1000 * factor, "events": None,
            "landing_mb": 10 * factor, "load_mean": 3.0, "load_max": 4.5,
            "wall_seconds": 60.0 * factor, "cpu_seconds": 50.0 * factor,
            "peak_rss_mib_tree": 900, "max_rss_mib_one_process": 700, "stages": stages,
            "peers": {"ingest": {"what": "polars raw read", "wall_seconds": peer_s}},
        }  # fmt: skip

    table = scale.report([result(1000, 1, 1.0), result(2000, 2, 2.5), result(4000, 5, 4.0)])
    ingest = next(line for line in table.splitlines() if line.startswith("| ingest |"))
    assert "| 12 / 23 / 58 |" in ingest  # 11.5 s x 1, 2, 5
    assert "| 2.00 / 2.50 |" in ingest
    assert "polars raw read | 1.0 / 2.5 / 4.0 |" in ingest
    whole = next(line for line in table.splitlines() if "whole graph" in line)
    assert "**60 / 120 / 300**" in whole and "**2.00 / 2.50**" in whole
    # the time outside steps: 60 s minus the 41.5 s the steps took, at each scale
    outside = next(line for line in table.splitlines() if "outside steps" in line)
    assert "| 18 / 37 / 92 |" in outside
    assert "3.0 (4.5)" in table


def test_extrapolation_is_a_labelled_linear_fit(scale):
    assert scale.linear_fit([1.0, 2.0, 4.0], [5.0, 7.0, 11.0]) == pytest.approx((3.0, 2.0))
    steps = scale.steps_from_events(EVENTS)
    results = []
    for lines in (1_000, 2_000, 4_000):
        stages = scale.stage_summary(steps, [])
        stages["dbt"]["cpu_seconds"] = 10 + lines / 100  # 10 s fixed + 10 s per 1k lines
        results.append({"order_lines": lines, "stages": stages, "cpu_seconds": 10 + lines / 100,
                        "peak_rss_mib_tree": 500 + lines / 10})  # fmt: skip
    text = "\n".join(scale.extrapolation(results, target_lines=10_000))
    assert text.startswith("Extrapolation (not a measurement)")
    dbt = next(line for line in text.splitlines() if line.startswith("| dbt |"))
    assert dbt == "| dbt | 10.0 | 10.00 | 110 | 0 |"
    assert "**110** | **1,500** |" in text


def test_steps_of_two_runs_of_one_call_are_merged_without_loss(scale):
    # an incremental call: the ingest run, then the downstream run; a step key met in both
    ingest = [
        ev("ingest_landing_files", "STEP_START", 10.0),
        ev("ingest_landing_files", "ASSET_MATERIALIZATION", 11.0, asset_key="lake/orders"),
        ev("ingest_landing_files", "STEP_SUCCESS", 12.0, duration_ms=2_000),
        ev("lake__gx", "STEP_START", 12.0),
        ev("lake__gx", "ASSET_CHECK_EVALUATION", 12.5, asset_key="lake/orders"),
        ev("lake__gx", "STEP_SUCCESS", 13.0, duration_ms=1_000),
    ]
    downstream = [
        ev("lake__gx", "STEP_START", 20.0),
        ev("lake__gx", "ASSET_CHECK_EVALUATION", 20.5, asset_key="lake/orders"),
        ev("lake__gx", "STEP_SUCCESS", 22.0, duration_ms=2_000),
        ev("warehouse_models", "STEP_START", 22.0),
        ev("warehouse_models", "ASSET_MATERIALIZATION", 23.0, asset_key="marts/fct_orders"),
        ev("warehouse_models", "STEP_SUCCESS", 30.0, duration_ms=8_000),
    ]
    runs = [
        {"run_id": "aaaaaaaa-1", "events": ingest},
        {"run_id": "bbbbbbbb-2", "events": downstream},
    ]
    steps = scale.merged_steps(runs)
    assert sorted(steps) == ["ingest_landing_files", "lake__gx", "lake__gx@bbbbbbbb",
                             "warehouse_models"]  # fmt: skip
    # CPU grows 2 s per wall second from t=20 on, 0 before: the step CPU follows the samples
    samples = [{"t": float(t), "rss": 2**30, "cpu": float(max(0, 2 * (t - 20)))}
               for t in range(0, 31)]  # fmt: skip
    assert scale.step_cpu(steps["warehouse_models"], samples) == pytest.approx(16.0)
    assert scale.step_cpu(steps["lake__gx"], samples) == pytest.approx(0.0)
    assert scale.step_cpu(steps["lake__gx"], []) is None
    stages = scale.stage_summary(steps, samples)
    assert stages["ingest"]["seconds"] == pytest.approx(5.0)  # 2 + 1 + 2, both runs' gx steps
    assert stages["ingest"]["cpu_seconds"] == pytest.approx(4.0)
    assert stages["dbt"]["cpu_seconds"] == pytest.approx(16.0)


def _full_and_day(scale, customers, day_factor):
    """A scale's result with the full build of EVENTS and, unless day_factor is None, a new
    day whose every stage took day_factor of the full build's."""
    steps = scale.steps_from_events(EVENTS)
    samples = [{"t": float(t), "rss": 2**30, "cpu": float(t - 100)} for t in range(100, 143)]
    stages = scale.stage_summary(steps, samples)
    full = {
        "customers": customers, "days": 30, "order_lines": 1000, "events": None,
        "landing_mb": 10, "load_mean": 1.0, "load_max": 2.0, "wall_seconds": 60.0,
        "cpu_seconds": 50.0, "peak_rss_mib_tree": 1024, "max_rss_mib_one_process": 900,
        "stages": stages,
    }  # fmt: skip
    if day_factor is not None:
        day_stages = {
            k: v | {"seconds": v["seconds"] * day_factor,
                    "cpu_seconds": v["cpu_seconds"] * day_factor, "peak_rss_mib": 512}
            for k, v in stages.items()
        }  # fmt: skip
        full["new_day"] = {
            "wall_seconds": 60.0 * day_factor, "cpu_seconds": 50.0 * day_factor,
            "peak_rss_mib_tree": 600, "load_mean": 1.5, "load_max": 3.0, "stages": day_stages,
        }  # fmt: skip
    return full


def test_report_puts_the_new_day_beside_the_full_build(scale):
    table = scale.report([_full_and_day(scale, 300, 0.25), _full_and_day(scale, 600, None)])
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| stage |"))
    assert header.endswith("new day % of full wall | new day % of full CPU |")
    width = header.count("|")
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][:11]
    assert all(line.count("|") == width for line in rows), rows  # every row has every column
    ingest = next(line for line in lines if line.startswith("| ingest |"))
    # full build: 11.5 s wall, 12 CPU s; the new day a quarter; the second scale has none
    assert ingest.endswith("| 2.9 / – | 3.0 / – | 512 / – | 25 / – | 25 / – |")
    whole = next(line for line in lines if "whole graph" in line)
    assert whole.endswith("| 15.0 / – | 12.5 / – | 600 / – | 25 / – | 25 / – |")
    # outside steps: the call's wall and CPU less its steps' (60 - 41.5 wall, 50 - 42 CPU)
    outside = next(line for line in lines if "outside steps" in line)
    assert "| 18 / 18 | 8 / 8 |" in outside
    assert outside.endswith("| 4.6 / – | 2.0 / – | – / – | 25 / – | 25 / – |")
    assert "New day" in table and "1.5 (3.0) / –" in table


def test_report_without_a_new_day_keeps_the_full_build_columns(scale):
    table = scale.report([_full_and_day(scale, 300, None)])
    header = next(line for line in table.splitlines() if line.startswith("| stage |"))
    assert header.endswith("| peer wall s |") and "New day" not in table
    assert "****" not in table  # one scale: no ratio to embolden
