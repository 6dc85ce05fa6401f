"""Inventory visibility and replenishment: the snapshot check on the dbt inventory marts, the
proposals and the policy simulation, after the forecast assets. The logic lives in
``models/replenishment/``; the rules in ``profiles/replenishment.yml`` and the dbt seed
``allocation_rules``."""

import time

import dagster as dg
import polars as pl

from ingest.config import connect
from models.replenishment.config import POLICY_PATH, load_policy
from models.replenishment.policy import plan
from models.replenishment.routing import UNASSIGNED, route_forecast, routing_weights
from models.replenishment.simulate import POLICIES as SIMULATED
from models.replenishment.simulate import simulate
from models.replenishment.snapshots import MAX_AGE_DAYS, snapshot_problems
from models.replenishment.warehouse import (
    export_csv,
    proposal_violations,
    read_backtest,
    read_forecast,
    read_positions,
    read_routing_inputs,
    write_tables,
)
from orchestration.resources import paths

INVENTORY_POSITION = dg.AssetKey(["marts", "inventory_position"])
LOCATIONS = dg.AssetKey(["staging", "stg_lake__locations"])
PRODUCTS = dg.AssetKey(["staging", "stg_lake__products"])
DAILY_SALES = dg.AssetKey(["marts", "fct_daily_sales"])
# The forecast assets (orchestration/defs/forecast.py, owned by forecasting).
DEMAND_FORECAST = dg.AssetKey(["forecast", "demand_forecast"])
BACKTEST_FORECASTS = dg.AssetKey(["forecast", "backtest"])  # writes forecast.backtest_forecasts
PROPOSALS = dg.AssetKey(["replenishment", "replenishment_proposals"])
TRANSFERS = dg.AssetKey(["replenishment", "transfer_proposals"])
SIMULATION = dg.AssetKey(["replenishment", "policy_simulation"])

PROPOSAL_COLUMNS = [
    "position_date", "location_id", "location_type", "sku", "name_zh", "category", "supplier",
    "lead_time_days", "review_days", "on_hand", "in_transit", "committed",
    "available_to_promise", "inventory_position", "mean_daily_demand", "protection_demand",
    "safety_stock", "reorder_point", "order_up_to", "transfer_in", "transfer_out",
    "position_after_transfers", "moq", "case_pack", "order_qty", "days_of_cover",
    "days_of_cover_after", "reason",
]  # fmt: skip


@dg.asset_check(
    asset=INVENTORY_POSITION,
    additional_deps=[LOCATIONS],
    description=f"On the latest position date, no location's snapshot older than "
    f"{MAX_AGE_DAYS} day(s), no SKU left out of a snapshot while it had stock, no open "
    "location without any snapshot (WARN: positions are then carried from older counts)",
)
def inventory_snapshots_are_fresh() -> dg.AssetCheckResult:
    with connect(paths().warehouse, read_only=True) as con:
        problems = snapshot_problems(con)
    counts = dict(problems.group_by("problem").len().rows()) if problems.height else {}
    return dg.AssetCheckResult(
        passed=problems.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "problems": problems.height,
            "stale": counts.get("stale", 0),
            "missing": counts.get("missing", 0),
            "no_snapshot": counts.get("no_snapshot", 0),
            "max_age_days": MAX_AGE_DAYS,
            "first_problems": dg.MetadataValue.md(
                "\n".join(
                    f"- {r['location_id']} {r['sku'] or '(all SKUs)'}: {r['problem']}, "
                    f"snapshot {r['snapshot_date']}"
                    for r in problems.head(20).iter_rows(named=True)
                )
                or "none"
            ),
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PROPOSALS,
            group_name="replenishment",
            deps=[INVENTORY_POSITION, LOCATIONS, PRODUCTS, DEMAND_FORECAST, DAILY_SALES],
            kinds={"duckdb", "polars"},
            description="One line per location × SKU on the latest position date: safety "
            "stock, reorder point and order-up-to from the forecast quantiles over the lane's "
            "lead time and review period, transfers in/out, the purchase in whole case packs, "
            "days of cover and the reason in words (profiles/replenishment.yml)",
        ),
        dg.AssetSpec(
            TRANSFERS,
            group_name="replenishment",
            deps=[INVENTORY_POSITION, DEMAND_FORECAST],
            kinds={"duckdb", "polars"},
            description="Moves of free stock from locations above their order-up-to to "
            "locations at or below their reorder point, proposed before any purchase",
        ),
    ],
)
def replenishment_proposals(context: dg.AssetExecutionContext):
    """Plan on the latest inventory position with the latest forecast; write the tables of
    schema replenishment and the planners' CSVs under exports/replenishment/<date>/."""
    t0 = time.perf_counter()
    policy = load_policy()
    p = paths()
    with connect(p.warehouse) as con:
        positions = read_positions(con)
        if positions.is_empty():
            raise RuntimeError("marts.inventory_position has no latest position to plan on")
        as_of = positions["position_date"].max()
        raw = read_forecast(con, as_of)
        mix, own = read_routing_inputs(con, as_of, policy.routing_window_days)
        weights = routing_weights(mix, own, positions, policy)
        forecast = route_forecast(raw, weights)
        lines, transfers = plan(positions, forecast, policy)
        lines = lines.select(PROPOSAL_COLUMNS)
        transfers = transfers.select(pl.lit(as_of).alias("position_date"), pl.all())
        written = write_tables(
            con, {"replenishment_proposals": lines, "transfer_proposals": transfers}
        )
    to_act = lines.filter((pl.col("order_qty") > 0) | (pl.col("transfer_in") > 0))
    folder = p.exports / "replenishment" / as_of.isoformat()
    files = export_csv(folder, {"replenishment_proposals": to_act, "transfer_proposals": transfers})
    planned = lines.filter(pl.col("reorder_point").is_not_null())
    common = {
        "position_date": as_of.isoformat(),
        "forecast_cutoff": str(forecast["cutoff"].max()) if forecast.height else "none",
        "policy": str(POLICY_PATH),
        "exports": str(folder),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    context.log.info(f"replenishment: {written}, {len(to_act)} lines to act on")
    yield dg.MaterializeResult(
        asset_key=PROPOSALS,
        metadata={
            **common,
            "dagster/row_count": written["replenishment_proposals"],
            "lines_planned": planned.height,
            "lines_without_forecast": lines.height - planned.height,
            "unassigned_demand_routed_share": _round(_routed_share(raw, weights), 4),
            "purchase_lines": int((lines["order_qty"] > 0).sum()),
            "purchase_units": int(lines["order_qty"].sum()),
            "below_reorder_point": int(
                (planned["inventory_position"] <= planned["reorder_point"]).sum()
            ),
            "median_days_of_cover": _round(planned["days_of_cover"].median()),
            "csv": files["replenishment_proposals"],
        },
    )
    yield dg.MaterializeResult(
        asset_key=TRANSFERS,
        metadata={
            **common,
            "dagster/row_count": written["transfer_proposals"],
            "transfer_units": int(transfers["quantity"].sum()) if transfers.height else 0,
            "purchase_units_avoided": int(lines["transfer_in"].sum()),
            "csv": files["transfer_proposals"],
        },
    )


def _routed_share(raw: pl.DataFrame, weights: pl.DataFrame) -> float | None:
    """The share of the UNASSIGNED forecast (P50) routed to real locations."""
    un = raw.filter(pl.col("location_id") == UNASSIGNED)
    total = un["p50"].sum()
    if not total:
        return None
    per_sku = weights.group_by("sku").agg(pl.col("weight").sum())
    return (
        float(un.join(per_sku, on="sku").select(pl.col("p50") * pl.col("weight")).sum().item())
        / total
    )


def _round(x, digits: int = 2):
    return None if x is None else round(float(x), digits)


@dg.asset(
    key=SIMULATION,
    group_name="replenishment",
    deps=[
        BACKTEST_FORECASTS,
        DEMAND_FORECAST,
        INVENTORY_POSITION,
        DAILY_SALES,
        LOCATIONS,
        PRODUCTS,
    ],
    kinds={"duckdb", "polars"},
    description="The service level (fill rate, cycle service) and average stock the policy "
    "would have given over the backtest period on the demo truth, without and with the "
    "proposed transfers between locations, against a naive "
    "order-up-to of the 28-day mean sales × (lead time + review) and the demo planner's "
    "actual; table replenishment.policy_simulation and exports/replenishment/simulation.md",
)
def policy_simulation(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Simulate on data/truth/demand.parquet (evaluation only: the policy reads forecasts made
    from the warehouse, never the truth). Without a truth (not the demo) nothing is simulated."""
    t0 = time.perf_counter()
    p = paths()
    truth_file = p.truth / "demand.parquet"
    if not truth_file.exists():
        return dg.MaterializeResult(metadata={"note": "no data/truth/: not the demo"})
    policy = load_policy()
    with connect(p.warehouse) as con:
        backtest = read_backtest(con)
        first_cutoff = backtest["cutoff"].min()
        mix, own = read_routing_inputs(con, first_cutoff, policy.routing_window_days)
        carriers = con.execute(
            "select distinct p.location_id, p.location_type, l.country, p.sku "
            "from marts.inventory_position p join staging.stg_lake__locations l "
            "using (location_id) where p.position_date = ?",
            [first_cutoff],
        ).pl()
        weights = routing_weights(mix, own, carriers, policy)
        backtest = pl.concat(
            [
                route_forecast(backtest.filter(pl.col("cutoff") == c), weights)
                for c in backtest["cutoff"].unique().sort()
            ]
        )
        locations = con.sql(
            "select location_id, location_type, city, country from staging.stg_lake__locations"
        ).pl()
        cost = con.sql(
            "select sku, cast(unit_cost as double) as unit_cost from staging.stg_lake__products"
        ).pl()
        truth = pl.read_parquet(truth_file)
        truth = truth.select(
            "date", "location_id", "sku", "true_demand", "sold_units", "on_hand_start",
            *(["in_transit"] if "in_transit" in truth.columns else []),
        )  # fmt: skip
        sim = simulate(truth, backtest, locations, policy, cost)
        table = sim.summary.with_columns(
            pl.lit(sim.start).alias("start"), pl.lit(sim.end).alias("end"),
            pl.lit(sim.pairs).alias("pairs"),
        )  # fmt: skip
        write_tables(
            con, {"policy_simulation": table, "policy_simulation_by_type": sim.by_location_type}
        )
    wide = sim.summary.pivot(on="policy", index="metric", values="value")
    report = _simulation_markdown(sim, wide)
    folder = p.exports / "replenishment"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "simulation.md").write_text(report, encoding="utf-8")
    export_csv(
        folder, {"policy_simulation": table, "policy_simulation_by_type": sim.by_location_type}
    )
    value = {(r["policy"], r["metric"]): r["value"] for r in sim.summary.to_dicts()}
    context.log.info(report)
    return dg.MaterializeResult(
        metadata={
            "start": str(sim.start),
            "end": str(sim.end),
            "pairs": sim.pairs,
            **{
                f"{pol}/{m}": round(value[(pol, m)], 4)
                for pol in POLICIES
                for m in ("fill_rate", "cycle_service_level", "avg_stock_units", "avg_stock_value")
            },
            **{
                f"{pol}/units_transferred": value[(pol, "units_transferred")]
                for pol in POLICIES[:2]
            },
            "report": dg.MetadataValue.md(report),
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )


POLICIES = (*SIMULATED, "demo planner (actual)")


def _simulation_markdown(sim, wide: pl.DataFrame) -> str:
    cols = [c for c in POLICIES if c in wide.columns]
    lines = [
        f"# Replenishment policy simulation, {sim.start} to {sim.end} ({sim.pairs} location × "
        "SKU pairs)",
        "",
        "| metric | " + " | ".join(cols) + " |",
        "| --- | " + " | ".join("---:" for _ in cols) + " |",
    ]
    for r in wide.iter_rows(named=True):
        lines.append(f"| {r['metric']} | " + " | ".join(f"{r[c]:.4g}" for c in cols) + " |")
    lines += ["", "By location type:", "", "| policy | location type | fill rate | cycle "
              "service | avg stock units |", "| --- | --- | ---: | ---: | ---: |"]  # fmt: skip
    for r in sim.by_location_type.iter_rows(named=True):
        lines.append(
            f"| {r['policy']} | {r['location_type']} | {r['fill_rate']:.4f} | "
            f"{r['cycle_service_level']:.4f} | {r['avg_stock_units']:.1f} |"
        )
    return "\n".join(lines) + "\n"


@dg.asset_check(
    asset=PROPOSALS,
    additional_deps=[TRANSFERS],
    description="Purchases are at least the MOQ and whole case packs; no transfer leaves an "
    "FBA node; no location gives more than its available-to-promise",
)
def proposals_respect_order_rules() -> dg.AssetCheckResult:
    with connect(paths().warehouse, read_only=True) as con:
        violations = proposal_violations(con)
    return dg.AssetCheckResult(
        passed=not violations,
        metadata={"violations": len(violations), "first": "\n".join(violations[:20]) or "none"},
    )


ASSETS = [replenishment_proposals, policy_simulation]
CHECKS = [inventory_snapshots_are_fresh, proposals_respect_order_rules]
