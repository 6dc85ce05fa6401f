"""The forecast tables other packages read (replenishment, exports): their names and columns.

This is the interface between forecasting and replenishment. ``forecast.demand_forecast``
holds the future forecast made from the latest data; ``backtest_forecasts`` and
``backtest_metrics`` the rolling-origin backtest that says how far to trust it.
Quantities are units per day (per period for weekly data); ``horizon`` counts periods after
``cutoff`` (the last day of data used), from 1.
"""

from __future__ import annotations

import polars as pl

SCHEMA = "forecast"

DEMAND_FORECAST = {
    "sku": pl.String,
    "location_id": pl.String,
    "ds": pl.Date,
    "cutoff": pl.Date,
    "horizon": pl.Int32,
    "p10": pl.Float64,
    "p50": pl.Float64,
    "p90": pl.Float64,
    "mean": pl.Float64,  # expected demand (the global model's Poisson model)
    "model": pl.String,
}

BACKTEST_FORECASTS = {
    "sku": pl.String,
    "location_id": pl.String,
    "ds": pl.Date,
    "cutoff": pl.Date,
    "horizon": pl.Int32,
    "fold": pl.Int32,
    "model": pl.String,
    "y": pl.Float64,
    "p10": pl.Float64,
    "p50": pl.Float64,
    "p90": pl.Float64,
    "mean": pl.Float64,  # expected demand; null for models without one
}

BACKTEST_METRICS = {
    "model": pl.String,
    "fold": pl.String,  # "1".."K" or "all"
    "slice": pl.String,  # "all", "channel=<c>", "category=<c>"
    "metric": pl.String,  # wape, mase, bias, coverage_p10_p90(_nonzero), zero_share, pinball, interval_score, n
    "value": pl.Float64,
}

DEMAND_FRAME = {
    "unique_id": pl.String,
    "sku": pl.String,
    "location_id": pl.String,
    "ds": pl.Date,
    "y": pl.Float64,  # null where the day is censored or the SKU not carried
    "units_sold": pl.Float64,
    "censored": pl.Boolean,
}


def conform(frame: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """The frame with exactly the interface's columns, in order and type."""
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
