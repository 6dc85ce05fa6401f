"""Where Zhongtai keeps its files. One place, read by every package.

``ZHONGTAI_DATA_DIR`` moves the whole data tree (tests point it at a temporary folder);
by default it is ``data/`` at the repository root.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SPECS_DIR = Path(__file__).resolve().parent / "specs"


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def lake_raw(self) -> Path:
        return self.lake / "raw"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def manifest_dir(self) -> Path:
        return self.lake / "manifest"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def warehouse_lock(self) -> Path:
        """Held by the one run that writes the warehouse (``ingest.locks``)."""
        return self.root / "warehouse.duckdb.lock"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def models(self) -> Path:
        """Fitted models kept between runs (``models.forecast.store``, ``models.recs.store``);
        never in git."""
        return self.root / "models"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def dbt_parse(self) -> Path:
        """dbt's partial parse of the project made for this tree, kept for its next `dbt
        build` (``orchestration.defs.transform.keep_partial_parse``): dbt drops a parse made
        under another profile, and the profile holds this tree's path. Never in git."""
        return self.root / "dbt_parse"


def data_paths() -> DataPaths:
    root = os.environ.get("ZHONGTAI_DATA_DIR")
    return DataPaths(Path(root).resolve() if root else REPO_ROOT / "data")


def connect(database: Path | None = None, read_only: bool = False):
    """A DuckDB connection for Zhongtai's own reads: in memory, or the warehouse file;
    no progress bar (it floods logs)."""
    import duckdb

    con = duckdb.connect(str(database) if database else ":memory:", read_only=read_only)
    con.execute("SET enable_progress_bar = false")
    return con


@contextmanager
def transaction(con):
    """The block in one DuckDB transaction on ``con``: committed when it ends, rolled back
    when it raises (also on an interrupt), so a reader never sees it half written."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


@contextmanager
def one_thread(con):
    """``con`` on one DuckDB thread inside the block, its setting put back after: the same
    results, for less CPU on the shared cores (forecast.demand_frame, 755,771 rows x 21
    columns, written: 3.9 CPU s on two threads, 2.1 on one; the identity truth check's join
    of 700,887 records to their matches: 2.5-3.5 on two, 1.7-2.2 on one, at load ~5)."""
    threads = con.execute("select current_setting('threads')").fetchone()[0]
    con.execute("set threads = 1")
    try:
        yield con
    finally:
        con.execute(f"set threads = {int(threads)}")


def replace_tables(con, schema: str, tables: dict) -> dict[str, int]:
    """Create or replace ``<schema>.<name>`` from each polars frame of ``tables`` (the one way
    the Python assets write warehouse tables); returns the row count of each table."""
    con.execute(f"create schema if not exists {schema}")
    counts = {}
    # each table written on one DuckDB thread: the same rows in the same order (a copy of a
    # frame), for about half the CPU
    with one_thread(con):
        for name, frame in tables.items():
            con.register("_zhongtai_frame", frame.to_arrow())
            try:
                con.execute(
                    f"create or replace table {schema}.{name} as select * from _zhongtai_frame"
                )
            finally:
                con.unregister("_zhongtai_frame")
            counts[name] = frame.height
    return counts
