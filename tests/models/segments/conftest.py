"""A tiny warehouse for the segment tests: the contracted marts created from their dbt
contracts (so a column the contract drops breaks these tests too), and the staging and
identity tables tags and consent read, with a few hand-written rows."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.canonical import CONSENT_PURPOSES
from ingest.config import connect
from models.segments.contract import contract, customer_contract

AS_OF = dt.date(2025, 3, 31)


def create_from_contract(con, model: str) -> None:
    c = contract(model)
    cols = ", ".join(f'"{n}" {t or "VARCHAR"}' for n, t in c.columns.items())
    con.execute(f"CREATE TABLE {c.relation} ({cols})")


def insert(con, table: str, rows: list[dict]) -> None:
    for row in rows:
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join(f"${k}" for k in row)
        con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", row)


CUSTOMERS = [
    # c1: phone + email, repeat buyer; c2: phone only; c3: masked phone; c4: never ordered
    {"customer_id": "C1", "phone": "+8613800138001", "phone_is_masked": False,
     "email": "alice@example.com", "email_is_masked": False, "orders": 3,
     "first_order_date": dt.date(2025, 1, 5), "last_order_date": dt.date(2025, 3, 20),
     "channels_used": 2, "channels": "pos,tmall"},
    {"customer_id": "C2", "phone": "+8613900139002", "phone_is_masked": False,
     "email": None, "email_is_masked": False, "orders": 1,
     "first_order_date": dt.date(2025, 3, 10), "last_order_date": dt.date(2025, 3, 10),
     "channels_used": 1, "channels": "pos"},
    {"customer_id": "C3", "phone": "137****0003", "phone_is_masked": True,
     "email": "carol@example.com", "email_is_masked": False, "orders": 1,
     "first_order_date": dt.date(2024, 6, 1), "last_order_date": dt.date(2024, 6, 1),
     "channels_used": 1, "channels": "jd"},
    {"customer_id": "C4", "phone": None, "phone_is_masked": False, "email": None,
     "email_is_masked": False, "orders": 0, "first_order_date": None,
     "last_order_date": None, "channels_used": 0, "channels": None},
]  # fmt: skip

ORDERS = [
    ("C1", "pos", "o1", dt.date(2025, 1, 5), 100.0, "CNY"),
    ("C1", "tmall", "o2", dt.date(2025, 2, 15), 200.0, "CNY"),
    ("C1", "pos", "o3", dt.date(2025, 3, 20), 300.0, "CNY"),
    ("C2", "pos", "o4", dt.date(2025, 3, 10), 50.0, "CNY"),
    ("C3", "jd", "o5", dt.date(2024, 6, 1), 80.0, "CNY"),
]


@pytest.fixture
def warehouse(tmp_path):
    """A DuckDB file with the tables tags, segments and exports read."""
    path = tmp_path / "warehouse.duckdb"
    con = connect(path)
    for schema in ("marts", "staging", "identity"):
        con.execute(f"CREATE SCHEMA {schema}")
    for model in {customer_contract().model, "dim_customers", "fct_orders", "fct_order_lines"}:
        create_from_contract(con, model)
    insert(con, "marts.dim_customers", CUSTOMERS)
    customers = customer_contract()
    if customers.model != "dim_customers":
        insert(con, customers.relation, [
            {k: v for k, v in c.items() if k in customers.columns} for c in CUSTOMERS
        ])  # fmt: skip
    # the marketers' view (dbt builds it with the masking macros, pinned by a dbt unit test)
    con.execute("CREATE SCHEMA marts_masked")
    con.execute(
        "CREATE VIEW marts_masked.dim_customers AS SELECT customer_id, "
        "CASE WHEN phone LIKE '+86%' THEN substr(phone, 4, 3) || '****' || substr(phone, 11, 4) "
        "ELSE phone END AS phone, substr(email, 1, 1) || '***@' || split_part(email, '@', 2) "
        "AS email FROM marts.dim_customers"
    )
    for cid, channel, oid, day, amount, cur in ORDERS:
        insert(con, "marts.fct_orders", [{
            "channel": channel, "order_id": oid, "customer_id": cid, "order_date": day,
            "ordered_at": dt.datetime.combine(day, dt.time(10)), "status": "completed",
            "is_test": False, "is_flagged_test": False, "is_brushing_suspect": False,
            "is_real_order": True, "currency": cur, "net_amount": amount, "lines": 1,
            "units": 1,
        }])  # fmt: skip
        insert(con, "marts.fct_order_lines", [{
            "channel": channel, "order_id": oid, "line_id": "1", "customer_id": cid,
            "order_date": day, "status": "completed", "is_test": False,
            "is_flagged_test": False, "is_brushing_suspect": False, "is_real_order": True,
            "sku": "SK1", "quantity": 1, "unit_price": amount,
            "line_total": amount, "discount": 0, "net_amount": amount, "currency": cur,
        }])  # fmt: skip
    con.execute(
        "CREATE TABLE staging.stg_lake__products AS SELECT 'SK1' AS sku, 'skincare' AS category, "
        "'core' AS brand_line, 100.00::DECIMAL(18,2) AS list_price"
    )
    con.execute(
        "CREATE TABLE staging.stg_lake__events (channel VARCHAR, event_id VARCHAR, "
        "event_ts TIMESTAMP, business_date DATE, event_type VARCHAR, sku VARCHAR, "
        "live_session_id VARCHAR, anchor_id VARCHAR, campaign VARCHAR, search_query VARCHAR, "
        "platform VARCHAR)"
    )
    con.execute(
        "CREATE TABLE identity.record_customers (channel VARCHAR, entity VARCHAR, "
        "record_id VARCHAR, customer_id VARCHAR)"
    )
    con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
    con.execute(
        "CREATE TABLE intermediate.int_customer_consents (customer_id VARCHAR, "
        + ", ".join(f"consent_{p} VARCHAR DEFAULT 'unknown'" for p in CONSENT_PURPOSES)
        + ")"
    )
    con.execute(
        "CREATE TABLE staging.stg_lake__consents (channel VARCHAR, consent_id VARCHAR, "
        "consent_ts TIMESTAMP, business_date DATE, purpose VARCHAR, granted BOOLEAN, "
        "consent_source VARCHAR, source_file VARCHAR, source_row BIGINT)"
    )
    con.execute(
        "CREATE TABLE staging.stg_lake__identifiers (channel VARCHAR, entity VARCHAR, "
        "record_id VARCHAR, field VARCHAR, identifier_type VARCHAR, identifier_value VARCHAR, "
        "is_partial BOOLEAN, scope VARCHAR, source_file VARCHAR, source_row BIGINT)"
    )
    con.execute(
        "CREATE TABLE identity.customer_identifiers (customer_id VARCHAR, "
        "identifier_type VARCHAR, scope VARCHAR, identifier_value VARCHAR, is_partial BOOLEAN)"
    )
    for cid, typ, scope, value in [
        ("C1", "phone", "", "+8613800138001"),
        ("C1", "email", "", "alice@example.com"),
        ("C1", "wechat_openid", "gh_oa", "oOPENID1"),
        ("C2", "phone", "", "+8613900139002"),
        ("C3", "email", "", "carol@example.com"),
    ]:
        insert(con, "identity.customer_identifiers", [{
            "customer_id": cid, "identifier_type": typ, "scope": scope,
            "identifier_value": value, "is_partial": False,
        }])  # fmt: skip
    con.close()
    return path


def set_consent(path, customer_id: str, purpose: str, status: str) -> None:
    """A customer's consent for a purpose as the ledger gives it
    (``intermediate.int_customer_consents``; its rules are pinned by dbt unit tests)."""
    con = connect(path)
    con.execute(
        "INSERT INTO intermediate.int_customer_consents (customer_id) SELECT ? WHERE NOT EXISTS "
        "(SELECT 1 FROM intermediate.int_customer_consents WHERE customer_id = ?)",
        [customer_id, customer_id],
    )
    con.execute(
        f"UPDATE intermediate.int_customer_consents SET consent_{purpose} = ? "
        "WHERE customer_id = ?",
        [status, customer_id],
    )
    con.close()
