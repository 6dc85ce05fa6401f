"""Bad landing files, one fault each: the right quarantine entry (file, row, field, reason
code) or manifest status, nothing lost (landing rows = lake rows + quarantined rows), and the
good rows of the same delivery still loaded."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from ingest.engine import ingest_channel
from ingest.spec import load_specs
from tests.faults.conftest import (
    POS_HEADER,
    assert_balanced,
    entries,
    lake,
    manifest_status,
    pos_file,
    pos_row,
    quarantine,
    write,
)

TS_FIELD = "销售日期+销售时间"


@pytest.fixture(scope="module")
def specs():
    return load_specs()


def test_duplicate_file_is_logged_and_loaded_once(data_dir, specs):
    first = write(data_dir.landing / "pos" / "pos_ST-SH-01_20250301.csv", pos_file([pos_row("R1")]))
    ingest_channel(specs["pos"], data_dir)
    copy = data_dir.landing / "pos" / "resend" / first.name
    copy.parent.mkdir()
    shutil.copy(first, copy)
    report = ingest_channel(specs["pos"], data_dir)
    (dup,) = [f for f in report.files if f.status == "duplicate"]
    assert dup.file == "pos/resend/pos_ST-SH-01_20250301.csv"
    assert "same content as pos/pos_ST-SH-01_20250301.csv" in dup.note
    assert lake(data_dir, "order_lines").height == 1
    assert manifest_status(data_dir)[dup.file] == "duplicate"
    balances = {b.file: b for b in assert_balanced(data_dir, {"pos": specs["pos"]})}
    assert balances[dup.file].accounted_rows == 0  # counted once, under the first delivery


def test_corrected_redelivery_replaces_the_rows_and_files_of_the_original(data_dir, specs):
    v1 = [pos_row("R1", qty=2, net="398.00"), pos_row("R2", qty=9, net="1791.00")]
    write(data_dir.landing / "pos" / "pos_ST-SH-01_20250301.csv", pos_file(v1))
    ingest_channel(specs["pos"], data_dir)
    v1_outputs = sorted(data_dir.lake.rglob("pos__*.parquet"))
    assert v1_outputs
    v2 = [pos_row("R1", qty=2, net="398.00"), pos_row("R2", qty=1, net="199.00")]
    write(data_dir.landing / "pos" / "pos_ST-SH-01_20250301_v2.csv", pos_file(v2))
    report = ingest_channel(specs["pos"], data_dir)
    (loaded,) = [f for f in report.files if f.status == "loaded"]
    assert loaded.note.endswith("replaces pos/pos_ST-SH-01_20250301.csv")
    lines = lake(data_dir, "order_lines").sort("order_id")
    assert lines["quantity"].to_list() == [2, 1]
    assert set(lines["source_file"]) == {"pos/pos_ST-SH-01_20250301_v2.csv"}
    assert not any(p.exists() for p in v1_outputs)  # the original's lake files are gone
    # an older version arriving late does not undo the correction
    write(data_dir.landing / "pos" / "late" / "pos_ST-SH-01_20250301_v1.csv", pos_file(v1[1:]))
    late = ingest_channel(specs["pos"], data_dir)
    assert [f.status for f in late.files if f.file.startswith("pos/late/")] == ["superseded"]
    assert lake(data_dir, "order_lines")["quantity"].to_list() == [2, 1]
    status = manifest_status(data_dir)
    assert status["pos/pos_ST-SH-01_20250301.csv"] == "superseded"
    assert status["pos/pos_ST-SH-01_20250301_v2.csv"] == "loaded"
    assert_balanced(data_dir, {"pos": specs["pos"]})


def test_truncated_file_quarantines_the_cut_row_and_keeps_the_rest(data_dir, specs):
    rows = [pos_row("R1"), pos_row("R2"), pos_row("R3")[:40]]  # cut mid-record, no newline
    rel = "pos/pos_ST-SH-01_20250301.csv"
    write(data_dir.landing / rel, pos_file(rows, newline_at_end=False))
    ingest_channel(specs["pos"], data_dir)
    assert entries(data_dir, rel) == {(3, None, "ragged_row")}
    assert "header has 16" in quarantine(data_dir)["reason"][0]
    assert lake(data_dir, "order_lines").height == 2
    assert_balanced(data_dir, {"pos": specs["pos"]})


def test_wrong_encoding_quarantines_the_whole_file_and_others_load(data_dir, specs):
    # Latin-1 cells ("Café," is neither UTF-8 nor GB18030) under a UTF-8 header, without
    # and with a UTF-8 byte-order mark (which then lies about the rest of the file)
    body = (POS_HEADER + "\n").encode() + "\n".join(
        [pos_row("R1", name="Café", pay="cash"), pos_row("R2", name="Café", pay="cash")]
    ).encode("latin-1")
    bad, bom = "pos/pos_ST-SH-01_20250301.csv", "pos/pos_ST-SH-01_20250304.csv"
    write(data_dir.landing / bad, body + b"\n")
    write(data_dir.landing / bom, b"\xef\xbb\xbf" + body)
    write(data_dir.landing / "pos/pos_ST-SH-01_20250302.csv", pos_file([pos_row("R3")]))
    # a UTF-16 export with its byte-order mark (spreadsheet "Unicode text") is read
    write(data_dir.landing / "pos/pos_ST-SH-01_20250303.csv", pos_file([pos_row("R4")], "utf-16"))
    report = ingest_channel(specs["pos"], data_dir)
    assert report.count("loaded") == 4
    for rel in (bad, bom):
        assert entries(data_dir, rel) == {
            (1, None, "unreadable_file"),
            (2, None, "unreadable_file"),
        }
    reasons = quarantine(data_dir).sort("source_file")["reason"].unique(maintain_order=True)
    offset = body.index(b"Caf\xe9") + 3  # where the first Latin-1 byte sits
    assert reasons.to_list() == [
        f"cannot decode as utf-8 (byte 0xe9 at offset {offset}) or gb18030 (byte 0x80 at "
        "offset 15); declare the file's encoding in the channel spec",
        f"cannot decode as utf-8-sig (byte 0xe9 at offset {offset}); declare the file's "
        "encoding in the channel spec",
    ]
    assert reasons.str.ends_with("declare the file's encoding in the channel spec").all()
    assert sorted(lake(data_dir, "order_lines")["source_file"]) == [
        "pos/pos_ST-SH-01_20250302.csv",
        "pos/pos_ST-SH-01_20250303.csv",
    ]
    assert_balanced(data_dir, {"pos": specs["pos"]})


def _order(order_id: int, created_at: str = "2025-03-01T10:00:00+08:00", **over) -> str:
    order = {
        "id": order_id,
        "created_at": created_at,
        "currency": "CNY",
        "total_price": "199.00",
        "financial_status": "paid",
        "email": f"buyer{order_id}@qq.com",
        "line_items": [{"id": order_id * 10, "sku": "SK001", "quantity": 1, "price": "199.00"}],
    }
    order.update(over)
    return json.dumps(order, ensure_ascii=False)


def test_malformed_json_line_is_quarantined_with_its_line(data_dir, specs):
    rel = "web/orders/shopify_orders_20250301.ndjson"
    lines = [_order(1), '{"id": 2, "created_at": "2025-03-01T10:00:00+08:00", ', _order(3), "[1]"]
    write(data_dir.landing / rel, "\n".join(lines) + "\n")
    ingest_channel(specs["web"], data_dir)
    assert entries(data_dir, rel) == {(2, None, "malformed_record"), (4, None, "malformed_record")}
    reasons = quarantine(data_dir).sort("source_row")["reason"].to_list()
    assert reasons[0].startswith("malformed JSON") and "not a JSON object" in reasons[1]
    assert sorted(lake(data_dir, "orders")["order_id"].to_list()) == ["1", "3"]
    assert_balanced(data_dir, {"web": specs["web"]})


def test_wrong_types_name_the_field_and_the_value(data_dir, specs):
    rel = "pos/pos_ST-SH-01_20250301.csv"
    rows = [
        pos_row("R1"),
        pos_row("R2", qty="two"),
        pos_row("R3", price="12O.00"),
        pos_row("R4", date="2025-13-45"),
        pos_row("R5", net="¥abc"),
    ]
    write(data_dir.landing / rel, pos_file(rows))
    ingest_channel(specs["pos"], data_dir)
    got = {(r, f, c) for r, f, c in entries(data_dir, rel)}
    assert {
        (2, "数量", "invalid_value"),
        (3, "单价", "invalid_value"),
        (4, TS_FIELD, "invalid_value"),
        (5, "实收金额", "invalid_value"),
    } <= got
    q = quarantine(data_dir).filter(pl.col("entity") == "order_lines").sort("source_row")
    assert "quantity <- 数量: 'two' is not a valid int" in q["reason"][0]
    assert q["raw_record"][1].count("12O.00") == 1  # the source record, as delivered
    assert lake(data_dir, "order_lines")["order_id"].to_list() == ["ST-SH-01 R1"]
    assert_balanced(data_dir, {"pos": specs["pos"]})


def test_unknown_sku_is_kept_in_the_lake_for_the_marts_to_flag(data_dir, specs):
    rel = "pos/pos_ST-SH-01_20250301.csv"
    write(data_dir.landing / rel, pos_file([pos_row("R1", sku="NO-SUCH-SKU")]))
    ingest_channel(specs["pos"], data_dir)
    # not an ingest error (the SKU map may arrive later): read, kept, flagged in dbt by
    # int_unmapped_channel_skus (see test_marts_under_faults)
    assert entries(data_dir, rel) == set()
    assert lake(data_dir, "order_lines")["channel_sku"].to_list() == ["NO-SUCH-SKU"]
    assert_balanced(data_dir, {"pos": specs["pos"]})


def test_future_and_negative_timestamps_are_quarantined(data_dir, specs):
    pos = "pos/pos_ST-SH-01_20250301.csv"
    rows = [
        pos_row("R1"),
        pos_row("R2", date="2099-03-01"),
        pos_row("R3", date="1969-12-31"),
        pos_row("R4", date="1900-01-01", time="00:00:00"),
    ]
    write(data_dir.landing / pos, pos_file(rows))
    web = "web/orders/shopify_orders_20250301.ndjson"
    orders = [_order(1), _order(2, "2099-01-01T00:00:00+08:00"), _order(3, "1969-12-31T23:59:59Z")]
    write(data_dir.landing / web, "\n".join(orders) + "\n")
    oa = "wechat/oa_events/oa_events_20250301.ndjson"
    events = [
        {"ToUserName": "gh_1", "FromUserName": f"o{i}", "CreateTime": t, "Event": "subscribe"}
        for i, t in enumerate([1740794400, -1, 0, -86400], start=1)
    ]
    write(data_dir.landing / oa, "\n".join(json.dumps(e) for e in events) + "\n")
    for channel in ("pos", "web", "wechat"):
        ingest_channel(specs[channel], data_dir)
    assert {(2, TS_FIELD, "future_timestamp"), (3, TS_FIELD, "past_timestamp")} <= entries(
        data_dir, pos
    )
    assert (4, TS_FIELD, "past_timestamp") in entries(data_dir, pos)
    assert {(2, "created_at", "future_timestamp"), (3, "created_at", "past_timestamp")} <= entries(
        data_dir, web
    )
    # epoch 0 is a placeholder; a negative epoch is no time at all
    assert entries(data_dir, oa) == {
        (2, "CreateTime", "invalid_value"),
        (3, "CreateTime", "past_timestamp"),
        (4, "CreateTime", "invalid_value"),
    }
    past = quarantine(data_dir).filter(pl.col("reason_code") == "past_timestamp")["reason"]
    assert past.str.contains("is before 1990-01-01").all()
    assert lake(data_dir, "order_lines")["order_id"].sort().to_list() == ["1", "ST-SH-01 R1"]
    assert lake(data_dir, "social")["account_id"].to_list() == ["o1"]
    assert_balanced(data_dir, {c: specs[c] for c in ("pos", "web", "wechat")})
