"""dbt models as assets; dbt data tests become asset checks."""

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.resources import DBT_PROJECT, prepare_dbt

prepare_dbt()

# Several tables of the identity schema are one Dagster asset (identity/customer_identifiers
# writes them all), so dbt sources may share an asset key.
translator = DagsterDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_duplicate_source_asset_keys=True
    )
)


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False  # rebuild the incremental staging models from the whole lake


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=translator
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
):
    """staging -> intermediate -> marts in data/warehouse.duckdb (`dbt build`). The marts
    that read the identity schema depend on identity/customer_identifiers, which depends on
    staging: Dagster runs this subsettable multi-asset in two steps around it (staging and
    intermediate, then identity, then those marts), each a `dbt build` of its subset. The big
    staging models are incremental (macros/incremental_deliveries.sql): a run adds only the
    lake files ingested since their last build, unless `full_refresh` is set."""
    args = ["build", "--full-refresh"] if config.full_refresh else ["build"]
    yield from dbt.cli(args, context=context).stream()


def full_refresh_config(job: dg.JobDefinition) -> dict:
    """Run config that sets `full_refresh` on every step of the dbt multi-asset in ``job``."""
    ops = {
        name: {"config": {"full_refresh": True}}
        for name in job.graph.node_dict
        if name.startswith(warehouse_models.op.name)
    }
    return {"ops": ops}
