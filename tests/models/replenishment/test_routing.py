"""Routing the unlocated demand (Tmall, WeChat, Amazon) to the locations that ship it."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from models.replenishment.config import load_policy
from models.replenishment.policy import Z_P90
from models.replenishment.routing import route_forecast, routing_weights

CARRIERS = pl.DataFrame(
    {
        "location_id": ["WH1", "WH2", "FBA-US", "FBA-DE", "ST1"],
        "location_type": ["warehouse", "warehouse", "fba", "fba", "store"],
        "country": ["CN", "CN", "US", "DE", "CN"],
        "sku": "A",
    }
)


def test_weights_split_by_channel_then_by_own_sales():
    mix = pl.DataFrame(
        {
            "sku": "A",
            "channel": ["tmall", "amazon", "marketplace_x"],
            "currency": ["CNY", "USD", "CNY"],
            "units": [30, 10, 0],
        }
    )
    own = pl.DataFrame({"location_id": ["WH1", "WH2", "ST1"], "sku": "A", "units": [30, 10, 99]})
    w = routing_weights(mix, own, CARRIERS, load_policy())
    got = {r["location_id"]: r["weight"] for r in w.to_dicts()}
    # Tmall 30/40 of the unlocated units to the CN warehouses, 3:1 by their own sales; Amazon
    # USD 10/40 to the US FBA node (no own sales there: the only candidate takes it all)
    assert got == pytest.approx({"WH1": 0.5625, "WH2": 0.1875, "FBA-US": 0.25})


def test_a_channel_without_route_stays_unrouted_and_candidates_split_equally():
    mix = pl.DataFrame(
        {"sku": "A", "channel": ["tmall", "other"], "currency": "CNY", "units": [10, 10]}
    )
    own = pl.DataFrame(schema={"location_id": pl.String, "sku": pl.String, "units": pl.Int64})
    got = routing_weights(mix, own, CARRIERS, load_policy())
    assert got.sort("location_id")["weight"].to_list() == pytest.approx([0.25, 0.25])


def test_route_forecast_adds_p50_and_variances():
    d = dt.date(2025, 1, 2)
    forecast = pl.DataFrame(
        {
            "location_id": ["WH1", "UNASSIGNED"],
            "sku": "A",
            "ds": d,
            "cutoff": dt.date(2025, 1, 1),
            "p10": [2 - Z_P90, 8 - 4 * Z_P90],  # sigma 1 and 4
            "p50": [2.0, 8.0],
            "p90": [2 + Z_P90, 8 + 4 * Z_P90],
        }
    )
    weights = pl.DataFrame(
        {"sku": ["A", "A"], "location_id": ["WH1", "FBA-US"], "weight": [0.5, 0.25]}
    )
    out = {r["location_id"]: r for r in route_forecast(forecast, weights).to_dicts()}
    assert set(out) == {"WH1", "FBA-US"}
    assert out["WH1"]["p50"] == pytest.approx(2 + 4)
    sigma = (out["WH1"]["p90"] - out["WH1"]["p10"]) / (2 * Z_P90)
    assert sigma == pytest.approx(math.sqrt(1 + 2**2))
    assert out["FBA-US"]["p50"] == pytest.approx(2.0)
