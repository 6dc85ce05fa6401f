"""Great Expectations suites over the lake and the staging layer.

GE 1.x has no working DuckDB path here, so each suite reads its data with DuckDB into a
pandas frame and validates that. A suite is a query plus expectations, each with a severity:
``critical`` failures mean broken data (the Dagster check fails with ERROR), ``warning``
failures are soft rules (WARN). Data docs are written to ``data/docs/``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import sys
from dataclasses import dataclass, field

from ingest.canonical import CANONICAL_STATUSES, CONSENT_PURPOSES, EVENT_TYPES
from ingest.config import DataPaths, connect
from ingest.identifiers import IDENTIFIER_TYPES
from ingest.reconcile import lake_outputs, loaded_since, sql_strings

log = logging.getLogger(__name__)

E164 = r"^\+[1-9]\d{6,14}$"
MASKED_PHONE = r"^\d{0,5}\*{4}\d{0,4}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CURRENCY = r"^[A-Z]{3}$"


@dataclass(frozen=True)
class Rule:
    expectation: str  # class name in gx.expectations
    kwargs: dict
    severity: str = "critical"  # critical -> ERROR, warning -> WARN


@dataclass(frozen=True)
class Suite:
    name: str
    asset: str  # the Dagster asset the check attaches to, "lake/order_lines" or a dbt model
    sql: str  # {lake_<entity>} (the entity's lake files) and {warehouse} are filled in
    rules: list[Rule] = field(default_factory=list)
    warehouse: bool = False  # reads the DuckDB warehouse (staging) rather than the lake


def _lake(entity: str) -> str:
    return f"read_parquet({{lake_{entity}}}, union_by_name = true)"


LAKE_SLOT = re.compile(r"\{lake_(\w+)\}")


SUITES = [
    Suite(
        "lake_order_lines",
        "lake/order_lines",
        f"select * from {_lake('order_lines')}",
        [
            Rule("ExpectColumnValuesToNotBeNull", {"column": "order_id"}),
            Rule("ExpectColumnValuesToNotBeNull", {"column": "channel_sku"}),
            Rule("ExpectColumnValuesToBeBetween", {"column": "quantity", "min_value": 1}),
            Rule(
                "ExpectColumnValuesToBeBetween",
                {"column": "quantity", "max_value": 50, "mostly": 0.999},
                "warning",
            ),
            Rule("ExpectColumnValuesToMatchRegex", {"column": "currency", "regex": CURRENCY}),
            Rule(
                "ExpectColumnValuesToBeInSet",
                {"column": "status", "value_set": list(CANONICAL_STATUSES)},
            ),
        ],
    ),
    Suite(
        "lake_identifiers",
        "lake/identifiers",
        f"select * from {_lake('identifiers')}",
        [
            Rule(
                "ExpectColumnValuesToBeInSet",
                {"column": "identifier_type", "value_set": list(IDENTIFIER_TYPES)},
            ),
            Rule("ExpectColumnValuesToNotBeNull", {"column": "identifier_value"}),
        ],
    ),
    Suite(
        "lake_phones",
        "lake/identifiers",
        f"select identifier_value, is_partial from {_lake('identifiers')} "
        "where identifier_type = 'phone'",
        [
            Rule(
                "ExpectColumnValuesToMatchRegex",
                {"column": "identifier_value", "regex": f"{E164}|{MASKED_PHONE}"},
            ),
        ],
    ),
    Suite(
        "lake_emails",
        "lake/identifiers",
        f"select identifier_value from {_lake('identifiers')} where identifier_type = 'email'",
        [
            Rule("ExpectColumnValuesToMatchRegex", {"column": "identifier_value", "regex": EMAIL}),
            Rule(
                "ExpectColumnValuesToNotMatchRegex",
                {"column": "identifier_value", "regex": r"[A-Z\s]"},
            ),
        ],
    ),
    Suite(
        "staging_events",
        "staging/stg_lake__events",
        "select event_type, event_ts from staging.stg_lake__events",
        [
            Rule(
                "ExpectColumnValuesToBeInSet",
                {"column": "event_type", "value_set": list(EVENT_TYPES)},
            ),
            Rule("ExpectColumnValuesToNotBeNull", {"column": "event_ts"}),
        ],
        warehouse=True,
    ),
    Suite(
        "staging_consents",
        "staging/stg_lake__consents",
        "select purpose, granted from staging.stg_lake__consents",
        [
            Rule(
                "ExpectColumnValuesToBeInSet",
                {"column": "purpose", "value_set": list(CONSENT_PURPOSES)},
            ),
            Rule("ExpectColumnValuesToNotBeNull", {"column": "granted"}),
        ],
        warehouse=True,
    ),
    Suite(
        "staging_prices",
        "staging/stg_lake__prices",
        "select p.price, p.list_price from staging.stg_lake__prices as p",
        [
            Rule(
                "ExpectColumnValuesToBeBetween",
                {"column": "price", "min_value": 0, "strict_min": True},
            ),
            # deep discounts happen on Double 11, but more than 2 % of prices below half the
            # list price is suspicious
            Rule(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {"column_A": "price", "column_B": "half_list", "or_equal": True, "mostly": 0.98},
                "warning",
            ),
        ],
        warehouse=True,
    ),
]


@dataclass
class SuiteResult:
    suite: str
    rows: int
    passed: bool  # no critical failure
    warnings: list[str]
    failures: list[str]
    docs: str | None


def _lake_files(suite: Suite, paths: DataPaths, since: dt.datetime | None) -> dict[str, str]:
    """Per ``{lake_<entity>}`` slot of the suite's SQL: the entity's whole lake (a glob), or
    with ``since`` the lake files written by the files loaded at or after it (with the
    zero-row ``_schema.parquet``, so the columns are there when nothing is new)."""
    fresh = loaded_since(paths, since) if since is not None else None
    out = {}
    for entity in set(LAKE_SLOT.findall(suite.sql)):
        folder = paths.lake_raw / entity
        if fresh is None:
            out[f"lake_{entity}"] = sql_strings(str(folder / "*.parquet"))
            continue
        files = lake_outputs(paths, fresh, f"raw/{entity}/")
        out[f"lake_{entity}"] = sql_strings([str(folder / "_schema.parquet"), *files])
    return out


def _frame(suite: Suite, paths: DataPaths, since: dt.datetime | None = None):
    sql = suite.sql.format(warehouse=paths.warehouse, **_lake_files(suite, paths, since))
    con = connect(paths.warehouse, read_only=True) if suite.warehouse else connect()
    try:
        df = con.sql(sql).df()
    finally:
        con.close()
    if "list_price" in df.columns:
        df["half_list"] = df["list_price"].astype(float) / 2
        df["price"] = df["price"].astype(float)
    return df


# when run_suite rebuilds the data docs site: every validation, or only one that failed or
# warned (an incremental run's: the validation result is stored either way and shows in the
# site at its next build; rebuilding it costs ~0.45 CPU s per suite, more than validating a
# day's rows)
DOCS_ALWAYS, DOCS_ON_FAILURE = "always", "on_failure"


def _great_expectations():
    """``great_expectations``, imported without pyspark when this process has not imported
    pyspark itself. GX's import tries pyspark and pyspark.ml (which loads setuptools'
    pkg_resources) whenever it is installed, as the project's ``spark`` extra installs it for
    dbt-spark: ~1 of the ~3.5-4 CPU s GX's import costs the first suite of a process. The
    suites validate pandas frames; GX keeps its "pyspark not installed" stand-ins, and pyspark
    stays importable for anything else in the process."""
    if "great_expectations" in sys.modules or "pyspark" in sys.modules:
        import great_expectations

        return great_expectations
    sys.modules["pyspark"] = None  # an ImportError for `import pyspark` and its submodules
    try:
        import great_expectations
    finally:
        if sys.modules.get("pyspark", 0) is None:
            del sys.modules["pyspark"]
    return great_expectations


def run_suite(
    suite: Suite,
    paths: DataPaths,
    build_docs: bool | str = True,
    since: dt.datetime | None = None,
) -> SuiteResult:
    """Validate one suite; write its data docs under ``data/docs/``. ``since``: a lake suite
    validates only the rows of the files loaded at or after it (one run's new files); with
    none, nothing is validated and the result says 0 rows. Warehouse suites ignore it.
    ``build_docs``: True (or ``DOCS_ALWAYS``), False, or ``DOCS_ON_FAILURE`` (only when a rule
    failed or warned)."""
    if build_docs not in (True, False, DOCS_ALWAYS, DOCS_ON_FAILURE):
        raise ValueError(f"build_docs: {build_docs!r} is not True, False, {DOCS_ON_FAILURE!r}")
    df = _frame(suite, paths, None if suite.warehouse else since)
    if since is not None and not suite.warehouse and df.empty:
        return SuiteResult(suite.name, 0, True, [], [], None)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network calls from CI
    gx = _great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    docs_root = paths.root / "docs"
    context = gx.get_context(mode="file", project_root_dir=str(docs_root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    ds = context.data_sources.add_or_update_pandas(name=suite.name)
    asset = ds.add_dataframe_asset(name=suite.name)
    batch = asset.add_batch_definition_whole_dataframe(name="all")
    with contextlib.suppress(Exception):  # first run: nothing to replace
        context.suites.delete(suite.name)
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name))
    for rule in suite.rules:
        cls = getattr(gx.expectations, rule.expectation)
        gx_suite.add_expectation(cls(**rule.kwargs, severity=rule.severity))
    with contextlib.suppress(Exception):
        context.validation_definitions.delete(suite.name)
    vd = context.validation_definitions.add(
        gx.ValidationDefinition(data=batch, suite=gx_suite, name=suite.name)
    )
    result = vd.run(batch_parameters={"dataframe": df})
    failures, warnings = [], []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        text = (
            f"{cfg.type}({', '.join(f'{k}={v}' for k, v in cfg.kwargs.items() if k != 'batch_id')})"
        )
        unexpected = (r.result or {}).get("partial_unexpected_list")
        if unexpected:
            text += f": e.g. {unexpected[:3]}"
        (warnings if str(cfg.severity.value) == "warning" else failures).append(text)
    docs = None
    if build_docs in (True, DOCS_ALWAYS) or (
        build_docs == DOCS_ON_FAILURE and (failures or warnings)
    ):
        urls = context.build_data_docs()
        docs = next(iter(urls.values()), None)
    return SuiteResult(suite.name, len(df), not failures, warnings, failures, docs)
