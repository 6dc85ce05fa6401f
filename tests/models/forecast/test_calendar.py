import datetime as dt

import polars as pl

from models.forecast.calendar import black_friday, calendar_features


def test_black_friday_is_the_day_after_the_fourth_thursday():
    assert [black_friday(y) for y in (2023, 2024, 2025, 2026)] == [
        dt.date(2023, 11, 24),
        dt.date(2024, 11, 29),
        dt.date(2025, 11, 28),
        dt.date(2026, 11, 27),
    ]


def test_events_by_rule_in_any_year():
    days = [dt.date(2031, 11, 1) + dt.timedelta(days=k) for k in range(40)]
    cal = calendar_features(days).with_columns(pl.col("ds"))
    assert cal.filter(pl.col("double11") == 1)["ds"].to_list() == [dt.date(2031, 11, 11)]
    assert cal.filter(pl.col("black_friday") == 1)["ds"].to_list() == [black_friday(2031)]
    # signed distance: five days before Double 11
    assert cal.filter(pl.col("ds") == dt.date(2031, 11, 6))["double11_days"][0] == -5
    # public holidays from the holidays package: US Thanksgiving, China's National Day
    assert (
        cal.filter(pl.col("ds") == black_friday(2031) - dt.timedelta(days=1))["holiday_us"][0] == 1
    )
    oct1 = calendar_features([dt.date(2031, 10, 1)])
    assert oct1["holiday_cn"][0] == 1
