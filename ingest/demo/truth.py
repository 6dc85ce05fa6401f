"""Truth tables (Parquet) for tests and evaluation; never read by the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from .catalog import sku_codes
from .demand import World
from .orders import ship_day_of
from .util import DAY, cents_to_decimal, write_parquet

CHANNEL_SKU_SOURCE = {
    "tmall": "tmall",
    "jd": "jd",
    "douyin": "douyin",
    "wechat": "wechat",
    "web": "web",
    "pos": "pos",
}


def channel_sku_frame(w: World) -> pl.DataFrame:
    """(order_idx, line_no, channel_sku) as the channel file shows it."""
    sm = sku_codes(w.products, w.seed).join(
        w.products.select("sku", "sku_idx"), on="sku", how="left", maintain_order="left"
    )
    li = w.lines.select("order_idx", "line_no", "sku_idx").join(
        w.orders.select("order_idx", "channel", "price_channel"),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    li = li.with_columns(
        pl.when(pl.col("channel") == "amazon")
        .then(pl.col("price_channel"))
        .otherwise(pl.col("channel"))
        .alias("map_channel")
    )
    li = li.join(
        sm.select(pl.col("channel").alias("map_channel"), "sku_idx", "channel_sku"),
        on=["map_channel", "sku_idx"],
        how="left",
        maintain_order="left",
    )
    ov = getattr(w, "channel_sku_override", None)
    if ov:
        odf = pl.DataFrame(
            {
                "order_idx": [k[0] for k in ov],
                "line_no": [k[1] for k in ov],
                "ov": list(ov.values()),
            },
            schema={"order_idx": pl.Int64, "line_no": pl.Int64, "ov": pl.Utf8},
        )
        li = (
            li.join(odf, on=["order_idx", "line_no"], how="left", maintain_order="left")
            .with_columns(pl.coalesce("ov", "channel_sku").alias("channel_sku"))
            .drop("ov")
        )
    return li.select("order_idx", "line_no", "channel_sku")


def sales_lines(w: World) -> pl.DataFrame:
    o = w.orders
    li = w.lines.join(
        o.select(
            "order_idx",
            "channel",
            "order_id",
            "location_id",
            "ts",
            "t",
            ship_day_of(o).alias("ship_day"),
            "status",
            "is_test",
            "is_brushing",
            "person_idx",
        ),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    li = li.join(
        channel_sku_frame(w), on=["order_idx", "line_no"], how="left", maintain_order="left"
    )
    skus = w.products.select("sku_idx", "sku")
    li = li.join(skus, on="sku_idx", how="left", maintain_order="left")
    pid = w.persons["person_id"].to_numpy()
    p = li["person_idx"].to_numpy()
    li = li.with_columns(pl.Series("person_id", np.where(p >= 0, pid[np.maximum(p, 0)], -1)))
    out = li.select(
        "channel",
        "order_id",
        "line_id",
        "sku",
        "channel_sku",
        "location_id",
        pl.from_epoch("ts", time_unit="s").alias("order_ts_local"),
        (pl.col("ts") // DAY).cast(pl.Int32).cast(pl.Date).alias("business_date"),
        pl.col("quantity").cast(pl.Int64),
        cents_to_decimal("unit_price_cents").alias("unit_price"),
        cents_to_decimal("discount_cents").alias("discount"),
        cents_to_decimal("net_cents").alias("net_amount"),
        "currency",
        "status",
        # the local day the line left its location (a store sale: its day); null when it
        # had not shipped by the last day, or was cancelled
        pl.when((pl.col("ship_day") < w.cal.days) & (pl.col("status") != "cancelled"))
        .then((pl.col("ship_day") + w.start_day).cast(pl.Int32).cast(pl.Date))
        .alias("ship_date"),
        "is_test",
        "is_brushing",
        pl.when(pl.col("person_id") >= 0)
        .then(pl.col("person_id"))
        .otherwise(None)
        .alias("person_id"),
    )
    return out.sort(["channel", "order_id", "line_id"])


def returns(w: World) -> pl.DataFrame:
    r = w.returns.join(
        w.orders.select("order_idx", "channel", "order_id", "location_id"),
        on="order_idx",
        how="left",
        maintain_order="left",
    )
    r = r.join(
        w.lines.select("order_idx", "line_no", "line_id", "sku_idx", "currency"),
        on=["order_idx", "line_no"],
        how="left",
        maintain_order="left",
    ).join(w.products.select("sku_idx", "sku"), on="sku_idx", how="left", maintain_order="left")
    out = r.select(
        "channel",
        pl.when(pl.col("channel") == "pos")
        .then(pl.col("return_receipt"))
        .otherwise(pl.col("order_id"))
        .alias("order_id"),
        pl.when(pl.col("channel") == "pos")
        .then(pl.col("return_line_no").cast(pl.Utf8))
        .otherwise(pl.col("line_id"))
        .alias("line_id"),
        "sku",
        "location_id",
        (pl.col("return_ts") // DAY).cast(pl.Int32).cast(pl.Date).alias("return_date"),
        pl.col("return_qty").alias("quantity"),
        cents_to_decimal("refund_cents").alias("amount"),
        "currency",
    )
    return out.sort(["channel", "order_id", "line_id"])


def demand(w: World) -> pl.DataFrame:
    d = w.demand
    lids = w.locations["location_id"].to_numpy()
    skus = w.products["sku"].to_numpy()
    return pl.DataFrame(
        {
            "date": (w.start_day + d["t"].to_numpy()).astype("datetime64[D]"),
            "sku": skus[d["sku_idx"].to_numpy()],
            "location_id": lids[d["loc_idx"].to_numpy()],
            "true_demand": d["true_demand"],
            "sold_units": d["sold_units"],
            "on_hand_start": d["on_hand_start"],
            # units on purchase orders placed and not yet arrived at the end of the day
            "in_transit": d["in_transit_end"],
            # units of real orders placed and not yet shipped at the end of the day (on the
            # shelf, promised): the ERP's on_hand is on_hand_start - sold_units + reserved
            "reserved": d["unshipped_end"],
            "stockout": d["stockout"],
        }
    ).sort(["date", "location_id", "sku"])


def persons(w: World) -> pl.DataFrame:
    P = w.persons
    sd = w.start_day

    def day(col):
        return (
            pl.when(pl.col(col) < 10**5)
            .then((pl.col(col) + sd).cast(pl.Int32).cast(pl.Date))
            .otherwise(None)
        )

    cols = [c for c in P.columns if c.startswith("pref_") or c.startswith("taste_")]
    return P.select(
        "person_id",
        "full_name",
        "home_city",
        "country",
        "home_store",
        "female",
        "birth_year",
        day("acq_day").alias("acquisition_date"),
        "acq_channel",
        day("churn_day").alias("churn_date"),
        "activity",
        "price_sensitivity",
        "household_of",
        "is_member",
        "member_no",
        day("member_join_day").alias("member_join_date"),
        "phone",
        "phone_new",
        day("phone_change_day").alias("phone_change_date"),
        "email",
        "email_new",
        day("email_change_day").alias("email_change_date"),
        "uses_wechat",
        "wx_authorised",
        "app_user",
        "web_user",
        "social_user",
        "wecom_added",
        *cols,
    ).with_columns((pl.col("household_of") + 1).alias("household_of"))


def identifiers(parts: list[pl.DataFrame]) -> pl.DataFrame:
    df = pl.concat([p for p in parts if p is not None and len(p)], how="vertical_relaxed")
    df = df.unique(
        subset=["channel", "source_file", "record_key", "identifier_type", "identifier_value"],
        keep="first",
        maintain_order=True,
    )
    return df.sort(["channel", "source_file", "record_key", "identifier_type", "identifier_value"])


def planted_live_sessions(w: World) -> pl.DataFrame:
    """The planted unprofitable Douyin live session (orders.py): host, day, room, orders,
    gross in CNY, host commission rate and the return rate it was given; empty if none."""
    p = w.planted_live_session
    schema = {
        "host_id": pl.Utf8,
        "session_date": pl.Date,
        "room_id": pl.Utf8,
        "orders": pl.Int64,
        "gross_sales_cny": pl.Decimal(18, 2),
        "host_commission_rate": pl.Float64,
        "planted_return_rate": pl.Float64,
    }
    if not p:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(
        {
            "host_id": [p["host_id"]],
            "session_date": [p["session_date"]],
            "room_id": [p["room_id"]],
            "orders": [p["orders"]],
            "gross_cents": [p["gross_cents"]],
            "host_commission_rate": [p["host_commission_rate"]],
            "planted_return_rate": [p["return_rate"]],
        }
    ).select(
        *[cents_to_decimal("gross_cents").alias(c) if c == "gross_sales_cny" else c for c in schema]
    )


def write_all(
    w: World, truth_dir: Path, id_parts: list[pl.DataFrame], defects: pl.DataFrame
) -> dict:
    truth_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "sales_lines": sales_lines(w),
        "returns": returns(w),
        "demand": demand(w),
        "persons": persons(w),
        "identifiers": identifiers(id_parts),
        "defects": defects,
        "planted_live_sessions": planted_live_sessions(w),
        "price_conflicts": w.planted_prices,
    }
    for name, df in tables.items():
        write_parquet(df, truth_dir / f"{name}.parquet")
    return {k: len(v) for k, v in tables.items()}
