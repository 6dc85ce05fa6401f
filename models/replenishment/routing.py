"""Routing the demand no location carries to the locations that ship it.

Tmall, WeChat and Amazon orders do not say where they ship from, so their sales, and the
forecast made from them, sit at location ``UNASSIGNED``. Planning a warehouse or an FBA node
without them would under-order, so the forecast of ``UNASSIGNED`` × SKU is split over the
locations that ship each channel (``unassigned_demand`` in ``profiles/replenishment.yml``):
by the channel's (and currency's: Amazon US/DE/UK) share of the SKU's unlocated sales in the
routing window, then among the candidate locations by their own sales of the SKU in that
window (equally when none sold it). Per day, a location's P50 adds up; the spread adds as
independent variances (the same normal reading of the P10-P90 width as the policy's).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from models.replenishment.config import Policy
from models.replenishment.policy import Z_P90, daily_sigma

UNASSIGNED = "UNASSIGNED"


def routing_weights(
    mix: pl.DataFrame, own_sales: pl.DataFrame, positions: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """Per SKU, the share of its unlocated demand each location takes (sku, location_id,
    weight). ``mix``: sku, channel, currency, units (unlocated sales in the window);
    ``own_sales``: location_id, sku, units (located sales in the window); ``positions``:
    location_id, location_type, country, sku (who carries what). Channels without a route, or
    whose route finds no location carrying the SKU, keep their share unrouted."""
    carriers = positions.select("location_id", "location_type", "country", "sku").unique()
    sold = {(r["location_id"], r["sku"]): r["units"] for r in own_sales.iter_rows(named=True)}
    out: dict[tuple[str, str], float] = {}
    for (sku,), g in mix.partition_by(["sku"], as_dict=True, maintain_order=True).items():
        total = float(g["units"].sum())
        if total <= 0:
            continue
        for r in g.iter_rows(named=True):
            route = policy.unassigned_demand.get(r["channel"])
            if route is None:
                continue
            country = route.country_for(r["currency"])
            cands = carriers.filter(
                (pl.col("sku") == sku)
                & (pl.col("location_type") == route.location_type)
                & (pl.col("country") == country)
            )["location_id"].to_list()
            if not cands:
                continue
            own = np.array([float(sold.get((loc, sku), 0) or 0) for loc in cands])
            within = own / own.sum() if own.sum() > 0 else np.full(len(cands), 1 / len(cands))
            for loc, w in zip(cands, within, strict=True):
                out[(loc, sku)] = out.get((loc, sku), 0.0) + float(r["units"]) / total * w
    return pl.DataFrame(
        [{"sku": s, "location_id": loc, "weight": w} for (loc, s), w in sorted(out.items())],
        schema={"sku": pl.String, "location_id": pl.String, "weight": pl.Float64},
    )


def route_forecast(forecast: pl.DataFrame, weights: pl.DataFrame) -> pl.DataFrame:
    """The forecast per real location: its own plus its weighted share of ``UNASSIGNED``'s
    (location_id, sku, ds, cutoff, p10, p50, p90, and ``mean`` when given, routed like the
    P50); ``UNASSIGNED`` itself is dropped."""
    has_mean = "mean" in forecast.columns
    mean_col = ["mean"] if has_mean else []
    with_sigma = forecast.with_columns(
        pl.Series("sigma", daily_sigma(forecast["p10"].to_numpy(), forecast["p90"].to_numpy()))
    )
    own = with_sigma.filter(pl.col("location_id") != UNASSIGNED)
    routed = (
        with_sigma.filter(pl.col("location_id") == UNASSIGNED)
        .drop("location_id")
        .join(weights, on="sku")
        .with_columns(
            pl.col("p50") * pl.col("weight"),
            pl.col("sigma") * pl.col("weight"),
            *([pl.col("mean") * pl.col("weight")] if has_mean else []),
        )
        .drop("weight")
    )
    both = pl.concat([own.select(routed.columns), routed])
    return (
        both.group_by("location_id", "sku", "ds")
        .agg(
            pl.col("cutoff").max(),
            pl.col("p50").sum(),
            *([pl.col("mean").sum()] if has_mean else []),
            (pl.col("sigma") ** 2).sum().sqrt().alias("sigma"),
        )
        .with_columns(
            (pl.col("p50") - Z_P90 * pl.col("sigma")).alias("p10"),
            (pl.col("p50") + Z_P90 * pl.col("sigma")).alias("p90"),
        )
        .select("location_id", "sku", "ds", "cutoff", "p10", "p50", "p90", *mean_col)
        .sort("location_id", "sku", "ds")
    )
