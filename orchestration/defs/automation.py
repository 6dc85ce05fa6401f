"""Jobs, the landing-folder sensors and the daily schedule.

A new file in ``data/landing/<channel>/`` -> ``landing_files_sensor`` requests one ingest run
for that channel's partition (job ``ingest_channels``), one run per changed channel ->
``lake_files_sensor`` sees lake entities into which those runs loaded files and, once no
ingest run is queued or running, requests one run of only what is downstream of them. The
daily schedule and ``zhongtai materialize`` build everything over every channel.

One run cannot span two partitions definitions (the lake's channels, the forecast's SKU
groups), so a selection that holds both is two runs (``run_plan``): first everything that is
not downstream of the SKU-group partitions, over the channel range; then the SKU-group range
with what is downstream of it. ``zhongtai materialize`` runs them one after the other; the
schedule and the lake sensor request the first with the second's selection in a tag
(``THEN_TAG``), and ``then_sku_groups_sensor`` requests the second when the first succeeded."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from orchestration.defs.cadence import without_fresh
from orchestration.defs.forecast import (
    DEMAND_FORECAST_BY_GROUP,
    SKU_GROUP_PARTITIONS,
    all_groups_tags,
)
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

# the second run's selection, asset keys joined by THEN_SEP, on a run that has one
THEN_TAG = "zhongtai/then_select"
THEN_SEP = ","


def run_tags(keys) -> dict[str, str]:
    """The partition range tags of a run of ``keys``: every channel when it ingests, every
    SKU group when it predicts by group (never both: ``run_plan`` splits them)."""
    keys = set(keys)
    tags = all_channels_tags() if keys & set(LAKE_KEYS) else {}
    if DEMAND_FORECAST_BY_GROUP in keys:
        if tags:
            raise ValueError("one run cannot span the channel and the SKU-group partitions")
        tags = all_groups_tags()
    return tags


def run_plan(keys, graph) -> list[tuple[set[dg.AssetKey], dict[str, str]]]:
    """The runs that materialise ``keys`` (in order) with their tags: what is downstream of
    the SKU-group partitions (themselves included) in a second run, the rest in a first."""
    keys = set(keys)
    later = keys & dg.AssetSelection.assets(DEMAND_FORECAST_BY_GROUP).downstream().resolve(graph)
    if DEMAND_FORECAST_BY_GROUP not in keys:
        later = set()  # no partitioned predict selected: one run
    runs = [(part, run_tags(part)) for part in (keys - later, later) if part]
    return runs


def then_tag(keys) -> dict[str, str]:
    """The tag that asks ``then_sku_groups_sensor`` for a run of ``keys`` after this one."""
    return {THEN_TAG: THEN_SEP.join(sorted(k.to_user_string() for k in keys))} if keys else {}


def chained_request(keys, graph, run_key: str | None, tags: dict[str, str]) -> dg.RunRequest:
    """The request of the first run of ``keys`` (``run_plan``), the second's in its tag."""
    plan = run_plan(keys, graph)
    first, first_tags = plan[0]
    then = plan[1][0] if len(plan) > 1 else set()
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=sorted(first, key=lambda k: k.to_user_string()),
        tags={**first_tags, **tags, **then_tag(then)},
    )


_BY_GROUP_ON = dg.AssetSelection.assets(DEMAND_FORECAST_BY_GROUP).downstream()
# an asset job spans one partitions definition: the whole graph is these two jobs
full_graph_job = dg.define_asset_job(
    "full_graph",
    selection=dg.AssetSelection.all() - _BY_GROUP_ON,
    description="Every asset and check but the forecast's SKU-group predict and what follows "
    "it (job forecast_by_sku_group, requested after this one by then_sku_groups_sensor).",
)
sku_groups_job = dg.define_asset_job(
    "forecast_by_sku_group",
    selection=_BY_GROUP_ON,
    partitions_def=SKU_GROUP_PARTITIONS,
    description="The forecast's predict per SKU group (a partition; a range in one run, a "
    "backfill one run per partition side by side) and what is downstream of it.",
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
    keys, _ = incremental_keys(changed, context.instance, graph)
    return chained_request(
        keys,
        graph,
        f"lake:{newest}",
        {
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
    "every channel partition and every asset, in two runs (the SKU-group partitions of the "
    "forecast after the rest, requested by then_sku_groups_sensor).",
)
def daily_full_run(context: dg.ScheduleEvaluationContext):
    graph = context.repository_def.asset_graph
    keys = dg.AssetSelection.all().resolve(graph)
    return chained_request(keys, graph, None, {"trigger": "daily_full_run"})


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[full_graph_job],
    request_job=sku_groups_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a run that names a second run in its tag zhongtai/then_select (the "
    "daily schedule's, the lake sensor's) succeeded: that run, over every SKU group.",
)
def then_sku_groups_sensor(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    return then_request(run.run_id, run.tags) or dg.SkipReason(
        f"run {run.run_id[:8]} names no second run"
    )


def then_request(run_id: str, tags: dict[str, str]) -> dg.RunRequest | None:
    """The second run a succeeded run names in its ``THEN_TAG`` (None: it names none)."""
    then = tags.get(THEN_TAG)
    if not then:
        return None
    keys = [dg.AssetKey.from_user_string(k) for k in then.split(THEN_SEP)]
    inherited = {k: v for k, v in tags.items() if k in ("trigger", "entities", DBT_TESTS_TAG)}
    return dg.RunRequest(
        run_key=f"then:{run_id}",
        asset_selection=keys,
        tags={**inherited, **run_tags(keys), "after_run": run_id},
    )


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


def incremental_keys(
    changed: list[dg.AssetKey], instance: dg.DagsterInstance, graph
) -> tuple[set[dg.AssetKey], set[dg.AssetKey]]:
    """(What a run after an ingest materialises, what it leaves out as not due on its cadence).

    Every asset downstream of the changed lake entities (``incremental_selection``), and every
    asset they read that was never materialised in ``instance``: on the first files of a new
    instance (``dagster dev``, files dropped in data/landing/), models fed by no lake entity
    (the seeds' reference models, such as the monthly FX rates the orders are converted with)
    have never been built, and a run of the downstream alone fails on their missing tables.
    The lake itself is the ingest runs' work and never added here. Less what is not due on its
    cadence (``cadence.without_fresh``)."""
    keys = incremental_selection(changed).resolve(graph)
    read = dg.AssetSelection.assets(*keys).upstream().resolve(graph) - keys - set(LAKE_KEYS)
    missing = {
        k
        for k in read
        if graph.get(k).is_materializable and instance.get_latest_materialization_event(k) is None
    }
    if missing:
        selection = dg.AssetSelection.assets(*keys, *missing).required_multi_asset_neighbors()
        keys = selection.resolve(graph) - set(LAKE_KEYS)
    return without_fresh(keys, instance, graph)
