"""Channel P&L: gross sales → discounts → returns → net sales → COGS → channel fees, host
commissions, payment, fulfilment → contribution, per order line in CNY, then per channel ×
month, per SKU × channel × month and per Douyin live session.

Where the numbers come from:
* sales, discounts and refunds: ``marts.fct_order_lines`` (already in CNY at the order month's
  reference rate); the live-commerce host: ``staging.stg_lake__orders.anchor_id``;
* COGS: ``staging.stg_lake__products.unit_cost`` (the ERP's standard cost, CNY);
* commissions, platform fees, host commissions, payment and FBA fees: the channels' fee
  schedules ``staging.stg_lake__fees`` (rate × net sales after returns; fixed fee per unit);
* what the data does not carry (payment where a schedule has none, fulfilment, return
  handling, the share of returns restocked): ``profiles/ops_pnl.yml``.

Every amount is computed in integer cents per line, so the components of every row add up
exactly: ``gross - discounts - returns = net_sales`` and ``net_sales - cogs - commission -
platform_fee - host_commission - payment - fulfilment = contribution``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from ingest.config import REPO_ROOT, replace_tables, transaction
from models.config_file import load_validated
from models.identity.warehouse import table_names

PNL_PATH = REPO_ROOT / "profiles" / "ops_pnl.yml"
Component = Literal["commission", "platform_fee", "host_commission", "payment", "fulfilment"]
COMPONENTS: tuple[str, ...] = (
    "commission",
    "platform_fee",
    "host_commission",
    "payment",
    "fulfilment",
)
AMOUNTS: tuple[str, ...] = (
    "gross_sales",
    "discounts",
    "returns",
    "net_sales",
    "cogs",
    *COMPONENTS,
    "contribution",
)


class PnlError(ValueError):
    """Invalid P&L settings or inputs the P&L cannot place; the message names the file/field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fulfilment(_Strict):
    per_order: float = Field(ge=0)
    per_unit: float = Field(ge=0)


class PnlSettings(_Strict):
    fee_components: dict[str, Component]
    fee_location_types: dict[str, list[str]] = Field(default_factory=dict)
    payment_rate_default: dict[str, float] = Field(default_factory=dict)
    fulfilment: dict[str, Fulfilment]
    return_handling_per_unit: float = Field(ge=0)
    returned_units_restocked: float = Field(ge=0, le=1)
    statuses: list[str] = Field(min_length=1)
    no_fulfilment_channels: list[str] = Field(default_factory=list)
    default_location_type: dict[str, str] = Field(default_factory=dict)


def load_settings(path: Path | str = PNL_PATH) -> PnlSettings:
    return load_validated(path, PnlSettings, PnlError, "channel P&L settings")


def _cents(expr: pl.Expr) -> pl.Expr:
    return (expr * 100).round(0).cast(pl.Int64)


def line_pnl(
    lines: pl.DataFrame,
    fees: pl.DataFrame,
    products: pl.DataFrame,
    settings: PnlSettings,
) -> pl.DataFrame:
    """One P&L row per order line, amounts in CNY cents (``*_c`` Int64).

    ``lines``: channel, order_id, line_id, order_date, currency, fx_rate_to_cny, location_type,
    host_id, sku, quantity, line_total, net_amount_cny, returned_units, returned_amount_cny
    (lines of counted orders only). ``fees``: sales_channel, fee_type, host_id, rate,
    fixed_fee, currency, valid_from, valid_to. ``products``: sku, unit_cost (CNY)."""
    unknown = sorted(set(fees["fee_type"].unique().to_list()) - set(settings.fee_components))
    if unknown:
        raise PnlError(
            f"{PNL_PATH}: fee_components: the fee schedule has fee types {unknown} that no "
            "P&L component takes; add them"
        )
    fx = pl.col("fx_rate_to_cny").cast(pl.Float64)
    net_c = _cents(pl.col("net_amount_cny").cast(pl.Float64))
    refund_c = _cents(pl.col("returned_amount_cny").cast(pl.Float64).fill_null(0.0))
    returned = pl.col("returned_units").fill_null(0)
    # a return whose report gives no amount (Amazon's FBA returns) is valued at the price paid
    estimate = (returned > 0) & (refund_c == 0) & (pl.col("quantity") > 0)
    df = lines.with_columns(
        _cents(pl.col("line_total").cast(pl.Float64) * fx).alias("gross_sales_c"),
        net_c.alias("net_before_returns_c"),
        pl.when(estimate)
        .then((net_c * returned / pl.col("quantity")).round(0).cast(pl.Int64))
        .otherwise(refund_c)
        .alias("returns_c"),
        estimate.alias("refund_estimated"),
        returned.alias("returned_units"),
    ).with_columns(
        (pl.col("gross_sales_c") - pl.col("net_before_returns_c")).alias("discounts_c"),
        (pl.col("net_before_returns_c") - pl.col("returns_c")).alias("net_sales_c"),
    )
    # a line whose channel does not say where it ships from: the channel's usual node type
    df = df.with_row_index("_row").with_columns(
        pl.coalesce(
            pl.col("location_type"),
            pl.col("channel").replace_strict(
                settings.default_location_type, default=None, return_dtype=pl.Utf8
            ),
        ).alias("location_type")
    )

    # fee schedule: each fee row valid on the order date, of the line's channel and currency,
    # general (no host) or of the line's host, and of an allowed shipping location type
    f = fees.select(
        pl.col("sales_channel").alias("channel"),
        "fee_type",
        pl.col("host_id").alias("fee_host_id"),
        pl.col("rate").fill_null(0.0),
        pl.col("fixed_fee").cast(pl.Float64).fill_null(0.0),
        pl.col("currency"),
        "valid_from",
        "valid_to",
    ).with_columns(
        pl.col("fee_type").replace_strict(settings.fee_components).alias("component"),
    )
    m = df.select(
        "_row", "channel", "currency", "order_date", "host_id", "location_type", "quantity",
        "net_sales_c", "fx_rate_to_cny",
    ).join(f, on=["channel", "currency"], how="inner")  # fmt: skip
    allowed = settings.fee_location_types
    m = m.filter(
        (pl.col("order_date") >= pl.col("valid_from"))
        & (pl.col("valid_to").is_null() | (pl.col("order_date") < pl.col("valid_to")))
        & (pl.col("fee_host_id").is_null() | (pl.col("fee_host_id") == pl.col("host_id")))
    )
    if allowed:
        ok = pl.lit(True)
        for fee_type, types in allowed.items():
            ok = ok & ((pl.col("fee_type") != fee_type) | pl.col("location_type").is_in(types))
        m = m.filter(ok)
    m = m.with_columns(
        (
            pl.col("rate") * pl.col("net_sales_c")
            + pl.col("fixed_fee") * 100 * pl.col("fx_rate_to_cny").cast(pl.Float64)
            * pl.col("quantity")
        ).round(0).cast(pl.Int64).alias("fee_c")
    )  # fmt: skip
    per = m.group_by("_row", "component").agg(pl.col("fee_c").sum())
    wide = per.pivot(on="component", index="_row", values="fee_c")
    for c in COMPONENTS:
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.Int64).alias(c))
    wide = wide.select("_row", *[pl.col(c).fill_null(0).alias(f"{c}_fee_c") for c in COMPONENTS])
    df = df.join(wide, on="_row", how="left").with_columns(
        pl.col(f"{c}_fee_c").fill_null(0) for c in COMPONENTS
    )

    # payment where the schedule has none
    with_payment = set(f.filter(pl.col("component") == "payment")["channel"].unique().to_list())
    missing = sorted(
        set(df["channel"].unique().to_list()) - with_payment - set(settings.payment_rate_default)
    )
    if missing:
        raise PnlError(
            f"{PNL_PATH}: payment_rate_default: channels {missing} have no payment fee in the "
            "fee schedule (stg_lake__fees) and no default rate here"
        )
    default_rate = pl.col("channel").replace_strict(
        settings.payment_rate_default, default=0.0, return_dtype=pl.Float64
    )
    df = df.with_columns(
        pl.when(pl.col("channel").is_in(list(with_payment)))
        .then(pl.col("payment_fee_c"))
        .otherwise((default_rate * pl.col("net_sales_c")).round(0).cast(pl.Int64))
        .alias("payment_fee_c")
    )

    # fulfilment: per order (shared over the order's units), per unit, per returned unit
    types = sorted(settings.fulfilment)
    ships_rows = df.filter(~pl.col("channel").is_in(settings.no_fulfilment_channels))
    unplaced = ships_rows.filter(pl.col("location_type").is_null())["channel"].unique().to_list()
    if unplaced:
        raise PnlError(
            f"{PNL_PATH}: default_location_type: channels {sorted(unplaced)} have lines without a "
            "shipping location and no default location type here"
        )
    no_rate = ships_rows.filter(~pl.col("location_type").is_in(types))["location_type"]
    if no_rate.len():
        raise PnlError(
            f"{PNL_PATH}: fulfilment: no rate for location types {sorted(set(no_rate.to_list()))}"
        )
    per_order = {k: v.per_order for k, v in settings.fulfilment.items()}
    per_unit = {k: v.per_unit for k, v in settings.fulfilment.items()}
    loc = pl.col("location_type")
    order_units = pl.col("quantity").sum().over("channel", "order_id")
    ships = ~pl.col("channel").is_in(settings.no_fulfilment_channels)
    df = df.with_columns(
        pl.when(ships)
        .then(
            (
                loc.replace_strict(per_order, default=0.0, return_dtype=pl.Float64)
                * 100
                * pl.col("quantity")
                / pl.max_horizontal(order_units, 1)
                + loc.replace_strict(per_unit, default=0.0, return_dtype=pl.Float64)
                * 100
                * pl.col("quantity")
                + settings.return_handling_per_unit * 100 * pl.col("returned_units")
            )
            .round(0)
            .cast(pl.Int64)
        )
        .otherwise(0)
        .alias("own_fulfilment_c")
    )

    # COGS: units kept plus returned units written off
    cost = products.select("sku", pl.col("unit_cost").cast(pl.Float64).alias("_unit_cost"))
    df = df.join(cost, on="sku", how="left")
    kept = pl.col("quantity") - pl.col("returned_units") * settings.returned_units_restocked
    df = df.with_columns(
        _cents(pl.col("_unit_cost").fill_null(0.0) * kept).alias("cogs_c"),
        pl.col("_unit_cost").is_null().alias("cost_missing"),
    )
    df = df.with_columns(
        pl.col("commission_fee_c").alias("commission_c"),
        pl.col("platform_fee_fee_c").alias("platform_fee_c"),
        pl.col("host_commission_fee_c").alias("host_commission_c"),
        pl.col("payment_fee_c").alias("payment_c"),
        (pl.col("fulfilment_fee_c") + pl.col("own_fulfilment_c")).alias("fulfilment_c"),
    ).with_columns(
        (
            pl.col("net_sales_c")
            - pl.col("cogs_c")
            - pl.sum_horizontal([f"{c}_c" for c in COMPONENTS])
        ).alias("contribution_c")
    )
    return df.select(
        "channel", "order_id", "line_id", "order_date", "host_id", "sku", "quantity",
        "returned_units", "cost_missing", "refund_estimated", *[f"{a}_c" for a in AMOUNTS],
    )  # fmt: skip


def _aggregate(lines: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    out = (
        lines.group_by(by)
        .agg(
            pl.col("order_id").filter(pl.col("quantity") > 0).n_unique().alias("orders"),
            pl.col("quantity").sum().alias("units"),
            pl.col("returned_units").sum().alias("units_returned"),
            (pl.col("quantity") * pl.col("cost_missing")).sum().alias("units_without_cost"),
            pl.col("refund_estimated").sum().cast(pl.Int64).alias("refunds_estimated"),
            *[pl.col(f"{a}_c").sum() for a in AMOUNTS],
        )
        .sort(by)
    )
    return out.with_columns(
        *[(pl.col(f"{a}_c") / 100).alias(a) for a in AMOUNTS],
        pl.when(pl.col("net_sales_c") != 0)
        .then((pl.col("contribution_c") / pl.col("net_sales_c")).round(4))
        .alias("contribution_margin"),
    ).drop([f"{a}_c" for a in AMOUNTS])


def month_of(col: str = "order_date") -> pl.Expr:
    return pl.col(col).dt.truncate("1mo").alias("month")


def channel_pnl(lines: pl.DataFrame) -> pl.DataFrame:
    """Per channel × month (the order's month: its returns count in the month of the sale)."""
    return _aggregate(lines.with_columns(month_of()), ["month", "channel"])


def sku_channel_pnl(lines: pl.DataFrame) -> pl.DataFrame:
    """Per SKU × channel × month (lines without a master SKU under sku null)."""
    return _aggregate(lines.with_columns(month_of()), ["month", "channel", "sku"])


def live_session_pnl(lines: pl.DataFrame, host_names: pl.DataFrame) -> pl.DataFrame:
    """Douyin live sessions (host × day: the export names the host, not the live room), ranked
    by contribution (1 = most) beside their GMV rank (gross sales before discounts)."""
    return rank_sessions(session_rows(lines), host_names)


def session_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """The Douyin live sessions' sums (``_aggregate`` per session_date × host_id), unranked."""
    live = lines.filter(
        (pl.col("channel") == "douyin")
        & pl.col("host_id").is_not_null()
        & (pl.col("host_id") != "")
    )
    return _aggregate(live.rename({"order_date": "session_date"}), ["session_date", "host_id"])


def rank_sessions(rows: pl.DataFrame, host_names: pl.DataFrame) -> pl.DataFrame:
    """``session_rows`` named and ranked over every session (ordinal ranks: ties in the order
    of session_date, host_id)."""
    out = rows.sort("session_date", "host_id").join(host_names, on="host_id", how="left")
    out = out.with_columns(
        pl.col("contribution")
        .rank("ordinal", descending=True)
        .cast(pl.Int64)
        .alias("contribution_rank"),
        pl.col("gross_sales").rank("ordinal", descending=True).cast(pl.Int64).alias("gmv_rank"),
        pl.when(pl.col("units") > 0)
        .then((pl.col("units_returned") / pl.col("units")).round(4))
        .alias("return_rate"),
        (pl.col("discounts") / pl.col("gross_sales")).round(4).alias("discount_rate"),
    )
    return out.sort("contribution_rank").select(
        "session_date", "host_id", "host_name", "contribution_rank", "gmv_rank",
        pl.all().exclude("session_date", "host_id", "host_name", "contribution_rank", "gmv_rank"),
    )  # fmt: skip


def component_violations(frame: pl.DataFrame, tolerance: float = 0.01) -> pl.DataFrame:
    """Rows of a P&L table whose components do not add up within ``tolerance`` (CNY):
    gross - discounts - returns = net_sales; net_sales - cogs - fees = contribution."""
    fees = pl.sum_horizontal([pl.col(c) for c in COMPONENTS])
    return frame.with_columns(
        (pl.col("gross_sales") - pl.col("discounts") - pl.col("returns") - pl.col("net_sales"))
        .abs()
        .alias("net_gap"),
        (pl.col("net_sales") - pl.col("cogs") - fees - pl.col("contribution"))
        .abs()
        .alias("contribution_gap"),
    ).filter((pl.col("net_gap") > tolerance) | (pl.col("contribution_gap") > tolerance))


# --------------------------------------------------------------------------- warehouse I/O
# The lines counted: not the marts' is_real_order column but its parts, because the statuses
# are the P&L's own setting (profiles/ops_pnl.yml): finance may book orders that are no real
# sale (a cancelled order whose channel fee is kept). Test orders and brushing suspects never
# count. With the default statuses (paid, shipped, completed) these are exactly the lines
# where marts.fct_order_lines.is_real_order holds (tests/test_e2e_ops_pnl.py).
LINES_SQL = """
select
    l.channel, l.order_id, l.line_id, l.order_date, l.currency, l.fx_rate_to_cny,
    loc.location_type, nullif(nullif(so.anchor_id, ''), '-') as host_id, l.sku, l.quantity,
    l.line_total, l.net_amount_cny, l.returned_units, l.returned_amount_cny
from marts.fct_order_lines as l
inner join marts.fct_orders as o on l.channel = o.channel and l.order_id = o.order_id
left join staging.stg_lake__orders as so on l.channel = so.channel and l.order_id = so.order_id
left join staging.stg_lake__locations as loc on l.location_id = loc.location_id
where l.status in (select unnest($statuses))
  and not l.is_test and not l.is_flagged_test and not l.is_brushing_suspect
"""
# Returns that name no order line (POS return receipts are their own documents): a row of their
# own on the return day, refund at the return month's rate, no sale.
UNMATCHED_RETURNS_SQL = """
select
    r.channel, r.order_id, 'return/' || coalesce(r.return_id, r.line_id) as line_id,
    r.return_date as order_date, r.currency, fx.rate_to_cny as fx_rate_to_cny,
    loc.location_type, cast(null as varchar) as host_id, r.sku, cast(0 as bigint) as quantity,
    cast(0 as decimal(18, 2)) as line_total, cast(0 as decimal(18, 2)) as net_amount_cny,
    r.quantity as returned_units, cast(r.amount * fx.rate_to_cny as decimal(18, 2)) as returned_amount_cny
from intermediate.int_returns as r
left join intermediate.int_fx_rates as fx
    on r.currency = fx.currency and r.return_date >= fx.valid_from and r.return_date < fx.valid_to
left join staging.stg_lake__locations as loc on r.location_id = loc.location_id
where not coalesce(r.is_test, false)
  and not exists (
    select 1 from marts.fct_order_lines as l
    where l.channel = r.channel and l.order_id = r.order_id and l.line_id = r.line_id
  )
"""


def _month_sql(date_sql: str) -> str:
    """The month (its first day) of ``date_sql``, as ``month_of`` gives it."""
    return f"cast(date_trunc('month', {date_sql}) as date)"


def _in_months(date_sql: str, months: list | None) -> str:
    """A filter on the month of ``date_sql`` (every month when ``months`` is None)."""
    if months is None:
        return ""
    return f" and {_month_sql(date_sql)} in (select unnest($months))"


def read_inputs(con, settings: PnlSettings, months: list | None = None) -> dict[str, pl.DataFrame]:
    """The P&L's inputs; ``months`` (first days): only the lines of those months (by order
    date; the unmatched returns by return date)."""
    params = {"statuses": settings.statuses} | ({} if months is None else {"months": months})
    lines = con.execute(LINES_SQL + _in_months("l.order_date", months), params).pl()
    unmatched = con.execute(
        UNMATCHED_RETURNS_SQL + _in_months("r.return_date", months),
        {} if months is None else {"months": months},
    ).pl()
    lines = pl.concat([lines, unmatched.select(lines.columns)], how="vertical_relaxed")
    fees = con.execute(FEES_SQL).pl()
    products = con.execute(PRODUCTS_SQL).pl()
    hosts = con.execute(HOSTS_SQL).pl()
    return {"lines": lines, "fees": fees, "products": products, "hosts": hosts}


FEES_SQL = (
    "select sales_channel, fee_type, nullif(host_id, '') as host_id, rate, fixed_fee, "
    "currency, valid_from, valid_to from staging.stg_lake__fees"
)
PRODUCTS_SQL = "select sku, unit_cost from staging.stg_lake__products"
HOSTS_SQL = (
    "select nullif(anchor_id, '') as host_id, min(anchor_name) as host_name "
    "from staging.stg_lake__orders where channel = 'douyin' and anchor_id is not null "
    "group by 1"
)


# ------------------------------------------------------------------ a day: the changed months
# Every row of the three P&L tables is a sum over the lines of one month: an order's lines
# share its order date, a return that names no line is a row of its own month, and what one
# line costs reads only that line, its order's lines and the fee schedule, costs and settings.
# So on an incremental run the months whose input rows are the same as when the tables were
# written keep their rows; the others are computed again and the live sessions ranked again
# over all. `ops.pnl_month_inputs` keeps, per month, the count and a sum of row hashes of its
# input lines, and, on every row, a digest of what every line reads: the fee schedule, the
# costs, the host names (hashed by DuckDB), the settings file and this module's code (a change
# of the P&L's code computes every month again), with the polars and DuckDB versions. A full
# build computes every month.
MONTH_INPUTS = "pnl_month_inputs"
_MONTH_INPUTS_SQL = f"""
select {_month_sql("order_date")} as month, count(*) as rows,
    sum(cast(hash(t) as hugeint)) as fingerprint, $whole as whole
from ({LINES_SQL} union all by name {UNMATCHED_RETURNS_SQL}) as t
group by 1
"""


def _whole_digest(con) -> str:
    """What every line's P&L reads beyond its own month: see above."""
    h = hashlib.sha256()
    for path in (PNL_PATH, Path(__file__)):
        h.update(Path(path).read_bytes())
    h.update(f"polars {pl.__version__} duckdb {duckdb.__version__}".encode())
    for sql in (FEES_SQL, PRODUCTS_SQL, HOSTS_SQL):
        row = con.execute(
            f"select count(*), coalesce(sum(cast(hash(t) as hugeint)), 0) from ({sql}) as t"
        ).fetchone()
        h.update(repr(row).encode())
    return h.hexdigest()


def changed_months(con, schema: str, settings: PnlSettings) -> list | None:
    """The months (first days) whose P&L rows must be computed again, the month inputs of
    this run left in the temporary table ``pnl_month_inputs_now`` for ``record_month_inputs``;
    None: every month (nothing recorded, another digest of the whole, a table missing)."""
    con.execute(
        "create or replace temp table pnl_month_inputs_now as " + _MONTH_INPUTS_SQL,
        {"statuses": settings.statuses, "whole": _whole_digest(con)},
    )
    needed = (MONTH_INPUTS, "channel_pnl", "sku_channel_pnl", "live_session_pnl")
    if not {f"{schema}.{t}" for t in needed} <= table_names(con):
        return None
    stored = f"{schema}.{MONTH_INPUTS}"
    if (
        con.execute(
            f"select count(*) from (select distinct whole from {stored} "
            "union select distinct whole from pnl_month_inputs_now)"
        ).fetchone()[0]
        > 1
    ):
        return None
    return [
        r[0]
        for r in con.execute(
            f"select month from (select month, rows, fingerprint from {stored} "
            "except select month, rows, fingerprint from pnl_month_inputs_now) "
            f"union select month from (select month, rows, fingerprint from pnl_month_inputs_now "
            f"except select month, rows, fingerprint from {stored}) order by 1"
        ).fetchall()
    ]


def record_month_inputs(con, schema: str) -> None:
    """Keep this run's month inputs (``changed_months``) beside the tables just written."""
    con.execute(
        f"create or replace table {schema}.{MONTH_INPUTS} as "
        "select * from pnl_month_inputs_now order by month"
    )
    con.execute("drop table pnl_month_inputs_now")


def build(
    con, schema: str, settings: PnlSettings, incremental: bool
) -> tuple[dict[str, pl.DataFrame], list | None]:
    """Compute and write the three P&L tables into ``schema``, and the month inputs beside them
    (one transaction): every month, or on an ``incremental`` run the months whose inputs
    changed (``changed_months``). Returns the tables and the months computed (None: every
    month)."""
    months = changed_months(con, schema, settings)
    if not incremental:
        months = None
    inputs = read_inputs(con, settings, months)
    lines = line_pnl(inputs["lines"], inputs["fees"], inputs["products"], settings)
    tables = pnl_tables(con, schema, lines, inputs["hosts"], months)
    with transaction(con):
        replace_tables(con, schema, tables)
        record_month_inputs(con, schema)
    return tables, months


def pnl_tables(
    con, schema: str, lines: pl.DataFrame, hosts: pl.DataFrame, months: list | None
) -> dict[str, pl.DataFrame]:
    """The three P&L tables from the P&L ``lines`` of ``months`` (None: of every month), the
    other months' rows read from the tables as they are."""
    by_channel, by_sku = channel_pnl(lines), sku_channel_pnl(lines)
    sessions = session_rows(lines)
    if months is not None:
        keep = {"months": months}
        old = {
            t: con.execute(
                f"select * from {schema}.{t} where {_month_sql(col)} "
                "not in (select unnest($months))",
                keep,
            ).pl()
            for t, col in (
                ("channel_pnl", "month"),
                ("sku_channel_pnl", "month"),
                ("live_session_pnl", "session_date"),
            )
        }
        by_channel = pl.concat([old["channel_pnl"], by_channel], how="vertical_relaxed")
        by_channel = by_channel.sort("month", "channel")
        by_sku = pl.concat([old["sku_channel_pnl"], by_sku], how="vertical_relaxed")
        by_sku = by_sku.sort("month", "channel", "sku")
        sessions = pl.concat(
            [old["live_session_pnl"].select(sessions.columns), sessions], how="vertical_relaxed"
        )
    return {
        "channel_pnl": by_channel,
        "sku_channel_pnl": by_sku,
        "live_session_pnl": rank_sessions(sessions, hosts),
    }


def reconcile_net_sales(con, settings: PnlSettings, pnl: pl.DataFrame) -> pl.DataFrame:
    """Per channel: the P&L's sales net of discounts (net sales + returns) against the marts'
    net amount of the counted lines (CNY); the gap should stay below a cent per line."""
    ref = con.execute(
        "select channel, sum(net_amount_cny) as mart_net, count(*) as lines from ("
        + LINES_SQL
        + ") group by 1",
        {"statuses": settings.statuses},
    ).pl()
    mine = pnl.group_by("channel").agg(
        (pl.col("net_sales") + pl.col("returns")).sum().alias("pnl_net")
    )
    return (
        ref.join(mine, on="channel", how="full", coalesce=True)
        .with_columns(
            (pl.col("pnl_net").fill_null(0) - pl.col("mart_net").cast(pl.Float64).fill_null(0))
            .abs()
            .round(2)
            .alias("gap")
        )
        .sort("channel")
    )
