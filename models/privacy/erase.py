"""``zhongtai privacy erase``: a person removed or irreversibly pseudonymised everywhere under
``data/``, a tombstone so they do not come back, and an audit row for the request and its
completion.

Layer by layer (every rewrite goes to a temporary name and is renamed):

| where | what happens |
| --- | --- |
| ``lake/raw/identifiers`` | the person's identifier rows deleted |
| ``lake/raw/<entity>`` | the person's records (carrying one of their identifiers, or assigned to them by OneID) kept for the sales totals but pseudonymised: names, birthday, gender, city, IP, user agent, free text nulled; identifier values in other columns (member no., account ids) replaced by a random token |
| ``lake/quarantine`` | their identifiers (and, on records naming them, their names and addresses) cut out of the raw records |
| ``landing/`` | every spelling of their identifiers (and, on their records, their names and delivery streets, districts and postcodes) cut out of the delivered files, row count unchanged; the manifest takes the new content hash, so the file is not loaded again |
| ``warehouse.duckdb`` | ``identity.truth_matches`` (the demo truth's match of each record, an evaluation cache) dropped; every other base table of every schema: rows of their customer ids deleted (facts with an ``order_id`` keep the row, ``customer_id`` set null), rows holding an identifier value deleted, other columns holding one replaced, names and PII columns nulled on their staged records; then the file is rewritten (``COPY FROM DATABASE``) so freed blocks keep nothing |
| ``exports/`` | rows naming them (ids, phones, e-mails and their SHA-256 forms) dropped from CSV and Parquet; other text files have the values cut; access exports about them deleted |
| ``docs/`` | their values cut from the data docs |
| ``privacy/tombstones.parquet`` | HMAC-SHA256 of each identifier (``ingest.tombstones``) |
| ``privacy/requests.parquet`` and ``privacy.requests`` | the request (identifier type and keyed hash only) and its completion with counts |
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from ingest import tombstones
from ingest.canonical import ADDRESS_COLUMNS, ENTITIES, NAME_COLUMNS
from ingest.config import DataPaths, connect, replace_tables
from models.identity.evaluate import MATCHES as TRUTH_MATCHES
from models.privacy.subject import Subject, parse_identifier, resolve

LINEAGE_COLUMNS = ("channel", "source_file", "file_hash")
# address parts erased with the person (cut from landing rows, nulled in lake and warehouse
# through tombstones.PII_COLUMNS); province and city are kept for regional totals
ADDRESS_ERASED = ("district", "street", "postcode")
FREE_TEXT = ("raw_record", "text", "search_query", "reason", "note")
TEXT_SUFFIXES = (".json", ".html", ".htm", ".md", ".txt", ".csv", ".tsv", ".ndjson", ".xml")
REQUEST_COLUMNS = {
    "request_id": pl.String,
    "kind": pl.String,
    "status": pl.String,
    "identifier_type": pl.String,
    "identifier_hash": pl.String,
    "at": pl.Datetime("us"),
    "customers": pl.Int64,
    "identifiers": pl.Int64,
    "counts": pl.String,  # JSON: rows touched per layer
    "seconds": pl.Float64,
}


@dataclass
class ErasureReport:
    request_id: str
    customers: int = 0
    identifiers: int = 0
    lake_rows: int = 0
    lake_files: int = 0
    landing_files: int = 0
    landing_cuts: int = 0
    warehouse_rows: int = 0
    export_rows: int = 0
    export_files: int = 0
    tombstones_added: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)
    layer_seconds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict:
        out = asdict(self)
        out.pop("request_id")
        out.pop("seconds")
        return out


# ----------------------------------------------------------------------------- audit


def requests_path(paths: DataPaths) -> Path:
    return tombstones.privacy_dir(paths) / "requests.parquet"


def record_request(
    paths: DataPaths,
    request_id: str,
    kind: str,
    status: str,
    identifier: str,
    subject: Subject | None = None,
    counts: dict | None = None,
    seconds: float | None = None,
) -> None:
    """Append one audit row: the identifier's type and keyed hash, never its value."""
    id_type, value = parse_identifier(identifier)
    secret = tombstones.key(paths, create=True)
    row = pl.DataFrame(
        {
            "request_id": [request_id],
            "kind": [kind],
            "status": [status],
            "identifier_type": [id_type],
            "identifier_hash": [tombstones.digest(secret, value)],
            "at": [dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            "customers": [len(subject.customer_ids) if subject else None],
            "identifiers": [len(subject.identifiers) if subject else None],
            "counts": [json.dumps(counts, sort_keys=True) if counts is not None else None],
            "seconds": [seconds],
        },
        schema=REQUEST_COLUMNS,
    )
    path = requests_path(paths)
    if path.exists():
        row = pl.concat([pl.read_parquet(path), row])
    tombstones.write_parquet(row, path)


def publish_audit(paths: DataPaths) -> dict[str, int]:
    """Copy the request log and the tombstones into the warehouse schema ``privacy``."""
    tables = {}
    if requests_path(paths).exists():
        tables["requests"] = pl.read_parquet(requests_path(paths))
    if tombstones.tombstone_path(paths).exists():
        tables["tombstones"] = pl.read_parquet(tombstones.tombstone_path(paths))
    if not tables or not paths.warehouse.exists():
        return {}
    con = connect(paths.warehouse)
    try:
        return replace_tables(con, "privacy", tables)
    finally:
        con.close()


# ----------------------------------------------------------------------------- lake


def _record_key(frame: pl.DataFrame, entity: str) -> pl.Expr:
    keys = ENTITIES[entity]["key"]
    if not all(k in frame.columns for k in keys):
        return pl.lit(None, pl.String)
    return pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator="/")


def _in_records(
    frame: pl.DataFrame, key: pl.Expr, records: pl.DataFrame, by_entity: bool
) -> pl.Series:
    """Whether each row of ``frame`` is one of ``records`` (channel, [entity,] record id)."""
    on = ["channel", "entity", "__rid"] if by_entity else ["channel", "__rid"]
    keyed = frame.select(pl.col("channel"), *(["entity"] if by_entity else []), key.alias("__rid"))
    keyed = keyed.with_row_index("__i")
    wanted = records.rename({"record_id": "__rid"}).select(on).unique()
    hits = keyed.join(wanted, on=on, how="semi")["__i"]
    mask = pl.Series("tied", [False] * frame.height, pl.Boolean)
    if hits.len():
        mask = mask.scatter(hits, True)
    return mask


def _candidate_files(paths: DataPaths, subject: Subject) -> list[Path]:
    """The lake files that may hold the subject: one lazy scan per folder (thousands of small
    files) for a tied record, an exact token in a string column, or a match in free text."""
    tokens = list(subject.exact_tokens())
    re2 = subject.re2_pattern()
    found: set[str] = set()
    lake = sorted(paths.lake_raw.iterdir()) if paths.lake_raw.exists() else []  # none yet
    folders = [f for f in lake if f.is_dir()] + [paths.quarantine]
    for folder in folders:
        files = [str(p) for p in sorted(folder.glob("*.parquet")) if p.name != "_schema.parquet"]
        if not files:
            continue
        entity = folder.name if folder != paths.quarantine else "quarantine"
        lazy = pl.scan_parquet(files, include_file_paths="__path", missing_columns="insert")
        schema = lazy.collect_schema()
        strings = [c for c, t in schema.items() if t == pl.String and c not in LINEAGE_COLUMNS]
        cond = pl.lit(False)
        for c in strings:
            cond = cond | pl.col(c).is_in(tokens)
            if c in FREE_TEXT:
                cond = cond | pl.col(c).str.contains(re2)
        ids = subject.records.filter(pl.col("entity") == entity)["record_id"].to_list()
        if entity == "identifiers":
            cond = cond | pl.col("record_id").is_in(subject.records["record_id"].to_list())
        elif entity in ENTITIES and ids and all(k in schema for k in ENTITIES[entity]["key"]):
            cond = cond | _record_key(pl.DataFrame(schema=schema), entity).is_in(ids)
        hits = lazy.filter(cond.fill_null(False)).select("__path").unique().collect()
        found |= set(hits["__path"].to_list())
    return [Path(p) for p in sorted(found)]


def scrub_lake(paths: DataPaths, subject: Subject, report: ErasureReport) -> set[tuple[str, int]]:
    """Pseudonymise the subject's lake records; returns the landing rows they came from
    (``source_file``, ``source_row``). Collects the names on their records."""
    tokens = subject.exact_tokens()
    pattern = subject.text_pattern()
    records = subject.records
    lineage: set[tuple[str, int]] = set()
    files = _candidate_files(paths, subject)
    # quarantine last: the names and addresses of their records are known by then
    for path in sorted(files, key=lambda p: p.parent == paths.quarantine):
        if path.name == "_schema.parquet":
            continue
        entity = path.parent.name if path.parent != paths.quarantine else "quarantine"
        frame = pl.read_parquet(path)
        if entity == "identifiers":
            tied = _in_records(frame, pl.col("record_id"), records, by_entity=True)
            drop = tied | frame["identifier_value"].is_in(list(tokens)).fill_null(False)
            out = frame.filter(~drop)
            changed = frame.height - out.height
        elif entity == "quarantine":
            texts = frame["raw_record"].to_list()
            wide = subject.text_pattern(names=True)
            new = [
                None
                if t is None
                else (wide if pattern.search(t) else pattern).sub(tombstones.ERASED_MARK, t)
                for t in texts
            ]
            changed = sum(a != b for a, b in zip(texts, new, strict=True))
            out = frame.with_columns(pl.Series("raw_record", new, pl.String))
        elif entity in ENTITIES:
            ids = records.filter(pl.col("entity") == entity)
            mask = _in_records(frame, _record_key(frame, entity), ids, by_entity=False)
            strings = [
                c for c, t in frame.schema.items() if t == pl.String and c not in LINEAGE_COLUMNS
            ]
            for c in strings:
                mask = mask | frame[c].is_in(list(tokens)).fill_null(False)
            changed = int(mask.sum())
            if not changed:
                continue
            hit = frame.filter(mask)
            for col in NAME_COLUMNS.get(entity, ()):
                subject.names |= {n for n in hit[col].drop_nulls().to_list() if len(n) >= 2}
            for part, col in ADDRESS_COLUMNS.get(entity, {}).items():
                if part in ADDRESS_ERASED and col in hit.columns:
                    subject.addresses |= {
                        a for a in hit[col].drop_nulls().to_list() if len(a.strip("*")) >= 3
                    }
            lineage |= set(hit.select("source_file", "source_row").iter_rows())
            out = tombstones.pseudonymise_rows(frame, entity, pl.lit(mask), tokens.__contains__)
            for col in FREE_TEXT:
                if col in out.columns and out.schema[col] == pl.String:
                    texts = out[col].to_list()
                    new = [
                        None if t is None else pattern.sub(tombstones.ERASED_MARK, t) for t in texts
                    ]
                    out = out.with_columns(pl.Series(col, new, pl.String))
        else:
            continue
        if changed:
            tombstones.write_parquet(out, path)
            report.lake_rows += changed
            report.lake_files += 1
    return lineage


# ----------------------------------------------------------------------------- landing


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def scrub_landing(
    paths: DataPaths, subject: Subject, lineage: set[tuple[str, int]], report: ErasureReport
) -> None:
    """Cut the subject out of the delivered files, keeping every row (a row count that
    reconciles), and give the manifest the new content hash."""
    plain = subject.text_pattern()
    with_names = subject.text_pattern(names=True)
    rows_of: dict[str, set[int]] = {}
    for rel, row in lineage:
        rows_of.setdefault(rel, set()).add(int(row))
    for path in sorted(p for p in paths.landing.rglob("*") if p.is_file()):
        rel = path.relative_to(paths.landing).as_posix()
        data = path.read_bytes()
        try:
            text, encoding = _decode(data)
        except UnicodeDecodeError:
            continue
        tied_rows = rows_of.get(rel, set())
        if not tied_rows and not plain.search(text):
            continue
        lines = text.splitlines(keepends=True)
        header = 0 if path.suffix == ".ndjson" else 1
        cuts = 0
        row = 0
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            row += 1
            pat = with_names if (row - header) in tied_rows else plain
            new, n = pat.subn(tombstones.ERASED_MARK, line)
            if n:
                lines[i] = new
                cuts += n
        if not cuts:
            continue
        new_bytes = "".join(lines).encode(encoding)
        tmp = path.with_name(path.name + ".erase-tmp")
        tmp.write_bytes(new_bytes)
        tmp.replace(path)
        _rehash_manifest(paths, rel, hashlib.sha256(new_bytes).hexdigest())
        report.landing_files += 1
        report.landing_cuts += cuts


def _rehash_manifest(paths: DataPaths, rel: str, file_hash: str) -> None:
    channel = rel.split("/", 1)[0]
    manifest = paths.manifest_dir / f"{channel}.json"
    if not manifest.exists():
        return
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    rec = doc["files"].get(rel)
    if rec is None:
        return
    old_hash = rec["file_hash"]
    rec["file_hash"] = file_hash
    # the lake files of a landing file are named after its content hash: renamed (and their
    # file_hash column set) so that a later delivery of the old bytes is a new load whose
    # outputs do not collide with these
    outputs = []
    for rel_out in rec.get("outputs", []):
        src = paths.lake / rel_out
        dst = src.with_name(src.name.replace(f"__{old_hash[:12]}.", f"__{file_hash[:12]}."))
        if src.exists():
            frame = pl.read_parquet(src).with_columns(pl.lit(file_hash).alias("file_hash"))
            tombstones.write_parquet(frame, dst)
            if dst != src:
                src.unlink()
        outputs.append(str(dst.relative_to(paths.lake)))
    rec["outputs"] = outputs
    rec["note"] = "; ".join(filter(None, [rec.get("note", ""), "personal data erased in place"]))
    tmp = manifest.with_suffix(".erase-tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(manifest)


# ----------------------------------------------------------------------------- warehouse


def scrub_warehouse(
    paths: DataPaths, subject: Subject, lineage: set[tuple[str, int]], report: ErasureReport
) -> None:
    if not paths.warehouse.exists():
        return
    tokens = sorted(subject.exact_tokens())
    re2 = subject.re2_pattern()
    names = sorted(subject.names)
    con = connect(paths.warehouse)
    try:
        # each record's match to the demo truth, kept by the identity check to match only new
        # records: dropped (the next check matches every record again) rather than scrubbed
        # row by row, where a scrubbed record id could be taken for another record's
        con.execute(f"drop table if exists {TRUTH_MATCHES}")
        con.execute("create temp table _erase_lineage (source_file varchar, source_row bigint)")
        if lineage:
            con.executemany("insert into _erase_lineage values (?, ?)", sorted(lineage))
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database() "
            "and table_schema not in ('privacy')"
        ).fetchall()
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            cols = dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            )
            before = con.execute(f"select count(*) from {name}").fetchone()[0]
            touched = 0
            cust_cols = [c for c in cols if c == "customer_id" or c.startswith("customer_id_")]
            for c in cust_cols:
                if "order_id" in cols:
                    touched += _count(
                        con,
                        f"update {name} set {c} = null where list_contains(?, {c})",
                        [subject.customer_ids],
                    )
                else:
                    con.execute(
                        f"delete from {name} where list_contains(?, {c})", [subject.customer_ids]
                    )
            if "identifier_value" in cols:
                con.execute(
                    f"delete from {name} where list_contains(?, identifier_value)", [tokens]
                )
            if "source_file" in cols and "source_row" in cols and lineage:
                pii = [
                    c for c in cols if c in {x for v in tombstones.PII_COLUMNS.values() for x in v}
                ]
                if pii:
                    sets = ", ".join(f'"{c}" = null' for c in pii)
                    touched += _count(
                        con,
                        f"update {name} set {sets} where (source_file, source_row) in "
                        "(select source_file, source_row from _erase_lineage)",
                    )
            for c, typ in cols.items():
                if typ != "VARCHAR" or c in LINEAGE_COLUMNS:
                    continue
                touched += _count(
                    con,
                    f'update {name} set "{c}" = ? where regexp_matches("{c}", ?)',
                    [tombstones.ERASED_MARK, re2],
                )
                if names and c in {x for v in NAME_COLUMNS.values() for x in v}:
                    pass  # names are nulled on the subject's records above (lineage)
            after = con.execute(f"select count(*) from {name}").fetchone()[0]
            n = touched + before - after
            if n:
                report.tables[f"{schema}.{table}"] = n
                report.warehouse_rows += n
        con.execute("checkpoint")
    finally:
        con.close()
    _rewrite_database(paths.warehouse)


def _count(con, sql: str, params: list | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _rewrite_database(path: Path) -> None:
    """Copy every schema, table and view into a fresh file and swap it in: DuckDB reuses
    freed blocks without wiping them, so erased values could stay readable in the old file."""
    fresh = path.with_name(path.stem + ".erase-tmp.duckdb")
    fresh.unlink(missing_ok=True)
    con = connect()
    try:
        con.execute(f"attach '{path}' as old")
        con.execute(f"attach '{fresh}' as new")
        con.execute("copy from database old to new")
        con.execute("detach old")
        con.execute("detach new")
    finally:
        con.close()
    fresh.replace(path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


# ----------------------------------------------------------------------------- exports, docs


def scrub_files(root: Path, subject: Subject, report: ErasureReport) -> None:
    """Exports and other generated files: rows naming the subject dropped from CSV and
    Parquet, values cut from other text; access exports about them deleted."""
    if not root.exists():
        return
    pattern = subject.text_pattern()
    re2 = subject.re2_pattern()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
            strings = [c for c, t in frame.schema.items() if t == pl.String]
            if not strings:
                continue
            hit = pl.any_horizontal(pl.col(c).str.contains(re2).fill_null(False) for c in strings)
            out = frame.filter(~hit)
            if out.height != frame.height:
                tombstones.write_parquet(out, path)
                report.export_rows += frame.height - out.height
                report.export_files += 1
            continue
        if suffix not in TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if not pattern.search(text):
            continue
        if "access" in path.relative_to(root).parts:
            path.unlink()
            report.export_files += 1
            continue
        if suffix in (".csv", ".tsv"):
            lines = text.splitlines(keepends=True)
            kept = lines[:1] + [ln for ln in lines[1:] if not pattern.search(ln)]
            report.export_rows += len(lines) - len(kept)
            new = "".join(kept)
        else:
            new, n = pattern.subn(tombstones.ERASED_MARK, text)
            report.export_rows += n
        tmp = path.with_name(path.name + ".erase-tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(path)
        report.export_files += 1


# ----------------------------------------------------------------------------- the request


def erase(paths: DataPaths, identifier: str) -> ErasureReport:
    """Erase the person named by ``TYPE:VALUE`` everywhere under ``paths.root``."""
    t0 = time.perf_counter()
    request_id = uuid.uuid4().hex[:16]
    parse_identifier(identifier)  # a bad request fails before anything is written
    record_request(paths, request_id, "erase", "requested", identifier)
    con = connect(paths.warehouse, read_only=True) if paths.warehouse.exists() else None
    try:
        subject = resolve(con, paths, identifier)
    finally:
        if con is not None:
            con.close()
    report = ErasureReport(request_id, len(subject.customer_ids), len(subject.identifiers))
    # tombstones first: an ingest running meanwhile already drops the person
    report.tombstones_added = tombstones.add(paths, subject.values, request_id)
    lap = t0

    def took(layer: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        report.layer_seconds[layer] = round(now - lap, 2)
        lap = now

    took("resolve")
    lineage = scrub_lake(paths, subject, report)
    took("lake")
    scrub_landing(paths, subject, lineage, report)
    took("landing")
    scrub_warehouse(paths, subject, lineage, report)
    took("warehouse")
    scrub_files(paths.exports, subject, report)
    scrub_files(paths.root / "docs", subject, report)
    took("exports_docs")
    report.seconds = round(time.perf_counter() - t0, 3)
    record_request(
        paths,
        request_id,
        "erase",
        "completed",
        identifier,
        subject,
        report.counts(),
        report.seconds,
    )
    publish_audit(paths)
    return report


def read_requests_file(path: Path) -> list[str]:
    """One ``TYPE:VALUE`` per line (blank lines and ``#`` comments skipped); every line is
    checked before any erasure starts, an error names the file and line."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            parse_identifier(text)
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
        out.append(text)
    return out
