"""dbt in the run's process (orchestration/dbt_in_process.py, ``DbtCli`` in
orchestration/resources.py): the same checks and failures as a `dbt` process, the warehouse
closed after each step, and a kept parse used only for the tree and project it was made for."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME, _get_dbt_target_path
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from ingest.config import DBT_PROJECT_DIR, DataPaths
from ingest.engine import ingest_all
from ingest.spec import load_specs_lenient
from orchestration import dbt_in_process
from orchestration.defs.transform import warehouse_models
from orchestration.resources import (
    DBT_PROJECT,
    DbtCli,
    dbt_executable,
    dbt_resource,
    seed_partial_parse,
)
from tests.conftest import copy_landing

ORDERS = dg.AssetKey(["staging", "stg_lake__orders"])
STATUS_CHECK = (
    "accepted_values_stg_lake__orders_status__pending__paid__shipped__completed__cancelled"
)


@pytest.fixture(scope="module")
def pos_lake(tiny_demo, tmp_path_factory) -> DataPaths:
    """The tiny demo's POS channel ingested into a tree of this module (read-only: copy it)."""
    paths = DataPaths(tmp_path_factory.mktemp("inproc") / "data")
    copy_landing(tiny_demo, paths, "pos")
    ingest_all(load_specs_lenient()[0], paths, workers=1)
    return paths


@pytest.fixture(scope="module")
def tree(pos_lake, tmp_path_factory) -> Iterator[DataPaths]:
    """A copy of ``pos_lake``, ZHONGTAI_DATA_DIR pointing at it: shared by this module's tests
    that leave its lake as it is (each tree costs a parse of the project)."""
    paths = DataPaths(tmp_path_factory.mktemp("inproc_tree") / "data")
    shutil.copytree(pos_lake.lake, paths.lake)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZHONGTAI_DATA_DIR", str(paths.root))
        yield paths


def _build(keys: list[dg.AssetKey]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [warehouse_models], selection=keys, resources={"dbt": dbt_resource()}, raise_on_error=False
    )


def _dbt_env(target) -> dict[str, str]:
    """The environment of a `dbt` command of the project writing into ``target``."""
    return {
        **os.environ,
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def _warehouse_is_free(paths: DataPaths) -> None:
    """Another process could open the file to write: no connection of this one holds it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    assert DuckDBConnectionManager._ENV is None
    duckdb.connect(str(paths.warehouse)).close()


def test_a_dbt_step_in_process_gives_the_checks_and_frees_the_warehouse(tree):
    assert dbt_resource()._runs_in_process()
    result = _build([ORDERS])
    assert result.success
    [mat] = result.get_asset_materialization_events()
    assert mat.asset_key == ORDERS
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert STATUS_CHECK in checks and all(c.passed for c in checks.values())
    assert checks[STATUS_CHECK].severity == dg.AssetCheckSeverity.ERROR
    _warehouse_is_free(tree)
    with duckdb.connect(str(tree.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from staging.stg_lake__orders").fetchone()[0] > 0
    # the step's parse kept in the tree, for the tree's next process (not the project's target)
    assert (tree.dbt_parse / "partial_parse.msgpack").stat().st_size > 0


def test_a_new_invocation_starts_from_its_trees_parse(tmp_path, monkeypatch):
    """The tree's kept parse first, else the project's (``prepare_dbt``'s); one already in
    the invocation's folder is left as it is."""
    project, tree = tmp_path / "project", DataPaths(tmp_path / "data")
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(tree.root))
    target = project / _get_dbt_target_path()
    target.mkdir(parents=True)
    (target / PARTIAL_PARSE_FILE_NAME).write_bytes(b"project")
    seed_partial_parse(tmp_path / "a", project)
    assert (tmp_path / "a" / PARTIAL_PARSE_FILE_NAME).read_bytes() == b"project"
    tree.dbt_parse.mkdir(parents=True)
    (tree.dbt_parse / PARTIAL_PARSE_FILE_NAME).write_bytes(b"tree")
    seed_partial_parse(tmp_path / "b", project)
    assert (tmp_path / "b" / PARTIAL_PARSE_FILE_NAME).read_bytes() == b"tree"
    seed_partial_parse(tmp_path / "a", project)
    assert (tmp_path / "a" / PARTIAL_PARSE_FILE_NAME).read_bytes() == b"project"
    seed_partial_parse(tmp_path / "c", tmp_path / "nothing")
    assert (tmp_path / "c" / PARTIAL_PARSE_FILE_NAME).read_bytes() == b"tree"


def test_the_dbt_process_path_gives_the_same_step(tree, monkeypatch):
    """``ZHONGTAI_DBT_IN_PROCESS=0`` (and any target but DuckDB) runs the step as a `dbt`
    process, with the same arguments (``--no-write-json`` among them): the same
    materialisation and the same checks with the same outcomes as in process."""

    def outcome(result: dg.ExecuteInProcessResult) -> tuple:
        mats = sorted(
            m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
        )
        checks = sorted(
            (c.check_name, c.passed, c.severity) for c in result.get_asset_check_evaluations()
        )
        return result.success, mats, checks

    in_process = outcome(_build([ORDERS]))
    monkeypatch.setenv("ZHONGTAI_DBT_IN_PROCESS", "0")
    assert not dbt_resource()._runs_in_process()
    as_process = outcome(_build([ORDERS]))
    assert as_process == in_process
    assert in_process[0] and in_process[1] == [ORDERS.to_user_string()] and in_process[2]
    _warehouse_is_free(tree)


def test_an_exception_in_dbt_fails_the_invocation_with_its_message(tree):
    resource = dbt_resource()
    invocation = resource.cli(["build", "--no-such-flag"])
    with pytest.raises(DagsterDbtCliRuntimeError, match="no-such-flag"):
        invocation.wait()
    assert invocation.process.returncode == 2
    _warehouse_is_free(tree)


def test_the_kept_parse_serves_its_tree_only(tree, tmp_path, monkeypatch):
    """A parse is kept for the data tree (ZHONGTAI_DATA_DIR, read by the profile and the lake
    sources) and the project files it was made from: another tree finds none."""
    env = _dbt_env(tmp_path / "target")
    events: list[dict] = []

    def ls() -> dbt_in_process.Outcome:
        events.clear()
        return dbt_in_process.run(
            ["ls", "--select", "stg_lake__orders"], env, DBT_PROJECT_DIR, DBT_PROJECT_DIR, [],
            events.append,
        )  # fmt: skip

    done = ls()  # parses, or finds the parse an earlier test made of this tree
    assert done.code == 0 and done.exception is None
    kept = dbt_in_process.cached_manifest(DBT_PROJECT_DIR, DBT_PROJECT_DIR, [])
    assert kept is not None and kept.env_vars["ZHONGTAI_DATA_DIR"] == str(tree.root)
    assert any("stg_lake__orders" in e["info"]["msg"] for e in events)
    assert all(e["info"]["level"] != "debug" for e in events)
    # the same inputs: the parse serves the next invocation (a new parse would replace it)
    assert ls().code == 0
    assert dbt_in_process.cached_manifest(DBT_PROJECT_DIR, DBT_PROJECT_DIR, []) is kept
    # another tree or another target: not served (other project files: the test below)
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(tmp_path / "other"))
    assert dbt_in_process.cached_manifest(DBT_PROJECT_DIR, DBT_PROJECT_DIR, []) is None
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(tree.root))
    assert dbt_in_process.cached_manifest(DBT_PROJECT_DIR, DBT_PROJECT_DIR, []) is kept
    assert (
        dbt_in_process.cached_manifest(DBT_PROJECT_DIR, DBT_PROJECT_DIR, ["--target", "spark"])
        is None
    )
    monkeypatch.setenv("DBT_TARGET", "spark")
    assert dbt_in_process.cached_manifest(DBT_PROJECT_DIR, DBT_PROJECT_DIR, []) is None


def test_the_project_files_are_what_a_parse_reads(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "target").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1")
    before = dbt_in_process.project_files(tmp_path)
    (tmp_path / "target" / "run_results.json").write_text("{}")  # output, not input
    assert dbt_in_process.project_files(tmp_path) == before
    model.write_text("select 2 as changed")
    assert dbt_in_process.project_files(tmp_path) != before


def test_other_targets_parse_arguments_and_the_switch_run_dbt_as_a_process(monkeypatch):
    assert not DbtCli(
        project_dir=DBT_PROJECT, dbt_executable=dbt_executable(), target="spark"
    )._runs_in_process()
    assert not dbt_resource()._runs_in_process(["build", "--vars", "{since: 1}"])
    assert not dbt_resource()._runs_in_process(["build", "--target=spark"])
    assert dbt_resource()._runs_in_process(["build", "--select", "stg_lake__orders"])
    monkeypatch.setenv("ZHONGTAI_DBT_IN_PROCESS", "0")
    assert not dbt_resource()._runs_in_process()


def test_an_interrupted_step_stops_dbt_and_frees_the_warehouse(tree):
    """The step's stream ends early (Dagster's interrupt, Ctrl-C, a closed generator): dbt is
    interrupted as a `dbt` process by SIGINT, its thread ends, the warehouse is freed and the
    next invocation runs."""
    invocation = dbt_resource().cli(["build", "--select", "stg_lake__orders"])
    events = invocation.stream_raw_events()
    next(events)
    events.close()
    assert not [t for t in threading.enumerate() if t.name == "dbt"]
    assert invocation.process.returncode == 2
    _warehouse_is_free(tree)
    assert dbt_resource().cli(["build", "--select", "stg_lake__orders"]).wait().is_successful()


def test_a_failing_dbt_test_fails_its_check_and_the_step(tree):
    """A status outside the accepted values in the lake: the check fails at ERROR and the
    step fails naming the test, as with a `dbt` process; the warehouse is freed all the same.
    Last in the module: it changes the shared tree's lake and puts it back after (a tree of
    its own would cost a parse of the project)."""
    saved = {f: f.read_bytes() for f in (tree.lake_raw / "orders").glob("*.parquet")}
    assert saved
    try:
        for lake_file in saved:  # the latest delivery wins
            first = pl.int_range(pl.len()) == 0
            pl.read_parquet(lake_file).with_columns(
                pl.when(first).then(pl.lit("lost")).otherwise("status").alias("status")
            ).write_parquet(lake_file)
        result = _build([ORDERS])
    finally:
        for lake_file, content in saved.items():
            lake_file.write_bytes(content)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks[STATUS_CHECK].passed
    assert checks[STATUS_CHECK].severity == dg.AssetCheckSeverity.ERROR
    assert sum(not c.passed for c in checks.values()) == 1
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "DagsterDbtCliRuntimeError" in failure.step_failure_data.error.cls_name
    assert "accepted_values_stg_lake__orders_status" in message, message
    _warehouse_is_free(tree)


def test_an_interrupt_that_dbt_loses_is_sent_again(monkeypatch):
    """An interrupt landing where Python ignores it (a finalizer in dbt's thread: seen in the
    suite) is lost; the step sends another while the thread runs, so it still ends."""
    import time

    from orchestration import resources

    lost: list[str] = []

    def dbt_that_loses_the_first_interrupt(args, env, project_dir, profiles_dir, profile, emit):
        emit({"info": {"name": "MainReportVersion", "level": "info", "msg": "fake"}, "data": {}})
        while True:
            try:
                time.sleep(0.01)
            except KeyboardInterrupt:
                if lost:
                    raise
                lost.append("first")  # ignored, as in a finalizer

    monkeypatch.setattr(resources, "run", dbt_that_loses_the_first_interrupt)
    monkeypatch.setattr(resources, "_RESEND_INTERRUPT_SECONDS", 0.2)
    invocation = dbt_resource().cli(["build", "--select", "stg_lake__orders"])
    events = invocation.stream_raw_events()
    next(events)
    started = time.monotonic()
    events.close()
    assert lost == ["first"]
    assert not [t for t in threading.enumerate() if t.name == "dbt"]
    # the resend, not the 25 s timeout: a bound below it, not a speed (at load ~11 the resend
    # took 5.8 s here)
    assert time.monotonic() - started < 20
    assert invocation.process.returncode == 2


def test_a_dbt_thread_that_outlives_its_interrupt_fails_the_next_invocation_at_once(
    monkeypatch, tmp_path
):
    """dbt's thread ignores every interrupt (seen once in the suite under load: stuck in
    dbt, holding the module's lock, so the next invocation waited forever): after the step's
    wait the step ends, and the next dbt invocation of the process fails at once, naming where
    the thread is stuck; once the thread has ended, dbt runs again."""
    import time

    from orchestration import resources

    release = threading.Event()

    def dbt_that_ignores_interrupts(args, env, project_dir, profiles_dir, profile, emit):
        emit({"info": {"name": "MainReportVersion", "level": "info", "msg": "fake"}, "data": {}})
        while not release.is_set():
            try:  # noqa: SIM105 - an interrupt may land anywhere: no context manager
                time.sleep(0.01)
            except KeyboardInterrupt:
                pass
        return dbt_in_process.Outcome(2)

    monkeypatch.setattr(dbt_in_process, "_abandoned", None)
    monkeypatch.setattr(resources, "run", dbt_that_ignores_interrupts)
    monkeypatch.setattr(resources, "_RESEND_INTERRUPT_SECONDS", 0.1)
    invocation = dbt_resource().cli(["build", "--select", "stg_lake__orders"])
    invocation.termination_timeout_seconds = 0.5
    events = invocation.stream_raw_events()
    next(events)
    try:
        events.close()
        [stuck] = [t for t in threading.enumerate() if t.name == "dbt"]
        started = time.monotonic()
        with pytest.raises(dbt_in_process.DbtThreadStuck, match="dbt_that_ignores_interrupts"):
            dbt_in_process.run(["parse"], {}, tmp_path, tmp_path, [], lambda event: None)
        assert time.monotonic() - started < 5
    finally:
        release.set()
    stuck.join(5)
    assert not stuck.is_alive()
    dbt_in_process._check_not_stuck()  # ended: nothing stops the next invocation


def test_dbt_queries_run_on_one_duckdb_thread_each(tree, tmp_path):
    """The DuckDB target runs two dbt nodes at once (dbt ``threads: 2``) on one DuckDB thread
    each (``settings: threads: 1``): two nodes with DuckDB's default (a thread per core) put
    four busy threads on the machine's two cores, and the day's second dbt step cost 26 CPU s
    against 18 (bench/README.md, "Incremental")."""
    env = _dbt_env(tmp_path / "target")
    events: list[dict] = []
    sql = "select current_setting('threads') as duckdb_threads"
    done = dbt_in_process.run(
        ["show", "--inline", sql, "--output", "json"], env, DBT_PROJECT_DIR, DBT_PROJECT_DIR,
        [], events.append,
    )  # fmt: skip
    assert done.code == 0 and done.exception is None
    [shown] = [e for e in events if e["info"]["name"] == "ShowNode"]
    assert json.loads(shown["data"]["preview"]) == [{"duckdb_threads": 1}]
    _warehouse_is_free(tree)
