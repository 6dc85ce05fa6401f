"""The forecast's SKU-group partitions on the end-to-end demo: the whole build predicted every
group in its own partition, the groups together are the unpartitioned forecast, and one
partition's run writes its group's rows alone, the same on a re-run."""

import dagster as dg
import polars as pl
import pytest

from ingest.config import connect
from models.forecast.groups import sku_groups
from tests.e2e_build import E2E_FORECAST, run_config


def _table(paths) -> pl.DataFrame:
    with connect(paths.warehouse, read_only=True) as con:
        return (
            con.sql("select * from forecast.demand_forecast").pl().sort("sku", "location_id", "ds")
        )


def test_every_sku_group_was_its_own_partition_and_every_sku_in_one(built_demo):
    from orchestration.defs.forecast import DEMAND_FORECAST_BY_GROUP, SKU_GROUPS

    paths, result = built_demo
    parts = {
        ev.partition
        for ev in result.get_asset_materialization_events()
        if ev.asset_key == DEMAND_FORECAST_BY_GROUP
    }
    assert parts == set(SKU_GROUPS)
    # one result for the range is recorded on every partition: no partition claims the
    # range's rows as its own count
    for ev in result.get_asset_materialization_events():
        if ev.asset_key == DEMAND_FORECAST_BY_GROUP:
            assert "dagster/row_count" not in ev.materialization.metadata
    folder = paths.models / "forecast" / "by_group"
    skus = {g: set(pl.read_parquet(folder / f"{g}.parquet")["sku"]) for g in SKU_GROUPS}
    table = _table(paths)
    assert set().union(*skus.values()) == set(table["sku"])
    assert sum(len(s) for s in skus.values()) == table["sku"].n_unique()  # none in two
    for g, members in skus.items():
        assert set(sku_groups(pl.Series(sorted(members), dtype=pl.String), len(SKU_GROUPS))) <= {g}


def test_the_groups_together_equal_the_unpartitioned_forecast(copy_of_built):
    from models.forecast.pipeline import demand_panel, future_forecast
    from orchestration.defs.forecast import ForecastConfig, _read_frame, settled_for

    table = _table(copy_of_built)
    config = ForecastConfig(**E2E_FORECAST)  # the build's settings: its fit is not stale
    panel = demand_panel(_read_frame())
    settled = settled_for(config, panel.date(panel.n_periods - 1))
    whole, _, info = future_forecast(
        panel,
        config.horizon,
        config.settings(settled.lag_days),
        table["model"][0],
        store=copy_of_built.models / "forecast",
        refit_every=config.refit_every_days,
    )
    assert info.action == "predicted"  # the build's stored fit, not a new one
    keys = ["sku", "location_id", "ds", "cutoff", "horizon", "model"]
    assert whole.height == table.height > 0
    assert whole.select(keys).equals(table.select(keys))
    for col in ("p10", "p50", "p90", "mean"):
        diff = (whole[col] - table[col]).abs().max()
        assert diff <= 1e-9, (col, diff)


def test_a_partition_run_writes_its_group_alone_and_a_rerun_changes_nothing(copy_of_built):
    from orchestration.definitions import defs
    from orchestration.defs.forecast import (
        DEMAND_FORECAST_BY_GROUP,
        DEMAND_FORECAST_KEY,
        SKU_GROUPS,
    )

    folder = copy_of_built.models / "forecast" / "by_group"
    before = {g: (folder / f"{g}.parquet").read_bytes() for g in SKU_GROUPS}
    frames = {g: pl.read_parquet(folder / f"{g}.parquet") for g in SKU_GROUPS}
    table = _table(copy_of_built)
    group = max(SKU_GROUPS, key=lambda g: frames[g].height)  # a group with rows
    (folder / f"{group}.parquet").unlink()  # what the run writes, and nothing else
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    run = job.execute_in_process(
        asset_selection=[DEMAND_FORECAST_BY_GROUP],
        partition_key=group,
        instance=instance,
        run_config=run_config([DEMAND_FORECAST_BY_GROUP]),
    )
    assert run.success
    (mat,) = run.get_asset_materialization_events()
    assert mat.partition == group
    metadata = mat.step_materialization_data.materialization.metadata
    assert metadata["groups"].value == {group: frames[group].height}
    assert metadata["dagster/row_count"].value == frames[group].height
    # the horizon cap of a short history is said, as the unpartitioned forecast said it
    from orchestration.defs.forecast import ForecastConfig

    capped = int(table["horizon"].max()) < ForecastConfig(**E2E_FORECAST).horizon
    assert capped == any("future horizon capped" in n for n in metadata["notes"].value)
    for g in SKU_GROUPS:
        if g != group:
            assert (folder / f"{g}.parquet").read_bytes() == before[g]  # untouched
    assert pl.read_parquet(folder / f"{group}.parquet").equals(frames[group])  # same rows
    # the load of every group gives the same table
    assert job.execute_in_process(asset_selection=[DEMAND_FORECAST_KEY], instance=instance).success
    assert _table(copy_of_built).equals(table)


def test_the_load_refuses_a_missing_or_stale_group(copy_of_built):
    from orchestration.defs.forecast import SKU_GROUPS, GroupFilesError, read_group_files

    folder = copy_of_built.models / "forecast" / "by_group"
    full = max(SKU_GROUPS, key=lambda g: pl.read_parquet(folder / f"{g}.parquet").height)
    other = next(g for g in SKU_GROUPS if g != full)
    frame = pl.read_parquet(folder / f"{full}.parquet")
    (folder / f"{other}.parquet").unlink()
    with pytest.raises(GroupFilesError, match=f"{other}: materialise"):
        read_group_files(folder, SKU_GROUPS)
    stale = frame.with_columns(cutoff=pl.col("cutoff") - pl.duration(days=1))
    stale.write_parquet(folder / f"{other}.parquet")
    with pytest.raises(GroupFilesError, match=f"{other} were predicted at another"):
        read_group_files(folder, SKU_GROUPS)
    frame.write_parquet(folder / f"{other}.parquet")  # the same SKUs in two groups' files
    with pytest.raises(GroupFilesError, match="in the files of two groups"):
        read_group_files(folder, SKU_GROUPS)


def test_the_run_s_groups_predicted_together_equal_each_group_predicted_alone(
    copy_of_built, monkeypatch
):
    """_predict_groups predicts the run's groups in one call and splits the rows by group;
    each group's frame must be, row for row and bit for bit, what a predict of that group
    alone gives (the way each group was predicted before)."""
    import numpy as np

    from models.forecast.groups import series_in_group
    from models.forecast.pipeline import demand_panel, future_forecast
    from orchestration.defs.forecast import (
        SKU_GROUPS,
        ForecastConfig,
        _chosen_from_warehouse,
        _predict_groups,
        _read_frame,
        settled_for,
    )

    config = ForecastConfig(**E2E_FORECAST)
    panel = demand_panel(_read_frame())
    settled = settled_for(config, panel.date(panel.n_periods - 1))
    with connect(copy_of_built.warehouse, read_only=True) as con:
        chosen = _chosen_from_warehouse(con, config)
    import models.forecast.store as store

    loads = []
    real_load = store.load_models
    monkeypatch.setattr(store, "load_models", lambda *a: loads.append(1) or real_load(*a))
    for groups in (list(SKU_GROUPS), SKU_GROUPS[1:4]):
        loads.clear()
        together, notes = _predict_groups(config, groups)
        assert len(loads) == 1  # the stored fit loaded once for the run's groups
        assert list(together) == groups
        for g in groups:
            alone, alone_notes, _ = future_forecast(
                panel,
                config.horizon,
                config.settings(settled.lag_days),
                chosen,
                store=copy_of_built.models / "forecast",
                refit_every=config.refit_every_days,
                series=series_in_group(panel.ids, g, len(SKU_GROUPS)),
                refit=False,
            )
            assert together[g].equals(alone), g
            assert notes == alone_notes
        assert sum(f.height for f in together.values()) > 0
        assert np.isfinite(together[groups[0]]["p50"].to_numpy()).all()
    assert _predict_groups(config, []) == ({}, [])
