"""What the policy would have done: a day-by-day simulation over the backtest period.

Per location × SKU with a backtest forecast in every fold, from the day after the first
cutoff to the last forecast day: each morning the orders due arrive; the day's true demand
(the demo truth, read only here, for evaluation) is served from stock, what stock cannot serve
is lost (as in the demo: no backorders); every review day (every R days of the lane) the
policy looks at its position (on hand + on order) and orders, arriving L days later.

- ``forecast`` policy: the (R, s, S) of :mod:`models.replenishment.policy`, with the
  forecast of the latest fold whose cutoff is on or before the review day (only data up to
  that cutoff went into it), for the days after the review;
- ``forecast + transfers``: the same, and at each review the transfers the planner's
  proposals would make (:func:`models.replenishment.policy.plan_transfers`, the same code):
  a location due for review at or below its reorder point takes free stock above the
  order-up-to level of other locations of the same SKU over the allowed transfer lanes; the
  units leave the donor's shelf that evening and reach the taker ``transfers.lead_time_days``
  later (in transit they count in the position, not in the stock); what transfers do not
  cover is bought;
- ``naive`` policy: order up to the mean of the last 28 days' observed (censored) sales ×
  (L + R) days of cover, at every review;
- ``forecast, unit lots`` and ``naive, unit lots``: the same without the lanes' MOQ and case
  pack. The demo's planner buys any quantity, so these are the like-for-like comparison with
  its actual stock; the lot sizes are what most of the difference is made of (at 2,000 x 120,
  warehouse MOQ 24 and case pack 12 on SKUs selling a unit every few days).

All start from the truth's opening stock on the first day and with what the demo planner had
on order that evening (the truth's ``in_transit`` at the end of the day before, when it has
one): those units arrive as the planner's did, the first arrivals after the start in time
order (``opening_pipeline``), so a policy is not judged on days its own orders could not
have reached yet. All round orders the same way (MOQ, case pack). Measured: fill rate (units served / units demanded), cycle service level (share of review
cycles with demand in which no demand was lost) and average end-of-day stock, per policy;
beside them, what the demo's own planner actually achieved over the same days.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from models.replenishment.config import Policy
from models.replenishment.policy import daily_variance, plan_transfers, window_sums

NAIVE_WINDOW = 28
UNIT_LOTS = ", unit lots"
# the simulated policies; the ``unit lots`` ones buy any whole number of units (MOQ and case
# pack 1), as the demo's planner does: the like-for-like comparison with its actual stock
POLICIES = (
    "forecast",
    "forecast + transfers",
    "naive",
    "forecast" + UNIT_LOTS,
    "naive" + UNIT_LOTS,
)


@dataclass
class Simulation:
    summary: pl.DataFrame  # policy, metric, value
    by_location_type: pl.DataFrame  # policy, location_type, fill_rate, ...
    start: object
    end: object
    pairs: int


def _round_orders(need: np.ndarray, moq: np.ndarray, pack: np.ndarray) -> np.ndarray:
    units = np.maximum(np.ceil(need - 1e-9), moq)
    return np.where(need > 0, np.ceil(units / pack) * pack, 0.0)


def simulate(
    truth: pl.DataFrame,
    backtest: pl.DataFrame,
    locations: pl.DataFrame,
    policy: Policy,
    unit_cost: pl.DataFrame | None = None,
) -> Simulation:
    """``truth``: date, location_id, sku, true_demand, sold_units, on_hand_start (the demo's
    demand.parquet). ``backtest``: location_id, sku, ds, cutoff, p10, p50, p90 of one model.
    ``locations``: location_id, location_type (and city, country: the transfer lanes'
    conditions; without them every location counts as one city). ``unit_cost``: sku, unit_cost (optional)."""
    cutoffs = sorted(backtest["cutoff"].unique().to_list())
    start = backtest["ds"].min()  # the first forecast day
    end = backtest["ds"].max()
    days = pl.date_range(start, end, "1d", eager=True)
    n_days = days.len()
    # pairs forecast in every fold and present in the truth
    per_fold = backtest.group_by("location_id", "sku").agg(pl.col("cutoff").n_unique().alias("k"))
    pairs = (
        per_fold.filter(pl.col("k") == len(cutoffs))
        .join(truth.select("location_id", "sku").unique(), on=["location_id", "sku"])
        .join(_with_place(locations), on="location_id")
        .sort("location_id", "sku")
        .with_row_index("pair")
    )
    n = pairs.height
    if n == 0:
        raise ValueError("no location × SKU has a backtest forecast in every fold and a truth")
    lanes = [policy.lane(r["location_id"], r["location_type"], r["sku"]) for r in pairs.to_dicts()]
    lead = np.array([ln.lead_time_days for ln in lanes])
    review = np.array([ln.review_days for ln in lanes])
    moq = np.array([ln.moq for ln in lanes], float)
    pack = np.array([ln.case_pack for ln in lanes], float)

    def grid(frame: pl.DataFrame, col: str, date_col: str, dates: pl.Series) -> np.ndarray:
        idx = pl.DataFrame({date_col: dates}).with_row_index("t")
        g = frame.join(pairs.select("pair", "location_id", "sku"), on=["location_id", "sku"]).join(
            idx, on=date_col
        )
        out = np.zeros((dates.len(), n))
        out[g["t"].to_numpy(), g["pair"].to_numpy()] = g[col].cast(pl.Float64).fill_null(0)
        return out

    demand = grid(truth, "true_demand", "date", days)
    opening = grid(truth, "on_hand_start", "date", days[:1])[0]
    before = pl.Series([start - dt.timedelta(days=1)])
    hist_days = pl.date_range(
        start - dt.timedelta(days=NAIVE_WINDOW), start - dt.timedelta(days=1), "1d", eager=True
    )
    hist_sales = grid(truth, "sold_units", "date", hist_days)
    actual_sold = grid(truth, "sold_units", "date", days)
    actual_start = grid(truth, "on_hand_start", "date", days)
    on_order = np.zeros((n_days, n))
    if "in_transit" in truth.columns:
        end_before = (
            grid(truth, "on_hand_start", "date", before)[0]
            - grid(truth, "sold_units", "date", before)[0]
        )
        on_order = opening_pipeline(
            grid(truth, "in_transit", "date", before)[0], end_before, actual_start, actual_sold
        )

    # forecasts per fold: arrays pairs × horizon
    folds = []
    for c in cutoffs:
        f = backtest.filter(pl.col("cutoff") == c)
        fdays = pl.date_range(c + dt.timedelta(days=1), f["ds"].max(), "1d", eager=True)
        p50 = grid(f, "p50", "ds", fdays).T
        p10 = grid(f.with_columns(pl.col("p10").fill_null(pl.col("p50"))), "p10", "ds", fdays).T
        p90 = grid(f.with_columns(pl.col("p90").fill_null(pl.col("p50"))), "p90", "ds", fdays).T
        # expected demand: the mean where the backtest has one (as the live policy does)
        mean = grid(f, "mean", "ds", fdays).T if "mean" in f.columns else None
        level = p50 if mean is None else mean
        folds.append((c, np.maximum(level, 0.0), daily_variance(p10, p90, mean)))

    z = policy.z
    places = pairs.select("location_id", "location_type", "city", "country", "sku")
    index = {(r[0], r[1]): i for i, r in enumerate(pairs.select("location_id", "sku").rows())}
    sku_codes = pairs["sku"].cast(pl.Categorical).to_physical().to_numpy()
    t_lead = max(policy.transfers.lead_time_days, 1)
    results, moved = {}, {}
    for name in POLICIES:
        unit_lots = name.endswith(UNIT_LOTS)
        on_hand = opening.copy()
        pipeline = np.zeros((n_days + int(lead.max()) + 1, n))
        pipeline[:n_days] += on_order
        sales_hist = [hist_sales[i] for i in range(hist_sales.shape[0])]
        served = np.zeros((n_days, n))
        stock = np.zeros((n_days, n))
        lost = np.zeros((n_days, n))
        moved[name] = 0.0
        for t in range(n_days):
            on_hand += pipeline[t]
            sold = np.minimum(demand[t], on_hand)
            on_hand -= sold
            served[t], lost[t], stock[t] = sold, demand[t] - sold, on_hand
            sales_hist.append(sold)
            due = (t % review) == 0
            if not due.any():
                continue
            position = on_hand + pipeline[t + 1 :].sum(0)
            if name.startswith("forecast"):
                day = days[t]
                c, p50, var = max((f for f in folds if f[0] <= day), key=lambda f: f[0])
                k = (day - c).days  # forecast days already past
                demand_lr = window_sums(p50, k, lead + review)
                ss = z * np.sqrt(window_sums(var, k, lead + review))
                s = demand_lr + ss
                big_s = s + window_sums(p50, k + lead + review, review)
                if name == "forecast + transfers":
                    moves = _transfers(
                        places, index, sku_codes, due, position, on_hand, s, big_s, policy
                    )
                    for i, j, qty in moves:
                        on_hand[i] -= qty
                        pipeline[t + t_lead, j] += qty
                        position[i] -= qty
                        position[j] += qty
                        moved[name] += qty
                need = np.where(position <= s, big_s - position, 0.0)
            else:
                mean = np.mean(sales_hist[-NAIVE_WINDOW:], axis=0)
                target = mean * (lead + review)
                need = np.where(position < target, target - position, 0.0)
            q = np.where(
                due, np.ceil(need - 1e-9) if unit_lots else _round_orders(need, moq, pack), 0.0
            )
            # placed at the end of the day, on the shelf L mornings later (at the earliest the next)
            pipeline[t + np.maximum(lead, 1), np.arange(n)] += q
        results[name] = (served, lost, stock)
    moved["demo planner (actual)"] = math.nan
    results["demo planner (actual)"] = (
        actual_sold,
        demand - actual_sold,
        actual_start - actual_sold,
    )
    cost = (
        pairs.join(unit_cost, on="sku", how="left")["unit_cost"]
        .cast(pl.Float64)
        .fill_null(0)
        .to_numpy()
        if unit_cost is not None
        else np.zeros(n)
    )
    cycle_id = np.stack([np.arange(n_days) // r for r in review], axis=1)
    rows, by_type = [], []
    types = pairs["location_type"].to_numpy()
    for name, (served, lost, stock) in results.items():
        m = {**_metrics(served, lost, stock, cycle_id, cost), "units_transferred": moved[name]}
        rows += [{"policy": name, "metric": k, "value": v} for k, v in m.items()]
        for lt in sorted(set(types)):
            sel = types == lt
            mt = _metrics(served[:, sel], lost[:, sel], stock[:, sel], cycle_id[:, sel], cost[sel])
            by_type.append({"policy": name, "location_type": lt, **mt})
    return Simulation(pl.DataFrame(rows), pl.DataFrame(by_type), start, end, n)


def opening_pipeline(
    in_transit: np.ndarray, end_before: np.ndarray, start_stock: np.ndarray, sold: np.ndarray
) -> np.ndarray:
    """Per day (rows) and pair, the arrivals of what was on order before the first day:
    ``in_transit`` units at the end of the day before, which arrive as the actual arrivals
    did (a day's arrivals: its opening stock less the stock at the end of the day before,
    ``end_before`` for the first day), the earliest first, until they add up to it; day 0's
    arrivals are already in the opening stock, so they only count against it."""
    ends = np.vstack([end_before[None, :], start_stock[:-1] - sold[:-1]])
    arrivals = np.maximum(start_stock - ends, 0.0)
    remaining = np.maximum(in_transit - arrivals[0], 0.0)
    out = np.zeros_like(arrivals)
    for t in range(1, arrivals.shape[0]):
        out[t] = np.minimum(arrivals[t], remaining)
        remaining = remaining - out[t]
    return out


def _with_place(locations: pl.DataFrame) -> pl.DataFrame:
    cols = [
        pl.col(c) if c in locations.columns else pl.lit(None, pl.String).alias(c)
        for c in ("city", "country")
    ]
    return locations.select("location_id", "location_type", *cols)


def _transfers(places, index, sku_codes, due, position, on_hand, s, big_s, policy):
    """``(from pair, to pair, units)`` the planner's transfer rule makes today: takers are the
    pairs due for review at or below ``s``, donors hold a position above ``S`` and stock on the
    shelf; only SKUs with both are planned."""
    taker = due & (position <= s)
    donor = (np.floor(position - big_s) >= policy.transfers.min_units) & (on_hand >= 1)
    both = np.intersect1d(sku_codes[taker], sku_codes[donor])
    if both.size == 0:
        return []
    rows = np.flatnonzero(np.isin(sku_codes, both) & (taker | donor))
    lines = places[rows].with_columns(
        has_forecast=pl.lit(True),
        inventory_position=pl.Series(position[rows]),
        order_up_to=pl.Series(big_s[rows]),
        # a donor that is not a taker is never below its reorder point
        reorder_point=pl.Series(np.where(taker[rows], s[rows], -np.inf)),
        available_to_promise=pl.Series(np.floor(on_hand[rows]).astype(np.int64)),
    )
    moves = plan_transfers(lines, policy)
    return [
        (index[(r["from_location_id"], r["sku"])], index[(r["to_location_id"], r["sku"])],
         float(r["quantity"]))
        for r in moves.iter_rows(named=True)
    ]  # fmt: skip


def _metrics(served, lost, stock, cycle_id, cost) -> dict[str, float]:
    demand = served.sum() + lost.sum()
    # cycles: (pair, review cycle) with demand; served when no unit of it was lost
    n = served.shape[1]
    keys = cycle_id + (np.arange(n) * (cycle_id.max() + 1))[None, :]
    flat_keys = keys.ravel()
    cyc_demand = np.bincount(flat_keys, weights=(served + lost).ravel())
    cyc_lost = np.bincount(flat_keys, weights=lost.ravel())
    with_demand = cyc_demand > 0
    return {
        "fill_rate": float(served.sum() / demand) if demand else math.nan,
        "cycle_service_level": float((cyc_lost[with_demand] == 0).mean())
        if with_demand.any()
        else math.nan,
        "avg_stock_units": float(stock.sum(1).mean()),
        "avg_stock_value": float((stock * cost[None, :]).sum(1).mean()),
        "units_demanded": float(demand),
        "units_lost": float(lost.sum()),
    }
