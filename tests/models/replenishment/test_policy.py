"""Proposal arithmetic on hand-computed cases: safety stock, reorder point, order-up-to,
MOQ and case-pack rounding, transfers before buys."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from models.replenishment.config import PolicyError, load_policy
from models.replenishment.policy import (
    Z_P90,
    daily_sigma,
    daily_variance,
    horizon_sum,
    order_quantity,
    plan,
    targets,
    window_sums,
)

Z95 = 1.6448536269514715


def test_daily_sigma_is_the_normal_equivalent_of_the_p10_p90_width():
    assert daily_sigma([2 - Z_P90], [2 + Z_P90])[0] == pytest.approx(1.0)
    assert daily_sigma([3.0], [1.0])[0] == 0.0  # a crossed interval has no spread


def test_horizon_sum_repeats_the_last_day_past_the_horizon():
    assert horizon_sum([1, 2, 3], 2) == 3
    assert horizon_sum([1, 2, 3], 5) == 1 + 2 + 3 + 3 + 3
    assert horizon_sum([1, 2, 3], 0) == 0


def test_targets_by_hand():
    # 2 units/day, sigma 1/day; lead 2 + review 3 = 5 protection days
    t = targets([2 - Z_P90] * 10, [2.0] * 10, [2 + Z_P90] * 10, lead=2, review=3, z=Z95)
    assert t.protection_demand == pytest.approx(10.0)
    assert t.safety_stock == pytest.approx(Z95 * math.sqrt(5))  # 3.678
    assert t.reorder_point == pytest.approx(10 + Z95 * math.sqrt(5))  # 13.678
    assert t.order_up_to == pytest.approx(10 + Z95 * math.sqrt(5) + 2 * 3)  # 19.678
    assert t.mean_daily_demand == pytest.approx(2.0)


def test_order_quantity_rounds_up_to_moq_then_case_pack():
    assert order_quantity(0, 24, 12) == 0
    assert order_quantity(-3, 24, 12) == 0
    assert order_quantity(14.678, 1, 1) == 15
    assert order_quantity(14.678, 24, 12) == 24  # MOQ
    assert order_quantity(30.2, 24, 12) == 36  # 31 units -> 3 cases
    assert order_quantity(25, 20, 12) == 36  # MOQ 20 is not a whole case: 25 -> 3 cases
    assert order_quantity(36, 24, 12) == 36  # exact cases stay


POLICY_YAML = """
version: 1
service_level: 0.95
lanes:
  store: {supplier: DC, lead_time_days: 2, review_days: 3, moq: 1, case_pack: 1}
  warehouse: {supplier: OEM, lead_time_days: 2, review_days: 3, moq: 24, case_pack: 12}
  fba: {supplier: INBOUND, lead_time_days: 2, review_days: 3, moq: 6, case_pack: 6}
transfers:
  lanes:
    - {from: warehouse, to: store}
    - {from: store, to: store, same_city: true}
  lead_time_days: 2
  min_units: 2
"""


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "replenishment.yml"
    path.write_text(POLICY_YAML)
    return load_policy(path)


def _positions(rows):
    cols = ["location_id", "location_type", "city", "country", "sku", "position"]
    df = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])
    return df.with_columns(
        pl.col("position").alias("on_hand"),
        pl.lit(0).alias("in_transit"),
        pl.lit(0).alias("committed"),
        pl.col("position").alias("available_to_promise"),
        pl.col("position").alias("inventory_position"),
    ).drop("position")


def _forecast(pairs):
    """2 units/day with sigma 1/day for 10 days: s = 13.678, S = 19.678 for every pair."""
    return pl.DataFrame(
        [
            {
                "location_id": loc,
                "sku": sku,
                "ds": d,
                "p10": 2 - Z_P90,
                "p50": 2.0,
                "p90": 2 + Z_P90,
            }
            for loc, sku in pairs
            for d in range(1, 11)
        ]
    )


def test_transfers_come_before_buys(policy):
    positions = _positions(
        [
            ("WH1", "warehouse", "Shanghai", "CN", "A", 50),  # excess floor(50 - 19.678) = 30
            ("ST1", "store", "Shanghai", "CN", "A", 5),  # need ceil(19.678 - 5) = 15, third
            ("ST2", "store", "Beijing", "CN", "A", 0),  # need 20: the largest, first
            ("ST3", "store", "Beijing", "CN", "A", 1),  # need 19: gets the 10 left
            ("FBA1", "fba", "Los Angeles", "US", "A", 500),  # FBA stock never leaves Amazon
        ]
    )
    lines, transfers = plan(
        positions, _forecast([(r, "A") for r in positions["location_id"]]), policy
    )
    moves = {
        (t["from_location_id"], t["to_location_id"]): t["quantity"] for t in transfers.to_dicts()
    }
    assert moves == {("WH1", "ST2"): 20, ("WH1", "ST3"): 10}
    by = {r["location_id"]: r for r in lines.to_dicts()}
    assert by["WH1"]["transfer_out"] == 30 and by["WH1"]["order_qty"] == 0
    # ST2: 0 + 20 = 20 > s 13.678: the transfer covers it, no purchase
    assert by["ST2"]["position_after_transfers"] == 20 and by["ST2"]["order_qty"] == 0
    # ST3: 1 + 10 = 11 <= 13.678: buys the rest, 19.678 - 11 = 8.678 -> 9
    assert by["ST3"]["position_after_transfers"] == 11 and by["ST3"]["order_qty"] == 9
    # ST1: nothing left to move: buys 19.678 - 5 -> 15
    assert by["ST1"]["transfer_in"] == 0 and by["ST1"]["order_qty"] == 15
    assert by["FBA1"]["transfer_out"] == 0 and by["FBA1"]["order_qty"] == 0
    assert "move 20" in transfers["reason"][0]
    assert (
        by["ST3"]["reason"].startswith("order 9:")
        and "after transfers in 10" in by["ST3"]["reason"]
    )
    assert by["ST2"]["reason"].startswith("no order:")
    assert by["FBA1"]["reason"].startswith("no order:")
    assert by["ST1"]["days_of_cover"] == pytest.approx(5 / 2)


def test_store_to_store_only_in_the_same_city_and_warehouses_buy_in_cases(policy):
    positions = _positions(
        [
            ("ST1", "store", "Shanghai", "CN", "A", 40),  # excess 20
            ("ST2", "store", "Beijing", "CN", "A", 3),  # other city: no transfer, buys 17
            ("WH1", "warehouse", "Chengdu", "CN", "A", 10),  # no warehouse->warehouse lane
        ]
    )
    lines, transfers = plan(
        positions, _forecast([(r, "A") for r in positions["location_id"]]), policy
    )
    assert transfers.is_empty()
    by = {r["location_id"]: r for r in lines.to_dicts()}
    assert by["ST2"]["order_qty"] == 17  # ceil(19.678 - 3)
    assert by["WH1"]["order_qty"] == 24  # need 9.678 -> MOQ 24 (2 cases of 12)


def test_a_pair_without_forecast_is_not_planned(policy):
    positions = _positions([("ST1", "store", "Shanghai", "CN", "A", 0)])
    lines, transfers = plan(positions, _forecast([("ST1", "B")]), policy)
    row = lines.to_dicts()[0]
    assert row["order_qty"] == 0 and not row["has_forecast"]
    assert "no forecast" in row["reason"]


def test_a_bad_policy_names_the_file_and_field(tmp_path):
    path = tmp_path / "replenishment.yml"
    path.write_text(POLICY_YAML.replace("case_pack: 12", "case_pack: 0"))
    with pytest.raises(PolicyError, match=r"replenishment.yml: lanes.warehouse.case_pack"):
        load_policy(path)


def test_the_shipped_policy_loads():
    policy = load_policy()
    assert 0.5 < policy.service_level < 1
    assert policy.lane("X", "fba").lead_time_days > policy.lane("X", "store").lead_time_days


def test_window_sums_skip_days_and_repeat_the_last():
    values = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    assert window_sums(values, 0, np.array([2, 3])).tolist() == [3.0, 60.0]
    assert window_sums(values, 1, np.array([4, 1])).tolist() == [2 + 3 + 3 + 3, 20.0]
    assert window_sums(values, 5, np.array([2, 0])).tolist() == [6.0, 0.0]


def test_intermittent_demand_orders_from_the_mean_where_the_p50_orders_nothing(policy):
    # 1 unit on 10 % of days: P10 = P50 = P90 = 0 every day, expected demand 0.1/day
    days = range(1, 11)
    fc = pl.DataFrame(
        [
            {"location_id": "S1", "sku": "A", "ds": d, "p10": 0.0, "p50": 0.0, "p90": 0.0}
            for d in days
        ]
    )
    pos = _positions([("S1", "store", "X", "CN", "A", 0)])
    median_lines, _ = plan(pos, fc, policy)
    assert median_lines["order_up_to"][0] == 0.0
    assert median_lines["order_qty"][0] == 0  # the median policy never orders

    lines, _ = plan(pos, fc.with_columns(mean=pl.lit(0.1)), policy)
    # lead 2 + review 3: mean demand 0.5; Poisson variance 0.1/day -> SS = z * sqrt(0.5)
    ss = Z95 * math.sqrt(0.5)
    assert lines["protection_demand"][0] == pytest.approx(0.5)
    assert lines["safety_stock"][0] == pytest.approx(ss)  # 1.163
    assert lines["reorder_point"][0] == pytest.approx(0.5 + ss)
    assert lines["order_up_to"][0] == pytest.approx(0.5 + ss + 0.3)  # 1.963
    assert lines["order_qty"][0] == 2


def test_the_quantile_spread_is_kept_when_wider_than_the_poisson_floor():
    # sigma 1/day from P10-P90 beats the Poisson variance 0.5/day: the quantiles decide
    t = targets(
        [1 - Z_P90] * 10, [1.0] * 10, [1 + Z_P90] * 10, lead=2, review=3, z=Z95, mean=[0.5] * 10
    )
    assert t.protection_demand == pytest.approx(2.5)  # the mean, not the P50
    assert t.safety_stock == pytest.approx(Z95 * math.sqrt(5))
    assert daily_variance([0.0], [0.0], [0.3])[0] == pytest.approx(0.3)
    assert daily_variance([0.0], [0.0])[0] == 0.0
