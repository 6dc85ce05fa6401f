"""Calendar and retail-event features for any range of dates, computed from rules.

Public holidays come from the ``holidays`` package (China and the United States); the
retail events by their rule, never a per-year list: Double 11 (11 Nov), 618 (18 Jun),
12.12, 3.8 and 5.20 on fixed days; Black Friday the day after the fourth Thursday of
November and Cyber Monday three days later. Each event gives a flag and a signed distance in
days (clipped to +-30) to its nearest occurrence, so a model sees the build-up before an
event and the lull after it.
"""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np
import polars as pl

CLIP = 30


def black_friday(year: int) -> dt.date:
    """The day after the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


EVENTS = {
    "double11": lambda y: dt.date(y, 11, 11),
    "e618": lambda y: dt.date(y, 6, 18),
    "double12": lambda y: dt.date(y, 12, 12),
    "women38": lambda y: dt.date(y, 3, 8),
    "e520": lambda y: dt.date(y, 5, 20),
    "black_friday": black_friday,
    "cyber_monday": lambda y: black_friday(y) + dt.timedelta(days=3),
}


def _distance(days: np.ndarray, occurrences: np.ndarray) -> np.ndarray:
    """Signed days from each day to its nearest occurrence (negative: before it)."""
    idx = np.searchsorted(occurrences, days)
    after = occurrences[np.clip(idx, 0, len(occurrences) - 1)]
    before = occurrences[np.clip(idx - 1, 0, len(occurrences) - 1)]
    d_after = days - after
    d_before = days - before
    return np.where(np.abs(d_before) < np.abs(d_after), d_before, d_after)


def calendar_features(dates: list[dt.date] | np.ndarray, freq: str = "D") -> pl.DataFrame:
    """One row per date: ``ds`` and the calendar and event columns. For weekly data (``W``)
    each date stands for the 7 days from it: flags become counts of event days in the week
    and distances are measured from its middle."""
    ds = pl.Series("ds", list(dates), dtype=pl.Date)
    if ds.len() == 0:
        return pl.DataFrame({"ds": ds})
    years = range(ds.min().year - 1, ds.max().year + 2)
    cn = holidays.country_holidays("CN", years=years)
    us = holidays.country_holidays("US", years=years)
    span = 7 if freq == "W" else 1
    epoch = ds.cast(pl.Int32).to_numpy().astype(np.int64)
    cols: dict[str, np.ndarray] = {}

    def days_in_period(is_day) -> np.ndarray:
        out = np.zeros(len(epoch))
        for k in range(span):
            out += np.fromiter(
                (is_day(dt.date(1970, 1, 1) + dt.timedelta(days=int(e + k))) for e in epoch),
                float,
                len(epoch),
            )
        return out

    cols["holiday_cn"] = days_in_period(lambda d: d in cn)
    cols["holiday_us"] = days_in_period(lambda d: d in us)
    mid = epoch + (span // 2)
    for name, rule in EVENTS.items():
        occ = np.array(sorted((rule(y) - dt.date(1970, 1, 1)).days for y in years), np.int64)
        dist = _distance(mid, occ)
        cols[f"{name}_days"] = np.clip(dist, -CLIP, CLIP).astype(float)
        cols[f"{name}"] = (np.abs(dist) <= span // 2).astype(float)
    frame = pl.DataFrame({"ds": ds, **cols})
    frame = frame.with_columns(
        month=pl.col("ds").dt.month().cast(pl.Float64),
        week=pl.col("ds").dt.week().cast(pl.Float64),
    )
    if freq == "D":
        frame = frame.with_columns(
            dow=pl.col("ds").dt.weekday().cast(pl.Float64),
            dom=pl.col("ds").dt.day().cast(pl.Float64),
            doy=pl.col("ds").dt.ordinal_day().cast(pl.Float64),
        )
    return frame
