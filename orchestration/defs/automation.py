"""Jobs, the landing-folder sensor and the daily schedule."""

import hashlib

import dagster as dg

from orchestration.resources import paths

full_graph_job = dg.define_asset_job(
    "full_graph", selection=dg.AssetSelection.all(), description="Every asset and check."
)


def landing_fingerprint() -> tuple[str, int]:
    """A digest of every landing file's path, size and modification time, and the count."""
    root = paths().landing
    h = hashlib.sha256()
    n = 0
    if root.exists():
        for f in sorted(root.rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
                n += 1
    return h.hexdigest(), n


@dg.sensor(
    job=full_graph_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the graph when files in data/landing/ are added or changed.",
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    digest, n = landing_fingerprint()
    if n == 0:
        return dg.SkipReason("data/landing/ is empty")
    if digest == context.cursor:
        return dg.SkipReason(f"no new or changed files among {n}")
    context.update_cursor(digest)
    return dg.RunRequest(run_key=digest, tags={"trigger": "landing_files", "files": str(n)})


daily_full_run = dg.ScheduleDefinition(
    name="daily_full_run",
    job=full_graph_job,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    description="Daily full run at 06:00 Beijing time, after the channels' nightly exports.",
)


def changed_lake_keys(result: dg.ExecuteInProcessResult) -> list[dg.AssetKey]:
    """The lake entities into which the ingest of ``result`` loaded files (new deliveries or
    corrections; a correction with no rows left still changes its entity)."""
    changed = set()
    for ev in result.get_asset_materialization_events():
        mat = ev.step_materialization_data.materialization
        files = mat.metadata.get("loaded_files")
        if files is not None and files.value:
            changed.add(mat.asset_key)
    return sorted(changed, key=lambda k: k.to_user_string())


def incremental_selection(changed: list[dg.AssetKey]) -> dg.AssetSelection:
    """Every asset downstream of the changed lake entities, the lake itself excluded (with the
    other outputs of a multi-asset that cannot run one output alone)."""
    downstream = dg.AssetSelection.assets(*changed).downstream(include_self=False)
    return downstream.required_multi_asset_neighbors()
