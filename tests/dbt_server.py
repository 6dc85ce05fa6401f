"""dbt in one long-lived process for the tests' dbt runs (``tests/faults/conftest.py``
``dbt_result``): a ``dbt test`` of one model on the tiny demo costs 8.1 CPU s as a new process
and 1.2-1.8 in a process that has run dbt before (importing dbt and its adapter alone costs
4.1; bench/README.md, "The test suite's cost, second pass").

    python -m tests.dbt_server

Reads one JSON request a line on stdin, ``{"args": [...], "env": {...}}`` (the arguments
after ``dbt``; the whole environment of the run), runs it with ``dbtRunner`` and answers on
stdout with one JSON line, ``{"code": ..., "stdout": ...}``: the exit code the ``dbt`` command
gives (0 done, 1 a model or test failed, 2 dbt could not run) and what it printed (stdout and
stderr). Runs are sequential; the DuckDB warehouse is closed after each, so the caller and
other processes open it as after a ``dbt`` process. Ends when stdin closes."""

from __future__ import annotations

import json
import os
import sys
import tempfile

from orchestration.dbt_in_process import close_warehouse


def _invoke(args: list[str]) -> tuple[int, str]:
    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryFile() as out:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            result = dbtRunner().invoke(args)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, old in zip((1, 2), saved, strict=True):
                os.dup2(old, fd)
                os.close(old)
            close_warehouse()
        out.seek(0)
        printed = out.read().decode("utf-8", errors="replace")
    if result.exception is not None:
        printed += f"\n{type(result.exception).__name__}: {result.exception}\n"
        return 2, printed
    return (0 if result.success else 1), printed


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        code, printed = _invoke(request["args"])
        replies.write(json.dumps({"code": code, "stdout": printed}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
