"""The privacy rules as functions of the warehouse and the data tree (wrapped as Dagster
asset checks in ``orchestration/defs/privacy.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ingest import tombstones
from ingest.config import DataPaths
from models.segments.consent import latest_consent, purposes_for
from models.segments.exports import destination_rows
from models.segments.schema import Destination


def latest_exports(root: Path) -> list[Path]:
    """The newest export folder of every segment and destination (``<segment>/<date>/<dest>``)."""
    newest: dict[tuple[str, str], Path] = {}
    for manifest in sorted(root.glob("*/*/*/manifest.json")):
        folder = manifest.parent
        key = (folder.parent.parent.name, folder.name)
        if key not in newest or folder.parent.name >= newest[key].parent.name:
            newest[key] = folder
    return sorted(newest.values())


def unconsented_export_rows(con, root: Path) -> list[dict]:
    """Rows of the newest segment exports that the current consent does not allow: a
    customer id without every purpose the destination needs granted, or (ad files carry
    hashes only) a hash no consented customer of the segment yields. One dict per file."""
    found = []
    cache: dict[str, set[str]] = {}

    def granted(purpose: str) -> set[str]:
        if purpose not in cache:
            frame = latest_consent(con, purpose)
            cache[purpose] = set(frame.filter(pl.col("granted"))["customer_id"].to_list())
        return cache[purpose]

    for folder in latest_exports(root):
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        snapshot = pl.read_parquet(folder / "snapshot.parquet")
        if snapshot.is_empty():
            continue
        allowed = set.intersection(
            *(granted(p) for p in purposes_for(manifest["destination"], manifest["purpose"]))
        )
        if "customer_id" in snapshot.columns:
            bad = snapshot.filter(~pl.col("customer_id").is_in(list(allowed))).height
        else:
            members = (
                con.execute(
                    "select customer_id from segments.segment_members where segment = ? "
                    "and valid_to is null",
                    [manifest["segment"]],
                )
                .pl()["customer_id"]
                .to_list()
            )
            dest = Destination(type=manifest["destination"], app=manifest.get("app"))
            expected = destination_rows(con, dest, sorted(set(members) & allowed))
            bad = snapshot.join(expected, on=snapshot.columns, how="anti", nulls_equal=True).height
        if bad:
            found.append({"export": str(folder.relative_to(root)), "rows": bad})
    return found


def tombstoned_identifiers(con, paths: DataPaths) -> dict[str, int]:
    """Identifier values in the warehouse whose keyed hash is a tombstone, per table."""
    stones = tombstones.load(paths)
    if not stones:
        return {}
    secret = tombstones.key(paths)
    if secret is None:
        return {"<no tombstone key: cannot test>": len(stones)}
    out = {}
    for table in ("identity.customer_identifiers", "staging.stg_lake__identifiers"):
        values = con.execute(f"select distinct identifier_value from {table}").pl()
        hits = sum(
            tombstones.digest(secret, v) in stones
            for v in values["identifier_value"].drop_nulls().to_list()
        )
        if hits:
            out[table] = hits
    return out


def unmasked_rows(con) -> int:
    """Rows of the marketers' view whose phone or e-mail is not masked."""
    return con.execute(
        "select count(*) from marts_masked.dim_customers where "
        "(phone is not null and phone not like '%****%') "
        "or (email is not null and email not like '%***@%')"
    ).fetchone()[0]
