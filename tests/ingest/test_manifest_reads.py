"""The lake checks' manifest reads (ingest/reconcile.py): each manifest is parsed once per
version of its file and process, and a saved manifest is read again."""

import datetime as dt
import json

import ingest.reconcile as reconcile
from ingest.config import DataPaths
from ingest.engine import Manifest


def _record(rel: str, at: str, rows: int) -> dict:
    return {
        "file": rel,
        "file_hash": rel.encode().hex(),
        "status": "loaded",
        "logical_key": rel,
        "version": 0,
        "rows": rows,
        "outputs": [f"raw/orders/{rel.replace('/', '__')}.parquet"],
        "ingested_at": at,
    }


def test_manifests_are_parsed_once_and_again_after_a_save(tmp_path, monkeypatch):
    paths = DataPaths(tmp_path)
    m = Manifest(paths, "web")
    m.files["web/a.csv"] = _record("web/a.csv", "2025-01-01T00:00:00", 3)
    m.save()
    parses = []
    real = json.loads
    monkeypatch.setattr(reconcile.json, "loads", lambda s: parses.append(1) or real(s))
    since = dt.datetime(2025, 1, 1)

    assert set(reconcile.loaded_since(paths, since)) == {"web/a.csv"}
    assert reconcile.loaded_rows(paths) == 3
    assert set(reconcile.loaded_since(paths, since, ["web"])) == {"web/a.csv"}
    assert len(parses) == 1  # one parse for the three reads

    m.files["web/b.csv"] = _record("web/b.csv", "2025-01-02T00:00:00", 4)
    m.save()  # a new version of the file: read again
    assert set(reconcile.loaded_since(paths, since)) == {"web/a.csv", "web/b.csv"}
    assert set(reconcile.loaded_since(paths, dt.datetime(2025, 1, 2))) == {"web/b.csv"}
    assert reconcile.loaded_rows(paths) == 7
    assert len(parses) == 2

    (paths.manifest_dir / "web.json").unlink()
    assert reconcile.loaded_since(paths, since) == {}
    assert reconcile.loaded_rows(paths) == 0


def test_a_manifest_replaced_with_the_same_size_is_read_again(tmp_path):
    """The cache key is the file's identity, not its size: a record changed by a writer that
    renames a new file over the manifest (as an erasure's rehash does, a hash replaced by
    another of the same length) is seen."""
    paths = DataPaths(tmp_path)
    m = Manifest(paths, "web")
    m.files["web/a.csv"] = _record("web/a.csv", "2025-01-01T00:00:00", 3)
    m.save()
    since = dt.datetime(2025, 1, 1)
    assert reconcile.loaded_since(paths, since)["web/a.csv"]["rows"] == 3
    path = paths.manifest_dir / "web.json"
    tmp = path.with_suffix(".erase-tmp")
    tmp.write_text(path.read_text(encoding="utf-8").replace('"rows": 3', '"rows": 5'))
    assert tmp.stat().st_size == path.stat().st_size
    tmp.replace(path)
    assert reconcile.loaded_since(paths, since)["web/a.csv"]["rows"] == 5
