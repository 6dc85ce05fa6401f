"""Where Zhongtai keeps its files. One place, read by every package.

``ZHONGTAI_DATA_DIR`` moves the whole data tree (tests point it at a temporary folder);
by default it is ``data/`` at the repository root.
"""

from __future__ import annotations

import os
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
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"


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
