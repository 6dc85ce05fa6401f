from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

import polars as pl

EXPECTED_KINDS = {
    "exact_duplicate_row",
    "duplicate_file",
    "corrected_redelivery",
    "superseded_file",
    "mixed_phone_formats",
    "mixed_date_format",
    "fullwidth_or_emoji_name",
    "test_order",
    "brushing_order",
    "bot_session",
    "unknown_channel_sku",
    "truncated_file",
    "malformed_json_line",
}


def _lines(path: Path, enc: str = "utf-8") -> list[str]:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode(enc).splitlines()


def _data_rows(path: Path, enc: str = "utf-8") -> list[str]:
    """Data rows (1-based index = list index + 1): NDJSON lines, or CSV/TSV lines after the header."""
    lines = _lines(path, enc)
    return lines if path.suffix == ".ndjson" else lines[1:]


def test_every_kind_is_planted(tiny):
    root, _ = tiny
    d = pl.read_parquet(root / "truth/defects.parquet")
    assert set(d["kind"]) >= EXPECTED_KINDS, EXPECTED_KINDS - set(d["kind"])
    assert d["defect_id"].is_unique().all()


def test_defects_exist_where_recorded(tiny):
    root, _ = tiny
    land = root / "landing"
    d = pl.read_parquet(root / "truth/defects.parquet")
    sku_map = pl.read_csv(land / "erp/sku_map.csv", infer_schema=False)
    known = set(sku_map["channel_sku"])
    for _id, kind, ch, file, row, detail in d.iter_rows():
        path = land / file
        assert path.exists(), file
        enc = "gb18030" if ch in ("tmall", "jd") else "utf-8"
        if kind == "truncated_file":
            raw = path.read_bytes()
            assert not raw.endswith(b"\n")
            rows = _data_rows(path, enc)
            assert len(rows) == row
            header = _lines(path, enc)[0].split(",")
            assert len(next(csv.reader([rows[-1]]))) < len(header)
            continue
        if row is None:
            if kind == "duplicate_file":
                orig = land / detail.split("copy of ")[1]
                assert orig.read_bytes() == path.read_bytes()
            elif kind == "corrected_redelivery":
                orig = land / detail.split("supersedes ")[1].split(":")[0]
                assert orig.exists() and orig.read_bytes() != path.read_bytes()
            elif kind == "mixed_date_format":
                rows = list(csv.reader(io.StringIO("\n".join(_lines(path)))))
                assert all("/" in r[1] for r in rows[1:])
            elif kind == "mixed_phone_formats":
                phones = {
                    json.loads(x)["phone"] for x in set(_lines(path)) if json.loads(x)["phone"]
                }
                shapes = {("+" in p, " " in p, "-" in p) for p in phones}
                assert len(shapes) > 1
            continue
        rows = _data_rows(path, enc)
        assert 1 <= row <= len(rows), (file, row, len(rows))
        line = rows[row - 1]
        if kind == "exact_duplicate_row":
            if ch == "web":
                k = int(detail.split("copy of line ")[1].split(" ")[0])
                assert rows[k - 1] == line
            else:
                assert rows[row - 2] == line
        elif kind == "test_order":
            assert json.loads(line)["test"] is True
        elif kind == "fullwidth_or_emoji_name":
            name = json.loads(line)["customer"]["first_name"]
            assert any(
                unicodedata.east_asian_width(c) == "F" or unicodedata.category(c) == "So"
                for c in name
            ), name
        elif kind == "malformed_json_line":
            try:
                json.loads(line)
                raise AssertionError(f"{file}:{row} parses")
            except json.JSONDecodeError:
                pass
        elif kind == "bot_session":
            ev = json.loads(line)
            assert "Mozilla/5.0 (Windows" not in ev["context"]["userAgent"] and ev["userId"] is None
        elif kind == "unknown_channel_sku":
            code = line.split(",")[-1] if ch == "tmall" else next(csv.reader([line]))[23]
            assert code not in known, code
        elif kind == "brushing_order":
            assert line.split(",")[0].startswith('="')
