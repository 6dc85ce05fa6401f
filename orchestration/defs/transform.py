"""dbt models as assets; dbt data tests become asset checks."""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_UNIQUE_ID_METADATA_KEY,
    get_manifest_and_translator_from_dbt_assets,
)
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME

from ingest.config import connect
from orchestration.resources import DBT_PROJECT, paths, prepare_dbt

prepare_dbt()

# A run with this tag (the incremental paths: `zhongtai materialize --incremental`, the lake
# sensor's runs) runs the row-level dbt tests of its incremental models on the rows it adds
# (macros/tested_since.sql) and no dbt unit tests; without it (a full build, the daily
# schedule) every test reads the whole table and the unit tests run.
DBT_TESTS_TAG = "zhongtai/dbt_tests"
NEW_ROWS = "new_rows"
TESTS_SINCE_ENV = "ZHONGTAI_TESTS_SINCE"
# Set to DAY_RUN in the same runs: the order-keyed incremental models (int_order_lines,
# fct_orders, fct_order_lines: macros/incremental_orders.sql) rebuild only the orders the
# day changed; in every other run they rebuild every order.
DBT_RUN_ENV = "ZHONGTAI_DBT_RUN"
DAY_RUN = "day"


def lake_fed(manifest: Mapping[str, Any]) -> set[str]:
    """The dbt nodes built from the lake and seeds alone (no source written by a Python asset
    downstream of the lake, such as the identity schema): the first dbt step of any run."""
    parents = manifest["parent_map"]
    fed: dict[str, bool] = {}

    def visit(uid: str) -> bool:
        if uid not in fed:
            fed[uid] = False  # a cycle cannot occur in dbt; guard anyway
            if uid.startswith("source."):
                fed[uid] = manifest["sources"][uid]["source_name"] == "lake"
            else:
                fed[uid] = all(visit(p) for p in parents.get(uid, []))
        return fed[uid]

    return {uid for uid in [*manifest["nodes"], *manifest["sources"]] if visit(uid)}


class Translator(DagsterDbtTranslator):
    """A dbt test reading a second model (``relationships``) is an asset check of its model
    with the second as an extra dependency. When that second model is built from the lake
    alone, the dependency is dropped: it is built in the first dbt step of every run that
    selects it (dbt runs a test after all the models it reads in one invocation), and exists
    from an earlier build otherwise. Kept, Dagster gives the checks whose second model is not
    selected (products, locations on a new day) a `dbt build` step of their own: ~12 CPU s
    for 1 s of SQL (bench/README.md, "Incremental")."""

    _fed: set[str] | None = None

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or not spec.additional_deps:
            return spec
        if self._fed is None:
            self._fed = lake_fed(manifest)
        fed = self._fed
        drop = {
            self.get_asset_spec(manifest, p, project).key
            for p in manifest["parent_map"].get(unique_id, [])
            if p in fed
        }
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=spec.description,
            additional_deps=[d for d in spec.additional_deps if d.asset_key not in drop],
            blocking=spec.blocking,
            metadata=spec.metadata,
        )


# Several tables of the identity schema are one Dagster asset (identity/customer_identifiers
# writes them all), so dbt sources may share an asset key.
translator = Translator(
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
    # dbt.log in the invocation's target folder at info, not debug: the debug lines (every
    # SQL statement, ~90 % of the lines) cost ~1 CPU s per `dbt build` of a new day to write
    # (bench/README.md, "Incremental"); the compiled and run SQL stay in the target folder
    args += ["--log-level-file", "info"]
    # no manifest.json or run_results.json in the invocation's target folder: nothing reads
    # them (dagster-dbt reads dbt's events, the definitions the project's `dbt parse`); dbt.log
    # holds each node's result and time. ~0.25 CPU s a step (bench/README.md, "Incremental")
    args += ["--no-write-json"]
    extra = tests_not_buildable(context)
    if extra:
        args += ["--select", " ".join(extra)]
    since, run = {}, ""
    if context.run.tags.get(DBT_TESTS_TAG) == NEW_ROWS and not config.full_refresh:
        run = DAY_RUN
        since = built_up_to(context)
        context.log.info(f"row-level dbt tests on rows ingested after: {since}")
        # unit tests check the SQL on fixed inputs, not the day's data: a full build and
        # `make test` run them (a change of SQL needs a full build anyway)
        args += ["--exclude", "resource_type:unit_test"]
    with _env(TESTS_SINCE_ENV, json.dumps(since)), _env(DBT_RUN_ENV, run):
        invocation = dbt.cli(args, context=context)  # dbt runs with the env as it is here
    try:
        yield from invocation.stream()
    finally:
        keep_partial_parse(invocation.target_path)


PARTIAL_PARSE = PARTIAL_PARSE_FILE_NAME  # the name dagster-dbt seeds an invocation from


def keep_partial_parse(target_path: Path, dest_dir: Path | None = None) -> None:
    """Keep the parse of this `dbt build` for the tree's next one (``dest_dir``, by default
    ``DataPaths.dbt_parse``; ``resources.seed_partial_parse`` seeds each invocation's target
    folder from it). dbt drops a partial parse whose profile changed, and the profile holds the
    data directory (ZHONGTAI_DATA_DIR): kept in the project's target folder, shared by every
    tree (the tests', the benches', the demo's), the parse of a run on another tree made the
    next `dbt build` here parse the whole project again (bench/README.md, "Incremental"). In
    process (``orchestration.dbt_in_process``) only a step that parsed writes one (the first
    of a process, or the first after the tree changed): the parse itself is kept in memory
    for the process's next steps. Replaced atomically: a reader sees the old file or the new
    one; a stale one only costs a parse."""
    made = DBT_PROJECT.project_dir / target_path / PARTIAL_PARSE  # as dagster-dbt resolves it
    if not made.exists():
        return
    dest_dir = dest_dir or paths().dbt_parse
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / PARTIAL_PARSE
    tmp = dest.with_name(f".{PARTIAL_PARSE}.{os.getpid()}")
    shutil.copyfile(made, tmp)
    os.replace(tmp, dest)


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def built_up_to(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Per incremental model this step builds, the newest `ingested_at` it holds before the
    build ({dbt unique_id: timestamp}); models not built yet, and those without the column
    (the order-keyed ones: macros/incremental_orders.sql), are left out (tested whole)."""
    manifest = get_manifest_and_translator_from_dbt_assets([context.assets_def])[0]
    ad = context.assets_def
    warehouse = paths().warehouse
    if not warehouse.exists():
        return {}
    out = {}
    with connect(warehouse, read_only=True) as con:
        tables = {
            (s, t) for s, t in con.execute(
                "select table_schema, table_name from information_schema.columns "
                "where column_name = 'ingested_at'"
            ).fetchall()
        }  # fmt: skip
        for key in context.selected_asset_keys:
            uid = ad.get_asset_spec(key).metadata[DAGSTER_DBT_UNIQUE_ID_METADATA_KEY]
            node = manifest["nodes"].get(uid, {})
            if node.get("config", {}).get("materialized") != "incremental":
                continue
            if (node["schema"], node["alias"]) not in tables:
                continue
            newest = con.execute(
                f'select max(ingested_at) from "{node["schema"]}"."{node["alias"]}"'
            ).fetchone()[0]
            if newest is not None:
                out[uid] = str(newest)
    return out


def tests_not_buildable(context: dg.AssetExecutionContext) -> list[str]:
    """The dbt tests of this step's checks that dbt's `buildable` indirect selection would
    skip: a test reading a lake-fed model that is neither selected nor upstream of the
    selection (``Translator``), e.g. stock snapshots against the locations on a new day. Named
    explicitly, dbt runs them against the model as built before."""
    if not context.is_subset:
        return []
    manifest = get_manifest_and_translator_from_dbt_assets([context.assets_def])[0]
    parents = manifest["parent_map"]
    meta = DAGSTER_DBT_UNIQUE_ID_METADATA_KEY
    ad = context.assets_def
    built = {ad.get_asset_spec(k).metadata[meta] for k in context.selected_asset_keys}
    upstream, todo = set(built), list(built)
    while todo:
        for p in parents.get(todo.pop(), []):
            if p not in upstream:
                upstream.add(p)
                todo.append(p)
    names = []
    for key in context.selected_asset_check_keys:
        uid = ad.get_spec_for_check_key(key).metadata.get(meta)
        if uid and not all(p in upstream or p.startswith("source.") for p in parents.get(uid, [])):
            names.append(manifest["nodes"][uid]["name"])
    return sorted(names)


def full_refresh_config(job: dg.JobDefinition) -> dict:
    """Run config that sets `full_refresh` on every step of the dbt multi-asset in ``job``."""
    ops = {
        name: {"config": {"full_refresh": True}}
        for name in job.graph.node_dict
        if name.startswith(warehouse_models.op.name)
    }
    return {"ops": ops}
