"""Segment exports: consent-filtered files per destination, with a delta and a manifest.

``data/exports/segments/<segment>/<date>/<destination>/``:
``snapshot.{csv,parquet}`` (everyone exported now), ``added.*`` and ``removed.*`` (rows new
since the previous export of this segment to this destination, rows gone since: a customer
who revoked consent is in ``removed``), ``manifest.json`` (counts, consent exclusions by
reason, the SHA-256 of the definition file). Every export appends a row to
``data/exports/segments/audit_log.csv`` (who, what, when, how many). The previous export's
rows are kept in ``<segment>/.state/<destination>.parquet``, so two exports on one day still
give a true delta.

Destinations and their columns (identifiers normalised by ``ingest/identifiers.py`` first):

| destination | columns | value |
| --- | --- | --- |
| ``sms`` | customer_id, phone | E.164 |
| ``email`` | customer_id, email | trimmed, lower case |
| ``wechat`` | customer_id, appid, openid | the openid of that mini-program / official account |
| ``tencent_ads`` | SHA256_MOBILE_PHONE | SHA-256 of the 11-digit mainland mobile number (Tencent Ads ``custom_audience_files/add``, ``user_id_type=SHA256_MOBILE_PHONE``) |
| ``ocean_engine`` | MOBILE_HASH_SHA256 | SHA-256 of the 11-digit mainland mobile number (Ocean Engine DMP data type 手机号-SHA256) |
| ``meta`` | EMAIL, PHONE | SHA-256 of the e-mail, and of the phone as digits with country code, no ``+`` (Meta customer-file schema keys) |
| ``google`` | Email, Phone | SHA-256 of the e-mail, and of the phone in E.164 (Google Ads Customer Match upload headers) |
| ``amazon_ads`` | email | SHA-256 of the trimmed, lower-case e-mail (Amazon DSP hashed records, ``hashedPII.email``; phones are not sent: Amazon's phone normalisation is not documented here) |

Destinations abroad (``consent.DESTINATIONS_ABROAD``: meta, google, amazon_ads) also need the
``cross_border`` consent; the manifest counts who lacked it (``no_cross_border_consent``).

Ad platforms receive hashes only: no customer id, no raw phone or e-mail.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from ingest.identifiers import normalize_email, normalize_phone
from models.segments.consent import DESTINATIONS_ABROAD, latest_consent, purposes_for
from models.segments.contract import contracts
from models.segments.schema import DESTINATION_PURPOSE, Destination, SegmentDef

AD_PLATFORMS = ("tencent_ads", "ocean_engine", "meta", "google", "amazon_ads")
AUDIT_COLUMNS = [
    "export_id",
    "exported_at",
    "actor",
    "segment",
    "destination",
    "purpose",
    "definition_sha256",
    "as_of",
    "members",
    "exported_customers",
    "rows",
    "added",
    "removed",
    "excluded_no_consent",
    "excluded_consent_revoked",
    "excluded_no_identifier",
    "excluded_no_cross_border_consent",  # empty for a destination at home
    "path",
]
COLUMNS = {
    "sms": ["customer_id", "phone"],
    "email": ["customer_id", "email"],
    "wechat": ["customer_id", "appid", "openid"],
    "tencent_ads": ["SHA256_MOBILE_PHONE"],
    "ocean_engine": ["MOBILE_HASH_SHA256"],
    "meta": ["EMAIL", "PHONE"],
    "google": ["Email", "Phone"],
    "amazon_ads": ["email"],
}
UPLOAD_NOTES = {
    "tencent_ads": "Tencent Ads custom_audience_files/add with user_id_type=SHA256_MOBILE_PHONE; "
    "one hash per line (drop the header line for a .txt upload).",
    "ocean_engine": "Ocean Engine (Douyin) DMP data source, data type MOBILE_HASH_SHA256 "
    "(手机号-SHA256); one hash per line.",
    "meta": "Meta Custom Audience users upload with schema [EMAIL, PHONE] (SHA-256 hex).",
    "google": "Google Ads Customer Match CSV upload (hashed Email and Phone columns).",
    "amazon_ads": "Amazon DSP audience, hashed records (hashedPII email, SHA-256 hex of the "
    "trimmed lower-case address); the recipient is outside mainland China.",
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cn_mobile(e164: str) -> str | None:
    """The 11-digit mainland mobile number of an E.164 phone, else None."""
    if e164.startswith("+86") and len(e164) == 14 and e164[3] == "1":
        return e164[3:]
    return None


def contact_model() -> str:
    """The contracted customer table that declares the golden phone and e-mail."""
    found = contracts()
    for name in ("customer_360", "dim_customers"):
        cols = found.get(name).columns if name in found else {}
        if {"customer_id", "phone", "email"} <= set(cols):
            return name
    raise KeyError("no contracted customer table declares phone and email")


def contacts(con, customer_ids: list[str]) -> pl.DataFrame:
    """customer_id, phone, email of the customers: golden values, normalised again by
    ``ingest/identifiers.py``; masked or invalid values become null."""
    model = contact_model()
    cols = contracts()[model].columns
    masked_phone = "phone_is_masked" if "phone_is_masked" in cols else "false"
    masked_email = "email_is_masked" if "email_is_masked" in cols else "false"
    ids = pl.DataFrame({"customer_id": customer_ids}, schema={"customer_id": pl.Utf8})
    con.register("_export_ids", ids.to_arrow())
    try:
        frame = con.execute(
            f"SELECT c.customer_id, c.phone, coalesce(c.{masked_phone}, false) AS phone_masked, "
            f"c.email, coalesce(c.{masked_email}, false) AS email_masked "
            f"FROM marts.{model} AS c JOIN _export_ids USING (customer_id)"
        ).pl()
    finally:
        con.unregister("_export_ids")

    def phone(value: str | None, masked: bool) -> str | None:
        ident = None if masked or value is None else normalize_phone(value)
        return ident.value if ident and not ident.is_partial else None

    def email(value: str | None, masked: bool) -> str | None:
        ident = None if masked or value is None else normalize_email(value)
        return ident.value if ident and not ident.is_partial else None

    return pl.DataFrame(
        {
            "customer_id": frame["customer_id"].to_list(),
            "phone": [
                phone(v, m) for v, m in zip(frame["phone"], frame["phone_masked"], strict=True)
            ],
            "email": [
                email(v, m) for v, m in zip(frame["email"], frame["email_masked"], strict=True)
            ],
        },
        schema={"customer_id": pl.Utf8, "phone": pl.Utf8, "email": pl.Utf8},
    )


def wechat_openids(con, customer_ids: list[str], app: str | None) -> pl.DataFrame:
    ids = pl.DataFrame({"customer_id": customer_ids}, schema={"customer_id": pl.Utf8})
    con.register("_export_ids", ids.to_arrow())
    try:
        return con.execute(
            "SELECT ci.customer_id, ci.scope AS appid, ci.identifier_value AS openid "
            "FROM identity.customer_identifiers AS ci JOIN _export_ids USING (customer_id) "
            "WHERE ci.identifier_type = 'wechat_openid' AND NOT coalesce(ci.is_partial, false) "
            "AND ($app IS NULL OR ci.scope = $app) ORDER BY 1, 2, 3",
            {"app": app},
        ).pl()
    finally:
        con.unregister("_export_ids")


def destination_rows(con, dest: Destination, customer_ids: list[str]) -> pl.DataFrame:
    """The rows a destination receives for these (already consented) customers."""
    schema = {c: pl.Utf8 for c in COLUMNS[dest.type]}
    if dest.type == "wechat":
        return wechat_openids(con, customer_ids, dest.app).select(COLUMNS["wechat"])
    people = contacts(con, customer_ids)
    rows: list[dict] = []
    for cid, phone, email in people.iter_rows():
        if dest.type == "sms":
            row = {"customer_id": cid, "phone": phone} if phone else None
        elif dest.type == "email":
            row = {"customer_id": cid, "email": email} if email else None
        elif dest.type in ("tencent_ads", "ocean_engine"):
            mobile = cn_mobile(phone) if phone else None
            row = {COLUMNS[dest.type][0]: sha256(mobile)} if mobile else None
        elif dest.type == "meta":
            row = {
                "EMAIL": sha256(email) if email else None,
                "PHONE": sha256(phone.lstrip("+")) if phone else None,
            }
        elif dest.type == "amazon_ads":
            row = {"email": sha256(email)} if email else None
        else:  # google
            row = {
                "Email": sha256(email) if email else None,
                "Phone": sha256(phone) if phone else None,
            }
        if row is not None and any(v is not None for v in row.values()):
            rows.append(row)
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return frame.unique(maintain_order=True).sort(frame.columns)


@dataclass
class ExportResult:
    segment: str
    destination: str
    path: Path
    members: int
    exported_customers: int
    rows: int
    added: int
    removed: int
    excluded: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _write(frame: pl.DataFrame, folder: Path, stem: str) -> list[str]:
    frame.write_parquet(folder / f"{stem}.parquet")
    frame.write_csv(folder / f"{stem}.csv")
    return [f"{stem}.parquet", f"{stem}.csv"]


@dataclass(frozen=True)
class ExportRun:
    """One export of one segment: who is in it, where the files go, what to record."""

    segment: SegmentDef
    members: list[str]
    out_root: Path
    exported_at: dt.datetime
    as_of: dt.date
    definition_sha256: str
    definition_file: str
    actor: str | None = None


def export_destination(con, run: ExportRun, dest: Destination) -> ExportResult:
    """Apply consent for the destination's purpose, write snapshot, delta and manifest, and
    append the audit row."""
    segment, members, out_root, exported_at = (
        run.segment,
        run.members,
        run.out_root,
        run.exported_at,
    )
    as_of, definition_sha256, definition_file = (
        run.as_of,
        run.definition_sha256,
        run.definition_file,
    )
    purpose = DESTINATION_PURPOSE[dest.type]
    migrate_audit(out_root / "audit_log.csv")
    member_frame = pl.DataFrame({"customer_id": members}, schema={"customer_id": pl.Utf8})
    # every purpose the destination needs (cross_border for overseas platforms): a customer
    # is out on the first purpose not granted, counted under that reason
    no_consent: list[str] = []
    revoked: list[str] = []
    no_cross_border: list[str] = []
    remaining = member_frame
    for need in purposes_for(dest.type, purpose):
        joined = remaining.join(latest_consent(con, need), on="customer_id", how="left")
        missing = joined.filter(pl.col("granted").is_null())["customer_id"].to_list()
        refused = joined.filter(pl.col("granted") == False)["customer_id"].to_list()  # noqa: E712
        if need == purpose:
            no_consent, revoked = missing, refused
        else:
            no_cross_border = missing + refused
        remaining = joined.filter(pl.col("granted") == True).select("customer_id")  # noqa: E712
    consented = sorted(remaining["customer_id"].to_list())
    rows = destination_rows(con, dest, consented)
    if "customer_id" in rows.columns:
        reached = set(rows["customer_id"].to_list())
        no_identifier = len([c for c in consented if c not in reached])
        exported_customers = len(reached)
    else:
        # Ad files carry no customer id: count the consented customers that gave a row.
        exported_customers = rows.height
        no_identifier = len(consented) - rows.height
    key = dest.type + (f"__{dest.app}" if dest.app else "")
    state = out_root / segment.name / ".state" / f"{key}.parquet"
    previous = pl.read_parquet(state) if state.exists() else rows.clear()
    added = rows.join(previous, on=rows.columns, how="anti", nulls_equal=True)
    removed = previous.join(rows, on=rows.columns, how="anti", nulls_equal=True)
    folder = out_root / segment.name / exported_at.date().isoformat() / key
    folder.mkdir(parents=True, exist_ok=True)
    files = _write(rows, folder, "snapshot") + _write(added, folder, "added")
    files += _write(removed, folder, "removed")
    excluded = {
        "no_consent": len(no_consent),
        "consent_revoked": len(revoked),
        "no_identifier": no_identifier,
    }
    if dest.type in DESTINATIONS_ABROAD:
        excluded["no_cross_border_consent"] = len(no_cross_border)
    export_id = sha256(f"{segment.name}/{key}/{exported_at.isoformat()}")[:16]
    actor = run.actor or getpass.getuser()
    manifest = {
        "export_id": export_id,
        "segment": segment.name,
        "description": segment.description,
        "owner": segment.owner,
        "destination": dest.type,
        "app": dest.app,
        "purpose": purpose,
        "exported_at": exported_at.isoformat(),
        "as_of": as_of.isoformat(),
        "actor": actor,
        "definition_file": definition_file,
        "definition_sha256": definition_sha256,
        "members": len(members),
        "exported_customers": exported_customers,
        "rows": rows.height,
        "added": added.height,
        "removed": removed.height,
        "excluded": excluded,
        "columns": rows.columns,
        "hashed": dest.type in AD_PLATFORMS,
        "recipient_abroad": DESTINATIONS_ABROAD.get(dest.type),
        "upload": UPLOAD_NOTES.get(dest.type, ""),
        "files": files,
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    state.parent.mkdir(parents=True, exist_ok=True)
    rows.write_parquet(state)
    append_audit(
        out_root / "audit_log.csv",
        {
            "export_id": export_id,
            "exported_at": exported_at.isoformat(),
            "actor": actor,
            "segment": segment.name,
            "destination": key,
            "purpose": purpose,
            "definition_sha256": definition_sha256,
            "as_of": as_of.isoformat(),
            "members": len(members),
            "exported_customers": exported_customers,
            "rows": rows.height,
            "added": added.height,
            "removed": removed.height,
            "excluded_no_consent": excluded["no_consent"],
            "excluded_consent_revoked": excluded["consent_revoked"],
            "excluded_no_identifier": excluded["no_identifier"],
            "excluded_no_cross_border_consent": excluded.get("no_cross_border_consent", ""),
            "path": str(folder),
        },
    )
    return ExportResult(
        segment.name,
        key,
        folder,
        len(members),
        exported_customers,
        rows.height,
        added.height,
        removed.height,
        excluded,
    )


def migrate_audit(audit: Path) -> None:
    """A log written before a column was added (its header a subset of ``AUDIT_COLUMNS``, in
    any order) is rewritten with today's header, its old rows kept with the new columns empty
    (not recorded then), under a temporary name and renamed, so a crash leaves the old log or
    the new one, never half of it. A header with a column this code does not know is an error
    naming the file and the column (raised before an export writes anything)."""
    if audit.exists():
        with audit.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            if header != AUDIT_COLUMNS:
                unknown = [c for c in header if c not in AUDIT_COLUMNS]
                if unknown:
                    raise ValueError(
                        f"{audit}: header column(s) {unknown} are not audit columns "
                        f"({', '.join(AUDIT_COLUMNS)}); not appending"
                    )
                old = list(reader)
        if header != AUDIT_COLUMNS:
            tmp = audit.with_name(audit.name + ".migrate-tmp")
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=AUDIT_COLUMNS, restval="")
                writer.writeheader()
                writer.writerows(old)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(audit)


def append_audit(audit: Path, row: dict) -> None:
    """Append one row to the audit log (migrated to today's header first)."""
    migrate_audit(audit)
    new = not audit.exists()
    with audit.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=AUDIT_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def export_segment(
    con, run: ExportRun, destinations: list[str] | None = None
) -> list[ExportResult]:
    """Export to every destination of the segment (or the ones named)."""
    segment = run.segment
    chosen = [
        d for d in segment.destination_list() if destinations is None or d.type in destinations
    ]
    if destinations is not None:
        known = {d.type for d in segment.destination_list()}
        unknown = [d for d in destinations if d not in known]
        if unknown:
            raise ValueError(
                f"segment {segment.name!r} has no destination {', '.join(unknown)}; "
                f"its destinations: {', '.join(sorted(known))}"
            )
    return [export_destination(con, run, d) for d in chosen]
