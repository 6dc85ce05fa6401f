"""A new day's identity step resolves only the part of the graph its records can change
(models/identity/incremental.py): every case compares it, row for row, with a full
resolution of the same input with the same Splink model, and checks it resolved a part."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import polars as pl
import pytest

from ingest.config import DataPaths, connect
from ingest.demo.holdback import deliver, hold_back
from ingest.engine import ingest_all
from ingest.spec import load_specs_lenient
from models.identity.attributes import read_lake_attributes
from models.identity.incremental import OUTPUTS, RECORD_KEY, run
from models.identity.warehouse import read_lake_identifiers
from tests.conftest import DEMO_SCALE
from tests.models.identity.conftest import ids_table
from tests.models.identity.test_names_and_tiers import _marketplace_demo, attributes

DAY0 = dt.datetime(2025, 3, 1, 6)
DAY1 = dt.datetime(2025, 3, 2, 6)
SHA = "rules"


def _tables(con, run_at) -> dict[str, pl.DataFrame]:
    out = {t: con.execute(f"select * from identity.{t} order by all").pl() for t in OUTPUTS}
    out["identity_merges"] = con.execute(
        "select * exclude (run_at) from identity.identity_merges where run_at = ? order by all",
        [run_at],
    ).pl()
    return out


def _assert_same(inc, ref, run_at=DAY1) -> None:
    a, b = _tables(inc, run_at), _tables(ref, run_at)
    for table in a:
        assert a[table].equals(b[table]), (table, a[table], b[table])


def _days(rules, ids0, ids1, attrs0=None, attrs1=None, model=None):
    """Day 0 resolved in full in two warehouses; day 1 incrementally in one and in full in
    the other. Returns (outcome, incremental warehouse, full warehouse, day 0's outcome)."""
    inc, ref = duckdb.connect(), duckdb.connect()
    zero = run(inc, ids0, attrs0, rules, SHA, model, DAY0, incremental=False)
    if model is None and zero.linked.get("splink", {}).get("trained"):
        model = zero.linked["splink"]["model"]  # the model day 0 trained, as the store keeps it
    run(ref, ids0, attrs0, rules, SHA, model, DAY0, incremental=False)
    out = run(inc, ids1, attrs1, rules, SHA, model, DAY1)
    run(ref, ids1, attrs1, rules, SHA, model, DAY1, incremental=False)
    assert out.mode == "incremental", out.reason
    _assert_same(inc, ref)
    return out, inc, ref, zero


def _customers(con, *records: str) -> list[str | None]:
    frame = con.execute(
        f"select {RECORD_KEY} as r, customer_id from identity.record_customers"
    ).pl()
    got = dict(frame.iter_rows())
    return [got.get(r) for r in records]


def _base() -> list[tuple]:
    """Small customers, each its own component, and the cases' seeds."""
    rows = []
    for i in range(30):
        rows += [(f"crm|z{i}", "member_no", f"M9{i:04d}"), (f"crm|z{i}", "phone", f"+86139{i:08d}")]
        rows += [(f"web|z{i}", "phone", f"+86139{i:08d}"), (f"web|z{i}", "email", f"z{i}@x.cn")]
    rows += [
        ("web|x1", "email", "x@x.cn"),
        ("web|x1", "device_id", "DX"),
        ("app|y1", "device_id", "DY"),
        ("app|y1", "phone", "+8613700000001"),
        # a device on one member's record: not yet shared (a member card may be one)
        ("pos|s1", "member_no", "MS1"),
        ("pos|s1", "device_id", "DS"),
        ("web|s2", "device_id", "DS"),
        ("web|s2", "email", "s2@x.cn"),
    ]
    return rows


def _ids(rows: list[tuple]) -> pl.DataFrame:
    frame = ids_table(rows)
    return frame.with_columns(pl.col("record").str.split("|").list.first().alias("channel"))


def test_a_new_record_bridging_two_customers_merges_them(rules):
    base = _base()
    out, inc, _, _ = _days(
        rules, _ids(base), _ids(base + [("web|n1", "email", "x@x.cn"),
                                        ("web|n1", "phone", "+8613700000001")])
    )  # fmt: skip
    merges = inc.execute("select kind from identity.identity_merges").pl()["kind"].to_list()
    assert merges == ["merge"]
    x, y, n = _customers(inc, "web|x1", "app|y1", "web|n1")
    assert x == y == n is not None
    assert out.records_resolved == 3 < out.records_total  # x1, y1 and the new record


def test_a_new_record_making_an_identifier_shared_splits_its_customer(rules):
    base = _base()
    day1 = base + [("pos|s5", "member_no", "MS5"), ("pos|s5", "device_id", "DS")]
    out, inc, _, _ = _days(rules, _ids(base), _ids(day1))
    blocked = inc.execute("select identifier_value, reason from identity.blocked_identifiers")
    assert dict(blocked.fetchall())["DS"].startswith("shared")
    s1, s2 = _customers(inc, "pos|s1", "web|s2")
    assert s1 != s2
    kinds = inc.execute("select kind from identity.identity_merges").pl()["kind"].to_list()
    assert "split" in kinds
    assert out.records_resolved == 3 < out.records_total


def test_an_identifier_shared_before_stays_blocked_when_a_part_of_its_records_is_resolved(
    rules,
):
    """A device on two members' records is shared: a new record of one of them resolves
    that member's component again, where the device is on one member's record only."""
    base = _base() + [
        ("pos|v1", "member_no", "MV1"),
        ("pos|v1", "device_id", "DV"),
        ("pos|v2", "member_no", "MV2"),
        ("pos|v2", "device_id", "DV"),
    ]
    day1 = base + [("web|n3", "member_no", "MV1"), ("web|n3", "email", "v@x.cn")]
    out, inc, _, _ = _days(rules, _ids(base), _ids(day1))
    blocked = inc.execute("select identifier_value from identity.blocked_identifiers").pl()
    assert "DV" in blocked["identifier_value"].to_list()
    assert out.records_resolved == 2  # pos|v1 and the new record: pos|v2 is apart


def test_an_identifier_a_record_kept_becomes_shared_when_the_record_gains_a_member(rules):
    """web|w2 keeps its device and gains a member card: the device is now on two members'
    records (shared), though no row of the device changed."""
    base = _base() + [
        ("pos|w1", "member_no", "MW1"),
        ("pos|w1", "device_id", "DW"),
        ("web|w2", "device_id", "DW"),
        ("web|w2", "email", "w2@x.cn"),
    ]
    day1 = base + [("web|w2", "member_no", "MW2")]
    out, inc, _, _ = _days(rules, _ids(base), _ids(day1))
    blocked = inc.execute("select identifier_value from identity.blocked_identifiers").pl()
    assert "DW" in blocked["identifier_value"].to_list()
    assert out.records_resolved == 2


def test_a_corrected_old_record_is_resolved_again(rules):
    base = _base()
    # web|z3 now shows customer z4's phone (a corrected export), web|z5 lost its e-mail
    day1 = [r for r in base if r[0] not in ("web|z3",) and r != ("web|z5", "email", "z5@x.cn")]
    day1 += [("web|z3", "phone", "+8613900000004"), ("web|z3", "email", "z3@x.cn")]
    out, inc, _, _ = _days(rules, _ids(base), _ids(day1))
    z3, z4, c3 = _customers(inc, "web|z3", "crm|z4", "crm|z3")
    assert z3 == z4 != c3
    assert out.records_resolved == 6  # z3's, z4's and z5's customers: two records each


def test_a_gone_record_is_resolved_again(rules):
    base = _base()
    day1 = [r for r in base if r[0] != "web|s2"]
    out, inc, _, _ = _days(rules, _ids(base), _ids(day1))
    assert _customers(inc, "web|s2") == [None]
    assert out.records_resolved == 2


def test_a_probabilistic_link_from_a_new_record_to_an_old_customer(rules):
    ids, names = _marketplace_demo(n=120)
    ids = ids.with_columns(pl.col("record").str.split("|").list.first().alias("channel"))
    new = ["jd|7", "jd|11"]
    ids0 = ids.filter(~pl.col("record").is_in(new))
    names0 = names.filter(~pl.col("record").is_in(new))
    out, inc, _, _ = _days(rules, ids0, ids, names0, names)
    assert _customers(inc, "jd|7")[0] == _customers(inc, "crm|7")[0] is not None
    tiers = inc.execute(
        f"select link_tier from identity.identifier_links where {RECORD_KEY} = 'jd|7'"
    ).fetchall()
    assert tiers == [("probabilistic",)]
    assert out.records_resolved < out.records_total / 10


def test_a_new_record_that_makes_an_old_link_ambiguous(rules):
    """A new customer with the visible digits and initial of an old masked record's
    customer: the old record's link is dropped (a candidate two customers match stays
    apart), though no identifier joins it to the new records."""
    ids, names = _marketplace_demo(n=120)
    ids = ids.with_columns(pl.col("record").str.split("|").list.first().alias("channel"))
    phone = ids.filter((pl.col("record") == "crm|9") & (pl.col("identifier_type") == "phone"))
    full = phone["identifier_value"].item()
    twin = full[:6] + ("0000" if full[6:10] != "0000" else "1111") + full[10:]
    initial = names.filter(pl.col("record") == "jd|9")["initials"].item()
    ids1 = pl.concat(
        [ids, _ids([("crm|twin", "member_no", "778899999999"), ("crm|twin", "phone", twin)])],
        how="diagonal_relaxed",
    )
    names1 = pl.concat([names, attributes([("crm|twin", initial + "某某")])], how="diagonal")
    out, inc, _, zero = _days(rules, ids, ids1, names, names1)
    assert zero.resolution.records.filter(pl.col("record") == "jd|9")["customer_id"].item() == (
        zero.resolution.records.filter(pl.col("record") == "crm|9")["customer_id"].item()
    )
    jd9, crm9 = _customers(inc, "jd|9", "crm|9")
    assert jd9 != crm9
    assert out.records_resolved < out.records_total / 10


def test_a_partial_identifier_takes_the_tier_of_its_own_customer(rules):
    """A masked phone on a member's record and on a marketplace order linked
    probabilistically to another customer: resolving the member again does not see that
    link, and must not need it."""
    ids, names = _marketplace_demo(n=60)
    masked = ids.filter(pl.col("record") == "jd|5").filter(pl.col("is_partial"))
    value = masked["identifier_value"].item()
    extra = [("web|q", "member_no", "MQ1"), ("web|q", "phone", value, None, True)]
    ids0 = pl.concat([ids, ids_table(extra)])
    ids1 = pl.concat([ids0, ids_table([("web|q2", "member_no", "MQ1")])])
    ids0, ids1 = (f.with_columns(pl.col("record").str.split("|").list.first().alias("channel"))
                  for f in (ids0, ids1))  # fmt: skip
    out, inc, _, _ = _days(rules, ids0, ids1, names, names)
    tiers = inc.execute(
        "select c.link_tier from identity.customer_identifiers c join identity.record_customers"
        f" r using (customer_id) where {RECORD_KEY} = 'web|q' and c.identifier_value = ?",
        [value],
    ).fetchall()
    assert tiers == [("deterministic",)]
    assert out.records_resolved == 2


def test_the_name_audit_of_a_component_reads_its_own_records(rules):
    """The same name spelt two ways in two customers: a refusal shows the spelling of its
    own component, whatever other components hold."""
    base = _base() + [
        ("pos|n1", "member_no", "MN1"),
        ("pos|n1", "phone", "+8613500000001"),
        ("web|n2", "phone", "+8613500000001"),
        ("web|n2", "email", "n2@x.cn"),
        ("crm|n9", "member_no", "MN9"),
    ]
    names = attributes([("pos|n1", "宋子"), ("web|n2", "潘杰"), ("crm|n9", "子 宋")])
    day1 = base + [("web|n3", "member_no", "MN1"), ("web|n3", "email", "n3@x.cn")]
    out, inc, _, _ = _days(rules, _ids(base), _ids(day1), names, names)
    reasons = inc.execute("select reason from identity.limit_audit").pl()["reason"].to_list()
    assert reasons and all("宋子" in r for r in reasons), reasons
    assert out.records_resolved == 3


def test_a_record_whose_name_changed_is_resolved_again(rules):
    """Only a name changes (a corrected CRM row): the name rule no longer refuses the
    phone, and the two records become one customer."""
    base = _base() + [
        ("pos|n1", "member_no", "MN1"),
        ("pos|n1", "phone", "+8613500000001"),
        ("web|n2", "phone", "+8613500000001"),
        ("web|n2", "email", "n2@x.cn"),
    ]
    names0 = attributes([("pos|n1", "宋子"), ("web|n2", "潘杰")])
    names1 = attributes([("pos|n1", "潘杰"), ("web|n2", "潘杰")])
    out, inc, _, zero = _days(rules, _ids(base), _ids(base), names0, names1)
    assert zero.resolution.limit_audit.height
    n1, n2 = _customers(inc, "pos|n1", "web|n2")
    assert n1 == n2 is not None
    assert out.records_resolved == 2


def test_a_run_without_new_records_writes_nothing(rules):
    base = _ids(_base())
    inc = duckdb.connect()
    run(inc, base, None, rules, SHA, None, DAY0, incremental=False)
    before = _tables(inc, DAY0)
    out = run(inc, base, None, rules, SHA, None, DAY1)
    assert out.mode == "incremental" and out.written == {} and out.records_resolved == 0
    assert inc.execute("select count(*) from identity.identity_merges").fetchone()[0] == 0
    after = _tables(inc, DAY0)
    assert all(before[t].equals(after[t]) for t in before)


@pytest.fixture(scope="module")
def marketplace40(rules):
    """The marketplace demo of 40 customers and the Splink model a full run trains on it
    (once: the cases below start from it; the "model" case trains on its own run)."""
    ids, names = _marketplace_demo(n=40)
    ids = ids.with_columns(pl.col("record").str.split("|").list.first().alias("channel"))
    zero = run(duckdb.connect(), ids, names, rules, SHA, None, DAY0, incremental=False)
    assert zero.linked["splink"]["trained"]
    return ids, names, zero.linked["splink"]["model"]


@pytest.mark.parametrize(
    "change, reason",
    [
        ("rules", "the rules file changed"),
        ("model", "the Splink model is trained on this run"),
        ("edit", "the identity tables changed since the previous run wrote them"),
        ("full", "asked for a full resolution"),
    ],
)
def test_what_cannot_be_done_in_part_is_done_in_full_with_the_reason(
    rules, marketplace40, change, reason
):
    ids, names, model = marketplace40
    con = duckdb.connect()
    zero = run(con, ids, names, rules, SHA, model, DAY0, incremental=False)
    assert zero.linked["splink"]["trained"] is False  # the module's model, predicted with
    sha, kwargs = SHA, {}
    if change == "rules":
        sha = "other rules"
    elif change == "model":
        model = None
    elif change == "edit":
        con.execute("delete from identity.record_customers where rowid = 0")
    else:
        kwargs = {"incremental": False}
    out = run(con, ids, names, rules, sha, model, DAY1, **kwargs)
    assert out.mode == "full" and reason in out.reason


@pytest.fixture(scope="module")
def demo_days(tiny_demo, tmp_path_factory):
    """The tiny demo's lake without its last day, then with it (and an old record
    corrected: one identifier gone, one changed)."""
    specs = load_specs_lenient()[0]
    paths = DataPaths(tmp_path_factory.mktemp("identity_incremental") / "data")
    shutil.copytree(tiny_demo.landing, paths.landing)
    last = dt.date(2024, 11, 1) + dt.timedelta(days=DEMO_SCALE["days"] - 1)
    assert hold_back(paths.root, last)

    def read():
        ingest_all(specs, paths, workers=1)
        ids = read_lake_identifiers(paths.lake_raw).drop("entity", "record_id", "source_file")
        con = connect()
        try:
            return ids, read_lake_attributes(con, paths.lake_raw)
        finally:
            con.close()

    day0 = read()
    deliver(paths.root)
    ids1, attrs1 = read()
    # a correction of an old record: one of its identifiers gone, another changed
    old = day0[0].group_by("record").len().filter(pl.col("len") >= 3)["record"].sort()
    a, b = old[0], old[1]
    dropped = ids1.filter(pl.col("record") == a).sort("identifier_type").row(0)
    ids1 = ids1.filter(~pl.all_horizontal(pl.col(c) == v for c, v in zip(
        ids1.columns, dropped, strict=True) if v is not None))  # fmt: skip
    ids1 = ids1.with_columns(
        pl.when(pl.col("record") == b)
        .then(pl.col("identifier_value") + "9")
        .otherwise(pl.col("identifier_value"))
        .alias("identifier_value")
    )
    return day0, (ids1, attrs1)


def test_the_demo_with_its_last_day_held_back(rules, demo_days):
    (ids0, attrs0), (ids1, attrs1) = demo_days
    new = ids1.join(ids0, on=ids1.columns, how="anti", nulls_equal=True)["record"].n_unique()
    assert new > 20
    out, inc, ref, zero = _days(rules, ids0, ids1, attrs0, attrs1)
    assert zero.linked["links"] > 0 and out.linked["links"] > 0  # the tier is exercised
    assert out.records_resolved < out.records_total
    # a second incremental day on the state the first wrote: nothing new, nothing written
    again = run(inc, ids1, attrs1, rules, SHA, zero.linked["splink"]["model"], DAY1)
    assert again.mode == "incremental" and again.written == {}
    _assert_same(inc, ref)


def test_a_run_that_stops_half_way_leaves_the_previous_tables_and_state(rules, monkeypatch):
    import models.identity.incremental as incremental

    base = _ids(_base())
    con = duckdb.connect()
    run(con, base, None, rules, SHA, None, DAY0, incremental=False)
    before = _tables(con, DAY0)
    state = con.execute("select * from identity.state_inputs order by all").pl()

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(incremental, "_replace_state", stop)
    day1 = _ids(_base() + [("web|n1", "email", "x@x.cn"), ("web|n1", "phone", "+8613700000001")])
    with pytest.raises(KeyboardInterrupt):
        run(con, day1, None, rules, SHA, None, DAY1)
    after = _tables(con, DAY0)
    assert all(before[t].equals(after[t]) for t in before)
    assert con.execute("select * from identity.state_inputs order by all").pl().equals(state)
    assert con.execute("select count(*) from identity.identity_merges").fetchone()[0] == 0
