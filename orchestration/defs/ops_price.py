"""Price and products by channel (issue 9): price conflicts against the price policy
(``profiles/price_policy.yml``), elasticities and price suggestions, the channel–product
matrix and their report. The logic lives in ``models/ops/``; tables in schema ``ops``."""

import time

import dagster as dg
import polars as pl

from ingest.config import connect
from models.ops.price import conflict_episodes
from models.ops.price_policy import POLICY_PATH, load_price_policy
from models.ops.price_report import write_price_report
from models.ops.price_warehouse import (
    build_conflicts,
    build_elasticity,
    build_matrix,
    build_suggestions,
    write_tables,
)
from orchestration.defs.cadence import WEEKLY, every
from orchestration.resources import paths

PRICES = dg.AssetKey(["staging", "stg_lake__prices"])
PRODUCTS = dg.AssetKey(["staging", "stg_lake__products"])
ORDER_LINES = dg.AssetKey(["marts", "fct_order_lines"])
CHANNEL_ATP = dg.AssetKey(["marts", "channel_atp"])
FX_RATES = dg.AssetKey(["intermediate", "int_fx_rates"])
CONFLICTS = dg.AssetKey(["ops", "price_conflicts"])
ELASTICITY = dg.AssetKey(["ops", "price_elasticity"])
SUGGESTIONS = dg.AssetKey(["ops", "price_suggestions"])
MATRIX = dg.AssetKey(["ops", "channel_product_matrix"])
REPORT = dg.AssetKey(["ops", "price_report"])
GROUP = "ops_price"


def _read(*tables: str) -> list[pl.DataFrame]:
    """Tables of schema ops, read from the warehouse (read only)."""
    with connect(paths().warehouse, read_only=True) as con:
        return [con.sql(f"select * from ops.{t}").pl() for t in tables]


def _build(build, table: str) -> tuple[pl.DataFrame, float]:
    """Run ``build(con, policy)`` (one of ``price_warehouse.build_*``: {table: frame}) on the
    warehouse, write its tables to schema ops; ``table``'s frame and the seconds it took."""
    t0 = time.perf_counter()
    policy = load_price_policy()
    with connect(paths().warehouse) as con:
        tables = build(con, policy)
        write_tables(con, tables)
    return tables[table], round(time.perf_counter() - t0, 2)


def _table_asset(key: dg.AssetKey, deps: list, description: str, **kwargs):
    """An asset of this group that writes an ``ops`` table with DuckDB and polars."""
    return dg.asset(
        key=key,
        group_name=GROUP,
        deps=deps,
        kinds={"duckdb", "polars"},
        description=description,
        **kwargs,
    )


def _top_episodes(conflicts: pl.DataFrame, n: int = 10) -> str:
    ep = conflict_episodes(conflicts.filter(pl.col("is_new"))).head(n)
    return (
        "\n".join(
            f"- {r['sku']} on {r['channel']}: {r['rule']} vs {r['reference']}, "
            f"{r['date_from']}…{r['date_to']} ({r['days']} d), worst {r['worst_gap_pct']:.1f} %"
            for r in ep.iter_rows(named=True)
        )
        or "none"
    )


@_table_asset(
    CONFLICTS,
    [PRICES, PRODUCTS],
    description="Every SKU × channel × day whose posted price (prices feed) breaks the price "
    "policy (ladder between channels, MAP), with the reference price, the gap (absolute, %), "
    "the rule and whether an approved promotion covers it (table ops.price_conflicts)",
)
def price_conflicts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    conflicts, seconds = _build(build_conflicts, "price_conflicts")
    new = conflicts.filter(pl.col("is_new"))
    context.log.info(f"price conflicts: {conflicts.height} rows, {new.height} new")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": conflicts.height,
            "new_conflicts": new.height,
            "approved_conflicts": conflicts.height - new.height,
            "skus_with_new_conflicts": new["sku"].n_unique(),
            "by_rule": dg.MetadataValue.json(
                {r: n for r, n in conflicts.group_by("rule").len().sort("rule").rows()}
            ),
            "top_new_conflicts": dg.MetadataValue.md(_top_episodes(conflicts)),
            "policy": str(POLICY_PATH),
            "seconds": seconds,
        }
    )


@dg.asset_check(
    asset=CONFLICTS,
    description="No new price conflict: every SKU × channel × day that breaks the ladder or "
    "MAP is covered by an approved promotion of profiles/price_policy.yml (WARN)",
)
def no_new_price_conflicts() -> dg.AssetCheckResult:
    (conflicts,) = _read("price_conflicts")
    new = conflicts.filter(pl.col("is_new"))
    last = conflicts["price_date"].max()
    return dg.AssetCheckResult(
        passed=new.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "new_conflicts": new.height,
            "new_on_last_day": new.filter(pl.col("price_date") == last).height if last else 0,
            "skus": new["sku"].n_unique(),
            "top": dg.MetadataValue.md(_top_episodes(conflicts)),
        },
    )


# The elasticities are fitted on the whole history: one more day barely moves them, so the
# incremental paths refresh them weekly (orchestration/defs/cadence.py), as the forecast
# backtest; the suggestions are priced daily from the latest prices and the last fit.
ELASTICITY_EVERY = WEEKLY


@_table_asset(
    ELASTICITY,
    [PRICES, PRODUCTS, ORDER_LINES],
    tags=every(ELASTICITY_EVERY),
    description="Own-price elasticity per SKU × channel (log-log, Poisson pseudo-likelihood "
    "with day-of-week, trend, event and traffic controls) with its confidence interval, or "
    "insufficient_data and the reason (ops.price_elasticity). Fitted on the whole history: "
    "an incremental run refreshes it when its last materialisation is a week old (a full "
    "build and the weekly_refresh schedule always)",
)
def price_elasticity(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    elastic, seconds = _build(build_elasticity, "price_elasticity")
    est = elastic.filter(pl.col("status") == "estimated")
    context.log.info(f"elasticity: {est.height} of {elastic.height} SKU × channels estimated")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": elastic.height,
            "estimated": est.height,
            "insufficient_data": elastic.height - est.height,
            "median_elasticity": None if est.is_empty() else round(est["elasticity"].median(), 3),
            "significant_below_zero": int((est["ci_high"] < 0).sum()),
            "seconds": seconds,
        },
    )


@_table_asset(
    SUGGESTIONS,
    [PRICES, PRODUCTS, FX_RATES, ELASTICITY],
    description="ops.price_suggestions: a price per SKU × channel of the latest day inside the "
    "ladder and MAP, from the weekly elasticity and the unit cost",
)
def price_suggestions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    suggestions, seconds = _build(build_suggestions, "price_suggestions")
    moved = suggestions.filter(pl.col("change_pct") != 0)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": suggestions.height,
            "price_changes": moved.height,
            "by_binding": dg.MetadataValue.json(
                {b: n for b, n in suggestions.group_by("binding").len().sort("binding").rows()}
            ),
            "seconds": seconds,
        },
    )


@dg.asset_check(
    asset=SUGGESTIONS,
    description="No suggested price below its floor (MAP, ladder) or above its cap (list "
    "price, ladder); where the floor is above the cap the floor wins (ERROR)",
)
def price_suggestions_inside_policy() -> dg.AssetCheckResult:
    (s,) = _read("price_suggestions")
    bad = s.filter(
        (
            pl.col("floor_price").is_not_null()
            & (pl.col("suggested_price") < pl.col("floor_price") - 0.005)
        )
        | (
            pl.col("cap_price").is_not_null()
            & (pl.col("floor_price").is_null() | (pl.col("floor_price") <= pl.col("cap_price")))
            & (pl.col("suggested_price") > pl.col("cap_price") + 0.005)
        )
    )
    return dg.AssetCheckResult(
        passed=bad.is_empty(),
        metadata={
            "outside_policy": bad.height,
            "floor_above_cap": int((s["floor_price"] > s["cap_price"]).sum()),
            "first": "\n".join(
                f"{r['sku']}@{r['channel']}: {r['suggested_price']} not in "
                f"[{r['floor_price']}, {r['cap_price']}]"
                for r in bad.head(10).iter_rows(named=True)
            )
            or "none",
        },
    )


@_table_asset(
    MATRIX,
    [PRODUCTS, PRICES, ORDER_LINES, CHANNEL_ATP],
    description="SKU × channel: listed, units and shares, sell-through and days of cover "
    "(channel ATP), channel-exclusive, listed but never sold, absent on a channel while "
    "selling on a similar one (ops.channel_product_matrix)",
)
def channel_product_matrix(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    matrix, seconds = _build(build_matrix, "channel_product_matrix")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": matrix.height,
            "listed": int(matrix["listed"].sum()),
            "channel_exclusive": int(matrix["channel_exclusive"].sum()),
            "listed_never_sold": int(matrix["listed_never_sold"].sum()),
            "absent_but_sells_on_similar": int(matrix["absent_but_sells_on_similar"].sum()),
            "seconds": seconds,
        }
    )


@dg.asset_check(
    asset=MATRIX,
    description="Per SKU with sales, the channels' shares of its units sum to 1; units in the "
    "window never exceed the units of the whole history; sell-through within [0, 1] (ERROR)",
)
def channel_product_matrix_is_consistent() -> dg.AssetCheckResult:
    (m,) = _read("channel_product_matrix")
    shares = (
        m.filter(pl.col("share_of_sku_units").is_not_null())
        .group_by("sku")
        .agg(pl.col("share_of_sku_units").sum().alias("total"))
        .filter((pl.col("total") - 1).abs() > 0.002)
    )
    window = m.filter(pl.col("units_window") > pl.col("units_total"))
    st = m.filter((pl.col("sell_through") < 0) | (pl.col("sell_through") > 1))
    return dg.AssetCheckResult(
        passed=shares.is_empty() and window.is_empty() and st.is_empty(),
        metadata={
            "skus_shares_not_one": shares.height,
            "window_above_total": window.height,
            "sell_through_out_of_range": st.height,
        },
    )


@dg.asset(
    key=REPORT,
    group_name=GROUP,
    deps=[CONFLICTS, ELASTICITY, SUGGESTIONS, MATRIX],
    kinds={"html"},
    description="exports/reports/price/: the price-conflict heat map, the elasticities with "
    "their intervals, suggestions and matrix flags (index.html and PNGs)",
)
def price_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    folder = paths().exports / "reports" / "price"
    tables = _read("price_conflicts", "price_elasticity", "price_suggestions",
                   "channel_product_matrix")  # fmt: skip
    page = write_price_report(folder, *tables, POLICY_PATH)
    return dg.MaterializeResult(
        metadata={"report": str(page), "heatmap": str(folder / "price_conflicts_heatmap.png")}
    )


ASSETS = [
    price_conflicts,
    price_elasticity,
    price_suggestions,
    channel_product_matrix,
    price_report,
]
CHECKS = [
    no_new_price_conflicts,
    price_suggestions_inside_policy,
    channel_product_matrix_is_consistent,
]
