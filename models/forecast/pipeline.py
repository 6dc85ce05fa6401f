"""The warehouse's forecasting steps as plain functions (the Dagster assets only wrap them):
demand frame -> panel -> backtest -> future forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from models.forecast.backtest import forecast_at
from models.forecast.model import ModelSettings
from models.forecast.panel import Panel, make_panel
from models.forecast.settle import Settled
from models.forecast.store import FitInfo, fit_or_load, stored_fit
from models.forecast.warehouse import FUTURE_EXOG, PAST_EXOG, STATIC

SLICES = ["channel", "category"]


def demand_panel(frame: pl.DataFrame) -> Panel:
    """The panel of the warehouse's demand frame (``y`` is already null where censored)."""
    return make_panel(
        frame,
        "D",
        future_exog=FUTURE_EXOG,
        past_exog=PAST_EXOG,
        static=STATIC,
        censored="censored",
        source="forecast.demand_frame",
    )


def live_series(panel: Panel, recent: int = 28) -> np.ndarray:
    """Series with an observation in the last ``recent`` periods: the ones worth a future
    forecast (a discontinued SKU or a closed location has none)."""
    return (~np.isnan(panel.y[:, -recent:])).any(axis=1)


def future_horizon(horizon: int, n_periods: int) -> int:
    """The future horizon a forecast of ``n_periods`` of history gets: ``horizon``, capped at
    half the history."""
    return min(horizon, max(1, n_periods // 2))


def future_forecast(
    panel: Panel,
    horizon: int,
    settings: ModelSettings,
    model: str,
    store: Path | None = None,
    refit_every: int = 0,
    settled: Settled | None = None,
    series: np.ndarray | None = None,
    refit: bool = True,
) -> tuple[pl.DataFrame, list[str], FitInfo | None]:
    """P10/P50/P90 for the ``horizon`` periods after the last one, with ``model``, for live
    series; the horizon is capped at half the history (said in the notes). With a ``store``
    directory the global models come from the fit stored there while it is younger than
    ``refit_every`` days of data and can serve the panel, else they are refitted and stored
    (``models.forecast.store``; the returned FitInfo says which and why); without one they
    are fitted for this forecast alone. Either way a fit's training targets end
    ``settings.settle_lag`` periods before the cutoff (``settled`` says why, for the store's
    manifest); the features are the panel's up to the cutoff.

    ``series`` (a boolean mask, one SKU group) forecasts only those series, with the features
    of the whole panel (a series' scale floor is a share of every series' median scale), so
    the rows equal the whole forecast's rows of those series. ``refit=False`` predicts from
    the stored fit or raises ``models.forecast.store.StoreError`` saying why it cannot (a
    group's predict never refits: the fit is one step before the groups)."""
    notes = []
    h = future_horizon(horizon, panel.n_periods)
    if h != horizon:
        notes.append(f"future horizon capped from {horizon} to {h}: {panel.n_periods} periods")
    cutoff = panel.n_periods - 1
    fitted = info = None
    if store is not None and model.startswith("hgb_") and not refit:
        # the fit step may just have fitted on this very cutoff (refit_every 0 included)
        fitted, panel, info = stored_fit(panel, h, settings, store, max(refit_every, 1))
    elif store is not None and model.startswith("hgb_"):
        fitted, panel, info = fit_or_load(panel, h, settings, store, refit_every, settled)
    elif not refit:
        raise ValueError(f"{model}: only a stored global model predicts without fitting")
    fc, _ = forecast_at(
        panel, cutoff, h, settings, [model, "seasonal_naive"], fitted=fitted, series=series
    )
    p10, p50, p90 = fc[model]
    mean = fc["hgb_mean"][0] if "hgb_mean" in fc else p50
    if p10 is None:
        p10 = p90 = p50
    live = live_series(panel)
    if series is not None:
        live &= series
    s, hp = np.nonzero(~np.isnan(p50) & live[:, None])
    ids = panel.ids.gather(s)
    sku_loc = ids.str.split_exact("|", 1).struct.unnest()
    frame = pl.DataFrame(
        {
            "sku": sku_loc["field_0"],
            "location_id": sku_loc["field_1"],
            "ds": pl.Series(panel.date(cutoff + 1 + hp)).cast(pl.Date),
            "cutoff": pl.Series([panel.date(cutoff)] * len(s), dtype=pl.Date),
            "horizon": (hp + 1).astype(np.int32),
            "p10": p10[s, hp],
            "p50": p50[s, hp],
            "p90": p90[s, hp],
            "mean": mean[s, hp],
            "model": [model] * len(s),
        }
    )
    return frame.sort("sku", "location_id", "ds"), notes, info


def backtest_long(forecasts: pl.DataFrame, models) -> pl.DataFrame:
    """The backtest frame (one column per model and quantile) as the interface's long
    ``forecast.backtest_forecasts`` (one row per model; P10/P90 null without interval)."""
    parts = []
    sku_loc = forecasts["unique_id"].str.split_exact("|", 1).struct.unnest()
    base = forecasts.with_columns(sku=sku_loc["field_0"], location_id=sku_loc["field_1"])
    for m in models:
        cols = [
            pl.col(f"{m}_{q}").alias(q) if f"{m}_{q}" in base.columns else pl.lit(None).alias(q)
            for q in ("p10", "p50", "p90")
        ]
        # the expected demand: the global model's Poisson model beside each HGB method
        mean = "hgb_mean" if m.startswith("hgb_") and "hgb_mean" in base.columns else None
        cols.append(pl.col(mean).alias("mean") if mean else pl.lit(None).alias("mean"))
        parts.append(
            base.select(
                "sku", "location_id", "ds", "cutoff", "horizon", "fold", "y", *cols
            ).with_columns(model=pl.lit(m))
        )
    return pl.concat(parts, how="vertical_relaxed")
