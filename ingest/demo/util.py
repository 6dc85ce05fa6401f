"""Small deterministic helpers shared by the demo generator modules.

Everything random goes through :func:`rng_for`, which derives an independent
``numpy`` generator per (seed, module name) so that adding or changing one channel
never shifts the random stream of another one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

EPOCH = dt.date(1970, 1, 1)
DAY = 86_400


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """An independent generator for (seed, names); stable across runs and platforms."""
    keys = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(n.encode("utf-8")) for n in names]
    return np.random.default_rng(np.random.SeedSequence(keys))


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def digest(text: str, n: int = 16) -> str:
    """Stable hex digest (never Python's salted ``hash()``)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=32).hexdigest()[:n]


def random_strings(rng: np.random.Generator, n: int, length: int, alphabet: str) -> np.ndarray:
    """``n`` random strings of ``length`` characters from ``alphabet`` (vectorised)."""
    chars = np.array(list(alphabet), dtype="<U1")
    idx = rng.integers(0, len(chars), size=(n, length))
    return np.ascontiguousarray(chars[idx]).view(f"<U{length}").ravel()


HEX = "0123456789abcdef"
ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
B64ISH = ALNUM + "-_"
DIGITS = "0123456789"


def money_expr(col: str | pl.Expr) -> pl.Expr:
    """Integer cents -> '123.45' / '-0.50' string, exactly."""
    c = pl.col(col) if isinstance(col, str) else col
    a = c.abs()
    s = (a // 100).cast(pl.Utf8) + "." + (a % 100).cast(pl.Utf8).str.zfill(2)
    return pl.when(c < 0).then("-" + s).otherwise(s)


def money_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    a = abs(int(cents))
    return f"{sign}{a // 100}.{a % 100:02d}"


def ts_expr(col: str) -> pl.Expr:
    """Int64 seconds (local wall time, naive) -> polars Datetime."""
    return pl.from_epoch(pl.col(col), time_unit="s")


def cents_to_decimal(col: str) -> pl.Expr:
    return money_expr(col).cast(pl.Decimal(18, 2))


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Deterministic Parquet: fixed writer, compression and a single row group per 1M rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = df.to_arrow()
    # drop pandas/polars metadata so that the bytes depend only on the data
    table = table.replace_schema_metadata(None)
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=3,
        row_group_size=1_000_000,
        use_dictionary=True,
        write_statistics=True,
        store_schema=False,
    )


def write_text(path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)


def csv_cell(v: str) -> str:
    """RFC-4180 quoting for one cell."""
    if any(ch in v for ch in ',"\n\r'):
        return '"' + v.replace('"', '""') + '"'
    return v


def csv_text(header: list[str], df: pl.DataFrame, sep: str = ",") -> str:
    """CSV text for ``df`` (all Utf8 columns) under ``header`` (may differ from column names)."""
    body = df.write_csv(
        separator=sep, include_header=False, quote_style="necessary", line_terminator="\n"
    )
    return sep.join(csv_cell(h) if sep == "," else h for h in header) + "\n" + body


__all__ = [
    "ALNUM",
    "B64ISH",
    "DAY",
    "DIGITS",
    "EPOCH",
    "HEX",
    "cents_to_decimal",
    "csv_text",
    "day_number",
    "digest",
    "money_expr",
    "money_str",
    "pa",
    "random_strings",
    "rng_for",
    "ts_expr",
    "write_parquet",
    "write_text",
]
