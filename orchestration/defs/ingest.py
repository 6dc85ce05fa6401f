"""Ingest: landing files -> canonical Parquet lake, one asset per canonical entity, each
partitioned by channel (one partition per channel spec, ``ingest/specs/<channel>.yml``).

A run for one channel (the landing sensor's) ingests that channel's files alone; a run over
the whole range (the daily schedule, ``zhongtai materialize``, "Materialize all" in the UI,
a single-run backfill) ingests every channel in one step, channels side by side in worker
processes (in the run's own process when the new files are small: a new day;
``ingest.engine.PARALLEL_MIN_BYTES``). Channels share no files: each has its own manifest, its own manifest lock and its
own output names, and every Parquet file is written atomically. Ingest still runs under the
one-writer executor (``orchestration.resources``): the incremental dbt staging models take
the rows ``ingested_at`` after their last build, so an ingest writing while dbt reads the lake
could leave rows behind the watermark; see docs/scale.md for the fan-out this allows and
what it needs. The dbt assets downstream depend on every partition."""

import datetime as dt

import dagster as dg

from ingest.canonical import ENTITIES
from ingest.config import SPECS_DIR
from ingest.engine import ingest_all
from ingest.spec import load_specs_lenient
from orchestration.resources import paths

LAKE_ENTITIES = list(ENTITIES)
QUARANTINE_KEY = dg.AssetKey(["lake", "quarantine"])
# one partition per spec file (its name is its channel; a new spec needs a reload of the code)
CHANNELS = sorted(p.stem for p in SPECS_DIR.glob("*.yml"))
CHANNEL_PARTITIONS = dg.StaticPartitionsDefinition(CHANNELS)
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def lake_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["lake", entity])


LAKE_KEYS = [lake_key(e) for e in LAKE_ENTITIES] + [QUARANTINE_KEY]


def all_channels_tags() -> dict[str, str]:
    """Run tags for one run over every channel partition (a single-run range): what the daily
    schedule and ``zhongtai materialize`` pass for the whole graph."""
    return {RANGE_START: CHANNELS[0], RANGE_END: CHANNELS[-1]}


def selected_channels(context: dg.AssetExecutionContext) -> list[str]:
    """The channels of this run: its partition key or range; every channel when the run has
    no partition (a job launched without one, e.g. from a test)."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return list(CHANNELS)


def run_channels(tags: dict[str, str]) -> list[str]:
    """The channels of a run from its tags (a partition, a range, or none: every channel), for
    the checks of the lake, which check what the run ingested."""
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    if RANGE_START in tags and RANGE_END in tags:
        first, last = CHANNELS.index(tags[RANGE_START]), CHANNELS.index(tags[RANGE_END])
        return CHANNELS[first : last + 1]
    return list(CHANNELS)


# A run with this tag checks only the lake files it loaded (the incremental paths: the landing
# sensor's channel runs, `zhongtai materialize --incremental`); without it, the lake checks read
# the whole lake (a full build, the daily schedule), so a changed rule still sees every row.
LAKE_CHECKS_TAG = "zhongtai/lake_checks"
NEW_FILES = "new_files"


def checks_since(context: dg.AssetCheckExecutionContext) -> dt.datetime | None:
    """For a run tagged ``LAKE_CHECKS_TAG=new_files``: its start, or its root run's for a
    re-execution (UTC, naive, as the manifests write ``ingested_at``), so a lake check reads
    only the files this run loaded; else None (the whole lake)."""
    if context.run.tags.get(LAKE_CHECKS_TAG) != NEW_FILES:
        return None
    # a re-execution (of a failed check, say) checks what its first run loaded
    first = context.run.tags.get("dagster/root_run_id", context.run.run_id)
    record = context.instance.get_run_record_by_id(first)
    started = record.start_time if record is not None else None
    if started is None:  # not started through the run storage: check everything
        return None
    return dt.datetime.fromtimestamp(int(started), dt.UTC).replace(tzinfo=None)


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
    partitions_def=CHANNEL_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ingest_landing_files(context: dg.AssetExecutionContext):
    """Load every new file of the run's channels (ingest/specs/<channel>.yml). Re-runs are
    safe: files already loaded are skipped by content hash."""
    p = paths()
    wanted = set(selected_channels(context))
    totals = {e: 0 for e in LAKE_ENTITIES}
    changed = {e: 0 for e in LAKE_ENTITIES}  # files loaded (new or corrected) per entity
    per_channel, quarantined = {}, 0
    specs, spec_errors = load_specs_lenient()
    specs = {c: s for c, s in specs.items() if c in wanted}
    # an invalid spec fails the runs of its own channel only (the message names its file)
    spec_errors = [e for e in spec_errors if any(f"/{c}.yml:" in e for c in wanted)]
    context.log.info(f"channels: {', '.join(sorted(wanted))}")
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
                "channels": ", ".join(sorted(wanted)),
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
