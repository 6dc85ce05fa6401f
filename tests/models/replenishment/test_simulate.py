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
