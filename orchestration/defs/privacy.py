"""Privacy (PIPL / GDPR) as assets and checks. The logic lives in ``models/privacy/``.

- ``privacy/raw_events_retention``: raw clickstream older than ``profiles/privacy.yml``
  allows purged from the lake (daily aggregates kept); its own job and weekly schedule, and
  part of the full graph (a purge of nothing when nothing is old enough);
- ``privacy/privacy_register``: the erasure/access request log and the tombstones copied
  into the warehouse schema ``privacy``, after the exports; its checks test the rules:
  every exported row has consent for its purpose, no tombstoned identifier is back in the
  warehouse, the marketers' views mask phones and e-mails.
"""

import dagster as dg

from ingest.config import connect
from models.privacy import checks
from models.privacy.config import load as load_config
from models.privacy.erase import publish_audit
from models.privacy.retention import purge_events
from orchestration.defs.segments import ASSETS as SEGMENT_ASSETS
from orchestration.resources import paths

GROUP = "privacy"
RETENTION = dg.AssetKey(["privacy", "raw_events_retention"])
REGISTER = dg.AssetKey(["privacy", "privacy_register"])
EXPORT_KEYS = [key for a in SEGMENT_ASSETS for key in a.keys if key.path[0] == "segment_exports"]


@dg.asset(
    key=RETENTION,
    group_name=GROUP,
    deps=[dg.AssetKey(["lake", "events"])],
    kinds={"parquet", "polars"},
    description="Raw clickstream older than retention.raw_events_days (profiles/privacy.yml) "
    "purged from lake/raw/events; daily aggregates kept in lake/aggregates/events_daily",
)
def raw_events_retention(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_config().retention
    report = purge_events(paths(), settings)
    context.log.info(f"retention cutoff {report.cutoff}: {report.purged_rows} event rows purged")
    return dg.MaterializeResult(
        metadata={
            "cutoff": str(report.cutoff),
            "raw_events_days": settings.raw_events_days,
            "clock": settings.clock,
            "files_rewritten": report.files,
            "purged_rows": report.purged_rows,
            "purged_identifiers": report.purged_identifiers,
            "aggregate_rows": report.aggregate_rows,
        }
    )


@dg.asset(
    key=REGISTER,
    group_name=GROUP,
    deps=[*EXPORT_KEYS, dg.AssetKey(["identity", "customer_identifiers"])],
    kinds={"duckdb"},
    description="Erasure and access requests (privacy.requests: identifier type and keyed "
    "hash, requested and completed) and tombstones (privacy.tombstones) in the warehouse",
)
def privacy_register() -> dg.MaterializeResult:
    counts = publish_audit(paths())
    return dg.MaterializeResult(
        metadata={"requests": counts.get("requests", 0), "tombstones": counts.get("tombstones", 0)}
    )


def _on_warehouse(rule, *args):
    """Run a rule of ``models/privacy/checks.py`` on the warehouse, opened read-only."""
    with connect(paths().warehouse, read_only=True) as con:
        return rule(con, *args)


@dg.asset_check(
    asset=REGISTER,
    blocking=False,
    description="ERROR: a row of the newest segment "
    "export lacks consent for the destination's purpose (cross_border too for "
    "Meta and Google)",
)
def exported_rows_have_consent() -> dg.AssetCheckResult:
    bad = _on_warehouse(checks.unconsented_export_rows, paths().exports / "segments")
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "files_with_unconsented_rows": len(bad),
            "rows": sum(b["rows"] for b in bad),
            "first": str(bad[:5]),
        },
    )


@dg.asset_check(
    asset=REGISTER,
    blocking=False,
    description="ERROR: an identifier whose keyed "
    "hash is a tombstone (an erased person) is in identity or staging again",
)
def tombstoned_identifiers_absent() -> dg.AssetCheckResult:
    found = _on_warehouse(checks.tombstoned_identifiers, paths())
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "tombstones": len(checks.tombstones.load(paths())),
            "found_per_table": str(found),
        },
    )


@dg.asset_check(
    asset=REGISTER,
    blocking=False,
    description="ERROR: the marketers' view "
    "marts_masked.dim_customers shows a phone or e-mail unmasked",
)
def masked_views_mask_contacts() -> dg.AssetCheckResult:
    n = _on_warehouse(checks.unmasked_rows)
    return dg.AssetCheckResult(
        passed=n == 0, severity=dg.AssetCheckSeverity.ERROR, metadata={"unmasked_rows": n}
    )


retention_job = dg.define_asset_job(
    "privacy_retention",
    selection=dg.AssetSelection.assets(RETENTION),
    description="Purge raw clickstream past its retention from the lake.",
)
retention_schedule = dg.ScheduleDefinition(
    name="privacy_retention_weekly",
    job=retention_job,
    cron_schedule=load_config().retention.schedule,
    execution_timezone="Asia/Shanghai",
    description="Retention of raw clickstream (profiles/privacy.yml retention.schedule).",
)

ASSETS = [raw_events_retention, privacy_register]
CHECKS = [exported_rows_have_consent, tombstoned_identifiers_absent, masked_views_mask_contacts]
JOBS = [retention_job]
SCHEDULES = [retention_schedule]
