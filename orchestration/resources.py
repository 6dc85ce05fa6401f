"""Shared wiring: where the data lives and how dbt is run. No business logic here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from ingest.config import DBT_PROJECT_DIR, DataPaths, data_paths


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
    if manifest_is_stale(project):
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


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())
