"""``zhongtai privacy export``: everything held about a person, as one JSON document (PIPL
art. 45, GDPR art. 15).

Sections: the identifiers OneID gives the person; every warehouse row keyed by their
customer id (every base table of every schema: the 360 profile, tags, segments, consents,
orders, recommendations...); every lake record tied to them (carrying one of their
identifiers or assigned to them), entity by entity; their delivery addresses (every distinct
address on their orders, ``delivery_addresses``); the consent ledger rows of their
identifiers. The request is recorded in the audit table like an erasure.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path

import polars as pl

from ingest.canonical import ADDRESS_COLUMNS, ENTITIES
from ingest.config import DataPaths, connect
from models.privacy.erase import publish_audit, record_request
from models.privacy.subject import Subject, resolve


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _warehouse_rows(con, subject: Subject) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    tables = con.execute(
        "select t.table_schema, t.table_name from information_schema.tables t "
        "join information_schema.columns c on c.table_schema = t.table_schema "
        "and c.table_name = t.table_name and c.column_name = 'customer_id' "
        "where t.table_type = 'BASE TABLE' and t.table_catalog = current_database() "
        "order by 1, 2"
    ).fetchall()
    for schema, table in tables:
        frame = con.execute(
            f'select * from "{schema}"."{table}" where list_contains(?, customer_id)',
            [subject.customer_ids],
        ).pl()
        if frame.height:
            out[f"{schema}.{table}"] = frame.to_dicts()
    return out


def _lake_rows(paths: DataPaths, subject: Subject) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for entity, ids in subject.records.group_by("entity"):
        name = entity[0]
        if name not in ENTITIES or not any((paths.lake_raw / name).glob("*.parquet")):
            continue
        key = pl.concat_str(
            [pl.col(k).cast(pl.String) for k in ENTITIES[name]["key"]], separator="/"
        )
        frame = (
            pl.scan_parquet(paths.lake_raw / name / "*.parquet")
            .filter(
                pl.struct(pl.col("channel"), key.alias("record_id")).is_in(
                    ids.select("channel", "record_id").to_struct().implode()
                )
            )
            .collect()
        )
        if frame.height:
            out[name] = frame.to_dicts()
    return out


def _delivery_addresses(lake: dict[str, list[dict]]) -> list[dict]:
    """Every distinct delivery address on their lake records (the parts as normalised)."""
    seen: list[dict] = []
    for entity, columns in ADDRESS_COLUMNS.items():
        for row in lake.get(entity, []):
            addr = {part: row.get(col) for part, col in columns.items()}
            if any(addr.values()) and addr not in seen:
                seen.append(addr)
    return seen


def export_subject(paths: DataPaths, identifier: str, out: Path | None = None) -> Path:
    """Write the JSON document; returns its path (default
    ``exports/privacy/access/<request_id>.json``, deleted by a later erasure)."""
    t0 = time.perf_counter()
    request_id = uuid.uuid4().hex[:16]
    record_request(paths, request_id, "access", "requested", identifier)
    con = connect(paths.warehouse, read_only=True) if paths.warehouse.exists() else None
    try:
        subject = resolve(con, paths, identifier)
        warehouse = _warehouse_rows(con, subject) if con is not None else {}
    finally:
        if con is not None:
            con.close()
    doc = {
        "request_id": request_id,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "requested_identifier": identifier,
        "customer_ids": subject.customer_ids,
        "identifiers": [{"type": t, "value": v} for t, v in subject.identifiers],
        "warehouse": warehouse,
        "lake": _lake_rows(paths, subject),
    }
    doc["delivery_addresses"] = _delivery_addresses(doc["lake"])
    target = out or paths.exports / "privacy" / "access" / f"{request_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(doc), ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(target)
    counts = {"warehouse_tables": len(warehouse), "lake_entities": len(doc["lake"])}
    record_request(
        paths,
        request_id,
        "access",
        "completed",
        identifier,
        subject,
        counts,
        round(time.perf_counter() - t0, 3),
    )
    publish_audit(paths)
    return target
