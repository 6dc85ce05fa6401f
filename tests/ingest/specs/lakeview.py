"""What one channel left in the lake and in quarantine, and what the demo's truth says of it:
the helpers the channel spec tests share. Each takes the channel it looks at."""

from __future__ import annotations

import polars as pl

from ingest import tombstones
from ingest.config import DataPaths
from ingest.engine import ingest_channel
from ingest.identifiers import normalize_id
from ingest.reconcile import reconcile, unclaimed_files
from ingest.spec import load_specs
from tests.conftest import copy_landing

# planted defects the engine rejects, and the reason code it gives
QUARANTINED = {
    "exact_duplicate_row": "duplicate_row",
    "malformed_json_line": "malformed_record",
    "truncated_file": "ragged_row",
}


def ingest_copy(demo: DataPaths, paths: DataPaths, channel: str):
    """Copy the channel's landing from the demo into ``paths`` and ingest it: (paths, spec,
    report)."""
    copy_landing(demo, paths, channel)
    spec = load_specs()[channel]
    return paths, spec, ingest_channel(spec, paths)


def lake(paths, entity: str, channel: str) -> pl.DataFrame:
    return pl.read_parquet(paths.lake_raw / entity / "*.parquet").filter(
        pl.col("channel") == channel
    )


def quarantine(paths, channel: str) -> pl.DataFrame:
    return pl.read_parquet(paths.quarantine / "*.parquet").filter(pl.col("channel") == channel)


def truth(demo, name: str, channel: str) -> pl.DataFrame:
    return pl.read_parquet(demo.truth / f"{name}.parquet").filter(pl.col("channel") == channel)


def planted(demo, kind: str, channel: str) -> pl.DataFrame:
    """The defects of one kind the demo planted in the channel's files."""
    return truth(demo, "defects", channel).filter(pl.col("kind") == kind)


def rejected_defects(demo, channel: str) -> set[tuple[str, int, str]]:
    """(file, row, reason code) of every planted defect the engine must quarantine."""
    return {
        (d["file"], d["row"], QUARANTINED[d["kind"]])
        for d in truth(demo, "defects", channel).iter_rows(named=True)
        if d["kind"] in QUARANTINED
    }


def truth_ids(demo, channel: str) -> set[tuple[str, str, str, str]]:
    """(file, record, type, normalised value) of every identifier the truth lists for the
    channel."""
    ids = truth(demo, "identifiers", channel)
    out = set()
    for rel, key, itype, value in ids.select(
        "source_file", "record_key", "identifier_type", "identifier_value"
    ).iter_rows():
        ident = normalize_id(itype, value)
        if ident is not None:
            out.add((rel, key, ident.type, ident.value))
    return out


def lake_ids(paths, channel: str) -> set[tuple[str, str, str, str]]:
    """(file, record, type, value) of every identifier of the channel in the lake."""
    return set(
        lake(paths, "identifiers", channel)
        .select("source_file", "record_id", "identifier_type", "identifier_value")
        .iter_rows()
    )


def sku_map(demo, channel: str) -> pl.DataFrame:
    """The ERP's SKU map rows of the channel (channel SKU, item id, master SKU), as text."""
    return pl.read_csv(demo.landing / "erp" / "sku_map.csv", infer_schema=False).filter(
        pl.col("channel") == channel
    )


def utc(local: pl.Expr) -> pl.Expr:
    """A Beijing wall time as the naive UTC time the lake stores."""
    return (
        local.dt.replace_time_zone("Asia/Shanghai")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def assert_every_file_balances(paths, spec, files) -> None:
    """Every landing file of the channel is loaded and reconciles (landing rows = lake rows +
    quarantined rows), and no landing file is left unread by the spec."""
    specs = {spec.channel: spec}
    balance = reconcile(paths, specs)
    assert len(balance) == len(files)
    assert [b for b in balance if b.missing or b.status != "loaded"] == []
    assert unclaimed_files(paths, specs) == []


def assert_consents_equal_truth(paths, demo, channel: str) -> int:
    """The channel's consent events outside the CRM (``truth/consents_<channel>.parquet``) are
    in the lake one for one: id (the keyed digest of the truth's ``consent_key``), UTC time,
    purpose, granted, and the identifier each names; no consent id holds the text it was
    built from. Returns how many."""
    secret = tombstones.key(paths)
    want = pl.read_parquet(demo.truth / f"consents_{channel}.parquet").with_columns(
        pl.col("consent_key")
        .map_elements(lambda k: tombstones.record_digest(secret, k), return_dtype=pl.String)
        .alias("consent_id")
    )
    got = lake(paths, "consents", channel).filter(
        pl.col("source_file").is_in(want["source_file"].unique().implode())
    )
    cols = ["consent_id", "consent_ts", "purpose", "granted"]
    assert got.select(cols).sort("consent_id").to_dicts() == (
        want.select(cols).sort("consent_id").to_dicts()
    )
    assert got["consent_id"].str.contains(r"^[0-9a-f]{64}$").all()
    ids = lake(paths, "identifiers", channel).filter(pl.col("entity") == "consents")
    named = set(ids.select("record_id", "identifier_type", "identifier_value").iter_rows())
    expect = set()
    for cid, itype, value in want.select(
        "consent_id", "identifier_type", "identifier_value"
    ).iter_rows():
        ident = normalize_id(itype, value)
        expect.add((cid, ident.type, ident.value))
        assert value not in cid
    assert named >= expect
    return want.height


def matched(want: pl.DataFrame, got: pl.DataFrame, on) -> pl.DataFrame:
    """The truth's rows joined to the lake's on ``on`` (the lake's columns suffixed ``_lake``
    where both have them); every truth row must find its lake row."""
    both = want.join(got, on=on, how="inner", suffix="_lake")
    missing = want.join(got, on=on, how="anti")
    assert missing.height == 0, f"{missing.height} truth rows not in the lake: {missing.head(3)}"
    assert both.height == want.height, "a truth row matched more than one lake row"
    return both


def assert_agree(both: pl.DataFrame, *cols: str, **renamed: str) -> None:
    """Truth and lake agree on every joined row, nulls compared as values: each of ``cols``
    against its ``<col>_lake``, each ``truth_col=lake_col`` of ``renamed`` against the named
    lake column. The message names the column and shows the first rows that differ."""
    for want_col, lake_col in [*((c, f"{c}_lake") for c in cols), *renamed.items()]:
        bad = both.filter(pl.col(want_col).ne_missing(pl.col(lake_col)))
        assert bad.height == 0, (
            f"{want_col} (truth) != {lake_col} (lake) on {bad.height} rows: "
            f"{bad.select(want_col, lake_col).head(3).to_dicts()}"
        )
