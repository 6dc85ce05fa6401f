"""The Zhongtai asset graph. Assembles; computes nothing."""

import dagster as dg

from orchestration.defs import ingest, quality, transform
from orchestration.resources import dbt_resource

defs = dg.Definitions(
    assets=[ingest.ingest_landing_files, transform.warehouse_models],
    asset_checks=quality.CHECKS,
    resources={"dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
