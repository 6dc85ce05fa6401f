"""Channel P&L arithmetic (models/ops/pnl.py) on hand-made lines with hand-computed answers."""

import datetime as dt

import polars as pl
import pytest

from models.ops import pnl as P

D = dt.date(2025, 1, 10)


def _fees() -> pl.DataFrame:
    rows = [
        ("tmall", "commission", None, 0.04, 0.0, "CNY"),
        ("tmall", "points", None, 0.005, 0.0, "CNY"),
        ("tmall", "payment", None, 0.006, 0.0, "CNY"),
        ("douyin", "platform", None, 0.05, 0.0, "CNY"),
        ("douyin", "payment", None, 0.006, 0.0, "CNY"),
        ("douyin", "host_commission", "H1", 0.30, 0.0, "CNY"),
        ("douyin", "live_service", "H1", 0.05, 0.0, "CNY"),
        ("douyin", "host_commission", "H2", 0.20, 0.0, "CNY"),
        ("amazon", "referral", None, 0.15, 0.0, "USD"),
        ("amazon", "fba_fulfillment", None, 0.0, 3.52, "USD"),
        # expired: must not apply
        ("tmall", "commission", None, 0.50, 0.0, "CNY"),
    ]
    df = pl.DataFrame(
        rows,
        schema=["sales_channel", "fee_type", "host_id", "rate", "fixed_fee", "currency"],
        orient="row",
    )
    return df.with_columns(
        pl.Series("valid_from", [dt.date(2024, 1, 1)] * 10 + [dt.date(2023, 1, 1)]),
        pl.Series("valid_to", [None] * 10 + [dt.date(2024, 1, 1)], dtype=pl.Date),
    )


def _lines() -> pl.DataFrame:
    cols = ["channel", "order_id", "line_id", "currency", "fx_rate_to_cny", "location_type",
            "host_id", "sku", "quantity", "line_total", "net_amount_cny", "returned_units",
            "returned_amount_cny"]  # fmt: skip
    rows = [
        ("tmall", "T1", "1", "CNY", 1.0, None, None, "S1", 2, 200.0, 180.0, 1, 90.0),
        ("douyin", "D1", "1", "CNY", 1.0, "warehouse", "H1", "S2", 1, 100.0, 50.0, 0, 0.0),
        ("amazon", "A1", "1", "USD", 7.2, None, None, "S1", 1, 20.0, 144.0, 0, 0.0),
        ("pos", "P1", "1", "CNY", 1.0, "store", None, "S9", 1, 50.0, 50.0, 0, 0.0),
    ]
    return pl.DataFrame(rows, schema=cols, orient="row").with_columns(pl.lit(D).alias("order_date"))


def _products() -> pl.DataFrame:
    return pl.DataFrame({"sku": ["S1", "S2"], "unit_cost": [20.0, 10.0]})


def _settings() -> P.PnlSettings:
    s = P.load_settings()
    return s.model_copy(update={"payment_rate_default": {"amazon": 0.0, "pos": 0.0038}})


def test_line_pnl_components_by_hand():
    out = P.line_pnl(_lines(), _fees(), _products(), _settings())
    got = {r["channel"]: r for r in out.iter_rows(named=True)}
    t = got["tmall"]
    # gross 200, discount 20, refund 90; commission 4 % + points 0.5 % of net 90; payment
    # 0.6 %; fulfilment 6 per order + 1.2 × 2 units + 8 per returned unit; COGS 20 × (2 - 0.8)
    assert (t["gross_sales_c"], t["discounts_c"], t["returns_c"], t["net_sales_c"]) == (
        20000,
        2000,
        9000,
        9000,
    )
    assert (t["commission_c"], t["payment_c"], t["fulfilment_c"], t["cogs_c"]) == (
        405,
        54,
        1640,
        2400,
    )
    assert t["contribution_c"] == 9000 - 2400 - 405 - 54 - 1640 == 4501
    d = got["douyin"]
    # host H1: 30 % commission + 5 % live service on net 50; H2's rate does not apply
    assert (d["platform_fee_c"], d["host_commission_c"], d["payment_c"]) == (250, 1750, 30)
    assert d["contribution_c"] == 5000 - 1000 - 250 - 1750 - 30 - 720 == 1250
    a = got["amazon"]
    # USD at 7.2: referral 15 % of 144 CNY; FBA 3.52 USD per unit (Amazon ships from FBA)
    assert (a["gross_sales_c"], a["commission_c"], a["fulfilment_c"], a["payment_c"]) == (
        14400,
        2160,
        2534,
        0,
    )
    assert a["contribution_c"] == 14400 - 2000 - 2160 - 2534 == 7706
    p = got["pos"]
    # POS: no fulfilment; SKU S9 has no ERP cost, counted as 0 and flagged
    assert (p["fulfilment_c"], p["cogs_c"], p["cost_missing"]) == (0, 0, True)
    assert p["payment_c"] == 19  # default rate 0.38 % of 50


def test_aggregates_add_up_and_violations_are_found():
    lines = P.line_pnl(_lines(), _fees(), _products(), _settings())
    by_channel = P.channel_pnl(lines)
    assert P.component_violations(by_channel).is_empty()
    assert by_channel.filter(pl.col("channel") == "tmall")["contribution"].item() == pytest.approx(
        45.01
    )
    broken = by_channel.with_columns(
        pl.when(pl.col("channel") == "jd").then(0).otherwise(pl.col("cogs")).alias("cogs"),
        pl.when(pl.col("channel") == "tmall")
        .then(pl.col("net_sales") + 0.02)
        .otherwise(pl.col("net_sales"))
        .alias("net_sales"),
    )
    assert P.component_violations(broken)["channel"].to_list() == ["tmall"]


def test_live_sessions_ranked_by_contribution_not_gmv():
    lines = pl.concat(
        [
            # session H1 day 1: big GMV, deep discount, most of it returned
            pl.DataFrame({"channel": ["douyin"], "order_id": ["a"], "line_id": ["1"], "currency": ["CNY"],
                          "fx_rate_to_cny": [1.0], "location_type": ["warehouse"], "host_id": ["H1"],
                          "sku": ["S1"], "quantity": [10], "line_total": [1000.0], "net_amount_cny": [450.0],
                          "returned_units": [7], "returned_amount_cny": [315.0]}),
            # session H2 day 1: smaller GMV, kept
            pl.DataFrame({"channel": ["douyin"], "order_id": ["b"], "line_id": ["1"], "currency": ["CNY"],
                          "fx_rate_to_cny": [1.0], "location_type": ["warehouse"], "host_id": ["H2"],
                          "sku": ["S2"], "quantity": [3], "line_total": [300.0], "net_amount_cny": [290.0],
                          "returned_units": [0], "returned_amount_cny": [0.0]}),
        ]
    ).with_columns(pl.lit(D).alias("order_date"))  # fmt: skip
    pnl = P.line_pnl(lines, _fees(), _products(), _settings())
    hosts = pl.DataFrame({"host_id": ["H1", "H2"], "host_name": ["one", "two"]})
    s = P.live_session_pnl(pnl, hosts)
    h1 = s.filter(pl.col("host_id") == "H1").row(0, named=True)
    assert h1["gmv_rank"] == 1 and h1["contribution_rank"] == 2 and h1["contribution"] < 0
    assert h1["return_rate"] == 0.7 and h1["host_name"] == "one"


def test_unplaced_fee_type_and_missing_payment_rate_are_errors():
    fees = pl.concat([_fees(), _fees().head(1).with_columns(pl.lit("slotting").alias("fee_type"))])
    with pytest.raises(P.PnlError, match=r"ops_pnl.yml: fee_components: .*slotting"):
        P.line_pnl(_lines(), fees, _products(), _settings())
    s = _settings().model_copy(update={"payment_rate_default": {"amazon": 0.0}})
    with pytest.raises(P.PnlError, match=r"payment_rate_default: channels \['pos'\]"):
        P.line_pnl(_lines(), _fees(), _products(), s)


def test_bad_settings_file_names_file_and_field(tmp_path):
    text = P.PNL_PATH.read_text(encoding="utf-8").replace(
        "returned_units_restocked: 0.8", "returned_units_restocked: 1.5"
    )
    bad = tmp_path / "ops_pnl.yml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(P.PnlError, match=r"ops_pnl.yml: returned_units_restocked: "):
        P.load_settings(bad)
    bad.write_text(text.replace("platform: platform_fee", "platform: marketing"), encoding="utf-8")
    with pytest.raises(P.PnlError, match=r"fee_components.platform"):
        P.load_settings(bad)


def test_refund_without_amount_and_return_receipts():
    """Amazon's FBA returns give no amount: valued at the price paid. A POS return receipt
    (no order line) is a row of its own: refund, restocked units back out of COGS, no order."""
    lines = pl.concat(
        [
            _lines().filter(pl.col("channel") == "amazon").with_columns(
                pl.lit(1, dtype=pl.Int64).alias("returned_units"), pl.lit(0.0).alias("returned_amount_cny")
            ),
            _lines().filter(pl.col("channel") == "pos").with_columns(
                pl.lit("R1").alias("order_id"), pl.lit("S1").alias("sku"), pl.lit(0, dtype=pl.Int64).alias("quantity"),
                pl.lit(0.0).alias("line_total"), pl.lit(0.0).alias("net_amount_cny"),
                pl.lit(2, dtype=pl.Int64).alias("returned_units"), pl.lit(96.0).alias("returned_amount_cny"),
            ),
        ]
    )  # fmt: skip
    out = {
        r["channel"]: r
        for r in P.line_pnl(lines, _fees(), _products(), _settings()).iter_rows(named=True)
    }
    a = out["amazon"]
    assert a["refund_estimated"] and a["returns_c"] == 14400 and a["net_sales_c"] == 0
    p = out["pos"]
    assert (p["returns_c"], p["net_sales_c"], p["cogs_c"]) == (9600, -9600, -3200)  # 20 × 2 × 0.8
    agg = P.channel_pnl(P.line_pnl(lines, _fees(), _products(), _settings()))
    assert agg.filter(pl.col("channel") == "pos")["orders"].item() == 0
    assert agg["refunds_estimated"].sum() == 1
