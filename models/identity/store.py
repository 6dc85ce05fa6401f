"""The trained Splink model of the probabilistic tier, kept between runs, so a new day
predicts with it instead of training again (``models.identity.records.probabilistic_links``:
the prior, u by random sampling and the EM sessions are most of the identity step's CPU).

``data/models/identity/`` (``DataPaths.models``; generated, never in git) holds the model as
Splink writes it (``splink_model.json``: ``linker.misc.save_model_to_json``, the settings with
their trained m and u, loaded by passing the dict to ``Linker``) and a small manifest
(``manifest.json``): the last day of data it was trained on
(``models.identity.warehouse.data_through``: the orders' last day), when, the SHA-256 of the
rules file it was trained under, Splink's version and the model file's SHA-256.

:func:`stored_model` gives the stored model unless it cannot serve this run; the caller then
trains (and :func:`save` replaces the store), with the reason in the asset's metadata:

- no model is stored, or the manifest or the model file cannot be read, or the file does not
  match the manifest's SHA-256 (a damaged store is retrained, never predicted with);
- the model is ``retrain_every`` days of data or more older than the data (the cadence, 7
  days, as the forecast's ``REFIT_EVERY``), or the data ends before it;
- the rules file (``profiles/identity.yml``) or Splink's version changed.

The model file also keeps the term frequencies of the data it was trained on
(``records.TERM_FREQUENCIES``: per column with a frequency adjustment, the initial's and the
address's, each value with its share of the rows, as Splink computed them for training). A run
that reuses the model registers those tables instead of computing them over its own rows, in a
full resolution and in an incremental one alike (``models.identity.incremental``), so the two
give the same weights, and a record's weights do not move when other records arrive; a value
the training data did not hold gets no frequency adjustment (Splink's rule for a missing term
frequency). A model stored without them (an older store) does not fit: it is retrained.

A model whose comparisons are not the ones this data builds (a column filled or emptied, the
address compared or not) is refused where it is used (``records.model_mismatch``), and
retrained with that reason too. ``zhongtai identity resolve`` never reads the store: it
trains on its own input every time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from models import fitstore
from models.fitstore import FitInfo, Stale, StoreError, too_old
from models.fitstore import NoFit as NoModel

FORMAT = 1
MODEL_FILE = "splink_model.json"
MANIFEST = "manifest.json"


@dataclass
class ModelInfo(FitInfo):
    """Whether this run trained the Splink model or predicted with the stored one, and why:
    ``action`` "trained", "reused" or "none" (no probabilistic links were scored)."""

    def metadata(self) -> dict:
        return {
            "splink_model": self.action,
            "splink_model_reason": self.reason,
            "splink_trained_through": self.manifest.get("data_through", ""),
            "splink_trained_at": self.manifest.get("trained_at", ""),
            "splink_model_store": str(self.directory),
        }


def _splink_version() -> str:
    import splink

    return splink.__version__


def read_manifest(directory: Path) -> dict:
    """The stored model's manifest; :class:`StoreError` naming the file when there is none
    (``NoModel``) or it cannot be read (``models.fitstore``)."""
    return fitstore.read_manifest(Path(directory) / MANIFEST, FORMAT, "identity model")


def load_model(directory: Path, manifest: dict) -> dict:
    """The stored Splink settings, when the file's SHA-256 is the manifest's and it reads as a
    model with comparisons; :class:`StoreError` naming the file otherwise."""
    path = fitstore.matching_file(Path(directory) / MODEL_FILE, manifest)
    try:
        model = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: unreadable model: {exc}") from exc
    if not isinstance(model, dict) or not isinstance(model.get("comparisons"), list):
        raise StoreError(f"{path}: not a Splink model (no comparisons)")
    return model


def why_retrain(
    manifest: dict, data_through: dt.date, rules_sha256: str, retrain_every: int
) -> str | None:
    """Why the stored model of ``manifest`` is not to serve data ending ``data_through``
    under the rules file of ``rules_sha256`` (None: it is)."""
    trained = dt.date.fromisoformat(manifest["data_through"])
    old = too_old(trained, data_through, retrain_every, "model")
    if old is not None:
        return old
    if manifest.get("rules_sha256") != rules_sha256:
        return "the rules file changed since the model was trained"
    if manifest.get("splink") != _splink_version():
        return f"Splink changed: trained with {manifest.get('splink')}, now {_splink_version()}"
    return None


def stored_model(
    directory: Path, data_through: dt.date, rules_sha256: str, retrain_every: int
) -> tuple[dict, ModelInfo]:
    """The stored model and its info when it can serve this run; :class:`NoModel`,
    :class:`Stale` or :class:`StoreError` (damaged) otherwise."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    try:
        reason = why_retrain(manifest, data_through, rules_sha256, retrain_every)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{Path(directory) / MANIFEST}: incomplete manifest: {exc!r}") from exc
    if reason is not None:
        raise Stale(reason)
    model = load_model(directory, manifest)
    why = f"stored model of {manifest['data_through']} is fresh (cadence {retrain_every} days)"
    return model, ModelInfo("reused", why, manifest, directory)


def model_for_run(
    directory: Path, data_through: dt.date, rules_sha256: str, retrain_every: int
) -> tuple[dict | None, ModelInfo]:
    """(the stored model, "reused" and why) when it can serve this run, else (None,
    "trained" and why the run trains)."""
    try:
        return stored_model(directory, data_through, rules_sha256, retrain_every)
    except (NoModel, Stale) as exc:
        reason = str(exc)
    except StoreError as exc:
        reason = f"stored model unusable: {exc}"
    return None, ModelInfo("trained", reason, {}, Path(directory))


def after_run(
    planned: ModelInfo, used: dict, data_through: dt.date, rules_sha256: str
) -> ModelInfo:
    """What the run did with the model (``used``: ``probabilistic_links``' report); a model
    it trained replaces the store."""
    if not used:
        return ModelInfo("none", "no probabilistic links scored", {}, planned.directory)
    if not used["trained"]:
        return planned
    reason = planned.reason
    if "mismatch" in used:
        reason = f"the stored model does not fit this data: {used['mismatch']}"
    manifest = save(planned.directory, used["model"], data_through, rules_sha256, reason)
    return ModelInfo("trained", reason, manifest, planned.directory)


def save(
    directory: Path, model: dict, data_through: dt.date, rules_sha256: str, reason: str
) -> dict:
    """Write the model (JSON, as Splink saves it), then the manifest with its SHA-256
    (``models.fitstore.save``). Returns the manifest."""
    manifest = {
        "format": FORMAT,
        "data_through": str(data_through),
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trained_because": reason,
        "rules_sha256": rules_sha256,
        "splink": _splink_version(),
        "model_file": MODEL_FILE,
    }
    return fitstore.save(directory, MODEL_FILE, MANIFEST, model, manifest, dump=_dump_json)


def _dump_json(model: dict, f) -> None:
    f.write(json.dumps(model, indent=1).encode())
