from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# One OpenMP (and BLAS) thread per process, set before scikit-learn loads. The suite
# runs two xdist workers beside the e2e build process on two cores: OpenMP threads spin while
# they wait for a thread that is not scheduled. A test fitting boosting models outside the
# models' own limit (models/forecast/model.py ``_limited``: one thread per fit, as the project
# runs them) took 53.7 s instead of 0.93 s, its module 37.6 CPU s instead of 14.7 (load 5-6).
# Inherited by the e2e build process and every subprocess; an explicit setting wins. numpy's
# BLAS is loaded before this file (by a plugin): limited below.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
from dagster._core.execution.execution_result import ExecutionResult
from threadpoolctl import threadpool_limits

from ingest.config import REPO_ROOT, DataPaths
from ingest.locks import exclusive

threadpool_limits(limits=int(os.environ["OMP_NUM_THREADS"]), user_api="blas")

# The tiny demo brand every test shares (generated once per session, read-only).
DEMO_SCALE = {"seed": 3, "customers": 300, "days": 30}


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> DataPaths:
    """A private data tree: ZHONGTAI_DATA_DIR points at a temporary folder."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(root))
    return DataPaths(root)


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> DataPaths:
    """The demo brand at DEMO_SCALE. Do not write here: copy what you need with
    ``copy_landing``."""
    from ingest.demo import generate

    root = tmp_path_factory.mktemp("tiny_demo") / "data"
    generate(root, **DEMO_SCALE)
    return DataPaths(root)


def copy_landing(demo: DataPaths, target: DataPaths, *channels: str) -> None:
    """Copy the landing folders of some channels into a private data tree."""
    for channel in channels:
        shutil.copytree(demo.landing / channel, target.landing / channel)


# The end-to-end demo: bigger than DEMO_SCALE so every channel and mart has rows.
E2E_SCALE = {"seed": 11, "customers": 400, "days": 45}

# The fixture of the tests that need the whole graph materialised a second time (on a file copy
# of built_demo, by the e2e build process).
RERUN = "rerun_of_built_demo"


def materialization_metadata(result, key: str) -> dict:
    """The metadata values of asset ``key``'s materialisation in a run's ``result``."""
    for ev in result.get_asset_materialization_events():
        mat = ev.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: v.value for k, v in mat.metadata.items()}
    raise AssertionError(f"{key} was not materialised")


class BuiltRun(ExecutionResult):
    """The run of the e2e build process, read back from its serialised run and events: the
    same ``success``, ``all_events``, ``get_asset_materialization_events()`` and
    ``get_asset_check_evaluations()`` as the in-process result it was written from."""

    def __init__(self, path: Path):
        import dagster as dg

        self._run, self._events = dg.deserialize_value(path.read_text())

    @property
    def job_def(self):
        from orchestration.definitions import defs

        return defs.resolve_implicit_global_asset_job_def()

    @property
    def dagster_run(self):
        return self._run

    @property
    def all_events(self):
        return self._events

    @property
    def run_id(self) -> str:
        return self._run.run_id

    def _get_output_for_handle(self, handle, output_name):
        raise NotImplementedError("outputs stay in the build process; read the warehouse")


class _E2EBuild:
    """``tests/e2e_build.py`` running beside the tests: generates the e2e demo and materialises
    the whole graph (then, if a re-run test is selected, again on a copy). One per session:
    under pytest-xdist (``make test`` runs two workers) the first worker that asks starts it in
    the folder all workers share, the others wait on the same files; the controlling process
    stops it when the session ends (``pytest_sessionfinish``)."""

    def __init__(self, base: Path, rerun: bool):
        self.base = base
        self.root = base / "e2e" / "data"
        self.again = base / "e2e_rerun" / "data" if rerun else None
        self.log = base / "e2e_build.log"
        self.exit_code = base / "exit_code"  # written by the shell around the build

    def start(self) -> None:
        self.root.parent.mkdir(parents=True)
        args = [str(self.root), json.dumps(E2E_SCALE)]
        if self.again is not None:
            self.again.parent.mkdir(parents=True)
            args.append(str(self.again))
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        env.pop("ZHONGTAI_DATA_DIR", None)
        env.pop("PYTEST_XDIST_WORKER", None)
        # the shell records the exit code, so a worker that did not start it sees it end
        script = '"$@"; echo $? > "$0"'
        build = [sys.executable, "-m", "tests.e2e_build", *args]
        with self.log.open("wb") as log:
            proc = subprocess.Popen(
                ["sh", "-c", script, str(self.exit_code), *build],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped with the dbt it may be running
            )
        (self.base / E2E_PGID).write_text(str(proc.pid))

    def wait_for(self, marker: Path, timeout: float = 3600) -> None:
        t0 = time.monotonic()
        while not marker.exists():
            if self.exit_code.exists() and not marker.exists():
                code = self.exit_code.read_text().strip()
                tail = self.log.read_text(errors="replace")[-5000:]
                pytest.fail(f"the e2e build process exited {code}:\n{tail}")
            assert time.monotonic() - t0 < timeout, "the e2e build did not finish"
            time.sleep(0.2)


E2E_PGID = "e2e_build.pgid"


def _shared_tmp(tmp_path_factory) -> Path:
    """The session's temporary folder every xdist worker shares (each worker's is beneath)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def pytest_sessionfinish(session, exitstatus):
    """The controlling process (the only one without xdist) stops the e2e build if it is still
    running: every worker has finished, so no test waits for it."""
    if hasattr(session.config, "workerinput"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    for pgid in factory.getbasetemp().glob(f"e2e_build/{E2E_PGID}"):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pgid.read_text()), signal.SIGKILL)


def pytest_collection_modifyitems(session, config, items):
    """The order ``make test`` hands the modules to the xdist workers in
    (``--no-loadscope-reorder``): the modules marked ``slow`` first, those that do not use
    ``built_demo`` before those that do (the Spark build, which waits for it on one worker
    while the other goes on), then the rest, those that use ``built_demo`` last, so the tests
    that do not need it run while the build process builds it; a long module started last
    runs on one worker while the other has nothing left. The re-run tests run at the very end,
    so the others run while the build process materialises the graph the second time.

    Among the slow modules that use ``built_demo``, the Spark build comes first: xdist hands a
    worker its next module when two or fewer of its tests are pending, so the worker that
    waits for the e2e build with the Spark build (two tests) takes the next slow one too
    (``test_erase``) and runs it once the build is ready, while the other worker goes on with
    the rest; handed out last, ``test_erase`` (~45 s) ran alone at the end."""
    uses = {item.module for item in items if "built_demo" in item.fixturenames}
    slow = {item.module for item in items if item.get_closest_marker("slow")}
    rerun = {item.module for item in items if RERUN in item.fixturenames}
    spark = {item.module for item in items if "spark_build" in item.fixturenames}

    def group(item) -> tuple[int, bool]:
        if item.module in rerun:
            return 4, True
        return 2 * (item.module not in slow) + (item.module in uses), item.module not in spark

    items.sort(key=group)  # stable: a module's tests stay in their order


@pytest.fixture(scope="session", autouse=True)
def _e2e_build(request, tmp_path_factory):
    """Starts the e2e build when the session begins if a selected test uses ``built_demo``
    (once, whichever xdist worker comes first)."""
    items = request.session.items
    build = None
    if any("built_demo" in item.fixturenames for item in items):
        rerun = any(RERUN in item.fixturenames for item in items)
        shared = _shared_tmp(tmp_path_factory)
        build = _E2EBuild(shared / "e2e_build", rerun)
        with exclusive(shared / "e2e_build.lock", "start the e2e build", wait=60):
            if not build.base.exists():
                build.base.mkdir()
                build.start()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # the workers yield to the build (started above at the workers' niceness): its second
        # materialisation, which the re-run tests wait for, is the last thing the session does
        os.nice(WORKER_NICENESS)
    return build


WORKER_NICENESS = 5


@pytest.fixture(scope="session")
def built_demo(_e2e_build):
    """The whole asset graph materialised once per session on the demo at E2E_SCALE:
    ``(DataPaths, result)``, the result with the run's events (``BuiltRun``). Built in a
    process of its own that starts with the session, so the other tests run meanwhile. Every
    end-to-end test module shares it (read-only; materialise into your own ``data_dir`` to
    change anything). A test that needs ZHONGTAI_DATA_DIR points it there with
    ``monkeypatch``."""
    _e2e_build.wait_for(_e2e_build.root.parent / "built")
    return DataPaths(_e2e_build.root), BuiltRun(_e2e_build.root.parent / "run.json")


@pytest.fixture
def copy_of_built(built_demo, data_dir):
    """The built demo's warehouse and model stores (forecast, recommender), copied into a
    private data tree."""
    paths, _ = built_demo
    shutil.copy2(paths.warehouse, data_dir.warehouse)
    shutil.copytree(paths.models, data_dir.models)
    return data_dir


@pytest.fixture(scope="session")
def rerun_of_built_demo(built_demo, _e2e_build):
    """The whole graph materialised a second time, on a file copy of ``built_demo`` made right
    after it was built (by the same build process): ``(DataPaths, result)``."""
    assert _e2e_build.again is not None, f"no selected test uses {RERUN}"
    out = _e2e_build.again.parent / "rerun.json"
    _e2e_build.wait_for(out)
    return DataPaths(_e2e_build.again), BuiltRun(out)
