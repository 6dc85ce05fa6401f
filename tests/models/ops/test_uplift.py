"""The omnichannel uplift: outcomes per customer with known answers, a planted effect recovered
by exact matching where the naive comparison is biased, ~0 when nothing is planted, balance."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models.ops.uplift import (
    UpliftDesign,
    balance,
    conclusion,
    customer_outcomes,
    estimate,
    uplift,
)

T0 = dt.datetime(2025, 1, 1, 12)
DESIGN = UpliftDesign(first_window_days=30, outcome_days=60, bootstrap=200)


def _orders(rows):
    return pl.DataFrame(
        [
            {"customer_id": c, "channel": ch, "ordered_at": T0 + dt.timedelta(days=d),
             "net_amount_cny": v}
            for c, ch, d, v in rows
        ]
    )  # fmt: skip


def test_customer_outcomes_by_hand():
    orders = _orders(
        [
            ("a", "web", 0, 100.0), ("a", "tmall", 10, 50.0),  # multi in the first window
            ("a", "web", 40, 200.0), ("a", "web", 80, 100.0),  # two outcome orders
            ("a", "web", 95, 999.0),  # after the horizon (90 days): ignored
            ("b", "jd", 0, 80.0), ("b", "pos", 35, 40.0),  # single first, multi over horizon
            ("c", "jd", 0, 60.0),  # never again
            ("d", "jd", 50, 60.0),  # first order too late: horizon not observed
        ]
    )  # fmt: skip
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "first_ordered_at": [T0, T0, T0, T0 + dt.timedelta(days=50)],
            "first_order_month": [dt.date(2025, 1, 1)] * 4,
            "first_category": ["skin", "skin", "hair", "hair"],
        }
    )
    out = customer_outcomes(orders, customers, dt.date(2025, 4, 10), DESIGN)
    assert out["customer_id"].to_list() == ["a", "b", "c"]
    a, b, c = out.iter_rows(named=True)
    assert a["multi_first_window"] and a["multi_ever"] and a["first_window_orders"] == 2
    assert a["retained"] == 1.0 and a["aov_cny"] == pytest.approx(150.0)
    assert a["annual_value_cny"] == pytest.approx(300.0 * 365 / 60)
    assert a["aov_ever_cny"] == pytest.approx(450.0 / 4)
    assert not b["multi_first_window"] and b["multi_ever"] and b["retained"] == 1.0
    assert c["retained"] == 0.0 and c["aov_cny"] is None and c["annual_value_cny"] == 0.0
    assert c["retained_ever"] == 0.0


def test_bad_input_names_the_frame_and_column():
    with pytest.raises(ValueError, match="orders: missing column"):
        customer_outcomes(pl.DataFrame({"customer_id": ["a"]}), pl.DataFrame(), None, DESIGN)
    with pytest.raises(ValueError, match="positive"):
        UpliftDesign(first_window_days=0)


def synthetic(effect: float, n: int = 6000, seed: int = 1) -> pl.DataFrame:
    """Customers in 4 months x 3 categories; strata with a higher baseline value also have more
    multi-channel customers (confounding); multi-channel customers get ``effect`` more per
    order and per year, retention unchanged."""
    rng = np.random.default_rng(seed)
    month = rng.integers(0, 4, n)
    cat = rng.integers(0, 3, n)
    base = 100.0 * (1 + month) * (1 + 0.5 * cat)
    p_multi = 0.1 + 0.15 * month + 0.1 * cat
    multi = rng.random(n) < p_multi
    aov = base * (1 + effect * multi) * rng.lognormal(0, 0.3, n)
    retained = rng.random(n) < 0.4
    annual = np.where(retained, aov * 3, 0.0)
    return pl.DataFrame(
        {
            "acquisition_month": month, "first_category": cat,
            "first_window_orders": 1 + multi.astype(int), "first_window_frequency": 1,
            "multi_first_window": multi, "multi_ever": multi,
            "retained": retained.astype(float), "annual_value_cny": annual,
            "aov_cny": np.where(retained, aov, np.nan), "retained_ever": retained.astype(float),
            "annual_value_ever_cny": annual, "aov_ever_cny": aov,
        }
    ).with_columns(pl.col("aov_cny").fill_nan(None))  # fmt: skip


def _row(table, design, metric):
    return table.filter((pl.col("design") == design) & (pl.col("metric") == metric)).row(
        0, named=True
    )


def test_matching_recovers_a_planted_effect_the_naive_comparison_overstates():
    t = uplift(synthetic(0.18), DESIGN)
    matched = _row(t, "first_window_matched", "aov_ever_cny".replace("_ever", ""))
    assert matched["relative"] == pytest.approx(0.18, abs=0.04)
    assert matched["relative_low"] < 0.18 < matched["relative_high"]
    assert matched["relative_low"] > 0.05
    naive = _row(t, "first_window", "aov_cny")
    assert naive["relative"] > 0.35  # confounded by the strata
    assert naive["relative_low"] > matched["relative_high"]
    ret = _row(t, "first_window_matched", "retained")
    assert ret["difference_low"] < 0 < ret["difference_high"]  # nothing planted on retention


def test_no_effect_gives_about_zero():
    t = uplift(synthetic(0.0, seed=5), DESIGN)
    for metric in ("aov_cny", "annual_value_cny", "retained"):
        r = _row(t, "first_window_matched", metric)
        assert r["difference_low"] < 0 < r["difference_high"], metric
        assert abs(r["relative"]) < 0.06, metric
    assert "does not support a difference" in conclusion(t)


def test_strata_without_both_groups_are_dropped_and_counted():
    frame = pl.DataFrame(
        {
            "k": ["x", "x", "x", "y", "y"],
            "g": [True, False, False, True, True],  # stratum y has no single customer
            "v": [10.0, 4.0, 6.0, 100.0, 100.0],
        }
    )
    r = estimate(frame, "g", "v", ["k"], bootstrap=0)
    assert r["difference"] == pytest.approx(5.0) and r["strata_used"] == 1
    assert r["multi_dropped"] == 2 and r["multi_customers"] == 1


def test_balance_is_exact_on_the_keys_and_reports_the_rest():
    b = balance(synthetic(0.1), DESIGN, "first_window_matched")
    keys = b.filter(pl.col("kind").str.starts_with("matching key"))
    assert set(keys["variable"]) == {"acquisition_month", "first_category"}
    assert keys["max_abs_gap"].max() < 1e-9
    other = b.filter(pl.col("variable") == "first_window_orders")["max_abs_gap"][0]
    assert other > 0.5  # multi-channel customers had more first-window orders: reported
