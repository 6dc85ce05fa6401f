"""Which runs of the ``recommendations`` asset score every customer (orchestration/defs/recs.py):
a full build, the weekly refresh, a refit and the ``rescore_all`` switch; an incremental run
with the stored ranker scores only the changed customers (models/recs/rescore.py)."""

from __future__ import annotations

from pathlib import Path

from models.fitstore import FitInfo
from orchestration.defs.recs import RecsRunConfig, _why_everyone
from orchestration.defs.transform import DBT_TESTS_TAG, NEW_ROWS

INCREMENTAL = {DBT_TESTS_TAG: NEW_ROWS, "trigger": "lake_files"}
REUSED = FitInfo("reused", "stored fit of 2025-12-04 is 1 days old", {}, Path("."))
REFITTED = FitInfo("refitted", "no stored fit", {}, Path("."))


def test_an_incremental_run_with_the_stored_ranker_scores_the_changed_customers():
    assert _why_everyone(INCREMENTAL, RecsRunConfig(), REUSED) is None


def test_full_builds_the_weekly_refresh_a_refit_and_the_switch_score_everyone():
    assert _why_everyone({}, RecsRunConfig(), REUSED) == "not an incremental run"
    assert _why_everyone({"trigger": "daily_full_run"}, RecsRunConfig(), REUSED)
    weekly = {**INCREMENTAL, "trigger": "weekly_refresh"}
    assert _why_everyone(weekly, RecsRunConfig(), REUSED) == "weekly_refresh"
    assert "no stored fit" in _why_everyone(INCREMENTAL, RecsRunConfig(), REFITTED)
    switch = _why_everyone(INCREMENTAL, RecsRunConfig(rescore_all=True), REUSED)
    assert switch == "rescore_all asked (RecsRunConfig)"
