"""A brand generated in shards (``generate(shard_customers=...)``, for the 5M-line bench) is one
brand: ids unique across shards, one header per landing file, every row ingestible."""

from __future__ import annotations

import polars as pl
import pytest

from ingest.config import DataPaths
from ingest.demo import generate
from ingest.engine import ingest_channel
from ingest.spec import load_specs


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_shards")
    summary = generate(out, seed=7, customers=450, days=20, shard_customers=150)
    return out, summary


def test_three_shards_one_population(sharded):
    out, summary = sharded
    assert summary["shards"] == 3 and summary["persons"] == 450
    persons = pl.read_parquet(out / "truth" / "persons.parquet")
    assert sorted(persons["person_id"].to_list()) == list(range(1, 451))
    assert persons["household_of"].is_in(persons["person_id"].implode()).all()
    assert (persons["household_of"] != persons["person_id"]).sum() > 0
    members = persons.filter(pl.col("member_no") != "")["member_no"]
    assert members.n_unique() == members.len() > 0


def test_order_ids_unique_across_shards(sharded):
    """POS receipts, mini-program order numbers and the like are running numbers per store and
    day: without the shard's own block, shard 1 would repeat shard 0's."""
    out, _ = sharded
    lines = pl.read_parquet(out / "truth" / "sales_lines.parquet")
    pos = lines.filter(pl.col("channel") == "pos")
    assert pos.height > 0
    assert lines.select("channel", "order_id", "line_id").is_duplicated().sum() == 0


def test_landing_files_have_one_header(sharded):
    out, _ = sharded
    checked = 0
    for f in (out / "landing").rglob("*.csv"):
        raw = f.read_bytes()
        if not raw:
            continue
        head, _, body = raw.partition(b"\n")
        assert head not in body.split(b"\n"), f"{f}: header repeated"
        checked += 1
    assert checked > 50


def test_crm_ids_do_not_collide(sharded):
    """Points transactions and consent records are numbered per shard's block: the CRM files
    of three shards load with no conflicting duplicate key."""
    out, _ = sharded
    paths = DataPaths(out)
    report = ingest_channel(load_specs()["crm"], paths)
    assert report.kept["points"] > 0 and report.kept["consents"] > 0
    q = list(paths.quarantine.glob("crm__*.parquet"))
    codes = pl.concat([pl.read_parquet(f) for f in q])["reason_code"].to_list() if q else []
    assert "conflicting_duplicate" not in codes
