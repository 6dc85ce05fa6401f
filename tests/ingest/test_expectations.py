"""Great Expectations suites: each passes on good data and fails on broken data."""

import polars as pl

from ingest.canonical import schema
from ingest.engine import _write
from ingest.expectations import SUITES, run_suite

SUITE = {s.name: s for s in SUITES}


def _identifiers(data_dir, rows):
    frame = pl.DataFrame(
        [
            {
                "entity": "orders",
                "record_id": str(i),
                "field": "phone",
                "identifier_type": t,
                "identifier_value": v,
                "is_partial": p,
                "channel": "pos",
                "source_file": "pos/x.csv",
                "source_row": i,
            }
            for i, (t, v, p) in enumerate(rows, start=1)
        ]
    )
    frame = frame.select(
        [
            pl.col(c).cast(d) if c in frame.columns else pl.lit(None, d).alias(c)
            for c, d in schema("identifiers").items()
        ]
    )
    _write(frame, data_dir.lake_raw / "identifiers" / "t.parquet")


def test_phone_suite_passes_on_e164_and_masked(data_dir):
    _identifiers(data_dir, [("phone", "+8613800138000", False), ("phone", "138****5678", True)])
    res = run_suite(SUITE["lake_phones"], data_dir, build_docs=False)
    assert res.rows == 2 and res.passed and not res.warnings


def test_phone_suite_fails_on_unnormalised_phone(data_dir):
    _identifiers(data_dir, [("phone", "+8613800138000", False), ("phone", "138-0013-8000", False)])
    res = run_suite(SUITE["lake_phones"], data_dir, build_docs=True)
    assert not res.passed
    assert "138-0013-8000" in res.failures[0]
    assert res.docs and (data_dir.root / "docs").exists()


def test_email_suite_fails_on_upper_case(data_dir):
    _identifiers(data_dir, [("email", "Li.Na@example.com", False)])
    res = run_suite(SUITE["lake_emails"], data_dir, build_docs=False)
    assert not res.passed and "expect_column_values_to_not_match_regex" in res.failures[0]
