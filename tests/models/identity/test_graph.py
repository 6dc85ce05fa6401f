"""Blocking, partial identifiers, scopes, shared identifiers, roll-ups and limits, each on a
few records written by hand."""

from __future__ import annotations

import numpy as np
import polars as pl

from models.identity.cluster import cluster, cluster_union_find
from models.identity.graph import build_graph
from models.identity.resolve import resolve
from tests.models.identity.conftest import customer_of, ids_table


def test_records_sharing_an_identifier_are_one_customer(rules):
    res = resolve(
        ids_table(
            [
                ("crm|1", "member_no", "668810000001"),
                ("crm|1", "phone", "+8613911112222"),
                ("web|1", "phone", "+8613911112222"),
                ("web|1", "email", "li.na@qq.com"),
                ("web|2", "email", "li.na@qq.com"),
                ("web|3", "email", "other@qq.com"),
            ]
        ),
        rules,
    )
    assert customer_of(res, "crm|1") == customer_of(res, "web|2") is not None
    assert customer_of(res, "web|3") != customer_of(res, "crm|1")


def test_junk_values_are_blocked_with_their_reason(rules):
    res = resolve(
        ids_table(
            [
                ("pos|1", "phone", "+8613800138000"),
                ("pos|2", "phone", "+8613800138000"),
                ("pos|3", "member_card", "668800001010"),
                ("pos|4", "member_card", "668800001010"),
                ("app|1", "device_id", "00000000"),
                ("app|2", "device_id", "00000000"),
            ]
        ),
        rules,
    )
    blocked = dict(res.blocked_identifiers.select("identifier_value", "reason").iter_rows())
    assert "default phone" in blocked["+8613800138000"]
    assert "shared card" in blocked["668800001010"]
    assert "all zeros" in blocked["00000000"]
    assert (
        res.blocked_identifiers.filter(pl.col("identifier_value") == "+8613800138000")[
            "records"
        ].item()
        == 2
    )
    assert res.records["customer_id"].null_count() == 6  # nothing left to link them by
    assert res.customer_identifiers.is_empty()


def test_partial_identifiers_never_merge_on_their_own(rules):
    res = resolve(
        ids_table(
            [
                ("tmall|1", "phone", "138****5678", None, True),
                ("tmall|1", "marketplace_buyer_id", "AAF1", "flagship"),
                ("tmall|2", "phone", "138****5678", None, True),
                ("tmall|2", "marketplace_buyer_id", "AAF2", "flagship"),
                ("amazon|1", "email", "x9@marketplace.amazon.com"),  # relay: partial by rule
                ("amazon|2", "email", "x9@marketplace.amazon.com"),
            ]
        ),
        rules,
    )
    assert customer_of(res, "tmall|1") != customer_of(res, "tmall|2")
    assert customer_of(res, "amazon|1") is None and customer_of(res, "amazon|2") is None
    partial = res.customer_identifiers.filter(pl.col("is_partial"))
    assert partial.filter(pl.col("identifier_value") == "138****5678").height == 2  # on both


def test_scoped_identifiers_never_match_across_scopes(rules):
    res = resolve(
        ids_table(
            [
                ("wx|1", "wechat_openid", "oSAME", "app_a"),
                ("wx|2", "wechat_openid", "oSAME", "app_b"),
                ("wx|3", "wechat_openid", "oSAME", "app_a"),
                ("tm|1", "marketplace_buyer_id", "B1", "flagship"),
                ("tm|2", "marketplace_buyer_id", "B1", "global"),
                ("ph|1", "phone", "+8613911112222", "ignored: phones are not scoped"),
                ("ph|2", "phone", "+8613911112222"),
            ]
        ),
        rules,
    )
    assert customer_of(res, "wx|1") == customer_of(res, "wx|3") != customer_of(res, "wx|2")
    assert customer_of(res, "tm|1") != customer_of(res, "tm|2")
    assert customer_of(res, "ph|1") == customer_of(res, "ph|2")
    scopes = set(res.customer_identifiers["scope"].to_list())
    assert {"app_a", "app_b", "flagship", "global", ""} == scopes


def test_an_identifier_seen_with_two_member_numbers_is_shared(rules):
    # a family phone: each member's card at the till with the one household phone
    res = resolve(
        ids_table(
            [
                ("pos|1", "member_card", "668810000001"),
                ("pos|1", "phone", "+8613911112222"),
                ("pos|2", "member_card", "668810000002"),
                ("pos|2", "phone", "+8613911112222"),
                ("web|1", "phone", "+8613911112222"),
                ("web|1", "email", "kid@qq.com"),
            ]
        ),
        rules,
    )
    blocked = res.blocked_identifiers.filter(pl.col("identifier_value") == "+8613911112222")
    assert blocked["reason"].item().startswith("shared: linked to 2 distinct member_no")
    assert len({customer_of(res, r) for r in ("pos|1", "pos|2", "web|1")}) == 3


def test_a_union_that_breaks_a_limit_is_refused_and_audited(rules):
    # two people with one unionid each, joined only by a phone seen once with each:
    # the phone is not shared (one unionid per record) but one person holds one unionid
    res = resolve(
        ids_table(
            [
                ("wx|1", "wechat_unionid", "U1"),
                ("wx|1", "phone", "+8613911112222"),
                ("wx|2", "wechat_unionid", "U2"),
                ("wx|2", "email", "b@qq.com"),
                ("web|1", "email", "b@qq.com"),
                ("web|1", "phone", "+8613911112222"),
            ]
        ),
        rules,
    )
    assert customer_of(res, "wx|1") != customer_of(res, "wx|2")
    (row,) = res.limit_audit.iter_rows(named=True)
    assert row["limit_type"] == "wechat_unionid" and row["max_per_person"] == 1
    assert row["conflicting_values"] == "U1, U2"
    assert {row["customer_id"], row["other_customer_id"]} == {
        customer_of(res, "wx|1"),
        customer_of(res, "wx|2"),
    }
    assert "a customer may hold 1 wechat_unionid" in row["reason"]


def test_openids_roll_up_to_their_unionid_first(rules):
    ids = ids_table(
        [
            ("oa|1", "wechat_openid", "oA", "gh_1"),
            ("oa|1", "wechat_unionid", "U1"),
            ("mp|1", "wechat_openid", "oB", "wx_1"),
            ("mp|1", "wechat_unionid", "U1"),
        ]
    )
    graph = build_graph(ids, rules)
    first = graph.edges.row(0, named=True)
    assert first["tier"] == -1  # the roll-up links come before any record's links
    res = resolve(ids, rules)
    assert customer_of(res, "oa|1") == customer_of(res, "mp|1")


def _random_ids(seed: int, n_records: int = 600, persons: int = 150) -> pl.DataFrame:
    """People with a member number, a unionid, a phone and an e-mail; each record shows two
    of them, and one record in ten borrows somebody else's phone (a family phone)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_records):
        p = int(rng.integers(persons))
        kinds = rng.choice(["member_no", "wechat_unionid", "phone", "email"], 2, replace=False)
        for t in kinds:
            owner = int(rng.integers(persons)) if t == "phone" and rng.random() < 0.1 else p
            rows.append((f"rec|{r}", str(t), f"{t[:2]}{owner}"))
    return ids_table(rows)


def test_the_scipy_fast_path_gives_the_same_clusters_as_plain_union_find(rules):
    for seed in range(5):
        graph = build_graph(_random_ids(seed), rules)
        fast = cluster(graph)
        slow = cluster_union_find(graph)
        assert fast.stats["constrained_components"] > 0  # the limits are exercised
        # same partition (labels may be numbered differently)
        pairs = pl.DataFrame({"a": fast.labels, "b": slow})
        assert pairs.unique().height == pairs["a"].n_unique() == pairs["b"].n_unique()
