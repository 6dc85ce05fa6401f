"""The ERP master-data spec on the tiny demo brand: the channel SKU map."""

from __future__ import annotations

import polars as pl

from ingest.reconcile import reconcile
from tests.ingest.specs.lakeview import lake

CHANNEL = "erp"


def test_sku_map_keeps_the_platform_item_id(loaded, tiny_demo):
    paths, spec, _ = loaded
    assert [b for b in reconcile(paths, {CHANNEL: spec}) if b.missing] == []
    got = lake(paths, "sku_map", CHANNEL)
    raw = pl.read_csv(tiny_demo.landing / CHANNEL / "sku_map.csv", infer_schema=False)
    cols = ["sales_channel", "channel_sku", "channel_item_id", "sku"]
    assert sorted(got.select(cols).rows()) == sorted(
        raw.rename({"channel": "sales_channel"}).select(cols).rows()
    )
    assert got["channel_item_id"].null_count() == 0
    # an item id (Douyin 商品ID, mini-program spu_, ASIN...) names one SKU within its channel,
    # so events that carry only the item id (Douyin live add-to-cart) resolve to a SKU
    per_item = got.group_by("sales_channel", "channel_item_id").agg(pl.col("sku").n_unique())
    assert per_item["sku"].max() == 1
