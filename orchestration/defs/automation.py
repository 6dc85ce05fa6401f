"""Jobs, the landing-folder sensors and the daily schedule.

A new file in ``data/landing/<channel>/`` -> ``landing_files_sensor`` requests one ingest run
for that channel's partition (job ``ingest_channels``), one run per changed channel ->
``lake_files_sensor`` sees lake entities into which those runs loaded files and, once no
ingest run is queued or running, requests one run of only what is downstream of them. The
daily schedule and ``zhongtai materialize`` build everything in one run over every channel."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from orchestration.defs.cadence import without_fresh
from orchestration.defs.ingest import (
    CHANNEL_PARTITIONS,
    CHANNELS,
    LAKE_CHECKS_TAG,
    LAKE_KEYS,
    NEW_FILES,
    all_channels_tags,
)
from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS
from orchestration.resources import paths

full_graph_job = dg.define_asset_job(
    "full_graph", selection=dg.AssetSelection.all(), description="Every asset and check."
)
ingest_job = dg.define_asset_job(
    "ingest_channels",
    selection=dg.AssetSelection.assets(*LAKE_KEYS),
    partitions_def=CHANNEL_PARTITIONS,
    description="Ingest the landing files of one channel (a partition) into the lake.",
)

_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def channel_fingerprints() -> dict[str, str]:
    """Per channel with files in data/landing/<channel>/: a digest of every file's path, size
    and modification time."""
    root = paths().landing
    out = {}
    for channel in CHANNELS:
        folder = root / channel
        h, n = hashlib.sha256(), 0
        if folder.exists():
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    st = f.stat()
                    h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
                    n += 1
        if n:
            out[channel] = h.hexdigest()
    return out


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One ingest run per channel whose files in data/landing/<channel>/ were "
    "added or changed; its lake checks read the files it loaded.",
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    now = channel_fingerprints()
    if not now:
        return dg.SkipReason("data/landing/ has no files of any channel")
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(c for c, digest in now.items() if seen.get(c) != digest)
    if not changed:
        return dg.SkipReason(f"no new or changed files in {len(now)} channel folders")
    context.update_cursor(json.dumps(now, sort_keys=True))
    return [
        dg.RunRequest(
            run_key=f"{c}:{now[c]}",
            partition_key=c,
            tags={"trigger": "landing_files", "channel": c, LAKE_CHECKS_TAG: NEW_FILES},
        )
        for c in changed
    ]


def loaded_files(mat: dg.AssetMaterialization) -> bool:
    """Whether a lake entity's materialisation loaded files (its ``loaded_files`` metadata):
    new deliveries or corrections; a correction with no rows left still changes its entity."""
    files = mat.metadata.get("loaded_files")
    return files is not None and bool(files.value)


def _loaded_since(instance: dg.DagsterInstance, after: int) -> tuple[list[dg.AssetKey], int]:
    """The lake entities into which ``ingest_channels`` runs loaded files after event
    storage id ``after``, and the newest storage id seen."""
    changed, newest, jobs = set(), after, {}
    for key in LAKE_KEYS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=10_000
        ).records
        for rec in records:
            newest = max(newest, rec.storage_id)
            if rec.run_id not in jobs:
                run = instance.get_run_by_id(rec.run_id)
                jobs[rec.run_id] = run.job_name if run else None
            if jobs[rec.run_id] == ingest_job.name and loaded_files(rec.asset_materialization):
                changed.add(key)
    return sorted(changed, key=lambda k: k.to_user_string()), newest


@dg.sensor(
    job=full_graph_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After the channel ingest runs: one run of only the assets downstream of the "
    "lake entities that got files (as `zhongtai materialize --incremental`).",
)
def lake_files_sensor(context: dg.SensorEvaluationContext):
    busy = context.instance.get_runs(
        dg.RunsFilter(job_name=ingest_job.name, statuses=_IN_FLIGHT), limit=1
    )
    if busy:
        return dg.SkipReason(f"waiting for ingest run {busy[0].run_id[:8]}")
    after = int(context.cursor or 0)
    changed, newest = _loaded_since(context.instance, after)
    context.update_cursor(str(newest))
    if not changed:
        return dg.SkipReason("no lake entity got files from an ingest run")
    graph = context.repository_def.asset_graph
    keys, _ = without_fresh(incremental_selection(changed).resolve(graph), context.instance, graph)
    return dg.RunRequest(
        run_key=f"lake:{newest}",
        asset_selection=sorted(keys, key=lambda k: k.to_user_string()),
        tags={
            "trigger": "lake_files",
            "entities": ",".join(k.path[-1] for k in changed),
            DBT_TESTS_TAG: NEW_ROWS,
        },
    )


@dg.schedule(
    name="daily_full_run",
    job=full_graph_job,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    description="Daily full run at 06:00 Beijing time, after the channels' nightly exports: "
    "every channel partition and every asset in one run.",
)
def daily_full_run(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=None, tags={**all_channels_tags(), "trigger": "daily_full_run"})


def changed_lake_keys(result: dg.ExecuteInProcessResult) -> list[dg.AssetKey]:
    """The lake entities into which the ingest of ``result`` loaded files (new deliveries or
    corrections; a correction with no rows left still changes its entity)."""
    changed = set()
    for ev in result.get_asset_materialization_events():
        mat = ev.step_materialization_data.materialization
        if loaded_files(mat):
            changed.add(mat.asset_key)
    return sorted(changed, key=lambda k: k.to_user_string())


def incremental_selection(changed: list[dg.AssetKey]) -> dg.AssetSelection:
    """Every asset downstream of the changed lake entities, the lake itself excluded (with the
    other outputs of a multi-asset that cannot run one output alone)."""
    downstream = dg.AssetSelection.assets(*changed).downstream(include_self=False)
    return downstream.required_multi_asset_neighbors()
