"""Helpers for the identity tests: small long identifier tables written by hand."""

from __future__ import annotations

import polars as pl
import pytest

from models.identity.rules import load_rules


@pytest.fixture(scope="session")
def rules():
    return load_rules()


def ids_table(rows: list[tuple]) -> pl.DataFrame:
    """rows: (record, identifier_type, identifier_value[, scope[, is_partial]])."""
    full = [(r + (None, False))[:5] if len(r) == 3 else (r + (False,))[:5] for r in rows]
    return pl.DataFrame(
        full,
        schema={
            "record": pl.String,
            "identifier_type": pl.String,
            "identifier_value": pl.String,
            "scope": pl.String,
            "is_partial": pl.Boolean,
        },
        orient="row",
    )


def customer_of(resolution, record: str) -> str | None:
    return resolution.records.filter(pl.col("record") == record)["customer_id"].item()
