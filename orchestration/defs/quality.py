"""Data-quality rules as asset checks (dbt tests arrive as checks through dagster-dbt)."""

import dagster as dg

from ingest.config import connect
from ingest.expectations import DOCS_ALWAYS, DOCS_ON_FAILURE, SUITES, Suite, run_suite
from ingest.flag_eval import evaluate_flags
from ingest.reconcile import loaded_rows, reconcile, unclaimed_files
from ingest.spec import load_specs_lenient
from orchestration.defs.ingest import (
    LAKE_CHECKS_TAG,
    NEW_FILES,
    QUARANTINE_KEY,
    checks_since,
    run_channels,
)
from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS
from orchestration.resources import paths


@dg.asset_check(
    asset=QUARANTINE_KEY,
    description="landing rows = lake rows + quarantined rows, per loaded file of the channels "
    "the run ingested (its partitions); an incremental run checks the files it loaded",
)
def every_landing_row_accounted_for(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    channels = set(run_channels(context.run.tags))
    specs = {c: s for c, s in load_specs_lenient()[0].items() if c in channels}
    since = checks_since(context)
    balances = reconcile(paths(), specs, since)
    loaded = [b for b in balances if b.status == "loaded"]
    broken = [b for b in loaded if b.missing != 0]
    not_ingested = [b.file for b in balances if b.status == "not ingested"]
    return dg.AssetCheckResult(
        passed=not broken and not not_ingested,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "channels": ", ".join(sorted(specs)),
            "scope": f"files loaded since {since.isoformat()} UTC" if since else "every file",
            "files_checked": len(loaded),
            "landing_rows": sum(b.landing_rows for b in loaded),
            "accounted_rows": sum(b.accounted_rows for b in loaded),
            "files_with_missing_rows": dg.MetadataValue.json(
                [{"file": b.file, "missing": b.missing} for b in broken[:20]]
            ),
            "files_not_ingested": dg.MetadataValue.json(not_ingested[:20]),
        },
    )


@dg.asset_check(
    asset=QUARANTINE_KEY, description="WARN when more than 1% of landing rows are quarantined"
)
def quarantine_rate_is_low() -> dg.AssetCheckResult:
    p = paths()
    con = connect()
    glob = str(p.quarantine / "*.parquet")
    by_reason = con.execute(
        f"""
        select channel, regexp_replace(reason, '''[^'']*''|[0-9]+', '…', 'g') as kind,
               count(distinct source_file || ':' || source_row)
        from read_parquet({glob!r}) group by 1, 2 order by 3 desc limit 20
        """
    ).fetchall()
    # every quarantined row, not only the 20 commonest reasons listed above
    (quarantined,) = con.execute(
        f"select count(distinct source_file || ':' || source_row) from read_parquet({glob!r})"
    ).fetchone()
    # rows the engine read from the loaded files (the reconciliation check recounts them
    # from the landing files; a rate does not need the second reading)
    landing = loaded_rows(p)
    rate = quarantined / landing if landing else 0.0
    return dg.AssetCheckResult(
        passed=rate <= 0.01,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined_rows": quarantined,
            "landing_rows": landing,
            "rate": rate,
            "top_reasons": dg.MetadataValue.json(
                [{"channel": c, "reason": k, "rows": n} for c, k, n in by_reason]
            ),
        },
    )


@dg.asset_check(
    asset=QUARANTINE_KEY,
    description="WARN when data/landing/ holds files no channel spec reads (unknown folder or name)",
)
def no_unclaimed_landing_files() -> dg.AssetCheckResult:
    files = unclaimed_files(paths(), load_specs_lenient()[0])
    return dg.AssetCheckResult(
        passed=not files,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unclaimed_files": len(files), "first": dg.MetadataValue.json(files[:20])},
    )


@dg.asset_check(
    asset=dg.AssetKey(["intermediate", "int_order_flags"]),
    additional_deps=[dg.AssetKey(["intermediate", "int_bot_sessions"])],
    description="Precision and recall of the test-order, brushing and bot flags against the "
    "demo truth (WARN under 0.9); passes with a note on data without a truth",
)
def flags_match_the_demo_truth() -> dg.AssetCheckResult:
    scores = evaluate_flags(paths())
    if scores is None:
        return dg.AssetCheckResult(passed=True, metadata={"note": "no data/truth/: not the demo"})
    weak = [s.flag for s in scores if (s.precision or 0) < 0.9 or (s.recall or 0) < 0.9]
    metadata = {}
    for s in scores:
        metadata[f"{s.flag}_precision"] = s.precision if s.precision is not None else "n/a"
        metadata[f"{s.flag}_recall"] = s.recall if s.recall is not None else "n/a"
        metadata[f"{s.flag}_flagged"] = s.flagged
        metadata[f"{s.flag}_actual"] = s.actual
    return dg.AssetCheckResult(
        passed=not weak, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
    )


ORDER_LINES = dg.AssetKey(["marts", "fct_order_lines"])


def over_returned_lines(con, limit: int = 20) -> tuple[int, list[dict]]:
    """Order lines of ``marts.fct_order_lines`` whose returned units exceed the units sold:
    (how many, the first ``limit`` with channel, order, line, sold, returned, source file)."""
    where = "from marts.fct_order_lines where returned_units > quantity"
    (n,) = con.execute(f"select count(*) {where}").fetchone()
    rows = con.execute(
        "select channel, order_id, line_id, quantity, returned_units, source_file "
        f"{where} order by channel, order_id, line_id limit {int(limit)}"
    ).fetchall()
    keys = ("channel", "order_id", "line_id", "sold", "returned", "source_file")
    return n, [dict(zip(keys, r, strict=True)) for r in rows]


@dg.asset_check(
    asset=ORDER_LINES,
    description="ERROR when an order line's returned units exceed its sold units (returns "
    "matched to the wrong line, a refund delivered twice, a stale lake file)",
)
def returns_never_exceed_sold_units() -> dg.AssetCheckResult:
    with connect(paths().warehouse, read_only=True) as con:
        n, first = over_returned_lines(con)
    return dg.AssetCheckResult(
        passed=n == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"over_returned_lines": n, "first": dg.MetadataValue.json(first)},
    )


def docs_policy(tags: dict[str, str]) -> str:
    """When a suite's check rebuilds the data docs: always in a full build; in an incremental
    run (the new day's ingest and downstream runs, the sensors' runs: ~0.45 CPU s per suite,
    most of a suite's cost on a day's rows) only when a rule failed or warned, so a failure
    still has its page. A passing result is stored all the same and shows from the next build."""
    incremental = tags.get(LAKE_CHECKS_TAG) == NEW_FILES or tags.get(DBT_TESTS_TAG) == NEW_ROWS
    return DOCS_ON_FAILURE if incremental else DOCS_ALWAYS


def _gx_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(suite.asset.split("/")),
        name=f"gx_{suite.name}",
        description=f"Great Expectations suite {suite.name}: "
        + "; ".join(f"{r.expectation} ({r.severity})" for r in suite.rules)
        + ("" if suite.warehouse else " (an incremental run: the lake files it loaded)"),
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        since = checks_since(context)
        res = run_suite(suite, paths(), build_docs=docs_policy(context.run.tags), since=since)
        return dg.AssetCheckResult(
            passed=res.passed and not res.warnings,
            severity=dg.AssetCheckSeverity.ERROR if res.failures else dg.AssetCheckSeverity.WARN,
            metadata={
                "scope": f"files loaded since {since.isoformat()} UTC"
                if since and not suite.warehouse
                else "every row",
                "rows": res.rows,
                "failures": dg.MetadataValue.json(res.failures),
                "warnings": dg.MetadataValue.json(res.warnings),
                "data_docs": dg.MetadataValue.url(res.docs)
                if res.docs
                else "not rebuilt: an incremental run's passing suite (docs_policy)",
            },
        )

    return _check


GX_CHECKS = [_gx_check(s) for s in SUITES]

CHECKS = [
    every_landing_row_accounted_for,
    quarantine_rate_is_low,
    no_unclaimed_landing_files,
    flags_match_the_demo_truth,
    returns_never_exceed_sold_units,
    *GX_CHECKS,
]
