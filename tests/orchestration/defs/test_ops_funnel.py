"""The ops funnel checks on a passing and a failing warehouse (invoked directly)."""

import polars as pl

from ingest.config import connect, replace_tables
from orchestration.defs.ops_funnel import (
    cohort_shares_are_valid,
    funnel_is_monotone,
    matched_groups_are_balanced,
)


def _funnel(counts):
    return pl.DataFrame(
        {
            "acquisition_channel": ["tmall"] * 3,
            "step_no": [1, 2, 3],
            "step": ["first_purchase", "joined_private", "repeat_after_join"],
            "customers": counts,
            "conversion_from_previous": [1.0, counts[1] / counts[0], counts[2] / counts[1]],
            "conversion_from_first": [1.0, counts[1] / counts[0], counts[2] / counts[0]],
        }
    )


def _write(data_dir, schema, tables):
    con = connect(data_dir.warehouse)
    try:
        replace_tables(con, schema, tables)
    finally:
        con.close()


def test_funnel_check_passes_then_fails(data_dir):
    _write(data_dir, "ops", {"funnel": _funnel([10, 4, 2])})
    assert funnel_is_monotone().passed
    _write(data_dir, "ops", {"funnel": _funnel([10, 4, 5])})
    result = funnel_is_monotone()
    assert (
        not result.passed and result.metadata["violations"].value == 1
    )  # one row: count and conversion


def test_cohort_check_fails_on_a_share_above_one_or_a_lost_customer(data_dir):
    cohorts = pl.DataFrame({"month_k": [0, 1], "share": [1.0, 0.4], "cohort_customers": [5, 5]})
    journeys = pl.DataFrame({"customer_id": list("abcde")})
    _write(data_dir, "marts", {"ops_cohort_retention": cohorts, "ops_customer_journeys": journeys})
    assert cohort_shares_are_valid().passed
    bad = cohorts.with_columns(pl.Series("share", [1.0, 1.2]))
    _write(data_dir, "marts", {"ops_cohort_retention": bad})
    assert not cohort_shares_are_valid().passed
    _write(
        data_dir,
        "marts",
        {"ops_cohort_retention": cohorts, "ops_customer_journeys": journeys.head(4)},
    )
    assert not cohort_shares_are_valid().passed


def test_balance_check_fails_on_a_key_gap(data_dir):
    est = pl.DataFrame(
        {
            "design": ["first_window_matched"],
            "strata_used": [3],
            "difference": [1.0],
            "difference_low": [0.5],
            "difference_high": [1.5],
        }
    )
    bal = pl.DataFrame(
        {"design": ["first_window_matched"], "variable": ["acquisition_month"],
         "kind": ["matching key (share gap)"], "max_abs_gap": [0.0]}
    )  # fmt: skip
    _write(data_dir, "ops", {"omnichannel_uplift": est, "uplift_balance": bal})
    assert matched_groups_are_balanced().passed
    _write(data_dir, "ops", {"uplift_balance": bal.with_columns(pl.lit(0.1).alias("max_abs_gap"))})
    assert not matched_groups_are_balanced().passed
    _write(
        data_dir, "ops", {"omnichannel_uplift": est.with_columns(pl.lit(2.0).alias("difference"))}
    )
    _write(data_dir, "ops", {"uplift_balance": bal})
    assert not matched_groups_are_balanced().passed
