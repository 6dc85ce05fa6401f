"""Ingest: landing files -> canonical Parquet lake, one asset per canonical entity."""

import dagster as dg

from ingest.canonical import ENTITIES
from ingest.engine import ingest_all
from ingest.spec import load_specs_lenient
from orchestration.resources import paths

LAKE_ENTITIES = list(ENTITIES)
QUARANTINE_KEY = dg.AssetKey(["lake", "quarantine"])


def lake_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["lake", entity])


@dg.multi_asset(
    specs=[
        *(
            dg.AssetSpec(
                lake_key(e),
                group_name="lake",
                kinds={"parquet", "polars"},
                description=f"Canonical `{e}` rows from every channel: data/lake/raw/{e}/",
            )
            for e in LAKE_ENTITIES
        ),
        dg.AssetSpec(
            QUARANTINE_KEY,
            group_name="lake",
            kinds={"parquet"},
            description="Every rejected landing row with its file, row and reason: "
            "data/lake/quarantine/",
        ),
    ],
    name="ingest_landing_files",
)
def ingest_landing_files(context: dg.AssetExecutionContext):
    """Load every new file of every channel spec (ingest/specs/*.yml). Re-runs are safe:
    files already loaded are skipped by content hash."""
    p = paths()
    totals = {e: 0 for e in LAKE_ENTITIES}
    changed = {e: 0 for e in LAKE_ENTITIES}  # files loaded (new or corrected) per entity
    per_channel, quarantined = {}, 0
    specs, spec_errors = load_specs_lenient()
    for channel, report in sorted(ingest_all(specs, p).items()):
        for entity, n in report.kept.items():
            totals[entity] += n
        for outcome in report.files:
            if outcome.status == "loaded":
                for entity in outcome.kept:
                    changed[entity] = changed.get(entity, 0) + 1
        quarantined += report.quarantined
        per_channel[channel] = {
            "loaded": report.count("loaded"),
            "unchanged": report.count("unchanged"),
            "duplicate_deliveries": report.count("duplicate"),
            "superseded": report.count("superseded"),
            "quarantined_rows": report.quarantined,
        }
        context.log.info(f"{channel}: {per_channel[channel]}")
    for entity in LAKE_ENTITIES:
        yield dg.MaterializeResult(
            asset_key=lake_key(entity),
            metadata={
                "new_rows": totals[entity],
                "loaded_files": changed[entity],
                "path": str(p.lake_raw / entity),
            },
        )
    if spec_errors:  # the good channels are loaded; the run still fails, naming the bad spec
        raise dg.Failure(
            description="invalid channel spec(s):\n" + "\n".join(spec_errors),
            metadata={"loaded_channels": dg.MetadataValue.json(per_channel)},
        )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE_KEY,
        metadata={
            "new_quarantined_rows": quarantined,
            "by_channel": dg.MetadataValue.json(per_channel),
            "path": str(p.quarantine),
        },
    )
