"""Shared helpers of the fault suite: hand-written landing files, the lake as frames, the
reconciliation invariant, and a dbt run of the sales marts on a data tree."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME as PARTIAL_PARSE

from ingest.canonical import QUARANTINE
from ingest.config import DBT_PROJECT_DIR, REPO_ROOT, DataPaths
from ingest.reconcile import reconcile

POS_HEADER = (
    "门店编号,销售日期,销售时间,单据号,单据类型,行号,会员卡号,会员手机,商品编号,商品名称,"
    "单价,数量,折扣金额,实收金额,付款方式,收银员"
)


def pos_row(receipt: str, *, line: int = 1, card: str = "", phone: str = "", **over) -> str:
    """One POS receipt line; ``over`` replaces cells by name (date, time, sku, qty, price,
    net, store, kind)."""
    cells = {
        "store": "ST-SH-01",
        "date": "2025-03-01",
        "time": "10:01:02",
        "receipt": receipt,
        "kind": "SELL",
        "line": str(line),
        "card": card,
        "phone": phone,
        "sku": "SK001",
        "name": "精华",
        "price": "199.00",
        "qty": "1",
        "discount": "0.00",
        "net": "199.00",
        "pay": "微信支付",
        "clerk": "E01",
    }
    cells.update({k: str(v) for k, v in over.items()})
    return ",".join(cells.values())


def pos_file(rows: list[str], encoding: str = "utf-8-sig", newline_at_end: bool = True) -> bytes:
    text = POS_HEADER + "\n" + "\n".join(rows) + ("\n" if newline_at_end else "")
    return text.encode(encoding)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def quarantine(paths: DataPaths) -> pl.DataFrame:
    files = [p for p in paths.quarantine.glob("*.parquet") if p.name != "_schema.parquet"]
    if not files:
        return pl.DataFrame(schema=QUARANTINE)
    return pl.concat([pl.read_parquet(p) for p in files], how="diagonal_relaxed")


def lake(paths: DataPaths, entity: str) -> pl.DataFrame:
    return pl.read_parquet(paths.lake_raw / entity / "*.parquet")


def entries(paths: DataPaths, file: str) -> set[tuple]:
    """(row, field, reason_code) of every quarantine entry of a landing file."""
    q = quarantine(paths).filter(pl.col("source_file") == file)
    return set(q.select("source_row", "field", "reason_code").iter_rows())


def assert_balanced(paths: DataPaths, specs: dict) -> list:
    """The reconciliation invariant on every landing file: loaded files have landing rows =
    lake rows + quarantined rows (counted independently of the reader); none is left
    unrecorded. Returns the balances."""
    balances = reconcile(paths, specs)
    assert balances, "no landing file found"
    unbalanced = [b for b in balances if b.missing != 0 or b.status == "not ingested"]
    assert not unbalanced, unbalanced[:5]
    return balances


def manifest_status(paths: DataPaths) -> dict[str, str]:
    out = {}
    for f in paths.manifest_dir.glob("*.json"):
        for rel, rec in json.loads(f.read_text(encoding="utf-8"))["files"].items():
            out[rel] = rec["status"]
    return out


def lake_inventory(paths: DataPaths) -> dict[str, int]:
    """Every visible lake file (relative name) and its row count."""
    con = duckdb.connect()
    try:
        return {
            p.relative_to(paths.lake).as_posix(): con.execute(
                f"select count(*) from read_parquet('{p}')"
            ).fetchone()[0]
            for p in sorted(paths.lake.rglob("*.parquet"))
        }
    finally:
        con.close()


def temp_files(paths: DataPaths) -> list[Path]:
    return sorted(paths.lake.rglob("*.tmp"))


# ----------------------------------------------------------------------------- dbt

# The sales marts and what they read: no identity step needed, so dbt alone builds them.
DBT_SELECT = ["+fct_daily_sales", "+int_unmapped_channel_skus"]


def dbt_command(target: Path, select: list[str] = DBT_SELECT, verb: str = "run") -> list[str]:
    from orchestration.resources import dbt_executable

    return [
        dbt_executable(),
        verb,
        "--select",
        *select,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]


_ALIAS: list[Path] = []


def _alias_dir() -> Path:
    """This process's folder of the data-tree alias and the dbt parse made under it."""
    if not _ALIAS:
        _ALIAS.append(Path(tempfile.mkdtemp(prefix="zhongtai-dbt-")))
        atexit.register(shutil.rmtree, _ALIAS[0], True)
    return _ALIAS[0]


def dbt_target(tmp: Path) -> Path:
    """A private dbt target folder (runs here must not touch the project's manifest),
    seeded with the parse of the last ``run_dbt`` of this process (made under the same
    profile, ``dbt_env``), so dbt does not parse from scratch."""
    tmp.mkdir(parents=True, exist_ok=True)
    cached = _alias_dir() / PARTIAL_PARSE
    if cached.exists():
        shutil.copy(cached, tmp / PARTIAL_PARSE)
    return tmp


def dbt_env(paths: DataPaths) -> dict:
    """The environment of a dbt run on ``paths``. dbt sees the tree under one path for every
    run of this process (a symlink, pointed at ``paths.root`` here): its profile holds
    ZHONGTAI_DATA_DIR, and a parse made under another profile is dropped, so each new tree
    cost a parse of the whole project (~8 CPU s) where the parse of the last run now serves.
    Runs of one process are sequential; start the next only when this one has ended."""
    alias = _alias_dir() / "data"
    tmp = alias.with_name("data.retarget")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(paths.root.resolve(), target_is_directory=True)
    tmp.replace(alias)
    return {
        **os.environ,
        "ZHONGTAI_DATA_DIR": str(alias),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "0",
    }


_SERVER: list[subprocess.Popen] = []


def _dbt_server() -> subprocess.Popen:
    """This process's dbt server (``tests/dbt_server.py``), started at its first run: dbt
    imported once, not once a run. Ended when the process ends."""
    if _SERVER and _SERVER[0].poll() is None:
        return _SERVER[0]
    err = (_alias_dir() / "dbt_server.err").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.dbt_server"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    err.close()
    if not _SERVER:
        atexit.register(_stop_dbt_server)
    _SERVER[:] = [proc]
    return proc


def _stop_dbt_server() -> None:
    for proc in _SERVER:
        proc.stdin.close()
        proc.wait(timeout=60)


def dbt_result(
    paths: DataPaths, target: Path, select: list[str] = DBT_SELECT, verb: str = "run"
) -> tuple[int, str]:
    """``dbt <verb> --select ...`` on ``paths`` (``dbt_command``, ``dbt_env``): the exit code of
    the ``dbt`` command and what it printed. Run by this process's dbt server; the same run as
    a ``dbt`` process (``kill_dbt_midway`` starts one: it kills it)."""
    server = _dbt_server()
    request = {"args": dbt_command(target, select, verb)[1:], "env": dbt_env(paths)}
    server.stdin.write(json.dumps(request) + "\n")
    server.stdin.flush()
    line = server.stdout.readline()
    if not line:
        err = (_alias_dir() / "dbt_server.err").read_text(errors="replace")
        raise AssertionError(f"the dbt server ended (exit {server.wait()}):\n{err[-3000:]}")
    reply = json.loads(line)
    return reply["code"], reply["stdout"]


def run_dbt(
    paths: DataPaths, target: Path, select: list[str] = DBT_SELECT, verb: str = "run"
) -> None:
    code, printed = dbt_result(paths, target, select, verb)
    assert code == 0, printed[-3000:]
    keep_parse(target)


def keep_parse(target: Path) -> None:
    """The parse of a finished dbt run, for the next target of this process (``dbt_target``)."""
    if (target / PARTIAL_PARSE).exists():
        shutil.copy(target / PARTIAL_PARSE, _alias_dir() / PARTIAL_PARSE)


def kill_dbt_midway(paths: DataPaths, target: Path) -> str:
    """Start the dbt run and SIGKILL it (and its children) once it has written a first model
    to the warehouse; returns what it printed."""
    proc = subprocess.Popen(
        dbt_command(target),
        env=dbt_env(paths),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "OK created" in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    return "".join(seen)


def sales_marts(paths: DataPaths) -> dict:
    """Row counts and key totals of the sales marts, and the daily sales mart itself."""
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        daily = pl.from_arrow(con.sql("select * from marts.fct_daily_sales order by all").arrow())
        totals = con.sql(
            "select count(*), sum(units_sold), sum(net_sales), sum(units_returned), "
            "sum(returns_amount) from marts.fct_daily_sales"
        ).fetchone()
        counts = {
            t: con.execute(f"select count(*) from {t}").fetchone()[0]
            for t in (
                "staging.stg_lake__order_lines",
                "staging.stg_lake__returns",
                "intermediate.int_order_lines",
                "intermediate.int_unmapped_channel_skus",
            )
        }
        unmapped = set(
            con.sql(
                "select source_file, source_row from intermediate.int_unmapped_channel_skus"
            ).fetchall()
        )
    finally:
        con.close()
    return {"daily": daily, "totals": totals, "counts": counts, "unmapped": unmapped}


def python_subprocess(
    code: str, paths: DataPaths, env_extra: dict | None = None, **kw
) -> subprocess.Popen:
    """``python -c code`` from the repository root with ZHONGTAI_DATA_DIR set."""
    env = {
        **os.environ,
        "ZHONGTAI_DATA_DIR": str(paths.root),
        "PYTHONPATH": str(REPO_ROOT),
        **(env_extra or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )
