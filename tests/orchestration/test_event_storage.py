"""The event log of `zhongtai materialize`'s instance (orchestration/event_storage.py): its
SQLite connections kept, every event stored as Dagster's own storage stores it."""

from __future__ import annotations

import glob
import os

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy import event
from sqlalchemy.engine import Engine

from orchestration import event_storage
from orchestration.event_storage import KeptEngineSqliteEventLogStorage, instance

CHECKS = 12


@dg.asset(check_specs=[dg.AssetCheckSpec(f"rule_{i}", asset="orders") for i in range(CHECKS)])
def orders():
    yield dg.MaterializeResult(metadata={"rows": 3})
    for i in range(CHECKS):  # rule_0 fails: a failed check is stored as one
        yield dg.AssetCheckResult(check_name=f"rule_{i}", passed=i != 0)


@dg.asset(deps=[orders])
def totals():
    return dg.MaterializeResult(metadata={"rows": 1})


JOB = dg.Definitions(assets=[orders, totals]).resolve_implicit_global_asset_job_def()


@pytest.fixture
def connections():
    """The SQLite connections to event log files (history/runs/) opened while the test runs."""
    opened: list[str] = []

    def count(dbapi_conn, record):
        path = dbapi_conn.execute("PRAGMA database_list").fetchone()[2]
        if os.path.join("history", "runs", "") in path:
            opened.append(path)

    event.listen(Engine, "connect", count)
    yield opened
    event.remove(Engine, "connect", count)


def _stored(home) -> tuple[int, dict[str, str]]:
    """Materialisations of both assets and the check executions of the latest run, read by
    Dagster's own storage."""
    with dg.DagsterInstance.from_config(str(home)) as plain:
        assert type(plain.event_log_storage) is SqliteEventLogStorage
        mats = sum(
            len(plain.fetch_materializations(dg.AssetKey(k), limit=100).records)
            for k in ("orders", "totals")
        )
        checks = {
            f"rule_{i}": plain.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey("orders"), f"rule_{i}"), limit=1
            )[0].status.value
            for i in range(CHECKS)
        }
    return mats, checks


def test_events_stored_as_by_dagster_with_connections_kept(tmp_path, connections):
    default_home, kept_home = tmp_path / "default", tmp_path / "kept"
    default_home.mkdir()
    kept_home.mkdir()
    with dg.DagsterInstance.from_config(str(default_home)) as plain:
        assert JOB.execute_in_process(instance=plain, raise_on_error=False).success
    by_default = len(connections)
    connections.clear()

    with instance(kept_home) as kept:
        assert type(kept.event_log_storage) is KeptEngineSqliteEventLogStorage
        assert JOB.execute_in_process(instance=kept, raise_on_error=False).success
        assert JOB.execute_in_process(instance=kept, raise_on_error=False).success
    # two runs: Dagster's storage opens a connection per write (> 3 per check event), this one
    # a connection per database file and a first check of each file's schema
    assert by_default > 3 * CHECKS
    assert len(connections) <= 20 < by_default

    mats, checks = _stored(kept_home)
    assert mats == 4  # both assets, both runs
    assert checks == {f"rule_{i}": "FAILED" if i == 0 else "SUCCEEDED" for i in range(CHECKS)}
    assert _stored(default_home) == (2, checks)


def test_engines_kept_for_the_latest_files_only(tmp_path, monkeypatch):
    monkeypatch.setattr(event_storage, "MAX_ENGINES", 2)
    with instance(tmp_path) as kept:
        storage = kept.event_log_storage
        for _ in range(3):
            assert JOB.execute_in_process(instance=kept).success
        assert len(storage._engines) == 2  # the index and the latest run's file
        assert "index" in storage._engines
    assert _stored(tmp_path)[0] == 6


def test_wipe_closes_the_kept_files_first(tmp_path):
    with instance(tmp_path) as kept:
        first = JOB.execute_in_process(instance=kept)
        runs_dir = tmp_path / "history" / "runs"
        assert (runs_dir / f"{first.run_id}.db").exists()
        kept.event_log_storage.wipe()
        assert not storage_files(runs_dir, first.run_id)
        second = JOB.execute_in_process(instance=kept)
        assert second.success
        assert len(kept.get_records_for_run(second.run_id).records) > 0
        assert kept.get_records_for_run(first.run_id).records == []


def storage_files(runs_dir, run_id) -> list[str]:
    return glob.glob(os.path.join(runs_dir, f"{run_id}.db*"))


def test_a_home_that_chooses_its_storage_keeps_it(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {elsewhere}\n")
    with instance(tmp_path) as chosen:
        assert type(chosen.event_log_storage) is SqliteEventLogStorage
        JOB.execute_in_process(instance=chosen)
    assert (elsewhere / "history" / "runs" / "index.db").exists()


def test_the_cli_keeps_one_instance_per_home(tmp_path, monkeypatch):
    from orchestration import cli

    made = []
    for name in ("a", "a", "b"):
        (tmp_path / name).mkdir(exist_ok=True)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / name))
        made.append(cli._instance())
    assert made[0] is made[1] and made[2] is not made[0]
    storage = made[2].event_log_storage
    assert isinstance(storage, KeptEngineSqliteEventLogStorage)
    assert storage.path_for_shard("index") == str(tmp_path / "b" / "history" / "runs" / "index.db")
    for made_instance in {id(m): m for m in made}.values():
        made_instance.dispose()
    cli._instance_of.cache_clear()
