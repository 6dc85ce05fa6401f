"""Customer ids are stable across runs: the same data gives the same ids; new evidence
merges into the oldest id and says so; evidence that disappears splits a customer and moves
no other id."""

from __future__ import annotations

import polars as pl

from models.identity.resolve import resolve
from models.identity.rules import Rules
from models.identity.stable_ids import id_number
from tests.models.identity.conftest import customer_of, ids_table

DAY_1 = [
    ("crm|A", "member_no", "668810000001"),
    ("crm|A", "phone", "+8613900000001"),
    ("web|B", "email", "b@qq.com"),
    ("web|B", "user_id", "7001", "web"),
    ("wx|C", "wechat_unionid", "UC"),
    ("wx|C", "phone", "+8613900000003"),
    ("wx|D", "wechat_unionid", "UD"),
]
# day 2: B's e-mail shows up on an order with A's phone (B is A), and a newcomer E
DAY_2 = [
    ("web|B2", "email", "b@qq.com"),
    ("web|B2", "phone", "+8613900000001"),
    ("app|E", "device_id", "dev-e"),
]


def _ids_after(res, *records):
    return [customer_of(res, r) for r in records]


def test_the_same_data_gives_the_same_ids_with_or_without_the_previous_map(rules):
    first = resolve(ids_table(DAY_1), rules)
    again = resolve(ids_table(DAY_1), rules, first.customer_identifiers)
    fresh = resolve(ids_table(DAY_1), rules)
    assert first.records.sort("record").equals(again.records.sort("record"))
    assert first.records.sort("record").equals(fresh.records.sort("record"))
    assert again.merges.is_empty()


def test_new_evidence_merges_into_the_oldest_id_and_keeps_the_others(rules):
    day1 = resolve(ids_table(DAY_1), rules)
    a, b, c, d = _ids_after(day1, "crm|A", "web|B", "wx|C", "wx|D")
    assert len({a, b, c, d}) == 4
    day2 = resolve(ids_table(DAY_1 + DAY_2), rules, day1.customer_identifiers, day1.next_number - 1)
    survivor = min(a, b, key=id_number)
    assert _ids_after(day2, "crm|A", "web|B", "web|B2") == [survivor] * 3
    assert _ids_after(day2, "wx|C", "wx|D") == [c, d]  # unaffected ids do not move
    newcomer = customer_of(day2, "app|E")
    assert id_number(newcomer) > max(id_number(x) for x in (a, b, c, d))
    (merge,) = day2.merges.filter(pl.col("kind") == "merge").iter_rows(named=True)
    assert merge["from_customer_id"] == max(a, b, key=id_number)
    assert merge["to_customer_id"] == survivor
    assert "web|B2" in merge["evidence"]  # the record that joined them


def test_evidence_that_disappears_splits_and_records_the_split(rules):
    day2 = resolve(ids_table(DAY_1 + DAY_2), rules)
    ab = customer_of(day2, "crm|A")
    # a rule change: A's phone becomes a known junk number
    data = rules.model_dump()
    data["blocklist"].append({"value": "13900000001", "type": "phone", "reason": "reported junk"})
    stricter = Rules.model_validate(data)
    day3 = resolve(
        ids_table(DAY_1 + DAY_2), stricter, day2.customer_identifiers, day2.next_number - 1
    )
    a, b = customer_of(day3, "crm|A"), customer_of(day3, "web|B")
    assert a != b and ab in (a, b)  # one part keeps the id, the other gets a new one
    assert _ids_after(day3, "wx|C", "wx|D") == _ids_after(day2, "wx|C", "wx|D")
    (split,) = day3.merges.filter(pl.col("kind") == "split").iter_rows(named=True)
    assert split["from_customer_id"] == ab and split["to_customer_id"] in (a, b)
    assert split["to_customer_id"] != ab
    assert "+8613900000001 now blocked (blocklist: reported junk)" in split["evidence"]


def test_ids_merged_away_are_never_issued_again(rules):
    day1 = resolve(ids_table(DAY_1), rules)
    day2 = resolve(ids_table(DAY_1 + DAY_2), rules, day1.customer_identifiers, day1.next_number - 1)
    gone = day2.merges.filter(pl.col("kind") == "merge")["from_customer_id"].to_list()
    day3 = resolve(
        ids_table(DAY_1 + DAY_2 + [("app|F", "device_id", "dev-f")]),
        rules,
        day2.customer_identifiers,
        day2.next_number - 1,
    )
    assert not set(gone) & set(day3.records["customer_id"].drop_nulls().to_list())
