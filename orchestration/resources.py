"""Shared wiring: where the data lives and how dbt is run. No business logic here."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from ingest.config import DBT_PROJECT_DIR, DataPaths, data_paths
from ingest.locks import exclusive


def paths() -> DataPaths:
    """The data tree, exported to ZHONGTAI_DATA_DIR so dbt (a subprocess) sees the same one."""
    p = data_paths()
    os.environ["ZHONGTAI_DATA_DIR"] = str(p.root)
    return p


def dbt_executable() -> str:
    """The dbt of this interpreter's environment (the venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_is_stale(project: DbtProject = DBT_PROJECT) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [
        p
        for folder in ("models", "macros", "tests", "seeds")
        for p in (project.project_dir / folder).rglob("*")
        if p.suffix in (".sql", ".yml", ".yaml", ".csv")
    ]
    sources += [project.project_dir / "dbt_project.yml", project.project_dir / "profiles.yml"]
    return any(p.stat().st_mtime > built for p in sources)


def prepare_dbt(project: DbtProject = DBT_PROJECT) -> None:
    """Write the dbt manifest (``dbt parse``) when it is missing or older than the models."""
    paths()
    if not manifest_is_stale(project):
        return
    # one `dbt parse` at a time: processes importing the definitions together (the test
    # suite's workers, `dagster dev` beside the CLI) would otherwise write the same manifest
    # at once; the second to take the lock finds it fresh
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with exclusive(target / ".parse.lock", "dbt parse", wait=600):
        if not manifest_is_stale(project):
            return
        cmd = [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project.project_dir),
            "--profiles-dir",
            str(project.profiles_dir),
            "--target-path",
            str(project.target_path),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not project.manifest_path.exists():
            raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{done.stdout}\n{done.stderr}")


class DbtCli(DbtCliResource):
    """dagster-dbt's resource, told the version of the dbt beside this interpreter. dagster-dbt
    runs `dbt --version` (a new process importing dbt: 3.4 s wall, 3.3 CPU s) in the first dbt
    step of every run, to tell dbt-core from the fusion engine; that dbt is the dbt-core
    installed in this environment, whose version the package metadata holds. Any other
    executable (one on PATH) is asked as before."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    return DbtCli(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())


# ----------------------------------------------------------------------------- one writer

DEFAULT_LOCK_WAIT = 1800.0  # seconds a launched run waits for another writer to finish


class _OneWriter(dg.Executor):
    """The in-process executor, holding the warehouse lock (``ingest.locks``) from before the
    first step to after the last: a run launched from the UI, the sensor or a schedule waits
    for a run (or ``zhongtai materialize``, ``zhongtai privacy erase``) that holds it, then
    fails naming the holder, before any step has written anything."""

    def __init__(self, inner: dg.Executor, wait: float):
        self._inner, self._wait = inner, wait

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        run = plan_context.dagster_run
        purpose = f"dagster run {run.run_id[:8]} of {run.job_name}"
        with exclusive(paths().warehouse_lock, purpose, wait=self._wait):
            yield from self._inner.execute(plan_context, execution_plan)


@dg.executor(
    name="in_process_one_writer",
    config_schema={
        **dg.in_process_executor.config_schema.config_type.fields,
        "warehouse_lock_wait": dg.Field(
            float,
            default_value=DEFAULT_LOCK_WAIT,
            description="Seconds to wait for the run holding the warehouse before failing.",
        ),
    },
)
def one_writer_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """Every step in the run's process, one run writing the warehouse at a time."""
    inner = dg.in_process_executor.executor_creation_fn(init_context)
    return _OneWriter(inner, init_context.executor_config["warehouse_lock_wait"])
