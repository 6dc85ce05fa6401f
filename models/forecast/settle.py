"""Which days of data are settled: the forecast's fits train only on targets up to the day the
data is complete through, not up to the cutoff.

Some channels deliver their orders late (weekly marketplace exports: Douyin, JD, Amazon, the
Tmall batch export; their channel specs in ``ingest/specs/``), so on the day a model is fitted the
last days before the cutoff hold only the channels that deliver daily. A fit that trains on
those days learns a demand that is too low and, stored (``models.forecast.store``), keeps that
shortfall until it is refitted.

The rule (``settle_days: auto``), from the data alone: per source stream (a sales channel), its
last delivered business day is the last day it has any order line. A stream is *active* when
that day is within ``active_within`` days of the cutoff; the data is complete through the
earliest last day of the active streams (never after the cutoff). A stream that stopped
delivering longer ago than that (a closed shop, a channel the brand left) is ignored, so it
does not freeze the date. No active stream: complete through the cutoff. The lag is capped at
``max_lag`` days (14: two weekly exports): a sparse stream whose last sale is weeks old by
chance, or a monthly one, must not take weeks of every other stream's targets out of the fit;
the reason says when the cap applied. ``settle_days: N``
fixes the lag at ``N`` days instead (0: train up to the cutoff, as before this rule).

The lag (cutoff minus the completeness day, in periods) goes into
``ModelSettings.settle_lag``: every fit (``models.forecast.model.training_rows``: the in-run
fit, the stored fit and each backtest fold, whose origins thus keep today's delivery lag) then
ends its training targets that many periods before its cutoff, and its calibration slice
(CQR, conformal) scores only targets up to the same day. Features at prediction time still
read everything up to the cutoff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

AUTO = "auto"
# a stream whose last delivered day is more than this many days before the cutoff has stopped
# delivering (weekly exports are at most ~2 weeks late), so it is not waited for
ACTIVE_WITHIN = 28
# the most days the automatic rule holds training targets back
MAX_LAG = 14


class SettleError(ValueError):
    """A settle setting that cannot be read; the message names the field and the value."""


def parse_settle_days(value, field: str = "settle_days") -> int | None:
    """``"auto"`` -> None (derive the lag from the data); a whole number of days >= 0 (an int
    or its string) -> that number. Anything else: :class:`SettleError` naming ``field``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return None
        if text.lstrip("+").isdigit():
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise SettleError(f"{field}: expected {AUTO!r} or a whole number of days >= 0, got {value!r}")


@dataclass(frozen=True)
class Settled:
    """The day the data is complete through, its lag behind the cutoff and why."""

    complete_through: dt.date
    lag_days: int
    reason: str

    def metadata(self) -> dict:
        return {
            "complete_through": str(self.complete_through),
            "settle_lag_days": self.lag_days,
            "settle_reason": self.reason,
        }


def last_delivered(records: pl.DataFrame, stream: str = "channel", day: str = "ds") -> dict:
    """``{stream: last day}`` of ``records`` (one row per delivered record, or per distinct
    stream x day); rows without a stream or a day are not counted."""
    last = (
        records.select(pl.col(stream).cast(pl.String), pl.col(day))
        .drop_nulls()
        .group_by(stream)
        .agg(pl.col(day).max())
    )
    return dict(zip(last[stream].to_list(), last[day].to_list(), strict=True))


def complete_through(
    last_days: dict,
    cutoff: dt.date,
    active_within: int = ACTIVE_WITHIN,
    max_lag: int = MAX_LAG,
) -> Settled:
    """The ``auto`` rule (module docstring) on ``{stream: last delivered day}``."""
    if active_within < 0:
        raise SettleError(f"settle_active_days: expected >= 0, got {active_within}")
    if max_lag < 0:
        raise SettleError(f"settle_max_days: expected >= 0, got {max_lag}")
    horizon = cutoff - dt.timedelta(days=active_within)
    active = {k: min(v, cutoff) for k, v in last_days.items() if v is not None and v >= horizon}
    stopped = sorted(k for k, v in last_days.items() if v is not None and v < horizon)
    ignored = (
        f"; ignored (no delivery in {active_within} days): {', '.join(stopped)}" if stopped else ""
    )
    if not active:
        return Settled(cutoff, 0, f"no stream delivered in the last {active_within} days{ignored}")
    day = min(active.values())
    behind = sorted(k for k, v in active.items() if v == day)
    if day == cutoff:
        reason = f"every active stream ({len(active)}) delivered through the cutoff{ignored}"
    else:
        reason = f"{', '.join(behind)} delivered only through {day}{ignored}"
    if (cutoff - day).days > max_lag:
        day = cutoff - dt.timedelta(days=max_lag)
        reason += f"; lag capped at {max_lag} days"
    return Settled(day, (cutoff - day).days, reason)


def settle(
    settle_days,
    last_days: dict,
    cutoff: dt.date,
    active_within: int = ACTIVE_WITHIN,
    max_lag: int = MAX_LAG,
) -> Settled:
    """The completeness of data ending at ``cutoff`` under the setting ``settle_days``
    (``"auto"`` or N, :func:`parse_settle_days`)."""
    fixed = parse_settle_days(settle_days)
    if fixed is None:
        return complete_through(last_days, cutoff, active_within, max_lag)
    return Settled(cutoff - dt.timedelta(days=fixed), fixed, f"settle_days fixed at {fixed}")
