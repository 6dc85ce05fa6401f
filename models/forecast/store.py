"""The fitted forecast kept between runs, so the daily forecast predicts instead of refitting.

``data/models/forecast/`` (``DataPaths.models``; generated, never in git) holds the global
models of the last fit with their calibration (``models.joblib``: a :class:`Fitted`) and a
small manifest (``manifest.json``): the fit date (the last day of data it saw; its training
targets end at ``complete_through``, the last settled day: ``models.forecast.settle``), when
it was fitted, the training window, the feature schema (column names in order, which are
categorical), the static labels (the categories' codes), the horizon, the model settings, the
scikit-learn version and the model file's SHA-256.

:func:`fit_or_load` predicts from the stored fit, with the features of the latest data,
unless the fit cannot serve the panel as it is now; then it refits and replaces the store:

- no fit is stored, or the manifest or the model file cannot be read, or the file does not
  match the manifest's SHA-256, or it is not a fit of the manifest's columns: a damaged store
  is refitted, never predicted from (the reason is in the asset's metadata);
- the fit is ``refit_every`` days of data or more older than the new cutoff (the cadence, 7
  days: ``orchestration.defs.forecast.REFIT_EVERY``), or the data ends before it;
- the frequency, horizon, first day of history, model settings or scikit-learn version
  changed, or the feature columns are not the fit's (a column added, dropped or renamed);
- a static category (category, location type, channel) appears that the fit never saw: its
  code would mean nothing to the models. A new SKU x location of known categories is served
  (the model is global: features are per series and scaled), its codes mapped to the fit's.

The conformal margins and CQR offsets come from the stored fit's own calibration slice (the
models fitted ``horizon`` days before the fit date on the same run), so a predict-only day
keeps the fit's interval calibration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np

from models import fitstore
from models.fitstore import NoFit, Stale, StoreError, write_atomic  # noqa: F401 (re-exported)
from models.fitstore import sklearn_version as _sklearn_version
from models.forecast.features import FeatureBuilder
from models.forecast.model import (
    METHODS,
    Fitted,
    GlobalModels,
    ModelSettings,
    fitted_at,
    needs_of,
    settled_end,
    training_anchors,
)
from models.forecast.panel import Panel
from models.forecast.settle import Settled

FORMAT = 1
MODEL_FILE = "models.joblib"
MANIFEST = "manifest.json"
# settings that change what is fitted (threads and jobs change only how fast; the settle lag
# moves with the deliveries from day to day, so a fit is not refitted for it: the manifest
# records the day its targets end, ``complete_through``)
FIT_SETTINGS = tuple(
    f.name
    for f in dataclasses.fields(ModelSettings)
    if f.name not in {"threads", "jobs", "settle_lag"}
)


class FitInfo(fitstore.FitInfo):
    """Whether this run refitted or predicted from the stored fit (``action``: "refitted" |
    "predicted"), and why; the metadata adds the fit's training window and settle day."""

    def metadata(self) -> dict:
        m = self.manifest
        return {
            **super().metadata(),
            "fit_training_window": f"{m.get('first_anchor', '')} .. "
            f"{m.get('complete_through', m.get('fit_date', ''))}",
            "fit_complete_through": m.get("complete_through", m.get("fit_date", "")),
            "fit_settle_reason": m.get("settle_reason", ""),
        }


def read_manifest(directory: Path) -> dict:
    """The stored fit's manifest; :class:`StoreError` naming the file when there is none or
    it cannot be read."""
    return fitstore.read_manifest(Path(directory) / MANIFEST, FORMAT, "forecast")


def matching_file(directory: Path, manifest: dict) -> Path:
    """The model file, when its SHA-256 is the manifest's; :class:`StoreError` naming it
    otherwise."""
    return fitstore.matching_file(Path(directory) / MODEL_FILE, manifest)


def load_models(directory: Path, manifest: dict) -> Fitted:
    """The stored :class:`Fitted`, checked against the manifest (SHA-256 of the file, the
    number of columns of every model); :class:`StoreError` naming the file otherwise."""
    path = Path(directory) / MODEL_FILE
    fitted = fitstore.load(path, manifest)
    if not isinstance(fitted, Fitted) or fitted.quantile is None or len(fitted.quantile) != 3:
        raise StoreError(f"{path}: not a fit of three quantile models")
    n = len(manifest["features"])
    regs = [*fitted.quantile, *([fitted.mean] if fitted.mean else [])]
    bad = [r for r in regs if getattr(r, "n_features_in_", None) != n]
    if bad:
        raise StoreError(f"{path}: a model has {bad[0].n_features_in_} columns, the manifest {n}")
    return fitted


def on_labels(panel: Panel, labels: dict[str, list]) -> Panel:
    """``panel`` with its static codes mapped to ``labels`` (a stored fit's); StoreError
    naming the first label the fit never saw."""
    static = {}
    for name, codes in panel.static.items():
        known = {v: i for i, v in enumerate(labels.get(name, []))}
        unseen = [v for v in panel.static_labels[name] if v not in known]
        if unseen:
            raise StoreError(f"static column {name!r}: {unseen[0]!r} is not among the fit's labels")
        lookup = np.array([known[v] for v in panel.static_labels[name]] + [-1], dtype=np.int64)
        static[name] = lookup[codes]  # code -1 (no value) stays -1
    return dataclasses.replace(
        panel, static=static, static_labels={k: list(labels.get(k, [])) for k in panel.static}
    )


def why_refit(
    manifest: dict, panel: Panel, horizon: int, settings: ModelSettings, refit_every: int
) -> str | None:
    """Why the stored fit of ``manifest`` cannot serve ``panel`` (None: it can)."""
    cutoff = panel.date(panel.n_periods - 1)
    old = fitstore.too_old(dt.date.fromisoformat(manifest["fit_date"]), cutoff, refit_every)
    if old is not None:
        return old
    wanted = {
        "freq": panel.freq,
        "horizon": horizon,
        "history_start": str(panel.start),
        "settings": {k: getattr(settings, k) for k in FIT_SETTINGS},
        "sklearn": _sklearn_version(),
    }
    for key, value in wanted.items():
        if manifest.get(key) != value:
            return f"{key} changed: fitted with {manifest.get(key)!r}, now {value!r}"
    try:
        mapped = on_labels(panel, manifest["static_labels"])
    except StoreError as exc:
        return f"a category the fit never saw: {exc}"
    names = FeatureBuilder(mapped, horizon).feature_names()
    if names != manifest["features"]:
        added = [n for n in names if n not in manifest["features"]]
        dropped = [n for n in manifest["features"] if n not in names]
        return f"feature schema changed: added {added}, dropped {dropped} (or reordered)"
    return None


def save(directory: Path, fitted: Fitted, manifest: dict) -> dict:
    """Write the models, then the manifest with their SHA-256 (``models.fitstore.save``)."""
    return fitstore.save(directory, MODEL_FILE, MANIFEST, fitted, manifest)


def fit(
    panel: Panel, horizon: int, settings: ModelSettings, settled: Settled | None = None
) -> tuple[Fitted, dict]:
    """Fit the global models on the panel (training targets up to its last settled day:
    ``settings.settle_lag`` periods before its last day), with the calibration of every
    interval method, and their manifest (which records the completeness day and why:
    ``settled``)."""
    cutoff = panel.n_periods - 1
    models = GlobalModels(panel, horizon, settings)
    models.fit(needs_of(cutoff, horizon, METHODS))
    fitted = fitted_at(models, cutoff, METHODS)
    names = models.builder.feature_names()
    last = settled_end(cutoff, settings)
    anchors = training_anchors(panel.freq, last, horizon, settings)
    manifest = {
        "format": FORMAT,
        "fit_date": str(panel.date(cutoff)),
        "complete_through": str(panel.date(last)),
        "settle_lag": settings.settle_lag,
        "settle_reason": settled.reason if settled else f"settle_lag {settings.settle_lag}",
        "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "first_anchor": str(panel.date(min(anchors))) if anchors else str(panel.date(cutoff)),
        "history_start": str(panel.start),
        "freq": panel.freq,
        "horizon": horizon,
        "series": panel.n_series,
        "features": names,
        "categorical": models.builder.categorical_mask(),
        "static_labels": {k: list(v) for k, v in panel.static_labels.items()},
        "settings": {k: getattr(settings, k) for k in FIT_SETTINGS},
        "sklearn": _sklearn_version(),
        "model_file": MODEL_FILE,
    }
    return fitted, manifest


def fit_or_load(
    panel: Panel,
    horizon: int,
    settings: ModelSettings,
    directory: Path,
    refit_every: int,
    settled: Settled | None = None,
) -> tuple[Fitted, Panel, FitInfo]:
    """The fit to forecast ``panel`` with: the stored one when it can serve the panel (the
    panel returned with its static codes on the fit's labels), else a new fit, stored."""
    directory = Path(directory)
    try:
        return stored_fit(panel, horizon, settings, directory, refit_every)
    except NoFit as exc:
        reason = str(exc)
    except Stale as exc:
        reason = str(exc)
    except StoreError as exc:
        reason = f"stored fit unusable: {exc}"
    fitted, manifest = fit(panel, horizon, settings, settled)
    if fitted.quantile is not None:  # a fit without training rows is not worth keeping
        manifest = save(directory, fitted, manifest)
    return fitted, panel, FitInfo("refitted", reason, manifest, directory)


def stored_fit(
    panel: Panel, horizon: int, settings: ModelSettings, directory: Path, refit_every: int
) -> tuple[Fitted, Panel, FitInfo]:
    """The stored fit and ``panel`` with its static codes on the fit's labels, when the fit
    can serve the panel; :class:`NoFit`, :class:`Stale` (why it cannot serve) or
    :class:`StoreError` (damaged) otherwise. What a predict that must not refit (one SKU group
    of the partitioned forecast) calls."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    reason = why_refit(manifest, panel, horizon, settings, refit_every)
    if reason is not None:
        raise Stale(reason)
    fitted = load_models(directory, manifest)
    mapped = on_labels(panel, manifest["static_labels"])
    why = f"stored fit of {manifest['fit_date']} is fresh (cadence {refit_every} days)"
    return fitted, mapped, FitInfo("predicted", why, manifest, directory)
