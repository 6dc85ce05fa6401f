"""Elasticity on synthetic sales with a known elasticity, thin data, and suggestions that stay
inside the ladder and MAP."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from models.forecast.calendar import calendar_features
from models.ops.elasticity import (
    ESTIMATED,
    INSUFFICIENT,
    daily_panels,
    elasticities,
    estimate,
    price_suggestions,
)
from models.ops.price_policy import Elasticity, PricePolicy

SETTINGS = Elasticity()
# the calendar features of the synthetic days, computed once (as `elasticities` does per run)
CAL = calendar_features([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(300)])


def synthetic(seed: int, b: float = -2.0, days: int = 300, base: float = 3.0) -> pl.DataFrame:
    """Poisson units with elasticity ``b``, a weekend lift and a traffic-driven demand; the
    price drops 10–30 % in random spells."""
    rng = np.random.default_rng(seed)
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(days)]
    price = np.full(days, 100.0)
    for _ in range(days // 30):
        s = int(rng.integers(0, days))
        price[s : s + int(rng.integers(5, 12))] = 100 * (1 - rng.choice([0.1, 0.2, 0.3]))
    weekend = np.array([d.weekday() >= 5 for d in dates], dtype=float)
    traffic = rng.poisson(50 * np.exp(0.3 * weekend + 0.2 * np.sin(np.arange(days) / 20)))
    mu = base * (price / 100) ** b * (traffic / 50.0)
    return pl.DataFrame(
        {"date": dates, "units": rng.poisson(mu), "price": price, "traffic": traffic}
    )


def test_recovers_a_known_elasticity_within_the_interval():
    r = estimate(synthetic(0), SETTINGS, CAL)
    assert r["status"] == ESTIMATED
    assert r["ci_low"] <= -2.0 <= r["ci_high"]
    assert r["ci_high"] - r["ci_low"] < 1.5
    assert "log_traffic" in r["controls"] and "dow_5" in r["controls"]


def test_interval_covers_the_truth_at_about_its_level():
    fits = [estimate(synthetic(s, b=-1.5), SETTINGS, CAL) for s in range(20)]
    hits = sum(f["ci_low"] <= -1.5 <= f["ci_high"] for f in fits)
    assert hits >= 16  # nominal 95 %: at least 80 % of 20 intervals


def test_no_price_response_is_not_significant_often():
    r = estimate(synthetic(3, b=0.0), SETTINGS, CAL)
    assert r["ci_low"] <= 0.0 <= r["ci_high"]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (synthetic(1).head(20), "only 20 days priced"),
        (synthetic(1).with_columns(pl.lit(100.0).alias("price")), "only 0 price change"),
        (synthetic(1, base=0.05), "units sold"),
        (synthetic(1).with_columns((100 - (pl.col("price") < 100).cast(pl.Float64)).alias("price")),
         "prices moved only"),
    ],
)  # fmt: skip
def test_thin_data_says_insufficient_with_the_reason(frame, reason):
    r = estimate(frame, SETTINGS, CAL)
    assert r["status"] == INSUFFICIENT
    assert r["elasticity"] is None and r["ci_low"] is None
    assert reason in r["reason"]


def test_panels_fill_days_without_sales_and_respect_launch():
    prices = pl.DataFrame(
        {
            "price_date": [dt.date(2025, 1, d) for d in (1, 2, 3)] * 2,
            "channel": ["jd"] * 3 + ["web"] * 3,
            "sku": ["A"] * 6,
            "price": [10.0, 9.0, 10.0, 10.0, 10.0, 10.0],
        }
    )
    sales = pl.DataFrame(
        {"date": [dt.date(2025, 1, 3), dt.date(2025, 1, 3)], "channel": ["jd", "jd"],
         "sku": ["A", "B"], "units": [2, 5]}
    )  # fmt: skip
    products = pl.DataFrame(
        {"sku": ["A"], "launch_date": [dt.date(2025, 1, 2)], "discontinued_date": [None]}
    )
    panels = daily_panels(prices, sales, products)
    jd = panels.filter(pl.col("channel") == "jd")
    assert jd["date"].to_list() == [dt.date(2025, 1, 2), dt.date(2025, 1, 3)]
    assert jd["units"].to_list() == [0, 2]
    assert jd["traffic"].to_list() == [0, 5]
    out = elasticities(panels, SETTINGS)
    assert out["status"].to_list() == [INSUFFICIENT, INSUFFICIENT]


POLICY = PricePolicy.model_validate(
    {
        "ladder": [
            {"rule": "mkt", "channels": ["jd"], "reference": "web", "max_below_pct": 10},
        ],
        "map": {"default": {"min_share_of_list": 0.8}},
        "suggestions": {"max_step_pct": 10},
    }
)


def _suggest(jd_price, web_price, b, ci_high, cost=50.0):
    latest = pl.DataFrame(
        {"channel": ["jd", "web"], "sku": ["A", "A"], "price_date": [dt.date(2025, 1, 1)] * 2,
         "price": [jd_price, web_price], "list_price": [100.0, 100.0], "currency": ["CNY"] * 2}
    )  # fmt: skip
    elastic = pl.DataFrame(
        {"sku": ["A", "A"], "channel": ["jd", "web"], "status": [ESTIMATED, INSUFFICIENT],
         "elasticity": [b, None], "ci_low": [b - 0.5, None], "ci_high": [ci_high, None]}
    )  # fmt: skip
    costs = pl.DataFrame({"sku": ["A"], "currency": ["CNY"], "unit_cost": [cost]})
    floors = pl.DataFrame({"channel": ["jd", "web"], "sku": ["A", "A"], "map_floor": [80.0, 80.0]})
    s = price_suggestions(latest, elastic, costs, floors, POLICY)
    return {r["channel"]: r for r in s.iter_rows(named=True)}


def test_suggestion_stops_at_the_ladder_floor():
    # b = -4, cost 50: margin-maximising price 66.7; step allows 90 → 81; ladder floor 0.9×web=90
    s = _suggest(jd_price=90.0, web_price=100.0, b=-4.0, ci_high=-3.0)
    assert s["jd"]["target_price"] == pytest.approx(66.67, abs=0.01)
    assert s["jd"]["suggested_price"] == 90.0 and s["jd"]["binding"] == "ladder"
    assert s["web"]["suggested_price"] == 100.0 and s["web"]["binding"] == "none"


def test_suggestion_stops_at_the_list_price_and_moves_a_step():
    s = _suggest(jd_price=95.0, web_price=100.0, b=-0.5, ci_high=-0.1)  # inelastic: up
    assert s["jd"]["suggested_price"] == 100.0 and s["jd"]["binding"] == "list"
    s = _suggest(jd_price=95.0, web_price=100.0, b=-1.5, ci_high=-1.1, cost=20.0)  # target 60
    assert s["jd"]["suggested_price"] == 90.0  # floor = max(MAP 80, ladder 90)
    s = _suggest(jd_price=99.0, web_price=100.0, b=-3.0, ci_high=-2.0, cost=60.0)  # target 90
    assert s["jd"]["suggested_price"] == 90.0 and s["jd"]["binding"] == "none"


def test_reference_channel_is_capped_by_its_dependants():
    # with jd at 85 the own shop may not rise above 85 / 0.9 = 94.44 (below its list price)
    s = _suggest(jd_price=85.0, web_price=90.0, b=-0.5, ci_high=-0.1)
    assert s["web"]["cap_price"] == pytest.approx(94.44, abs=0.01)
    assert s["jd"]["suggested_price"] == pytest.approx(93.5)  # inelastic: one 10 % step up


def test_not_significant_holds_and_a_breaking_price_is_moved_into_policy():
    s = _suggest(jd_price=95.0, web_price=100.0, b=-2.0, ci_high=0.3)
    assert s["jd"]["suggested_price"] == 95.0 and s["jd"]["reason"].startswith("hold")
    s = _suggest(jd_price=70.0, web_price=100.0, b=-2.0, ci_high=0.3)  # below MAP and ladder
    assert s["jd"]["suggested_price"] == 90.0 and "into policy" in s["jd"]["reason"]


def test_a_dependant_breaking_the_ladder_is_raised_not_the_reference_cut():
    s = _suggest(jd_price=80.0, web_price=100.0, b=-2.0, ci_high=0.3)  # jd 20 % below web
    assert s["jd"]["suggested_price"] == 90.0
    assert s["web"]["suggested_price"] == 100.0 and s["web"]["cap_price"] == 100.0
