"""Omnichannel operations, profitability and fulfilment: the channel P&L (per channel × month,
SKU × channel × month, Douyin live session) and the order routing proposals, with their reports
under exports/reports/pnl/ and exports/reports/routing/. Logic in ``models/ops/pnl.py`` and
``models/ops/routing.py``; settings in ``profiles/ops_pnl.yml`` and ``profiles/ops_routing.yml``."""

import time

import dagster as dg
import polars as pl

from ingest.config import connect, replace_tables
from models.ops import pnl as P
from models.ops import routing as R
from models.ops.pnl_report import write_pnl_report, write_routing_report
from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS
from orchestration.resources import paths

SCHEMA = "ops"
ORDER_LINES = dg.AssetKey(["marts", "fct_order_lines"])
ORDERS = dg.AssetKey(["marts", "fct_orders"])
CUSTOMERS = dg.AssetKey(["marts", "dim_customers"])
INVENTORY_POSITION = dg.AssetKey(["marts", "inventory_position"])
ALLOCATION_RULES = dg.AssetKey(["reference", "allocation_rules"])
STG_ORDERS = dg.AssetKey(["staging", "stg_lake__orders"])
FEES = dg.AssetKey(["staging", "stg_lake__fees"])
PRODUCTS = dg.AssetKey(["staging", "stg_lake__products"])
LOCATIONS = dg.AssetKey(["staging", "stg_lake__locations"])
CONSENTS = dg.AssetKey(["intermediate", "int_customer_consents"])

CHANNEL_PNL = dg.AssetKey([SCHEMA, "channel_pnl"])
SKU_PNL = dg.AssetKey([SCHEMA, "sku_channel_pnl"])
SESSION_PNL = dg.AssetKey([SCHEMA, "live_session_pnl"])
ROUTING = dg.AssetKey([SCHEMA, "order_routing"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            CHANNEL_PNL,
            group_name="ops",
            deps=[ORDER_LINES, ORDERS, STG_ORDERS, FEES, PRODUCTS, LOCATIONS],
            kinds={"duckdb", "polars"},
            description="Channel × month P&L in CNY: gross sales, discounts, returns, net "
            "sales, COGS (ERP unit cost), commission, platform fee, host commission, payment, "
            "fulfilment (fee schedules, else profiles/ops_pnl.yml), contribution and margin",
        ),
        dg.AssetSpec(
            SKU_PNL,
            group_name="ops",
            deps=[ORDER_LINES, ORDERS, STG_ORDERS, FEES, PRODUCTS, LOCATIONS],
            kinds={"duckdb", "polars"},
            description="The same P&L per SKU × channel × month",
        ),
        dg.AssetSpec(
            SESSION_PNL,
            group_name="ops",
            deps=[ORDER_LINES, ORDERS, STG_ORDERS, FEES, PRODUCTS, LOCATIONS],
            kinds={"duckdb", "polars"},
            description="Douyin live sessions (host × day) ranked by contribution, beside "
            "their GMV rank",
        ),
    ],
)
def channel_pnl(context: dg.AssetExecutionContext):
    t0 = time.perf_counter()
    settings = P.load_settings()
    p = paths()
    with connect(p.warehouse) as con:
        # an incremental run computes only the months whose inputs changed (models/ops/pnl.py,
        # "a day: the changed months"); every other run, every month
        incremental = context.run.tags.get(DBT_TESTS_TAG) == NEW_ROWS
        tables, months = P.build(con, SCHEMA, settings, incremental)
    by_channel, sessions = tables["channel_pnl"], tables["live_session_pnl"]
    written = {name: frame.height for name, frame in tables.items()}
    computed = "every month" if months is None else ", ".join(map(str, months)) or "none"
    context.log.info(f"P&L months computed: {computed}")
    cost_missing = int(by_channel["units_without_cost"].sum())
    estimated = int(by_channel["refunds_estimated"].sum())
    notes = [
        "Sales, discounts and refunds from marts.fct_order_lines in CNY (reference rate of the "
        "order month); returns count in the month of the sale, except returns that name no "
        "order line (POS return receipts), which count on their own day; a refund without an "
        f"amount (Amazon FBA returns: {estimated}) is valued at the price paid. COGS = ERP unit cost × (units "
        "kept + returned units not restocked). Rate fees on net sales after returns; fixed "
        "fees per unit. Payment, fulfilment and return handling where the fee schedules have "
        "none: profiles/ops_pnl.yml.",
        f"Units without an ERP cost (COGS counted as 0): {cost_missing}.",
    ]
    report = write_pnl_report(p.exports / "reports" / "pnl", by_channel, sessions, notes)
    totals = by_channel.select(pl.col("gross_sales", "net_sales", "contribution").sum()).row(0)
    neg = sessions.filter(pl.col("contribution") < 0)
    common = {
        "settings": str(P.PNL_PATH),
        "report": str(report),
        "seconds": round(time.perf_counter() - t0, 2),
        "months_computed": computed,
    }
    context.log.info(f"channel P&L: {written}")
    yield dg.MaterializeResult(
        asset_key=CHANNEL_PNL,
        metadata={
            **common,
            "dagster/row_count": written["channel_pnl"],
            "gross_sales_cny": round(totals[0], 2),
            "net_sales_cny": round(totals[1], 2),
            "contribution_cny": round(totals[2], 2),
            "contribution_margin": round(totals[2] / totals[1], 4) if totals[1] else None,
            "units_without_cost": cost_missing,
            "refunds_estimated": estimated,
            "by_channel": dg.MetadataValue.md(
                "\n".join(
                    f"- {c}: net {n:,.0f}, contribution {k:,.0f}"
                    for c, n, k in by_channel.group_by("channel")
                    .agg(pl.col("net_sales", "contribution").sum())
                    .sort("channel")
                    .iter_rows()
                )
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=SKU_PNL, metadata={**common, "dagster/row_count": written["sku_channel_pnl"]}
    )
    yield dg.MaterializeResult(
        asset_key=SESSION_PNL,
        metadata={
            **common,
            "dagster/row_count": written["live_session_pnl"],
            "negative_contribution_sessions": neg.height,
            "worst": dg.MetadataValue.json(
                neg.sort("contribution")
                .head(3)
                .select(
                    pl.col("session_date").cast(pl.String),
                    "host_id",
                    "host_name",
                    "gross_sales",
                    "contribution",
                    "gmv_rank",
                    "contribution_rank",
                )
                .to_dicts()
            ),  # fmt: skip
        },
    )


@dg.asset(
    key=ROUTING,
    group_name="ops",
    deps=[
        ORDERS,
        ORDER_LINES,
        STG_ORDERS,
        CUSTOMERS,
        INVENTORY_POSITION,
        LOCATIONS,
        ALLOCATION_RULES,
        CONSENTS,
    ],
    kinds={"duckdb", "polars"},
    description="Proposed fulfilment node per open order (and per order of the last days, "
    "routed as if open against its day's stock): nearest node with ATP, split only when "
    "needed, BOPIS/same-city where chosen, FBA for Amazon, the cross-border warehouse abroad; "
    "reason, alternative, and distance (from the order's delivery city, else province, else "
    "the customer's city) against the node that really shipped",
)
def order_routing(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    t0 = time.perf_counter()
    settings = R.load_settings()
    p = paths()
    with connect(p.warehouse) as con:
        inp = R.read_inputs(con, settings)
        routing, routed_lines = R.route_orders(
            inp["orders"], inp["lines"], inp["nodes"], inp["atp"], settings, inp["buffers"]
        )
        written = replace_tables(
            con, SCHEMA, {"order_routing": routing, "order_routing_lines": routed_lines}
        )
    figures = R.summary(routing)
    notes = [
        f"{figures['open_orders']} orders were still open (paid, not shipped) at the end of the "
        f"data; {figures['as_if_open_orders']} orders of the last {settings.as_if_open_days} "
        "days that had shipped were routed as if open, against the stock position of the end "
        "of the day before their order day, to compare with the node that shipped them.",
        "Distances: haversine from the order's delivery city (orders.ship_city), else its "
        "delivery province (the capital's point), else the customer's city (dim_customers.city); "
        "coordinates from profiles/ops_routing.yml, names compared as normalize_address writes "
        f"them. Orders per source: {figures['orders_located']}. "
        "The demo's orders carry no delivery choice, so "
        "no order asks for store pickup or same-city delivery (the rules are tested apart).",
        "Compared: orders whose shipping node the channel reports (JD, Douyin, web) and whose "
        "delivery point is known.",
    ]
    report = write_routing_report(p.exports / "reports" / "routing", routing, figures, notes)
    context.log.info(f"order routing: {figures}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written["order_routing"],
            "shipment_lines": written["order_routing_lines"],
            **{k: v for k, v in figures.items() if k not in ("modes", "orders_located")},
            "modes": dg.MetadataValue.json(figures["modes"]),
            "orders_located": dg.MetadataValue.json(figures["orders_located"]),
            "settings": str(R.ROUTING_PATH),
            "report": str(report),
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )


def _read(sql: str) -> pl.DataFrame:
    with connect(paths().warehouse, read_only=True) as con:
        return con.sql(sql).pl()


@dg.asset_check(
    asset=CHANNEL_PNL,
    additional_deps=[ORDER_LINES],
    description="Every P&L row adds up within a cent (gross − discounts − returns = net sales; "
    "net sales − COGS − fees = contribution), and each channel's net sales equal the marts' "
    "net amount less refunds of the counted lines within a cent per line (ERROR)",
)
def channel_pnl_adds_up() -> dg.AssetCheckResult:
    settings = P.load_settings()
    bad = {}
    for t in ("channel_pnl", "sku_channel_pnl", "live_session_pnl"):
        bad[t] = P.component_violations(_read(f"select * from {SCHEMA}.{t}")).height
    with connect(paths().warehouse, read_only=True) as con:
        rec = P.reconcile_net_sales(con, settings, _read(f"select * from {SCHEMA}.channel_pnl"))
    off = rec.filter(pl.col("gap") > 0.01 * pl.col("lines").fill_null(1))
    return dg.AssetCheckResult(
        passed=sum(bad.values()) == 0 and off.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            **{f"rows_not_adding_up_{t}": n for t, n in bad.items()},
            "channels_off_marts": off.height,
            "reconciliation": dg.MetadataValue.json(
                rec.with_columns(pl.col("mart_net").cast(pl.Float64)).to_dicts()
            ),
        },
    )


@dg.asset_check(
    asset=SESSION_PNL,
    description="WARN when a Douyin live session has a negative contribution: its host "
    "commission, discounts and returns cost more than it earns",
)
def live_sessions_make_money() -> dg.AssetCheckResult:
    s = _read(f"select * from {SCHEMA}.live_session_pnl")
    neg = s.filter(pl.col("contribution") < 0).sort("contribution")
    return dg.AssetCheckResult(
        passed=neg.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sessions": s.height,
            "negative_contribution": neg.height,
            "worst": dg.MetadataValue.md(
                "\n".join(
                    f"- {r['session_date']} host {r['host_id']} ({r['host_name']}): GMV "
                    f"{r['gross_sales']:,.2f} (rank {r['gmv_rank']}), contribution "
                    f"{r['contribution']:,.2f}, returns {r['return_rate']:.0%}"
                    for r in neg.head(10).iter_rows(named=True)
                )
                or "none"
            ),
        },
    )


@dg.asset_check(
    asset=ROUTING,
    additional_deps=[INVENTORY_POSITION],
    description="Routing never proposes a node without available-to-promise: every proposed "
    "shipment line takes at most the node's free stock at that moment, and the lines of each "
    "order add up to its units less those left unrouted (ERROR)",
)
def routing_respects_atp() -> dg.AssetCheckResult:
    lines = _read(f"select * from {SCHEMA}.order_routing_lines")
    orders = _read(f"select channel, order_id, units, units_unrouted from {SCHEMA}.order_routing")
    over = lines.filter(
        pl.col("location_id").is_null() | (pl.col("quantity") > pl.col("available_before"))
        | (pl.col("quantity") <= 0)
    )  # fmt: skip
    got = lines.group_by("channel", "order_id").agg(pl.col("quantity").sum().alias("shipped"))
    mism = orders.join(got, on=["channel", "order_id"], how="left").filter(
        pl.col("shipped").fill_null(0) != pl.col("units") - pl.col("units_unrouted")
    )
    return dg.AssetCheckResult(
        passed=over.is_empty() and mism.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "shipment_lines": lines.height,
            "lines_beyond_atp": over.height,
            "orders_not_adding_up": mism.height,
            "examples": dg.MetadataValue.json(
                over.head(5).with_columns(pl.col("order_date").cast(pl.String)).to_dicts()
            ),
        },
    )


@dg.asset_check(
    asset=ROUTING,
    additional_deps=[CONSENTS],
    description="No proposal sends a recipient's personal data abroad (a node outside the "
    "domestic country, FBA aside) without the customer's cross_border consent (PIPL art. 39; "
    "ERROR)",
)
def routing_sends_no_data_abroad_without_consent() -> dg.AssetCheckResult:
    routing = _read(f"select * from {SCHEMA}.order_routing")
    bad = R.abroad_without_consent(routing)
    return dg.AssetCheckResult(
        passed=bad.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "orders": routing.height,
            "orders_sending_data_abroad": int(routing["sends_data_abroad"].sum()),
            "without_cross_border_consent": bad.height,
            "examples": dg.MetadataValue.json(
                bad.select("channel", "order_id", "proposed_nodes").head(5).to_dicts()
            ),
        },
    )


ASSETS = [channel_pnl, order_routing]
CHECKS = [
    channel_pnl_adds_up,
    live_sessions_make_money,
    routing_respects_atp,
    routing_sends_no_data_abroad_without_consent,
]
