"""Two materialisations launched at once: one writer to the warehouse. The second fails at
once with a clear message (exit code 3) or, given --wait, runs after the first; the
warehouse is never written by both. The run's work is replaced by a stand-in that writes the
warehouse slowly (the lock, the CLI and DuckDB are real)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb

from ingest.config import REPO_ROOT, DataPaths
from ingest.locks import holder
from tests.faults.conftest import python_subprocess

# `zhongtai materialize` with its work (_materialize) replaced by writes to the warehouse
# that take about two seconds: rows tagged with the run's name, one transaction each.
STAND_IN = textwrap.dedent(
    """
    import sys, time
    import duckdb
    import orchestration.cli as cli
    from ingest.config import data_paths

    def slow_writes(select, log_level):
        con = duckdb.connect(str(data_paths().warehouse))
        con.execute("create table if not exists runs (name text, i int, ts double)")
        for i in range(10):
            con.execute("insert into runs values (?, ?, ?)", [sys.argv[1], i, time.time()])
            time.sleep(0.2)
        con.close()

    cli._materialize = slow_writes
    cli.app(["materialize", *sys.argv[2:]], prog_name="zhongtai")
    """
)


def stand_in(paths: DataPaths, name: str, *args: str) -> subprocess.Popen:
    code = STAND_IN.replace("sys.argv[1]", repr(name)).replace("sys.argv[2:]", repr(list(args)))
    return python_subprocess(code, paths)


def wait_for_holder(paths: DataPaths, pid: int, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while holder(paths.warehouse_lock).get("pid") != pid:
        assert time.monotonic() - t0 < timeout, "the first run never took the warehouse"
        time.sleep(0.05)


def cli(paths: DataPaths, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZHONGTAI_DATA_DIR": str(paths.root), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def runs(paths: DataPaths) -> list[tuple]:
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        return con.execute("select name, i, ts from runs order by ts").fetchall()
    finally:
        con.close()


def test_a_second_run_fails_at_once_with_a_clear_message(data_dir):
    first = stand_in(data_dir, "first")
    wait_for_holder(data_dir, first.pid)
    t0 = time.monotonic()
    second = cli(data_dir, "materialize")  # the real command
    assert time.monotonic() - t0 < 60
    assert second.returncode == 3, second.stdout + second.stderr
    said = " ".join(second.stdout.split())
    assert "Another run is writing the warehouse" in said
    assert f"pid {first.pid} (zhongtai materialize" in said and "Nothing was changed" in said
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert [(n, i) for n, i, _ in runs(data_dir)] == [("first", i) for i in range(10)]


def test_a_second_run_given_wait_runs_after_the_first(data_dir):
    first = stand_in(data_dir, "first")
    wait_for_holder(data_dir, first.pid)
    second = stand_in(data_dir, "second", "--wait", "120")
    for proc in (first, second):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    rows = runs(data_dir)
    assert [n for n, _, _ in rows] == ["first"] * 10 + ["second"] * 10  # never interleaved
    assert holder(data_dir.warehouse_lock) == {}  # released


def test_a_warehouse_held_open_elsewhere_is_named_not_corrupted(data_dir):
    con = duckdb.connect(str(data_dir.warehouse))  # a notebook or a shell, outside Zhongtai
    con.execute("create table kept as select 42 as answer")
    con.close()
    shell = python_subprocess(
        "import duckdb, sys; from ingest.config import data_paths\n"
        "con = duckdb.connect(str(data_paths().warehouse)); print('open', flush=True)\n"
        "sys.stdin.read()",
        data_dir,
        stdin=-1,
    )
    try:
        assert shell.stdout.readline().strip() == "open"
        done = cli(data_dir, "materialize")
        said = " ".join(done.stdout.split())
        assert done.returncode == 3, said + done.stderr
        assert f"{data_dir.warehouse} is open in another process" in said
        assert "nothing was changed" in said
    finally:
        shell.stdin.close()
        shell.wait(timeout=60)
    con = duckdb.connect(str(data_dir.warehouse), read_only=True)
    assert con.execute("select answer from kept").fetchall() == [(42,)]
    con.close()


# ----------------------------------------------------------------------------- launched runs
# Runs started from the Dagster UI, the sensor or a schedule are launched through the job's
# own executor (not execute_in_process): it takes the same lock as the CLI. Here the real
# `privacy_retention` job of the Definitions is launched with `dg.execute_job`, as the run
# launcher does, while another process holds the warehouse.

HOLD = textwrap.dedent(
    """
    import sys, time
    from ingest.config import data_paths
    from ingest.locks import exclusive

    with exclusive(data_paths().warehouse_lock, "zhongtai materialize"):
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
        print(time.time(), flush=True)
    """
)


def retention_job():
    from orchestration.definitions import defs

    return defs.resolve_job_def("privacy_retention")


def launch(wait: float) -> dg.ExecutionResult:
    run_config = {"execution": {"config": {"warehouse_lock_wait": wait}}}
    with dg.instance_for_test() as instance:
        result = dg.execute_job(dg.reconstructable(retention_job), instance, run_config=run_config)
        steps = [
            e.timestamp
            for e in instance.all_logs(result.run_id)
            if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_START
        ]
        failure = [
            e.dagster_event.event_specific_data.error
            for e in instance.all_logs(result.run_id)
            if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
        ]
    return result.success, steps, failure


def hold(paths: DataPaths, seconds: float) -> subprocess.Popen:
    holder_proc = python_subprocess(HOLD.replace("sys.argv[1]", repr(seconds)), paths)
    assert holder_proc.stdout.readline().strip() == "held"
    return holder_proc


def test_every_job_of_the_definitions_runs_under_the_warehouse_lock():
    from orchestration.definitions import defs
    from orchestration.resources import one_writer_executor

    jobs = [defs.resolve_implicit_global_asset_job_def()]
    jobs += [defs.resolve_job_def(j.name) for j in defs.jobs]
    jobs += [defs.resolve_job_def(s.job_name) for s in defs.sensors]
    jobs += [defs.resolve_job_def(s.job_name) for s in defs.schedules]
    assert {j.executor_def for j in jobs} == {one_writer_executor}


def test_a_launched_run_fails_cleanly_while_another_writes(data_dir):
    holder_proc = hold(data_dir, 60)
    try:
        success, steps, failure = launch(wait=0.5)
        assert not success
        assert steps == []  # no step started: nothing was written
        said = " ".join(str(e) for e in failure)
        assert f"pid {holder_proc.pid} (zhongtai materialize" in said, said
        assert "Nothing was changed" in said
        assert not data_dir.lake.exists()  # the retention step never touched the lake
    finally:
        holder_proc.kill()
        holder_proc.communicate(timeout=60)


def test_a_launched_run_waits_for_the_writer_then_runs(data_dir):
    holder_proc = hold(data_dir, 2)
    success, steps, _ = launch(wait=120)
    out, err = holder_proc.communicate(timeout=60)
    released = float(out.split()[-1])
    assert success
    assert steps and min(steps) >= released  # its first step began after the other finished
    assert holder(data_dir.warehouse_lock) == {}  # released by both


def test_an_erasure_waits_for_the_writer_or_fails_cleanly(data_dir):
    from typer.testing import CliRunner

    from orchestration.cli import app

    erase = ["privacy", "erase", "--identifier", "phone:+8613800138000"]
    holder_proc = hold(data_dir, 60)
    try:
        done = CliRunner().invoke(app, erase, env={"COLUMNS": "200"})
        assert done.exit_code == 3, done.output
        said = " ".join(done.output.split())
        assert f"pid {holder_proc.pid} (zhongtai materialize" in said
        assert not (data_dir.root / "privacy").exists()  # no request recorded, no tombstone
    finally:
        holder_proc.kill()
        holder_proc.communicate(timeout=60)
    done = CliRunner().invoke(app, [*erase, "--wait", "30"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert (data_dir.root / "privacy" / "requests.parquet").exists()
