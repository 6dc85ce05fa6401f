"""The funnel and the host attribution on small journeys with known answers."""

import datetime as dt

import polars as pl
import pytest

from models.ops.funnel import funnel, funnel_violations, host_attribution, journey_steps

T0 = dt.datetime(2025, 1, 1, 10)


def _j(cid, channel, *, join=None, rep=None, rjoin=None, before=False, followup=100, cls="m"):
    def at(days):
        return None if days is None else T0 + dt.timedelta(days=days)

    return {
        "customer_id": cid,
        "acquisition_channel": channel,
        "acquisition_class": cls,
        "first_channel": channel.removesuffix("_live"),
        "first_order_id": f"o{cid}",
        "first_ordered_at": T0,
        "private_before_first_order": before,
        "private_joined_at": at(join),
        "repeat_ordered_at": at(rep),
        "repeat_after_join_at": at(rjoin),
        "followup_days": followup,
    }


JOURNEYS = pl.DataFrame(
    [
        _j("a", "tmall", join=2, rep=10, rjoin=10),
        _j("b", "tmall", join=4, rep=1, rjoin=20),  # repeat before joining, again after
        _j("c", "tmall", join=50),  # joins after the 30-day window: not counted
        _j("d", "tmall", rep=5),  # repeat without joining
        _j("e", "tmall", join=1, before=True, rep=3, rjoin=3),  # already private
        _j("f", "tmall", join=1, rep=2, rjoin=2, followup=10),  # censored
        _j("g", "douyin_live", join=6, rep=40, rjoin=40, cls="live"),  # repeat after window
        _j("h", "douyin_live", cls="live"),
    ]
)


def _step(table, channel, step):
    return table.filter((pl.col("acquisition_channel") == channel) & (pl.col("step") == step))


def test_funnel_counts_conversions_and_times():
    t = funnel(JOURNEYS, window_days=30)
    first, joined, rep = (
        _step(t, "tmall", s).row(0, named=True)
        for s in ("first_purchase", "joined_private", "repeat_after_join")
    )
    assert first["acquired"] == 6 and first["censored"] == 1 and first["customers"] == 5
    assert first["already_private"] == 1
    assert joined["customers"] == 2  # a and b; c too late, e already private, d never
    assert joined["conversion_from_previous"] == pytest.approx(2 / 5)
    assert joined["median_days_from_previous"] == pytest.approx(3.0)
    assert joined["p75_days_from_previous"] == pytest.approx(3.5)
    assert rep["customers"] == 2
    assert rep["conversion_from_previous"] == pytest.approx(1.0)
    assert rep["conversion_from_first"] == pytest.approx(2 / 5)
    assert rep["median_days_from_previous"] == pytest.approx(12.0)  # 8 and 16 days
    assert first["repeat_any"] == 4  # a, b, d, e within 30 days
    assert first["repeat_rate_joined"] == pytest.approx(1.0)
    assert first["repeat_rate_not_joined"] == pytest.approx(2 / 3)  # c, d, e
    live = _step(t, "douyin_live", "repeat_after_join").row(0, named=True)
    assert live["customers"] == 0  # g repeats on day 40, after the window
    everyone = _step(t, "all", "first_purchase").row(0, named=True)
    assert everyone["customers"] == 7 and everyone["acquired"] == 8
    assert funnel_violations(t).is_empty()


def test_a_longer_window_counts_more_and_censors_more():
    t = funnel(JOURNEYS, window_days=60)
    assert _step(t, "tmall", "first_purchase")["customers"][0] == 5
    assert _step(t, "tmall", "joined_private")["customers"][0] == 3  # c joins on day 50
    assert _step(t, "douyin_live", "repeat_after_join")["customers"][0] == 1
    assert funnel(JOURNEYS, window_days=200)["customers"].sum() == 0  # nobody observed


def test_funnel_violations_catch_a_growing_step():
    t = funnel(JOURNEYS, window_days=30).with_columns(
        pl.when(pl.col("step") == "repeat_after_join")
        .then(pl.col("customers") + 100)
        .otherwise(pl.col("customers"))
        .alias("customers")
    )
    assert set(funnel_violations(t)["step"]) == {"repeat_after_join"}


def test_bad_input_names_the_column_and_the_window():
    with pytest.raises(ValueError, match="followup_days"):
        journey_steps(JOURNEYS.drop("followup_days"), 30)
    with pytest.raises(ValueError, match="window_days"):
        journey_steps(JOURNEYS, 0)


def test_host_attribution():
    orders = pl.DataFrame(
        {
            "channel": ["douyin"] * 4,
            "order_id": ["og", "oh", "x1", "x2"],
            "customer_id": ["g", "h", "a", "a"],
            "host_id": ["7", "7", "7", "0"],
            "host_name": ["Lily", "Lily", "Lily", None],
            "ordered_at": [T0] * 4,
            "net_amount_cny": [100.0, 50.0, 30.0, 20.0],
        }
    )
    # g repeats on day 40: within a 60-day window, not within 30
    for window, rate in ((30, 0.0), (60, 0.5)):
        h = host_attribution(orders, JOURNEYS, window)
        lily = h.filter(pl.col("host_id") == "7").row(0, named=True)
        assert lily["orders"] == 3 and lily["gmv_cny"] == pytest.approx(180.0)
        assert lily["customers"] == 3 and lily["customers_acquired"] == 2
        assert lily["acquired_observed"] == 2
        assert lily["repeat_rate_in_window"] == pytest.approx(rate)
        assert lily["gmv_share"] == pytest.approx(0.9)
        own = h.filter(pl.col("host_id") == "0").row(0, named=True)
        assert own["customers_acquired"] == 0 and own["repeat_rate_in_window"] is None
