"""Canonical entities: the contract between ingest (which writes them to the lake) and dbt
(which reads them). A channel spec may only map to columns declared here.

Every lake row also carries the lineage columns of ``LINEAGE``.
"""

from __future__ import annotations

import polars as pl

MONEY = pl.Decimal(18, 2)
TS = pl.Datetime("us")  # UTC wall time, no zone attached

LINEAGE: dict[str, pl.DataType] = {
    "channel": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "file_hash": pl.String,
    "ingested_at": TS,
}

# Per entity: columns (name -> dtype), the timestamp that gives business_date, and the key.
ENTITIES: dict[str, dict] = {
    "orders": {
        "columns": {
            "order_id": pl.String,
            "order_ts": TS,
            "business_date": pl.Date,
            "location_id": pl.String,
            "status": pl.String,
            "native_status": pl.String,
            # when the order left the location (发货时间, a fulfilment's time), where the export
            # says; ship_date is its local date (the spec's time zone), as business_date is
            # order_ts's
            "shipped_at": TS,
            "ship_date": pl.Date,
            "currency": pl.String,
            "gross_total": MONEY,  # goods before discounts
            "discount_total": MONEY,
            "shipping_total": MONEY,
            "order_total": MONEY,  # after discounts
            "paid_total": MONEY,  # what the buyer paid (brushing pays cents on a full order)
            "is_test": pl.Boolean,
            "buyer_name": pl.String,
            "payment_method": pl.String,
            "anchor_id": pl.String,  # live-commerce host (达人ID) credited with the order
            "anchor_name": pl.String,
            "traffic_source": pl.String,  # 流量来源 / utm source as the channel reports it
            # the delivery address, normalised by ingest.identifiers.normalize_address (a
            # spec may map the whole address to ship_street: the parts are parsed off it)
            "ship_province": pl.String,
            "ship_city": pl.String,
            "ship_district": pl.String,
            "ship_street": pl.String,
            "ship_postcode": pl.String,
        },
        "ts": "order_ts",
        "key": ["order_id"],
    },
    "order_lines": {
        "columns": {
            "order_id": pl.String,
            "line_id": pl.String,
            "order_ts": TS,
            "business_date": pl.Date,
            "location_id": pl.String,
            "status": pl.String,
            "is_test": pl.Boolean,
            "channel_sku": pl.String,
            "channel_item_id": pl.String,  # the platform's listing id (商品ID, ASIN, spu)
            "sku": pl.String,
            "product_name": pl.String,
            "quantity": pl.Int64,
            "unit_price": MONEY,
            "line_total": MONEY,  # unit price x quantity, where a channel gives only that
            "discount": MONEY,
            "net_amount": MONEY,
            "currency": pl.String,
        },
        "ts": "order_ts",
        "key": ["order_id", "line_id"],
    },
    "returns": {
        "columns": {
            "return_id": pl.String,
            "order_id": pl.String,
            "line_id": pl.String,
            "return_ts": TS,
            "business_date": pl.Date,
            "location_id": pl.String,
            "channel_sku": pl.String,
            "sku": pl.String,
            "quantity": pl.Int64,
            "amount": MONEY,
            "currency": pl.String,
        },
        "ts": "return_ts",
        "key": ["return_id", "line_id"],
    },
    # Who bought or receives an order, from a file apart from the order itself (Amazon's
    # MFN buyer report): the identifiers hang on it; no order fields are repeated.
    "order_contacts": {
        "columns": {
            "order_id": pl.String,
            "contact_role": pl.String,  # buyer, receiver
            "name": pl.String,
            "city": pl.String,
            "country": pl.String,
        },
        "ts": None,
        "key": ["order_id", "contact_role"],
    },
    "events": {
        "columns": {
            "event_id": pl.String,
            "event_ts": TS,
            "business_date": pl.Date,
            "event_type": pl.String,  # EVENT_TYPES
            "native_event": pl.String,
            "session_id": pl.String,
            "platform": pl.String,  # ios/android/web, a mini-program app id, a live room
            "channel_sku": pl.String,
            "sku": pl.String,
            "quantity": pl.Int64,
            "value": MONEY,
            "currency": pl.String,
            "order_id": pl.String,
            "search_query": pl.String,
            "page": pl.String,
            "live_session_id": pl.String,
            "anchor_id": pl.String,
            "user_agent": pl.String,
            "channel_item_id": pl.String,
            "text": pl.String,  # a live comment
            "ip": pl.String,
            "app_version": pl.String,
            "campaign": pl.String,
        },
        "ts": "event_ts",
        "key": ["event_id"],
    },
    "social": {
        "columns": {
            "activity_id": pl.String,
            "activity_ts": TS,
            "business_date": pl.Date,
            "platform": pl.String,  # wechat_oa, weibo, xiaohongshu, douyin, wecom
            "activity_type": pl.String,  # follow, unfollow, like, comment, share, mention, add_contact
            "account_id": pl.String,
            "content_id": pl.String,
            "text": pl.String,
            "staff_id": pl.String,
            "location_id": pl.String,
        },
        "ts": "activity_ts",
        "key": ["activity_id"],
    },
    "members": {
        "columns": {
            "member_no": pl.String,
            "joined_ts": TS,
            "business_date": pl.Date,
            "tier": pl.String,
            "join_location_id": pl.String,
            "name": pl.String,
            "gender": pl.String,
            "birthday": pl.Date,
            "status": pl.String,
            "points_balance": pl.Int64,
        },
        "ts": "joined_ts",
        "key": ["member_no"],
    },
    "points": {
        "columns": {
            "points_txn_id": pl.String,
            "member_no": pl.String,
            "txn_ts": TS,
            "business_date": pl.Date,
            "points": pl.Int64,
            "reason": pl.String,
            "order_id": pl.String,
            "sales_channel": pl.String,  # the channel of order_id (ledgers span channels)
            "location_id": pl.String,
        },
        "ts": "txn_ts",
        "key": ["points_txn_id"],
    },
    "consents": {
        "columns": {
            "consent_id": pl.String,
            "consent_ts": TS,
            "business_date": pl.Date,
            "purpose": pl.String,  # CONSENT_PURPOSES
            "granted": pl.Boolean,
            "consent_source": pl.String,
        },
        "ts": "consent_ts",
        "key": ["consent_id"],
    },
    "products": {
        "columns": {
            "sku": pl.String,
            "name_zh": pl.String,
            "name_en": pl.String,
            "category": pl.String,
            "brand_line": pl.String,
            "unit_cost": MONEY,
            "list_price": MONEY,
            "currency": pl.String,
            "launch_date": pl.Date,
            "discontinued_date": pl.Date,
            "repurchase_cycle_days": pl.Int64,
        },
        "ts": None,
        "key": ["sku"],
    },
    "sku_map": {
        "columns": {
            "sales_channel": pl.String,
            "channel_sku": pl.String,
            "channel_item_id": pl.String,
            "sku": pl.String,
        },
        "ts": None,
        "key": ["sales_channel", "channel_sku"],
    },
    "locations": {
        "columns": {
            "location_id": pl.String,
            "location_type": pl.String,  # store, warehouse, fba
            "name": pl.String,
            "city": pl.String,
            "country": pl.String,
            "lat": pl.Float64,
            "lon": pl.Float64,
            "timezone": pl.String,
            "opened_date": pl.Date,
        },
        "ts": None,
        "key": ["location_id"],
    },
    "inventory": {
        "columns": {
            "snapshot_date": pl.Date,
            "location_id": pl.String,
            "sku": pl.String,
            "on_hand": pl.Int64,
            "reserved": pl.Int64,
            "in_transit": pl.Int64,
        },
        "ts": None,
        "key": ["snapshot_date", "location_id", "sku"],
    },
    "prices": {
        "columns": {
            "price_date": pl.Date,
            "sales_channel": pl.String,
            "sku": pl.String,
            "price": MONEY,
            "list_price": MONEY,
            "currency": pl.String,
            "promo_id": pl.String,
        },
        "ts": None,
        "key": ["price_date", "sales_channel", "sku"],
    },
    "fees": {
        "columns": {
            "sales_channel": pl.String,
            "fee_type": pl.String,
            "host_id": pl.String,
            "rate": pl.Float64,
            "fixed_fee": MONEY,
            "currency": pl.String,
            "valid_from": pl.Date,
            "valid_to": pl.Date,
            "note": pl.String,
        },
        "ts": None,
        "key": ["sales_channel", "fee_type", "host_id", "currency", "valid_from"],
    },
    "footfall": {
        "columns": {
            "footfall_date": pl.Date,
            "location_id": pl.String,
            "visitors": pl.Int64,
        },
        "ts": None,
        "key": ["footfall_date", "location_id"],
    },
    "weather": {
        "columns": {
            "weather_date": pl.Date,
            "city": pl.String,
            "temp_max_c": pl.Float64,
            "temp_min_c": pl.Float64,
            "precipitation_mm": pl.Float64,
            "condition": pl.String,
        },
        "ts": None,
        "key": ["weather_date", "city"],
    },
    # Long table of every identifier seen on a kept record: input of the identity graph.
    "identifiers": {
        "columns": {
            "entity": pl.String,
            "record_id": pl.String,
            "field": pl.String,
            "identifier_type": pl.String,
            "identifier_value": pl.String,
            "is_partial": pl.Boolean,
            "scope": pl.String,
        },
        "ts": None,
        "key": ["entity", "record_id", "field"],
    },
}

# Columns a spec may leave out because they follow from others (applied only where null).
DERIVED: dict[str, dict[str, pl.Expr]] = {
    # Applied in order, each only where the column is null. A line with neither discount nor
    # net keeps both null: staging allocates the order's discount to such lines.
    "order_lines": {
        "unit_price": (pl.col("line_total") / pl.col("quantity")).cast(MONEY),
        "line_total": (pl.col("unit_price") * pl.col("quantity")).cast(MONEY),
        "net_amount": (pl.col("line_total") - pl.col("discount")).cast(MONEY),
        "discount": (pl.col("line_total") - pl.col("net_amount")).cast(MONEY),
    },
    "orders": {
        "order_total": pl.col("paid_total"),
        "discount_total": (pl.col("gross_total") - pl.col("order_total")).cast(MONEY),
    },
}

# Local dates of other timestamps than the entity's ``ts``: date column -> timestamp column,
# converted to the spec's time zone as business_date is.
LOCAL_DATES: dict[str, dict[str, str]] = {"orders": {"ship_date": "shipped_at"}}

# Personal names, folded by ingest.identifiers.name_expr (full-width to ASCII, spaces).
NAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("buyer_name",),
    "members": ("name",),
    "order_contacts": ("name",),
}

# Delivery addresses (part of ingest.identifiers.ADDRESS_PARTS -> column), normalised by
# ingest.identifiers.address_frame.
ADDRESS_COLUMNS: dict[str, dict[str, str]] = {
    "orders": {
        "province": "ship_province",
        "city": "ship_city",
        "district": "ship_district",
        "street": "ship_street",
        "postcode": "ship_postcode",
    },
}

CANONICAL_STATUSES = ("pending", "paid", "shipped", "completed", "cancelled")
EVENT_TYPES = (
    "page_view",
    "product_list_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "order_completed",
    "login",
    "identify",
    "push_open",
    "app_open",
    "live_enter",
    "live_comment",
    "live_like",
    "live_follow",
    "live_add_to_cart",
    "share",
    "authorize",
    "add_to_wishlist",
    "cart_view",
    "coupon_applied",
    "payment_info",
    "order_refunded",
    "order_cancelled",
    "product_click",
    "review",
    "checkout_step",  # a step of a multi-step checkout viewed or completed
    "promotion_view",  # an internal promotion (banner) shown
    "promotion_click",
    "remove_from_wishlist",
)
CONSENT_PURPOSES = ("email", "sms", "wechat", "ads", "cross_border")

QUARANTINE: dict[str, pl.DataType] = {
    **LINEAGE,
    "entity": pl.String,
    "field": pl.String,
    "reason_code": pl.String,
    "reason": pl.String,
    "raw_record": pl.String,
}


def schema(entity: str) -> dict[str, pl.DataType]:
    return {**ENTITIES[entity]["columns"], **LINEAGE}
