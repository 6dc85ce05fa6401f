"""Reconciliation: every landing row of every loaded file is in the lake or in quarantine.

Landing rows are counted here independently of the engine's reader (a plain record count of
the file), so a reader that silently skipped rows would be caught.
"""

from __future__ import annotations

import csv
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


def reconcile(paths: DataPaths, specs: dict[str, ChannelSpec]) -> list[FileBalance]:
    lake_rows = _accounted(paths)
    out = []
    for channel, spec in specs.items():
        manifest_path = paths.manifest_dir / f"{channel}.json"
        manifest = (
            json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
            if manifest_path.exists()
            else {}
        )
        for source, path, rel in discover(spec, paths):
            status = manifest.get(rel, {}).get("status", "not ingested")
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


def _accounted(paths: DataPaths) -> dict[str, int]:
    """Distinct source rows per source file across every lake entity and quarantine."""
    globs = [str(paths.lake_raw / "*" / "*.parquet"), str(paths.quarantine / "*.parquet")]
    con = connect()
    rows = con.execute(
        f"""
        select source_file, count(distinct source_row)
        from (
            select source_file, source_row from read_parquet({globs[0]!r}, union_by_name = true)
            union all
            select source_file, source_row from read_parquet({globs[1]!r}, union_by_name = true)
        )
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
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        total += sum(rec.get("rows", 0) for rec in files.values() if rec["status"] == "loaded")
    return total
