"""Limits counted within a time window (``window_days`` in the rules)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from models.identity.resolve import resolve
from models.identity.rules import Rules
from tests.models.identity.conftest import customer_of, ids_table


def _rules(rules, window_days):
    """The project's rules with one phone per person, within ``window_days``. Validated anew
    (a model_copy would keep the original's cached lookups, windows among them)."""
    data = rules.model_dump()
    data["types"]["phone"].update(max_per_person=1, window_days=window_days)
    return Rules.model_validate(data)


def _ids():
    rows = [
        ("crm|1", "member_no", "778800000001"),
        ("crm|1", "phone", "+8613911112222"),
        ("pos|2", "member_no", "778800000001"),
        ("pos|2", "phone", "+8613933334444"),
        ("pos|3", "member_no", "778800000001"),
        ("pos|3", "phone", "+8613955556666"),
    ]
    seen = {
        "crm|1": dt.datetime(2024, 1, 5),  # the old number, then given up
        "pos|2": dt.datetime(2025, 6, 1),  # the new one, a year and a half later
        "pos|3": dt.datetime(2025, 6, 20),  # a third, within weeks of the second
    }
    frame = ids_table(rows)
    return frame.with_columns(
        pl.col("record").replace_strict(seen, return_dtype=pl.Datetime("us")).alias("seen_at")
    )


def test_without_a_window_every_second_phone_gives_way(rules):
    res = resolve(_ids(), _rules(rules, None))
    held = res.customer_identifiers.filter(pl.col("identifier_type") == "phone")
    assert held.height == 3 and held["customer_id"].n_unique() == 3
    assert res.limit_audit.height == 2
    assert set(res.limit_audit["limit_type"]) == {"phone"}


def test_a_window_lets_a_changed_number_join_and_still_refuses_two_at_once(rules):
    res = resolve(_ids(), _rules(rules, 180))
    member = customer_of(res, "crm|1")
    phones = res.customer_identifiers.filter(pl.col("identifier_type") == "phone")
    mine = set(phones.filter(pl.col("customer_id") == member)["identifier_value"])
    assert mine == {"+8613911112222", "+8613933334444"}  # old and new, 17 months apart
    audit = res.limit_audit
    assert audit.height == 1
    assert audit["identifier_value"].item() == "+8613955556666"
    assert audit["limit_type"].item() == "phone within 180 days"
    assert "would give 2" in audit["reason"].item()
