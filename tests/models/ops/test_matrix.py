"""The channel–product matrix on a hand-made assortment."""

import datetime as dt

import polars as pl

from models.ops.matrix import channel_product_matrix
from models.ops.price_policy import PricePolicy

POLICY = PricePolicy.model_validate({"channel_groups": {"mkt": ["tmall", "jd", "douyin"]}})


def test_listing_shares_cover_and_flags():
    products = pl.DataFrame({"sku": ["A", "B", "C"], "category": ["x", "x", "y"]})
    listings = pl.DataFrame(
        {"channel": ["tmall", "jd", "web", "tmall", "douyin"], "sku": ["A", "A", "A", "B", "C"]}
    )
    d = dt.date(2025, 3, 31)
    sales = pl.DataFrame(
        {
            "date": [d, d - dt.timedelta(days=40), d, d],
            "channel": ["tmall", "tmall", "jd", "tmall"],
            "sku": ["A", "A", "A", "B"],
            "units": [28, 10, 14, 0],
        }
    )
    atp = pl.DataFrame(
        {"channel": ["tmall", "jd"], "sku": ["A", "A"], "available_to_promise": [56, 0]}
    )
    m = channel_product_matrix(products, listings, sales, atp, POLICY, window_days=28)
    row = {(r["sku"], r["channel"]): r for r in m.iter_rows(named=True)}
    assert len(m) == 3 * 4  # every SKU × every channel (douyin, jd, tmall, web)
    a_tm = row[("A", "tmall")]
    assert a_tm["listed"] and a_tm["units_total"] == 38 and a_tm["units_window"] == 28
    assert a_tm["share_of_sku_units"] == round(38 / 52, 4)
    assert a_tm["sell_through"] == round(28 / 84, 4) and a_tm["days_of_cover"] == 56.0
    assert row[("A", "jd")]["days_of_cover"] == 0.0
    assert row[("A", "web")]["listed_never_sold"]
    assert row[("B", "tmall")]["channel_exclusive"] and row[("B", "tmall")]["listed_never_sold"]
    assert row[("C", "douyin")]["channel_exclusive"]
    assert row[("A", "douyin")]["absent_but_sells_on_similar"]
    assert row[("A", "douyin")]["similar_channels_selling"] == "jd,tmall"
    assert not row[("B", "jd")]["absent_but_sells_on_similar"]  # B sold 0 on tmall
    assert not row[("A", "web")]["absent_but_sells_on_similar"]  # listed
    assert row[("A", "web")]["sell_through"] is None  # no ATP for the channel
