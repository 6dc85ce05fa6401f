"""The compiler: the SQL it builds is correct on a tiny warehouse, and no value or field name
in a definition can inject SQL (values are bound, fields must be declared columns)."""

from __future__ import annotations

import pytest

from ingest.config import connect
from models.segments.compiler import CompileError, compile_segment, compile_tags
from models.segments.registry import load_all
from models.segments.schema import Compare, SegmentDef, TagFile
from models.segments.store import ensure_schema
from tests.models.segments.conftest import AS_OF
from tests.models.segments.test_schema import profiles

HOSTILE_VALUES = [
    "x'; DROP TABLE marts.dim_customers; --",
    "' OR 1=1 --",
    '"; DELETE FROM marts.fct_orders; --',
    "$as_of",
    "C1' UNION SELECT customer_id FROM marts.dim_customers --",
]
HOSTILE_FIELDS = [
    "orders; DROP TABLE marts.dim_customers",
    'orders" OR 1=1 --',
    "orders--",
    "c.orders",
    "(SELECT 1)",
]


def segment(where: dict) -> SegmentDef:
    return SegmentDef.model_validate(
        {
            "name": "s",
            "description": "a test segment",
            "owner": "me",
            "purpose": "sms",
            "destinations": ["sms"],
            "where": where,
        }  # fmt: skip
    )


def run(path, query):
    con = connect(path)
    try:
        ensure_schema(con)
        return sorted(r[0] for r in con.execute(query.sql, query.params).fetchall())
    finally:
        con.close()


def intact(path) -> tuple[int, int]:
    con = connect(path, read_only=True)
    try:
        return (
            con.execute("SELECT count(*) FROM marts.dim_customers").fetchone()[0],
            con.execute("SELECT count(*) FROM marts.fct_orders").fetchone()[0],
        )
    finally:
        con.close()


def test_segment_sql_selects_the_right_customers(warehouse):
    q = compile_segment(segment({"all": [{"field": "orders", "at_least": 1},
                                         {"field": "last_order_date", "within_last_days": 30}]}),
                        AS_OF)  # fmt: skip
    assert run(warehouse, q) == ["C1", "C2"]
    q = compile_segment(segment({"not": {"field": "channels", "in": ["pos", "jd"]}}), AS_OF)
    assert run(warehouse, q) == ["C1", "C4"]  # C4's channels are null: "not in" holds
    q = compile_segment(segment({"field": "last_order_date", "more_than_days_ago": 180}), AS_OF)
    assert run(warehouse, q) == ["C3"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_values_are_bound_never_spliced(warehouse, value):
    before = intact(warehouse)
    where = {"any": [{"field": "customer_id", "equals": value},
                     {"field": "channels", "in": [value, "also " + value]},
                     {"tag": value, "equals": value}]}  # fmt: skip
    q = compile_segment(segment(where), AS_OF)
    assert value not in q.sql
    assert value in q.params.values()
    assert run(warehouse, q) == []  # a literal string matches nobody
    assert intact(warehouse) == before


@pytest.mark.parametrize("field", HOSTILE_FIELDS)
def test_hostile_field_names_fail_validation_and_compilation(warehouse, tmp_path, field):
    text = (
        "name: s\ndescription: a test segment\nowner: me\npurpose: sms\ndestinations: [sms]\n"
        f"where:\n  field: '{field.replace(chr(39), chr(39) * 2)}'\n  at_least: 1\n"
    )
    root = profiles(tmp_path, {}, {"s": text})
    err = load_all(root).segments[0].error
    assert err is not None and err.issues[0].line == 7
    assert "unknown field" in err.issues[0].message
    with pytest.raises(CompileError):  # even if validation were bypassed
        compile_segment(segment({"field": field, "at_least": 1}), AS_OF)
    assert intact(warehouse) == (4, 5)


def test_hostile_tag_and_metric_names_are_refused_by_the_schema(tmp_path):
    text = (
        "metrics:\n  'x; DROP TABLE t':\n    description: bad\n    aggregate: count\n"
        "    from: orders\ntags:\n  - name: 'a; DROP TABLE t'\n    description: a hostile name\n"
        "    when: {field: orders, at_least: 1}\n"
    )
    root = profiles(tmp_path, {"t": text}, {})
    err = load_all(root).tag_files[0].error
    assert err is not None
    assert any(i.line == 7 and "pattern" in i.message for i in err.issues)
    with pytest.raises(CompileError):
        compile_tags(
            TagFile.model_construct(metrics={"x; DROP TABLE t": _count_metric()}, tags=[]), AS_OF
        )


def _count_metric():
    from models.segments.schema import Metric

    return Metric.model_validate({"description": "orders", "aggregate": "count", "from": "orders"})


def test_tag_file_compiles_windows_quantiles_buckets_and_values(warehouse, tmp_path):
    text = """\
metrics:
  orders_90d: {description: orders 90 days, aggregate: count, from: orders, last_days: 90}
  spend: {description: spend, aggregate: sum, of: net_amount, from: orders}
  top: {description: top channel, aggregate: most_frequent, of: channel, from: orders}
  pos_share: {description: store share, aggregate: share, from: orders, matching: {field: channel, equals: pos}}
  skincare_30d: {description: skincare lines, aggregate: count, from: order_lines, where: {field: category, equals: skincare}, last_days: 30}
  m: {description: money score, aggregate: quantile, of: spend, n: 2, where: {field: spend, more_than: 0}}
tags:
  - {name: active_90d, description: ordered in 90 days, when: {field: orders_90d, at_least: 1}}
  - {name: tier, description: spend buckets here, buckets: [{value: big, when: {field: spend, at_least: 500}}], otherwise: small}
  - {name: channel, description: the top channel, value_of: top}
  - {name: store_only, description: only stores ever, when: {field: pos_share, at_least: 1}}
  - {name: skincare, description: skincare in 30 days, when: {field: skincare_30d, at_least: 1}}
  - {name: m_score, description: money score 1-2, value_of: m}
"""
    root = profiles(tmp_path, {"t": text}, {})
    item = load_all(root).tag_files[0]
    assert item.ok, item.error
    q = compile_tags(item.definition, AS_OF)
    con = connect(warehouse, read_only=True)
    rows = {(c, t, v) for c, t, v in con.execute(q.sql, q.params).fetchall()}
    con.close()
    got = lambda tag: {(c, v) for c, t, v in rows if t == tag}  # noqa: E731
    assert got("active_90d") == {("C1", "true"), ("C2", "true")}
    assert got("tier") == {("C1", "big"), ("C2", "small"), ("C3", "small"), ("C4", "small")}
    assert got("channel") == {("C1", "pos"), ("C2", "pos"), ("C3", "jd")}
    assert got("store_only") == {("C2", "true")}
    assert got("skincare") == {("C1", "true"), ("C2", "true")}
    # percent_rank over 50, 80, 600 is 0, 0.5, 1: scores 1, 2, 2
    assert got("m_score") == {("C1", "2"), ("C2", "1"), ("C3", "2")}


def test_compare_needs_exactly_one_operator():
    with pytest.raises(ValueError, match="one operator per comparison"):
        Compare.model_validate({"field": "orders", "at_least": 1, "at_most": 3})
    with pytest.raises(ValueError, match="needs an operator"):
        Compare.model_validate({"field": "orders"})
