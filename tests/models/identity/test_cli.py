"""``zhongtai identity resolve`` on a FEBRL-like table made here (typos, swapped names,
missing values, households at one address): the floors are set a little under what was
measured (precision 1.000, recall 0.984 on this table), not to the exact output."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from tests.models.identity.febrl_like import febrl_like

runner = CliRunner()


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    table = febrl_like(persons=500, seed=11)
    table.write_parquet(folder / "records.parquet")
    result = runner.invoke(
        app,
        [
            "identity",
            "resolve",
            "--input",
            str(folder / "records.parquet"),
            "--output",
            str(folder / "clusters.parquet"),
            "--truth",
            "person_id",
        ],
        terminal_width=200,
    )
    return table, result, folder / "clusters.parquet"


def _figure(output: str, name: str) -> float:
    return float(output.split(f"{name} ")[1].split()[0])


def test_writes_one_cluster_per_record_and_prints_the_scores(resolved):
    table, result, out = resolved
    assert result.exit_code == 0, result.output
    clusters = pl.read_parquet(out)
    assert clusters.columns == ["record_id", "cluster_id", "match_weight"]
    assert clusters.height == table.height and clusters["cluster_id"].null_count() == 0
    assert set(clusters["record_id"]) == set(table["record_id"])
    assert "email (email)" in result.output  # identifier column, linked deterministically
    assert "date_of_birth" in result.output  # a fuzzy attribute, linked by Splink
    n = clusters["cluster_id"].n_unique()
    assert f"-> {n} clusters" in result.output
    # probabilistic links carry their weight; records alone carry none
    linked = clusters.filter(pl.col("match_weight").is_not_null())
    assert linked.height > table.height // 3 and linked["match_weight"].min() > 0


def test_precision_and_recall_floors(resolved):
    _, result, _ = resolved
    assert _figure(result.output, "precision") >= 0.98
    assert _figure(result.output, "recall") >= 0.96


def test_identifier_columns_alone_link_deterministically(tmp_path):
    table = pl.DataFrame(
        {
            "record_id": ["1", "2", "3", "4", "5"],
            "phone": ["138-0013-8000", "13800138000", "139 1111 2222", "+86 13911112222", None],
            "unionid": [None, None, "U1", None, "U1"],
            "truth": ["a", "b", "c", "c", "c"],
        }
    )
    table.write_parquet(tmp_path / "r.parquet")
    result = runner.invoke(
        app,
        [
            "identity",
            "resolve",
            "--input",
            str(tmp_path / "r.parquet"),
            "--output",
            str(tmp_path / "c.parquet"),
            "--truth",
            "truth",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    c = dict(pl.read_parquet(tmp_path / "c.parquet").select("record_id", "cluster_id").iter_rows())
    assert c["3"] == c["4"] == c["5"]  # phone in two spellings, then the unionid
    assert c["1"] != c["2"]  # the default phone 13800138000 links nobody
    assert "precision 1.0000  recall 1.0000" in result.output


def test_a_table_without_record_id_is_refused(tmp_path):
    pl.DataFrame({"id": [1]}).write_parquet(tmp_path / "r.parquet")
    result = runner.invoke(
        app,
        [
            "identity",
            "resolve",
            "--input",
            str(tmp_path / "r.parquet"),
            "--output",
            str(tmp_path / "c.parquet"),
        ],
    )
    assert result.exit_code == 2 and "record_id" in result.output
