"""A synthetic long frame with known structure (weekly season, promotions, intermittent
series, gaps and censored days), for the forecasting tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl


def synthetic_frame(n_series: int = 12, n_days: int = 120, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = dt.date(2024, 1, 1)
    rows = []
    for s in range(n_series):
        base = rng.gamma(2.0, 2.0) if s % 4 else 0.3  # every fourth series is intermittent
        for t in range(n_days):
            day = start + dt.timedelta(days=t)
            promo = float(rng.random() < 0.1)
            lam = base * (1.6 if day.weekday() >= 5 else 1.0) * (1 + promo)
            y = float(rng.poisson(lam))
            if s == 1 and 40 <= t < 45:  # a gap: rows absent
                continue
            censored = s == 2 and 60 <= t < 66  # out of stock: zero sales, not zero demand
            rows.append((f"S{s:02d}", day, 0.0 if censored else y, promo, censored))
    return pl.DataFrame(rows, schema=["unique_id", "ds", "y", "promo", "censored"], orient="row")
