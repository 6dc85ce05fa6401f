"""Training only on settled days (models/forecast/settle.py): the completeness day comes from
the channels' deliveries, a lagging channel keeps the fit's targets before it, a stopped
channel does not freeze it, and the setting parses with clear errors."""

import datetime as dt

import polars as pl
import pytest

from models.forecast.features import FeatureBuilder
from models.forecast.model import ModelSettings, training_rows
from models.forecast.panel import make_panel
from models.forecast.settle import (
    SettleError,
    complete_through,
    last_delivered,
    parse_settle_days,
    settle,
)
from models.forecast.store import fit, why_refit
from tests.models.forecast.synthetic import synthetic_frame

H = 7
LAG = 3  # the weekly channel has not delivered its last 3 days yet
SETTINGS = ModelSettings(max_iter=8, max_train_rows=2_000, jobs=2)


def _lagging_panel():
    """A panel whose even series sell on a daily channel and odd ones on a weekly channel
    that has delivered nothing for the last ``LAG`` days (their sales read 0 there, as in the
    warehouse), and the order lines as delivered."""
    frame = synthetic_frame(n_series=10, n_days=70).with_columns(
        channel=pl.when(pl.col("unique_id").str.slice(-1).cast(pl.Int32) % 2 == 0)
        .then(pl.lit("daily"))
        .otherwise(pl.lit("weekly"))
    )
    last = frame["ds"].max()
    late = (pl.col("channel") == "weekly") & (pl.col("ds") > last - dt.timedelta(days=LAG))
    delivered = frame.filter((pl.col("y") > 0) & ~late)  # one row per delivered sales day
    frame = frame.with_columns(y=pl.when(late).then(0.0).otherwise(pl.col("y")))
    panel = make_panel(frame, "D", future_exog=["promo"], static=["channel"])
    return panel, delivered, last


def test_a_lagging_channel_ends_the_training_targets_at_its_last_delivered_day():
    panel, delivered, last = _lagging_panel()
    days = last_delivered(delivered, "channel", "ds")
    assert days == {"daily": last, "weekly": last - dt.timedelta(days=LAG)}
    settled = settle("auto", days, last)
    assert (settled.complete_through, settled.lag_days) == (last - dt.timedelta(days=LAG), LAG)
    assert "weekly" in settled.reason and "daily" not in settled.reason
    builder, cutoff = FeatureBuilder(panel, H), panel.n_periods - 1
    # without the rule the fit learns the weekly channel's unfilled days as zero demand
    assert training_rows(builder, cutoff, H, SETTINGS)[4].max() == cutoff
    lagged = ModelSettings(**{**SETTINGS.as_dict(), "settle_lag": settled.lag_days})
    targets = training_rows(builder, cutoff, H, lagged)[4]
    assert targets.max() == cutoff - LAG
    assert panel.date(targets.max()) == settled.complete_through
    # the stored fit goes through the same rows and records the day and the reason
    _, manifest = fit(panel, H, lagged, settled)
    assert manifest["complete_through"] == str(settled.complete_through)
    assert manifest["fit_date"] == str(last) and manifest["settle_reason"] == settled.reason
    # the lag moves with the deliveries day by day: it alone does not force a refit
    assert why_refit(manifest, panel, H, SETTINGS, refit_every=7) is None


def test_a_negative_settle_lag_is_refused():
    panel, _, _ = _lagging_panel()
    bad = ModelSettings(**{**SETTINGS.as_dict(), "settle_lag": -1})
    with pytest.raises(ValueError, match="settle_lag"):
        training_rows(FeatureBuilder(panel, H), panel.n_periods - 1, H, bad)


def test_a_stopped_channel_does_not_freeze_the_completeness_day():
    cutoff = dt.date(2025, 3, 1)
    days = {
        "tmall": cutoff,
        "jd": cutoff - dt.timedelta(days=2),
        "closed_shop": cutoff - dt.timedelta(days=60),
    }
    s = complete_through(days, cutoff)
    assert (s.complete_through, s.lag_days) == (cutoff - dt.timedelta(days=2), 2)
    assert "jd" in s.reason and "ignored" in s.reason and "closed_shop" in s.reason
    # the window is a setting: a 90-day window waits for the stopped channel
    assert complete_through(days, cutoff, active_within=90, max_lag=90).lag_days == 60
    # only stopped channels, or none: complete through the cutoff
    assert complete_through({"closed_shop": days["closed_shop"]}, cutoff).lag_days == 0
    assert complete_through({}, cutoff).complete_through == cutoff
    # a day after the cutoff (a future-dated line) never moves the date past it
    ahead = complete_through({"web": cutoff + dt.timedelta(days=3)}, cutoff)
    assert ahead.complete_through == cutoff


def test_the_automatic_lag_is_capped():
    """A sparse or monthly stream whose last sale is weeks old holds back at most
    ``max_lag`` days of every stream's targets, and the reason says so."""
    cutoff = dt.date(2025, 3, 1)
    days = {"web": cutoff, "vending": cutoff - dt.timedelta(days=25)}
    capped = complete_through(days, cutoff)
    assert (capped.complete_through, capped.lag_days) == (cutoff - dt.timedelta(days=14), 14)
    assert "vending" in capped.reason and "capped at 14" in capped.reason
    assert settle("auto", days, cutoff, max_lag=30).lag_days == 25
    within = complete_through({"web": cutoff, "jd": cutoff - dt.timedelta(days=6)}, cutoff)
    assert within.lag_days == 6 and "capped" not in within.reason
    with pytest.raises(SettleError, match="settle_max_days"):
        complete_through(days, cutoff, max_lag=-1)


def test_the_setting_parses_auto_or_whole_days_with_clear_errors():
    assert parse_settle_days("auto") is None and parse_settle_days(" AUTO ") is None
    assert parse_settle_days("3") == 3 and parse_settle_days(0) == 0
    for bad in ("-1", "three", "1.5", 1.5, -2, True, None, ""):
        with pytest.raises(SettleError, match=r"settle_days: expected 'auto' or a whole"):
            parse_settle_days(bad)
    with pytest.raises(SettleError, match="forecast.settle_days.*'soon'"):
        parse_settle_days("soon", field="forecast.settle_days")
    cutoff = dt.date(2025, 3, 1)
    fixed = settle("2", {"jd": cutoff - dt.timedelta(days=5)}, cutoff)
    assert (fixed.complete_through, fixed.lag_days) == (dt.date(2025, 2, 27), 2)
    assert "fixed" in fixed.reason
    with pytest.raises(SettleError, match="settle_active_days"):
        complete_through({}, cutoff, active_within=-1)
