"""Helpers shared by the channel writers."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..catalog import sku_codes
from ..demand import World
from ..population import email_at, phone_at
from ..util import DAY

FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
FULLWIDTH[" "] = "\u3000"
EMOJI = ["🌸", "✨", "💄", "🍑", "🐰", "💕", "🌙", "🎀"]


def fullwidth(s: str) -> str:
    return "".join(FULLWIDTH.get(ch, ch) for ch in s)


def phone_formats(phones: np.ndarray, style: np.ndarray) -> np.ndarray:
    """11-digit CN mobile -> one of four spellings by ``style`` (0..3)."""
    s = pl.Series(phones.astype(str))
    a, b, c = s.str.slice(0, 3), s.str.slice(3, 4), s.str.slice(7, 4)
    f0 = "+86 " + a + " " + b + " " + c
    f1 = s
    f2 = a + "-" + b + "-" + c
    f3 = "+86" + s
    out = np.where(
        style == 0,
        f0.to_numpy(),
        np.where(style == 1, f1.to_numpy(), np.where(style == 2, f2.to_numpy(), f3.to_numpy())),
    )
    cn = (s.str.len_chars() == 11) & s.str.starts_with("1")
    return np.where(cn.to_numpy(), out, phones.astype(str))


def mask_phone(phones: np.ndarray) -> np.ndarray:
    s = pl.Series(phones.astype(str))
    return (s.str.slice(0, 3) + "****" + s.str.slice(7, 4)).to_numpy()


def mask_name(names: np.ndarray) -> np.ndarray:
    s = pl.Series(names.astype(str))
    return (s.str.slice(0, 1) + "**").to_numpy()


def iso_local(ts: np.ndarray | pl.Series, offset: str = "+08:00") -> pl.Series:
    s = pl.Series(np.asarray(ts, dtype=np.int64))
    return pl.from_epoch(s, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S") + offset


def person_view(w: World, pidx: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Gather the person fields a record shows on day ``t`` (pidx < 0 -> empty)."""
    P = w.persons
    ok = pidx >= 0
    p = np.maximum(pidx, 0)
    out = {
        "phone": np.where(ok, phone_at(P, p, t), ""),
        "email": np.where(ok, email_at(P, p, t), ""),
    }
    for col in (
        "first_name",
        "last_name",
        "full_name",
        "name_pinyin",
        "address1",
        "zip_suffix",
        "member_no",
        "home_city",
        "country",
    ):
        out[col] = np.where(ok, P[col].to_numpy()[p], "")
    out["person_id"] = np.where(ok, P["person_id"].to_numpy()[p], -1)
    ci = P["city_idx"].to_numpy()[p]
    C = w.cities
    out["city_zh"] = np.where(ok, C["city_zh"].to_numpy()[ci], "")
    out["province"] = np.where(ok, C["province"].to_numpy()[ci], "")
    out["zip"] = np.where(
        ok,
        np.char.add(C["zip_prefix"].to_numpy()[ci].astype(str), out["zip_suffix"].astype(str)),
        "",
    )
    return out


def _utf8(name: str, x) -> pl.Series:
    if isinstance(x, pl.Series):
        return x.cast(pl.Utf8).fill_null("").alias(name)
    x = np.asarray(x)
    if x.dtype == object:
        return pl.Series(name, x, dtype=pl.Utf8).fill_null("")
    return pl.Series(name, x).cast(pl.Utf8)


def ident_frame(
    channel: str, source_file, record_key, itype: str, value, person_id
) -> pl.DataFrame:
    """Truth identifier rows; empty values are dropped; person_id < 0 -> null."""
    key = _utf8("record_key", record_key)
    n = len(key)
    src = (
        pl.Series("source_file", [source_file] * n, dtype=pl.Utf8)
        if isinstance(source_file, str)
        else _utf8("source_file", source_file)
    )
    pid = pl.Series("person_id", np.asarray(person_id, dtype=np.int64))
    df = pl.DataFrame([src, key, _utf8("identifier_value", value), pid])
    return df.filter(pl.col("identifier_value") != "").select(
        pl.lit(channel).alias("channel"),
        "source_file",
        "record_key",
        pl.lit(itype).alias("identifier_type"),
        "identifier_value",
        pl.when(pl.col("person_id") >= 0)
        .then(pl.col("person_id"))
        .otherwise(None)
        .alias("person_id"),
    )


def local_ts(w: World, t: np.ndarray, sec: np.ndarray) -> np.ndarray:
    return (w.start_day + np.asarray(t)) * DAY + np.asarray(sec)


def cells(df: pl.DataFrame, exprs: list) -> pl.DataFrame:
    """Select ``exprs`` (names or expressions) as columns c0, c1, ..."""
    return df.select(
        [(pl.col(e) if isinstance(e, str) else e).alias(f"c{i}") for i, e in enumerate(exprs)]
    )


def raw_lines(df: pl.DataFrame, sep: str = ",", exprs: list | None = None) -> list[str]:
    """Rows joined with ``sep`` without any quoting (cells must not contain ``sep`` or newlines)."""
    if exprs is not None:
        df = cells(df, exprs)
    if len(df) == 0:
        return []
    s = df.select(
        pl.concat_str(
            [pl.col(c).cast(pl.Utf8).fill_null("") for c in df.columns], separator=sep
        ).alias("x")
    )
    return s["x"].to_list()


def weekly_groups(t: np.ndarray, days: int) -> list[tuple[int, np.ndarray]]:
    """(week number, row indices) for rows with day ``t`` (week = 7 days from the start)."""
    wk = np.asarray(t) // 7
    return [(int(k), np.nonzero(wk == k)[0]) for k in np.unique(wk)]


STATUS_TMALL = {
    "completed": "交易成功",
    "shipped": "卖家已发货，等待买家确认",
    "paid": "买家已付款，等待卖家发货",
    "pending": "等待买家付款",
    "cancelled": "交易关闭",
}


def browse_sessions(
    w: World,
    rng: np.random.Generator,
    pool: np.ndarray,
    per_year: float,
    hours: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Browsing sessions of persons in ``pool``: (person index, day, second of day), sorted by time."""
    from ..demand import HOURS_ONLINE

    P = w.persons
    T = w.cal.days
    act = P["activity"].to_numpy()[pool]
    lo = np.clip(P["acq_day"].to_numpy()[pool], 0, T)
    hi = np.clip(P["churn_day"].to_numpy()[pool], 0, T)
    span = np.maximum(hi - lo, 0)
    k = rng.poisson(act * per_year * span / 365.0)
    who = np.repeat(np.arange(len(pool)), k)
    t = lo[who] + (rng.random(len(who)) * span[who]).astype(np.int64)
    prof = HOURS_ONLINE if hours is None else hours
    sec = rng.choice(24, size=len(who), p=prof / prof.sum()) * 3600 + rng.integers(
        0, 3600, size=len(who)
    )
    pidx = pool[who]
    o = np.lexsort((pidx, sec, t))
    return pidx[o], t[o], sec[o]


def channel_lines(w: World, o: pl.DataFrame, channel: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The channel's SKU codes (with the master name) and the lines of orders ``o`` joined to
    them: (sku map of the channel, lines)."""
    sm = (
        sku_codes(w.products, w.seed)
        .filter(pl.col("channel") == channel)
        .join(
            w.products.select("sku", "sku_idx", "name_zh"),
            on="sku",
            how="left",
            maintain_order="left",
        )
    )
    li = w.lines.join(
        o.select("order_idx"), on="order_idx", how="semi", maintain_order="left"
    ).join(
        sm.select("sku_idx", "channel_sku", "channel_item_id", "name_zh"),
        on="sku_idx",
        how="left",
        maintain_order="left",
    )
    return sm, li
