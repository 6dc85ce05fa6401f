"""`dbt build` in the run's process (``dbtRunner``), its parse kept for the next step and run.

A `dbt` process per step cost ~18 CPU s before its first node at 10,000 x 400: importing dbt
(~9), loading the partial parse (~5), writing manifest.json and the partial parse (~3.7)
(bench/README.md, "Incremental"). Here dbt is imported once per process and the project is
parsed once per process and per parse input: the parsed ``Manifest`` is reused
(``dbtRunner(manifest=...)``) while the project's files, the profile's environment and the
environment the parse read (``Manifest.env_vars``: ZHONGTAI_DATA_DIR) are unchanged; a test
session that runs many data trees in one process re-parses for each tree. The env vars read
at execution only (``execute``-guarded in the macros: ZHONGTAI_TESTS_SINCE, ZHONGTAI_DBT_RUN)
do not enter the parse, so a new cutoff re-parses nothing.

dagster-dbt turns the events into materialisations and checks as for a `dbt` process
(``orchestration.resources.InProcessInvocation``): ``run`` hands it the dicts dbt's JSON log
format would have printed (``msg_to_dict`` of each event at info level and above, as dbt's
stdout logger filters them) and the exit code the `dbt` command would have given (0 done, 1 a
model or test failed, 2 dbt could not run). Nothing here imports Dagster.

Assumes one dbt invocation at a time per process (the one-writer executor runs steps one by
one; a lock serialises any other caller): dbt's flags, adapters and event manager are global,
and the invocation's environment is applied to ``os.environ`` while dbt runs.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# dbt's stdout logger leaves these out unless --log-cache-events (dbt_common stdout_filter)
_HIDDEN = frozenset({"CacheAction", "CacheDumpGraph"})
# env vars that choose the profile and target (dbt's --profile / --target)
_PROFILE_ENV = ("DBT_PROFILE", "DBT_TARGET")
_ENV_VAR_CALL = re.compile(r"""env_var\(\s*['"]([^'"]+)['"]""")
# folders of a dbt project that hold no input of its parse
_NOT_PARSED = frozenset({"target", "logs"})

_lock = threading.Lock()
# a dbt thread that outlived its interrupt and the wait for it (``abandon``): it may still hold
# ``_lock``, so another invocation in this process fails at once instead of waiting forever
_abandoned: threading.Thread | None = None


class DbtThreadStuck(RuntimeError):
    """An interrupted dbt invocation of this process has not ended: dbt cannot run here again."""


def abandon(thread: threading.Thread) -> None:
    """Record ``thread``, a dbt invocation's thread still running after its interrupt and the
    step's wait for it: the next ``run`` in this process raises ``DbtThreadStuck``, naming
    where it is stuck, while it lives."""
    global _abandoned
    _abandoned = thread


def _check_not_stuck() -> None:
    thread = _abandoned
    if thread is None or not thread.is_alive():
        return
    frame = sys._current_frames().get(thread.ident)
    where = "".join(traceback.format_stack(frame)[-8:]) if frame is not None else "(unknown)\n"
    raise DbtThreadStuck(
        f"an interrupted dbt invocation in this process (thread {thread.name!r}) has not "
        "ended, and may hold the warehouse and dbt's global state: dbt cannot run again in "
        "this process; restart it (a new run, or `dagster dev`). The thread is at:\n" + where
    )


@dataclass
class _Parsed:
    key: tuple
    env: dict[str, str | None]  # the env vars the parse read, as it read them
    manifest: Any  # dbt.contracts.graph.manifest.Manifest


_parsed: _Parsed | None = None


def close_warehouse() -> None:
    """dbt-duckdb keeps its DuckDB database open in the process between runs: closed, as the
    end of a ``dbt`` process closes it (the file lock goes; the next step, a Python asset or
    another process opens the file)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()
    gc.collect()


def project_files(project_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file a parse of the project reads (not ``target/``, ``logs/``), with its mtime
    and size: a change of models, macros, tests, seeds, the project or the profile."""
    out = []
    for top, dirs, files in os.walk(project_dir):
        if Path(top) == project_dir:
            dirs[:] = [d for d in dirs if d not in _NOT_PARSED]
        dirs.sort()
        for name in sorted(files):
            st = os.stat(os.path.join(top, name))
            out.append(
                (os.path.relpath(os.path.join(top, name), project_dir), st.st_mtime_ns, st.st_size)
            )
    return tuple(out)


def _profile_env_names(profiles_dir: Path) -> set[str]:
    profile = profiles_dir / "profiles.yml"
    names = set(_ENV_VAR_CALL.findall(profile.read_text())) if profile.exists() else set()
    return names | set(_PROFILE_ENV)


def _key(project_dir: Path, profiles_dir: Path, profile_args: Sequence[str]) -> tuple:
    return (str(project_dir), str(profiles_dir), tuple(profile_args), project_files(project_dir))


def cached_manifest(project_dir: Path, profiles_dir: Path, profile_args: Sequence[str]):
    """The parse kept in this process, if its inputs are unchanged; else None."""
    return _cached(_key(project_dir, profiles_dir, profile_args))


def _cached(key: tuple):
    p = _parsed
    if p is None or p.key != key:
        return None
    if any(os.environ.get(name) != value for name, value in p.env.items()):
        return None
    return p.manifest


@contextmanager
def _environ(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` is ``env`` inside (dbt reads its flags and env_var() from it)."""
    before = dict(os.environ)
    for name in set(before) - set(env):
        del os.environ[name]
    os.environ.update(env)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        os.environ.update(before)


@dataclass
class Outcome:
    code: int  # as the `dbt` command's exit code
    exception: BaseException | None = None


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    project_dir: Path,
    profiles_dir: Path,
    profile_args: Sequence[str],
    emit: Callable[[dict[str, Any]], None],
) -> Outcome:
    """``dbt <args>`` in this process with ``env`` as its environment; every event dbt's stdout
    logger would print goes to ``emit`` as the dict its JSON line holds. Parses first when no
    kept parse serves (``cached_manifest``), writing the partial parse but not manifest.json.
    The warehouse is closed after."""
    global _parsed
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    def callback(msg) -> None:
        if msg.info.level != "debug" and msg.info.name not in _HIDDEN:
            emit(msg_to_dict(msg))

    quiet = {"log_level": "none"}  # no console logger: the events go to ``emit``
    _check_not_stuck()
    with _lock, _environ(env):
        try:
            # the project's files read once, before a parse: one edited during the parse
            # leaves a key that does not match, so the next step parses again
            key = _key(project_dir, profiles_dir, profile_args)
            manifest = _cached(key)
            if manifest is None:
                parsed = dbtRunner(callbacks=[callback]).invoke(
                    ["parse", *profile_args], write_json=False, **quiet
                )
                if not parsed.success:
                    return Outcome(2, parsed.exception)
                manifest = parsed.result
                names = set(manifest.env_vars) | _profile_env_names(profiles_dir)
                _parsed = _Parsed(
                    key=key,
                    env={n: os.environ.get(n) for n in names},
                    manifest=manifest,
                )
            result = dbtRunner(manifest=manifest, callbacks=[callback]).invoke(list(args), **quiet)
        finally:
            close_warehouse()
    if result.exception is not None:
        return Outcome(2, result.exception)
    return Outcome(0 if result.success else 1)
