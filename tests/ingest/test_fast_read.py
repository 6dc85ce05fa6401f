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
        b"id,b,c\n1,2,3,4\n",  # one cell too many
        b'id,b\n1,"two\nlines"\n',  # a quoted line break
        b'id,b,c\n1,2,3\n4,"5,6"\n',  # a short row with a quote: the sentinel cannot tell
        b'id,b,c\n1,"x\n",3\n4,5\n',  # a quoted break whose pieces look like short rows
        b"id,id\n1,2\n",  # a repeated header name
        b"id,b\r1,2\r",  # old Mac line ends
        b"",  # empty file
    ],
)
def test_irregular_csv_declines_the_fast_path(tmp_path, data):
    fast, _slow = _both_csv(tmp_path, data)
    assert fast is None


@pytest.mark.parametrize(
    ("data", "rejected"),
    [
        (b"id,b,c\n1,2,3\n4,5", [2]),  # truncated last row
        (b"id,b,c\r\n1,2\r\n  \r\n7,8,9\r\n", [1, 2]),  # short rows, CRLF
        (b"id,b\n1,2\n\n3,4\n\n", []),  # blank lines: no record, rows numbered around them
        (b'id\n1\n\n""\n2\n', []),  # one column: a blank line is no record, "" is one
        (b'id,b,c\n1,"x,y",3\n4\n', [2]),  # quotes in a good row, a short row without
    ],
)
def test_short_csv_rows_are_rejected_as_python_rejects_them(tmp_path, data, rejected):
    """A line polars padded (fewer cells than the header) and that holds no quote is the
    csv module's ragged row (or, empty, no record): rejected or skipped the same way."""
    fast, slow = _both_csv(tmp_path, data)
    assert [r["row"] for r in slow[1]] == rejected
    assert fast is not None, "short rows without quotes take the fast path"
    assert fast[0].equals(slow[0])
    assert fast[1] == slow[1]
    rows = slow[0][E.ROW].to_list()
    assert fast[2](rows) == slow[2](rows)


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


@pytest.mark.parametrize(
    ("text", "rejected"),
    [
        ('{"id": 1}\nnot json\n{"id": 3, "amount": {"value": 1.5}}\n', [2]),
        ('{"id": 1}\r\n{"id": 2, "items": [{"id": 7\r\n{"id": 3}\r\n', [2]),  # truncated
        ('{"id": 1}\n[1, 2]\n"x"\n{"id": 4}', [2, 3]),  # lines that are not objects
        ('{"id": 1}\n\u3000\n{"id": 2}\nnot json\n', [4]),  # a line blank to Python only
    ],
)
def test_malformed_ndjson_lines_are_taken_out_as_python_rejects_them(tmp_path, text, rejected):
    """A line that does not look like an object is parsed by ``json``; the ones it refuses
    are taken out with Python's reject (row, reason, raw line), the rest read by polars."""
    fast, slow = _both_json(tmp_path, text)
    assert [r["row"] for r in slow.rejects] == rejected
    assert fast is not None, "the good lines of a file with malformed ones take the fast path"
    _same(fast, slow)
    assert fast.rejects == slow.rejects


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 1}{"id": 2}\n{"id": 3}\n',  # extra data after an object
        '{"id": 1,, "note": "x"}\n{"id": 3}\n',  # looks like an object, is not JSON
        "not json\n",  # every line malformed
    ],
)
def test_malformed_ndjson_that_looks_like_objects_declines(tmp_path, text):
    """A malformed line that begins with ``{`` and ends with ``}`` is left to polars, whose
    parse then fails: the file is read line by line, and the row is named as before."""
    fast, slow = _both_json(tmp_path, text)
    assert fast is None
    assert [r["row"] for r in slow.rejects] == [1]


def test_fast_path_frames_are_strings(tmp_path):
    fast, _ = _both_json(tmp_path, '{"id": 1, "items": [{"id": 2, "qty": 3}]}\n')
    assert all(
        dtype == pl.String for c, dtype in fast.frames["order_lines"].schema.items() if c != E.ROW
    )


# One pass over a batch: the engine parses the files of a batch together. Every file must
# come out as it does alone, and an odd file (declined alone) must not spoil the others.
JSON_BATCH = [
    '{"id": 1, "amount": {"value": 12.0}, "items": [{"id": 7, "qty": 2}, {"id": 8}]}\n',
    '{"id": 1}\nnot json\n',  # a malformed line: taken out, the batch parsed again
    '{"id": "2", "items": [], "fulfillments": [{"location_id": "WH-1"}]}\n{"id": 3}',
    '{"id": 1, "note": {"b": 1, "a": 2}}\n',  # a leaf holding an object: declined alone
    '{"id": 1}{"id": 2}\n',  # malformed but looks like an object: halves are retried
    '{"id": 4, "items": [{"id": 9, "qty": 1}]}\n{"id": 5, "note": 3.10}\r\n',
    '{"id": 1}\n\n{"id": 2}\n',  # a blank line inside: declined before the parse
]
CSV_BATCH = [
    b"id,b,c\n1,x,y\n2,,z\n",
    b"id,b,c\n1,2,3\n4,5\n",  # truncated: its last row rejected, the others still read
    b"id,b,c\n1,2,3,4\n",  # a row too long: polars fails, halves are retried: declined
    b"id,b,c\r\n7,8,9\r\n",
    b'id,b,c\n1,"two\nlines",3\n',  # a quoted line break: declined
    b"id,b\n1,2\n",  # another header: read in a pass of its own
    b'id,b,c\n5,"q,""r",6\n',
]


def _decoded(tmp_path, blobs: list[bytes]) -> list[tuple[bytes, str]]:
    out = []
    for n, blob in enumerate(blobs):
        path = tmp_path / f"f{n}"
        path.write_bytes(blob)
        out.append(E._utf8_bytes(path, "auto"))
    return out


def test_ndjson_batch_reads_each_file_as_alone(tmp_path):
    files = _decoded(tmp_path, [t.encode("utf-8") for t in JSON_BATCH])
    together = E._read_ndjson_many(files, JSON)
    alone = [E._read_ndjson_polars(data, text, JSON) for data, text in files]
    assert [r is None for r in together] == [r is None for r in alone] == [
        False, False, False, True, True, False, True
    ]  # fmt: skip
    for (_, text), fast in zip(files, together, strict=True):
        if fast is not None:
            slow = E._read_ndjson_python(text, JSON)
            _same(fast, slow)
            assert fast.rejects == slow.rejects


def test_csv_batch_reads_each_file_as_alone(tmp_path):
    files = _decoded(tmp_path, CSV_BATCH)
    together = E._read_delimited_many(files, ",")
    assert [r is None for r in together] == [False, False, True, False, True, False, False]
    for (data, text), fast in zip(files, together, strict=True):
        if fast is None:
            assert E._read_delimited_polars(data, text, ",") is None
            continue
        slow = E._read_delimited_python(text, ",")
        assert fast[0].equals(slow[0])
        assert fast[1] == slow[1]
        rows = slow[0][E.ROW].to_list()
        assert fast[2](rows) == slow[2](rows)


def test_adjacent_floats_are_all_marked(tmp_path):
    """Floats that share a delimiter (``[1.5,1e-05,1e+16]``) need the second marking pass;
    the first file has none left after one pass (the second is skipped): both as Python."""
    fields = {"order_id": {"from": "id"}, "native_status": {"from": "tags.1"}}
    tags = SourceSpec.model_validate(
        {**JSON.model_dump(by_alias=True), "entities": {"orders": {"fields": fields}}}
    )
    for text in ['{"id": 1, "tags": [1.5, "x", 2.0]}\n', '{"id": 2, "tags": [1.5,1e-05,1e+16]}\n']:
        path = tmp_path / "f.ndjson"
        path.write_text(text)
        data, decoded = E._utf8_bytes(path, "utf-8")
        fast = E._read_ndjson_polars(data, decoded, tags)
        assert fast is not None, text
        _same(fast, E._read_ndjson_python(decoded, tags))


def test_ndjson_batch_checks_each_file_once(tmp_path, monkeypatch):
    """The retry on halves (after a malformed file spoilt the one-pass parse) reuses the
    files' checked bodies: each file's text is scanned once, however deep the retry."""
    files = _decoded(tmp_path, [t.encode("utf-8") for t in JSON_BATCH * 3])
    calls = []
    body = E._ndjson_body
    monkeypatch.setattr(E, "_ndjson_body", lambda d, t: calls.append(t) or body(d, t))
    together = E._read_ndjson_many(files, JSON)
    assert len(calls) == len(files)
    assert [r is None for r in together] == [False, False, False, True, True, False, True] * 3


@pytest.mark.parametrize(
    "char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029", "\r"]
)
def test_every_odd_line_break_is_found_in_the_bytes(tmp_path, char):
    """The breaks ``str.splitlines`` honours and polars does not are searched in the UTF-8
    bytes (a multi-byte one after its lead byte): each sends the file the exact way, and a
    neighbour sharing the lead byte (``“…”``, ``©``) does not."""
    text = '{"id": 1, "note": "“a…”©' + char + 'b"}\n{"id": 2}\n'
    assert E._odd_breaks(text.encode("utf-8"))
    assert not E._odd_breaks(text.replace(char, "").encode("utf-8"))
    fast, slow = _both_json(tmp_path, text)
    assert fast is None
    csv_fast, _ = _both_csv(tmp_path, f"id,b\n1,x{char}y\n2,z\n".encode())
    assert csv_fast is None
