"""Identity resolution (OneID): staged identifiers -> stable customer ids, as an asset and a
check. The logic lives in ``models/identity/``; the rules in ``profiles/identity.yml``."""

import datetime as dt
import hashlib
import time

import dagster as dg

from ingest.config import DBT_PROJECT_DIR, connect
from ingest.engine import file_sha256
from models.identity.attributes import read_record_attributes
from models.identity.ceiling import ceiling_warehouse
from models.identity.evaluate import evaluate_warehouse
from models.identity.history import TABLE as HISTORY_TABLE
from models.identity.history import append_snapshot, duplicate_keys
from models.identity.incremental import run, summary
from models.identity.rules import RULES_PATH, load_rules
from models.identity.store import after_run, model_for_run
from models.identity.warehouse import data_through, read_identifiers
from orchestration.defs.cadence import WEEKLY
from orchestration.resources import paths

CUSTOMER_IDENTIFIERS = dg.AssetKey(["identity", "customer_identifiers"])
STAGED_IDENTIFIERS = dg.AssetKey(["staging", "stg_lake__identifiers"])
CUSTOMER_360 = dg.AssetKey(["marts", "customer_360"])
CUSTOMER_360_HISTORY = dg.AssetKey(["history", "customer_360"])

PRECISION_FLOOR = 0.99
RECALL_FLOOR = 0.95

# The probabilistic tier predicts with the Splink model stored by its last training
# (data/models/identity/, models/identity/store.py) and trains again when that model is this
# many days of data old, or cannot serve the data (no model, a damaged store, the rules file
# or Splink changed, other comparisons): the forecast's weekly cadence (REFIT_EVERY). The
# evaluation against the demo truth (the pairwise scores and the evidence ceiling) is
# computed in the asset on the runs that train; the check identity_matches_the_demo_truth
# scores the run's result on every run.
# IdentityConfig.retrain_every_days = 0 trains on every run.
RETRAIN_EVERY = WEEKLY


class IdentityConfig(dg.Config):
    retrain_every_days: int = RETRAIN_EVERY.days
    # False: resolve every record even when the previous run's state allows a part only
    incremental: bool = True


@dg.asset(
    key=CUSTOMER_IDENTIFIERS,
    group_name="identity",
    deps=[STAGED_IDENTIFIERS],
    kinds={"duckdb", "polars"},
    description="Every identifier with its stable customer_id and link tier (schema identity: "
    "customer_identifiers, record_customers, identifier_links, blocked_identifiers, "
    "limit_audit, identity_merges), by the rules in profiles/identity.yml",
)
def customer_identifiers(
    context: dg.AssetExecutionContext, config: IdentityConfig
) -> dg.MaterializeResult:
    """Resolve the staged identifiers into customers. Ids stay stable across runs (the
    previous run's customer_identifiers is read first); merges and splits are appended to
    identity.identity_merges. The Splink model of the probabilistic tier is the stored one
    while it is fresh (RETRAIN_EVERY), else trained and stored. The warehouse is opened
    read-write only here, and closed before returning (one writer at a time)."""
    t0 = time.perf_counter()
    rules = load_rules()
    rules_sha = file_sha256(RULES_PATH)
    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    store = paths().models / "identity"
    with connect(paths().warehouse) as con:
        ids = read_identifiers(con)
        attributes = read_record_attributes(con)
        through = data_through(ids) or run_at.date()
        model, planned = model_for_run(store, through, rules_sha, config.retrain_every_days)
        # only the part the new and changed records can change, when the previous run's
        # state allows it (models/identity/incremental.py); else every record
        outcome = run(
            con,
            ids,
            attributes,
            rules,
            rules_sha,
            model,
            run_at,
            incremental=config.incremental,
            staged=staging_sha256(),
        )
        linked = outcome.linked
        used = linked.pop("splink", None)
        splink = planned if used is None else after_run(planned, used, through, rules_sha)
        meta = summary(con)
        # evaluation only (the demo brand's truth, when it is there): nothing above reads it.
        # On the runs that train: the pairwise scores of this run's result and the evidence
        # ceiling (the identifiers' best reachable recall, which one day barely moves). A day
        # that reuses the model leaves both to the check, which scores the result every run
        accuracy = ceiling = None
        if splink.action != "reused":
            accuracy = evaluate_warehouse(con, paths().truth)
            ceiling = ceiling_warehouse(con, paths().truth, ids, attributes, rules)
    result = outcome.resolution
    merges = result.merges if result is not None else None
    kinds = merges.group_by("kind").len().rows() if merges is not None and merges.height else []
    context.log.info(f"identity: {outcome.mode} ({outcome.reason}): {meta}")
    return dg.MaterializeResult(
        metadata={
            **meta,
            "identity_run": outcome.mode,
            "identity_run_reason": outcome.reason,
            "identity_changes_found_by": outcome.changes_found_by,
            "records_resolved": outcome.records_resolved,
            "records_resolved_share": round(
                outcome.records_resolved / max(outcome.records_total, 1), 4
            ),
            "merges": dict(kinds).get("merge", 0),
            "splits": dict(kinds).get("split", 0),
            "retired": dict(kinds).get("retired", 0),
            "constrained_components": (result.stats if result is not None else {}).get(
                "constrained_components", 0
            ),
            "probabilistic_ambiguous": linked.get("ambiguous_candidates", 0),
            "probabilistic_links_between_masked_records": linked.get(
                "links_between_masked_records", 0
            ),
            "probabilistic_address_compared": rules.probabilistic.compare_address,
            "probabilistic_threshold": rules.probabilistic.threshold,
            **splink.metadata(),
            **_accuracy_metadata(accuracy),
            "pairwise_scores_computed": accuracy is not None,
            **(ceiling or {}),
            "evidence_ceiling_computed": ceiling is not None,
            "seconds": round(time.perf_counter() - t0, 2),
            "rows_written": dg.MetadataValue.json(outcome.written),
            "rules": str(RULES_PATH),
            "dagster/row_count": meta["customer_identifier_rows"],
        }
    )


def staging_sha256() -> str:
    """A SHA-256 of the dbt project's staging models and macros: a change of their code
    rebuilds the staged tables (``--full-refresh``) under the same ledgers, so the identity
    state's ledgers no longer say what changed (models/identity/ledger.py)."""
    digest = hashlib.sha256()
    for folder in ("models/staging", "macros"):
        for path in sorted((DBT_PROJECT_DIR / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _accuracy_metadata(accuracy) -> dict:
    """Pairwise and cluster-level figures against the demo truth (none without a truth)."""
    if accuracy is None:
        return {}
    scores, extra = accuracy
    return {
        "pairwise_precision": round(scores.precision, 4),
        "pairwise_recall": round(scores.recall, 4),
        "pairwise_f1": round(scores.f1, 4),
        "truth_persons": scores.persons,
        "truth_clusters": scores.clusters,
        "exact_clusters": scores.exact_clusters,
        "exact_cluster_share_of_persons": round(scores.exact_clusters / max(scores.persons, 1), 4),
        "outsider_records_with_a_known_person": extra["outsider_records_with_a_known_person"],
    }


@dg.asset_check(
    asset=CUSTOMER_IDENTIFIERS,
    description=f"Pairwise precision and recall of same-person decisions against the demo "
    f"truth (WARN under precision {PRECISION_FLOOR} or recall {RECALL_FLOOR}); passes with a "
    "note on data without a truth",
)
def identity_matches_the_demo_truth() -> dg.AssetCheckResult:
    p = paths()
    if not (p.truth / "identifiers.parquet").exists():
        return dg.AssetCheckResult(passed=True, metadata={"note": "no data/truth/: not the demo"})
    # read-write: each record's match to the truth is kept (identity.truth_matches), so a run
    # matches only the records it has not seen (models/identity/evaluate.py)
    with connect(p.warehouse) as con:
        scores, extra = evaluate_warehouse(con, p.truth)
    return dg.AssetCheckResult(
        passed=scores.precision >= PRECISION_FLOOR and scores.recall >= RECALL_FLOOR,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "precision": round(scores.precision, 4),
            "recall": round(scores.recall, 4),
            "f1": round(scores.f1, 4),
            "true_positive_pairs": scores.true_positives,
            "predicted_pairs": scores.predicted_pairs,
            "true_pairs": scores.true_pairs,
            "clusters": scores.clusters,
            "persons": scores.persons,
            "exact_clusters": scores.exact_clusters,
            **extra,
        },
    )


@dg.asset(
    key=CUSTOMER_360_HISTORY,
    group_name="marts",
    deps=[CUSTOMER_360],
    kinds={"duckdb"},
    description="Point-in-time history of marts.customer_360, keyed by customer_id and "
    "as_of_date (the data's last order date): each run appends its picture (a re-run on the "
    "same data replaces it), so a customer's RFM, segment and LTV can be followed over loads",
)
def customer_360_history() -> dg.MaterializeResult:
    with connect(paths().warehouse) as con:
        done = append_snapshot(con)
    return dg.MaterializeResult(
        metadata={
            **done,
            "table": HISTORY_TABLE,
            "dagster/row_count": done["rows"],
        }
    )


@dg.asset_check(
    asset=CUSTOMER_360_HISTORY,
    description="ERROR when a (customer_id, as_of_date) is held more than once in the history",
)
def history_has_one_row_per_customer_and_date() -> dg.AssetCheckResult:
    with connect(paths().warehouse, read_only=True) as con:
        n = duplicate_keys(con)
    return dg.AssetCheckResult(
        passed=n == 0, severity=dg.AssetCheckSeverity.ERROR, metadata={"duplicate_keys": n}
    )


ASSETS = [customer_identifiers, customer_360_history]
CHECKS = [identity_matches_the_demo_truth, history_has_one_row_per_customer_and_date]
