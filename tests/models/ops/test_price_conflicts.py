"""Price conflicts: the ladder, MAP and the approved promotions, on hand-made prices."""

import datetime as dt

import polars as pl

from models.ops.price import attach_price_channel, conflict_episodes, price_conflicts
from models.ops.price_policy import PricePolicy

POLICY = PricePolicy.model_validate(
    {
        "ladder": [
            {"rule": "mkt", "channels": ["jd", "tmall"], "reference": "web", "max_below_pct": 10},
            {"rule": "store", "channels": ["pos"], "reference": "list_price", "max_below_pct": 0},
        ],
        "map": {"default": {"min_share_of_list": 0.5}, "skus": {"B": {"min_price": 80, "currency": "CNY"}}},
        "promotions": [
            {"name": "D11", "every_year": {"from": "11-10", "to": "11-11"},
             "channels": ["jd"], "max_below_pct": 30},
            {"name": "B launch", "from": "2025-01-01", "to": "2025-01-31", "channels": ["tmall"],
             "skus": ["B"]},
        ],
    }
)  # fmt: skip
PRODUCTS = pl.DataFrame({"sku": ["A", "B"], "category": ["skincare", "makeup"]})
D = dt.date


def _prices(rows):
    return pl.DataFrame(
        rows,
        schema=["price_date", "channel", "sku", "price", "list_price", "currency", "promo_id"],
        orient="row",
    )


def test_ladder_map_and_store_rules():
    prices = _prices([
        (D(2025, 2, 1), "web", "A", 100.0, 100.0, "CNY", None),
        (D(2025, 2, 1), "jd", "A", 90.0, 100.0, "CNY", None),     # exactly 10 % below: allowed
        (D(2025, 2, 2), "web", "A", 100.0, 100.0, "CNY", None),
        (D(2025, 2, 2), "jd", "A", 89.0, 100.0, "CNY", None),     # 11 % below: conflict
        (D(2025, 2, 2), "pos", "A", 99.0, 100.0, "CNY", None),    # store below list
        (D(2025, 2, 2), "tmall", "A", 45.0, 100.0, "CNY", None),  # ladder and MAP
        (D(2025, 2, 2), "amazon_us", "A", 10.0, 14.0, "USD", None),  # no web price in USD
    ])  # fmt: skip
    c = price_conflicts(prices, PRODUCTS, POLICY)
    got = {(r["channel"], r["rule"]): r for r in c.iter_rows(named=True)}
    assert set(got) == {("jd", "mkt"), ("pos", "store"), ("tmall", "mkt"), ("tmall", "map")}
    jd = got[("jd", "mkt")]
    assert jd["price_date"] == D(2025, 2, 2)
    assert jd["reference_price"] == 100.0 and jd["floor_price"] == 90.0
    assert jd["gap_abs"] == -11.0 and jd["gap_pct"] == -11.0
    assert jd["is_new"] and not jd["approved"] and jd["promotion"] is None
    assert got[("tmall", "map")]["reference_price"] == 50.0
    assert got[("tmall", "map")]["gap_pct"] == -10.0
    assert got[("pos", "store")]["gap_abs"] == -1.0


def test_promotions_approve_by_day_channel_product_and_depth():
    prices = _prices([
        (D(2024, 11, 10), "web", "A", 100.0, 100.0, "CNY", None),
        (D(2024, 11, 10), "jd", "A", 75.0, 100.0, "CNY", "event"),  # 25 %: within D11 depth
        (D(2024, 11, 11), "web", "A", 100.0, 100.0, "CNY", None),
        (D(2024, 11, 11), "jd", "A", 60.0, 100.0, "CNY", "event"),  # 40 %: deeper than D11
        (D(2024, 11, 12), "web", "A", 100.0, 100.0, "CNY", None),
        (D(2024, 11, 12), "jd", "A", 75.0, 100.0, "CNY", None),     # day after D11
        (D(2025, 1, 5), "web", "A", 100.0, 100.0, "CNY", None),
        (D(2025, 1, 5), "web", "B", 100.0, 100.0, "CNY", None),
        (D(2025, 1, 5), "tmall", "A", 70.0, 100.0, "CNY", None),    # launch covers B only
        (D(2025, 1, 5), "tmall", "B", 70.0, 100.0, "CNY", None),    # B: ladder + MAP 80
    ])  # fmt: skip
    c = price_conflicts(prices, PRODUCTS, POLICY)
    flag = {(r["price_date"], r["channel"], r["sku"], r["rule"]): r["promotion"]
            for r in c.iter_rows(named=True)}  # fmt: skip
    assert flag == {
        (D(2024, 11, 10), "jd", "A", "mkt"): "D11",
        (D(2024, 11, 11), "jd", "A", "mkt"): None,
        (D(2024, 11, 12), "jd", "A", "mkt"): None,
        (D(2025, 1, 5), "tmall", "A", "mkt"): None,
        (D(2025, 1, 5), "tmall", "B", "mkt"): "B launch",
        (D(2025, 1, 5), "tmall", "B", "map"): "B launch",
    }
    assert c.filter(pl.col("promotion").is_null())["is_new"].all()
    assert c.filter(pl.col("promotion").is_not_null())["approved"].all()
    assert c.filter(pl.col("price_date") == D(2024, 11, 10))["feed_promo"].to_list() == ["event"]


def test_no_conflicts_gives_an_empty_typed_frame():
    prices = _prices([(D(2025, 2, 1), "web", "A", 100.0, 100.0, "CNY", None)])
    c = price_conflicts(prices, PRODUCTS, POLICY)
    assert c.is_empty() and c.schema["gap_pct"] == pl.Float64
    assert conflict_episodes(c).is_empty()


def test_episodes_join_consecutive_days():
    rows = []
    for day in (1, 2, 3, 7):
        rows += [(D(2025, 2, day), "web", "A", 100.0, 100.0, "CNY", None),
                 (D(2025, 2, day), "jd", "A", 80.0 - day, 100.0, "CNY", None)]  # fmt: skip
    ep = conflict_episodes(price_conflicts(_prices(rows), PRODUCTS, POLICY))
    # deepest first
    assert ep.select("date_from", "date_to", "days", "worst_gap_pct").rows() == [
        (D(2025, 2, 7), D(2025, 2, 7), 1, -27.0),
        (D(2025, 2, 1), D(2025, 2, 3), 3, -23.0),
    ]


def test_sales_get_the_price_channel_of_their_family_and_currency():
    feed = pl.DataFrame(
        {"channel": ["web", "amazon_us", "amazon_de", "amazon_uk"],
         "currency": ["CNY", "USD", "EUR", "GBP"]}
    )  # fmt: skip
    lines = pl.DataFrame(
        {"channel": ["web", "amazon", "amazon", "amazon", "tmall"],
         "currency": ["CNY", "USD", "EUR", "JPY", "CNY"]}
    )  # fmt: skip
    out = attach_price_channel(lines, feed)
    assert out["price_channel"].to_list() == ["web", "amazon_us", "amazon_de", None, None]
