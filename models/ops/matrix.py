"""The channel–product matrix (商品矩阵): one row per SKU × sales channel, listed or not.

Listed = the channel prices the SKU in the prices feed on its latest day and the SKU is live
(see ``price_warehouse.read_listings``; the SKU map is not a listing). Sales are units of real sales (not test, not brushing suspects, not
cancelled) attributed to the price channel they were sold on. Stock is the channel's
available-to-promise of ``marts.channel_atp`` (the pool that serves the channel), where the
channel has allocation rules. "Similar" channels are the groups of the price policy.
"""

from __future__ import annotations

import polars as pl

from models.ops.price_policy import PricePolicy

MATRIX_COLUMNS = [
    "sku", "channel", "category", "listed", "units_total", "units_window", "window_days",
    "share_of_sku_units", "share_of_channel_units", "available_to_promise", "sell_through",
    "days_of_cover", "listed_channels", "channel_exclusive", "listed_never_sold",
    "absent_but_sells_on_similar", "similar_channels_selling",
]  # fmt: skip


def channel_product_matrix(
    products: pl.DataFrame,
    listings: pl.DataFrame,
    sales: pl.DataFrame,
    atp: pl.DataFrame,
    policy: PricePolicy,
    window_days: int = 28,
) -> pl.DataFrame:
    """``products``: sku, category; ``listings``: channel, sku (one row per listing);
    ``sales``: date, channel, sku, units; ``atp``: channel, sku, available_to_promise (may be
    empty). The window (for sell-through and days of cover) is the last ``window_days`` days
    up to the last sales date.

    sell_through = units in the window / (units in the window + ATP now); days_of_cover = ATP /
    mean daily units in the window (null when nothing sold in it); channel_exclusive: listed
    on exactly one channel; listed_never_sold: listed and no unit sold in the whole history;
    absent_but_sells_on_similar: not listed here while it sold in the window on a channel of
    the same group (``channel_groups`` of the price policy).
    """
    listed = listings.select("channel", "sku").unique().with_columns(pl.lit(True).alias("listed"))
    channels = sorted(
        set(listed["channel"].to_list()) | set(sales["channel"].drop_nulls().to_list())
    )
    grid = products.select("sku", "category").join(
        pl.DataFrame({"channel": channels}, schema={"channel": pl.Utf8}), how="cross"
    )
    end = sales["date"].max()
    in_window = (
        pl.col("date") > pl.lit(end) - pl.duration(days=window_days)
        if end is not None
        else pl.lit(False)
    )
    per = sales.group_by("channel", "sku").agg(
        pl.col("units").sum().alias("units_total"),
        pl.col("units").filter(in_window).sum().alias("units_window"),
    )
    frame = (
        grid.join(listed, on=["channel", "sku"], how="left")
        .join(per, on=["channel", "sku"], how="left")
        .join(
            atp.select("channel", "sku", "available_to_promise"), on=["channel", "sku"], how="left"
        )
        .with_columns(
            pl.col("listed").fill_null(False),
            pl.col("units_total").fill_null(0).cast(pl.Int64),
            pl.col("units_window").fill_null(0).cast(pl.Int64),
            pl.lit(window_days).alias("window_days"),
        )
    )
    frame = frame.with_columns(
        _share(pl.col("units_total"), pl.col("units_total").sum().over("sku")).alias(
            "share_of_sku_units"
        ),
        _share(pl.col("units_total"), pl.col("units_total").sum().over("channel")).alias(
            "share_of_channel_units"
        ),
        pl.when(pl.col("available_to_promise").is_not_null())
        .then(
            _share(
                pl.col("units_window"),
                pl.col("units_window") + pl.col("available_to_promise").clip(lower_bound=0),
            )
        )
        .alias("sell_through"),
        pl.when(pl.col("units_window") > 0)
        .then(
            pl.col("available_to_promise").clip(lower_bound=0)
            / (pl.col("units_window") / window_days)
        )
        .round(1)
        .alias("days_of_cover"),
        pl.col("listed").cast(pl.Int32).sum().over("sku").alias("listed_channels"),
    ).with_columns(
        (pl.col("listed") & (pl.col("listed_channels") == 1)).alias("channel_exclusive"),
        (pl.col("listed") & (pl.col("units_total") == 0)).alias("listed_never_sold"),
    )
    selling = frame.filter(pl.col("units_window") > 0).select("sku", "channel")
    similar = [
        (c, s) for c in channels for s in sorted(policy.similar_channels(c)) if s in channels
    ]
    pairs = pl.DataFrame(similar, schema={"channel": pl.Utf8, "similar": pl.Utf8}, orient="row")
    sells_similar = (
        pairs.join(selling.rename({"channel": "similar"}), on="similar", how="inner")
        .group_by("channel", "sku")
        .agg(pl.col("similar").sort().str.join(",").alias("similar_channels_selling"))
    )
    frame = frame.join(sells_similar, on=["channel", "sku"], how="left").with_columns(
        (~pl.col("listed") & pl.col("similar_channels_selling").is_not_null()).alias(
            "absent_but_sells_on_similar"
        )
    )
    return frame.select(MATRIX_COLUMNS).sort("sku", "channel")


def _share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    return pl.when(whole > 0).then((part / whole).round(4))
