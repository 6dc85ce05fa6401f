"""What the stores of fitted models kept between runs share (``DataPaths.models``; generated,
never in git): a model file and a JSON manifest beside it that names the fit and holds the
file's SHA-256, written atomically, read back with an error naming the file when it cannot be
used. ``models/forecast/store.py`` (the forecast's global models) and ``models/recs/store.py``
(the recommender's ranker) decide, each for its own fit, when it can serve the data."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ingest.engine import file_sha256


class StoreError(ValueError):
    """The stored fit cannot be used: the message names the file and what is wrong."""


class NoFit(StoreError):
    """No fit is stored (the first run, or the store was deleted)."""


class Stale(StoreError):
    """A fit is stored, whole, but cannot serve the data (its message says why)."""


@dataclass
class FitInfo:
    """Whether this run refitted or used the stored fit (``action``), and why."""

    action: str
    reason: str
    manifest: dict
    directory: Path

    def metadata(self) -> dict:
        """The asset metadata: ``fit``, ``fit_reason``, ``fit_date``, ``fitted_at``,
        ``fit_store``."""
        m = self.manifest
        return {
            "fit": self.action,
            "fit_reason": self.reason,
            "fit_date": m.get("fit_date", ""),
            "fitted_at": m.get("fitted_at", ""),
            "fit_store": str(self.directory),
        }


def write_atomic(path: Path, write) -> None:
    """``write(file)`` into a temporary file beside ``path``, synced, then renamed over it."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def too_old(fit_date, cutoff, every: int, what: str = "fit") -> str | None:
    """Why a stored ``what`` of the data up to ``fit_date`` (a date) is not to serve data up to
    ``cutoff`` on a cadence of ``every`` days (None: it is young enough)."""
    age = (cutoff - fit_date).days
    if age < 0:
        return f"the data ends {cutoff}, before the {what}'s last day {fit_date}"
    if age >= every:
        return f"the {what} ({fit_date}) is {age} days older than the data (cadence {every})"
    return None


def read_manifest(path: Path, fmt: int, kind: str) -> dict:
    """The manifest at ``path`` (format ``fmt``, a ``kind`` fit); :class:`NoFit` when there is
    none, :class:`StoreError` naming the file when it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise NoFit(f"no stored fit ({path} does not exist)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise StoreError(f"{path}: not a format-{fmt} {kind} fit manifest")
    return manifest


def matching_file(path: Path, manifest: dict) -> Path:
    """``path`` (the model file), when its SHA-256 is the manifest's; :class:`StoreError`
    naming it otherwise."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: model file missing (the manifest names it)")
    digest = file_sha256(path)
    if digest != manifest.get("sha256"):
        raise StoreError(
            f"{path}: sha256 {digest[:12]}... does not match the manifest's "
            f"{str(manifest.get('sha256'))[:12]}... (damaged or replaced)"
        )
    return path


def save(
    directory: Path, model_file: str, manifest_file: str, obj, manifest: dict, dump=None
) -> dict:
    """Write ``obj`` (``dump(obj, file)``; joblib by default), then the manifest with its
    SHA-256 (a crash between the two leaves a manifest that does not match: the next run
    refits). The manifest written."""
    if dump is None:
        import joblib

        def dump(o, f):
            joblib.dump(o, f, compress=3)

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / model_file, lambda f: dump(obj, f))
    manifest = {**manifest, "sha256": file_sha256(directory / model_file)}
    write_atomic(
        directory / manifest_file, lambda f: f.write(json.dumps(manifest, indent=1).encode())
    )
    return manifest


def load(path: Path, manifest: dict):
    """The object in the model file ``path``, checked against the manifest's SHA-256;
    :class:`StoreError` naming the file when it does not match or cannot be unpickled."""
    import joblib

    matching_file(path, manifest)
    try:
        return joblib.load(path)
    except Exception as exc:  # any unpickling failure is a damaged store
        raise StoreError(f"{path}: cannot load the model: {exc!r}") from exc
