"""Stock, channel and durable rules, and diversity, on hand-made rows."""

from __future__ import annotations

import polars as pl

from models.recs.serving import diversify, eligible

CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["online", "store", "jd", "app"],
        "channel": ["tmall", "pos", "jd", "app"],
        "store": [None, "ST-A", None, None],
        "city": [None, "Shanghai", None, None],
    }
)
AVAILABILITY = pl.DataFrame(
    {
        "channel": ["tmall", "tmall", "pos", "pos", "pos", "jd", "jd"],
        "location_id": [None, None, "ST-A", "ST-B", "ST-C", None, None],
        "city": [None, None, "Shanghai", "Shanghai", "Beijing", None, None],
        "sku": ["in_stock", "sold_out", "at_my_store", "in_my_city", "elsewhere", "excl", "x"],
        "atp": [5.0, 0.0, 2.0, 1.0, 9.0, 3.0, 1.0],
    }
)
ASSORTMENT = pl.DataFrame(
    {
        "sku": [
            "in_stock",
            "sold_out",
            "excl",
            "excl",
            "x",
            "x",
            "at_my_store",
            "in_my_city",
            "elsewhere",
            "durable",
        ],
        "channel": ["tmall", "tmall", "tmall", "pos", "jd", "tmall", "pos", "pos", "pos", "tmall"],
    }
)
NO_DURABLES = pl.DataFrame(schema={"customer_id": pl.String, "sku": pl.String})


def _removed(scored, durables=NO_DURABLES):
    out = eligible(scored, CUSTOMERS, AVAILABILITY, ASSORTMENT, durables)
    return dict(zip(zip(out["customer_id"], out["sku"], strict=True), out["removed"], strict=True))


def test_online_customers_see_only_skus_with_atp_on_their_channel():
    r = _removed(
        pl.DataFrame({"customer_id": ["online"] * 3, "sku": ["in_stock", "sold_out", "unknown"]})
    )
    assert r[("online", "in_stock")] is None
    assert "no stock" in r[("online", "sold_out")]
    assert r[("online", "unknown")] is not None


def test_a_channel_without_stock_figures_takes_any_online_channels_atp():
    """The app sends events only: its browsers see SKUs with ATP on some online channel (not
    a store's stock, not a SKU sold out everywhere)."""
    r = _removed(
        pl.DataFrame({"customer_id": ["app"] * 3, "sku": ["in_stock", "sold_out", "elsewhere"]})
    )
    assert r[("app", "in_stock")] is None
    assert "no stock" in r[("app", "sold_out")]
    assert "no stock" in r[("app", "elsewhere")]  # only a store has it


def test_store_customers_see_stock_at_their_store_or_in_their_city():
    r = _removed(
        pl.DataFrame(
            {"customer_id": ["store"] * 3, "sku": ["at_my_store", "in_my_city", "elsewhere"]}
        )
    )
    assert r[("store", "at_my_store")] is None
    assert r[("store", "in_my_city")] is None
    assert "no stock" in r[("store", "elsewhere")]


def test_channel_exclusive_skus_only_on_their_channel():
    # 'excl' is listed on tmall and pos, not on jd, though jd reports stock for it
    r = _removed(pl.DataFrame({"customer_id": ["jd", "jd"], "sku": ["excl", "x"]}))
    assert r[("jd", "excl")] == "not listed on the customer's channel"
    assert r[("jd", "x")] is None


def test_a_durable_bought_recently_is_not_shown_again():
    durables = pl.DataFrame({"customer_id": ["online"], "sku": ["in_stock"]})
    r = _removed(pl.DataFrame({"customer_id": ["online"], "sku": ["in_stock"]}), durables)
    assert r[("online", "in_stock")] == "durable item bought recently"


def test_diversity_caps_each_category():
    ranked = pl.DataFrame(
        {
            "customer_id": ["c"] * 8,
            "sku": [f"s{k}" for k in range(8)],
            "score": [8.0, 7, 6, 5, 4, 3, 2, 1],
        }
    )
    cats = pl.DataFrame({"sku": [f"s{k}" for k in range(8)], "category": ["a"] * 6 + ["b", "c"]})
    top = diversify(ranked, cats, n=5, max_per_category=2)
    assert top["sku"].to_list() == ["s0", "s1", "s6", "s7"]
    assert top["rank"].to_list() == [1, 2, 3, 4]


def test_any_models_lists_go_through_the_same_rules_with_the_popular_backup():
    """rules_on_lists: what the rules remove is replaced from the backup, in list order."""
    from models.recs.warehouse import rules_on_lists

    lists = pl.DataFrame(
        {"user": ["online"] * 3, "item": ["sold_out", "in_stock", "unknown"], "rank": [1, 2, 3]}
    )
    online = CUSTOMERS.filter(pl.col("customer_id") == "online")
    cats = pl.DataFrame({"sku": ["in_stock", "x", "sold_out"], "category": ["a", "a", "a"]})
    got = rules_on_lists(
        lists, ["sold_out", "x", "in_stock"], online, AVAILABILITY, ASSORTMENT, NO_DURABLES, cats
    )
    # sold_out: no stock; unknown: not listed; x: listed on tmall but no tmall ATP
    assert got.to_dicts() == [{"user": "online", "item": "in_stock", "rank": 1}]
    got = rules_on_lists(
        lists.head(0), ["in_stock"], online, AVAILABILITY, ASSORTMENT, NO_DURABLES, cats
    )
    assert got["item"].to_list() == ["in_stock"]  # an empty list is served from the backup
