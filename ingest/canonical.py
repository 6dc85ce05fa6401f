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
            "currency": pl.String,
            "order_total": MONEY,
            "discount_total": MONEY,
            "shipping_total": MONEY,
            "is_test": pl.Boolean,
            "buyer_name": pl.String,
            "payment_method": pl.String,
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
            "sku": pl.String,
            "product_name": pl.String,
            "quantity": pl.Int64,
            "unit_price": MONEY,
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
    "order_lines": {
        "net_amount": (
            pl.col("unit_price") * pl.col("quantity") - pl.col("discount").fill_null(0)
        ).cast(MONEY),
    },
}

CANONICAL_STATUSES = ("pending", "paid", "shipped", "completed", "cancelled")

QUARANTINE: dict[str, pl.DataType] = {
    **LINEAGE,
    "entity": pl.String,
    "field": pl.String,
    "reason": pl.String,
    "raw_record": pl.String,
}


def schema(entity: str) -> dict[str, pl.DataType]:
    return {**ENTITIES[entity]["columns"], **LINEAGE}
