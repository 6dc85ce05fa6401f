"""The privacy checks on a passing and a failing input (the hand-built segments warehouse)."""

from __future__ import annotations

import datetime as dt

from ingest import tombstones
from ingest.config import DataPaths, connect
from models.privacy import checks
from models.segments.exports import ExportRun, export_segment
from tests.models.segments.conftest import AS_OF, set_consent
from tests.models.segments.test_exports import seg

RUN = dt.datetime(2025, 4, 1, 9, 0)


def _members(path, segment, ids):
    con = connect(path)
    con.execute("CREATE SCHEMA IF NOT EXISTS segments")
    con.execute(
        "CREATE TABLE IF NOT EXISTS segments.segment_members (segment VARCHAR, "
        "customer_id VARCHAR, valid_from TIMESTAMP, valid_to TIMESTAMP)"
    )
    for cid in ids:
        con.execute(
            "INSERT INTO segments.segment_members VALUES (?, ?, ?, NULL)", [segment, cid, RUN]
        )
    con.close()


def test_an_export_row_whose_consent_is_gone_is_found(warehouse, tmp_path):
    out = tmp_path / "segments"
    for cid in ("C1", "C2"):
        set_consent(warehouse, cid, "sms", "granted")
        set_consent(warehouse, cid, "ads", "granted")
        set_consent(warehouse, cid, "cross_border", "granted")
    _members(warehouse, "seg_ads", ["C1", "C2"])
    con = connect(warehouse, read_only=True)
    export_segment(con, ExportRun(seg("sms", ["sms"]), ["C1", "C2"], out, RUN, AS_OF, "h", "s.yml"))
    export_segment(
        con, ExportRun(seg("ads", ["meta"]), ["C1", "C2"], out, RUN, AS_OF, "h", "a.yml")
    )
    assert checks.unconsented_export_rows(con, out) == []
    con.close()
    # C2 withdraws SMS and cross-border consent after the export: both files now break the rule
    set_consent(warehouse, "C2", "sms", "revoked")
    set_consent(warehouse, "C2", "cross_border", "revoked")
    con = connect(warehouse, read_only=True)
    found = {
        f["export"].split("/")[-1]: f["rows"] for f in checks.unconsented_export_rows(con, out)
    }
    con.close()
    assert found == {"sms": 1, "meta": 1}


def test_a_tombstoned_identifier_back_in_the_warehouse_is_found(warehouse, tmp_path):
    paths = DataPaths(tmp_path / "data")
    con = connect(warehouse, read_only=True)
    assert checks.tombstoned_identifiers(con, paths) == {}
    tombstones.add(paths, ["+8613700000000"], "r0")  # nobody's
    assert checks.tombstoned_identifiers(con, paths) == {}
    tombstones.add(paths, ["+8613900139002"], "r1")  # C2's phone
    assert checks.tombstoned_identifiers(con, paths) == {"identity.customer_identifiers": 1}
    con.close()


def test_an_unmasked_phone_in_the_marketers_view_is_found(warehouse):
    con = connect(warehouse)
    assert checks.unmasked_rows(con) == 0
    con.execute(
        "CREATE OR REPLACE VIEW marts_masked.dim_customers AS "
        "SELECT customer_id, phone, email FROM marts.dim_customers"
    )
    assert checks.unmasked_rows(con) == 3  # C1 phone and e-mail, C2 phone, C3 e-mail
    con.close()


def test_an_amazon_export_after_a_cross_border_revocation_is_found(warehouse, tmp_path):
    out = tmp_path / "segments"
    for cid in ("C1", "C3"):  # both have an e-mail
        set_consent(warehouse, cid, "ads", "granted")
        set_consent(warehouse, cid, "cross_border", "granted")
    _members(warehouse, "seg_ads", ["C1", "C3"])
    run = ExportRun(seg("ads", ["amazon_ads"]), ["C1", "C3"], out, RUN, AS_OF, "h", "a.yml")
    with connect(warehouse, read_only=True) as con:
        assert export_segment(con, run)[0].rows == 2
        assert checks.unconsented_export_rows(con, out) == []
    set_consent(warehouse, "C3", "cross_border", "revoked")  # ads consent still granted
    with connect(warehouse, read_only=True) as con:
        found = checks.unconsented_export_rows(con, out)
    assert [(f["export"].split("/")[-1], f["rows"]) for f in found] == [("amazon_ads", 1)]
