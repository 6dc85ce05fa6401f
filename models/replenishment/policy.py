"""The replenishment policy: targets from the forecast's mean and quantiles, transfers, orders.

A periodic-review (R, s, S) policy per location × SKU. At a review, with the lead time L and
review period R of the location's supply lane (``profiles/replenishment.yml``):

- expected daily demand mu_d: the forecast's ``mean`` (expected demand) where it has one,
  else its P50. Lead-time demand is a sum, and the expectation of a sum is the sum of the
  means: on intermittent series (most days zero) the P50 is 0 while the demand is not, so a
  median-based policy would never order;
- daily spread: the variance of the normal with the forecast's P10-P90 width, sigma_d =
  (P90 - P10) / (2 * 1.2816), but when a mean is given at least mu_d (a Poisson reading of
  count demand: its variance is at least its mean; the quantile width collapses to 0 when
  P10 = P90 = 0 on intermittent series, which would otherwise leave no safety stock); days
  are summed as independent (variance adds);
- safety stock SS = z * sqrt(sum of sigma_d^2 over the L + R protection days), z the normal
  quantile of the service target;
- reorder point s = sum of mu_d over the L + R days + SS: below it, stock will not last
  until the next order could arrive;
- order-up-to S = s + sum of mu_d over one more review period (the cycle stock, so that an
  order covers a period instead of topping up every review);
- days beyond the forecast horizon repeat its last day.

Transfers come first: per SKU, a location whose position is at or below s takes stock from
locations holding more than their own S (free stock above S only, over the allowed transfer
lanes, same city first, then the largest excess). What a transfer does not cover is bought:
S - position, raised to the MOQ and rounded up to whole case packs. Every line carries its
reason in words, for the planner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl

from models.replenishment.config import Policy

Z_P90 = NormalDist().inv_cdf(0.9)


def daily_sigma(p10: np.ndarray, p90: np.ndarray) -> np.ndarray:
    """The standard deviation a normal distribution with this P10-P90 width would have."""
    return np.maximum(np.asarray(p90, float) - np.asarray(p10, float), 0.0) / (2 * Z_P90)


def daily_variance(p10, p90, mean=None) -> np.ndarray:
    """The daily demand variance: the normal reading of the P10-P90 width, floored at the
    mean when one is given (Poisson: count demand varies at least as much as its mean)."""
    var = daily_sigma(p10, p90) ** 2
    if mean is None:
        return var
    return np.maximum(var, np.maximum(np.asarray(mean, float), 0.0))


def window_sums(values: np.ndarray, skip, days) -> np.ndarray:
    """Per row of ``values`` (rows × forecast days), the sum over ``days`` days after the
    first ``skip`` (scalars or one per row); days past the last column repeat it (the
    forecast's last day)."""
    values = np.atleast_2d(np.asarray(values, float))
    n, h = values.shape
    if h == 0:
        return np.zeros(n)
    skip = np.broadcast_to(np.maximum(np.asarray(skip, int), 0), (n,))
    end = skip + np.broadcast_to(np.maximum(np.asarray(days, int), 0), (n,))
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(values, axis=1)], axis=1)
    rows = np.arange(n)
    a = np.minimum(skip, h)
    inside = cum[rows, np.minimum(end, h)] - cum[rows, a]
    beyond = np.maximum(end - np.maximum(skip, h), 0) * values[:, -1]
    return inside + beyond


def horizon_sum(values: np.ndarray, days: int) -> float:
    """Sum of the first ``days`` daily values; days past the end repeat the last value."""
    values = np.asarray(values, float)
    if days <= 0 or values.size == 0:
        return 0.0
    return float(window_sums(values[None, :], 0, np.array([days]))[0])


@dataclass(frozen=True)
class Targets:
    mean_daily_demand: float
    protection_demand: float
    safety_stock: float
    reorder_point: float
    order_up_to: float


def targets(
    p10: np.ndarray,
    p50: np.ndarray,
    p90: np.ndarray,
    lead: int,
    review: int,
    z: float,
    mean: np.ndarray | None = None,
) -> Targets:
    """SS, s and S of one location × SKU from its daily forecast (day 1 = the day after the
    position date); expected demand from ``mean`` when given, else from the P50."""
    var = daily_variance(p10, p90, mean)
    p50 = np.maximum(np.asarray(p50 if mean is None else mean, float), 0.0)
    protection = lead + review
    demand = horizon_sum(p50, protection)
    ss = z * math.sqrt(horizon_sum(var, protection))
    s = demand + ss
    cycle = horizon_sum(p50, protection + review) - demand
    mean = horizon_sum(p50, protection + review) / (protection + review)
    return Targets(mean, demand, ss, s, s + cycle)


def _mean_of(g: pl.DataFrame) -> np.ndarray | None:
    """The expected-demand column of one pair's forecast, when it has one on every day."""
    if "mean" not in g.columns or g["mean"].null_count() or g["mean"].is_nan().any():
        return None
    return g["mean"].to_numpy()


def order_quantity(need: float, moq: int, case_pack: int) -> int:
    """Units to buy for a need: 0 for no need, else at least the MOQ, in whole case packs."""
    if need <= 0:
        return 0
    units = max(math.ceil(need - 1e-9), moq)
    return int(math.ceil(units / case_pack) * case_pack)


def compute_targets(
    positions: pl.DataFrame, forecast: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """Per location × SKU of ``positions``: its lane and targets. ``forecast`` holds the days
    after the position date (location_id, sku, ds, p10, p50, p90, and optionally ``mean``,
    the expected demand, used where not null). Pairs without a forecast get null targets."""
    fc = {
        key: g.sort("ds")
        for key, g in forecast.partition_by(["location_id", "sku"], as_dict=True).items()
    }
    rows = []
    for r in positions.iter_rows(named=True):
        lane = policy.lane(r["location_id"], r["location_type"], r["sku"])
        g = fc.get((r["location_id"], r["sku"]))
        t = (
            targets(
                g["p10"].to_numpy(),
                g["p50"].to_numpy(),
                g["p90"].to_numpy(),
                lane.lead_time_days,
                lane.review_days,
                policy.z,
                _mean_of(g),
            )
            if g is not None and g.height
            else None
        )
        rows.append(
            {
                "location_id": r["location_id"],
                "sku": r["sku"],
                "supplier": lane.supplier,
                "lead_time_days": lane.lead_time_days,
                "review_days": lane.review_days,
                "moq": lane.moq,
                "case_pack": lane.case_pack,
                "has_forecast": t is not None,
                "mean_daily_demand": t.mean_daily_demand if t else None,
                "protection_demand": t.protection_demand if t else None,
                "safety_stock": t.safety_stock if t else None,
                "reorder_point": t.reorder_point if t else None,
                "order_up_to": t.order_up_to if t else None,
            }
        )
    schema = {
        "location_id": pl.String,
        "sku": pl.String,
        "supplier": pl.String,
        "lead_time_days": pl.Int64,
        "review_days": pl.Int64,
        "moq": pl.Int64,
        "case_pack": pl.Int64,
        "has_forecast": pl.Boolean,
        "mean_daily_demand": pl.Float64,
        "protection_demand": pl.Float64,
        "safety_stock": pl.Float64,
        "reorder_point": pl.Float64,
        "order_up_to": pl.Float64,
    }
    return positions.join(pl.DataFrame(rows, schema=schema), on=["location_id", "sku"], how="left")


def _lane_allows(policy: Policy, donor: dict, taker: dict) -> bool:
    if donor["location_id"] == taker["location_id"] or donor["country"] != taker["country"]:
        return False
    return any(
        lane.source == donor["location_type"]
        and lane.target == taker["location_type"]
        and (not lane.same_city or donor["city"] == taker["city"])
        for lane in policy.transfers.lanes
    )


def plan_transfers(lines: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Transfer proposals, per SKU, from locations above their order-up-to level to locations
    at or below their reorder point. A donor gives only free stock above its own S (never
    more than its available-to-promise); a taker takes at most S - position. Takers with the
    largest need go first; each takes from same-city donors first, then the largest excess."""
    out = []
    min_units = policy.transfers.min_units
    usable = lines.filter(pl.col("has_forecast"))
    for (sku,), g in usable.partition_by(["sku"], as_dict=True, maintain_order=True).items():
        rows = g.to_dicts()
        excess = {
            r["location_id"]: max(
                0,
                min(
                    math.floor(r["inventory_position"] - r["order_up_to"]),
                    r["available_to_promise"],
                ),
            )
            for r in rows
        }
        takers = [r for r in rows if r["inventory_position"] <= r["reorder_point"]]
        takers.sort(key=lambda r: (-(r["order_up_to"] - r["inventory_position"]), r["location_id"]))
        for t in takers:
            need = math.ceil(t["order_up_to"] - t["inventory_position"] - 1e-9)
            donors = [
                d for d in rows if excess[d["location_id"]] > 0 and _lane_allows(policy, d, t)
            ]
            donors.sort(
                key=lambda d: (d["city"] != t["city"], -excess[d["location_id"]], d["location_id"])
            )
            for d in donors:
                if need < min_units:
                    break
                qty = min(need, excess[d["location_id"]])
                if qty < min_units:
                    continue
                excess[d["location_id"]] -= qty
                need -= qty
                where = "same city" if d["city"] == t["city"] else f"{d['city']} to {t['city']}"
                out.append(
                    {
                        "sku": sku,
                        "from_location_id": d["location_id"],
                        "to_location_id": t["location_id"],
                        "quantity": int(qty),
                        "lead_time_days": policy.transfers.lead_time_days,
                        "reason": (
                            f"{t['location_id']} position {t['inventory_position']} is at or "
                            f"below its reorder point {t['reorder_point']:.1f} (order-up-to "
                            f"{t['order_up_to']:.1f}); {d['location_id']} holds "
                            f"{d['inventory_position']} against its order-up-to "
                            f"{d['order_up_to']:.1f}: move {qty} ({where}) before buying"
                        ),
                    }
                )
    return pl.DataFrame(
        out,
        schema={
            "sku": pl.String,
            "from_location_id": pl.String,
            "to_location_id": pl.String,
            "quantity": pl.Int64,
            "lead_time_days": pl.Int64,
            "reason": pl.String,
        },
    )


def _buy_reason(r: dict) -> str:
    if not r["has_forecast"]:
        return "no forecast for this SKU at this location: not planned"
    pos, s, big_s = r["inventory_position"], r["reorder_point"], r["order_up_to"]
    head = (
        f"position {pos} (on hand {r['on_hand']}, in transit {r['in_transit']}, committed "
        f"{r['committed']})"
    )
    targets_txt = (
        f"reorder point {s:.1f} = {r['protection_demand']:.1f} forecast over "
        f"{r['lead_time_days']}+{r['review_days']} d lead+review + safety stock "
        f"{r['safety_stock']:.1f}; order-up-to {big_s:.1f}"
    )
    if pos > s:
        return f"no order: {head} above {targets_txt}"
    moved = r["transfer_in"]
    after = r["position_after_transfers"]
    if moved and after > s:
        return (
            f"no order: {head} at or below {targets_txt}; transfers in {moved} bring it to {after}"
        )
    need = big_s - after
    via = f"; after transfers in {moved}, position {after}" if moved else ""
    return (
        f"order {r['order_qty']}: {head} at or below {targets_txt}{via}; need {need:.1f} "
        f"rounded to MOQ {r['moq']} and case pack {r['case_pack']} from {r['supplier']}"
    )


def plan(
    positions: pl.DataFrame, forecast: pl.DataFrame, policy: Policy
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Replenishment proposals (one line per location × SKU of ``positions``) and transfer
    proposals. ``positions`` needs location_id, location_type, city, country, sku, on_hand,
    in_transit, committed, available_to_promise, inventory_position."""
    lines = compute_targets(positions, forecast, policy)
    transfers = plan_transfers(lines, policy)
    moved_in = transfers.group_by(pl.col("to_location_id").alias("location_id"), "sku").agg(
        pl.col("quantity").sum().alias("transfer_in")
    )
    moved_out = transfers.group_by(pl.col("from_location_id").alias("location_id"), "sku").agg(
        pl.col("quantity").sum().alias("transfer_out")
    )
    lines = (
        lines.join(moved_in, on=["location_id", "sku"], how="left")
        .join(moved_out, on=["location_id", "sku"], how="left")
        .with_columns(
            pl.col("transfer_in").fill_null(0).cast(pl.Int64),
            pl.col("transfer_out").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            (pl.col("inventory_position") + pl.col("transfer_in") - pl.col("transfer_out")).alias(
                "position_after_transfers"
            )
        )
    )
    qty = []
    for r in lines.iter_rows(named=True):
        if not r["has_forecast"] or r["inventory_position"] > r["reorder_point"]:
            qty.append(0)
            continue
        after = r["position_after_transfers"]
        need = r["order_up_to"] - after if after <= r["reorder_point"] else 0.0
        qty.append(order_quantity(need, r["moq"], r["case_pack"]))
    lines = lines.with_columns(pl.Series("order_qty", qty, dtype=pl.Int64))
    lines = lines.with_columns(
        pl.when(pl.col("mean_daily_demand") > 0)
        .then(pl.col("inventory_position") / pl.col("mean_daily_demand"))
        .alias("days_of_cover"),
        pl.when(pl.col("mean_daily_demand") > 0)
        .then(
            (pl.col("position_after_transfers") + pl.col("order_qty")) / pl.col("mean_daily_demand")
        )
        .alias("days_of_cover_after"),
    )
    lines = lines.with_columns(
        pl.Series("reason", [_buy_reason(r) for r in lines.iter_rows(named=True)], dtype=pl.String)
    )
    return lines, transfers
