"""Tags, segments and their exports as assets: one asset per definition file, so a bad file
fails its own asset (with the file, line and what is wrong) and the others still run.

- ``customer_tags/<file>``: the tags of ``profiles/tags/<file>.yml`` (rows of
  ``segments.customer_tags``);
- ``segment_members/<segment>``: membership of ``profiles/segments/<segment>.yml`` with SCD2
  history (``segments.segment_members``), its size over time as metadata and a PNG;
- ``segment_exports/<segment>``: consent-filtered files for each destination.

The logic is in ``models/segments/``. Edges come from the files, read leniently at load time
(a segment depends on the tag files whose tags it names), so the graph exists even when a
file is invalid.
"""

import time

import dagster as dg

from ingest.config import connect
from models.segments.contract import customer_contract
from models.segments.exports import ExportRun, export_segment
from models.segments.registry import (
    PROFILES_DIR,
    Loaded,
    Profiles,
    load_all,
    referenced_tags,
    segment_files,
    tag_files,
)
from models.segments.run import compute_tag_file, plot_sizes, refresh_segment
from models.segments.store import as_of_date, current_members, now, runs
from models.segments.yamlfile import DefinitionError, display_path
from orchestration.resources import paths

GROUP = "segments"
CUSTOMERS = dg.AssetKey(["marts", customer_contract().model])
FACTS = [
    dg.AssetKey(["marts", "fct_orders"]),
    dg.AssetKey(["marts", "fct_order_lines"]),
    dg.AssetKey(["staging", "stg_lake__events"]),
    dg.AssetKey(["staging", "stg_lake__products"]),
    dg.AssetKey(["identity", "customer_identifiers"]),
]
CONSENT_INPUTS = [
    dg.AssetKey(["intermediate", "int_customer_consents"]),
    dg.AssetKey(["identity", "customer_identifiers"]),
]


def _find(profiles: Profiles, kind: str, name: str) -> Loaded:
    items = profiles.tag_files if kind == "tags" else profiles.segments
    for item in items:
        if item.name == name:
            return item
    raise dg.Failure(description=f"profiles/{kind}/{name}.yml no longer exists")


def _require(item: Loaded) -> None:
    """A definition error fails the asset with the file, line and message as its description."""
    if item.error is not None:
        raise dg.Failure(
            description=f"{display_path(item.path)} is invalid:\n{item.error}",
            metadata={"issues": dg.MetadataValue.json([str(i) for i in item.error.issues])},
            allow_retries=False,
        )


def tag_asset(path, root=PROFILES_DIR) -> dg.AssetsDefinition:
    stem = path.stem

    @dg.asset(
        key=dg.AssetKey(["customer_tags", stem]),
        group_name=GROUP,
        deps=[CUSTOMERS, *FACTS],
        kinds={"duckdb"},
        description=f"Tags of profiles/tags/{stem}.yml, rows of segments.customer_tags "
        "(customer_id, tag, value, computed_at)",
    )
    def _tags(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        t0 = time.perf_counter()
        item = _find(load_all(root), "tags", stem)
        _require(item)
        with connect(paths().warehouse) as con:
            as_of = as_of_date(con)
            rows = compute_tag_file(con, item, as_of, now())
        counts = rows.group_by("tag", "value").len().sort("tag", "value")
        per_tag = {f"{t}={v}": n for t, v, n in counts.iter_rows()}
        context.log.info(f"{stem}: {rows.height} tag rows")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows.height,
                "customers_tagged": rows["customer_id"].n_unique() if rows.height else 0,
                "as_of": as_of.isoformat(),
                "definition_sha256": item.sha256,
                "tag_values": dg.MetadataValue.json(per_tag),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )

    return _tags


def segment_asset(path, tag_file_of: dict[str, str], root=PROFILES_DIR) -> dg.AssetsDefinition:
    name = path.stem
    tag_deps = sorted({tag_file_of[t] for t in referenced_tags(path) if t in tag_file_of})

    @dg.asset(
        key=dg.AssetKey(["segment_members", name]),
        group_name=GROUP,
        deps=[CUSTOMERS, *[dg.AssetKey(["customer_tags", f]) for f in tag_deps]],
        kinds={"duckdb"},
        description=f"Members of profiles/segments/{name}.yml with history (SCD2 rows of "
        "segments.segment_members: valid_from, valid_to); size over time in segments.segment_runs",
    )
    def _segment(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        item = _find(load_all(root), "segment", name)
        _require(item)
        p = paths()
        with connect(p.warehouse) as con:
            as_of = as_of_date(con)
            _, change = refresh_segment(con, item, as_of, now())
            history = runs(con, name)
            png = plot_sizes(con, name, p.exports / "segments" / name / "sizes.png")
        table = (
            "| run_at (UTC) | as_of | members | joined | left |\n| --- | --- | --- | --- | --- |\n"
        )
        table += "\n".join(
            f"| {r['run_at']:%Y-%m-%d %H:%M:%S} | {r['as_of']} | {r['members']} | {r['joined']} "
            f"| {r['left']} |"
            for r in history.tail(20).iter_rows(named=True)
        )
        context.log.info(f"{name}: {change}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": change.members,
                "members": change.members,
                "joined": change.joined,
                "left": change.left,
                "as_of": as_of.isoformat(),
                "definition_sha256": item.sha256,
                "sizes_over_time": dg.MetadataValue.md(table),
                "sizes_plot": dg.MetadataValue.path(str(png)),
            }
        )

    return _segment


def export_asset(path, root=PROFILES_DIR) -> dg.AssetsDefinition:
    name = path.stem

    @dg.asset(
        key=dg.AssetKey(["segment_exports", name]),
        group_name=GROUP,
        deps=[dg.AssetKey(["segment_members", name]), *CONSENT_INPUTS],
        kinds={"csv", "parquet"},
        description=f"Consent-filtered exports of segment {name} to each destination: "
        f"data/exports/segments/{name}/<date>/<destination>/ (snapshot, added, removed, "
        "manifest) and a row per export in data/exports/segments/audit_log.csv",
    )
    def _export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        item = _find(load_all(root), "segment", name)
        _require(item)
        p = paths()
        with connect(p.warehouse, read_only=True) as con:
            members = current_members(con, name)
            run = ExportRun(
                item.definition,
                members,
                p.exports / "segments",
                now(),
                as_of_date(con),
                item.sha256,
                display_path(item.path),
                actor=f"dagster run {context.run_id}",
            )
            results = export_segment(con, run)
        return dg.MaterializeResult(
            metadata={
                "members": len(members),
                "exports": dg.MetadataValue.json([r.metadata() for r in results]),
                **{f"rows_{r.destination}": r.rows for r in results},
                **{f"removed_{r.destination}": r.removed for r in results},
            }
        )

    return _export


def build_assets(root=PROFILES_DIR) -> list[dg.AssetsDefinition]:
    """One asset per tag file, and a membership and an export asset per segment file of the
    profiles folder ``root``."""
    profiles = Profiles(
        tag_files=[Loaded(p, "tags") for p in tag_files(root)],
        segments=[Loaded(p, "segment") for p in segment_files(root)],
    )
    owner = profiles.tag_file_of()
    out = [tag_asset(p, root) for p in tag_files(root)]
    for p in segment_files(root):
        out += [segment_asset(p, owner, root), export_asset(p, root)]
    return out


ASSETS = build_assets()
CHECKS: list = []

__all__ = ["ASSETS", "CHECKS", "DefinitionError"]
