"""ERP master data: products, SKU map, locations, inventory, prices, fees, footfall, weather."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from ..catalog import PRICE_CHANNELS, fees_frame, sku_codes
from ..demand import World
from ..util import money_expr


def _csv(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = df.with_columns(pl.col(pl.Utf8).replace("", None))
    df.write_csv(path, line_terminator="\n", null_value="")


def write(w: World, landing: Path) -> dict:
    d = landing / "erp"
    stats = {}
    p = w.products
    prod = p.select(
        "sku",
        "name_zh",
        "name_en",
        "category",
        "brand_line",
        money_expr("unit_cost_cents").alias("unit_cost"),
        money_expr("list_price_cents").alias("list_price"),
        pl.lit("CNY").alias("currency"),
        pl.col("launch_date").cast(pl.Date),
        pl.col("discontinued_date").cast(pl.Date),
        "repurchase_cycle_days",
    )
    _csv(prod, d / "products.csv")
    stats["products.csv"] = len(prod)
    loc = w.locations.select(
        "location_id",
        "location_type",
        "name",
        "city",
        "country",
        pl.col("lat").round(4),
        pl.col("lon").round(4),
        "timezone",
        pl.col("opened_date").cast(pl.Date),
    )
    _csv(loc, d / "locations.csv")
    stats["locations.csv"] = len(loc)
    sm = sku_codes(w.products, w.seed)
    _csv(sm, d / "sku_map.csv")
    stats["sku_map.csv"] = len(sm)
    _csv(fees_frame(w.cal.start), d / "channel_fees.csv")

    # daily inventory snapshot (end of day) per location × SKU: physical stock on hand (what
    # is on the shelf: the simulation's stock after the day's sales plus the units of orders
    # placed and not yet shipped, which are still there), and in transit (on purchase
    # orders placed and not yet received; received stock is on hand that day)
    dm = w.demand
    lids = w.locations["location_id"].to_numpy()
    skus = w.products["sku"].to_numpy()
    inv = pl.DataFrame(
        {
            "t": dm["t"],
            "location_id": lids[dm["loc_idx"].to_numpy()],
            "sku": skus[dm["sku_idx"].to_numpy()],
            "on_hand": dm["on_hand_start"] - dm["sold_units"] + dm["unshipped_end"],
            "in_transit": dm["in_transit_end"],
        }
    )
    iso = w.cal.iso
    n_inv = 0
    for (t,), g in sorted(inv.partition_by(["t"], as_dict=True, maintain_order=True).items()):
        out = g.select(
            pl.lit(iso[t]).alias("snapshot_date"),
            "location_id",
            "sku",
            pl.col("on_hand").alias("on_hand_qty"),
            pl.col("in_transit").alias("in_transit_qty"),
        )
        _csv(out, d / "inventory" / f"inventory_{w.cal.ymd[t]}.csv")
        n_inv += 1
    stats["inventory files"] = n_inv
    stats["inventory rows"] = len(inv)

    # daily price per SKU per channel, one file per month
    T, ns = w.cal.days, len(skus)
    parts = []
    for ch in PRICE_CHANNELS:
        pm = w.prices[ch]
        carried = w.assort[ch]
        tt, ss = np.nonzero(np.broadcast_to(carried[None, :], (T, ns)))
        parts.append(
            pl.DataFrame(
                {
                    "t": tt.astype(np.int64),
                    "channel": ch,
                    "sku": skus[ss],
                    "currency": pm["currency"],
                    "list_cents": pm["list"][tt, ss],
                    "price_cents": pm["price"][tt, ss],
                    "promo": pm["promo"][tt, ss],
                }
            )
        )
    pr = pl.concat(parts).sort(["t", "channel", "sku"])
    days = pl.DataFrame(
        {"t": np.arange(T, dtype=np.int64), "date": iso, "month": [x[:6] for x in w.cal.ymd]}
    )
    pr = pr.join(days, on="t", how="left", maintain_order="left")
    promo_name = {0: "", 1: "event", 2: "sku_promo", 3: "event+sku_promo"}
    pr = pr.with_columns(
        pl.col("promo").replace_strict(promo_name, return_dtype=pl.Utf8).alias("promo_type")
    )
    n_price = 0
    for (m,), g in sorted(pr.partition_by(["month"], as_dict=True, maintain_order=True).items()):
        out = g.select(
            "date",
            "channel",
            "sku",
            "currency",
            money_expr("list_cents").alias("list_price"),
            money_expr("price_cents").alias("price"),
            "promo_type",
        )
        _csv(out, d / "prices" / f"prices_{m}.csv")
        n_price += 1
    stats["price files"] = n_price
    stats["price rows"] = len(pr)

    # store footfall counters
    stores = w.locations.filter(pl.col("location_type") == "store")["location_id"].to_list()
    tt, jj = np.nonzero(w.store_open)
    ff = pl.DataFrame(
        {
            "date": np.array(iso)[tt],
            "location_id": np.array(stores)[jj],
            "visitors": w.footfall[tt, jj],
        }
    ).sort(["date", "location_id"])
    _csv(ff, d / "store_footfall.csv")
    stats["store_footfall.csv"] = len(ff)
    wx = w.weather.select(
        pl.col("date").cast(pl.Date), "city", "temp_max_c", "temp_min_c", "precip_mm", "condition"
    )
    _csv(wx, d / "weather_daily.csv")
    stats["weather_daily.csv"] = len(wx)
    files = sum(1 for _ in d.rglob("*") if _.is_file())
    rows = sum(v for k, v in stats.items() if not k.endswith("files"))
    return {"files": files, "rows": rows, "detail": stats}
