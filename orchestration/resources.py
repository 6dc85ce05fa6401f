"""Shared wiring: where the data lives and how dbt is run. No business logic here."""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource, DbtProject
from dagster_dbt.asset_utils import (
    DBT_INDIRECT_SELECTION_ENV,
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME, _get_dbt_target_path
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import DbtManifestParam, validate_manifest
from packaging import version

from ingest.config import DBT_PROJECT_DIR, DataPaths, data_paths
from ingest.locks import exclusive
from orchestration.dbt_in_process import Outcome, abandon, close_warehouse, run


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


def seed_partial_parse(target_path: Path, project_dir: Path) -> None:
    """dbt's partial parse in a new invocation's target folder: this tree's, kept by its last
    `dbt build` (``DataPaths.dbt_parse``), else the project's, written by ``prepare_dbt`` for
    whichever tree it ran on (dbt parses in full when the parse's profile, which holds the
    tree's path, is another's)."""
    made = target_path / PARTIAL_PARSE_FILE_NAME
    if made.exists():
        return
    for seed in (
        data_paths().dbt_parse / PARTIAL_PARSE_FILE_NAME,
        project_dir / _get_dbt_target_path() / PARTIAL_PARSE_FILE_NAME,
    ):
        if seed.exists():
            target_path.mkdir(parents=True, exist_ok=True)
            shutil.copy(seed, made)
            return
    target_path.mkdir(parents=True, exist_ok=True)


@dataclass
class _Finished:
    """What ``DbtCliInvocation`` reads of its ``subprocess.Popen``: the command and, once dbt
    has run, its exit code."""

    args: list[str]
    returncode: int | None = None
    stdout: None = None

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:  # nothing to signal: ``_stream_stdout`` interrupts
        pass


# how long dbt's thread has to end after an interrupt before it is sent another
_RESEND_INTERRUPT_SECONDS = 2.0


def _interrupt(thread: threading.Thread) -> None:
    """KeyboardInterrupt in ``thread``, as SIGINT to a `dbt` process: dbt cancels its
    connections and ends its run."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
        )


@dataclass
class InProcessInvocation(DbtCliInvocation):
    """A ``DbtCliInvocation`` whose dbt runs in a thread of this process (``run``) when its
    events are streamed. An exception dbt raised ends the stream as a failed invocation
    (``DagsterDbtCliRuntimeError`` naming it); an interrupt of the step (Dagster's, Ctrl-C)
    interrupts dbt, waits for it up to ``termination_timeout_seconds`` and is raised; a dbt
    thread still running then makes the process's next invocation fail at once, naming where
    it is stuck (``dbt_in_process.DbtThreadStuck``), instead of waiting forever for it."""

    dbt_args: list[str] = field(default_factory=list)
    dbt_env: dict[str, str] = field(default_factory=dict)
    profiles_dir: Path = Path()
    profile_args: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, *, dbt_args: list[str], dbt_env: dict[str, str], **kw) -> InProcessInvocation:
        seed_partial_parse(kw["target_path"], kw["project_dir"])
        return cls(process=_Finished(["dbt", *dbt_args]), dbt_args=dbt_args, dbt_env=dbt_env, **kw)

    def _stream_stdout(self) -> Iterator[str | dict[str, Any]]:
        if self.process.returncode is not None:
            return
        events: queue.SimpleQueue = queue.SimpleQueue()
        end = object()
        outcome: list[Outcome] = []

        def work() -> None:
            try:
                outcome.append(
                    run(self.dbt_args, self.dbt_env, self.project_dir, self.profiles_dir,
                        self.profile_args, events.put)
                )  # fmt: skip
            except BaseException as e:  # noqa: BLE001 - handed to the stream below
                outcome.append(Outcome(2, e))
            finally:
                events.put(end)

        thread = threading.Thread(target=work, name="dbt", daemon=True)
        thread.start()
        try:
            while (event := events.get()) is not end:
                if event["info"]["level"] == "error":
                    self._error_messages.append(event["info"]["msg"])
                yield event
        except BaseException:
            # an interrupt that lands where Python ignores it (a finalizer running in dbt's
            # thread: seen in the suite) is lost: sent again while the thread runs, up to the
            # timeout; once it has ended, the warehouse is closed here too, in case the
            # interrupt cut short ``run``'s own close
            deadline = time.monotonic() + self.termination_timeout_seconds
            while thread.is_alive() and (left := deadline - time.monotonic()) > 0:
                _interrupt(thread)
                thread.join(min(_RESEND_INTERRUPT_SECONDS, left))
            if thread.is_alive():
                abandon(thread)  # the next dbt invocation of this process says so at once
            else:
                close_warehouse()
            self.process.returncode = 2
            raise
        thread.join()
        done = outcome[0]
        self.process.returncode = done.code
        if isinstance(done.exception, KeyboardInterrupt | SystemExit) or (
            done.exception is not None and not isinstance(done.exception, Exception)
        ):
            raise done.exception
        if done.exception is not None and not self._error_messages:
            self._error_messages.append(f"{type(done.exception).__name__}: {done.exception}")


# dbt arguments that change what a parse reads
_PARSE_ARGS = frozenset(
    {"--vars", "--target", "-t", "--profile", "--project-dir", "--profiles-dir"}
)


class DbtCli(DbtCliResource):
    """dagster-dbt's resource, running dbt in this process (``orchestration.dbt_in_process``)
    where it can: on the DuckDB target, with ``in_process`` set (the default; env
    ``ZHONGTAI_DBT_IN_PROCESS=0`` unsets it). Otherwise (another target, such as Spark, whose
    session method would keep its JVM in the run's process) a `dbt` process per invocation, as
    dagster-dbt runs it.

    Told the version of the dbt beside this interpreter: dagster-dbt runs `dbt --version` (a
    new process importing dbt: 3.4 s wall, 3.3 CPU s) in the first dbt step of every run, to
    tell dbt-core from the fusion engine; that dbt is the dbt-core installed in this
    environment, whose version the package metadata holds. Any other executable (one on PATH)
    is asked as before."""

    in_process: bool = True

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _runs_in_process(self, args: Sequence[str] = ()) -> bool:
        """On DuckDB, unless switched off or ``args`` change what the parse reads (the kept parse
        is made with the resource's project, profile and target and no --vars)."""
        target = self.target or os.environ.get("DBT_TARGET") or "duckdb"
        changes_parse = {a.split("=")[0] for a in args} & _PARSE_ARGS
        return (
            self.in_process
            and target == "duckdb"
            and self._cli_version.major < 2
            and not changes_parse
        )

    def cli(
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest: DbtManifestParam | None = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: dg.OpExecutionContext | dg.AssetExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        """``DbtCliResource.cli``: the same arguments, selection and environment (what dagster-dbt
        gives its `dbt` process), run in this process when ``_runs_in_process``."""
        if not self._runs_in_process(args):
            target_path = target_path or self._get_unique_target_path(context=context)
            seed_partial_parse(Path(self.project_dir) / target_path, Path(self.project_dir))
            return super().cli(
                args,
                raise_on_error=raise_on_error,
                manifest=manifest,
                dagster_dbt_translator=dagster_dbt_translator,
                context=context,
                target_path=target_path,
            )
        translator = validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator()
        cleaned, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=translator,
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project_dir = Path(
            params.dbt_project.project_dir if params.dbt_project else self.project_dir
        )
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        profiles_dir = Path(self.profiles_dir or project_dir)
        profile_args = [*(["--profile", self.profile] if self.profile else [])]
        profile_args += ["--target", self.target] if self.target else []
        env = {
            **os.environ,
            "DAGSTER_DBT_CLI": "true",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": os.fspath(target_path),
            "DBT_LOG_PATH": os.fspath(target_path),
            "DBT_PROFILES_DIR": os.fspath(profiles_dir),
            "DBT_PROJECT_DIR": os.fspath(project_dir),
        }
        if params.indirect_selection:
            env[DBT_INDIRECT_SELECTION_ENV] = params.indirect_selection
        invocation = InProcessInvocation.start(
            dbt_args=[*self.global_config_flags, *cleaned, *profile_args, *params.selection_args],
            dbt_env=env,
            profiles_dir=profiles_dir,
            profile_args=profile_args,
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            adapter=None,  # dagster-dbt's row counts and column metadata: not used here
            cli_version=self._cli_version,
            project=params.dbt_project,
        )
        dg.get_dagster_logger().info(f"Running dbt in this process: `{invocation.dbt_command}`.")
        return invocation


def dbt_resource() -> DbtCliResource:
    return DbtCli(
        project_dir=DBT_PROJECT,
        dbt_executable=dbt_executable(),
        in_process=os.environ.get("ZHONGTAI_DBT_IN_PROCESS", "1") != "0",
    )


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
