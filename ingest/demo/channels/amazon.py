"""Amazon Seller Central reports per marketplace: weekly "All Orders" TSV (no buyer PII),
MFN buyer data (relay e-mail, for merchant-fulfilled orders only), FBA customer returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..catalog import sku_codes
from ..defects import Defects
from ..demand import World
from ..util import DAY, money_expr, rng_for
from .common import cells, ident_frame, person_view

HEADER = [
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "url",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
]
HEADER_MFN = [
    "amazon-order-id",
    "purchase-date",
    "buyer-email",
    "buyer-name",
    "buyer-phone-number",
    "recipient-name",
    "ship-address-1",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "ship-phone-number",
]
HEADER_RET = [
    "return-date",
    "order-id",
    "sku",
    "asin",
    "fnsku",
    "product-name",
    "quantity",
    "fulfillment-center-id",
    "detailed-disposition",
    "reason",
    "status",
    "license-plate-number",
    "customer-comments",
]
MARKET = {
    "US": ("Amazon.com", "marketplace.amazon.com", "US"),
    "DE": ("Amazon.de", "marketplace.amazon.de", "DE"),
    "UK": ("Amazon.co.uk", "marketplace.amazon.co.uk", "GB"),
}
ORDER_STATUS = {
    "pending": "Pending",
    "paid": "Unshipped",  # payment authorised, not shipped yet (Pending = not authorised)
    "shipped": "Shipped",
    "completed": "Shipped",
    "cancelled": "Cancelled",
}
ITEM_STATUS = {
    "pending": "Unshipped",
    "paid": "Unshipped",
    "shipped": "Shipped",
    "completed": "Shipped",
    "cancelled": "Cancelled",
}
UTC = 8 * 3600


def _utc(e: pl.Expr) -> pl.Expr:
    return pl.from_epoch(e - UTC, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def write(w: World, landing: Path, defects: Defects) -> dict:
    rng = rng_for(w.seed, "amazon")
    T = w.cal.days
    sd = w.start_day
    P = w.persons
    o = w.orders.filter(pl.col("channel") == "amazon").sort(["ts", "order_idx"])
    n = len(o)
    pidx = o["person_idx"].to_numpy()
    pv = person_view(w, pidx, o["t"].to_numpy())
    p = np.maximum(pidx, 0)
    prov = dict(zip(w.cities["city_en"].to_list(), w.cities["province"].to_list(), strict=True))
    state = np.array([prov.get(c, "") for c in pv["home_city"].tolist()])
    o = o.with_columns(
        pl.Series("city", pv["home_city"]),
        pl.Series("state", state),
        pl.Series("zip", pv["zip"]),
        pl.Series("person_id", pv["person_id"]),
        pl.Series("pname", pv["full_name"]),
        pl.Series("addr", pv["address1"]),
        pl.Series("phone", pv["phone"]),
        pl.Series("relay", P["amazon_relay"].to_numpy()[p]),
        pl.Series("upd", o["ts"].to_numpy() + rng.integers(3600, 3 * DAY, size=n)),
    )
    o = o.with_columns(pl.min_horizontal("upd", pl.lit((sd + T) * DAY - 1)).alias("upd"))
    sm = sku_codes(w.products, w.seed).filter(pl.col("channel").str.starts_with("amazon_"))
    sm = sm.with_columns(pl.col("channel").str.slice(7).str.to_uppercase().alias("sub")).join(
        w.products.select("sku", "sku_idx", "name_en"), on="sku", how="left", maintain_order="left"
    )
    li = w.lines.join(
        o.select("order_idx", "sub"), on="order_idx", how="inner", maintain_order="left"
    ).join(
        sm.select("sub", "sku_idx", "channel_sku", "channel_item_id", "name_en"),
        on=["sub", "sku_idx"],
        how="left",
        maintain_order="left",
    )
    rows = (
        li.drop("sub")
        .join(o, on="order_idx", how="inner", maintain_order="left")
        .sort(["ts", "order_idx", "line_no"])
    )
    body = cells(
        rows,
        [
            "order_id",
            "order_id",
            _utc(pl.col("ts")),
            _utc(pl.col("upd")),
            pl.col("status").replace_strict(ORDER_STATUS, return_dtype=pl.Utf8),
            pl.when(pl.col("fulfillment") == "AFN")
            .then(pl.lit("Amazon"))
            .otherwise(pl.lit("Merchant")),
            pl.col("sub").replace_strict(
                {k: v[0] for k, v in MARKET.items()}, return_dtype=pl.Utf8
            ),
            pl.lit(None, pl.Utf8),
            pl.lit(None, pl.Utf8),
            pl.when(pl.col("fulfillment") == "AFN")
            .then(pl.lit("Expedited"))
            .otherwise(pl.lit("Standard")),
            "name_en",
            "channel_sku",
            "channel_item_id",
            pl.col("status").replace_strict(ITEM_STATUS, return_dtype=pl.Utf8),
            pl.col("quantity").cast(pl.Utf8),
            "currency",
            money_expr("gross_cents"),
            pl.lit("0.00"),
            pl.lit("0.00"),
            pl.lit("0.00"),
            pl.lit(None, pl.Utf8),
            pl.lit(None, pl.Utf8),
            money_expr("discount_cents"),
            pl.lit("0.00"),
            "city",
            "state",
            "zip",
            pl.col("sub").replace_strict(
                {k: v[2] for k, v in MARKET.items()}, return_dtype=pl.Utf8
            ),
            pl.when(pl.col("discount_cents") > 0)
            .then(pl.col("coupon"))
            .otherwise(pl.lit(None, pl.Utf8)),
            pl.lit("false"),
            pl.lit(None, pl.Utf8),
            pl.lit(None, pl.Utf8),
        ],
    )
    body.columns = HEADER
    files = nrows = 0
    rt = rows["t"].to_numpy()
    rsub = rows["sub"].to_numpy()
    dates = w.cal.dates
    for mk in sorted(MARKET):
        for k in range((T + 6) // 7):
            sel = np.nonzero((rsub == mk) & (rt >= 7 * k) & (rt < 7 * k + 7))[0]
            if len(sel) == 0:
                continue
            a, b = dates[7 * k].strftime("%Y%m%d"), dates[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
            path = landing / "amazon" / mk / "all_orders" / f"All_Orders_{mk}_{a}_{b}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                body[sel].write_csv(
                    separator="\t", line_terminator="\n", null_value="", quote_style="never"
                ),
                encoding="utf-8",
            )
            files += 1
            nrows += len(sel)
    # MFN buyer data: relay e-mail, name and phone, merchant-fulfilled orders only
    mfn = o.filter(pl.col("fulfillment") == "MFN")
    mb = cells(
        mfn,
        [
            "order_id",
            _utc(pl.col("ts")),
            pl.col("relay")
            + "@"
            + pl.col("sub").replace_strict(
                {k: v[1] for k, v in MARKET.items()}, return_dtype=pl.Utf8
            ),
            "pname",
            pl.lit(None, pl.Utf8),
            "pname",
            "addr",
            "city",
            "state",
            "zip",
            pl.col("sub").replace_strict(
                {k: v[2] for k, v in MARKET.items()}, return_dtype=pl.Utf8
            ),
            "phone",
        ],
    )
    mb.columns = HEADER_MFN
    id_parts = []
    mt = mfn["t"].to_numpy()
    msub = mfn["sub"].to_numpy()
    for mk in sorted(MARKET):
        for k in range((T + 6) // 7):
            sel = np.nonzero((msub == mk) & (mt >= 7 * k) & (mt < 7 * k + 7))[0]
            if len(sel) == 0:
                continue
            a, b = dates[7 * k].strftime("%Y%m%d"), dates[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
            rel = f"amazon/{mk}/mfn_buyers/MFN_Buyer_Info_{mk}_{a}_{b}.txt"
            path = landing / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                mb[sel].write_csv(
                    separator="\t", line_terminator="\n", null_value="", quote_style="never"
                ),
                encoding="utf-8",
            )
            files += 1
            nrows += len(sel)
            keys = mfn["order_id"].to_numpy()[sel]
            pid = mfn["person_id"].to_numpy()[sel]
            id_parts.append(
                ident_frame(
                    "amazon",
                    rel,
                    keys,
                    "amazon_relay_email",
                    mb["buyer-email"].to_numpy()[sel],
                    pid,
                )
            )
            id_parts.append(
                ident_frame(
                    "amazon", rel, keys, "phone", mb["ship-phone-number"].to_numpy()[sel], pid
                )
            )
    # FBA customer returns
    r = (
        w.returns.join(
            o.select("order_idx", "order_id", "sub", "location_id", "fulfillment"),
            on="order_idx",
            how="inner",
            maintain_order="left",
        )
        .join(
            li.select("order_idx", "line_no", "channel_sku", "channel_item_id", "name_en"),
            on=["order_idx", "line_no"],
            how="left",
            maintain_order="left",
        )
        .sort(["return_ts", "order_idx", "line_no"])
    )
    rb = cells(
        r,
        [
            _utc(pl.col("return_ts")),
            "order_id",
            "channel_sku",
            "channel_item_id",
            pl.format("X00{}", pl.col("channel_item_id").str.slice(2, 7)),
            "name_en",
            pl.col("return_qty").cast(pl.Utf8),
            pl.col("location_id").str.split("-").list.get(2),
            pl.lit("SELLABLE"),
            pl.lit("UNWANTED_ITEM"),
            pl.lit("Unit returned to inventory"),
            pl.format("LPN{}", pl.col("order_id").str.slice(4, 7)),
            pl.lit(None, pl.Utf8),
        ],
    )
    rb.columns = HEADER_RET
    rd = r["return_ts"].to_numpy() // DAY - sd
    rs = r["sub"].to_numpy()
    for mk in sorted(MARKET):
        for k in range((T + 6) // 7):
            sel = np.nonzero((rs == mk) & (rd >= 7 * k) & (rd < 7 * k + 7))[0]
            if len(sel) == 0:
                continue
            a, b = dates[7 * k].strftime("%Y%m%d"), dates[min(7 * k + 6, T - 1)].strftime("%Y%m%d")
            path = landing / "amazon" / mk / "returns" / f"FBA_Customer_Returns_{mk}_{a}_{b}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                rb[sel].write_csv(
                    separator="\t", line_terminator="\n", null_value="", quote_style="never"
                ),
                encoding="utf-8",
            )
            files += 1
            nrows += len(sel)
    return {
        "channel": "amazon",
        "files": files,
        "rows": nrows,
        "identifiers": pl.concat(id_parts) if id_parts else None,
    }
