"""A long frame (``unique_id``, ``ds``, ``y``, exogenous columns) as a dense panel.

The panel is a series x period matrix on one regular calendar (daily, or weekly on one
weekday). A missing value (``NaN``) means "no usable observation": a gap in the input, a
period before the series starts, or a censored period (zero sales while out of stock is not
zero demand). Censored periods are masked, never filled: the model does not train on them,
lag features skip them, and the metrics do not score them.

Every malformed input raises :class:`FrameError` naming the file, the column and the first
offending row, and nothing is silently dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

FREQS = {"D": 1, "W": 7}
SEASON = {"D": 7, "W": 52}


class FrameError(ValueError):
    """Bad input: the message names the file, the column and the first offending row."""


@dataclass
class Panel:
    ids: pl.Series  # the unique_id of each row, in the input's type
    start: dt.date  # the date of period 0
    freq: str  # "D" or "W"
    y: np.ndarray  # float64, series x periods; NaN = not observed (gap, censored, not live)
    future_exog: dict[str, np.ndarray] = field(default_factory=dict)  # known at the target
    past_exog: dict[str, np.ndarray] = field(default_factory=dict)  # known only up to anchor
    static: dict[str, np.ndarray] = field(default_factory=dict)  # int codes per series
    static_labels: dict[str, list] = field(default_factory=dict)

    @property
    def step(self) -> int:
        return FREQS[self.freq]

    @property
    def season(self) -> int:
        return SEASON[self.freq]

    @property
    def n_series(self) -> int:
        return self.y.shape[0]

    @property
    def n_periods(self) -> int:
        return self.y.shape[1]

    def date(self, t: int | np.ndarray):
        """Date(s) of period index t (may lie beyond the panel, for future periods)."""
        if isinstance(t, np.ndarray):
            base = np.datetime64(self.start, "D")
            return base + (t.astype(np.int64) * self.step).astype("timedelta64[D]")
        return self.start + dt.timedelta(days=int(t) * self.step)

    def dates(self, n_extra: int = 0) -> list[dt.date]:
        return [self.date(t) for t in range(self.n_periods + n_extra)]


def read_frame(path) -> pl.DataFrame:
    """A Parquet or CSV file as a polars frame (CSV: every column as text, typed later so
    that an unreadable cell is reported with its row)."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise FrameError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            sep = "\t" if suffix == ".tsv" else ","
            return pl.read_csv(path, separator=sep, infer_schema=False)
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path)
    except Exception as exc:  # the reader's own message, with the file named
        raise FrameError(f"{path}: cannot read: {exc}") from exc
    raise FrameError(f"{path}: unknown format {suffix!r} (use .parquet or .csv)")


def _first_bad(mask: pl.Series) -> int:
    return int(mask.arg_true()[0]) + 1


def _as_dates(col: pl.Series, source: str) -> pl.Series:
    if col.dtype == pl.Date:
        out = col
    elif col.dtype == pl.Datetime:
        out = col.dt.date()
    else:
        text = col.cast(pl.String).str.strip_chars()
        out = text.str.to_date(strict=False)
        if out.null_count() > text.null_count():  # maybe datetimes
            alt = text.str.to_datetime(strict=False).dt.date()
            out = out.fill_null(alt)
        bad = out.is_null() & text.is_not_null()
        if bad.any():
            row = _first_bad(bad)
            raise FrameError(
                f"{source}: column {col.name!r}, row {row}: {text[row - 1]!r} is not a date"
            )
    if out.null_count():
        raise FrameError(
            f"{source}: column {col.name!r}, row {_first_bad(out.is_null())}: empty date"
        )
    return out


def _as_float(col: pl.Series, source: str) -> pl.Series:
    if col.dtype.is_numeric():
        return col.cast(pl.Float64)
    if col.dtype == pl.Boolean:
        return col.cast(pl.Float64)
    text = col.cast(pl.String).str.strip_chars()
    text = pl.Series(col.name, text).replace({"": None, "NA": None, "nan": None, "NaN": None})
    out = text.cast(pl.Float64, strict=False)
    bad = out.is_null() & text.is_not_null()
    if bad.any():
        row = _first_bad(bad)
        raise FrameError(
            f"{source}: column {col.name!r}, row {row}: {text[row - 1]!r} is not a number"
        )
    return out


def _as_bool(col: pl.Series, source: str) -> pl.Series:
    if col.dtype == pl.Boolean:
        return col.fill_null(False)
    if col.dtype.is_numeric():
        return (col.fill_null(0) != 0).alias(col.name)
    text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
    truthy, falsy = {"true", "t", "1", "yes", "y"}, {"false", "f", "0", "no", "n", ""}
    bad = text.is_not_null() & ~text.is_in(list(truthy | falsy))
    if bad.any():
        row = _first_bad(bad)
        raise FrameError(
            f"{source}: column {col.name!r}, row {row}: {text[row - 1]!r} is not a boolean"
        )
    return text.is_in(list(truthy)).fill_null(False).alias(col.name)


def make_panel(
    frame: pl.DataFrame,
    freq: str = "D",
    *,
    future_exog: list[str] | tuple = (),
    past_exog: list[str] | tuple = (),
    static: list[str] | tuple = (),
    censored: str | None = "censored",
    source: str = "input",
) -> Panel:
    """The dense panel of a long frame. ``y`` null or ``censored`` true marks a period as not
    observed. ``future_exog`` columns are known for the target period (prices, planned
    promotions); ``past_exog`` only up to the forecast origin (footfall, weather);
    ``static`` columns are per-series categories (first value of each series)."""
    if freq not in FREQS:
        raise FrameError(f"{source}: frequency {freq!r} is not one of {sorted(FREQS)}")
    need = ["unique_id", "ds", "y", *future_exog, *past_exog, *static]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise FrameError(f"{source}: missing column(s) {missing}; the file has {frame.columns}")
    if frame.height == 0:
        raise FrameError(f"{source}: no rows")
    ids = frame["unique_id"]
    if ids.null_count():
        raise FrameError(f"{source}: column 'unique_id', row {_first_bad(ids.is_null())}: empty id")
    ds = _as_dates(frame["ds"], source)
    y = _as_float(frame["y"], source)
    if censored and censored in frame.columns:
        y = pl.select(
            pl.when(_as_bool(frame[censored], source)).then(None).otherwise(y)
        ).to_series()
    start = ds.min()
    days = ds.cast(pl.Int32).cast(pl.Int64)
    offset = days - days.min()
    step = FREQS[freq]
    if step > 1:
        off_grid = (offset % step) != 0
        if off_grid.any():
            row = _first_bad(off_grid)
            raise FrameError(
                f"{source}: column 'ds', row {row}: {ds[row - 1]} is not on the weekly grid "
                f"that starts {start} (all dates of a weekly frame must fall on the same "
                "weekday)"
            )
    t = (offset // step).cast(pl.Int64).to_numpy()
    codes_frame = pl.DataFrame({"unique_id": ids}).with_row_index("row")
    uniq = ids.unique(maintain_order=False).sort()
    code = (
        codes_frame.join(
            pl.DataFrame({"unique_id": uniq}).with_row_index("code"), on="unique_id", how="left"
        )
        .sort("row")["code"]
        .to_numpy()
        .astype(np.int64)
    )
    n_series, n_periods = len(uniq), int(t.max()) + 1
    key = code * n_periods + t
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(np.diff(key[order]) == 0)
    if dup.size:
        a, b = sorted((int(order[dup[0]]) + 1, int(order[dup[0] + 1]) + 1))
        raise FrameError(
            f"{source}: rows {a} and {b} repeat unique_id {ids[a - 1]!r} and ds {ds[a - 1]}"
            + (" (after placing dates on the weekly grid)" if step > 1 else "")
        )
    ymat = np.full((n_series, n_periods), np.nan)
    yv = y.to_numpy().astype(float)
    if np.isinf(yv).any():
        raise FrameError(f"{source}: column 'y', row {int(np.isinf(yv).argmax()) + 1}: infinite")
    ymat[code, t] = yv

    def matrix(col: str) -> np.ndarray:
        out = np.full((n_series, n_periods), np.nan)
        out[code, t] = _as_float(frame[col], source).to_numpy().astype(float)
        return out

    panel = Panel(ids=uniq, start=start, freq=freq, y=ymat)
    panel.future_exog = {c: matrix(c) for c in future_exog}
    panel.past_exog = {c: matrix(c) for c in past_exog}
    for c in static:
        first = (
            pl.DataFrame({"code": code, "v": frame[c].cast(pl.String)})
            .group_by("code")
            .agg(pl.col("v").drop_nulls().first())
            .sort("code")
        )
        labels = sorted({v for v in first["v"].to_list() if v is not None})
        lookup = {v: i for i, v in enumerate(labels)}
        panel.static[c] = np.array(
            [lookup.get(v, -1) for v in first["v"].to_list()], dtype=np.int64
        )
        panel.static_labels[c] = labels
    return panel


def panel_to_frame(panel: Panel, values: np.ndarray | None = None) -> pl.DataFrame:
    """The observed cells of the panel (or of ``values``) as a long frame."""
    v = panel.y if values is None else values
    s, t = np.nonzero(~np.isnan(v))
    return pl.DataFrame(
        {
            "unique_id": panel.ids.gather(s),
            "ds": pl.Series(panel.date(t)).cast(pl.Date),
            "y": v[s, t],
        }
    )
