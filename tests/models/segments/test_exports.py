"""Exports: consent at export time (a revocation between two exports removes the person in the
delta), ad platforms get SHA-256 hashes only, manifests and the audit log count it all."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re

import polars as pl
import pytest

from ingest.config import connect
from models.segments.exports import AUDIT_COLUMNS, ExportRun, export_segment
from models.segments.schema import SegmentDef
from tests.models.segments.conftest import AS_OF, CUSTOMERS, set_consent

RUN1 = dt.datetime(2025, 4, 1, 9, 0)
RUN2 = dt.datetime(2025, 4, 1, 15, 0)  # same day: the delta still compares with RUN1
ALL = ["C1", "C2", "C3", "C4"]


def seg(purpose: str, destinations: list) -> SegmentDef:
    return SegmentDef.model_validate(
        {
            "name": f"seg_{purpose}",
            "description": "a test segment",
            "owner": "me",
            "purpose": purpose,
            "destinations": destinations,
            "where": {"tag": "x"},
        }  # fmt: skip
    )


def export(path, segment, out, at, **kw):
    con = connect(path, read_only=True)
    try:
        return {
            r.destination: r
            for r in export_segment(
                con, ExportRun(segment, ALL, out, at, AS_OF, "abc", "s.yml"), **kw
            )
        }
    finally:
        con.close()


def test_revocation_between_two_exports_removes_the_person(warehouse, tmp_path):
    out = tmp_path / "exports"
    set_consent(warehouse, "C1", "sms", "granted")
    set_consent(warehouse, "C2", "sms", "granted")
    set_consent(warehouse, "C1", "email", "granted")  # not sms
    first = export(warehouse, seg("sms", ["sms"]), out, RUN1)["sms"]
    snap = pl.read_parquet(first.path / "snapshot.parquet")
    assert snap.to_dicts() == [
        {"customer_id": "C1", "phone": "+8613800138001"},
        {"customer_id": "C2", "phone": "+8613900139002"},
    ]
    assert (first.added, first.removed) == (2, 0)
    assert first.excluded == {"no_consent": 2, "consent_revoked": 0, "no_identifier": 0}

    # C2 revokes SMS on the phone after the first export
    set_consent(warehouse, "C2", "sms", "revoked")
    second = export(warehouse, seg("sms", ["sms"]), out, RUN2)["sms"]
    assert pl.read_csv(second.path / "removed.csv").to_dicts() == [
        {"customer_id": "C2", "phone": 8613900139002}  # CSV reader infers an int
    ] or pl.read_parquet(second.path / "removed.parquet")["customer_id"].to_list() == ["C2"]
    assert pl.read_parquet(second.path / "removed.parquet")["customer_id"].to_list() == ["C2"]
    assert pl.read_parquet(second.path / "added.parquet").height == 0
    assert pl.read_parquet(second.path / "snapshot.parquet")["customer_id"].to_list() == ["C1"]
    manifest = json.loads((second.path / "manifest.json").read_text())
    assert manifest["excluded"] == {"no_consent": 2, "consent_revoked": 1, "no_identifier": 0}
    assert manifest["removed"] == 1 and manifest["definition_sha256"] == "abc"
    with (out / "audit_log.csv").open() as fh:
        audit = list(csv.DictReader(fh))
    assert [(a["destination"], a["rows"], a["removed"]) for a in audit] == [
        ("sms", "2", "0"),
        ("sms", "1", "1"),
    ]


def test_wechat_rows_are_openids_of_the_app(warehouse, tmp_path):
    set_consent(warehouse, "C1", "wechat", "granted")
    r = export(warehouse, seg("wechat", [{"type": "wechat", "app": "gh_oa"}]), tmp_path, RUN1)
    snap = pl.read_parquet(r["wechat__gh_oa"].path / "snapshot.parquet")
    assert snap.to_dicts() == [{"customer_id": "C1", "appid": "gh_oa", "openid": "oOPENID1"}]


def test_ad_exports_carry_only_hashes_of_normalised_identifiers(warehouse, tmp_path):
    out = tmp_path / "ads"
    for customer in ("C1", "C2", "C3"):
        set_consent(warehouse, customer, "ads", "granted")
        set_consent(warehouse, customer, "cross_border", "granted")
    results = export(
        warehouse, seg("ads", ["tencent_ads", "ocean_engine", "meta", "google"]), out, RUN1
    )
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    tencent = pl.read_parquet(results["tencent_ads"].path / "snapshot.parquet")
    assert tencent.columns == ["SHA256_MOBILE_PHONE"]
    assert set(tencent["SHA256_MOBILE_PHONE"]) == {h("13800138001"), h("13900139002")}
    ocean = pl.read_parquet(results["ocean_engine"].path / "snapshot.parquet")
    assert ocean.columns == ["MOBILE_HASH_SHA256"] and ocean.height == 2
    meta = pl.read_parquet(results["meta"].path / "snapshot.parquet")
    assert meta.columns == ["EMAIL", "PHONE"]
    # C1 is in: both their hashes go (phone and e-mail)
    assert h("8613800138001") in set(meta["PHONE"]) and h("alice@example.com") in set(meta["EMAIL"])
    google = pl.read_parquet(results["google"].path / "snapshot.parquet")
    assert google.columns == ["Email", "Phone"]
    assert h("+8613800138001") in set(google["Phone"]) and h("carol@example.com") in set(
        google["Email"]
    )
    # C3's only phone is masked: carol goes by e-mail only, never by 137****0003
    raw = [c[k] for c in CUSTOMERS for k in ("customer_id", "phone", "email") if c[k]]
    raw += [p[3:] for p in raw if p.startswith("+86")] + [p[1:] for p in raw if p.startswith("+")]
    hexes = re.compile(r"^[0-9a-f]{64}$")
    files = [
        f for r in results.values() for f in r.path.iterdir() if f.suffix in (".csv", ".parquet")
    ]
    assert len(files) == 4 * 6
    for f in files:
        frame = pl.read_parquet(f) if f.suffix == ".parquet" else pl.read_csv(f, infer_schema=False)
        for value in frame.melt()["value"].drop_nulls():
            assert hexes.match(value), f"{f}: {value!r} is not a SHA-256 hex digest"
        text = f.read_bytes()
        for value in raw:
            assert value.encode() not in text, f"{f} contains {value!r}"


def test_overseas_ad_platforms_need_cross_border_consent(warehouse, tmp_path):
    """PIPL: Meta and Google are outside mainland China; ads consent alone is not enough."""
    for customer in ("C1", "C2"):
        set_consent(warehouse, customer, "ads", "granted")
    set_consent(warehouse, "C1", "cross_border", "granted")
    set_consent(warehouse, "C2", "cross_border", "revoked")
    results = export(
        warehouse, seg("ads", ["tencent_ads", "meta", "google"]), tmp_path / "ads", RUN1
    )
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    tencent = pl.read_parquet(results["tencent_ads"].path / "snapshot.parquet")
    assert set(tencent["SHA256_MOBILE_PHONE"]) == {h("13800138001"), h("13900139002")}
    assert "no_cross_border_consent" not in results["tencent_ads"].excluded
    for dest, col, phone in (("meta", "PHONE", "8613"), ("google", "Phone", "+8613")):
        snap = pl.read_parquet(results[dest].path / "snapshot.parquet")
        assert set(snap[col]) == {h(phone + "800138001")}, dest  # C1 only
        assert results[dest].excluded["no_cross_border_consent"] == 1
        assert results[dest].excluded["no_consent"] == 2  # C3, C4: no ads consent


def test_amazon_ads_is_abroad_and_needs_cross_border_consent(warehouse, tmp_path):
    """Amazon DSP holds the data outside mainland China: ads consent alone is not enough;
    who lacked cross_border is counted under its own reason in the manifest."""
    for customer in ("C1", "C2", "C3"):
        set_consent(warehouse, customer, "ads", "granted")
    set_consent(warehouse, "C1", "cross_border", "granted")
    set_consent(warehouse, "C2", "cross_border", "revoked")  # C3: never asked
    results = export(warehouse, seg("ads", ["amazon_ads", "tencent_ads"]), tmp_path, RUN1)
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    amazon = results["amazon_ads"]
    snap = pl.read_parquet(amazon.path / "snapshot.parquet")
    assert snap.to_dicts() == [{"email": h("alice@example.com")}]  # not carol (C3)
    assert amazon.excluded == {
        "no_consent": 1,  # C4
        "consent_revoked": 0,
        "no_identifier": 0,
        "no_cross_border_consent": 2,  # C2 revoked, C3 unknown
    }
    manifest = json.loads((amazon.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["excluded"]["no_cross_border_consent"] == 2
    assert manifest["recipient_abroad"] == "US" and manifest["hashed"] is True
    domestic = json.loads((results["tencent_ads"].path / "manifest.json").read_text("utf-8"))
    assert domestic["recipient_abroad"] is None
    assert "no_cross_border_consent" not in domestic["excluded"]
    assert results["tencent_ads"].rows == 2  # C1, C2: ads consent is enough at home


def test_an_old_audit_log_gains_the_cross_border_column(warehouse, tmp_path):
    """An audit log written before ``excluded_no_cross_border_consent`` existed is rewritten
    with the new header on the next export: its old row kept, the new column empty (not
    recorded then); the new rows carry the count for a destination abroad, empty at home. A
    header column the code does not know stops the export with the file and column named."""
    out = tmp_path / "out"
    out.mkdir()
    old_header = [c for c in AUDIT_COLUMNS if c != "excluded_no_cross_border_consent"]
    old_row = dict.fromkeys(old_header, "1") | {"export_id": "old", "path": "/x"}
    with (out / "audit_log.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=old_header)
        writer.writeheader()
        writer.writerow(old_row)
    for customer in ("C1", "C2"):
        set_consent(warehouse, customer, "ads", "granted")
    set_consent(warehouse, "C1", "cross_border", "granted")
    export(warehouse, seg("ads", ["meta", "tencent_ads"]), out, RUN1)
    with (out / "audit_log.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == AUDIT_COLUMNS
        rows = list(reader)
    assert rows[0] == old_row | {"excluded_no_cross_border_consent": ""}
    got = {r["destination"]: r["excluded_no_cross_border_consent"] for r in rows[1:]}
    assert got == {"meta": "1", "tencent_ads": ""}  # C2 lacked cross_border for Meta
    assert not list(out.glob("*.migrate-tmp"))
    # a column from elsewhere: nothing is appended, the error names file and column
    text = (out / "audit_log.csv").read_text(encoding="utf-8").replace("actor", "operator", 1)
    (out / "audit_log.csv").write_text(text, encoding="utf-8")
    state = out / "seg_ads" / ".state" / "tencent_ads.parquet"
    before = state.stat().st_mtime_ns
    with pytest.raises(ValueError, match=r"audit_log.csv: header column\(s\) \['operator'\]"):
        export(warehouse, seg("ads", ["tencent_ads"]), out, RUN2)
    assert (out / "audit_log.csv").read_text(encoding="utf-8") == text
    assert state.stat().st_mtime_ns == before  # refused before the export wrote anything
