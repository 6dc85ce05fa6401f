"""Reconciliation: every landing row of every loaded file is in the lake or in quarantine.

Landing rows are counted here independently of the engine's reader (a plain record count of
the file), so a reader that silently skipped rows would be caught.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass

from ingest.config import DataPaths, connect
from ingest.engine import UnreadableFile, _decode, discover
from ingest.spec import ChannelSpec, SourceSpec


def count_landing_rows(path, source: SourceSpec) -> int:
    try:
        text = _decode(path, source.encoding)
    except UnreadableFile:
        enc = "gb18030" if source.encoding == "auto" else source.encoding
        text = _decode(path, enc, "replace")
    if source.format == "ndjson":
        return sum(1 for line in text.splitlines() if line.strip())
    delim = source.delimiter or ("\t" if source.format == "tsv" else ",")
    records = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim) if r]
    return max(len(records) - 1, 0)


@dataclass(frozen=True)
class FileBalance:
    channel: str
    file: str
    status: str
    landing_rows: int
    accounted_rows: int

    @property
    def missing(self) -> int:
        return self.landing_rows - self.accounted_rows if self.status == "loaded" else 0


# parsed manifests by path, with the file's identity when parsed (inode, size, times): a run's
# lake checks read every manifest several times (each lake suite, the reconciliation, the
# loaded rows: ~6.4 MB of JSON at 10,000 x 400), and the manifests change only when ingest
# saves one (a new file renamed over the old: another inode)
_PARSED: dict[str, tuple[tuple[int, ...], dict[str, dict]]] = {}


def _manifest(paths: DataPaths, channel: str) -> dict[str, dict]:
    """The manifest records of ``channel`` by landing file ({} without a manifest). Parsed
    once per version of the file and process: the records are shared, read them only."""
    return _manifest_file(paths.manifest_dir / f"{channel}.json")


def _manifest_file(path) -> dict[str, dict]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    kept = _PARSED.get(str(path))
    if kept is not None and kept[0] == key:
        return kept[1]
    files = json.loads(path.read_text(encoding="utf-8"))["files"]
    _PARSED[str(path)] = (key, files)
    return files


def loaded_since(
    paths: DataPaths, since: dt.datetime, channels: list[str] | None = None
) -> dict[str, dict]:
    """The manifest records (by landing file) of the files loaded at or after ``since`` (UTC,
    naive, as the manifests write ``ingested_at``): what one ingest run added or corrected.
    ``channels``: every channel with a manifest when None."""
    folder = paths.manifest_dir
    names = channels if channels is not None else [m.stem for m in folder.glob("*.json")]
    cut = since.replace(microsecond=0).isoformat()
    return {
        rel: rec
        for channel in names
        for rel, rec in _manifest(paths, channel).items()
        if rec.get("status") == "loaded" and rec.get("ingested_at", "") >= cut
    }


def reconcile(
    paths: DataPaths, specs: dict[str, ChannelSpec], since: dt.datetime | None = None
) -> list[FileBalance]:
    """Per landing file of ``specs``: its status and its rows against the lake and quarantine
    rows it left. ``since``: only the files loaded at or after it (one run's files, read from
    their own lake outputs) and the files not ingested at all; every file when None."""
    fresh = loaded_since(paths, since, list(specs)) if since is not None else None
    lake_rows = _accounted(paths, fresh)
    out = []
    for channel, spec in specs.items():
        manifest = _manifest(paths, channel)
        for source, path, rel in discover(spec, paths):
            status = manifest.get(rel, {}).get("status", "not ingested")
            if fresh is not None and rel not in fresh and status != "not ingested":
                continue
            out.append(
                FileBalance(
                    channel,
                    rel,
                    status,
                    count_landing_rows(path, source),
                    lake_rows.get(rel, 0),
                )
            )
    return out


def sql_strings(value: str | list[str]) -> str:
    """A SQL string literal, or a list of them, for DuckDB's ``read_parquet``."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return "[" + ", ".join(sql_strings(v) for v in value) + "]"


def lake_outputs(paths: DataPaths, files: dict[str, dict], prefix: str = "") -> list[str]:
    """The lake files (paths, those that still exist) written by ``files`` (manifest records),
    those under ``prefix`` (``raw/<entity>/``) when given."""
    return sorted(
        {
            str(paths.lake / o)
            for rec in files.values()
            for o in rec.get("outputs", [])
            if o.startswith(prefix) and (paths.lake / o).exists()
        }
    )


def _accounted(paths: DataPaths, files: dict[str, dict] | None = None) -> dict[str, int]:
    """Distinct source rows per source file across every lake entity and quarantine; with
    ``files`` (manifest records), only theirs, read from the lake files each one wrote."""
    if files is None:
        lists = [str(paths.lake_raw / "*" / "*.parquet"), str(paths.quarantine / "*.parquet")]
    else:
        lists = [lake_outputs(paths, files)]
        if not lists[0]:
            return {}
    con = connect()
    union = " union all ".join(
        f"select source_file, source_row from read_parquet({sql_strings(src)}, "
        "union_by_name = true)"
        for src in lists
    )
    rows = con.execute(
        f"""
        select source_file, count(distinct source_row)
        from ({union})
        where source_file is not null
        group by 1
        """
    ).fetchall()
    return dict(rows)


def unclaimed_files(paths: DataPaths, specs: dict[str, ChannelSpec]) -> list[str]:
    """Landing files no spec reads: an unknown channel folder or a name no pattern matches."""
    claimed = {rel for spec in specs.values() for _, _, rel in discover(spec, paths)}
    if not paths.landing.exists():
        return []
    return sorted(
        rel
        for f in paths.landing.rglob("*")
        if f.is_file() and (rel := f.relative_to(paths.landing).as_posix()) not in claimed
    )


def loaded_rows(paths: DataPaths) -> int:
    """Landing rows of every currently loaded file, as the manifests recorded them."""
    total = 0
    for manifest in paths.manifest_dir.glob("*.json"):
        files = _manifest_file(manifest)
        total += sum(rec.get("rows", 0) for rec in files.values() if rec["status"] == "loaded")
    return total
