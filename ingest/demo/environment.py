"""Daily weather per city and footfall counters per store."""

from __future__ import annotations

import numpy as np
import polars as pl

from .calendar import Calendar
from .util import rng_for


def weather(cal: Calendar, cities: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per city per day: temperature, precipitation and a condition label."""
    rng = rng_for(seed, "environment.weather")
    nc = len(cities)
    yf = cal.year_frac[:, None]
    mean = cities["temp_mean"].to_numpy()[None, :]
    amp = cities["temp_amp"].to_numpy()[None, :]
    wet = cities["wet_centre"].to_numpy()[None, :]
    lat = cities["lat"].to_numpy()[None, :]
    seasonal = mean - amp * np.cos(2 * np.pi * (yf - 0.04))
    # AR(1) anomalies
    eps = rng.normal(0, 1.0, size=(cal.days, nc))
    anom = np.zeros((cal.days, nc))
    for t in range(cal.days):
        anom[t] = (0.75 * anom[t - 1] if t else 0) + 1.6 * eps[t]
    t_mean = seasonal + anom
    dist = np.abs(((yf - wet + 0.5) % 1.0) - 0.5)  # 0 at the wet-season centre
    p_wet = 0.12 + 0.38 * np.exp(-((dist / 0.12) ** 2))
    wet_day = rng.random((cal.days, nc)) < p_wet
    precip = np.where(wet_day, rng.gamma(0.9, 9.0, size=(cal.days, nc)), 0.0)
    t_max = t_mean + rng.uniform(3.0, 7.0, size=(cal.days, nc))
    t_min = t_mean - rng.uniform(3.0, 7.0, size=(cal.days, nc))
    snow = wet_day & (t_mean < 1.0) & (lat > 28)
    cond = np.where(
        snow,
        "雪",
        np.where(
            precip >= 25,
            "大雨",
            np.where(
                precip >= 10,
                "中雨",
                np.where(
                    precip > 0,
                    "小雨",
                    np.where(
                        rng.random((cal.days, nc)) < 0.45,
                        "晴",
                        np.where(rng.random((cal.days, nc)) < 0.6, "多云", "阴"),
                    ),
                ),
            ),
        ),
    )
    dates = np.repeat(np.array(cal.dates, dtype="datetime64[D]"), nc)
    return pl.DataFrame(
        {
            "t": np.repeat(np.arange(cal.days), nc),
            "date": dates,
            "city_idx": np.tile(np.arange(nc), cal.days),
            "city": np.tile(cities["city_en"].to_numpy(), cal.days),
            "temp_max_c": np.round(t_max.ravel(), 1),
            "temp_min_c": np.round(t_min.ravel(), 1),
            "precip_mm": np.round(precip.ravel(), 1),
            "condition": cond.ravel(),
        }
    )


def weather_effect(w: pl.DataFrame) -> pl.Series:
    """Multiplier on store footfall from the day's weather."""
    cond = w["condition"].to_numpy()
    tmax = w["temp_max_c"].to_numpy()
    tmin = w["temp_min_c"].to_numpy()
    f = np.ones(len(w))
    f[cond == "小雨"] *= 0.9
    f[cond == "中雨"] *= 0.8
    f[cond == "大雨"] *= 0.65
    f[cond == "雪"] *= 0.75
    f[tmax >= 35] *= 0.85
    f[tmin <= -5] *= 0.88
    return pl.Series("weather_effect", f)


def footfall(
    cal: Calendar,
    locations: pl.DataFrame,
    wx: pl.DataFrame,
    cities: pl.DataFrame,
    seed: int,
    start_day: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(footfall[t, store], open[t, store]) for the stores in ``locations`` order."""
    rng = rng_for(seed, "environment.footfall")
    stores = locations.filter(pl.col("location_type") == "store")
    ns = len(stores)
    city_idx = {c: i for i, c in enumerate(cities["city_en"].to_list())}
    wx_eff = weather_effect(wx).to_numpy().reshape(cal.days, len(cities))
    traffic = cal.traffic("store") * cal.weekly("store") * cal.yearly("store")
    ff = np.zeros((cal.days, ns))
    is_open = np.zeros((cal.days, ns), dtype=bool)
    for j, row in enumerate(stores.iter_rows(named=True)):
        opened = row["opened_date"].toordinal() - cal.start.toordinal()
        ci = city_idx[row["city"]]
        noise = rng.lognormal(0, 0.12, size=cal.days)
        base = 650.0 * row["size"]
        ramp = np.clip((np.arange(cal.days) - opened) / 60.0, 0.55, 1.0)  # new stores ramp up
        f = base * traffic * wx_eff[:, ci] * noise * ramp
        op = (np.arange(cal.days) >= opened) & (traffic > 0)
        ff[:, j] = np.where(op, np.round(f), 0)
        is_open[:, j] = op
    return ff.astype(np.int64), is_open
