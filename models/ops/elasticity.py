"""Own-price elasticity per SKU × channel from the price changes in the history, and price
suggestions that stay inside the ladder and MAP.

The model is log-log (constant elasticity): ``log E[units_t] = a + b·log(price_t) + controls``,
where ``b`` is the elasticity. It is fitted by Poisson pseudo-maximum likelihood (IRLS in
numpy), not by OLS on ``log(units)``: most SKU × channel × days sell 0 or 1 unit, and the log of
a zero does not exist (``log(1 + units)`` biases ``b`` towards 0). The confidence interval uses
heteroskedasticity-robust (sandwich, HC0) standard errors, valid under over-dispersion.
Controls: day of week, a linear trend, retail-event windows (``models.forecast.calendar``) and
the channel's traffic that day (log of 1 + units of its other SKUs), so a channel-wide event
surge is not read as the SKU's own price response.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import norm

from models.forecast.calendar import EVENTS, calendar_features
from models.ops.price_policy import LIST_PRICE, Elasticity, PricePolicy

EVENT_WINDOW = (-7, 1)  # the week before a retail event up to the day after it
ESTIMATED = "estimated"
INSUFFICIENT = "insufficient_data"
ELASTICITY_COLUMNS = [
    "sku", "channel", "status", "reason", "elasticity", "std_error", "ci_low", "ci_high",
    "confidence", "days", "units", "price_changes", "price_min", "price_max", "controls",
]  # fmt: skip


@dataclass(frozen=True)
class Fit:
    coef: np.ndarray
    se: np.ndarray
    converged: bool


def poisson_fit(x: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-9) -> Fit:
    """Poisson regression with log link by IRLS; HC0 sandwich standard errors."""
    n, k = x.shape
    beta = np.zeros(k)
    beta[0] = math.log(max(y.mean(), 1e-3))
    converged = False
    for _ in range(max_iter):
        eta = np.clip(x @ beta, -30, 30)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        xw = x * mu[:, None]
        try:
            new = np.linalg.solve(x.T @ xw, xw.T @ z)
        except np.linalg.LinAlgError:
            return Fit(beta, np.full(k, np.nan), False)
        if np.max(np.abs(new - beta)) < tol * (1 + np.max(np.abs(beta))):
            beta, converged = new, True
            break
        beta = new
    mu = np.exp(np.clip(x @ beta, -30, 30))
    bread = np.linalg.pinv(x.T @ (x * mu[:, None]))
    meat = x.T @ (x * ((y - mu) ** 2)[:, None])
    cov = bread @ meat @ bread
    return Fit(beta, np.sqrt(np.clip(np.diag(cov), 0, None)), converged)


def _independent_columns(x: np.ndarray, names: list[str], keep_first: int = 2):
    """Drop constant and collinear control columns (the first ``keep_first`` are kept)."""
    cols, kept = [], []
    for j in range(x.shape[1]):
        cand = x[:, cols + [j]]
        if j >= keep_first and (np.ptp(x[:, j]) == 0 or np.linalg.matrix_rank(cand) <= len(cols)):
            continue
        cols.append(j)
        kept.append(names[j])
    return x[:, cols], kept


def design(
    panel: pl.DataFrame, calendar: pl.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Columns: intercept, log price, then the controls (day of week, trend, event windows,
    channel traffic) that vary in this panel. ``panel``: date, units, price, traffic;
    ``calendar``: :func:`calendar_features` of (at least) its dates, computed once per run."""
    if calendar is None:
        calendar = calendar_features(panel["date"].to_list())
    cal = panel.select(pl.col("date").alias("ds")).join(calendar, on="ds", how="left")
    lo, hi = EVENT_WINDOW
    cols = {
        "intercept": np.ones(panel.height),
        "log_price": np.log(panel["price"].to_numpy().astype(float)),
    }
    dow = cal["dow"].to_numpy()
    for d in range(1, 7):
        cols[f"dow_{d}"] = (dow == d).astype(float)
    days = (panel["date"] - panel["date"].min()).dt.total_days().to_numpy().astype(float)
    cols["trend"] = days / 365.0
    for name in EVENTS:
        dist = cal[f"{name}_days"].to_numpy()
        cols[f"event_{name}"] = ((dist >= lo) & (dist <= hi)).astype(float)
    cols["log_traffic"] = np.log1p(panel["traffic"].to_numpy().astype(float))
    names = list(cols)
    x, kept = _independent_columns(np.column_stack([cols[n] for n in names]), names)
    return x, panel["units"].to_numpy().astype(float), kept


def estimate(
    panel: pl.DataFrame, settings: Elasticity, calendar: pl.DataFrame | None = None
) -> dict:
    """The elasticity of one SKU × channel, or ``insufficient_data`` with the reason.
    ``panel``: one row per day the SKU was priced and live (date, units, price, traffic)."""
    panel = panel.sort("date")
    prices = panel["price"].to_numpy().astype(float) if panel.height else np.array([])
    changes = int((np.diff(prices) != 0).sum()) if len(prices) > 1 else 0
    units = float(panel["units"].sum()) if panel.height else 0.0
    out = {
        "status": INSUFFICIENT, "reason": None, "elasticity": None, "std_error": None,
        "ci_low": None, "ci_high": None, "confidence": settings.confidence,
        "days": panel.height, "units": units, "price_changes": changes,
        "price_min": float(prices.min()) if len(prices) else None,
        "price_max": float(prices.max()) if len(prices) else None, "controls": None,
    }  # fmt: skip
    price_range = (prices.max() / prices.min() - 1) * 100 if len(prices) else 0.0
    if panel.height < settings.min_days:
        out["reason"] = f"only {panel.height} days priced (< {settings.min_days})"
    elif changes < settings.min_price_changes:
        out["reason"] = f"only {changes} price change(s) (< {settings.min_price_changes})"
    elif units < settings.min_units:
        out["reason"] = f"only {units:g} units sold (< {settings.min_units})"
    elif price_range < settings.min_price_range_pct:
        out["reason"] = (
            f"prices moved only {price_range:.1f} % (< {settings.min_price_range_pct:g} %)"
        )
    if out["reason"]:
        return out
    x, y, kept = design(panel, calendar)
    if "log_price" not in kept or x.shape[0] <= x.shape[1] + 5:
        out["reason"] = "price moves only together with the controls"
        return out
    fit = poisson_fit(x, y)
    b, se = float(fit.coef[1]), float(fit.se[1])
    if not fit.converged or not math.isfinite(se) or se == 0:
        out["reason"] = "the model did not converge"
        return out
    z = float(norm.ppf(0.5 + settings.confidence / 2))
    out.update(
        status=ESTIMATED, elasticity=b, std_error=se, ci_low=b - z * se, ci_high=b + z * se,
        controls=",".join(kept[2:]),
    )  # fmt: skip
    return out


def daily_panels(prices: pl.DataFrame, sales: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """One row per SKU × channel × day the SKU was priced on the channel and live (launched,
    not discontinued): units sold that day (0 without sales), the posted price, and the
    channel's traffic (units of its other SKUs). ``sales``: date, channel (price channel),
    sku, units."""
    live = products.select(
        "sku",
        pl.col("launch_date").cast(pl.Date),
        pl.col("discontinued_date").cast(pl.Date),
    )
    units = sales.group_by("date", "channel", "sku").agg(pl.col("units").sum())
    total = units.group_by("date", "channel").agg(pl.col("units").sum().alias("channel_units"))
    return (
        prices.select(
            pl.col("price_date").cast(pl.Date).alias("date"),
            "channel",
            "sku",
            pl.col("price").cast(pl.Float64),
        )  # fmt: skip
        .join(live, on="sku", how="left")
        .filter(
            (pl.col("launch_date").is_null() | (pl.col("date") >= pl.col("launch_date")))
            & (
                pl.col("discontinued_date").is_null()
                | (pl.col("date") <= pl.col("discontinued_date"))
            )
        )
        .join(units, on=["date", "channel", "sku"], how="left")
        .join(total, on=["date", "channel"], how="left")
        .with_columns(pl.col("units").fill_null(0), pl.col("channel_units").fill_null(0))
        .with_columns((pl.col("channel_units") - pl.col("units")).alias("traffic"))
        .select("sku", "channel", "date", "units", "price", "traffic")
        .sort("sku", "channel", "date")
    )


def elasticities(panels: pl.DataFrame, settings: Elasticity) -> pl.DataFrame:
    """:func:`estimate` for every SKU × channel of ``panels``."""
    rows = []
    calendar = calendar_features(panels["date"].unique().sort().to_list())
    for (sku, channel), g in panels.group_by(["sku", "channel"], maintain_order=True):
        rows.append({"sku": sku, "channel": channel, **estimate(g, settings, calendar)})
    schema = {
        "sku": pl.Utf8, "channel": pl.Utf8, "status": pl.Utf8, "reason": pl.Utf8,
        "elasticity": pl.Float64, "std_error": pl.Float64, "ci_low": pl.Float64,
        "ci_high": pl.Float64, "confidence": pl.Float64, "days": pl.Int64, "units": pl.Float64,
        "price_changes": pl.Int64, "price_min": pl.Float64, "price_max": pl.Float64,
        "controls": pl.Utf8,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(ELASTICITY_COLUMNS).sort("sku", "channel")


SUGGESTION_COLUMNS = [
    "sku", "channel", "currency", "price_date", "current_price", "list_price", "unit_cost",
    "elasticity", "ci_low", "ci_high", "status", "target_price", "floor_price", "cap_price",
    "suggested_price", "change_pct", "expected_units_change_pct", "binding", "reason",
]  # fmt: skip


def price_suggestions(
    latest: pl.DataFrame,
    elastic: pl.DataFrame,
    costs: pl.DataFrame,
    map_floors: pl.DataFrame,
    policy: PricePolicy,
) -> pl.DataFrame:
    """A price per SKU × channel of the latest day that stays inside the ladder and MAP.

    Where the elasticity is estimated and its interval excludes 0, the target is the
    margin-maximising price of a constant-elasticity demand (``cost·b/(1+b)`` when ``b < −1``;
    upward when demand is inelastic), moved at most ``max_step_pct`` from today's price; else
    today's price is held. The result is then clipped to the floor (MAP; the ladder against
    the reference's price today) and the cap (list price; the highest price that keeps the
    channels using this one as their reference inside their ladder, never below today's).

    ``latest``: channel, sku, price_date, price, list_price, currency (one day);
    ``costs``: sku, currency, unit_cost (cost in the channel's currency);
    ``map_floors``: channel, sku, map_floor (may be empty).
    """
    step = policy.suggestions.max_step_pct / 100
    cur = latest.select(
        "channel", "sku", "currency", pl.col("price_date").cast(pl.Date),
        pl.col("price").cast(pl.Float64).alias("current_price"),
        pl.col("list_price").cast(pl.Float64),
    )  # fmt: skip
    floors: list[pl.Expr] = []
    caps: list[pl.Expr] = []
    for i, rule in enumerate(policy.ladder):
        allowed = 1 - rule.max_below_pct / 100
        if rule.reference == LIST_PRICE:
            lo = pl.when(pl.col("channel").is_in(rule.channels)).then(
                pl.col("list_price") * allowed
            )
            floors.append(lo)
            continue
        ref = cur.filter(pl.col("channel") == rule.reference).select(
            "sku", "currency", pl.col("current_price").alias(f"_ref{i}")
        )
        dep = (
            cur.filter(pl.col("channel").is_in(rule.channels))
            .group_by("sku", "currency")
            .agg(pl.col("current_price").min().alias(f"_dep{i}"))
        )
        cur = cur.join(ref, on=["sku", "currency"], how="left").join(
            dep, on=["sku", "currency"], how="left"
        )
        floors.append(
            pl.when(pl.col("channel").is_in(rule.channels)).then(pl.col(f"_ref{i}") * allowed)
        )
        # the reference may not rise so far that a dependant breaks the ladder; a dependant
        # already breaking it is fixed on the dependant (its floor), never by cutting this one
        caps.append(
            pl.when(pl.col("channel") == rule.reference).then(
                pl.max_horizontal(pl.col(f"_dep{i}") / allowed, pl.col("current_price"))
            )
        )
    frame = (
        cur.join(map_floors, on=["channel", "sku"], how="left")
        .join(costs, on=["sku", "currency"], how="left")
        .join(
            elastic.select("sku", "channel", "status", "elasticity", "ci_low", "ci_high"),
            on=["sku", "channel"],
            how="left",
        )
    )
    ladder_floor = pl.max_horizontal(floors) if floors else pl.lit(None, dtype=pl.Float64)
    ladder_cap = pl.min_horizontal(caps) if caps else pl.lit(None, dtype=pl.Float64)
    list_cap = pl.col("list_price") if policy.suggestions.never_above_list else pl.lit(None)
    frame = frame.with_columns(
        ladder_floor.alias("_ladder_floor"),
        ladder_cap.alias("_ladder_cap"),
        list_cap.cast(pl.Float64).alias("_list_cap"),
    )
    rows = [_suggest(r, step) for r in frame.iter_rows(named=True)]
    schema = {
        "sku": pl.Utf8, "channel": pl.Utf8, "currency": pl.Utf8, "price_date": pl.Date,
        "current_price": pl.Float64, "list_price": pl.Float64, "unit_cost": pl.Float64,
        "elasticity": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
        "status": pl.Utf8, "target_price": pl.Float64, "floor_price": pl.Float64,
        "cap_price": pl.Float64, "suggested_price": pl.Float64, "change_pct": pl.Float64,
        "expected_units_change_pct": pl.Float64, "binding": pl.Utf8, "reason": pl.Utf8,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(SUGGESTION_COLUMNS).sort("sku", "channel")


def _suggest(r: dict, step: float) -> dict:
    p, b, cost = r["current_price"], r["elasticity"], r["unit_cost"]
    status = r["status"] or INSUFFICIENT
    significant = status == ESTIMATED and r["ci_high"] is not None and r["ci_high"] < 0
    if not significant:
        target, why = p, (
            "hold: elasticity not estimated" if status != ESTIMATED
            else "hold: elasticity not significantly below 0"
        )  # fmt: skip
    elif b < -1 and cost is not None and cost > 0:
        target, why = cost * b / (1 + b), f"margin-maximising price at elasticity {b:.2f}"
    elif b < -1:
        target, why = p, "hold: no unit cost in this currency"
    else:
        target, why = math.inf, f"inelastic demand ({b:.2f}): price up"
    stepped = min(max(target, p * (1 - step)), p * (1 + step))
    binding = "step" if stepped != target and significant else "none"
    floor_parts = {"map": r["map_floor"], "ladder": r["_ladder_floor"]}
    cap_parts = {"list": r["_list_cap"], "ladder": r["_ladder_cap"]}
    floor_name, floor = _extreme(floor_parts, max)
    cap_name, cap = _extreme(cap_parts, min)
    price = stepped
    if cap is not None and price > cap + 1e-9:
        price, binding = cap, cap_name
    if floor is not None and price < floor - 1e-9:
        price, binding = floor, floor_name
    price = round(price, 2)
    if price != round(p, 2) and not significant:
        why = f"moved into policy ({binding} bound) from a price that breaks it"
    units_change = ((price / p) ** b - 1) * 100 if significant and b is not None and p > 0 else None
    return {
        "sku": r["sku"], "channel": r["channel"], "currency": r["currency"],
        "price_date": r["price_date"], "current_price": p, "list_price": r["list_price"],
        "unit_cost": cost, "elasticity": b, "ci_low": r["ci_low"], "ci_high": r["ci_high"],
        "status": status, "target_price": None if math.isinf(target) else round(target, 2),
        "floor_price": None if floor is None else round(floor, 2),
        "cap_price": None if cap is None else round(cap, 2), "suggested_price": price,
        "change_pct": round((price / p - 1) * 100, 2) if p else None,
        "expected_units_change_pct": None if units_change is None else round(units_change, 2),
        "binding": binding, "reason": why,
    }  # fmt: skip


def _extreme(parts: dict, pick) -> tuple[str | None, float | None]:
    vals = {k: v for k, v in parts.items() if v is not None}
    if not vals:
        return None, None
    name = pick(vals, key=vals.get)
    return name, vals[name]
