"""The policy simulation on a hand-computed case: constant demand, perfect forecast."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from models.replenishment.config import load_policy
from models.replenishment.simulate import simulate

START = dt.date(2025, 3, 1)


def _day(k: int) -> dt.date:
    return START + dt.timedelta(days=k)


@pytest.fixture
def case():
    # 28 days of history and 12 simulated days of demand 2/day at one store (L 2, R 3)
    truth = pl.DataFrame(
        {
            "date": [_day(k) for k in range(-28, 12)],
            "location_id": "ST1",
            "sku": "A",
            "true_demand": 2,
            "sold_units": 2,
            "on_hand_start": 20,
        }
    )
    backtest = pl.DataFrame(
        {
            "location_id": "ST1",
            "sku": "A",
            "ds": [_day(k) for k in range(12)],
            "cutoff": _day(-1),
            "p10": 2.0,
            "p50": 2.0,
            "p90": 2.0,
        }
    )
    locations = pl.DataFrame({"location_id": ["ST1"], "location_type": ["store"]})
    return truth, backtest, locations


def _metric(sim, policy, metric):
    s = sim.summary.filter((pl.col("policy") == policy) & (pl.col("metric") == metric))
    return s["value"][0]


def test_simulation_by_hand(case):
    """Forecast policy: s = 2 × 5 = 10, S = 16 (no spread: no safety stock). Stock after each
    day from 20: 18 16 14 12 10 8 6 | review day 6 at 6 <= 10 orders 10, on the shelf day 8:
    4 12 | review day 9 at 10 <= 10 orders 6, day 11: 10 8 12 -> mean 130 / 12.
    Naive: order up to 28-day mean 2 × (2 + 3) = 10 when below it: day 6 orders 4, day 9 (at
    4) orders 6: 18 16 14 12 10 8 6 4 6 4 2 6 -> mean 106 / 12. No demand is lost."""
    truth, backtest, locations = case
    sim = simulate(truth, backtest, locations, load_policy())
    assert sim.pairs == 1 and sim.start == START and sim.end == _day(11)
    assert _metric(sim, "forecast", "avg_stock_units") == pytest.approx(130 / 12)
    assert _metric(sim, "naive", "avg_stock_units") == pytest.approx(106 / 12)
    for policy in ("forecast", "naive"):
        assert _metric(sim, policy, "fill_rate") == 1.0
        assert _metric(sim, policy, "cycle_service_level") == 1.0
        assert _metric(sim, policy, "units_demanded") == 24
    assert _metric(sim, "demo planner (actual)", "avg_stock_units") == 18


def test_lost_demand_lowers_fill_rate_and_cycle_service(case):
    """A spike of 30 on day 1 empties the shelf (18 on hand): 12 lost in cycle 0 of 4."""
    truth, backtest, locations = case
    truth = truth.with_columns(
        pl.when(pl.col("date") == _day(1))
        .then(30)
        .otherwise(pl.col("true_demand"))
        .alias("true_demand")
    )
    sim = simulate(truth, backtest, locations, load_policy())
    assert _metric(sim, "forecast", "units_demanded") == 52
    assert _metric(sim, "forecast", "units_lost") >= 12
    assert _metric(sim, "forecast", "fill_rate") < 1
    assert _metric(sim, "forecast", "cycle_service_level") <= 0.75


def test_transfers_move_stock_before_the_slow_purchase_arrives():
    """Two stores in one city, demand 2/day each, perfect forecast; purchases take 10 days
    (L 10, R 3: s = 2 × 13 = 26, S = 32), transfers 2. ST2 opens with 6, ST1 with 100.
    Without transfers ST2 orders 28 on day 0 (at 4), sells out after day 2 and loses 2/day on
    days 3-9 (14 units) until it arrives on day 10. With transfers ST1 gives its free stock
    above S instead: 28 on day 0 (on ST2's shelf day 2), then 6 at each review (days 3, 6, 9,
    ST2 at 26 <= s): 46 units moved, nothing lost, nothing bought for ST2."""
    days = range(-28, 12)
    truth = pl.DataFrame(
        {
            "date": [_day(k) for k in days] * 2,
            "location_id": ["ST1"] * len(days) + ["ST2"] * len(days),
            "sku": "A",
            "true_demand": 2,
            "sold_units": 2,
            "on_hand_start": [100] * len(days) + [6] * len(days),
        }
    )
    backtest = pl.DataFrame(
        {
            "location_id": ["ST1"] * 12 + ["ST2"] * 12,
            "sku": "A",
            "ds": [_day(k) for k in range(12)] * 2,
            "cutoff": _day(-1),
            "p10": 2.0,
            "p50": 2.0,
            "p90": 2.0,
        }
    )
    locations = pl.DataFrame(
        {
            "location_id": ["ST1", "ST2"],
            "location_type": "store",
            "city": "Shanghai",
            "country": "CN",
        }
    )
    policy = load_policy()
    slow = policy.lanes["store"].model_copy(update={"lead_time_days": 10, "review_days": 3})
    policy = policy.model_copy(update={"lanes": {**policy.lanes, "store": slow}})
    assert policy.transfers.lead_time_days == 2 and policy.transfers.min_units <= 6
    sim = simulate(truth, backtest, locations, policy)
    assert _metric(sim, "forecast", "units_lost") == 14
    assert _metric(sim, "forecast", "units_transferred") == 0
    assert _metric(sim, "forecast + transfers", "units_lost") == 0
    assert _metric(sim, "forecast + transfers", "units_transferred") == 46
    assert _metric(sim, "forecast + transfers", "fill_rate") == 1.0
    for policy_name in ("forecast", "forecast + transfers"):
        assert _metric(sim, policy_name, "units_demanded") == 48


def test_no_transfer_between_cities_for_stores(case):
    """The same two stores in different cities: the store-to-store lane is same-city only."""
    truth, backtest, _ = case
    truth = pl.concat([truth, truth.with_columns(location_id=pl.lit("ST2"), on_hand_start=2)])
    backtest = pl.concat([backtest, backtest.with_columns(location_id=pl.lit("ST2"))])
    locations = pl.DataFrame(
        {
            "location_id": ["ST1", "ST2"],
            "location_type": "store",
            "city": ["Shanghai", "Beijing"],
            "country": "CN",
        }
    )
    sim = simulate(truth, backtest, locations, load_policy())
    assert _metric(sim, "forecast + transfers", "units_transferred") == 0
    assert _metric(sim, "forecast + transfers", "units_lost") == _metric(
        sim, "forecast", "units_lost"
    )


def test_what_was_on_order_arrives_as_the_planners_orders_did():
    """10 units in transit the evening before; the planner's arrivals were 3 (day 0, already
    in the opening stock), 0, 4, 4, 8: the 7 still due are the first 4 and 3 of them."""
    import numpy as np

    from models.replenishment.simulate import opening_pipeline

    start = np.array([8, 7, 10, 13, 20], float)[:, None]  # opening stock per day, one pair
    sold = np.ones((5, 1))
    due = opening_pipeline(np.array([10.0]), np.array([5.0]), start, sold)
    assert due[:, 0].tolist() == [0, 0, 4, 3, 0]


def test_unit_lots_buy_without_moq_and_case_pack(case):
    """At a warehouse (MOQ 24, case pack 12) the unit-lot policies buy only what they need,
    so they hold less; everything else is the same policy."""
    truth, backtest, _ = case
    wh = pl.DataFrame({"location_id": ["ST1"], "location_type": ["warehouse"]})
    sim = simulate(truth, backtest, wh, load_policy())
    for policy in ("forecast", "naive"):
        lots = _metric(sim, policy + ", unit lots", "avg_stock_units")
        assert lots < _metric(sim, policy, "avg_stock_units")
    # at a store the lane's MOQ and case pack are 1: the two are the same
    sim = simulate(truth, backtest, case[2], load_policy())
    assert _metric(sim, "forecast, unit lots", "avg_stock_units") == pytest.approx(130 / 12)
