"""``zhongtai segments``: validate, preview with masked PII, size with history."""

from __future__ import annotations

import datetime as dt

import polars as pl
from typer.testing import CliRunner

from ingest.config import connect
from models.segments.store import update_members, write_tags
from orchestration.cli import app


def test_validate_list_preview_and_size(warehouse, monkeypatch):
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(warehouse.parent))
    runner = CliRunner()
    result = runner.invoke(app, ["segments", "validate"])
    assert result.exit_code == 0, result.output
    assert "definition files valid" in result.output

    con = connect(warehouse)
    rows = pl.DataFrame(
        [
            ("C1", "lifecycle", "active"),
            ("C2", "lifecycle", "new"),
            ("C2", "one_time_buyer", "true"),
        ],
        schema=["customer_id", "tag", "value"],
        orient="row",
    )
    write_tags(
        con, "t.yml", "h", ["lifecycle", "one_time_buyer"], rows, dt.datetime(2025, 4, 1), ["t.yml"]
    )
    update_members(
        con, "new_customer_welcome", ["C2"], dt.datetime(2025, 4, 1), dt.date(2025, 3, 31), "h"
    )
    con.close()

    result = runner.invoke(app, ["segments", "preview", "new_customer_welcome", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "139****9002" in result.output and "13900139002" not in result.output
    assert "C1" not in result.output

    result = runner.invoke(app, ["segments", "size", "new_customer_welcome"])
    assert result.exit_code == 0, result.output
    assert "1 members now" in result.output

    result = runner.invoke(app, ["segments", "size", "new_customer_welcom"])
    assert result.exit_code == 2 and "'new_customer_welcome'?" in result.output
