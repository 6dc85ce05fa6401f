"""The name rule (a weak link never joins two differently named persons) and the
probabilistic tier (masked marketplace receivers linked by Splink only on strong evidence),
on small tables written or generated here."""

from __future__ import annotations

import numpy as np
import polars as pl

from models.identity.attributes import name_keys
from models.identity.marketplace import marketplace_links, resolve_linked
from models.identity.resolve import resolve
from tests.models.identity.conftest import customer_of, ids_table


def attributes(rows: list[tuple[str, str]]) -> pl.DataFrame:
    """(record, raw name) -> record, name_key, initials."""
    frame = pl.DataFrame(rows, schema={"record": pl.String, "raw": pl.String}, orient="row")
    key, initials = name_keys(pl.col("raw"))
    return frame.select(
        "record", pl.col("raw").alias("name"), key.alias("name_key"), initials.alias("initials")
    )


def test_name_keys_ignore_order_width_and_symbols():
    out = attributes(
        [("a", "陆佳"), ("b", "佳 陆"), ("c", "Ｍｉａ Clark😀"), ("d", "clark  mia"), ("e", "王**")]
    )
    keys = dict(out.select("record", "name_key").iter_rows())
    assert keys["a"] == keys["b"] and keys["c"] == keys["d"] == "clark mia"
    assert keys["e"] is None  # masked: never a full name
    assert out.filter(pl.col("record") == "e")["initials"].item() == "王"


FAMILY = [
    ("crm|mother", "member_no", "668810000001"),
    ("crm|mother", "phone", "+8613911112222"),
    ("wechat|daughter", "wechat_openid", "oAbc123", "wx-shop"),
    ("wechat|daughter", "phone", "+8613911112222"),
    ("crm|consent", "phone", "+8613911112222"),
]


def test_a_family_phone_does_not_join_two_named_persons(rules):
    names = attributes([("crm|mother", "魏露艳"), ("wechat|daughter", "邓颖伟")])
    res = resolve(ids_table(FAMILY), rules, attributes=names)
    assert customer_of(res, "crm|mother") != customer_of(res, "wechat|daughter")
    audit = res.limit_audit.filter(pl.col("limit_type") == "name")
    assert audit.height == 1
    assert audit["identifier_value"].item() == "+8613911112222"
    assert "魏露艳" in audit["reason"].item() and "邓颖伟" in audit["reason"].item()
    # the consent names nobody: it follows the phone
    assert customer_of(res, "crm|consent") is not None


def test_one_person_named_twice_is_still_one_customer(rules):
    names = attributes([("crm|mother", "魏露艳"), ("wechat|daughter", "露艳 魏")])
    res = resolve(ids_table(FAMILY), rules, attributes=names)
    assert customer_of(res, "crm|mother") == customer_of(res, "wechat|daughter")
    assert res.limit_audit.is_empty()


def test_a_strong_identifier_is_trusted_over_names(rules):
    rows = [
        ("crm|1", "member_no", "668810000001"),
        ("pos|1", "member_card", "668810000001"),
    ]
    names = attributes([("crm|1", "魏露艳"), ("pos|1", "邓颖伟")])
    res = resolve(ids_table(rows), rules, attributes=names)
    assert customer_of(res, "crm|1") == customer_of(res, "pos|1")


SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂")


def _marketplace_demo(n: int = 400, seed: int = 5):
    """n customers with a member number, a full phone and a name; a marketplace order of
    each of the first half, showing only the masked phone and the masked name; plus the
    baits: an order whose initial disagrees, an order without a name, and two customers
    whose masked phones and initials collide."""
    rng = np.random.default_rng(seed)
    rows, names, full = [], [], {}
    phones = rng.choice(np.arange(10**7, 10**8), size=n, replace=False)
    for i in range(n):
        phone = f"1{rng.choice([35, 36, 38, 39, 50, 58, 86, 88])}{phones[i]:08d}"
        name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(rng.choice(GIVEN, 2))
        full[i] = phone
        rows += [(f"crm|{i}", "member_no", f"7788{i:08d}"), (f"crm|{i}", "phone", "+86" + phone)]
        names.append((f"crm|{i}", name))
        if i < n // 2:
            masked = phone[:3] + "****" + phone[-4:]
            rows += [
                (f"jd|{i}", "marketplace_buyer_id", f"jd_{i:06d}", "jd"),
                (f"jd|{i}", "phone", masked, None, True),
            ]
            names.append((f"jd|{i}", name[0] + "*"))

    # bait 1: the right masked phone of customer 0, another initial
    def masked(i: int) -> str:
        return full[i][:3] + "****" + full[i][-4:]

    initial = {r: nm[0] for r, nm in names}
    other = next(s for s in SURNAMES if s != initial["crm|0"])
    rows += [("jd|wrong-name", "phone", masked(0), None, True)]
    names.append(("jd|wrong-name", other + "*"))
    # bait 2: customer 1's masked phone, no name at all
    rows += [("jd|no-name", "phone", masked(1), None, True)]
    # bait 3: a customer n with customer 2's visible digits and initial (a collision)
    twin = full[2][:3] + ("0000" if full[2][3:7] != "0000" else "1111") + full[2][7:]
    rows += [(f"crm|{n}", "member_no", f"7788{n:08d}"), (f"crm|{n}", "phone", "+86" + twin)]
    names.append((f"crm|{n}", initial["crm|2"] + "某某"))
    return ids_table(rows), attributes(names)


def test_masked_receivers_link_only_on_strong_unambiguous_evidence(rules):
    ids, names = _marketplace_demo()
    first = resolve(ids, rules, attributes=names)
    links, stats = marketplace_links(first, names, threshold=rules.probabilistic.threshold)
    linked = dict(links.select("record_l", "record_r").iter_rows())
    # the plain receivers: linked to their own customer, with a weight
    right = [i for i in range(3, 200) if linked.get(f"jd|{i}") == f"crm|{i}"]
    assert len(right) >= 190, stats
    assert all(a.split("|")[1] == b.split("|")[1] for a, b in linked.items()), linked
    assert links["match_probability"].min() >= rules.probabilistic.threshold
    assert links["match_weight"].is_not_null().all()
    # baits: a disagreeing initial, no name, a collision between two customers
    assert "jd|wrong-name" not in linked and "jd|no-name" not in linked
    assert "jd|2" not in linked and stats["ambiguous_candidates"] >= 1


def test_link_tiers_reach_the_tables(rules):
    ids, names = _marketplace_demo(n=300)
    final, links, tiers, stats = resolve_linked(ids, rules, attributes=names)
    assert stats["links"] == links.height > 0
    assert customer_of(final, "jd|10") == customer_of(final, "crm|10")
    tier = dict(tiers.select("record", "link_tier").iter_rows())
    assert tier["jd|10"] == "probabilistic" and tier["crm|10"] == "deterministic"
    weight = tiers.filter(pl.col("record") == "jd|10")["match_weight"].item()
    assert weight > 0
    ci = final.customer_identifiers
    jd = ci.filter(pl.col("identifier_value") == "jd_000010")
    assert jd["link_tier"].item() == "probabilistic" and jd["match_weight"].item() == weight
    member = ci.filter(pl.col("identifier_value") == "778800000010")
    assert member["link_tier"].item() == "deterministic"
    # without the probabilistic tier the marketplace buyer stays apart
    off = rules.model_copy(
        update={"probabilistic": rules.probabilistic.model_copy(update={"enabled": False})}
    )
    alone, _, off_tiers, _ = resolve_linked(ids, off, attributes=names)
    assert customer_of(alone, "jd|10") != customer_of(alone, "crm|10")
    assert set(off_tiers["link_tier"].drop_nulls()) == {"deterministic"}


DISTRICTS = ["西湖区", "滨江区", "上城区", "拱墅区", "余杭区", "萧山区", "临平区", "钱塘区"]


def _with_addresses(names: pl.DataFrame, seed: int = 9) -> pl.DataFrame:
    """Each customer's records (crm|i, jd|i) one delivery district; the twin of the collision
    bait (the last customer) lives elsewhere than customer 2."""
    rng = np.random.default_rng(seed)
    person = pl.col("record").str.split("|").list.last()
    ids = names.select(person.unique()).to_series().to_list()
    where = {p: DISTRICTS[rng.integers(len(DISTRICTS))] for p in ids}
    twin = max(int(p) for p in ids if p.isdigit())
    where[str(twin)] = next(d for d in DISTRICTS if d != where["2"])
    return names.with_columns(
        pl.lit("浙江 杭州").alias("city"),
        person.replace_strict(where, default=None).alias("district"),
    )


def test_the_delivery_address_settles_a_collision(rules):
    ids, names = _marketplace_demo()
    names = _with_addresses(names)
    first = resolve(ids, rules, attributes=names)
    # names and digits alone: two customers match one receiver, which stays apart
    blind = rules.probabilistic.model_copy(update={"compare_address": False})
    links, stats = marketplace_links(first, names, blind.threshold, rule=blind)
    assert "jd|2" not in dict(links.select("record_l", "record_r").iter_rows())
    assert stats["ambiguous_candidates"] >= 1 and not stats["address_compared"]
    # with the address, the twin living elsewhere falls below the threshold
    links2, stats2 = marketplace_links(first, names, rules.probabilistic.threshold)
    linked2 = dict(links2.select("record_l", "record_r").iter_rows())
    assert linked2.get("jd|2") == "crm|2" and stats2["address_compared"]
    assert all(a.split("|")[1] == b.split("|")[1] for a, b in linked2.items())
    assert "jd|wrong-name" not in linked2 and "jd|no-name" not in linked2
    assert "delivery address 浙江 杭州" in links2["evidence"][0]


def test_merges_say_whether_a_probabilistic_link_made_them(rules):
    ids, names = _marketplace_demo(n=300)
    off = rules.model_copy(
        update={"probabilistic": rules.probabilistic.model_copy(update={"enabled": False})}
    )
    day1, _, _, _ = resolve_linked(ids, off, attributes=names)
    # day 2: the probabilistic tier is on, and a new order carries customer 20's JD pin beside
    # the full phone of customer 20 (a deterministic merge)
    more = pl.concat(
        [
            ids,
            ids_table(
                [
                    ("jd|x", "marketplace_buyer_id", "jd_000020", "jd"),
                    ("jd|x", "phone", "+86" + _phone_of(ids, "crm|20")),
                ]
            ),
        ]
    )
    day2, links, _, _ = resolve_linked(
        more, rules, previous=day1.customer_identifiers, attributes=names
    )
    merges = day2.merges.filter(pl.col("kind") == "merge")
    tiers = dict(
        zip(merges["from_customer_id"].to_list(), merges["link_tier"].to_list(), strict=True)
    )
    pair = sorted([customer_of(day1, "jd|10"), customer_of(day1, "crm|10")])
    assert tiers[pair[1]] == "probabilistic"  # the newer id merges into the older
    row = merges.filter(pl.col("from_customer_id") == pair[1]).row(0, named=True)
    assert row["to_customer_id"] == pair[0]
    assert row["match_weight"] > 0 and row["evidence"].startswith("probabilistic link")
    assert "masked phone" in row["evidence"]
    newer = max(customer_of(day1, "crm|20"), customer_of(day1, "jd|20"))
    assert tiers[newer] == "deterministic"
    assert merges.filter(pl.col("link_tier") == "deterministic")["match_weight"].is_null().all()
    assert set(tiers.values()) == {"deterministic", "probabilistic"}


def _phone_of(ids: pl.DataFrame, record: str) -> str:
    return ids.filter((pl.col("record") == record) & (pl.col("identifier_type") == "phone"))[
        "identifier_value"
    ].item()[3:]


def test_two_masked_records_link_on_an_agreeing_address_but_a_ring_does_not(rules):
    ids, names = _marketplace_demo()
    names = _with_addresses(names)
    # a buyer seen only on marketplaces: JD and Douyin orders, both masked, one address
    extra = [
        ("jd|solo", "marketplace_buyer_id", "jd_solo", "jd"),
        ("jd|solo", "phone", "139****2468", None, True),
        ("douyin|solo", "marketplace_buyer_id", "dy_solo", "douyin_shop"),
        ("douyin|solo", "phone", "139****2468", None, True),
        ("douyin|moved", "marketplace_buyer_id", "dy_moved", "douyin_shop"),
        ("douyin|moved", "phone", "139****2468", None, True),
    ]
    extra_names = [("jd|solo", "孙*", "滨江区"), ("douyin|solo", "孙**", "滨江区")]
    extra_names.append(("douyin|moved", "孙**", "萧山区"))  # same digits, another address
    # a brushing ring: five throw-away accounts, one masked phone, one name, one address
    for k in range(5):
        extra += [
            (f"tmall|ring{k}", "marketplace_buyer_id", f"t_ring{k}", "flagship"),
            (f"tmall|ring{k}", "phone", "157****1234", None, True),
        ]
        extra_names.append((f"tmall|ring{k}", "王先生"[:1] + "**", "义乌市"))
    more_names = attributes([(r, n) for r, n, _ in extra_names]).with_columns(
        pl.lit("浙江 杭州").alias("city"),
        pl.Series("district", [d for _, _, d in extra_names]),
    )
    ids = pl.concat([ids, ids_table(extra)])
    names = pl.concat([names, more_names], how="diagonal_relaxed")
    final, links, _, stats = resolve_linked(ids, rules, attributes=names)
    assert customer_of(final, "jd|solo") == customer_of(final, "douyin|solo")
    assert customer_of(final, "douyin|moved") != customer_of(final, "jd|solo")
    ring = {customer_of(final, f"tmall|ring{k}") for k in range(5)}
    assert len(ring) == 5  # a shared pattern links nothing
    assert stats["links_between_masked_records"] >= 1
    evidence = links.filter(pl.col("evidence").str.contains("another masked"))["evidence"]
    assert evidence.str.contains("139\\*\\*\\*\\*2468").any()
