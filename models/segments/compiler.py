"""Tag and segment definitions to SQL: the one place SQL is built from a definition.

Safety, by construction:
- every value a definition holds (thresholds, in-lists, tag names and values, day counts,
  the as-of date) is a bound parameter (``$p0``, ``$p1``, …), never text in the SQL;
- every field reaches SQL only if it is a declared column of its scope (the dbt contract of
  the customer table, a fact source's columns, or a metric of the same file), checked in
  :mod:`models.segments.schema` and again here, and is then quoted by DuckDB itself
  (``duckdb.ColumnExpression``);
- metric names are ``[a-z][a-z0-9_]*`` (schema) and quoted the same way.

The fact sources are fixed SQL in this module (real orders only: not test, not flagged, not
brushing, paid/shipped/completed, with a customer).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import duckdb

from models.segments.contract import Contract, contract, customer_contract
from models.segments.schema import (
    NAME,
    All,
    AnyOf,
    Compare,
    Metric,
    Not,
    SegmentDef,
    TagFile,
)

TAGS_TABLE = "segments.customer_tags"
NAME_RE = re.compile(NAME)
# marts.fct_orders.is_real_order: the dbt macro is_real_order (not test, not flagged test, not
# brushing, paid/shipped/completed), computed once in the mart
REAL_ORDER = "{a}.customer_id IS NOT NULL AND {a}.is_real_order"


@dataclass(frozen=True)
class Source:
    """A fact source tags aggregate over: one row per fact, with its customer_id."""

    name: str
    description: str
    sql: str
    columns: dict[str, str]
    time_column: str


@cache
def sources() -> dict[str, Source]:
    orders = contract("fct_orders")
    lines = contract("fct_order_lines")
    real = REAL_ORDER.format(a="o")
    return {
        "orders": Source(
            "orders",
            "real orders (marts.fct_orders: not test, not brushing, paid/shipped/completed)",
            f"SELECT o.* FROM {orders.relation} AS o WHERE {real}",
            dict(orders.columns),
            "order_date",
        ),
        "order_lines": Source(
            "order_lines",
            "lines of real orders (marts.fct_order_lines) with the product's category, "
            "brand line and list price (staging.stg_lake__products)",
            f"SELECT l.*, p.category, p.brand_line, p.list_price FROM {lines.relation} AS l "
            f"JOIN {orders.relation} AS o ON o.channel = l.channel AND o.order_id = l.order_id "
            "LEFT JOIN staging.stg_lake__products AS p ON p.sku = l.sku "
            f"WHERE {real} AND l.customer_id IS NOT NULL",
            {
                **lines.columns,
                "category": "varchar",
                "brand_line": "varchar",
                "list_price": "decimal(18, 2)",
            },
            "order_date",
        ),
        "events": Source(
            "events",
            "behaviour events (staging.stg_lake__events) of identified customers "
            "(identity.record_customers): views, searches, carts, live-room actions",
            "SELECT rc.customer_id, e.channel, e.event_type, e.event_ts, e.business_date, "
            "e.sku, e.live_session_id, e.anchor_id, e.campaign, e.search_query, e.platform "
            "FROM staging.stg_lake__events AS e JOIN identity.record_customers AS rc "
            "ON rc.entity = 'events' AND rc.channel = e.channel AND rc.record_id = e.event_id "
            "WHERE rc.customer_id IS NOT NULL",
            {
                "customer_id": "varchar",
                "channel": "varchar",
                "event_type": "varchar",
                "event_ts": "timestamp",
                "business_date": "date",
                "sku": "varchar",
                "live_session_id": "varchar",
                "anchor_id": "varchar",
                "campaign": "varchar",
                "search_query": "varchar",
                "platform": "varchar",
            },
            "business_date",
        ),
    }


def col(alias: str, name: str) -> str:
    """A column of a relation, quoted by DuckDB (``s."select"``, ``s."a""b"``)."""
    return str(duckdb.ColumnExpression(alias, name))


def ident(name: str) -> str:
    """A validated name ([a-z][a-z0-9_]*) as an identifier, quoted by DuckDB when needed."""
    if not NAME_RE.match(name):
        raise CompileError(f"not a valid name: {name!r}")
    return str(duckdb.ColumnExpression(name))


def metric_type(metric: Metric, fields: dict[str, str]) -> str:
    """The data type of a metric's value, for the checks of conditions that use it."""
    agg = metric.aggregate
    if agg in ("count", "count_distinct", "quantile"):
        return "bigint"
    if agg in ("sum", "avg", "share", "ratio"):
        return "double"
    src = sources().get(metric.from_ or "")
    return (src.columns if src else fields).get(metric.of or "", "")


def numeric_metric(metric: Metric) -> bool:
    return metric.aggregate in ("count", "count_distinct", "sum")


class CompileError(ValueError):
    """A definition that names something its scope does not declare (validation missed it)."""


@dataclass
class Query:
    """SQL with named parameters: pass ``params`` to ``con.execute(sql, params)``."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # DuckDB refuses parameters the statement does not use (an unused as-of date).
        used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", self.sql))
        self.params = {k: v for k, v in self.params.items() if k in used}


class _Builder:
    def __init__(self, as_of: dt.date):
        self.params: dict[str, Any] = {"as_of": as_of}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params) - 1}"
        self.params[name] = value
        return f"${name}"

    def day(self, expr: str) -> str:
        return f"CAST({expr} AS DATE)"

    def condition(self, cond: Any, alias: str, fields: dict[str, str], tags: bool = False) -> str:
        """A boolean SQL expression (never NULL) for a condition over ``alias``."""
        if isinstance(cond, All):
            return (
                "(" + " AND ".join(self.condition(c, alias, fields, tags) for c in cond.all) + ")"
            )
        if isinstance(cond, AnyOf):
            return "(" + " OR ".join(self.condition(c, alias, fields, tags) for c in cond.any) + ")"
        if isinstance(cond, Not):
            return f"(NOT {self.condition(cond.not_, alias, fields, tags)})"
        assert isinstance(cond, Compare)
        if cond.tag is not None:
            if not tags:
                raise CompileError(f"tag {cond.tag!r}: tags are usable in segments only")
            inner = [
                f"t.customer_id = {col(alias, 'customer_id')}",
                f"t.tag = {self.bind(cond.tag)}",
            ]
            if cond.operator is not None:
                numeric = isinstance(cond.operand, int | float) and not isinstance(
                    cond.operand, bool
                )
                value = "TRY_CAST(t.value AS DOUBLE)" if numeric else "t.value"
                operand = cond.operand if numeric else _text(cond.operand)
                inner.append(self._compare(value, cond.operator, operand))
            return f"EXISTS (SELECT 1 FROM {TAGS_TABLE} AS t WHERE {' AND '.join(inner)})"
        if cond.field not in fields:
            raise CompileError(f"unknown field {cond.field!r}")
        return self._compare(col(alias, cond.field), cond.operator, cond.operand)

    def _compare(self, expr: str, op: str, operand: Any) -> str:
        if op == "equals":
            sql = f"{expr} = {self.bind(operand)}"
        elif op == "not_equals":
            return f"({expr} IS DISTINCT FROM {self.bind(operand)})"
        elif op in ("at_least", "at_most", "more_than", "less_than"):
            sign = {"at_least": ">=", "at_most": "<=", "more_than": ">", "less_than": "<"}[op]
            sql = f"{expr} {sign} {self.bind(operand)}"
        elif op == "in":
            sql = f"{expr} IN ({', '.join(self.bind(v) for v in operand)})"
        elif op == "not_in":
            return f"(NOT coalesce({expr} IN ({', '.join(self.bind(v) for v in operand)}), false))"
        elif op == "between":
            sql = f"{expr} BETWEEN {self.bind(operand[0])} AND {self.bind(operand[1])}"
        elif op == "is_null":
            return f"({expr} IS NULL)" if operand else f"({expr} IS NOT NULL)"
        elif op == "within_last_days":
            d = self.day(expr)
            sql = (
                f"{d} > CAST($as_of AS DATE) - CAST({self.bind(operand)} AS INTEGER) "
                f"AND {d} <= CAST($as_of AS DATE)"
            )
        elif op == "more_than_days_ago":
            sql = f"{self.day(expr)} < CAST($as_of AS DATE) - CAST({self.bind(operand)} AS INTEGER)"
        else:  # pragma: no cover - the schema allows no other operator
            raise CompileError(f"unknown operator {op!r}")
        return f"coalesce({sql}, false)"


def _text(operand: Any) -> Any:
    if isinstance(operand, list | tuple):
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in operand]
    return str(operand).lower() if isinstance(operand, bool) else str(operand)


def _metric_cte(b: _Builder, name: str, metric: Metric, cte: str) -> str:
    src = sources()[metric.from_]
    where = ["s.customer_id IS NOT NULL"]
    if metric.where is not None:
        where.append(b.condition(metric.where, "s", src.columns))
    if metric.last_days is not None:
        t = b.day(col("s", src.time_column))
        where.append(
            f"{t} > CAST($as_of AS DATE) - CAST({b.bind(metric.last_days)} AS INTEGER) "
            f"AND {t} <= CAST($as_of AS DATE)"
        )
    for column in (metric.of, metric.over):
        if column is not None and column not in src.columns:
            raise CompileError(f"metric {name!r}: unknown column {column!r} of {src.name}")
    of = col("s", metric.of) if metric.of else None
    body = f"FROM ({src.sql}) AS s WHERE {' AND '.join(where)}"
    agg = metric.aggregate
    if agg == "most_frequent":
        return (
            f'"{cte}" AS (SELECT customer_id, value FROM (SELECT s.customer_id, {of} AS value, '
            f"row_number() OVER (PARTITION BY s.customer_id ORDER BY count(*) DESC, {of}) AS rk "
            f"{body} AND {of} IS NOT NULL GROUP BY s.customer_id, {of}) WHERE rk = 1)"
        )
    expr = {
        "count": "count(*)",
        "count_distinct": f"count(DISTINCT {of})",
        "sum": f"sum({of})",
        "avg": f"avg({of})",
        "min": f"min({of})",
        "max": f"max({of})",
        "share": (
            f"avg(CASE WHEN {b.condition(metric.matching, 's', src.columns)} THEN 1.0 ELSE 0.0 END)"
            if metric.matching is not None
            else ""
        ),
        "ratio": f"sum({of}) / nullif(sum({col('s', metric.over or '')}), 0)",
    }[agg]
    if agg in ("sum", "avg", "share", "ratio"):
        expr = f"CAST({expr} AS DOUBLE)"
    return f'"{cte}" AS (SELECT s.customer_id, {expr} AS value {body} GROUP BY s.customer_id)'


def _scored(b: _Builder, tags: TagFile, customers: Contract) -> tuple[list[str], dict[str, str]]:
    """CTEs up to ``scored``: the customer table, each fact metric joined, then quantiles.
    Returns the CTEs and the fields the tags may use (name -> data type)."""
    fields = dict(customers.columns)
    ctes: list[str] = []
    joins: list[str] = []
    selects = ["c.*"]
    quantiles: list[str] = []
    for i, (name, metric) in enumerate(tags.metrics.items()):
        if name in customers.columns:
            raise CompileError(f"metric {name!r} has the name of a field of {customers.model}")
        if metric.aggregate == "quantile":
            continue
        cte = f"m{i}"
        ctes.append(_metric_cte(b, name, metric, cte))
        joins.append(f'LEFT JOIN "{cte}" ON "{cte}".customer_id = c.customer_id')
        value = f'"{cte}".value'
        if numeric_metric(metric):
            value = f"coalesce({value}, 0)"
        selects.append(f"{value} AS {ident(name)}")
        fields[name] = metric_type(metric, fields)
    for name, metric in tags.metrics.items():
        if metric.aggregate != "quantile":
            continue
        if metric.of not in fields:
            raise CompileError(f"quantile {name!r}: unknown field or metric {metric.of!r}")
        x = col("b", metric.of)
        n = b.bind(metric.n)
        ranked = f"{x} IS NOT NULL"
        if metric.where is not None:
            ranked += f" AND {b.condition(metric.where, 'b', fields)}"
        quantiles.append(
            f"CASE WHEN {ranked} THEN least({n}, 1 + CAST(floor(percent_rank() "
            f"OVER (PARTITION BY {ranked} ORDER BY {x}) * {n}) AS BIGINT)) END "
            f"AS {ident(name)}"
        )
    for name, metric in tags.metrics.items():
        if metric.aggregate == "quantile":
            fields[name] = "bigint"
    ctes.append(
        f"base AS (SELECT {', '.join(selects)} FROM {customers.relation} AS c {' '.join(joins)})"
    )
    ctes.append(f"scored AS MATERIALIZED (SELECT {', '.join(['b.*', *quantiles])} FROM base AS b)")
    return ctes, fields


def compile_tags(tags: TagFile, as_of: dt.date, customers: Contract | None = None) -> Query:
    """``customer_id, tag, value`` for every tag of one file."""
    customers = customers or customer_contract()
    b = _Builder(as_of)
    ctes, fields = _scored(b, tags, customers)
    parts: list[str] = []
    for tag in tags.tags:
        name = b.bind(tag.name)
        if tag.kind == "flag":
            parts.append(
                f"SELECT s.customer_id, {name} AS tag, 'true' AS value FROM scored AS s "
                f"WHERE {b.condition(tag.when, 's', fields)}"
            )
        elif tag.kind == "bucket":
            whens = " ".join(
                f"WHEN {b.condition(bk.when, 's', fields)} THEN {b.bind(bk.value)}"
                for bk in tag.buckets or []
            )
            other = b.bind(tag.otherwise) if tag.otherwise is not None else "NULL"
            parts.append(
                f"SELECT customer_id, {name} AS tag, value FROM (SELECT s.customer_id, "
                f"CAST(CASE {whens} ELSE {other} END AS VARCHAR) AS value FROM scored AS s) "
                "WHERE value IS NOT NULL"
            )
        else:
            if tag.value_of not in fields:
                raise CompileError(f"tag {tag.name!r}: unknown field {tag.value_of!r}")
            x = col("s", tag.value_of)
            if fields[tag.value_of] == "double":
                x = f"round({x}, 4)"
            parts.append(
                f"SELECT s.customer_id, {name} AS tag, CAST({x} AS VARCHAR) AS value "
                f"FROM scored AS s WHERE {col('s', tag.value_of)} IS NOT NULL"
            )
    sql = "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL\n".join(parts)
    return Query(sql, b.params)


def compile_segment(
    segment: SegmentDef, as_of: dt.date, customers: Contract | None = None
) -> Query:
    """``customer_id`` of every member of a segment, over the customer table and the tags."""
    customers = customers or customer_contract()
    b = _Builder(as_of)
    where = b.condition(segment.where, "c", customers.columns, tags=True)
    sql = f"SELECT c.customer_id FROM {customers.relation} AS c WHERE {where}"
    return Query(sql, b.params)
