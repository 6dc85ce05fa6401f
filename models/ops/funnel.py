"""Traffic from public to private to repeat: the funnel per acquisition channel and the
attribution of live-session sales to hosts, from ``marts.ops_customer_journeys`` (one row per
customer: acquisition, first private-domain touch after it, repeat orders).

Right-censoring: a step counts only when it happens within ``window_days`` of the first
purchase, and only customers whose first purchase is at least ``window_days`` before the last
day of data (``followup_days >= window_days``) enter the funnel; the others are counted as
``censored`` and left out. Times between steps are measured on the customers who took the step
within the window (median and p75 of those, in days). Framework-free: the Dagster assets are
in ``orchestration/defs/ops_funnel.py``.
"""

from __future__ import annotations

import polars as pl

ALL = "all"
STEPS = ("first_purchase", "joined_private", "repeat_after_join")
JOURNEY_COLUMNS = (
    "customer_id",
    "acquisition_channel",
    "acquisition_class",
    "first_ordered_at",
    "private_before_first_order",
    "private_joined_at",
    "repeat_ordered_at",
    "repeat_after_join_at",
    "followup_days",
)
FUNNEL_SCHEMA = {
    "acquisition_channel": pl.String,
    "acquisition_class": pl.String,
    "window_days": pl.Int64,
    "step_no": pl.Int64,
    "step": pl.String,
    "customers": pl.Int64,
    "conversion_from_previous": pl.Float64,
    "conversion_from_first": pl.Float64,
    "median_days_from_previous": pl.Float64,
    "p75_days_from_previous": pl.Float64,
    "acquired": pl.Int64,
    "censored": pl.Int64,
    "already_private": pl.Int64,
    "repeat_any": pl.Int64,
    "repeat_rate_joined": pl.Float64,
    "repeat_rate_not_joined": pl.Float64,
}


def _days(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_seconds() / 86_400.0


def journey_steps(journeys: pl.DataFrame, window_days: int) -> pl.DataFrame:
    """One row per customer with the steps taken within the window: ``eligible`` (full window
    observed), ``joined`` (first private touch after the first purchase, within the window, the
    customer not in the private domain before), ``repeat_after_join`` (an order after joining,
    within the window), ``repeat_any`` (a second order within the window) and the days between
    the steps."""
    missing = [c for c in JOURNEY_COLUMNS if c not in journeys.columns]
    if missing:
        raise ValueError(f"journeys: missing column(s) {missing}")
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    w = float(window_days)
    j = journeys.with_columns(
        _days("private_joined_at", "first_ordered_at").alias("days_to_join"),
        _days("repeat_after_join_at", "private_joined_at").alias("days_join_to_repeat"),
        _days("repeat_after_join_at", "first_ordered_at").alias("days_first_to_rjoin"),
        _days("repeat_ordered_at", "first_ordered_at").alias("days_to_repeat"),
    )
    joined = (
        ~pl.col("private_before_first_order").fill_null(False)
        & pl.col("days_to_join").is_not_null()
        & (pl.col("days_to_join") <= w)
    )
    return j.with_columns(
        (pl.col("followup_days") >= window_days).alias("eligible"),
        joined.alias("joined"),
        (
            joined
            & pl.col("days_first_to_rjoin").is_not_null()
            & (pl.col("days_first_to_rjoin") <= w)
        ).alias("repeat_after_join"),
        (pl.col("days_to_repeat").is_not_null() & (pl.col("days_to_repeat") <= w)).alias(
            "repeat_any"
        ),
    )


def _quantile(values: pl.Series, q: float) -> float | None:
    values = values.drop_nulls()
    return float(values.quantile(q, interpolation="linear")) if values.len() else None


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _channel_rows(channel: str, cls: str, steps: pl.DataFrame, window_days: int) -> list[dict]:
    eligible = steps.filter(pl.col("eligible"))
    joined = eligible.filter(pl.col("joined"))
    repeated = joined.filter(pl.col("repeat_after_join"))
    not_joined = eligible.filter(~pl.col("joined"))
    counts = [eligible.height, joined.height, repeated.height]
    times = [
        (None, None),
        (_quantile(joined["days_to_join"], 0.5), _quantile(joined["days_to_join"], 0.75)),
        (
            _quantile(repeated["days_join_to_repeat"], 0.5),
            _quantile(repeated["days_join_to_repeat"], 0.75),
        ),
    ]
    common = {
        "acquisition_channel": channel,
        "acquisition_class": cls,
        "window_days": window_days,
        "acquired": steps.height,
        "censored": steps.height - eligible.height,
        "already_private": int(eligible["private_before_first_order"].fill_null(False).sum()),
        "repeat_any": int(eligible["repeat_any"].sum()),
        "repeat_rate_joined": _rate(int(joined["repeat_any"].sum()), joined.height),
        "repeat_rate_not_joined": _rate(int(not_joined["repeat_any"].sum()), not_joined.height),
    }
    return [
        {
            **common,
            "step_no": i + 1,
            "step": step,
            "customers": counts[i],
            "conversion_from_previous": 1.0 if i == 0 else _rate(counts[i], counts[i - 1]),
            "conversion_from_first": _rate(counts[i], counts[0]),
            "median_days_from_previous": times[i][0],
            "p75_days_from_previous": times[i][1],
        }
        for i, step in enumerate(STEPS)
    ]


def funnel(journeys: pl.DataFrame, window_days: int) -> pl.DataFrame:
    """The funnel per acquisition channel, and over all channels (``all``): three steps
    (first purchase, joined the private domain, repeat purchase after joining) on the customers
    with the full window observed, each with its count, conversion from the previous step and
    from the first, and the median and p75 days from the previous step. Per channel also: the
    customers acquired, censored (window not observed), already private before their first
    purchase (never counted as joining), and the repeat rate within the window of those who
    joined and those who did not."""
    steps = journey_steps(journeys, window_days)
    rows: list[dict] = []
    groups = steps.group_by("acquisition_channel", "acquisition_class", maintain_order=True)
    for (channel, cls), part in sorted(groups, key=lambda g: str(g[0][0])):
        rows += _channel_rows(str(channel), str(cls), part, window_days)
    if steps.height:
        rows += _channel_rows(ALL, ALL, steps, window_days)
    return pl.DataFrame(rows, schema=FUNNEL_SCHEMA)


def funnel_violations(table: pl.DataFrame) -> pl.DataFrame:
    """Rows of a funnel table whose count exceeds the previous step's count of the same
    acquisition channel, or whose conversion lies outside [0, 1]: none on a sound funnel."""
    prev = pl.col("customers").shift(1).over("acquisition_channel", order_by="step_no")
    return table.sort("acquisition_channel", "step_no").filter(
        (prev.is_not_null() & (pl.col("customers") > prev))
        | ~pl.col("conversion_from_previous").fill_null(0.0).is_between(0.0, 1.0)
        | ~pl.col("conversion_from_first").fill_null(0.0).is_between(0.0, 1.0)
    )


HOST_SCHEMA = {
    "channel": pl.String,
    "host_id": pl.String,
    "host_name": pl.String,
    "orders": pl.Int64,
    "gmv_cny": pl.Float64,
    "customers": pl.Int64,
    "customers_acquired": pl.Int64,
    "acquired_observed": pl.Int64,
    "acquired_repeat_in_window": pl.Int64,
    "repeat_rate_in_window": pl.Float64,
    "window_days": pl.Int64,
    "gmv_share": pl.Float64,
}


def host_attribution(
    host_orders: pl.DataFrame, journeys: pl.DataFrame, window_days: int
) -> pl.DataFrame:
    """Live-session sales per host. ``host_orders``: the real orders credited to a host
    (``channel, order_id, customer_id, host_id, host_name, ordered_at, net_amount_cny``).
    Per channel × host: orders, GMV (net of line discounts, CNY, before returns), distinct
    customers, customers acquired (their first purchase was this host's order), of those the
    ones observed for the whole window, and how many of them bought again on any channel within
    it (the repeat rate; censored customers are left out)."""
    need = {"channel", "order_id", "customer_id", "host_id", "host_name", "ordered_at"}
    missing = sorted(need - set(host_orders.columns) - {"net_amount_cny"})
    if missing or "net_amount_cny" not in host_orders.columns:
        raise ValueError(f"host_orders: missing column(s) {missing or ['net_amount_cny']}")
    if host_orders.is_empty():
        return pl.DataFrame(schema=HOST_SCHEMA)
    names = (
        host_orders.sort("ordered_at")
        .group_by("channel", "host_id")
        .agg(pl.col("host_name").drop_nulls().last())
    )
    sales = host_orders.group_by("channel", "host_id").agg(
        pl.len().cast(pl.Int64).alias("orders"),
        pl.col("net_amount_cny").cast(pl.Float64).fill_null(0.0).sum().alias("gmv_cny"),
        pl.col("customer_id").drop_nulls().n_unique().cast(pl.Int64).alias("customers"),
    )
    steps = journey_steps(journeys, window_days)
    first = host_orders.select("channel", "order_id", "host_id").join(
        steps.select(
            pl.col("first_channel").alias("channel"),
            pl.col("first_order_id").alias("order_id"),
            "eligible",
            "repeat_any",
        ),
        on=["channel", "order_id"],
        how="inner",
    )
    acquired = first.group_by("channel", "host_id").agg(
        pl.len().cast(pl.Int64).alias("customers_acquired"),
        pl.col("eligible").sum().cast(pl.Int64).alias("acquired_observed"),
        (pl.col("eligible") & pl.col("repeat_any"))
        .sum()
        .cast(pl.Int64)
        .alias("acquired_repeat_in_window"),
    )
    out = (
        sales.join(names, on=["channel", "host_id"], how="left")
        .join(acquired, on=["channel", "host_id"], how="left")
        .with_columns(
            pl.col("customers_acquired", "acquired_observed", "acquired_repeat_in_window")
            .fill_null(0)
            .cast(pl.Int64),
            pl.lit(window_days, pl.Int64).alias("window_days"),
            (pl.col("gmv_cny") / pl.col("gmv_cny").sum().over("channel")).alias("gmv_share"),
        )
        .with_columns(
            pl.when(pl.col("acquired_observed") > 0)
            .then(pl.col("acquired_repeat_in_window") / pl.col("acquired_observed"))
            .alias("repeat_rate_in_window")
        )
    )
    return (
        out.select(list(HOST_SCHEMA))
        .cast(HOST_SCHEMA)
        .sort(["channel", "gmv_cny", "host_id"], descending=[False, True, False])
    )
