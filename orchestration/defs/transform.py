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

translator = DagsterDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path, project=DBT_PROJECT, dagster_dbt_translator=translator
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """staging -> intermediate -> marts in data/warehouse.duckdb (`dbt build`)."""
    yield from dbt.cli(["build"], context=context).stream()
