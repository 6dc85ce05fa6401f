"""Any interactions table (Parquet or CSV) into the one long frame the recommenders read:
``user`` (str), ``item`` (str), ``ts`` (float days), ``weight`` (float > 0).

Public e-commerce logs differ: ids are strings or integers, times are epoch seconds or
milliseconds, ISO strings, ``12/1/2010 8:26`` or an order number; the weight column may be a
quantity, a rating or an event type (``view``, ``addtocart``, ``transaction``); there are
duplicates and missing values. Everything is read as text first so that nothing is lost to a
wrong guess, then parsed column by column; every row that cannot be used is counted with its
reason (``LoadReport``), never silently dropped, and a column that cannot be parsed at all is
an error naming the file and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

SECONDS_PER_DAY = 86_400.0

# Event-type names (lower case, without spaces, dashes or underscores) and their weights:
# a purchase says more than a cart, a cart more than a view. Unknown names weigh 1.
EVENT_WEIGHTS = {
    "view": 1.0,
    "pageview": 1.0,
    "productview": 1.0,
    "click": 1.0,
    "detail": 1.0,
    "favorite": 2.0,
    "fav": 2.0,
    "like": 2.0,
    "wishlist": 2.0,
    "addtocart": 3.0,
    "cart": 3.0,
    "addtobasket": 3.0,
    "liveaddtocart": 3.0,
    "checkout": 4.0,
    "purchase": 5.0,
    "buy": 5.0,
    "order": 5.0,
    "transaction": 5.0,
    "sale": 5.0,
}

DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)


class InteractionsError(ValueError):
    """A table that cannot be read as interactions; the message names the file and column."""


@dataclass
class LoadReport:
    path: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str, n: int) -> None:
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)


def read_table(path: Path) -> pl.DataFrame:
    """Every column as text (Parquet columns are cast), so that no value is lost to a guess."""
    path = Path(path)
    if not path.exists():
        raise InteractionsError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt", ".gz"):
            sep = "\t" if ".tsv" in path.name.lower() else ","
            frame = pl.read_csv(path, separator=sep, infer_schema=False, encoding="utf8-lossy")
        elif suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            raise InteractionsError(f"{path}: expected a .parquet or .csv file, got {suffix!r}")
    except InteractionsError:
        raise
    except Exception as exc:  # noqa: BLE001 - the reader's own message, with the file name
        raise InteractionsError(f"{path}: cannot be read ({exc})") from exc
    return frame


def _require(frame: pl.DataFrame, path: Path, role: str, column: str) -> None:
    if column not in frame.columns:
        raise InteractionsError(
            f"{path}: no {role} column {column!r} (columns: {', '.join(frame.columns)})"
        )


def parse_times(values: pl.Series, path: Path, column: str, report: LoadReport) -> pl.Series:
    """Days (float) from epoch seconds/milliseconds, datetimes, date strings or an ordinal
    (small numbers such as an order number are taken as days). Nulls stay null."""
    if values.dtype in (pl.Datetime, pl.Date) or isinstance(values.dtype, pl.Datetime):
        secs = values.cast(pl.Datetime("us")).dt.epoch("us").cast(pl.Float64) / 1e6
        return secs / SECONDS_PER_DAY
    text = values.cast(pl.String).str.strip_chars()
    text = pl.Series(text).set(text == "", None)
    numeric = text.cast(pl.Float64, strict=False)
    non_null = text.drop_nulls().len()
    if non_null == 0:
        raise InteractionsError(f"{path}: time column {column!r} has no values")
    if numeric.drop_nulls().len() >= 0.99 * non_null:
        top = float(numeric.drop_nulls().abs().max())
        if top > 1e11:
            report.notes.append(f"{column}: epoch milliseconds")
            return numeric / 1000.0 / SECONDS_PER_DAY
        if top > 1e8:
            report.notes.append(f"{column}: epoch seconds")
            return numeric / SECONDS_PER_DAY
        report.notes.append(f"{column}: numbers below 1e8 taken as an ordinal in days")
        return numeric
    best, best_ok = None, -1
    for fmt in DATETIME_FORMATS:
        parsed = text.str.strptime(pl.Datetime("us"), fmt, strict=False)
        ok = parsed.drop_nulls().len()
        if ok > best_ok:
            best, best_ok = parsed, ok
        if ok == non_null:
            break
    # ISO strings with an offset or a zone
    try:
        zoned = text.str.to_datetime(time_zone="UTC", strict=False)
    except pl.exceptions.PolarsError:  # no format polars can infer
        zoned = pl.Series(values.name, [None] * len(text), dtype=pl.Datetime("us", "UTC"))
    if zoned.drop_nulls().len() > best_ok:
        best, best_ok = zoned.dt.replace_time_zone(None), zoned.drop_nulls().len()
    if best_ok < 0.5 * non_null:
        sample = text.drop_nulls().head(3).to_list()
        raise InteractionsError(
            f"{path}: time column {column!r} is not a date, datetime or epoch number "
            f"(e.g. {sample})"
        )
    return best.cast(pl.Datetime("us")).dt.epoch("us").cast(pl.Float64) / 1e6 / SECONDS_PER_DAY


def parse_weights(values: pl.Series, path: Path, column: str, report: LoadReport) -> pl.Series:
    """A number per row, or an event type mapped by EVENT_WEIGHTS (unknown types weigh 1)."""
    text = values.cast(pl.String).str.strip_chars()
    numeric = text.cast(pl.Float64, strict=False)
    non_null = text.drop_nulls().len()
    if non_null and numeric.drop_nulls().len() >= 0.99 * non_null:
        return numeric
    keys = text.str.to_lowercase().str.replace_all(r"[\s_\-]", "")
    mapped = keys.replace_strict(EVENT_WEIGHTS, default=None, return_dtype=pl.Float64)
    unknown = keys.filter(mapped.is_null() & keys.is_not_null()).unique().sort().to_list()
    if unknown:
        report.notes.append(
            f"{column}: event types without a known weight, weighted 1: {unknown[:10]}"
        )
    found = sorted(set(keys.drop_nulls().unique().to_list()) - set(unknown))
    report.notes.append(f"{column}: event types weighted {[(k, EVENT_WEIGHTS[k]) for k in found]}")
    return mapped.fill_null(pl.when(keys.is_not_null()).then(1.0).otherwise(None))


def load_interactions(
    path: Path,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "timestamp",
    weight_col: str | None = None,
    frame: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, LoadReport]:
    """The canonical frame (user, item, ts, weight) and what was dropped and why.

    Rows without a user, item or time cannot be placed in a time split; rows with a weight
    that is missing, zero or negative (returns, cancellations) are not a positive signal;
    exact duplicate rows (same user, item, time and weight) are a double delivery. Each is
    counted in the report."""
    path = Path(path)
    if frame is None:
        frame = read_table(path)
    report = LoadReport(path=str(path), rows_read=frame.height)
    for role, col in (("user", user_col), ("item", item_col), ("time", time_col)):
        _require(frame, path, role, col)
    if weight_col:
        _require(frame, path, "weight", weight_col)
    if frame.height == 0:
        raise InteractionsError(f"{path}: the table has no rows")

    def text(col: str) -> pl.Series:
        s = frame[col]
        # integer ids stored as floats (a Parquet column with nulls): 123.0 -> "123"
        if (
            s.dtype in (pl.Float64, pl.Float32)
            and (s.drop_nulls() == s.drop_nulls().round(0)).all()
        ):
            s = s.cast(pl.Int64, strict=False)
        out = s.cast(pl.String).str.strip_chars()
        return out.set(out == "", None)

    out = pl.DataFrame(
        {
            "user": text(user_col),
            "item": text(item_col),
            "ts": parse_times(frame[time_col], path, time_col, report),
            "weight": (
                parse_weights(frame[weight_col], path, weight_col, report)
                if weight_col
                else pl.Series("weight", [1.0] * frame.height, dtype=pl.Float64)
            ),
        }
    )
    for col, reason in (
        ("user", f"no user ({user_col})"),
        ("item", f"no item ({item_col})"),
        ("ts", f"no or unparsable time ({time_col})"),
    ):
        report.drop(reason, out[col].null_count())
        out = out.filter(pl.col(col).is_not_null())
    if weight_col:
        bad = out["weight"].is_null() | (out["weight"] <= 0) | out["weight"].is_nan()
        report.drop(f"missing, zero or negative weight ({weight_col})", int(bad.sum()))
        out = out.filter(~bad)
    before = out.height
    out = out.unique(maintain_order=True)
    report.drop("exact duplicate row", before - out.height)
    if out.height == 0:
        raise InteractionsError(f"{path}: no usable interactions after dropping {report.dropped}")
    report.rows_kept = out.height
    return out, report
