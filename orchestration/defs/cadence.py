"""Assets refreshed on a cadence, not by every new day of landing files.

Model selection, offline evaluation and studies over the whole history (the forecast backtest,
the recommender's time-split evaluation, the omnichannel uplift study, the price elasticities)
do not change much with one more day: an asset
declares its cadence with the tag ``zhongtai/refresh_every_days`` (``every(...)``), the
incremental paths (`zhongtai materialize --incremental`, the lake sensor) leave it out while
its last materialisation is younger than that (``without_fresh``), and the ``weekly_refresh``
schedule runs every tagged asset (and the forecast that reads the backtest's choice). A full
build (`zhongtai materialize`, the daily schedule) runs them all as before. What reads a
left-out asset reads its last table.

The daily forecast is not left out (it must predict from the new day): it keeps its fitted
models between runs and refits them on the same weekly cadence
(``orchestration.defs.forecast.REFIT_EVERY``, ``models/forecast/store.py``). Identity
resolution is not left out either (a new day's identifiers need their customers): it keeps its
trained Splink model and trains again on the same cadence
(``orchestration.defs.identity.RETRAIN_EVERY``, ``models/identity/store.py``)."""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg

REFRESH_TAG = "zhongtai/refresh_every_days"
WEEKLY = dt.timedelta(days=7)


def every(period: dt.timedelta) -> dict[str, str]:
    """The asset tag declaring a cadence (whole days)."""
    return {REFRESH_TAG: str(period.days)}


def cadence_of(graph, key: dg.AssetKey) -> dt.timedelta | None:
    """The cadence an asset declares in ``graph`` (an asset graph), None when it has none."""
    tags = graph.get(key).tags if graph.has(key) else {}
    days = tags.get(REFRESH_TAG)
    return dt.timedelta(days=int(days)) if days else None


def is_due(
    key: dg.AssetKey, period: dt.timedelta, instance: dg.DagsterInstance, now: float | None = None
) -> bool:
    """True when ``key`` was never materialised in ``instance`` or its last materialisation is
    at least ``period`` old."""
    last = instance.get_latest_materialization_event(key)
    if last is None:
        return True
    now = time.time() if now is None else now
    return now - last.timestamp >= period.total_seconds()


def without_fresh(keys, instance: dg.DagsterInstance, graph) -> tuple[set, set]:
    """(``keys`` less the assets whose cadence is not due, the assets left out). A
    multi-asset's outputs share one cadence (Dagster runs them together)."""
    keep, fresh = set(), set()
    for key in keys:
        period = cadence_of(graph, key)
        (fresh if period is not None and not is_due(key, period, instance) else keep).add(key)
    return keep, fresh


# the forecast after the backtest: its fit, every SKU group's predict and the load
_FORECAST = [
    dg.AssetKey(["forecast", k])
    for k in ("forecast_model", "demand_forecast_by_group", "demand_forecast")
]
weekly_refresh_job = dg.define_asset_job(
    "weekly_refresh",
    selection=dg.AssetSelection.tag(REFRESH_TAG, str(WEEKLY.days))
    | dg.AssetSelection.assets(*_FORECAST),
    description="The assets refreshed weekly (tag zhongtai/refresh_every_days=7: the forecast "
    "backtest, the recommender's evaluation, the uplift study, the price elasticities) and the "
    "forecast, on the "
    "warehouse as it is.",
)


@dg.schedule(
    name="weekly_refresh",
    job=weekly_refresh_job,
    cron_schedule="0 5 * * 1",
    execution_timezone="Asia/Shanghai",
    description="Mondays 05:00 Beijing time: what the incremental runs leave out between two "
    "full builds (the forecast over every SKU group, one run).",
)
def weekly_refresh(context: dg.ScheduleEvaluationContext):
    from orchestration.defs.forecast import all_groups_tags

    return dg.RunRequest(run_key=None, tags={**all_groups_tags(), "trigger": "weekly_refresh"})


JOBS = [weekly_refresh_job]
SCHEDULES = [weekly_refresh]
