"""The Zhongtai asset graph. Assembles; computes nothing."""

import dagster as dg

from orchestration.defs import (
    automation,
    cadence,
    forecast,
    identity,
    ingest,
    ops_funnel,
    ops_pnl,
    ops_price,
    privacy,
    quality,
    recs,
    replenishment,
    segments,
    transform,
)
from orchestration.resources import dbt_resource, one_writer_executor

defs = dg.Definitions(
    assets=[
        ingest.ingest_landing_files,
        transform.warehouse_models,
        *identity.ASSETS,
        *forecast.ASSETS,
        *replenishment.ASSETS,
        *segments.ASSETS,
        *recs.ASSETS,
        *ops_pnl.ASSETS,
        *ops_price.ASSETS,
        *ops_funnel.ASSETS,
        *privacy.ASSETS,
    ],
    asset_checks=[
        *quality.CHECKS,
        *identity.CHECKS,
        *forecast.CHECKS,
        *replenishment.CHECKS,
        *segments.CHECKS,
        *recs.CHECKS,
        *ops_pnl.CHECKS,
        *ops_price.CHECKS,
        *ops_funnel.CHECKS,
        *privacy.CHECKS,
    ],
    jobs=[
        automation.full_graph_job,
        automation.sku_groups_job,
        automation.ingest_job,
        *cadence.JOBS,
        *privacy.JOBS,
    ],
    sensors=[
        automation.landing_files_sensor,
        automation.lake_files_sensor,
        automation.then_sku_groups_sensor,
    ],
    schedules=[automation.daily_full_run, *cadence.SCHEDULES, *privacy.SCHEDULES],
    resources={"dbt": dbt_resource()},
    executor=one_writer_executor,
)
