"""The polars readers give exactly what the record-by-record readers give, or decline.

The engine reads a landing file with polars only when a vectorised check proves polars sees
the same records as Python's csv/json modules; these inputs are the cases where the two
could differ. Each case asserts equality of frames and source records, or that the fast
path declined (the slow path then names the file, row and field as before)."""

from __future__ import annotations

import polars as pl
import pytest

from ingest import engine as E
from ingest.spec import SourceSpec

CSV = SourceSpec.model_validate(
    {
        "name": "t",
        "pattern": "*.csv",
        "format": "csv",
        "entities": {"orders": {"fields": {"order_id": {"from": "id"}}}},
    }
)
JSON = SourceSpec.model_validate(
    {
        "name": "t",
        "pattern": "*.ndjson",
        "format": "ndjson",
        "entities": {
            "orders": {
                "fields": {
                    "order_id": {"from": "id"},
                    "order_total": {"from": "amount.value", "type": "decimal"},
                    "location_id": {"from": "fulfillments.0.location_id"},
                    "native_status": {"from": "note"},
                }
            },
            "order_lines": {
                "explode": ["items"],
                "fields": {
                    "order_id": {"from": "id"},
                    "line_id": {"from": "items.id"},
                    "quantity": {"from": "items.qty", "type": "int"},
                },
            },
        },
    }
)


def _both_csv(tmp_path, data: bytes):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    data_utf8, text = E._utf8_bytes(path, "auto")
    fast = E._read_delimited_polars(data_utf8, text, ",")
    slow = E._read_delimited_python(text, ",")
    return fast, slow


@pytest.mark.parametrize(
    "data",
    [
        b"id,b,c\n1,x,y\n2,,z\n",  # empty cells
        b'id,b,c\n="123",\'138,"q,""r"\n',  # spreadsheet quirks, quoted delimiter and quote
        b"id,b,c\r\n1,2,3\r\n4,5,6",  # CRLF, no final newline
        " id , 名称 ,c\n1,青禾,3\n".encode("gb18030"),  # GB18030, header cells trimmed
        b"\xef\xbb\xbfid,b\n1,2\n",  # UTF-8 with BOM
    ],
)
def test_regular_csv_is_read_by_polars_identically(tmp_path, data):
    fast, slow = _both_csv(tmp_path, data)
    assert fast is not None, "a regular file must take the fast path"
    assert fast[0].equals(slow[0])
    rows = slow[0][E.ROW].to_list()
    assert fast[2](rows) == slow[2](rows)


@pytest.mark.parametrize(
    "data",
    [
        b"id,b,c\n1,2,3\n4,5\n",  # truncated last row
        b"id,b,c\n1,2,3,4\n",  # one cell too many
        b'id,b\n1,"two\nlines"\n',  # a quoted line break
        b"id,b\n1,2\n\n3,4\n",  # a blank line (Python numbers rows around it)
        b"id,id\n1,2\n",  # a repeated header name
        b"id,b\r1,2\r",  # old Mac line ends
        b"",  # empty file
    ],
)
def test_irregular_csv_declines_the_fast_path(tmp_path, data):
    fast, _slow = _both_csv(tmp_path, data)
    assert fast is None


def _both_json(tmp_path, text: str):
    path = tmp_path / "f.ndjson"
    path.write_text(text, encoding="utf-8")
    data, decoded = E._utf8_bytes(path, "auto")
    return E._read_ndjson_polars(data, decoded, JSON), E._read_ndjson_python(decoded, JSON)


def _same(fast: E.RawSource, slow: E.RawSource) -> None:
    assert fast.rows == slow.rows
    for name, frame in slow.frames.items():
        got = fast.frames[name].select(frame.columns)
        assert got.equals(frame), (name, got, frame)
    rows = list(range(1, slow.rows + 1))
    assert fast.raw_records(rows) == slow.raw_records(rows)


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 1, "amount": {"value": "9.90"}, "items": [{"id": 7, "qty": 2}, {"id": 8}]}\n'
        '{"id": "2", "items": [], "fulfillments": [{"location_id": "WH-1"}]}\n'
        '{"id": 3, "note": true}\n\n',
        # floats keep Python's text (12.0, 1e-05, 1e+16), -0 reads as 0
        '{"id": 1, "amount": {"value": 12.0}, "items": [{"id": 1.5e16, "qty": -0}]}\n'
        '{"id": 2, "amount": {"value": 0.00001}, "note": 3.10}\r\n',
    ],
)
def test_regular_ndjson_is_read_by_polars_identically(tmp_path, text):
    fast, slow = _both_json(tmp_path, text)
    assert fast is not None, "a regular file must take the fast path"
    _same(fast, slow)


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 1}\nnot json\n',  # a malformed line
        '{"id": 1}\n[1, 2]\n',  # a line that is not an object
        '{"id": 1}\n\n{"id": 2}\n',  # a blank line inside
        '{"id": 1, "note": {"b": 1, "a": 2}}\n',  # a leaf holding an object
        '{"id": 1, "amount": "9.90"}\n',  # a string where the paths expect an object
        '{"id": 1, "note": "a:1.5,b"}\n',  # a float-like token inside a string
        '{"id": 1}\u2028{"id": 2}\n',  # a line break Python splits on
    ],
)
def test_irregular_ndjson_declines_or_matches(tmp_path, text):
    fast, slow = _both_json(tmp_path, text)
    if fast is not None:
        _same(fast, slow)


def test_malformed_ndjson_declines(tmp_path):
    fast, slow = _both_json(tmp_path, '{"id": 1}\nnot json\n')
    assert fast is None
    assert [r["row"] for r in slow.rejects] == [2]


def test_fast_path_frames_are_strings(tmp_path):
    fast, _ = _both_json(tmp_path, '{"id": 1, "items": [{"id": 2, "qty": 3}]}\n')
    assert all(
        dtype == pl.String for c, dtype in fast.frames["order_lines"].schema.items() if c != E.ROW
    )
