"""The stored fit (models/forecast/store.py): the daily forecast predicts from it without
refitting while it is fresh and can serve the data, and refits when it is stale, missing,
damaged, or fitted on other columns or categories."""

import hashlib
import json
import shutil

import numpy as np
import polars as pl
import pytest

from models.forecast.backtest import forecast_at
from models.forecast.model import ModelSettings
from models.forecast.panel import make_panel
from models.forecast.pipeline import future_forecast
from models.forecast.store import MANIFEST, MODEL_FILE, fit_or_load, load_models, read_manifest
from tests.models.forecast.synthetic import synthetic_frame

H = 7
SETTINGS = ModelSettings(max_iter=8, max_train_rows=2_000, jobs=2)
DAYS = 80


def _frame(days: int = DAYS) -> pl.DataFrame:
    frame = synthetic_frame(n_series=10, n_days=days)
    cat = pl.col("unique_id").str.slice(-1).cast(pl.Int32) % 2
    return frame.with_columns(
        category=pl.when(cat == 0).then(pl.lit("tea")).otherwise(pl.lit("cups"))
    )


def _panel(frame: pl.DataFrame, future=("promo",)):
    return make_panel(frame, "D", future_exog=list(future), static=["category"])


@pytest.fixture(scope="module")
def _base_store(tmp_path_factory):
    """The fit of the base panel, stored once; tests change a copy (``stored``)."""
    store = tmp_path_factory.mktemp("base_fit")
    assert fit_or_load(_panel(_frame()), H, SETTINGS, store, 7)[2].action == "refitted"
    return store


@pytest.fixture
def stored(_base_store, tmp_path):
    """A copy of the base panel's stored fit."""
    return shutil.copytree(_base_store, tmp_path / "forecast")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _until(frame: pl.DataFrame, days: int) -> pl.DataFrame:
    return frame.filter(pl.col("ds") < pl.col("ds").min() + pl.duration(days=days))


def test_a_new_day_predicts_from_the_stored_fit_without_refitting(tmp_path, fits):
    frame = _frame(DAYS + 1)
    store = tmp_path / "forecast"
    day0, _, first = future_forecast(_panel(_until(frame, DAYS)), H, SETTINGS, "hgb_cqr", store, 7)
    assert first.action == "refitted" and "no stored fit" in first.reason
    assert len(fits) == 7  # 3 quantile + Poisson on the whole history, 3 for calibration
    before = _digest(store / MODEL_FILE)
    fit_date = read_manifest(store)["fit_date"]
    fits.clear()

    new_day, _, info = future_forecast(_panel(frame), H, SETTINGS, "hgb_cqr", store, 7)
    assert info.action == "predicted" and fits == []
    assert _digest(store / MODEL_FILE) == before  # the stored model is unchanged
    assert info.metadata()["fit_date"] == fit_date == str(day0["cutoff"].max())
    last_day = frame["ds"].max()
    assert new_day["cutoff"].unique().to_list() == [last_day]
    assert new_day["ds"].min() == last_day + np.timedelta64(1, "D")
    assert new_day["ds"].min() > day0["ds"].min()
    # intervals from the stored calibration: P10 <= P50 <= P90 and some interval is open
    assert (new_day["p10"] <= new_day["p50"]).all() and (new_day["p50"] <= new_day["p90"]).all()
    assert (new_day["p90"] > new_day["p10"]).any()


def test_predicting_from_the_stored_fit_equals_the_forecast_fitted_in_the_run(stored):
    """The stored models and calibration are the fit's: predicting at the fit's own cutoff
    gives exactly what fitting and forecasting there gives, for every interval method."""
    panel = _panel(_frame())
    cutoff = panel.n_periods - 1
    again, mapped, info = fit_or_load(panel, H, SETTINGS, stored, 7)
    assert info.action == "predicted"
    models = ["hgb_quantile", "hgb_cqr", "hgb_conformal"]
    direct, _ = forecast_at(panel, cutoff, H, SETTINGS, models)
    served, _ = forecast_at(mapped, cutoff, H, SETTINGS, models, fitted=again)
    for m in [*models, "hgb_mean"]:
        for left, right in zip(direct[m], served[m], strict=True):
            np.testing.assert_array_equal(left, right)


def test_a_stale_fit_is_refitted(tmp_path, fits):
    frame = _frame(DAYS + 7)
    future_forecast(_panel(_until(frame, DAYS)), H, SETTINGS, "hgb_quantile", tmp_path, 7)
    fits.clear()
    _, _, info = future_forecast(_panel(frame), H, SETTINGS, "hgb_quantile", tmp_path, 7)
    assert info.action == "refitted" and "7 days older" in info.reason
    assert len(fits) == 7
    assert read_manifest(tmp_path)["fit_date"] == str(frame["ds"].max())
    # six days later it would have predicted; cadence 0 refits every run
    _, _, info = future_forecast(_panel(frame), H, SETTINGS, "hgb_quantile", tmp_path, 0)
    assert info.action == "refitted"


def test_a_changed_schema_or_an_unseen_category_refits(stored):
    frame, tmp_path = _frame(), stored
    extra = frame.with_columns(discount=pl.col("promo") * 0.2)
    _, _, info = fit_or_load(_panel(extra, ("promo", "discount")), H, SETTINGS, tmp_path, 7)
    assert info.action == "refitted" and "feature schema changed" in info.reason
    assert "discount" in info.reason
    assert "discount" in read_manifest(tmp_path)["features"]
    # a category the fit never saw: its code means nothing to the models
    new_cat = extra.with_columns(
        category=pl.when(pl.col("unique_id") == "S03").then(pl.lit("bags")).otherwise("category")
    )
    _, _, info = fit_or_load(_panel(new_cat, ("promo", "discount")), H, SETTINGS, tmp_path, 7)
    assert info.action == "refitted" and "'bags'" in info.reason
    # other hyperparameters: another model
    other = ModelSettings(**{**SETTINGS.as_dict(), "max_iter": 16})
    _, _, info = fit_or_load(_panel(new_cat, ("promo", "discount")), H, other, tmp_path, 7)
    assert info.action == "refitted" and "settings changed" in info.reason


def test_a_new_series_of_known_categories_is_served_with_the_fits_codes(tmp_path):
    """Series S00-S08 fitted (categories cups, tea); S09 appears later, and a panel without
    any 'cups' series codes 'tea' as 0 where the fit had 1: the stored fit maps it back."""
    frame = _frame()
    fit_or_load(_panel(frame.filter(pl.col("unique_id") != "S09")), H, SETTINGS, tmp_path, 7)
    tea_only = frame.filter(pl.col("category") == "tea")
    panel = _panel(tea_only)
    assert panel.static_labels["category"] == ["tea"]
    _, mapped, info = fit_or_load(panel, H, SETTINGS, tmp_path, 7)
    assert info.action == "predicted"
    assert mapped.static_labels["category"] == ["cups", "tea"]
    assert set(mapped.static["category"].tolist()) == {1}


@pytest.mark.parametrize("damage", ["garbage", "flipped_byte", "manifest", "model_missing"])
def test_a_damaged_store_is_refitted_never_predicted_from(stored, fits, damage):
    panel, tmp_path = _panel(_frame()), stored
    model_file = tmp_path / MODEL_FILE
    if damage == "garbage":
        model_file.write_bytes(b"not a model")
    elif damage == "flipped_byte":
        data = bytearray(model_file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model_file.write_bytes(bytes(data))
    elif damage == "manifest":
        (tmp_path / MANIFEST).write_text('{"format": 1, "fit_da')
    else:
        model_file.unlink()
    fits.clear()
    _, _, info = fit_or_load(panel, H, SETTINGS, tmp_path, 7)
    assert info.action == "refitted" and info.reason.startswith("stored fit unusable")
    assert str(tmp_path) in info.reason  # names the file
    assert len(fits) == 7
    # the store is whole again and serves the next run
    load_models(tmp_path, read_manifest(tmp_path))
    assert fit_or_load(panel, H, SETTINGS, tmp_path, 7)[2].action == "predicted"


def test_a_model_file_that_matches_its_manifest_but_is_not_a_fit_is_refused(stored):
    """A manifest rewritten to the digest of a wrong file (a hand copy, another version)
    still cannot make the forecast predict from it."""
    import joblib

    panel, tmp_path = _panel(_frame()), stored
    joblib.dump({"not": "a fit"}, tmp_path / MODEL_FILE)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["sha256"] = _digest(tmp_path / MODEL_FILE)
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    _, _, info = fit_or_load(panel, H, SETTINGS, tmp_path, 7)
    assert info.action == "refitted" and "not a fit" in info.reason


def test_the_asset_check_fails_on_a_stale_or_damaged_store(data_dir, _base_store):
    """``demand_forecast_fit_is_stored_and_fresh``: passes on the fit the forecast was made
    with, fails once the forecast's cutoff is a cadence past it or the model file changed."""
    import duckdb

    from orchestration.defs.forecast import REFIT_EVERY, demand_forecast_fit_is_stored_and_fresh

    store = shutil.copytree(_base_store, data_dir.models / "forecast")
    frame, _, info = future_forecast(_panel(_frame()), H, SETTINGS, "hgb_cqr", store, 7)
    assert info.action == "predicted"
    con = duckdb.connect(str(data_dir.warehouse))
    con.execute("create schema forecast")
    con.register("frame", frame.to_arrow())
    con.execute("create table forecast.demand_forecast as select * from frame")
    con.close()
    check = demand_forecast_fit_is_stored_and_fresh()
    assert check.passed and check.metadata["age_days"].value == 0
    with duckdb.connect(str(data_dir.warehouse)) as con:
        con.execute(f"update forecast.demand_forecast set cutoff = cutoff + {REFIT_EVERY.days}")
    check = demand_forecast_fit_is_stored_and_fresh()
    assert not check.passed and check.metadata["age_days"].value == REFIT_EVERY.days
    (store / MODEL_FILE).write_bytes(b"not a model")
    check = demand_forecast_fit_is_stored_and_fresh()
    assert not check.passed and "does not match" in check.metadata["error"].value
