"""The recommender's fit kept between runs, so a new day scores instead of refitting.

What a fit costs is the ranker: ``ZhongtaiRecommender._fit_ranker`` rebuilds the components on
up to six held-out windows and trains a gradient-boosted classifier on their candidates (16.2
of the step's 24-25 CPU s at 2,500 customers x 400 days; the components of the whole history,
item-kNN similarities included, 0.2: bench/README.md, "Incremental"). So the store keeps what
the fit learned (``ZhongtaiRecommender.learned``: the ranker, its feature columns, the cold
users' popularity order) and every run refits the components on all of today's interactions
(``refresh``): today's histories, due-ness, item-kNN similarities, popularity and trends, so a
new interaction changes a customer's list as after a refit; only the blend is a few days old.

``data/models/recs/`` (``DataPaths.models``; generated, never in git): ``ranker.joblib`` and
``manifest.json`` (the fit date: the last day of data it saw, when it was fitted, the feature
columns, the settings, the scikit-learn and numpy versions, the file's SHA-256).
:func:`fit_or_load` reuses it unless it cannot serve the data; then it refits and replaces it:

- no fit is stored, the manifest or the file cannot be read, the file does not match the
  manifest's SHA-256 or is not a fit of the manifest's columns: a damaged store is refitted,
  never scored from (the reason is in the asset's metadata);
- the fit is ``refit_every`` days of data old or more (the weekly cadence,
  ``orchestration.defs.recs.REFIT_EVERY``), or the data ends before it;
- the settings or the library versions changed;
- the feature columns of today's components are not the fit's: a signal group (purchase,
  browse: one kNN column each) appeared or went. New SKUs, customers, segments and categories
  are served without a refit: the ranker's features are shares, counts and times per
  candidate, never an item or user id, and today's components cover every SKU in the data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import polars as pl

from models import fitstore
from models.fitstore import FitInfo, NoFit, Stale, StoreError
from models.recs.model import LEARNED, RecsConfig, ZhongtaiRecommender
from models.recs.warehouse import SECONDS_PER_DAY

FORMAT = 1
MODEL_FILE = "ranker.joblib"
MANIFEST = "manifest.json"


def settings_of(cfg: RecsConfig, horizon_days: float | None) -> dict:
    """What changes the fit (every hyperparameter, the ranker's held-out horizon)."""
    return {**dataclasses.asdict(cfg), "horizon_days": horizon_days}


def versions() -> dict:
    import numpy

    return {"sklearn": fitstore.sklearn_version(), "numpy": numpy.__version__}


def date_of(ts: float) -> dt.date:
    """The calendar day of ``ts`` (days since 1970-01-01, as the warehouse reads them)."""
    return dt.datetime.fromtimestamp(math.floor(ts) * SECONDS_PER_DAY, dt.UTC).date()


def read_manifest(directory: Path) -> dict:
    """The stored fit's manifest, with the fields the checks read; :class:`StoreError` naming
    the file otherwise."""
    path = Path(directory) / MANIFEST
    manifest = fitstore.read_manifest(path, FORMAT, "recommender")
    missing = [k for k in ("fit_date", "fit_now", "features", "settings") if k not in manifest]
    if missing or not isinstance(manifest.get("fit_now"), int | float):
        raise StoreError(f"{path}: no {missing or ['numeric fit_now']} in the manifest")
    return manifest


def load_learned(directory: Path, manifest: dict) -> dict:
    """The stored ``learned`` parts, checked against the manifest (SHA-256, keys, the
    ranker's number of columns); :class:`StoreError` naming the file otherwise."""
    path = Path(directory) / MODEL_FILE
    learned = fitstore.load(path, manifest)
    if not isinstance(learned, dict) or set(learned) != set(LEARNED):
        raise StoreError(f"{path}: not a recommender fit (keys {sorted(LEARNED)})")
    ranker, names = learned["ranker"], learned["feature_names"]
    if ranker is not None and getattr(ranker, "n_features_in_", None) != len(names or []):
        raise StoreError(
            f"{path}: the ranker has {getattr(ranker, 'n_features_in_', None)} columns, "
            f"its feature names {len(names or [])}"
        )
    return learned


def why_refit(manifest: dict, now: float, settings: dict, refit_every: int) -> str | None:
    """Why the stored fit of ``manifest`` cannot serve data ending at ``now`` (None: it can,
    as far as the manifest tells; the feature columns are checked on today's components)."""
    old = fitstore.too_old(date_of(manifest["fit_now"]), date_of(now), refit_every)
    if old is not None:
        return old
    wanted = {"settings": settings, **versions()}
    for key, value in wanted.items():
        was = manifest.get(key)
        if was != value:
            if isinstance(was, dict) and isinstance(value, dict):  # name the settings changed
                keys = sorted(k for k in was.keys() | value.keys() if was.get(k) != value.get(k))
                was = {k: was.get(k) for k in keys}
                value = {k: value.get(k) for k in keys}
            return f"{key} changed: fitted with {was!r}, now {value!r}"
    return None


def fit(
    train: pl.DataFrame,
    cfg: RecsConfig,
    horizon_days: float | None,
    segments: dict | None = None,
    categories: dict | None = None,
) -> tuple[ZhongtaiRecommender, dict]:
    """A new fit on ``train`` and its manifest."""
    model = ZhongtaiRecommender(cfg, horizon_days=horizon_days).fit(train, segments, categories)
    now = float(train["ts"].max())
    manifest = {
        "format": FORMAT,
        "fit_date": str(date_of(now)),
        "fit_now": now,
        "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": train.height,
        "users": len(model.index.users),
        "items": len(model.index.items),
        "features": model.components.feature_names(),
        "ranker": model.ranker_info.get("ranker", ""),
        "settings": settings_of(cfg, horizon_days),
        **versions(),
        "model_file": MODEL_FILE,
    }
    return model, manifest


def fit_or_load(
    train: pl.DataFrame,
    cfg: RecsConfig,
    horizon_days: float | None,
    directory: Path,
    refit_every: int,
    segments: dict | None = None,
    categories: dict | None = None,
) -> tuple[ZhongtaiRecommender, FitInfo]:
    """The recommender for ``train``: the stored fit's ranker with components of ``train``
    when it can serve them (``FitInfo`` action "reused"), else a new fit, stored ("refitted",
    with the reason: no fit, stale, damaged, incompatible; ``refit_every`` 0: always)."""
    directory = Path(directory)
    try:
        manifest = read_manifest(directory)
        now = float(train["ts"].max())
        reason = why_refit(manifest, now, settings_of(cfg, horizon_days), refit_every)
        if reason is not None:
            raise Stale(reason)
        learned = load_learned(directory, manifest)
        model = ZhongtaiRecommender(cfg, horizon_days=horizon_days).refresh(
            train, learned, segments, categories
        )
        names = model.components.feature_names()
        if names != manifest["features"] or (
            learned["feature_names"] is not None and names != learned["feature_names"]
        ):
            added = [n for n in names if n not in manifest["features"]]
            dropped = [n for n in manifest["features"] if n not in names]
            raise Stale(f"feature columns changed: added {added}, dropped {dropped}")
        age = math.floor(now) - math.floor(manifest["fit_now"])
        why = f"stored fit of {manifest['fit_date']} is {age} days old (cadence {refit_every} days)"
        return model, FitInfo("reused", why, manifest, directory)
    except (NoFit, Stale) as exc:
        reason = str(exc)
    except StoreError as exc:
        reason = f"stored fit unusable: {exc}"
    model, manifest = fit(train, cfg, horizon_days, segments, categories)
    manifest = fitstore.save(directory, MODEL_FILE, MANIFEST, model.learned(), manifest)
    return model, FitInfo("refitted", reason, manifest, directory)
