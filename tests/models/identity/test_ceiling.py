"""The evidence ceiling (models/identity/ceiling.py): the best recall the records' own
evidence allows, on a table written by hand (the tiny demo's figure is checked in
test_demo_accuracy.py, beside the resolver)."""

from __future__ import annotations

import polars as pl

from models.identity.ceiling import breakdown_of_misses, evidence_ceiling
from tests.models.identity.conftest import ids_table


def _known(rows: list[tuple[str, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"record": pl.String, "person_id": pl.Int64}, orient="row")


def test_the_ceiling_links_only_what_the_evidence_links(rules):
    ids = ids_table(
        [
            ("r1", "phone", "+8613812345678"),
            ("r2", "phone", "+8613812345678"),
            ("r2", "member_no", "668810000001"),
            ("r3", "device_id", "dev-only-here"),  # person 1, seen nowhere else
            ("r4", "phone", "+8613812345678"),  # person 2 shares the phone: not linked to 1
            ("r5", "phone", "+8613800138000"),  # a default phone: junk, links nothing
            ("r6", "phone", "+8613800138000"),
            ("r7", "phone", "138****5678", None, True),  # masked, receiver 王**
            ("r8", "phone", "+8613912340000"),
            ("r9", "phone", "+8613912340000"),
        ]
    )
    known = _known(
        [("r1", 1), ("r2", 1), ("r3", 1), ("r4", 2), ("r5", 3), ("r6", 3), ("r7", 1),
         ("r8", 4), ("r9", 4)]
    )  # fmt: skip
    attributes = pl.DataFrame(
        {
            "record": ["r2", "r7"],
            "name_key": ["伟王", None],
            "initials": ["王", "王"],
            "city": [None, None],
            "district": [None, None],
        }
    )
    exact_only = evidence_ceiling(known, ids, rules)
    groups = dict(exact_only.groups.iter_rows())
    assert groups["r1"] == groups["r2"] != groups["r3"]
    assert groups["r4"] != groups["r1"]  # the truth restricts links, it adds none
    assert groups["r5"] != groups["r6"]  # blocklisted values are no evidence
    assert groups["r8"] == groups["r9"]
    # true pairs: person 1 has 4 records (6 pairs), person 3 has 1 pair, person 4 has 1
    assert exact_only.exact.true_pairs == 8
    assert exact_only.exact.true_positives == 2  # r1-r2, r8-r9
    with_names = evidence_ceiling(known, ids, rules, attributes)
    groups = dict(with_names.groups.iter_rows())
    # the masked phone and initial match person 1's full phone and name: r7 joins r1, r2
    assert groups["r7"] == groups["r1"] == groups["r2"]
    assert with_names.fuzzy.true_positives == 4  # r1-r2, r1-r7, r2-r7, r8-r9
    assert with_names.fuzzy.precision == 1.0
    assert with_names.exact.recall == exact_only.exact.recall
    # a resolver that links r1-r2 only misses r7's two linkable pairs, not r3's three
    resolved = pl.DataFrame(
        {"record": [f"r{i}" for i in range(1, 10)], "customer_id": ["A", "A", *"BCDEFGG"]}
    )
    missed = breakdown_of_misses(
        known.select("record", pl.col("person_id").cast(pl.String)), resolved, with_names.groups
    )
    assert missed["missed_pairs"].sum() == 2
