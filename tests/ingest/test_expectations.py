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


def test_a_suite_since_validates_only_the_files_loaded_then(data_dir):
    """An incremental run's lake checks read the lake files of the landing files it loaded
    (the manifests' ``ingested_at`` and ``outputs``), not the whole lake."""
    import datetime as dt
    import json

    _identifiers(data_dir, [("phone", "138-0013-8000", False)])  # bad, loaded first
    old = data_dir.lake_raw / "identifiers" / "t.parquet"
    old.rename(old.with_name("old.parquet"))
    _identifiers(data_dir, [("phone", "+8613800138000", False), ("phone", "+8613800138001", False)])
    old.with_name("t.parquet").rename(old.with_name("new.parquet"))
    schema_file = data_dir.lake_raw / "identifiers" / "_schema.parquet"
    pl.read_parquet(old.with_name("new.parquet")).clear().write_parquet(schema_file)
    data_dir.manifest_dir.mkdir(parents=True, exist_ok=True)
    records = {
        f"pos/{name}.csv": {
            "status": "loaded",
            "ingested_at": at,
            "outputs": [f"raw/identifiers/{name}.parquet"],
        }
        for name, at in (("old", "2025-03-01T06:00:00"), ("new", "2025-03-02T06:00:00"))
    }
    (data_dir.manifest_dir / "pos.json").write_text(json.dumps({"files": records}))
    suite = SUITE["lake_phones"]
    whole = run_suite(suite, data_dir, build_docs=False)
    assert whole.rows == 3 and not whole.passed
    new = run_suite(suite, data_dir, build_docs=False, since=dt.datetime(2025, 3, 2, 6))
    assert new.rows == 2 and new.passed
    both = run_suite(suite, data_dir, build_docs=False, since=dt.datetime(2025, 3, 1, 6))
    assert both.rows == 3 and not both.passed and "138-0013-8000" in both.failures[0]
    none = run_suite(suite, data_dir, build_docs=False, since=dt.datetime(2025, 3, 3))
    assert none.rows == 0 and none.passed


def test_docs_on_failure_builds_the_site_only_for_a_failing_or_warning_suite(data_dir):
    """An incremental run's suites rebuild the data docs only when a rule failed or warned;
    a passing result is still validated (rows, passed) and stored."""
    from ingest.expectations import DOCS_ON_FAILURE

    _identifiers(data_dir, [("phone", "+8613800138000", False)])
    ok = run_suite(SUITE["lake_phones"], data_dir, build_docs=DOCS_ON_FAILURE)
    assert ok.rows == 1 and ok.passed and ok.docs is None
    assert not list((data_dir.root / "docs").rglob("index.html"))
    _identifiers(data_dir, [("phone", "138-0013-8000", False)])
    bad = run_suite(SUITE["lake_phones"], data_dir, build_docs=DOCS_ON_FAILURE)
    assert not bad.passed and "138-0013-8000" in bad.failures[0]
    assert bad.docs and list((data_dir.root / "docs").rglob("index.html"))


def test_docs_policy_builds_every_time_in_a_full_build_only():
    import pytest

    from ingest.expectations import DOCS_ALWAYS, DOCS_ON_FAILURE
    from orchestration.defs.ingest import LAKE_CHECKS_TAG, NEW_FILES
    from orchestration.defs.quality import docs_policy
    from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS

    assert docs_policy({}) == DOCS_ALWAYS
    assert docs_policy({LAKE_CHECKS_TAG: NEW_FILES}) == DOCS_ON_FAILURE
    assert docs_policy({DBT_TESTS_TAG: NEW_ROWS}) == DOCS_ON_FAILURE
    with pytest.raises(ValueError, match="build_docs"):
        run_suite(SUITE["lake_phones"], None, build_docs="sometimes")


def test_a_suite_keeps_no_reference_to_the_rows_it_validated(data_dir, monkeypatch):
    """The frame a suite validates is freed once the next suite runs: Great Expectations keeps
    the process's last file context (its project manager), and through the context's
    datasource the last batch, so one frame stays alive until the next ``get_context``. A
    context kept across suites (branch py-day, reverted) held every suite's frame for the
    rest of the process: the demo's lake identifiers alone are 2M rows."""
    import gc
    import weakref

    from ingest import expectations

    frames = []
    real = expectations._frame

    def watched(*args, **kwargs):
        df = real(*args, **kwargs)
        frames.append(weakref.ref(df))
        return df

    monkeypatch.setattr(expectations, "_frame", watched)
    _identifiers(data_dir, [("phone", "+8613800138000", False), ("email", "a@example.com", False)])
    for name in ("lake_phones", "lake_emails", "lake_phones"):  # two suites, then the first again
        assert run_suite(SUITE[name], data_dir, build_docs=False).rows == 1
    gc.collect()
    assert len(frames) == 3
    assert [ref() is None for ref in frames[:-1]] == [True, True]


def test_a_suite_in_a_new_process_leaves_pyspark_unimported_and_importable(data_dir):
    """GX's import would load pyspark and pyspark.ml (installed for dbt-spark: ~1 CPU s); the
    first suite of a process imports GX without it, the suite fails and passes as before, and
    pyspark stays importable afterwards."""
    import subprocess
    import sys

    _identifiers(data_dir, [("phone", "+8613800138000", False), ("phone", "138-0013-8000", False)])
    code = """
import sys
from ingest.config import data_paths
from ingest.expectations import SUITES, run_suite
res = run_suite({s.name: s for s in SUITES}["lake_phones"], data_paths(), build_docs=False)
assert not res.passed and "138-0013-8000" in res.failures[0], res
assert "great_expectations" in sys.modules
assert "pyspark" not in sys.modules and "pkg_resources" not in sys.modules, "pyspark imported"
from great_expectations.compatibility import pyspark as gx_spark
assert not gx_spark.pyspark  # GX's stand-in: "pyspark is not installed"
import pyspark  # still there for anything else in the process
print("ok", pyspark.__name__)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0 and "ok pyspark" in out.stdout, out.stderr[-3000:]
