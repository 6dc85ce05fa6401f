"""The write path under failure: a full disk mid-batch, a process killed mid-write, and two
ingests of one channel at once. Nothing half-written is ever read or recorded as loaded,
and a re-run ends where a clean run ends."""

from __future__ import annotations

import errno
import json
import os
import pickle
import textwrap
from pathlib import Path

import polars as pl
import pytest

from ingest.canonical import ENTITIES
from ingest.config import DataPaths
from ingest.engine import LakeWriteError, ensure_schema_files, ingest_channel
from ingest.locks import Busy
from ingest.reconcile import reconcile
from ingest.spec import load_specs
from tests.faults.conftest import (
    assert_balanced,
    lake,
    lake_inventory,
    manifest_status,
    pos_file,
    pos_row,
    python_subprocess,
    temp_files,
    write,
)

DAYS = [f"202503{d:02d}" for d in range(1, 7)]


@pytest.fixture(scope="module")
def specs():
    return load_specs()


def pos_days(paths: DataPaths) -> list[str]:
    """Six POS files of two receipts each, with member cards and phones (three outputs
    per file: lines, orders, identifiers). Returns their landing names."""
    rels = []
    for i, day in enumerate(DAYS):
        rows = [
            pos_row(f"R{i}1", card=f"66881000{i:03d}1", phone=f"1391111{i:04d}"),
            pos_row(f"R{i}2", date=f"{day[:4]}-{day[4:6]}-{day[6:]}", sku="SK002"),
        ]
        rel = f"pos/pos_ST-SH-01_{day}.csv"
        write(paths.landing / rel, pos_file(rows))
        rels.append(rel)
    return rels


@pytest.fixture(scope="module")
def clean_pos(tmp_path_factory, specs) -> DataPaths:
    """The same six files ingested without a fault: what every re-run must end with."""
    paths = DataPaths(tmp_path_factory.mktemp("clean_pos") / "data")
    pos_days(paths)
    ingest_channel(specs["pos"], paths)
    return paths


def test_disk_full_mid_batch_loads_nothing_half_and_a_rerun_completes(
    data_dir, specs, clean_pos, monkeypatch
):
    rels = pos_days(data_dir)
    ensure_schema_files(data_dir, ENTITIES)  # written before the disk fills up
    real = pl.LazyFrame.sink_parquet
    calls = []

    def disk_full_on_the_eighth_write(self, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 8:  # batch 1 wrote 6 files; this is batch 2's second
            Path(file).write_bytes(b"PAR1" + b"\0" * 64)  # what got out before the disk filled
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real(self, file, *args, **kwargs)

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", disk_full_on_the_eighth_write)
    with pytest.raises(LakeWriteError) as caught:
        ingest_channel(specs["pos"], data_dir, batch_files=2)
    err = caught.value
    assert err.errno == errno.ENOSPC
    message = str(err)
    assert "pos: writing the lake under" in message and str(data_dir.lake) in message
    assert "pos/pos_ST-SH-01_20250303.csv, pos/pos_ST-SH-01_20250304.csv" in message
    assert "No space left on device" in message
    assert "None of them is recorded as loaded" in message
    assert temp_files(data_dir) == []  # the half-written temporary file is gone
    status = manifest_status(data_dir)
    assert status == {rels[0]: "loaded", rels[1]: "loaded"}  # batch 1 stays loaded
    assert set(lake(data_dir, "order_lines")["source_file"]) == set(rels[:2])
    inventory = lake_inventory(data_dir)
    assert not [f for f in inventory if "20250303" in f or "20250304" in f]
    balances = {b.file: b for b in reconcile(data_dir, {"pos": specs["pos"]})}
    assert [balances[r].status for r in rels] == ["loaded"] * 2 + ["not ingested"] * 4
    assert all(balances[r].missing == 0 for r in rels[:2])

    monkeypatch.setattr(pl.LazyFrame, "sink_parquet", real)
    report = ingest_channel(specs["pos"], data_dir, batch_files=2)
    assert report.count("loaded") == 4 and report.count("unchanged") == 2
    assert lake_inventory(data_dir) == lake_inventory(clean_pos)
    assert_balanced(data_dir, {"pos": specs["pos"]})


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import polars as pl
    from ingest.config import data_paths
    from ingest.engine import ingest_channel
    from ingest.spec import load_specs

    real, calls = pl.LazyFrame.sink_parquet, []

    def write_then_die(self, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == int(sys.argv[1]):
            Path(file).write_bytes(b"PAR1" + b"\\0" * 64)  # half a file, then SIGKILL
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, file, *args, **kwargs)

    pl.LazyFrame.sink_parquet = write_then_die
    ingest_channel(load_specs()["pos"], data_paths(), batch_files=2)
    print("survived")
    """
)


def test_killed_mid_write_then_rerun_equals_a_clean_run(data_dir, specs, clean_pos):
    pos_days(data_dir)
    ensure_schema_files(data_dir, ENTITIES)
    proc = python_subprocess(KILLER.replace("sys.argv[1]", "'10'"), data_dir)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, (out, err)  # SIGKILL, mid-way
    assert "survived" not in out
    assert temp_files(data_dir), "the kill should leave a half-written temporary file"
    # what a reader sees meanwhile: only whole Parquet files, a manifest that parses
    inventory = lake_inventory(data_dir)  # opens every visible file
    status = manifest_status(data_dir)
    assert set(status.values()) <= {"loaded"} and len(status) < len(DAYS)
    assert len(inventory) < len(lake_inventory(clean_pos))

    report = ingest_channel(specs["pos"], data_dir, batch_files=2)
    assert report.swept, "the re-run removes what the killed run left unrecorded"
    assert temp_files(data_dir) == []
    assert report.count("loaded") + report.count("unchanged") == len(DAYS)
    assert lake_inventory(data_dir) == lake_inventory(clean_pos)
    assert manifest_status(data_dir) == manifest_status(clean_pos)
    assert_balanced(data_dir, {"pos": specs["pos"]})


HOLDER = textwrap.dedent(
    """
    import sys
    from ingest.config import data_paths
    from ingest.locks import exclusive

    with exclusive(data_paths().manifest_dir / "pos.lock", "ingest pos"):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes our stdin
    """
)


def test_a_second_ingest_of_a_channel_fails_cleanly_while_the_first_holds_it(data_dir, specs):
    pos_days(data_dir)
    holder = python_subprocess(HOLDER, data_dir, stdin=-1)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy) as caught:
            ingest_channel(specs["pos"], data_dir, lock_wait=0.5)
        message = str(caught.value)
        assert f"pid {holder.pid} (ingest pos" in message and "Nothing was changed" in message
        assert str(pickle.loads(pickle.dumps(caught.value))) == message  # from ingest_all's pool
        assert not (data_dir.manifest_dir / "pos.json").exists()
        assert not list(data_dir.lake.rglob("pos__*.parquet"))
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert ingest_channel(specs["pos"], data_dir, lock_wait=5).count("loaded") == len(DAYS)


RACER = textwrap.dedent(
    """
    import json
    from ingest.config import data_paths
    from ingest.engine import ingest_channel
    from ingest.spec import load_specs

    report = ingest_channel(load_specs()["pos"], data_paths())
    print(json.dumps({s: report.count(s) for s in ("loaded", "unchanged")}))
    """
)


def test_two_ingests_at_once_load_each_file_once(data_dir, specs, clean_pos):
    pos_days(data_dir)
    racers = [python_subprocess(RACER, data_dir) for _ in range(2)]
    results = []
    for proc in racers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    # one loaded everything; the other waited for the lock and found it all unchanged
    assert sorted(r["loaded"] for r in results) == [0, len(DAYS)]
    assert sorted(r["unchanged"] for r in results) == [0, len(DAYS)]
    assert lake_inventory(data_dir) == lake_inventory(clean_pos)
    assert_balanced(data_dir, {"pos": specs["pos"]})
