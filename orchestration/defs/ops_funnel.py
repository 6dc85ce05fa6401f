"""Traffic public → private → repeat and the omnichannel uplift (issue 9): the funnel and host
attribution (tables ops.funnel, ops.host_attribution, report under
exports/reports/funnel/) and the uplift (ops.omnichannel_uplift, ops.uplift_balance, report
under exports/reports/uplift/), after the dbt marts ops_customer_journeys and
ops_cohort_retention. The logic lives in ``models/ops/``."""

import time

import dagster as dg
import polars as pl

from ingest.config import connect
from models.ops.funnel import ALL, funnel, funnel_violations, host_attribution
from models.ops.funnel_report import write_funnel_report, write_uplift_report
from models.ops.funnel_warehouse import (
    read_cohorts,
    read_host_orders,
    read_journeys,
    read_orders,
    write_tables,
)
from models.ops.uplift import UpliftDesign, balance, conclusion, customer_outcomes, uplift
from orchestration.defs.cadence import WEEKLY, every
from orchestration.resources import paths

JOURNEYS = dg.AssetKey(["marts", "ops_customer_journeys"])
COHORTS = dg.AssetKey(["marts", "ops_cohort_retention"])
ORDERS = dg.AssetKey(["marts", "fct_orders"])
STG_ORDERS = dg.AssetKey(["staging", "stg_lake__orders"])
FUNNEL = dg.AssetKey(["ops", "funnel"])
UPLIFT = dg.AssetKey(["ops", "omnichannel_uplift"])
MATCHED_DESIGNS = ("first_window_matched", "first_window_matched_freq")


class FunnelConfig(dg.Config):
    window_days: int = 30


class UpliftConfig(dg.Config):
    first_window_days: int = 60
    outcome_days: int = 90
    bootstrap: int = 400
    seed: int = 0


def _design(config: UpliftConfig) -> UpliftDesign:
    return UpliftDesign(
        first_window_days=config.first_window_days,
        outcome_days=config.outcome_days,
        bootstrap=config.bootstrap,
        seed=config.seed,
    )


def _rate(frame: pl.DataFrame, step: str, channel: str = ALL) -> float | None:
    row = frame.filter((pl.col("acquisition_channel") == channel) & (pl.col("step") == step))
    return (
        None
        if row.is_empty() or row["conversion_from_first"][0] is None
        else round(float(row["conversion_from_first"][0]), 4)
    )


@dg.asset(
    key=FUNNEL,
    group_name="ops",
    deps=[JOURNEYS, COHORTS, ORDERS, STG_ORDERS],
    kinds={"duckdb", "polars"},
    description="Funnel per acquisition channel (first purchase → joined the private domain → "
    "repeat after joining, within a window, right-censored customers left out) and live-session "
    "sales per host (ops.funnel, ops.host_attribution); report with the funnel and cohort "
    "retention plots in exports/reports/funnel/",
)
def ops_funnel(context: dg.AssetExecutionContext, config: FunnelConfig) -> dg.MaterializeResult:
    t0 = time.perf_counter()
    p = paths()
    with connect(p.warehouse) as con:
        journeys = read_journeys(con)
        table = funnel(journeys, config.window_days)
        hosts = host_attribution(read_host_orders(con), journeys, config.window_days)
        cohorts = read_cohorts(con)
        written = write_tables(con, {"funnel": table, "host_attribution": hosts})
    files = write_funnel_report(p.exports / "reports" / "funnel", table, hosts, cohorts)
    eligible = table.filter((pl.col("acquisition_channel") == ALL) & (pl.col("step_no") == 1))
    context.log.info(f"ops funnel: {written}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written["funnel"],
            "hosts": written["host_attribution"],
            "window_days": config.window_days,
            "customers": journeys.height,
            "customers_observed": int(eligible["customers"].sum()) if eligible.height else 0,
            "joined_private_share": _rate(table, "joined_private"),
            "repeat_after_join_share": _rate(table, "repeat_after_join"),
            "report": str(files[-1]),
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )


@dg.asset(
    key=UPLIFT,
    group_name="ops",
    deps=[JOURNEYS, ORDERS],
    kinds={"duckdb", "polars"},
    # a study over the whole customer history with bootstrap intervals: one more day moves
    # it by a day's customers out of years; weekly, not on every new day
    # (orchestration/defs/cadence.py), like the backtest and the recommender's evaluation
    tags=every(WEEKLY),
    description="Omnichannel uplift: multi- vs single-channel customers on retention, annual "
    "value and AOV; naive, first-window (channels in a first window, outcomes after it) and "
    "exactly matched on acquisition month and first category (and first-window frequency), "
    "with bootstrap intervals (ops.omnichannel_uplift, ops.uplift_balance); report in "
    "exports/reports/uplift/",
)
def omnichannel_uplift(
    context: dg.AssetExecutionContext, config: UpliftConfig
) -> dg.MaterializeResult:
    t0 = time.perf_counter()
    design = _design(config)
    p = paths()
    with connect(p.warehouse) as con:
        journeys = read_journeys(con)
        as_of = journeys["as_of_date"].max() if journeys.height else None
        outcomes = customer_outcomes(read_orders(con), journeys, as_of, design)
        estimates = uplift(outcomes, design)
        bal = pl.concat([balance(outcomes, design, name) for name in MATCHED_DESIGNS])
        written = write_tables(con, {"omnichannel_uplift": estimates, "uplift_balance": bal})
    sentence = conclusion(estimates)
    design_text = (
        f"Customers with {design.first_window_days + design.outcome_days} days observed after "
        f"their first purchase: {outcomes.height} of {journeys.height} (first purchase by "
        f"{as_of}); multi-channel in the first {design.first_window_days} days: "
        f"{int(outcomes['multi_first_window'].sum()) if outcomes.height else 0}; outcomes over "
        f"the next {design.outcome_days} days; {design.bootstrap} bootstrap replicates."
    )
    files = write_uplift_report(p.exports / "reports" / "uplift", estimates, bal, sentence, design_text)  # fmt: skip
    context.log.info(sentence)
    main = estimates.filter(
        (pl.col("design") == "first_window_matched_freq") & (pl.col("metric") == "aov_cny")
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written["omnichannel_uplift"],
            "customers_observed": outcomes.height,
            "multi_first_window": int(outcomes["multi_first_window"].sum())
            if outcomes.height
            else 0,
            "aov_relative_matched": main["relative"][0] if main.height else None,
            "conclusion": dg.MetadataValue.md(sentence),
            "design": design_text,
            "report": str(files[-1]),
            "seconds": round(time.perf_counter() - t0, 2),
        }
    )


def _read(sql: str) -> pl.DataFrame:
    with connect(paths().warehouse, read_only=True) as con:
        return con.execute(sql).pl()


@dg.asset_check(
    asset=FUNNEL,
    description="Funnel counts do not grow from one step to the next in any acquisition "
    "channel, and every conversion lies in [0, 1] (ERROR)",
)
def funnel_is_monotone() -> dg.AssetCheckResult:
    bad = funnel_violations(_read("select * from ops.funnel"))
    return dg.AssetCheckResult(
        passed=bad.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "violations": bad.height,
            "first": dg.MetadataValue.md(
                "\n".join(
                    f"- {r['acquisition_channel']} {r['step']}: {r['customers']}"
                    for r in bad.head(10).iter_rows(named=True)
                )
                or "none"
            ),
        },
    )


@dg.asset_check(
    asset=FUNNEL,
    additional_deps=[COHORTS],
    description="Cohort retention shares within [0, 1], month 0 of every cohort equal to 1, "
    "and the cohorts' customers equal to the customers of ops_customer_journeys (ERROR)",
)
def cohort_shares_are_valid() -> dg.AssetCheckResult:
    cohorts = _read("select * from marts.ops_cohort_retention")
    customers = _read("select count(*) as n from marts.ops_customer_journeys")["n"][0]
    out_of_range = cohorts.filter(~pl.col("share").is_between(0.0, 1.0)).height
    month0 = cohorts.filter((pl.col("month_k") == 0) & (pl.col("share") != 1.0)).height
    in_cohorts = int(cohorts.filter(pl.col("month_k") == 0)["cohort_customers"].sum())
    return dg.AssetCheckResult(
        passed=out_of_range == 0 and month0 == 0 and in_cohorts == customers,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows": cohorts.height,
            "shares_out_of_range": out_of_range,
            "month0_not_one": month0,
            "customers_in_cohorts": in_cohorts,
            "customers_in_journeys": int(customers),
        },
    )


@dg.asset_check(
    asset=UPLIFT,
    description="The matched designs are balanced on their matching keys (largest share gap "
    "between multi-channel and weighted single-channel customers at most 1e-9) and every "
    "interval contains its estimate (ERROR)",
)
def matched_groups_are_balanced() -> dg.AssetCheckResult:
    bal = _read("select * from ops.uplift_balance")
    est = _read("select * from ops.omnichannel_uplift")
    keys = bal.filter(pl.col("kind").str.starts_with("matching key"))
    gap = float(keys["max_abs_gap"].max() or 0.0) if keys.height else 0.0
    outside = est.filter(
        pl.col("difference_low").is_not_null()
        & ~pl.col("difference").is_between(pl.col("difference_low"), pl.col("difference_high"))
    ).height
    return dg.AssetCheckResult(
        passed=gap <= 1e-9 and outside == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "max_key_gap": gap,
            "estimates_outside_interval": outside,
            "matched_strata": int(
                est.filter(pl.col("design").is_in(list(MATCHED_DESIGNS)))["strata_used"].max() or 0
            ),
        },
    )


@dg.asset_check(
    asset=UPLIFT,
    description="Enough customers to say something: at least 30 multi- and 30 single-channel "
    "customers in the matched strata of the main design (WARN: the report then says too few)",
)
def uplift_has_enough_customers() -> dg.AssetCheckResult:
    est = _read(
        "select * from ops.omnichannel_uplift where design = 'first_window_matched' "
        "and metric = 'annual_value_cny'"
    )
    multi = int(est["multi_customers"][0]) if est.height else 0
    single = int(est["single_customers"][0]) if est.height else 0
    return dg.AssetCheckResult(
        passed=multi >= 30 and single >= 30,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"multi_customers": multi, "single_customers": single, "minimum": 30},
    )


ASSETS = [ops_funnel, omnichannel_uplift]
CHECKS = [
    funnel_is_monotone,
    cohort_shares_are_valid,
    matched_groups_are_balanced,
    uplift_has_enough_customers,
]
