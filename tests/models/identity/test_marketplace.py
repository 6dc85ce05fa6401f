"""The scoring of the probabilistic tier (``models/identity/marketplace.py`` with
``records.probabilistic_links``): its blocking compares only the pairs the tier keeps (the
same visible digits and initial), and the links are those of the wider blocking, weight for
weight; the links do not depend on the order the rows come in."""

from __future__ import annotations

import polars as pl
import pytest

from models.identity import records
from models.identity.marketplace import marketplace_links, resolve_linked
from models.identity.records import narrowed
from models.identity.resolve import resolve
from tests.models.identity.conftest import ids_table
from tests.models.identity.test_names_and_tiers import _marketplace_demo, attributes

DISTRICTS = ["朝阳区", "海淀区", "东城区"]


@pytest.fixture(scope="module")
def demo():
    """The masked-receiver demo with a delivery address: a person's records in one of three
    districts (the address blocking rule alone pairs about a third of all rows)."""
    ids, names = _marketplace_demo(n=300)
    # pairs of masked receivers whom no full phone matches: linked to each other (the tier's
    # links between masked records, whose orientation Splink's row order decides)
    rare = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"
    pairs = [(f"jd|m{k}{s}", f"199****{k:04d}", f"{rare[k]}*") for k in range(20) for s in "ab"]
    ids = pl.concat(
        [ids, ids_table([(r, "phone", v, None, True) for r, v, _ in pairs]).cast(ids.schema)]
    )
    names = pl.concat(
        [names, attributes([(r, n) for r, _, n in pairs]).cast(names.schema)], how="vertical"
    )
    person = pl.col("record").str.split("|").list.last().cast(pl.Int64, strict=False)
    names = names.with_columns(
        pl.lit("北京市").alias("city"),
        pl.when(pl.col("record").str.starts_with("jd|m"))
        .then(pl.col("record").str.slice(0, pl.col("record").str.len_chars() - 1))
        .otherwise(pl.lit(pl.Series(DISTRICTS)).get(person.fill_null(0) % 3))
        .alias("district"),
    )
    return ids, names


@pytest.fixture(scope="module")
def model(rules, demo):
    ids, names = demo
    _, links, _, stats = resolve_linked(ids, rules, attributes=names)
    assert stats["splink"]["trained"] and links.height > 100
    return stats["splink"]["model"]


def _links(rules, ids, names, model):
    p = rules.probabilistic
    assert p.compare_address
    first = resolve(ids, rules, attributes=names)
    notes: list[str] = []
    links, stats = marketplace_links(
        first, names, p.threshold, p.seed, notes, p, rules.shared.threshold, model, {}
    )
    return links, stats, notes


def test_narrowed_adds_the_columns_and_drops_rules_another_covers():
    agree = ["phone_digits", "initial"]
    assert narrowed([["phone_digits"], ["address"]], agree) == [["phone_digits", "initial"]]
    assert narrowed([["address"]], agree) == [["address", "phone_digits", "initial"]]
    assert narrowed([["initial", "phone_digits"], ["phone_digits"]], agree) == [
        ["initial", "phone_digits"]
    ]
    assert narrowed([["date"], ["id"]], []) == [["date"], ["id"]]


def test_the_narrowed_blocking_gives_the_links_of_the_wide_one(rules, demo, model, monkeypatch):
    ids, names = demo
    blocked = []  # pairs in the blocks of each rule Splink was given
    splink_links = records._splink_links

    def counting(data, filled, rules_, *args):
        blocked.append(sum(records._pairs_in_blocks(data, r) for r in rules_))
        return splink_links(data, filled, rules_, *args)

    monkeypatch.setattr(records, "_splink_links", counting)
    narrow, _, n_notes = _links(rules, ids, names, model)
    monkeypatch.setattr(records, "narrowed", lambda rules, agree: rules)  # main's blocking
    wide, _, w_notes = _links(rules, ids, names, model)
    assert n_notes[0] == "blocking on phone_digits+initial"
    assert w_notes[0] == "blocking on phone_digits | address"
    assert blocked[1] > 50 * blocked[0]  # the address rule's pairs, all dropped by the tier
    assert narrow.height > 100 and narrow.equals(wide)  # every column, weights bit for bit


def test_the_links_do_not_depend_on_the_order_of_the_rows(rules, demo, model):
    ids, names = demo
    links, stats, _ = _links(rules, ids, names, model)
    assert stats["links_between_masked_records"] == 20
    shuffled, _, _ = _links(
        rules, ids.sample(fraction=1.0, shuffle=True, seed=1), names.reverse(), model
    )
    assert links.height > 100 and links.equals(shuffled)
