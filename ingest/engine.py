"""The ingest engine: landing files -> canonical Parquet in the lake, driven by channel specs.

Guarantees (each tested in ``tests/ingest``):

* a landing file is loaded once per content hash; the same bytes delivered again are logged
  as a duplicate delivery and not loaded twice;
* a file whose logical key (``file_key`` groups other than ``version``) matches an earlier
  file replaces that file's lake rows when its version is higher (a corrected re-delivery);
* every source row ends in the lake or in quarantine with a reason naming the file, the row
  and the field: ``landing rows = lake rows + quarantined rows`` per file and entity;
* outputs are one Parquet file per source file per entity, with the lineage columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from ingest import tombstones
from ingest.canonical import (
    ADDRESS_COLUMNS,
    DERIVED,
    ENTITIES,
    LOCAL_DATES,
    NAME_COLUMNS,
    QUARANTINE,
    TS,
    schema,
)
from ingest.config import DataPaths
from ingest.identifiers import address_frame, name_expr, normalize_ids
from ingest.locks import exclusive
from ingest.spec import ChannelSpec, EntitySpec, FieldSpec, IdentifierSpec, SourceSpec

log = logging.getLogger(__name__)

_TRUE = {"true", "1", "yes", "y", "t", "是"}
_FALSE = {"false", "0", "no", "n", "f", "否"}
_FUTURE_SLACK = dt.timedelta(days=1)  # clocks and time zones differ; more than this is wrong
# No e-commerce record is older: earlier times are zero, negative or placeholder epochs
# (0 -> 1970-01-01, -1, 1900-01-01) that a platform wrote for "unknown"
_PAST_FLOOR = dt.datetime(1990, 1, 1)
_MONEY_NOISE = r"[,\s元¥￥$€£]|RMB|CNY|USD|EUR|GBP"
FILE = "__file"  # index of the source file within a batch
UID = "__uid"  # position of the record within a batch
ROW = "__row"  # 1-based data row (CSV) or line (NDJSON) in the source file
RAW = "__raw"  # the source record as JSON text, kept for quarantine


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- reading


@dataclass
class RawSource:
    """A file read into string columns, one frame per entity, plus file-level rejects.

    The source record of a row (for quarantine and for telling exact duplicates from
    conflicts) is produced on demand by ``raw_records``: building it for every row would cost
    more than reading the file, and only rejected or repeated rows need it."""

    frames: dict[str, pl.DataFrame]
    rows: int
    rejects: list[dict] = field(default_factory=list)  # {row, field, code, reason, raw}
    unmapped: list[str] = field(default_factory=list)  # native columns no field reads
    raw_records: Callable[[list[int]], dict[int, str]] = lambda rows: {}


class UnreadableFile(ValueError):
    """The file cannot be read at all; it is quarantined whole with this message."""


def _decode(path: Path, encoding: str, errors: str = "strict") -> str:
    """Text of a landing file. A UTF-8 byte-order mark wins; ``auto`` tries UTF-8, then
    GB18030 (the superset of GBK that Chinese platforms export)."""
    return _decode_bytes(path.read_bytes(), encoding, errors)[0]


def _decode_bytes(data: bytes, encoding: str, errors: str = "strict") -> tuple[str, str]:
    """``(text, codec)``; see ``_decode``. A byte-order mark (UTF-8, or UTF-16 as spreadsheet
    "Unicode text" exports write) decides the codec; bytes it cannot decode make the file
    unreadable, never an unhandled error."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, candidates = data[3:], ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"] if encoding == "auto" else [encoding]
    failures = []
    for enc in candidates:
        try:
            return data.decode("utf-8" if enc == "utf-8-sig" else enc, errors), enc
        except UnicodeDecodeError as exc:
            failures.append(f"{enc} (byte {exc.object[exc.start]:#04x} at offset {exc.start})")
    raise UnreadableFile(
        f"cannot decode as {' or '.join(failures)}; declare the file's encoding in the channel spec"
    )


def _utf8_bytes(path: Path, encoding: str) -> tuple[bytes, str]:
    """The file as UTF-8 bytes without a byte-order mark (what polars reads), and its text."""
    data = path.read_bytes()
    text, codec = _decode_bytes(data, encoding)
    if codec == "utf-8":
        return data, text
    return text.encode("utf-8"), text


def _delimiter(source: SourceSpec) -> str:
    return source.delimiter or ("\t" if source.format == "tsv" else ",")


def read_delimited(path: Path, source: SourceSpec) -> tuple[pl.DataFrame, list[dict], Callable]:
    """All cells as strings; header cells trimmed. Rows with the wrong number of cells
    (a truncated file) are returned as rejects, not guessed at.

    polars reads the file when it sees every line as one record with as many cells as the
    header (a sentinel cell appended to every line must land in the column after the last:
    ``_read_delimited_group``); a line with too few cells and no quote is the ragged row the
    csv module would reject, and is rejected the same way. Any other file (a quoted line
    break, too many cells, a short row with quotes, a repeated header name) is read record
    by record with the csv module, which names each bad row."""
    delim = _delimiter(source)
    data, text = _utf8_bytes(path, source.encoding)
    fast = _read_delimited_polars(data, text, delim)
    if fast is not None:
        return fast
    return _read_delimited_python(text, delim)


def _read_delimited_polars(data: bytes, text: str, delim: str):
    return _read_delimited_many([(data, text)], delim)[0]


_SENTINEL = "\x01"  # the cell appended to every line (its value does not matter, see below)


def _read_delimited_many(files: list[tuple[bytes, str]], delim: str) -> list[tuple | None]:
    """``(utf-8 bytes, text)`` of delimited files, read by polars: files with the same header
    line are read in one pass (a batch of small files costs one parse, not one each). Per
    file ``(frame, rejects, raw_records)`` as ``read_delimited`` returns, or ``None`` for a
    file polars cannot take exactly (see ``read_delimited``)."""
    out: list[tuple | None] = [None] * len(files)
    groups: dict[str, list[tuple[int, bytes]]] = {}
    for i, (data, text) in enumerate(files):
        end = text.find("\n")
        head = text[:end]
        header = [h.strip() for h in head.rstrip("\r").split(delim)]
        if end < 0 or end + 1 == len(text) or '"' in head or len(set(header)) != len(header):
            continue
        if len(delim) != 1 or _odd_breaks(data):
            continue
        # the lines after the header, without the last line break, as bytes
        body = data[data.index(b"\n") + 1 :]
        groups.setdefault(head, []).append((i, body[:-1] if body.endswith(b"\n") else body))
    for head, members in groups.items():
        header = [h.strip() for h in head.rstrip("\r").split(delim)]
        texts = {i: files[i][1] for i, _ in members}
        for i, (frame, rejects) in _read_delimited_group(
            head, header, members, delim, texts
        ).items():
            out[i] = (frame, rejects, _cell_records(frame, header))
    return out


def _with_sentinel(body: bytes, cell: bytes) -> bytes:
    """``body`` with ``cell`` appended to every line (before a CR of a CRLF)."""
    out = body.replace(b"\n", cell + b"\n") + cell
    if b"\r" in body:  # every CR is one of a CRLF here (a lone CR sends the file the slow way)
        out = out.replace(b"\r" + cell + b"\n", cell + b"\r\n")
        if body.endswith(b"\r"):
            out = out[: -len(cell) - 1] + cell + b"\r"
    return out


def _read_delimited_group(
    head: str,
    header: list[str],
    members: list[tuple[int, bytes]],
    delim: str,
    texts: dict[int, str],
) -> dict[int, tuple[pl.DataFrame, list[dict]]]:
    """Files of one header line read together; a file that fails a check is left out.
    ``members``: (file index, the file's lines after the header, without the last line
    break, as UTF-8 bytes); ``texts``: each file's text, for its odd lines.

    Every line, the header's included, gets a sentinel cell appended: polars puts it in the
    column after the last exactly when the line has as many cells as the header (fewer
    cells leave that column empty, more make polars fail), whatever the cells hold. A file
    whose lines all pass is taken whole; one with short lines goes to ``_short_lines``."""
    counts = [body.count(b"\n") + 1 for _, body in members]
    cell = (delim + _SENTINEL).encode("utf-8")
    sentinel = f"{_SENTINEL}{len(header)}"  # a column name no header holds (they are unique)
    while sentinel in header:
        sentinel += _SENTINEL
    data = b"\n".join(
        [
            _with_sentinel(head.encode("utf-8"), delim.encode("utf-8") + sentinel.encode("utf-8")),
            *(_with_sentinel(body, cell) for _, body in members),
        ]
    )
    try:
        frame = pl.read_csv(
            data + b"\n",
            separator=delim,
            infer_schema=False,
            has_header=True,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        frame = None
    if frame is None or frame.width != len(header) + 1 or frame.height != sum(counts):
        if len(members) == 1:
            return {}
        out = {}  # one odd file spoils the pass: each half again, down to that file
        for half in (members[: len(members) // 2], members[len(members) // 2 :]):
            out.update(_read_delimited_group(head, header, half, delim, texts))
        return out
    files = pl.Series(
        FILE, np.repeat(np.array([i for i, _ in members], dtype=np.int32), counts), pl.Int32
    )
    frame = (
        frame.rename(dict(zip(frame.columns, [*header, sentinel], strict=True)))
        .with_columns(files)
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(FILE).alias(ROW))
    )
    # a line with fewer cells than the header; in a one-column file also an empty cell (an
    # empty line has as many cells there, and the csv module skips it)
    short = pl.col(sentinel) != _SENTINEL
    odd = short | (pl.col(header[0]) == "") if len(header) == 1 else short
    odd_rows = frame.filter(odd).select(FILE, ROW, short.alias("short"))
    odd_rows = odd_rows.partition_by(FILE, as_dict=True, include_key=False)
    with_nulls = set(frame.filter(pl.any_horizontal(pl.all().is_null()))[FILE].unique().to_list())
    parts = frame.drop(sentinel).partition_by(FILE, as_dict=True, include_key=False)
    out = {}
    for i, _ in members:
        if i in with_nulls:
            continue
        part, rejects = parts[(i,)], []
        if (i,) in odd_rows:
            found = _short_lines(texts[i], odd_rows[(i,)].rows(), delim, len(header))
            if found is None:
                continue
            dropped, rejects = found
            part = part.filter(~pl.col(ROW).is_in(dropped))
        out[i] = (part, rejects)
    return out


def _short_lines(
    text: str, rows: list[tuple[int, bool]], delim: str, width: int
) -> tuple[list[int], list[dict]] | None:
    """Of the data rows (one per line here) ``(row, short)`` that polars padded (``short``)
    or read as one empty cell: the rows the csv module skips (an empty line) or rejects (a
    ragged row: ``_read_delimited_python``'s reject), or ``None`` when a short one may be a
    record the csv module reads otherwise (it holds a quote)."""
    lines = text.split("\n", rows[-1][0] + 1)  # the header, then row r on line r
    dropped, rejects = [], []
    for r, short in rows:
        line = lines[r].removesuffix("\r")
        if not line:
            dropped.append(r)  # an empty line: no record
        elif not short:
            continue  # one empty cell, e.g. ``""``: a record
        elif '"' in line or "\x00" in line:
            return None
        else:
            dropped.append(r)
            rejects.append(_ragged(r, line.split(delim), width, delim))
    return dropped, rejects


def _ragged(row: int, cells: list[str], width: int, delim: str) -> dict:
    return {
        "row": row,
        "field": None,
        "code": "ragged_row",
        "reason": f"row has {len(cells)} cells, header has {width} (truncated or malformed line)",
        "raw": delim.join(cells),
    }


def _cell_records(frame: pl.DataFrame, header: list[str]) -> Callable[[list[int]], dict]:
    def raw_records(rows: list[int]) -> dict[int, str]:
        sub = frame.filter(pl.col(ROW).is_in(rows))
        return {
            r[-1]: json.dumps(dict(zip(header, r[:-1], strict=True)), ensure_ascii=False)
            for r in sub.select(*header, ROW).iter_rows()
        }

    return raw_records


def _read_delimited_python(text: str, delim: str):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return pl.DataFrame({ROW: []}, schema={ROW: pl.Int64}), [], lambda rows: {}
    cols: list[list[str | None]] = [[] for _ in header]
    rows, raws, rejects = [], {}, []
    for i, rec in enumerate(reader, start=1):
        if not rec:
            continue
        if len(rec) != len(header):
            rejects.append(_ragged(i, rec, len(header), delim))
            continue
        raws[i] = json.dumps(dict(zip(header, rec, strict=False)), ensure_ascii=False)
        for c, v in zip(cols, rec, strict=True):
            c.append(v)
        rows.append(i)
    data = {h: pl.Series(h, c, dtype=pl.String) for h, c in zip(header, cols, strict=True)}
    frame = pl.DataFrame({**data, ROW: pl.Series(rows, dtype=pl.Int64)})
    return frame, rejects, lambda wanted: {r: raws[r] for r in wanted if r in raws}


def _resolve(ctx: dict, path: str):
    parts = path.split(".")
    if parts[0] in ctx:
        node = ctx[parts[0]]
        parts = parts[1:]
    else:
        node = ctx[""]
    for p in parts:
        if isinstance(node, dict):
            node = node.get(p)
        elif isinstance(node, list) and p.isdigit():
            node = node[int(p)] if int(p) < len(node) else None
        else:
            return None
        if node is None:
            return None
    return node


def _to_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return str(v)


def _contexts(obj: dict, explode: list[str]) -> Iterable[dict]:
    ctxs = [{"": obj}]
    for level in explode:
        nxt = []
        for ctx in ctxs:
            parent = ctx[explode[explode.index(level) - 1]] if explode.index(level) else obj
            items = parent.get(level) if isinstance(parent, dict) else None
            if isinstance(items, dict):  # a list of one written as the bare object
                items = [items]
            for item in items or []:
                nxt.append({**ctx, level: item})
        ctxs = nxt
    return ctxs


def read_ndjson(path: Path, source: SourceSpec) -> RawSource:
    """One JSON object per line. A line that is not JSON is a reject naming the line.

    polars parses the file with a schema built from the paths the spec reads (every leaf as
    text); a file it cannot take exactly (a malformed line, a blank line, a value whose type
    differs from the paths, a leaf holding an object) is read line by line with ``json``."""
    data, text = _utf8_bytes(path, source.encoding)
    fast = _read_ndjson_polars(data, text, source)
    return fast if fast is not None else _read_ndjson_python(text, source)


# JSON numbers with a fraction or an exponent, and -0: Python's json reads floats (and 0),
# whose text (``str(12.0)`` is ``12.0``, ``str(1e-05)``) polars does not reproduce. Such
# tokens are quoted with a marker before polars parses the file, and their marked values are
# turned into Python's text afterwards. (Inside a JSON string the quoting breaks the line,
# and the file goes the slow, exact way.)
_NUMBER = r"-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)|-0"
_FLOAT_TOKEN = rf"([:\[,]\s*)({_NUMBER})(\s*[,}}\]])"
_MARK = "\ue000"  # a private-use character: no export writes it
_MARKED = rf'${{1}}"{_MARK}${{2}}"${{3}}'
# A float the first marking pass left: its leading delimiter was the trailing one of a
# marked float (``[1.5,2.5]``). Every such float follows a marked one, so the search starts
# at the marker (a literal the regex engine jumps to): a cheap test of whether a second pass
# is needed, where a search for any float token is a pass as slow as the marking itself.
_LEFT_AFTER_MARK = rf'{_MARK}[^"]*"\s*,\s*-?\d'


def _json_schema(source: SourceSpec) -> tuple[dict, dict[str, dict[str, list]]] | None:
    """The polars schema of the paths a source reads, and per entity the expression path of
    each native name (``None`` when the paths need more than one type at one place)."""
    tree: dict = {}
    exprs: dict[str, dict[str, list]] = {}
    groups = set(re.compile(source.path_fields).groupindex) if source.path_fields else set()
    for name, espec in source.entities.items():
        levels = espec.explode
        base_of = {}
        for j, level in enumerate(levels):  # where a level's items live in the tree
            base_of[level] = (base_of[levels[j - 1]] if j else []) + [level, "*"]
        exprs[name] = {}
        for native in sorted(_native_names(espec)):
            parts = native.split(".")
            if parts[0] == "path" and len(parts) == 2 and parts[1] in groups:
                exprs[name][native] = None  # filled from the file's path later
                continue
            if parts[0] in base_of:
                full, level = base_of[parts[0]] + parts[1:], parts[0]
            else:
                full, level = parts, None
            if not parts[-1] or full[-1] == "*":
                return None
            steps = ["*" if p.isdigit() else p for p in full]
            node = tree
            for k, step in enumerate(steps):
                leaf = k == len(steps) - 1
                child = node.get(step)
                if leaf:
                    if child is None:
                        node[step] = "leaf"
                    elif child != "leaf":
                        return None
                else:
                    if child is None:
                        child = node[step] = {}
                    elif child == "leaf":
                        return None
                    node = child
            exprs[name][native] = [level, parts[1:] if level else parts]
    for level_nodes in _walk(tree):
        if "*" in level_nodes and len(level_nodes) > 1:
            return None
    return tree, exprs


def _walk(node):
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _walk(child)


def _dtype(node) -> pl.DataType:
    if node == "leaf":
        return pl.String
    if "*" in node:
        return pl.List(_dtype(node["*"]))
    return pl.Struct({k: _dtype(v) for k, v in node.items()})


def _path_expr(base: pl.Expr, parts: list[str]) -> pl.Expr:
    e = base
    for p in parts:
        e = e.list.get(int(p), null_on_oob=True) if p.isdigit() else e.struct.field(p)
    return e


def _read_ndjson_polars(data: bytes, text: str, source: SourceSpec) -> RawSource | None:
    return _read_ndjson_many([(data, text)], source)[0]


_PER_SOURCE: dict[tuple[int, str], tuple[SourceSpec, object]] = {}


def _once_per_source(source: SourceSpec, fn: Callable[[SourceSpec], object]):
    """``fn(source)``, computed once per source spec object (not once per file)."""
    key = (id(source), fn.__name__)
    hit = _PER_SOURCE.get(key)
    if hit is None or hit[0] is not source:
        hit = _PER_SOURCE[key] = (source, fn(source))
    return hit[1]


def _json_schema_of(source: SourceSpec) -> tuple[dict, dict[str, dict[str, list]]] | None:
    """``_json_schema``, computed once per source spec object (not once per file)."""
    return _once_per_source(source, _json_schema)


# A blank line: ``(?:^|\n)[ \t\r]*\n`` split in two: a pattern that begins with a literal
# line break lets ``re`` jump from break to break (30x faster on large files)
_BLANK_INSIDE = re.compile(rb"\n[ \t\r]*\n")
_BLANK_FIRST = re.compile(rb"[ \t\r]*\n")


# Line breaks that Python's ``str.splitlines`` (and the csv module) honour but polars does not
# (VT, FF, FS/GS/RS/US, NEL, LS, PS; and a lone CR), as UTF-8: a file holding one is read the
# slow, exact way. The multi-byte ones by their lead byte first (absent from most files).
_ODD_BYTES = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")
_ODD_SEQUENCES = {b"\xc2": (b"\xc2\x85",), b"\xe2": (b"\xe2\x80\xa8", b"\xe2\x80\xa9")}


def _odd_breaks(data: bytes) -> bool:
    """Whether UTF-8 bytes hold a line break polars would not split on (or a lone CR).
    Searched in the bytes, not the decoded text: a one-byte search is a ``memchr`` scan, and
    the text of a file with Chinese in it takes two bytes a character (3x slower in all)."""
    if any(b in data for b in _ODD_BYTES):
        return True
    for lead, sequences in _ODD_SEQUENCES.items():
        if lead in data and any(seq in data for seq in sequences):
            return True
    return b"\r" in data and data.count(b"\r") != data.count(b"\r\n")


_MARK_BYTES = _MARK.encode("utf-8")


def _ndjson_body(data: bytes, text: str) -> tuple[bytes, int, int] | None:
    """What polars parses of one file (its lines, floats marked), the number of lines
    polars must return, and the number of lines as ``splitlines`` counts them; ``None`` when
    the file must be read the slow, exact way. ``data``: the UTF-8 bytes of ``text``."""
    if _MARK_BYTES in data or _odd_breaks(data):
        return None
    end = _rstripped_length(text)  # the text without trailing whitespace: text[:end]
    # its UTF-8 bytes: data[:cut]
    cut = len(data) - (len(text[end:].encode("utf-8")) if end < len(text) else 0)
    if not end or _BLANK_FIRST.match(data, 0, cut) or _BLANK_INSIDE.search(data, 0, cut):
        return None  # empty, or blank lines inside: polars would renumber the lines after them
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)  # as splitlines() counts
    # the body as polars' string from the bytes (no Python string encoded again)
    whole = pl.Series([data[:cut]], dtype=pl.Binary).cast(pl.String)
    # the float marking by polars' regex engine, not ``re`` (one C pass over the text, ~10x
    # faster on large files); the two agree here: the characters where their ``\s`` differ
    # (FS/GS/RS/US) sent the file the exact way above (``_odd_breaks``)
    marked = whole.str.replace_all(_FLOAT_TOKEN, _MARKED)
    lines = data.count(b"\n", 0, cut) + 1  # the marking adds no line and takes none
    if marked.str.len_bytes().item() == cut:  # no float: the bytes as they were
        return data[:cut], lines, n_lines
    # a float right after a marked one shared its delimiter with it: a second pass, only
    # when one is left
    if marked.str.contains(_LEFT_AFTER_MARK).item():
        marked = marked.str.replace_all(_FLOAT_TOKEN, _MARKED)
    return marked.cast(pl.Binary).item(), lines, n_lines  # bytes, no Python string between


def _rstripped_length(text: str) -> int:
    """``len(text.rstrip())`` without copying the text (``rstrip`` copies all of it)."""
    end, step = len(text), 64
    while end:
        tail = text[max(0, end - step) : end]
        kept = len(tail.rstrip())
        if kept:
            return end - len(tail) + kept
        end -= len(tail)
    return 0


def _read_ndjson_many(
    files: list[tuple[bytes, str]],
    source: SourceSpec,
    bodies: list[tuple[bytes, int, int] | None] | None = None,
    taken_out: dict[int, tuple[np.ndarray, list[dict]]] | None = None,
) -> list[RawSource | None]:
    """``(utf-8 bytes, text)`` of NDJSON files of one source, parsed by polars in one pass
    (a batch of small files costs one parse, not one each); ``None`` for a file polars cannot
    take exactly (see ``read_ndjson``), which is then read line by line. ``bodies``: the
    files' ``_ndjson_body``, when already built (the retries reuse them); ``taken_out``:
    per file whose malformed lines were taken out of its body (``_without_malformed``), the
    source line of each line left and the rejects of the lines taken out."""
    out: list[RawSource | None] = [None] * len(files)
    built = _json_schema_of(source)
    if built is None:
        return out
    tree, exprs = built
    if bodies is None:
        bodies = [_ndjson_body(data, text) for data, text in files]
    every = bodies
    bodies = {i: b for i, b in enumerate(every) if b}
    if not bodies:
        return out
    idx = list(bodies)
    schema = {k: _dtype(v) for k, v in tree.items()}
    try:
        root = pl.read_ndjson(
            [bodies[i][0] for i in idx],  # one scan of many sources, in order (no joined copy)
            schema=schema or {"__none": pl.String},
        )
    except (pl.exceptions.PolarsError, ValueError):
        root = None
    counts = [bodies[i][1] for i in idx]
    if root is None or root.height != sum(counts):
        if taken_out is None:
            # a malformed line spoils the pass: such lines (found without parsing the good
            # ones, see ``_without_malformed``) are taken out with their rejects, once
            found = {i: _without_malformed(files[i][1], bodies[i]) for i in idx}
            found = {i: f for i, f in found.items() if f is not None}
            if found:
                again = [(found[i][0] if i in found else b) for i, b in enumerate(every)]
                return _read_ndjson_many(files, source, again, {i: f[1] for i, f in found.items()})
            taken_out = {}
        if len(idx) > 1:  # one odd file spoils the pass: each half again, down to that file
            for half in (idx[: len(idx) // 2], idx[len(idx) // 2 :]):
                again = _read_ndjson_many(
                    [files[i] for i in half],
                    source,
                    [every[i] for i in half],
                    {j: taken_out[i] for j, i in enumerate(half) if i in taken_out},
                )
                for i, raw in zip(half, again, strict=True):
                    out[i] = raw
        return out
    taken_out = taken_out or {}
    root = root.with_columns(
        pl.Series(FILE, np.repeat(np.array(idx, dtype=np.int32), counts), pl.Int32)
    )
    if taken_out:  # the source line of each line parsed
        root = root.with_columns(
            pl.Series(
                ROW,
                np.concatenate(
                    [
                        taken_out[i][0] if i in taken_out else np.arange(1, c + 1)
                        for i, c in zip(idx, counts, strict=True)
                    ]
                ),
                pl.Int64,
            )
        )
    else:
        root = root.with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(FILE).alias(ROW)
        )
    frames: dict[str, pl.DataFrame] = {}
    nested: set[int] = set()
    for name, espec in source.entities.items():
        frame = root
        items: dict[str, str] = {}
        for j, level in enumerate(espec.explode):
            src = pl.col(items[espec.explode[j - 1]]).struct.field(level) if j else pl.col(level)
            col = f"__item{j}"
            frame = (
                frame.with_columns(src.alias(col)).filter(pl.col(col).list.len() > 0).explode(col)
            )
            items[level] = col
        cols = []
        for native, where in exprs[name].items():
            if where is None:
                cols.append(pl.lit(None, dtype=pl.String).alias(native))
                continue
            level, parts = where
            base = pl.col(items[level]) if level else pl.col(parts[0])
            cols.append(_path_expr(base, parts if level else parts[1:]).alias(native))
        frame = frame.select(*cols, pl.col(ROW), pl.col(FILE))
        leaves = [c for c in frame.columns if c not in (ROW, FILE)]
        if leaves:
            # a leaf holding an object or a list: Python writes it with sorted keys
            is_nested = pl.any_horizontal(
                pl.col(c).str.starts_with("{") | pl.col(c).str.starts_with("[") for c in leaves
            )
            nested.update(frame.filter(is_nested)[FILE].unique().to_list())
            marked = frame.select(pl.col(c).str.starts_with(_MARK).any() for c in leaves).row(0)
            fixes = []
            for c, has_mark in zip(leaves, marked, strict=True):
                if has_mark:
                    values = frame[c].filter(frame[c].str.starts_with(_MARK)).unique().to_list()
                    as_python = {v: _to_text(json.loads(v[1:])) for v in values}
                    fixes.append(pl.col(c).replace(as_python))
            if fixes:
                frame = frame.with_columns(fixes)
        frames[name] = frame
    split = {
        name: frame.partition_by(FILE, as_dict=True, include_key=False)
        for name, frame in frames.items()
    }
    for i in idx:
        if i in nested:
            continue
        text, n_lines = files[i][1], bodies[i][2]
        per_file = {name: split[name].get((i,), frames[name].clear().drop(FILE)) for name in frames}
        rejects = taken_out[i][1] if i in taken_out else []
        records = _line_records(text, (r["row"] for r in rejects))
        out[i] = RawSource(per_file, n_lines, rejects, [], records)
    return out


def _without_malformed(
    text: str, body: tuple[bytes, int, int]
) -> tuple[tuple[bytes, int, int], tuple[np.ndarray, list[dict]]] | None:
    """A file's ``_ndjson_body`` without its malformed lines, the source line of each line
    left, and the rejects of the lines taken out (as ``_read_ndjson_python`` gives them: a
    line blank to Python is skipped without one); ``None`` when no line was taken out (or
    every line was).

    Only a line that does not begin with ``{`` and end with ``}`` can be malformed
    in a way that polars cannot be trusted to see as Python does (a truncated line, a value
    that is not an object): those few lines are parsed by ``json``, and the ones it refuses
    are taken out. Every other line stays for polars: if one of them is malformed after
    all, the parse fails again and the file is read line by line."""
    data = body[0]
    if not data:
        return None
    # each line's first byte, and its last before a CR, from the positions of the breaks
    # (no Python string per line: the file has thousands of good lines per bad one)
    arr = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(arr == ord("\n"))
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(arr)]))  # one past each line's last byte
    last = np.maximum(ends - 1, starts)
    last = np.where((arr[last] == ord("\r")) & (last > starts), last - 1, last)
    looks_whole = (ends > starts) & (arr[starts] == ord("{")) & (arr[last] == ord("}"))
    odd = np.flatnonzero(~looks_whole).tolist()
    if not odd:
        return None
    source_lines = text.split("\n", odd[-1] + 1)  # as splitlines() (no odd breaks here)
    out, rejects = [], []
    for k in odd:
        line = source_lines[k].removesuffix("\r")
        if not line.strip():  # blank to Python (e.g. an ideographic space): skipped there
            out.append(k)
            continue
        reject = _json_line(k + 1, line)[1]
        if reject is not None:
            out.append(k)
            rejects.append(reject)
    if not out or len(out) == len(starts):
        return None
    pieces, run = [], 0  # the runs of lines kept, cut out of the bytes whole
    for k in [*out, len(starts)]:
        if k > run:
            pieces.append(data[starts[run] : ends[k - 1]])
        run = k + 1
    keep = np.ones(len(starts), dtype=bool)
    keep[out] = False
    return (b"\n".join(pieces), int(keep.sum()), body[2]), (np.flatnonzero(keep) + 1, rejects)


def _json_line(n: int, line: str) -> tuple[dict | None, dict | None]:
    """Line ``n`` parsed by ``json``: ``(object, None)``, or ``(None, reject)`` when it is
    not JSON or not a JSON object."""
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("line is not a JSON object")
    except ValueError as exc:
        return None, {
            "row": n,
            "field": None,
            "code": "malformed_record",
            "reason": f"malformed JSON: {exc}",
            "raw": line,
        }
    return obj, None


def _line_records(text: str, rejected: Iterable[int] = ()) -> Callable[[list[int]], dict[int, str]]:
    """The source record of each row asked for: its line (none for a blank or rejected line)."""
    rejected = set(rejected)

    def raw_records(rows: list[int]) -> dict[int, str]:
        lines = text.splitlines()
        return {
            r: lines[r - 1]
            for r in rows
            if 0 < r <= len(lines) and lines[r - 1].strip() and r not in rejected
        }

    return raw_records


def _read_ndjson_python(text: str, source: SourceSpec) -> RawSource:
    paths = {name: sorted(_native_names(espec)) for name, espec in source.entities.items()}
    cols = {name: {p: [] for p in ps} for name, ps in paths.items()}
    meta = {name: [] for name in paths}
    raws: dict[int, str] = {}
    rejects = []
    n = 0
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        obj, reject = _json_line(n, line)
        if reject is not None:
            rejects.append(reject)
            continue
        raws[n] = line
        for name, espec in source.entities.items():
            for ctx in _contexts(obj, espec.explode):
                for p in paths[name]:
                    cols[name][p].append(_to_text(_resolve(ctx, p)))
                meta[name].append(n)
    frames = {}
    for name in paths:
        data = {p: pl.Series(p, v, dtype=pl.String) for p, v in cols[name].items()}
        frames[name] = pl.DataFrame(
            {**data, ROW: pl.Series(meta[name], dtype=pl.Int64)},
            schema={**{p: pl.String for p in data}, ROW: pl.Int64},
        )
    return RawSource(frames, n, rejects, [], lambda rows: {r: raws[r] for r in rows if r in raws})


def _all_specs(espec: EntitySpec) -> list[FieldSpec | IdentifierSpec]:
    return [*espec.fields.values(), *espec.identifiers.values()]


def _source_names(source: SourceSpec) -> set[str]:
    """Every native column or JSON path any entity of a source reads."""
    return set().union(*(_native_names(e) for e in source.entities.values()))


def _native_names(espec: EntitySpec) -> set[str]:
    """Every native column or JSON path an entity reads."""
    names = {c for f in _all_specs(espec) for c in f.sources}
    names |= {n for f in espec.fields.values() for n in f.template_names}
    names |= {i.scope_from for i in espec.identifiers.values() if i.scope_from}
    names |= {i.type_from for i in espec.identifiers.values() if i.type_from}
    names |= {i.region_from for i in espec.identifiers.values() if i.region_from}
    names |= {f.field for f in espec.filters}
    return names


def read_source(path: Path, source: SourceSpec, rel: str | None = None) -> RawSource:
    return _with_path_fields(_read_source(path, source), source, rel)


def read_sources(
    files: list[tuple[Path, str]], source: SourceSpec
) -> list[RawSource | UnreadableFile]:
    """``read_source`` of many files of one source: NDJSON files are parsed together
    (``_read_ndjson_many``); a file that cannot be read at all gives its ``UnreadableFile``."""
    decoded: dict[int, tuple[bytes, str]] = {}
    errors: dict[int, UnreadableFile] = {}
    for i, (path, _) in enumerate(files):
        try:
            decoded[i] = _utf8_bytes(path, source.encoding)
        except UnreadableFile as exc:
            errors[i] = exc
    keys = list(decoded)
    if source.format == "ndjson":
        fast = _read_ndjson_many([decoded[i] for i in keys], source)
    else:
        fast = _read_delimited_many([decoded[i] for i in keys], _delimiter(source))
    by_key = dict(zip(keys, fast, strict=True))
    result: list[RawSource | UnreadableFile] = []
    for i, (_, rel) in enumerate(files):
        if i in errors:
            result.append(errors[i])
        elif source.format == "ndjson":
            raw = by_key[i] or _read_ndjson_python(decoded[i][1], source)
            result.append(_with_path_fields(raw, source, rel))
        else:
            read = by_key[i] or _read_delimited_python(decoded[i][1], _delimiter(source))
            result.append(_with_path_fields(_delimited_source(read, source), source, rel))
    return result


def _with_path_fields(raw: RawSource, source: SourceSpec, rel: str | None) -> RawSource:
    """The values a source's ``path_fields`` pattern takes from the file's path, as columns."""
    if source.path_fields and rel is not None:
        within = rel.split("/", 1)[-1]  # the path under landing/<channel>/
        m = re.search(source.path_fields, within)
        values = m.groupdict() if m else {}
        names = re.compile(source.path_fields).groupindex
        done: dict[int, pl.DataFrame] = {}  # a CSV source shares one frame between entities
        for entity, frame in raw.frames.items():
            if id(frame) not in done:
                done[id(frame)] = frame.with_columns(
                    pl.lit(values.get(g), dtype=pl.String).alias(f"path.{g}") for g in names
                )
            raw.frames[entity] = done[id(frame)]
    return raw


def _read_source(path: Path, source: SourceSpec) -> RawSource:
    if source.format == "ndjson":
        return read_ndjson(path, source)
    return _delimited_source(read_delimited(path, source), source)


def _delimited_source(read: tuple, source: SourceSpec) -> RawSource:
    frame, rejects, raw_records = read
    used = _once_per_source(source, _source_names)
    unmapped = [c for c in frame.columns if c not in used and c != ROW]
    frames = {name: frame for name in source.entities}
    return RawSource(frames, frame.height + len(rejects), rejects, unmapped, raw_records)


# ----------------------------------------------------------------------------- mapping


def _clean(expr: pl.Expr, quirks: bool = True) -> pl.Expr:
    """Spreadsheet quirks every channel shares: ``="123"``, a leading ``'`` or backtick,
    surrounding spaces, and ``-`` or empty for blank. ``quirks=False`` for a column where
    no trimmed value begins with ``=``, ``'`` or a backtick (``_plain_columns``): the
    formula and quote steps change nothing there and are left out (three passes of four)."""
    e = expr.str.strip_chars()
    if quirks:
        e = e.str.replace(r'^="(.*)"$', "$1").str.strip_chars_start("'`").str.strip_chars()
    return pl.when(e.is_in(["", "-"])).then(None).otherwise(e)


def _plain_columns(frame: pl.DataFrame, names: Iterable[str]) -> frozenset[str]:
    """The text columns among ``names`` where no trimmed value begins with ``=``, ``'`` or
    a backtick: ``_clean`` needs no formula or quote step for them (one check per column
    and batch, instead of those steps on every field that reads it)."""
    cols = [n for n in names if frame.schema.get(n) == pl.String]
    if not cols or frame.is_empty():
        return frozenset(cols)
    # ``\s`` is Unicode white space, as ``strip_chars`` trims: no trimmed copy is built
    odd = frame.select(pl.col(c).str.contains(r"^\s*[='`]").any().alias(c) for c in cols).row(0)
    return frozenset(c for c, hit in zip(cols, odd, strict=True) if not hit)


def _raw_expr(
    fspec: FieldSpec | IdentifierSpec, frame: pl.DataFrame, plain: frozenset[str] = frozenset()
) -> tuple[pl.Expr, list[str]]:
    """The raw text of a field and the native columns missing from the file (``plain``: see
    ``_plain_columns``)."""
    if isinstance(fspec, FieldSpec) and fspec.from_ is None:
        return pl.lit(None if fspec.value is None else str(fspec.value), dtype=pl.String), []
    missing = [s for s in fspec.sources if s not in frame.columns]
    parts = [_clean(pl.col(s), s not in plain) for s in fspec.sources if s in frame.columns]
    if getattr(fspec, "coalesce", False):  # the first column present and non-empty
        if not parts:
            return pl.lit(None, dtype=pl.String), missing
        return (pl.coalesce(parts) if len(parts) > 1 else parts[0]), []
    if missing or not parts:
        return pl.lit(None, dtype=pl.String), missing
    if len(parts) == 1:
        return parts[0], []
    return pl.concat_str(parts, separator=" ", ignore_nulls=False), []


def _templated(
    template: str, value: pl.Expr, frame: pl.DataFrame, plain: frozenset[str] = frozenset()
) -> tuple[pl.Expr, list[str]]:
    """``template`` with ``{}`` replaced by ``value`` and ``{name}`` by that native column
    (cleaned); null when any part is null. Also the named columns missing from the file."""
    parts: list[pl.Expr] = []
    missing: list[str] = []
    for i, piece in enumerate(re.split(r"\{([^{}]*)\}", template)):
        if i % 2 == 0:
            if piece:
                parts.append(pl.lit(piece))
        elif piece == "":
            parts.append(value)
        elif piece in frame.columns:
            parts.append(_clean(pl.col(piece), piece not in plain))
        else:
            missing.append(piece)
            parts.append(pl.lit(None, dtype=pl.String))
    return pl.concat_str(parts, ignore_nulls=False), missing


def _digested(text: pl.Expr, secret: bytes | None, label: str) -> pl.Expr:
    """``text`` replaced by its keyed hash (null stays null)."""
    if secret is None:
        raise ValueError(f"{label}: a 'digest' field needs the installation key")

    def run(s: pl.Series) -> pl.Series:
        out = [None if v is None else tombstones.record_digest(secret, v) for v in s.to_list()]
        return pl.Series(s.name, out, dtype=pl.String)

    return text.map_batches(run, return_dtype=pl.String)


def _typed(
    raw: pl.Expr, fspec: FieldSpec, dtype: pl.DataType, tz: str, formats: list[str] | None = None
) -> pl.Expr:
    """The typed value of a field's text (``formats``: those of the spec by default)."""
    formats = fspec.formats if formats is None else formats
    if fspec.map is not None:
        raw = raw.replace_strict(
            {str(k): str(v) for k, v in fspec.map.items()}, default=None, return_dtype=pl.String
        )
    kind = fspec.type
    if kind == "timestamp":
        raw = raw.str.replace(r"Z$", "+00:00")  # ISO-8601 'Z' is UTC
        parsed = []
        for fmt in formats:
            if "%z" in fmt or "%s" in fmt:  # an offset or a Unix epoch: the instant is known
                p = raw.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
            else:
                p = (
                    raw.str.strptime(pl.Datetime("us"), fmt, strict=False)
                    .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
                    .dt.convert_time_zone("UTC")
                )
            parsed.append(p.dt.replace_time_zone(None))
        out = pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]
    elif kind == "date":
        parsed = [raw.str.strptime(pl.Date, fmt, strict=False) for fmt in formats]
        out = pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]
    elif kind == "float":
        out = raw.str.replace_all(r"[,\s]", "").cast(pl.Float64, strict=False)
    elif kind == "decimal":
        out = raw.str.replace_all(_MONEY_NOISE, "").cast(dtype, strict=False)
    elif kind == "int":
        out = raw.str.replace_all(r"[,\s]", "").cast(pl.Int64, strict=False)
    elif kind == "bool":
        low = raw.str.to_lowercase()
        out = pl.when(low.is_in(list(_TRUE))).then(True).when(low.is_in(list(_FALSE))).then(False)
    else:
        out = raw
    if fspec.divisor:
        out = out / fspec.divisor
    if fspec.abs:
        out = out.abs()
    return out.cast(dtype, strict=False)


@dataclass
class EntityResult:
    kept: pl.DataFrame
    rejected: pl.DataFrame  # QUARANTINE columns minus lineage
    identifiers: pl.DataFrame


def _no_raw(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(RAW))


def map_entity(
    frame: pl.DataFrame,
    entity: str,
    espec: EntitySpec,
    spec: ChannelSpec,
    now: dt.datetime | None = None,
    with_raw: Callable[[pl.DataFrame], pl.DataFrame] = _no_raw,
    digest_key: bytes | None = None,
    plain: frozenset[str] | None = None,
) -> EntityResult:
    """Native string columns -> canonical columns; rows with any error are rejected with
    every reason, naming the field and the native column.

    ``with_raw`` adds the source record (``RAW``) to a frame of ``FILE``/``ROW``: it is
    asked only for rejected rows and for rows that repeat a key. The reasons are built only
    for the rows whose checks fail (a first pass computes the checks alone). ``digest_key``
    keys the fields marked ``digest`` (``ingest.tombstones.record_digest``). ``plain``: the
    columns ``_plain_columns`` finds plain in ``frame`` (or a frame holding it), when the
    caller knows them already."""
    columns = ENTITIES[entity]["columns"]
    for cond in espec.filters:
        if cond.field in frame.columns:
            frame = frame.filter(_clean(pl.col(cond.field)).is_in(cond.in_))
        else:
            frame = frame.clear()
    if FILE not in frame.columns:
        frame = frame.with_columns(pl.lit(0, pl.Int32).alias(FILE))
    frame = frame.with_row_index(UID)
    if plain is None:  # plain in the whole frame is plain in any part of it
        plain = _plain_columns(frame, sorted(_native_names(espec)))
    exprs: list[pl.Expr] = []
    errors: list[tuple[pl.Expr, str, str, pl.Expr]] = []  # (condition, field, code, message)
    # Three stages, each column computed once: the cleaned native text of every field
    # (``__r<i>``), its typed value (the canonical name), then the checks on both.
    texts: list[pl.Expr] = []
    retry: list[tuple[str, pl.Expr, pl.Expr]] = []  # (field, its text, typed by every format)
    for i, (name, fspec) in enumerate(espec.fields.items()):
        raw_text, missing = _raw_expr(fspec, frame, plain)
        if fspec.extract is not None:  # a value the pattern does not match reads as empty
            raw_text = raw_text.str.extract(fspec.extract, 1)
        if fspec.template is not None:
            raw_text, absent = _templated(fspec.template, raw_text, frame, plain)
            missing = missing + absent
        if fspec.digest:
            raw_text = _digested(raw_text, digest_key, f"{entity}.{name}")
        texts.append(raw_text.alias(f"__r{i}"))
        raw = pl.col(f"__r{i}")
        if fspec.type in ("timestamp", "date") and len(fspec.formats) > 1:
            # the first format alone; the others only on the values it does not read
            exprs.append(_typed(raw, fspec, columns[name], spec.timezone, fspec.formats[:1]))
            retry.append((name, raw, _typed(raw, fspec, columns[name], spec.timezone)))
        else:
            exprs.append(_typed(raw, fspec, columns[name], spec.timezone))
        exprs[-1] = exprs[-1].alias(name)
        typed = pl.col(name)
        src = "+".join(fspec.sources)
        label = f"{name} <- {src}" if src else name
        if missing and fspec.required:
            msg = f"{label}: column {missing} is missing from the file"
            errors.append((pl.lit(True), src or name, "missing_column", pl.lit(msg)))
            continue
        if fspec.required:
            msg = pl.lit(f"{label}: required value is empty")
            errors.append((raw.is_null(), src or name, "missing_value", msg))
        if fspec.map is not None:
            code, what = "unknown_value", f"not in {sorted(fspec.map)}"
        else:
            code, what = "invalid_value", f"not a valid {fspec.type}"
        msg = pl.format("{}: '{}' is {}", pl.lit(label), raw, pl.lit(what))
        errors.append((raw.is_not_null() & typed.is_null(), src or name, code, msg))
        if fspec.min is not None:
            msg = pl.format("{}: {} is below {}", pl.lit(label), raw, pl.lit(str(fspec.min)))
            errors.append((typed < fspec.min, src or name, "out_of_range", msg))
        if fspec.type == "timestamp" and now is not None:
            msg = pl.format("{}: '{}' is in the future", pl.lit(label), raw)
            errors.append(
                (typed > pl.lit(now + _FUTURE_SLACK), src or name, "future_timestamp", msg)
            )
        if fspec.type == "timestamp":
            msg = pl.format(
                "{}: '{}' is before {} (a zero, negative or placeholder time)",
                pl.lit(label),
                raw,
                pl.lit(_PAST_FLOOR.date().isoformat()),
            )
            errors.append((typed < pl.lit(_PAST_FLOOR), src or name, "past_timestamp", msg))
    for j, (label, ispec) in enumerate(espec.identifiers.items()):
        if ispec.type_from is None:
            continue
        if ispec.type_from not in frame.columns:
            msg = f"{label}: column {ispec.type_from!r} (identifier kind) is missing from the file"
            errors.append((pl.lit(True), ispec.type_from, "missing_column", pl.lit(msg)))
            continue
        texts.append(_clean(pl.col(ispec.type_from), ispec.type_from not in plain).alias(f"__k{j}"))
        kind = pl.col(f"__k{j}")
        msg = pl.format(
            "{}: identifier kind '{}' is not in {}",
            pl.lit(label),
            kind,
            pl.lit(str(sorted(ispec.type_map))),
        )
        bad = kind.is_not_null() & ~kind.is_in(list(ispec.type_map))
        errors.append((bad, ispec.type_from, "unknown_value", msg))
    failed = (
        pl.any_horizontal([c for c, _, _, _ in errors]).fill_null(False)
        if errors
        else pl.lit(False)
    )
    staged = (
        frame.lazy()
        .select(*texts, pl.col(FILE), pl.col(UID), pl.col(ROW))
        .with_columns(exprs)
        .collect()
    )
    for name, raw, every_format in retry:
        missed = staged.select((raw.is_not_null() & pl.col(name).is_null()).arg_true())
        if missed.height:
            rows = missed.to_series()
            again = staged[rows].select(every_format).to_series()
            staged = staged.with_columns(staged[name].scatter(rows, again))
    staged = staged.with_columns(failed.alias("__failed"))
    mapped = staged.select(*espec.fields, FILE, UID, ROW, "__failed")
    suspects = mapped.filter(pl.col("__failed"))
    if suspects.height:
        reason = pl.concat_str(
            [pl.when(c).then(m) for c, _, _, m in errors], separator="; ", ignore_nulls=True
        )
        first_field = pl.coalesce([pl.when(c).then(pl.lit(f)) for c, f, _, _ in errors])
        first_code = pl.coalesce([pl.when(c).then(pl.lit(k)) for c, _, k, _ in errors])
        why = (
            staged.filter(pl.col(UID).is_in(suspects[UID].implode()))
            .select(
                pl.col(UID),
                pl.when(reason == "").then(None).otherwise(reason).alias("__reason"),
                first_field.alias("__field"),
                first_code.alias("__code"),
            )
            .filter(pl.col("__reason").is_not_null())
        )
        good = mapped.join(why.select(UID), on=UID, how="anti", maintain_order="left")
        bad = suspects.join(why, on=UID, how="inner", maintain_order="left")
    else:
        good = mapped
        bad = suspects.with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("__reason", "__field", "__code")
        )
    good = good.drop("__failed")
    # fill the canonical columns the spec does not map
    good = good.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in columns.items()
        if name not in good.columns
    )
    ts = ENTITIES[entity]["ts"]
    local_dates = dict(LOCAL_DATES.get(entity, {}))
    if ts and "business_date" in columns:
        local_dates["business_date"] = ts
    good = good.with_columns(
        pl.col(src)
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(spec.timezone)
        .dt.date()
        .alias(name)
        for name, src in local_dates.items()
    )
    for name, expr in DERIVED.get(entity, {}).items():
        good = good.with_columns(pl.coalesce(pl.col(name), expr).cast(columns[name]).alias(name))
    names = [n for n in NAME_COLUMNS.get(entity, ()) if n in good.columns]
    if names:
        good = good.with_columns(name_expr(pl.col(n)).alias(n) for n in names)
    if entity in ADDRESS_COLUMNS:
        good = address_frame(good, ADDRESS_COLUMNS[entity])
    if spec.currency and "currency" in columns:
        good = good.with_columns(pl.col("currency").fill_null(pl.lit(spec.currency)))

    key = ENTITIES[entity]["key"]
    if espec.one_row_per:
        good = (good if _in_row_order(good) else good.sort(FILE, ROW, UID)).unique(
            subset=[FILE, *espec.one_row_per], keep="first", maintain_order=True
        )
    else:
        good, dups = _split_duplicates(good, key, with_raw)
        bad = pl.concat([bad, dups], how="diagonal_relaxed")
    rejected = with_raw(bad.sort(UID).select(FILE, ROW, "__field", "__code", "__reason")).select(
        pl.lit(entity).alias("entity"),
        pl.col("__field").alias("field"),
        pl.col("__code").alias("reason_code"),
        pl.col("__reason").alias("reason"),
        pl.col(RAW).alias("raw_record"),
        pl.col(ROW).alias("source_row"),
        pl.col(FILE),
    )
    idents = _identifiers(frame, good, entity, espec, key, spec.phone_region, plain)
    kept = good.select(*columns, pl.col(ROW).alias("source_row"), pl.col(FILE))
    return EntityResult(kept, rejected, idents)


def _split_duplicates(
    good: pl.DataFrame, key: list[str], with_raw: Callable[[pl.DataFrame], pl.DataFrame]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows repeating an earlier row's key are rejected: as an exact duplicate when the whole
    source record is identical, as a conflict otherwise. The first occurrence is kept."""
    if not _in_row_order(good):
        good = good.sort(FILE, ROW, UID)
    # a key met once per file needs no window (rows of one source line may share a key)
    if good.select(pl.struct(FILE, *key).n_unique() == pl.len()).item():
        return good, good.clear()
    good = good.with_columns(pl.col(ROW).first().over([FILE, *key]).alias("__first"))
    dup = pl.col(ROW) != pl.col("__first")
    if not good.select(dup.any()).item():
        return good.drop("__first"), good.clear().drop("__first")
    dups = with_raw(good.filter(dup))
    firsts = with_raw(
        dups.select(FILE, pl.col("__first").alias(ROW)).unique(maintain_order=True)
    ).select(FILE, pl.col(ROW).alias("__first"), pl.col(RAW).alias("__first_raw"))
    dups = dups.join(firsts, on=[FILE, "__first"], how="left", maintain_order="left")
    key_text = pl.concat_str([pl.col(k).cast(pl.String).fill_null("∅") for k in key], separator="/")
    same = pl.col(RAW) == pl.col("__first_raw")
    dups = dups.with_columns(
        pl.when(same)
        .then(pl.lit("duplicate_row"))
        .otherwise(pl.lit("conflicting_duplicate"))
        .alias("__code"),
        pl.lit("/".join(key)).alias("__field"),
        pl.when(same)
        .then(pl.format("exact duplicate of row {}", pl.col("__first")))
        .otherwise(
            pl.format(
                "duplicate key {}={} first seen at row {} with different contents",
                pl.lit("/".join(key)),
                key_text,
                pl.col("__first"),
            )
        )
        .alias("__reason"),
    )
    return good.filter(~dup).drop("__first"), dups.drop("__first", "__first_raw", RAW)


def _in_row_order(frame: pl.DataFrame) -> bool:
    """True when ``frame`` is already sorted by ``FILE``, ``ROW``, ``UID`` (the stacked
    batch, filtered, usually is): its sort can be left out."""
    f, r, u = (pl.col(c).diff().slice(1) for c in (FILE, ROW, UID))
    step = (f > 0) | (f == 0) & ((r > 0) | (r == 0) & (u > 0))
    ordered = frame.select(
        step.all(ignore_nulls=False) & (pl.sum_horizontal(pl.col(FILE, ROW, UID).null_count()) == 0)
    )
    return frame.height < 2 or ordered.item() is True


def _identifiers(
    frame: pl.DataFrame,
    good: pl.DataFrame,
    entity: str,
    espec: EntitySpec,
    key: list[str],
    region_default: str = "CN",
    plain: frozenset[str] = frozenset(),
) -> pl.DataFrame:
    cols = {**ENTITIES["identifiers"]["columns"], "source_row": pl.Int64, FILE: pl.Int32}
    if not espec.identifiers or good.is_empty():
        return pl.DataFrame(schema=cols)
    record_id = pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/")
    used = {c for i in espec.identifiers.values() for c in _identifier_columns(i)}
    native = [c for c in frame.columns if c in used and c not in (UID, ROW, FILE)]
    rows = frame.select(UID, ROW, FILE, *native).join(
        good.select(UID, record_id.alias("record_id")), on=UID, how="inner"
    )
    subs = []
    for label, ispec in espec.identifiers.items():
        raw, _ = _raw_expr(ispec, rows, plain)
        if ispec.scope_from and ispec.scope_from in rows.columns:
            scope = _clean(pl.col(ispec.scope_from), ispec.scope_from not in plain)
        else:
            scope = pl.lit(ispec.scope, dtype=pl.String)
        if ispec.type_from is not None:
            kind = _clean(pl.col(ispec.type_from), ispec.type_from not in plain).replace_strict(
                ispec.type_map, default=None, return_dtype=pl.String
            )
        else:
            kind = pl.lit(ispec.type, dtype=pl.String)
        if ispec.region_from and ispec.region_from in rows.columns:
            region = _clean(pl.col(ispec.region_from), ispec.region_from not in plain).fill_null(
                region_default
            )
        else:
            region = pl.lit(region_default, dtype=pl.String)
        subs.append(
            rows.lazy()
            .select(
                pl.col("record_id"),
                pl.col(ROW),
                pl.col(FILE),
                raw.alias("raw"),
                scope.alias("scope"),
                kind.alias("identifier_type"),
                region.str.to_uppercase().alias("region"),
                pl.lit(label, dtype=pl.String).alias("field"),
            )
            .filter(pl.col("raw").is_not_null() & pl.col("identifier_type").is_not_null())
        )
    # every identifier field in one frame (in the spec's order), each distinct (type, value,
    # region) normalised once, then joined back
    found = pl.concat(subs).collect()
    on = ["identifier_type", "raw", "region"]
    lookup = normalize_ids(found.select(on).unique()).filter(pl.col("value").is_not_null())
    found = found.join(lookup, on=on, how="inner", maintain_order="left")
    if found.is_empty():
        return pl.DataFrame(schema=cols)
    return found.select(
        pl.lit(entity).alias("entity"),
        "record_id",
        "field",
        "identifier_type",
        pl.col("value").alias("identifier_value"),
        "is_partial",
        pl.col("scope"),
        pl.col(ROW).alias("source_row"),
        pl.col(FILE),
    )


def _identifier_columns(ispec: IdentifierSpec) -> list[str]:
    """The native columns an identifier reads (its value, scope, kind and region)."""
    return [*ispec.sources, *filter(None, (ispec.scope_from, ispec.type_from, ispec.region_from))]


# ----------------------------------------------------------------------------- loading


@dataclass
class FileOutcome:
    file: str
    file_hash: str
    status: str  # loaded | duplicate | superseded | unchanged
    logical_key: str | None = None
    version: int = 0
    rows: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    note: str = ""
    tombstoned: int = 0  # records of erased persons dropped or pseudonymised (ingest.tombstones)


@dataclass
class ChannelReport:
    channel: str
    files: list[FileOutcome]
    swept: list[str] = field(default_factory=list)  # orphans of an interrupted run, removed

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def kept(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for k, v in f.kept.items():
                out[k] = out.get(k, 0) + v
        return out

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


def _output_name(channel: str, rel: str, file_hash: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z_.-]+", "_", rel)
    return f"{channel}__{stem}__{file_hash[:12]}.parquet"


def _logical_key(source: SourceSpec, name: str) -> tuple[str | None, int]:
    if not source.file_key:
        return None, 0
    m = re.search(source.file_key, name)
    if not m:
        return None, 0
    groups = {k: v for k, v in m.groupdict().items() if k != "version"}
    version = int(m.groupdict().get("version") or 0)
    return f"{source.name}:" + "|".join(f"{k}={v}" for k, v in sorted(groups.items())), version


class Manifest:
    """What has been loaded, per channel: ``lake/manifest/<channel>.json``."""

    def __init__(self, paths: DataPaths, channel: str):
        self.path = paths.manifest_dir / f"{channel}.json"
        self.files: dict[str, dict] = {}
        if self.path.exists():
            self.files = json.loads(self.path.read_text(encoding="utf-8"))["files"]

    def by_hash(self, file_hash: str) -> dict | None:
        for rec in self.files.values():
            if rec["file_hash"] == file_hash and rec["status"] in ("loaded", "superseded"):
                return rec
        return None

    def active_for_key(self, key: str) -> dict | None:
        for rec in self.files.values():
            if rec.get("logical_key") == key and rec["status"] == "loaded":
                return rec
        return None

    def save(self) -> None:
        """Atomically and durably (temporary file, fsync, rename): called only after the lake
        files it lists are on disk, so a loaded file's outputs always exist."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(_manifest_text(self.files), encoding="utf-8")
            _fsync(tmp)
            tmp.replace(self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync(self.path.parent)

    def claimed_outputs(self) -> set[str] | None:
        """Lake files (relative to the lake) that loaded files list; ``None`` when a loaded
        record predates output lists (nothing can then be called an orphan)."""
        loaded = [r for r in self.files.values() if r["status"] == "loaded"]
        if any("outputs" not in r for r in loaded):
            return None
        return {o for r in loaded for o in r["outputs"]}


def _manifest_text(files: dict[str, dict]) -> str:
    """The manifest as JSON, one landing file per line (sorted): ``json.dumps`` with
    ``indent`` runs the pure-Python encoder, ten times slower than this on 10,000 files."""
    lines = (
        f"{json.dumps(k, ensure_ascii=False)}: "
        f"{json.dumps(files[k], ensure_ascii=False, sort_keys=True)}"
        for k in sorted(files)
    )
    return '{"files": {\n' + ",\n".join(lines) + "\n}}\n"


def _write(df: pl.DataFrame, path: Path) -> str:
    """Parquet (zstd), atomically (``_write_all`` of one file): written to a hidden temporary
    name in the same folder, flushed to disk, then renamed over ``path``. Readers (globs over
    ``*.parquet``) never see half a file, and a write that fails (a full disk) leaves nothing
    behind."""
    _write_all([(df, path)])
    return str(path)


# Parquet sinks per polars query in ``_write_all``: 50 to 1,500 cost the same per file on a
# quiet machine (~1.05 ms CPU against ~1.3 for a query each); on a loaded one (load 14 on 2
# cores) 50 stayed at 1.8-1.9 ms where 1,500 ranged 1.8-2.5 (3,000 lake frames, 4 rounds)
_SINKS_PER_QUERY = 64


def _write_all(writes: list[tuple[pl.DataFrame, Path]]) -> None:
    """Many ``_write``s, the same files (byte for byte): the frames are encoded by polars
    queries of many Parquet sinks each (``pl.collect_all``), not a query per file
    (``write_parquet`` starts the streaming engine per call: the fixed cost of a small file),
    into hidden temporary names; then each is flushed and renamed (threads overlap the
    flushes), and each folder is flushed once at the end, before the caller records them. A
    failure removes every temporary file; what was already renamed is removed by the caller
    (``_load_durably``), as no manifest records it."""
    if not writes:
        return
    for folder in {p.parent for _, p in writes}:
        folder.mkdir(parents=True, exist_ok=True)
    suffix = f".{os.getpid()}-{threading.get_ident()}.tmp"
    tmps = [p.with_name(f".{p.name}{suffix}") for _, p in writes]

    def settle(k: int) -> None:
        _fsync(tmps[k])
        tmps[k].replace(writes[k][1])

    try:
        for k in range(0, len(writes), _SINKS_PER_QUERY):
            pl.collect_all(
                [
                    df.lazy().sink_parquet(tmp, compression="zstd", lazy=True)
                    for (df, _), tmp in zip(
                        writes[k : k + _SINKS_PER_QUERY],
                        tmps[k : k + _SINKS_PER_QUERY],
                        strict=True,
                    )
                ]
            )
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(settle, range(len(writes))))
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise
    for folder in {p.parent for _, p in writes}:
        _fsync(folder)


def _fsync(path: Path) -> None:
    """Flush a file (or a folder, after a rename in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_schema_files(paths: DataPaths, entities: Iterable[str]) -> None:
    """A zero-row ``_schema.parquet`` per entity, so a glob over an entity always matches
    and always has the canonical columns, even before a channel delivers that entity."""
    wanted = [(paths.lake_raw / e / "_schema.parquet", schema(e)) for e in entities]
    wanted.append((paths.quarantine / "_schema.parquet", QUARANTINE))
    for target, columns in wanted:  # rewritten when the canonical contract gained columns
        if not target.exists() or pl.read_parquet_schema(target) != columns:
            _write(pl.DataFrame(schema=columns), target)


@dataclass
class _Item:
    """A landing file chosen for loading in this run."""

    path: Path
    rel: str
    file_hash: str
    source: SourceSpec
    key: str
    version: int
    replaces: dict | None = None  # the manifest record of the file it corrects


def _reject_frame(rejects: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity": ["*"] * len(rejects),
            "field": [r["field"] for r in rejects],
            "reason_code": [r["code"] for r in rejects],
            "reason": [r["reason"] for r in rejects],
            "raw_record": [r["raw"] for r in rejects],
            "source_row": [r["row"] for r in rejects],
        },
        schema={
            "entity": pl.String,
            "field": pl.String,
            "reason_code": pl.String,
            "reason": pl.String,
            "raw_record": pl.String,
            "source_row": pl.Int64,
        },
    )


def load_batch(
    items: list[_Item], spec: ChannelSpec, paths: DataPaths, ingested_at: dt.datetime
) -> list[tuple[_Item, FileOutcome, list[str]]]:
    """Read files of one source, map them together (one vectorised pass for many small
    files), then write one Parquet file per source file per entity."""
    source = items[0].source
    done: list[tuple[_Item, FileOutcome, list[str]]] = []
    raws: list[tuple[_Item, RawSource]] = []
    for item, raw in zip(
        items, read_sources([(it.path, it.rel) for it in items], source), strict=True
    ):
        if isinstance(raw, UnreadableFile):
            outcome, outputs = quarantine_whole_file(
                item.path, item.rel, item.file_hash, source, spec, paths, ingested_at, str(raw)
            )
            done.append((item, outcome, outputs))
        else:
            raws.append((item, raw))
    if not raws:
        return done
    n = len(raws)
    lineage = pl.DataFrame(
        {
            FILE: list(range(n)),
            "channel": [spec.channel] * n,
            "source_file": [it.rel for it, _ in raws],
            "file_hash": [it.file_hash for it, _ in raws],
            "ingested_at": [ingested_at] * n,
        },
        schema={
            FILE: pl.Int32,
            "channel": pl.String,
            "source_file": pl.String,
            "file_hash": pl.String,
            "ingested_at": TS,
        },
    )

    def with_raw(df: pl.DataFrame) -> pl.DataFrame:
        """``df`` with the source record of each (FILE, ROW), asked of the file's reader."""
        df = df.drop(RAW, strict=False)
        parts = [pl.DataFrame(schema={FILE: pl.Int32, ROW: pl.Int64, RAW: pl.String})]
        wanted = df.select(FILE, ROW).unique().partition_by(FILE, as_dict=True)
        for (i,), sub in wanted.items():
            recs = raws[i][1].raw_records(sub[ROW].to_list())
            parts.append(
                pl.DataFrame(
                    {FILE: [i] * len(recs), ROW: list(recs), RAW: list(recs.values())},
                    schema={FILE: pl.Int32, ROW: pl.Int64, RAW: pl.String},
                )
            )
        return df.join(pl.concat(parts), on=[FILE, ROW], how="left", maintain_order="left")

    # files with the same columns are mapped together; a file missing a column stays apart
    groups: dict[tuple, list[int]] = {}
    for i, (_, raw) in enumerate(raws):
        signature = tuple(tuple(f.columns) for f in raw.frames.values())
        groups.setdefault(signature, []).append(i)
    kept: dict[str, list[pl.DataFrame]] = {e: [] for e in source.entities}
    digests = any(f.digest for e in source.entities.values() for f in e.fields.values())
    secret = tombstones.key(paths, create=True) if digests else None
    quarantine: list[pl.DataFrame] = []
    idents: list[pl.DataFrame] = []
    covered: list[pl.DataFrame] = []
    for members in groups.values():
        stacked: dict[tuple[int, ...], pl.DataFrame] = {}  # a CSV's entities share its frame
        plains: dict[int, frozenset[str]] = {}  # and its plain columns (by the frame's id)
        for entity, espec in source.entities.items():
            frame = _stacked([raws[i][1].frames[entity] for i in members], members, stacked)
            if id(frame) not in plains:
                used = sorted(_once_per_source(source, _source_names))
                plains[id(frame)] = _plain_columns(frame, used)
            res = map_entity(
                frame, entity, espec, spec, ingested_at, with_raw, secret, plains[id(frame)]
            )
            kept[entity].append(res.kept)
            quarantine.append(res.rejected)
            idents.append(res.identifiers)
            if not espec.one_row_per:
                covered.append(res.kept.select(FILE, "source_row"))
            covered.append(res.rejected.select(FILE, "source_row"))
    for i, (_, raw) in enumerate(raws):
        if raw.rejects:
            rejects = _reject_frame(raw.rejects).with_columns(pl.lit(i, pl.Int32).alias(FILE))
            quarantine.append(rejects)
            covered.append(rejects.select(FILE, "source_row"))
    quarantine.append(_uncovered_rows(raws, pl.concat(covered), source, with_raw))

    def finish(frames: list[pl.DataFrame], columns: list[str]) -> dict:
        frame = pl.concat(frames, how="diagonal_relaxed").join(lineage, on=FILE, how="left")
        return frame.select(*columns, FILE).partition_by(FILE, as_dict=True, include_key=False)

    parts = {e: finish(kept[e], list(schema(e))) for e in source.entities}
    parts["identifiers"] = finish(idents, list(schema("identifiers")))
    q_parts = finish(quarantine, list(QUARANTINE))
    parts, q_parts, tombstoned = tombstones.apply(parts, q_parts, paths)
    writes: list[tuple[pl.DataFrame, Path]] = []
    for i, (item, raw) in enumerate(raws):
        outcome = FileOutcome(item.rel, item.file_hash, "loaded", rows=raw.rows)
        outcome.tombstoned = tombstoned.get(i, 0)
        if raw.unmapped:
            outcome.note = f"columns not read by the spec (kept in landing): {raw.unmapped}"
        name = _output_name(spec.channel, item.rel, item.file_hash)
        outputs = []
        for entity, by_file in parts.items():
            part = by_file.get((i,))
            if part is not None and part.height:
                writes.append((part, paths.lake_raw / entity / name))
                outputs.append(writes[-1][1])
            outcome.kept[entity] = 0 if part is None else part.height
        q = q_parts.get((i,))
        if q is not None and q.height:
            q = q.sort("source_row", "entity", maintain_order=True)
            writes.append((q, paths.quarantine / name))
            outputs.append(writes[-1][1])
            outcome.quarantined = q.height
            log.info(
                "%s: %d rows quarantined (first: row %s: %s)",
                item.rel,
                q.height,
                q["source_row"][0],
                q["reason"][0],
            )
        done.append((item, outcome, [str(o.relative_to(paths.lake)) for o in outputs]))
    _write_all(writes)
    return done


def _stacked(
    frames: list[pl.DataFrame],
    files: list[int],
    done: dict[tuple[int, ...], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Per-file frames of one shape stacked into one, with each row's file index (``FILE``)
    from ``files``: one concatenation and one index column for the batch, not a column per
    file. ``done`` keeps the result for the same frames asked again (by identity)."""
    key = tuple(map(id, frames))
    if done is not None and key in done:
        return done[key]
    heights = [f.height for f in frames]
    index = np.repeat(np.asarray(files, dtype=np.int32), heights)
    out = pl.concat(frames, how="vertical", rechunk=True).with_columns(
        pl.Series(FILE, index, dtype=pl.Int32)
    )
    if done is not None:
        done[key] = out
    return out


def quarantine_whole_file(
    path: Path,
    rel: str,
    file_hash: str,
    source: SourceSpec,
    spec: ChannelSpec,
    paths: DataPaths,
    ingested_at: dt.datetime,
    message: str,
) -> tuple[FileOutcome, list[str]]:
    """A file that cannot be read: every record goes to quarantine (decoded with
    replacement characters for display; the landing file keeps the original bytes)."""
    log.error("%s: quarantined whole: %s", rel, message)
    text = _decode(path, "gb18030" if source.encoding == "auto" else source.encoding, "replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if source.format != "ndjson":
        lines = lines[1:]
    lines = lines or [""]
    q = pl.DataFrame(
        {
            "entity": "*",
            "field": None,
            "reason_code": "unreadable_file",
            "reason": message,
            "raw_record": lines,
            "source_row": list(range(1, len(lines) + 1)),
            "channel": spec.channel,
            "source_file": rel,
            "file_hash": file_hash,
            "ingested_at": ingested_at,
        },
        schema=QUARANTINE,
    ).select(list(QUARANTINE))
    out = _write(q, paths.quarantine / _output_name(spec.channel, rel, file_hash))
    outcome = FileOutcome(
        rel, file_hash, "loaded", rows=len(lines), quarantined=q.height, note=message
    )
    return outcome, [str(Path(out).relative_to(paths.lake))]


def _uncovered_rows(
    raws: list[tuple[_Item, RawSource]],
    covered: pl.DataFrame,
    source: SourceSpec,
    with_raw: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """Source rows that no entity took (e.g. a receipt type no filter names): quarantined."""
    roots = [n for n, e in source.entities.items() if not e.explode]
    empty = _reject_frame([]).with_columns(pl.lit(None, pl.Int32).alias(FILE)).clear()
    if not roots:
        return empty
    every = _stacked(
        [raw.frames[roots[0]].select(ROW) for _, raw in raws], list(range(len(raws)))
    ).select(FILE, ROW)
    missing = every.join(  # an anti join needs no distinct right side
        covered.rename({"source_row": ROW}),
        on=[FILE, ROW],
        how="anti",
        maintain_order="left",
    )
    return with_raw(missing).select(
        pl.lit("*").alias("entity"),
        pl.lit(None, dtype=pl.String).alias("field"),
        pl.lit("unmatched_row").alias("reason_code"),
        pl.lit(f"row matches no entity of source {source.name!r} (see its filters)").alias(
            "reason"
        ),
        pl.col(RAW).alias("raw_record"),
        pl.col(ROW).alias("source_row"),
        pl.col(FILE),
    )


def discover(spec: ChannelSpec, paths: DataPaths) -> list[tuple[SourceSpec, Path, str]]:
    base = paths.landing / spec.channel
    found = []
    for source in spec.sources:
        for p in sorted(base.glob(source.pattern)):
            if p.is_file():
                found.append((source, p, p.relative_to(paths.landing).as_posix()))
    return found


def ingest_channel(
    spec: ChannelSpec,
    paths: DataPaths,
    ingested_at: dt.datetime | None = None,
    batch_files: int = 500,
    batch_bytes: int = 64 << 20,
    lock_wait: float = 600.0,
) -> ChannelReport:
    """Load every new landing file of one channel. Safe to re-run: unchanged files are
    skipped by content hash, and a re-delivered file with the same bytes is a no-op.

    One ingest of a channel at a time (a lock beside its manifest; a second waits up to
    ``lock_wait`` seconds, then fails with ``ingest.locks.Busy``). Safe to kill: lake files
    are written atomically, the manifest records a file only once its outputs are on disk,
    and the next run removes outputs no loaded file claims (``_sweep_orphans``)."""
    lock = paths.manifest_dir / f"{spec.channel}.lock"
    with exclusive(lock, f"ingest {spec.channel}", wait=lock_wait):
        return _ingest_channel(spec, paths, ingested_at, batch_files, batch_bytes)


def _ingest_channel(
    spec: ChannelSpec,
    paths: DataPaths,
    ingested_at: dt.datetime | None,
    batch_files: int,
    batch_bytes: int,
) -> ChannelReport:
    ingested_at = ingested_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    ensure_schema_files(paths, ENTITIES)
    manifest = Manifest(paths, spec.channel)
    swept = _sweep_orphans(paths, spec.channel, manifest)
    outcomes: list[FileOutcome] = []
    candidates = []
    for source, path, rel in discover(spec, paths):
        key, version = _logical_key(source, path.name)
        candidates.append((key or rel, version, rel, source, path))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    # whether the manifest holds records not yet saved: a channel with nothing new is not
    # written again (its 1,000 records at 10,000 x 400 rewritten and flushed), nor one whose
    # last batch was just saved
    unsaved = not manifest.path.exists()

    def record(rel, file_hash, status, key, version, note):
        nonlocal unsaved
        unsaved = True
        manifest.files[rel] = {
            "file": rel,
            "file_hash": file_hash,
            "status": status,
            "logical_key": key,
            "version": version,
            "note": note,
        }
        outcomes.append(FileOutcome(rel, file_hash, status, key, version, note=note))

    to_load: dict[str, _Item] = {}  # by logical key: the newest version wins within a run
    hashes: dict[str, str] = {}
    for key, version, rel, source, path in candidates:
        file_hash = file_sha256(path)
        prev_same_path = manifest.files.get(rel)
        if prev_same_path and prev_same_path["file_hash"] == file_hash:
            outcomes.append(FileOutcome(rel, file_hash, "unchanged", key, version))
            continue
        seen = manifest.by_hash(file_hash)
        first = seen["file"] if seen else hashes.get(file_hash)
        if first is not None:
            note = f"same content as {first} (sha256 {file_hash[:12]}); not loaded again"
            log.info("%s: duplicate delivery, %s", rel, note)
            record(rel, file_hash, "duplicate", None, version, note)
            continue
        hashes[file_hash] = rel
        active = manifest.active_for_key(key) or (
            prev_same_path if prev_same_path and prev_same_path["status"] == "loaded" else None
        )
        if active is not None and active["version"] > version:
            note = f"older version than {active['file']} (v{active['version']}); not loaded"
            record(rel, file_hash, "superseded", key, version, note)
            continue
        pending = to_load.get(key)
        if pending is not None:  # an earlier version delivered in the same run
            note = f"replaced by {rel} in the same run; not loaded"
            record(pending.rel, pending.file_hash, "superseded", key, pending.version, note)
        to_load[key] = _Item(path, rel, file_hash, source, key, version, active)

    items = sorted(to_load.values(), key=lambda it: (it.source.name, it.rel))
    for chunk in _chunks(items, batch_files, batch_bytes):
        by_source: dict[str, list[_Item]] = {}
        for item in chunk:
            by_source.setdefault(item.source.name, []).append(item)
        for group in by_source.values():
            results = _load_durably(group, spec, paths, ingested_at, manifest)
            replaced: list[str] = []  # outputs of corrected files, removed once recorded
            for item, outcome, outputs in results:
                outcome.logical_key, outcome.version = item.key, item.version
                active = item.replaces
                if active is not None:
                    replaced += active.get("outputs", [])
                    active.update(status="superseded", outputs=[], note=f"replaced by {item.rel}")
                    outcome.note = "; ".join(
                        filter(None, [outcome.note, f"replaces {active['file']}"])
                    )
                    log.info("%s: corrected delivery, replaces %s", item.rel, active["file"])
                manifest.files[item.rel] = {
                    "file": item.rel,
                    "file_hash": item.file_hash,
                    "status": "loaded",
                    "logical_key": item.key,
                    "version": item.version,
                    "rows": outcome.rows,
                    "kept": outcome.kept,
                    "quarantined": outcome.quarantined,
                    "tombstoned": outcome.tombstoned,
                    "outputs": outputs,
                    "ingested_at": ingested_at.isoformat(),
                    "note": outcome.note,
                }
                outcomes.append(outcome)
            manifest.save()  # the batch's files are on disk: record them
            unsaved = False
            for rel in replaced:
                (paths.lake / rel).unlink(missing_ok=True)
    if unsaved:
        manifest.save()
    return ChannelReport(spec.channel, outcomes, swept)


class LakeWriteError(OSError):
    """Writing the lake files of a batch failed (a full disk, a read-only folder). None of
    the batch's landing files is recorded as loaded, and what it had written is removed."""


def _load_durably(
    group: list[_Item],
    spec: ChannelSpec,
    paths: DataPaths,
    ingested_at: dt.datetime,
    manifest: Manifest,
) -> list[tuple[_Item, FileOutcome, list[str]]]:
    """``load_batch``, all or nothing: when it fails, the outputs it had written are removed
    and the files loaded by earlier batches are recorded before the error goes up."""
    try:
        return load_batch(group, spec, paths, ingested_at)
    except Exception as exc:
        removed = _discard_outputs(paths, spec.channel, group, manifest)
        manifest.save()
        if not isinstance(exc, OSError):
            raise
        files = ", ".join(it.rel for it in group[:3]) + (" …" if len(group) > 3 else "")
        raise LakeWriteError(
            exc.errno,
            f"{spec.channel}: writing the lake under {paths.lake} failed for {len(group)} "
            f"landing file(s) ({files}): {exc.strerror or exc}. None of them is recorded as "
            f"loaded, and the {len(removed)} lake file(s) they had written were removed; files "
            "loaded before stay loaded. Fix the cause (free disk space) and run again.",
        ) from exc


def _channel_prefix(channel: str) -> str:
    """How every lake file name of a channel begins (see ``_output_name``)."""
    return _output_name(channel, f"{channel}/", "")[: -len("__.parquet")]


def _lake_folders(paths: DataPaths) -> list[Path]:
    """The folders ingest writes lake files to: the quarantine and each entity's raw folder."""
    folders = [paths.quarantine, *(p for p in paths.lake_raw.glob("*") if p.is_dir())]
    return [folder for folder in folders if folder.is_dir()]


def _lake_files(paths: DataPaths, pattern: str) -> list[Path]:
    return [f for folder in _lake_folders(paths) for f in folder.glob(pattern)]


def _channel_lake_files(paths: DataPaths, prefix: str) -> list[Path]:
    """``_lake_files`` of the patterns ``{prefix}*.parquet`` and ``.{prefix}*.tmp`` (a
    channel's lake files and its interrupted writes' temporary files), each folder listed
    once and the names compared as text: the sweep of every channel before each ingest listed
    the 23,000 lake files of the 10,000 x 400 brand twice per channel (~0.9 CPU s a day)."""
    tmp = f".{prefix}"
    shortest, shortest_tmp = len(prefix) + len(".parquet"), len(tmp) + len(".tmp")
    out = []
    for folder in _lake_folders(paths):
        with os.scandir(folder) as entries:
            for e in entries:
                n = e.name
                if (n.startswith(prefix) and n.endswith(".parquet") and len(n) >= shortest) or (
                    n.startswith(tmp) and n.endswith(".tmp") and len(n) >= shortest_tmp
                ):
                    out.append(folder / n)
    return out


def _discard_outputs(
    paths: DataPaths, channel: str, group: list[_Item], manifest: Manifest
) -> list[str]:
    """Remove the lake files of ``group`` (and their temporary files) not claimed by a file
    the manifest records as loaded."""
    claimed = manifest.claimed_outputs() or set()
    removed = []
    for item in group:
        name = _output_name(channel, item.rel, item.file_hash)
        for f in _lake_files(paths, name) + _lake_files(paths, f".{name}.*.tmp"):
            rel = f.relative_to(paths.lake).as_posix()
            if rel not in claimed:
                f.unlink(missing_ok=True)
                removed.append(rel)
    return removed


def _sweep_orphans(paths: DataPaths, channel: str, manifest: Manifest) -> list[str]:
    """Remove the channel's lake files that no loaded file claims, and temporary files of
    interrupted writes: what a run killed between writing and recording (or before removing
    the outputs of a file it had replaced) left. Runs under the channel's lock."""
    claimed = manifest.claimed_outputs()
    if claimed is None:
        return []
    swept = []
    for f in _channel_lake_files(paths, _channel_prefix(channel)):
        rel = f.relative_to(paths.lake).as_posix()
        if rel not in claimed:
            f.unlink(missing_ok=True)
            swept.append(rel)
    if swept:
        log.warning(
            "%s: removed %d lake file(s) no loaded file claims (left by an interrupted run)",
            channel,
            len(swept),
        )
    return sorted(swept)


def _chunks(items: list[_Item], max_files: int, max_bytes: int) -> Iterable[list[_Item]]:
    """Consecutive runs of at most ``max_files`` files and about ``max_bytes`` of landing
    data: many small files are mapped in one pass, and large ones do not pile up in memory."""
    chunk: list[_Item] = []
    size = 0
    for item in items:
        n = item.path.stat().st_size
        if chunk and (len(chunk) >= max_files or size + n > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += n
    if chunk:
        yield chunk


def _ingest_one(args: tuple[ChannelSpec, DataPaths, dt.datetime]) -> ChannelReport:
    spec, paths, ingested_at = args
    return ingest_channel(spec, paths, ingested_at)


# Landing bytes not yet in any manifest below which ingest_all loads the channels in its own
# process: a spawned worker costs ~0.6 CPU s and ~1 s before its first file (it imports
# polars and the engine). Measured at 1,000 persons x 90 days (bench/README.md): a new day
# (21 files, 0.12 MB) 1.1-1.3 CPU s in process against 2.6-2.7 with two workers; the whole
# landing folder (1,708 files, 20 MB) 8.1 CPU s / 9.5 s wall against 10.5 / 15.0.
PARALLEL_MIN_BYTES = 64 << 20


def new_bytes(spec: ChannelSpec, paths: DataPaths) -> int:
    """Bytes of the channel's landing files whose path its manifest has not recorded (by a
    stat, no hashing: a correction delivered under a loaded file's name is not counted)."""
    known = Manifest(paths, spec.channel).files
    return sum(p.stat().st_size for _, p, rel in discover(spec, paths) if rel not in known)


def ingest_all(
    specs: dict[str, ChannelSpec], paths: DataPaths, workers: int | None = None
) -> dict[str, ChannelReport]:
    """Every channel, in parallel processes (channels share no files: each has its own
    manifest and its own output names). Largest landing folders start first. Without
    ``workers``: one per core, or none (this process) when the files no manifest has seen
    add up to less than ``PARALLEL_MIN_BYTES`` (a new day)."""
    ingested_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    ensure_schema_files(paths, ENTITIES)
    if workers is None and sum(new_bytes(s, paths) for s in specs.values()) < PARALLEL_MIN_BYTES:
        workers = 1
    workers = workers or min(len(specs), os.cpu_count() or 1)

    def size(channel: str) -> int:
        folder = paths.landing / channel
        return (
            sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            if folder.exists()
            else 0
        )

    order = sorted(specs, key=size, reverse=True)
    if workers <= 1 or len(order) <= 1:
        return {c: ingest_channel(specs[c], paths, ingested_at) for c in order}
    # spawn, not fork: polars' thread pool does not survive a fork
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        reports = pool.map(_ingest_one, [(specs[c], paths, ingested_at) for c in order])
        return dict(zip(order, reports, strict=True))
