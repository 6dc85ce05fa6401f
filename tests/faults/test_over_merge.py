"""The over-merge baits, from landing file to customers: the till's default phone
13800138000, a store's shared member card, and a family phone on two members' cards. Each is
blocked with its reason and merges nobody, while a real repeat customer is still one."""

from __future__ import annotations

import polars as pl
import pytest

from ingest.engine import ingest_channel
from ingest.spec import load_specs
from models.identity.resolve import resolve
from models.identity.rules import load_rules
from models.identity.warehouse import RECORD_SEP, read_lake_identifiers
from tests.faults.conftest import assert_balanced, pos_file, pos_row, write

RECEIPTS = [  # (receipt, member card, phone)
    ("R1", "668810000101", "13800138000"),  # two members, the till's default phone
    ("R2", "668810000102", "138-0013-8000"),
    ("R3", "668800001010", "13911110001"),  # two walk-ins, the store's shared card
    ("R4", "668800001010", "13911110002"),
    ("R5", "668810000201", "13922220000"),  # two members of one household, one phone
    ("R6", "668810000202", "+86 139 2222 0000"),
    ("R7", "668810000301", "13933330000"),  # one member, twice: the control
    ("R8", "668810000301", "13933330000"),
]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    from ingest.config import DataPaths

    paths = DataPaths(tmp_path_factory.mktemp("baits") / "data")
    rows = [pos_row(r, card=card, phone=phone) for r, card, phone in RECEIPTS]
    write(paths.landing / "pos/pos_ST-SH-01_20250301.csv", pos_file(rows))
    spec = load_specs()["pos"]
    ingest_channel(spec, paths)
    assert_balanced(paths, {"pos": spec})
    return resolve(read_lake_identifiers(paths.lake_raw), load_rules())


def customer(res, receipt: str) -> str | None:
    record = RECORD_SEP.join(["pos", "orders", f"ST-SH-01 {receipt}"])
    return res.records.filter(pl.col("record") == record)["customer_id"].item()


def blocked_reason(res, value: str) -> str:
    hit = res.blocked_identifiers.filter(pl.col("identifier_value") == value)
    assert hit.height == 1, res.blocked_identifiers
    return hit["reason"].item()


def test_the_default_phone_is_blocked_and_merges_nobody(resolved):
    assert "default phone" in blocked_reason(resolved, "+8613800138000")
    assert None is not customer(resolved, "R1") != customer(resolved, "R2") is not None


def test_the_store_shared_card_is_blocked_and_merges_nobody(resolved):
    assert "store shared card" in blocked_reason(resolved, "668800001010")
    assert None is not customer(resolved, "R3") != customer(resolved, "R4") is not None


def test_a_family_phone_is_shared_and_merges_nobody(resolved):
    assert blocked_reason(resolved, "+8613922220000").startswith(
        "shared: linked to 2 distinct member_no"
    )
    assert None is not customer(resolved, "R5") != customer(resolved, "R6") is not None


def test_a_real_repeat_customer_is_still_one(resolved):
    assert customer(resolved, "R7") == customer(resolved, "R8") is not None
    assert len({customer(resolved, f"R{i}") for i in range(1, 9)}) == 7
