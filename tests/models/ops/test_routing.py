"""Order routing rules (models/ops/routing.py) on a small hand-made network."""

import datetime as dt

import polars as pl
import pytest

from models.ops import routing as R

D = dt.date(2025, 3, 2)
NODES = pl.DataFrame(
    [
        ("WH-SH", "warehouse", "Shanghai", "CN", 31.376, 121.265),
        ("WH-GZ", "warehouse", "Guangzhou", "CN", 23.106, 113.459),
        ("ST-BJ-01", "store", "Beijing", "CN", 39.933, 116.454),
        ("ST-BJ-02", "store", "Beijing", "CN", 39.910, 116.374),
        ("FBA-US-ONT8", "fba", "Los Angeles", "US", 33.915, -117.233),
        ("FBA-DE-FRA7", "fba", "Munich", "DE", 49.533, 8.360),
    ],
    schema=["location_id", "location_type", "city", "country", "lat", "lon"],
    orient="row",
)
BUFFERS = {"same_city": R.Buffer(0.2, 1), "bopis": R.Buffer(0.2, 1)}


def _atp(rows) -> pl.DataFrame:
    return pl.DataFrame(
        [(D - dt.timedelta(days=1), loc, sku, q) for loc, sku, q in rows],
        schema=["position_date", "location_id", "sku", "available_to_promise"],
        orient="row",
    )


def _route(orders, lines, atp_rows, settings=None):
    orders = pl.DataFrame(orders).with_columns(
        pl.lit(D).alias("order_date"),
        pl.lit(dt.datetime(2025, 3, 2, 10)).alias("ordered_at"),
        pl.col("order_id").cast(pl.String),
    )
    for c in (
        "currency",
        "country",
        "actual_location_id",
        "delivery_mode",
        "pickup_location_id",
        "ship_city",
        "ship_province",
    ):
        if c not in orders.columns:
            orders = orders.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    if "actual_shipments" not in orders.columns:
        orders = orders.with_columns(pl.lit(1, dtype=pl.Int64).alias("actual_shipments"))
    orders = orders.with_columns(pl.lit("as_if_open").alias("routed_as"))
    lines = pl.DataFrame(lines, schema=["channel", "order_id", "sku", "quantity"], orient="row")
    return R.route_orders(
        orders, lines, NODES, _atp(atp_rows), settings or R.load_settings(), BUFFERS
    )


def test_nearest_node_with_stock_then_split_only_when_needed():
    routing, lines = _route(
        {"channel": ["jd", "jd", "jd"], "order_id": ["1", "2", "3"], "city": ["Beijing"] * 3,
         "country": ["CN"] * 3, "actual_location_id": ["WH-SH"] * 3},
        [("jd", "1", "A", 1), ("jd", "2", "A", 1), ("jd", "2", "B", 1), ("jd", "3", "B", 2)],
        # ST-BJ-01 holds 10 A (buffer 2), 0 B; WH-SH holds A and one B; WH-GZ one B
        [("ST-BJ-01", "A", 10), ("WH-SH", "A", 5), ("WH-SH", "B", 1), ("WH-GZ", "B", 1)],
    )  # fmt: skip
    r = {x["order_id"]: x for x in routing.iter_rows(named=True)}
    # order 1: the Beijing store (a few km) instead of Shanghai; the alternative is the next node covering it
    assert r["1"]["proposed_nodes"] == "ST-BJ-01" and not r["1"]["is_split"]
    assert r["1"]["km_saved"] > 1000 and r["1"]["alternative_node"] == "WH-SH"
    # order 2: only WH-SH covers A and B together: one shipment, not split, although a store is nearer
    assert r["2"]["proposed_nodes"] == "WH-SH" and "ST-BJ-01" in r["2"]["reason"]
    # order 3 needs 2 B: WH-SH's last B went to order 2, so nothing covers it; WH-GZ's one B
    # ships and one unit is left unrouted rather than proposed to a node without stock
    assert r["3"]["proposed_nodes"] == "WH-GZ" and r["3"]["units_unrouted"] == 1
    assert "unrouted" in r["3"]["reason"]
    assert (lines["quantity"] <= lines["available_before"]).all()


def test_split_over_two_nodes_when_no_single_one_covers():
    routing, lines = _route(
        {"channel": ["web"], "order_id": ["9"], "city": ["Shanghai"], "country": ["CN"]},
        [("web", "9", "A", 1), ("web", "9", "B", 1)],
        [("WH-SH", "A", 3), ("WH-GZ", "B", 3)],
    )
    row = routing.row(0, named=True)
    assert row["is_split"] and row["proposed_nodes"] == "WH-SH,WH-GZ" and row["shipments"] == 2
    assert "no single node covers" in row["reason"]
    assert sorted(lines["location_id"].to_list()) == ["WH-GZ", "WH-SH"]


def test_store_buffer_keeps_walk_in_stock():
    # the store has 2 A; its buffer max(ceil(0.2 × 2), 1) = 1 leaves 1: an order of 2 goes elsewhere
    routing, _ = _route(
        {"channel": ["web"], "order_id": ["1"], "city": ["Beijing"], "country": ["CN"]},
        [("web", "1", "A", 2)],
        [("ST-BJ-01", "A", 2), ("WH-SH", "A", 5)],
    )
    assert routing["proposed_nodes"].item() == "WH-SH"


def test_bopis_same_city_fba_and_cross_border():
    routing, _ = _route(
        {"channel": ["wechat", "wechat", "wechat", "amazon", "tmall", "tmall"],
         "order_id": ["b", "b2", "s", "a", "x", "u"],
         "city": ["Beijing", "Beijing", "北京", "Munich", "London", "Atlantis"],
         "country": ["CN", "CN", "CN", "DE", "GB", "CN"],
         "currency": ["CNY", "CNY", "CNY", "EUR", "CNY", "CNY"],
         "delivery_mode": ["bopis", "bopis", "same_city", None, None, None],
         "pickup_location_id": ["ST-BJ-02", "ST-BJ-02", None, None, None, None]},
        [("wechat", "b", "A", 1), ("wechat", "b2", "A", 5), ("wechat", "s", "A", 1),
         ("amazon", "a", "A", 1), ("tmall", "x", "A", 1), ("tmall", "u", "A", 1)],
        [("ST-BJ-02", "A", 5), ("ST-BJ-01", "A", 5), ("WH-SH", "A", 9), ("FBA-DE-FRA7", "A", 2),
         ("FBA-US-ONT8", "A", 9)],
    )  # fmt: skip
    r = {x["order_id"]: x for x in routing.iter_rows(named=True)}
    assert (r["b"]["mode"], r["b"]["proposed_nodes"]) == ("bopis", "ST-BJ-02")
    # the pickup store cannot give 5 and keep its buffer: delivered, and the reason says why
    assert r["b2"]["mode"] == "home" and "pickup store ST-BJ-02 cannot cover" in r["b2"]["reason"]
    # 西单 (ST-BJ-02) is nearer the centre of Beijing than 三里屯
    assert (r["s"]["mode"], r["s"]["proposed_nodes"]) == ("same_city", "ST-BJ-02")
    assert (r["a"]["mode"], r["a"]["proposed_nodes"]) == ("fba", "FBA-DE-FRA7")
    assert (r["x"]["mode"], r["x"]["proposed_nodes"]) == ("cross_border", "WH-SH")
    # unknown city: still routed (the warehouse with most stock, never a store), without a distance
    assert r["u"]["proposed_nodes"] == "WH-SH" and r["u"]["proposed_km"] is None
    assert "delivery city unknown" in r["u"]["reason"] and r["u"]["location_source"] is None


def test_summary_figures():
    routing, _ = _route(
        {"channel": ["jd", "web"], "order_id": ["1", "2"], "city": ["Beijing", "Shanghai"],
         "country": ["CN", "CN"], "actual_location_id": ["WH-SH", "WH-GZ"]},
        [("jd", "1", "A", 1), ("web", "2", "A", 1), ("web", "2", "B", 1)],
        [("ST-BJ-01", "A", 10), ("WH-SH", "A", 5), ("WH-GZ", "B", 3)],
    )  # fmt: skip
    s = R.summary(routing)
    assert s["orders_routed"] == 2 and s["split_rate"] == 0.5 and s["actual_split_rate"] == 0.0
    assert s["orders_compared"] == 2 and s["km_saved_total"] > 0


def test_haversine():
    assert R.haversine_km((31.23, 121.47), (39.90, 116.41)) == pytest.approx(1068, abs=5)


def test_bad_settings_and_rows_are_named(tmp_path):
    text = R.ROUTING_PATH.read_text(encoding="utf-8")
    bad = tmp_path / "ops_routing.yml"
    bad.write_text(text.replace("as_if_open_days: 14", "as_if_open_days: -1"), encoding="utf-8")
    with pytest.raises(R.RoutingError, match=r"ops_routing.yml: as_if_open_days: "):
        R.load_settings(bad)
    bad.write_text(text.replace("  上海: Shanghai", "  上海: Shanghay"), encoding="utf-8")
    with pytest.raises(R.RoutingError, match=r"city_aliases: .*Shanghay"):
        R.load_settings(bad)
    # 北京市 normalises like 北京: an alias of it to another city is a contradiction, named
    bad.write_text(
        text.replace("  北京: Beijing", "  北京: Beijing\n  北京市: Tianjin"), encoding="utf-8"
    )
    with pytest.raises(R.RoutingError, match=r"ops_routing.yml: city_aliases.北京市: .*'北京'"):
        R.load_settings(bad)
    bad.write_text(
        text.replace("  浙江: [30.27, 120.16]", "  浙江: [130.27, 120.16]"), encoding="utf-8"
    )
    with pytest.raises(R.RoutingError, match=r"ops_routing.yml: province_coordinates.浙江: "):
        R.load_settings(bad)
    with pytest.raises(R.RoutingError, match=r"order 7 has no order_date"):
        R.route_orders(
            pl.DataFrame({"channel": ["jd"], "order_id": ["7"], "order_date": [None]}, schema_overrides={"order_date": pl.Date}),
            pl.DataFrame(schema={"channel": pl.String, "order_id": pl.String, "sku": pl.String, "quantity": pl.Int64}),
            NODES, _atp([]), R.load_settings(),
        )  # fmt: skip


def test_names_compare_as_normalize_address_writes_them():
    s = R.load_settings()
    # the profile lists 杭州 once; 杭州市, a spaced Latin name and a lower-case one all find it
    for name in ("杭州", "杭州市", " Hangzhou ", "hangzhou"):
        assert s.city(name) == "Hangzhou", name
    assert s.city("上海市") == s.city("上海") == "Shanghai"
    assert s.city("Hong Kong") == s.city("香港") == "Hong Kong"
    assert s.city("Atlantis") is None and s.city(None) is None


def test_the_delivery_city_wins_then_the_province_then_the_customer_city():
    # the customer lives in Beijing; the orders go elsewhere (gift, office, second home)
    routing, _ = _route(
        {"channel": ["jd"] * 4, "order_id": ["c", "p", "f", "n"],
         "city": ["Beijing", "Beijing", "Beijing", None], "country": ["CN"] * 4,
         "ship_city": ["广州", None, None, "Atlantis"],
         "ship_province": ["广东", "浙江", "火星", None],
         "actual_location_id": ["WH-SH"] * 4},
        [("jd", o, "A", 1) for o in ("c", "p", "f", "n")],
        [("ST-BJ-01", "A", 10), ("WH-SH", "A", 10), ("WH-GZ", "A", 10)],
    )  # fmt: skip
    r = {x["order_id"]: x for x in routing.iter_rows(named=True)}
    # delivery city 广州 (as normalize_address writes it): Guangzhou, not the Beijing store
    assert (r["c"]["location_source"], r["c"]["delivery_city"]) == ("ship_city", "Guangzhou")
    assert r["c"]["proposed_nodes"] == "WH-GZ" and r["c"]["km_saved"] > 1000
    # only the province (浙江, at the point of its capital 杭州): Shanghai is nearest
    assert r["p"]["location_source"] == "ship_province" and r["p"]["delivery_city"] is None
    assert r["p"]["proposed_nodes"] == "WH-SH" and r["p"]["proposed_km"] < 200
    # unknown province: the customer's city as before (the Beijing store)
    assert (r["f"]["location_source"], r["f"]["proposed_nodes"]) == ("customer_city", "ST-BJ-01")
    # nothing known: routed without a distance, never to a node without stock
    assert r["n"]["location_source"] is None and r["n"]["proposed_km"] is None
    assert R.summary(routing)["orders_located"] == {
        "customer_city": 1,
        "ship_city": 1,
        "ship_province": 1,
        "unknown": 1,
    }


def test_an_overseas_warehouse_needs_the_cross_border_consent():
    """PIPL art. 39: when the cross-border node is abroad (an overseas warehouse), shipping from
    it sends the recipient's data out of the country. A buyer abroad with cross_border consent
    ships from it; one without ships from a domestic warehouse, and the reason says why. Amazon
    orders go to FBA abroad either way (the marketplace fulfils its own orders), and routing's
    check finds no proposal that sends data abroad without consent."""
    nodes = pl.concat(
        [
            NODES,
            pl.DataFrame(
                [("WH-LA", "warehouse", "Los Angeles", "US", 34.05, -118.24)],
                schema=NODES.columns,
                orient="row",
            ),
        ]
    )
    settings = R.load_settings().model_copy(update={"cross_border_node": "WH-LA"})
    orders = pl.DataFrame(
        {"channel": ["tmall", "tmall", "amazon"], "order_id": ["yes", "no", "a"],
         "city": ["Seattle", "Seattle", "Los Angeles"], "country": ["US", "US", "US"],
         "currency": ["CNY", "CNY", "USD"], "cross_border_consent": [True, False, False],
         "ship_city": [None, None, None], "ship_province": [None, None, None],
         "actual_location_id": [None, None, None], "actual_shipments": [1, 1, 1]},
        schema_overrides={"ship_city": pl.String, "ship_province": pl.String,
                          "actual_location_id": pl.String},
    ).with_columns(
        pl.lit(D).alias("order_date"), pl.lit(dt.datetime(2025, 3, 2, 10)).alias("ordered_at"),
        pl.lit("as_if_open").alias("routed_as"),
    )  # fmt: skip
    lines = pl.DataFrame(
        [("tmall", "yes", "A", 1), ("tmall", "no", "A", 1), ("amazon", "a", "A", 1)],
        schema=["channel", "order_id", "sku", "quantity"],
        orient="row",
    )
    atp = _atp([("WH-LA", "A", 5), ("WH-SH", "A", 5), ("FBA-US-ONT8", "A", 5)])
    routing, _ = R.route_orders(orders, lines, nodes, atp, settings, BUFFERS)
    r = {x["order_id"]: x for x in routing.iter_rows(named=True)}
    assert (r["yes"]["proposed_nodes"], r["yes"]["sends_data_abroad"]) == ("WH-LA", True)
    assert (r["no"]["proposed_nodes"], r["no"]["sends_data_abroad"]) == ("WH-SH", False)
    assert "no cross_border consent" in r["no"]["reason"] and "WH-LA (US)" in r["no"]["reason"]
    assert (r["a"]["proposed_nodes"], r["a"]["sends_data_abroad"]) == ("FBA-US-ONT8", False)
    assert R.abroad_without_consent(routing).is_empty()
    # the check's rule fails on a proposal that would send data abroad without consent
    leaked = routing.with_columns(
        pl.when(pl.col("order_id") == "no").then(True).otherwise(pl.col("sends_data_abroad"))
        .alias("sends_data_abroad")
    )  # fmt: skip
    assert R.abroad_without_consent(leaked)["order_id"].to_list() == ["no"]
