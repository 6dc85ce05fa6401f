"""The stored recommender fit (models/recs/store.py): a new day scores with the stored ranker
and components of its own interactions, without refitting, while the fit is fresh and can
serve the data; a stale, damaged or incompatible store is refitted with the reason."""

from __future__ import annotations

import json
import shutil

import joblib
import polars as pl
import pytest

from models.recs.model import RecsConfig, ZhongtaiRecommender
from models.recs.store import MANIFEST, MODEL_FILE, fit_or_load, read_manifest
from tests.models.recs.synthetic import synthetic_interactions

CFG = RecsConfig(ranker_max_iter=10, ranker_min_positives=5)
HORIZON = 14.0
EPOCH = 20_000.0  # ts in days since 1970 (2024-10-04), as the warehouse reads them
DAYS = 90


def _frame(days: float = DAYS + 1) -> pl.DataFrame:
    """Purchases of the synthetic shop up to ``days`` (the store's fit: up to DAYS)."""
    f = synthetic_interactions(users=150, items=40, days=days, seed=3)
    return f.with_columns(pl.col("ts") + EPOCH, pl.lit(True).alias("target"))


def _until(frame: pl.DataFrame, days: float) -> pl.DataFrame:
    return frame.filter(pl.col("ts") < EPOCH + days)


def _call(frame, store, refit_every=7, cfg=CFG):
    return fit_or_load(frame, cfg, HORIZON, store, refit_every)


@pytest.fixture(scope="module")
def _base_store(tmp_path_factory):
    """The fit on the first DAYS days, stored once; tests change a copy (``stored``)."""
    store = tmp_path_factory.mktemp("recs_fit")
    _, info = _call(_until(_frame(), DAYS), store)
    assert info.action == "refitted" and "no stored fit" in info.reason
    return store


@pytest.fixture
def stored(_base_store, tmp_path):
    return shutil.copytree(_base_store, tmp_path / "recs")


@pytest.fixture
def no_ranker_fit(monkeypatch):
    """Fail the test if anything fits the ranker (the fit's whole cost)."""

    def refuse(*a, **k):
        raise AssertionError("the ranker was fitted")

    monkeypatch.setattr(ZhongtaiRecommender, "_fit_ranker", refuse)


def test_a_new_day_reuses_the_stored_fit_without_refitting(stored, no_ranker_fit):
    before = (stored / MODEL_FILE).read_bytes()
    manifest = read_manifest(stored)
    model, info = _call(_frame(), stored)
    assert info.action == "reused" and "1 days old" in info.reason
    assert info.metadata()["fit_date"] == manifest["fit_date"] == "2025-01-01"
    assert (stored / MODEL_FILE).read_bytes() == before  # the store is not rewritten
    assert model.ranker is not None and model.feature_names == manifest["features"]
    # the components are today's: the new day's rows are in them
    assert model.components.now == float(_frame()["ts"].max())


def test_a_new_interaction_changes_the_customers_list(stored, no_ranker_fit):
    today = _frame()
    user = "u7"
    had = set(today.filter(pl.col("user") == user)["item"].to_list())
    new_item = next(f"i{k}" for k in range(40) if f"i{k}" not in had)
    last = float(today["ts"].max())
    bought = pl.DataFrame(
        {"user": [user] * 3, "item": [new_item] * 3, "ts": [last - 0.5, last - 0.3, last - 0.1]},
    ).with_columns(pl.lit(1.0).alias("weight"), pl.lit(True).alias("target"))
    without, info_a = _call(today, stored)
    with_it, info_b = _call(pl.concat([today, bought.select(today.columns)]), stored)
    assert info_a.action == info_b.action == "reused"
    a = without.recommend([user], 10)
    b = with_it.recommend([user], 10)
    assert a["item"].to_list() != b["item"].to_list()
    row = b.filter(pl.col("item") == new_item)
    assert row.height == 1 and row["source"][0] == "buy_again"
    # the other customers' kNN scores moved too: the similarities are today's
    sims_a = without.components.sims["all"].toarray()
    sims_b = with_it.components.sims["all"].toarray()
    assert (sims_a != sims_b).any()


def test_a_new_sku_is_served_without_a_refit(stored, no_ranker_fit):
    today = _frame()
    last = float(today["ts"].max())
    new = pl.DataFrame(
        {"user": [f"u{k}" for k in range(30)], "item": ["new_sku"] * 30, "ts": [last - 0.2] * 30}
    ).with_columns(pl.lit(1.0).alias("weight"), pl.lit(True).alias("target"))
    model, info = _call(pl.concat([today, new.select(today.columns)]), stored)
    assert info.action == "reused"
    recs = model.recommend([f"u{k}" for k in range(30)], 10)
    assert "new_sku" in recs["item"].to_list()


def test_a_stale_fit_is_refitted(stored):
    week_later = _until(_frame(DAYS + 8), DAYS + 7)
    _, info = _call(week_later, stored)
    assert info.action == "refitted" and "7 days older than the data" in info.reason
    assert read_manifest(stored)["fit_date"] == "2025-01-08"  # the store is replaced
    _, info = _call(_frame(), stored, refit_every=0)  # 0: every run refits
    assert info.action == "refitted"
    _, info = _call(_until(_frame(), DAYS - 10), stored)  # data that ends before the fit
    assert info.action == "refitted" and "before the fit's last day" in info.reason


def test_changed_settings_versions_or_signal_groups_refit(stored):
    shrunk = RecsConfig(ranker_max_iter=10, ranker_min_positives=5, shrink=3.0)
    _, info = _call(_frame(), stored, cfg=shrunk)
    assert info.action == "refitted"
    assert info.reason == "settings changed: fitted with {'shrink': 10.0}, now {'shrink': 3.0}"
    manifest = json.loads((stored / MANIFEST).read_text())
    (stored / MANIFEST).write_text(json.dumps({**manifest, "sklearn": "0.1"}))
    _, info = _call(_frame(), stored, cfg=shrunk)
    assert info.action == "refitted" and "sklearn changed" in info.reason
    # the fit knows one kNN signal group; today's data has two: other feature columns
    shutil.rmtree(stored)
    _call(_until(_frame(), DAYS), stored)
    groups = _frame().with_columns(
        pl.when(pl.col("ts").rank("ordinal") % 3 == 0)
        .then(pl.lit("browse"))
        .otherwise(pl.lit("purchase"))
        .alias("group")
    )
    _, info = _call(groups, stored)
    assert info.action == "refitted" and "feature columns changed" in info.reason
    assert "knn_browse" in info.reason


def test_a_damaged_store_is_refitted_with_the_file_named(stored):
    path = stored / MODEL_FILE
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    _, info = _call(_frame(), stored)
    assert info.action == "refitted" and info.reason.startswith("stored fit unusable")
    assert str(path) in info.reason and "sha256" in info.reason
    # a file that matches its manifest but is not a recommender fit
    joblib.dump({"ranker": None}, path)
    manifest = json.loads((stored / MANIFEST).read_text())
    from ingest.engine import file_sha256

    (stored / MANIFEST).write_text(json.dumps({**manifest, "sha256": file_sha256(path)}))
    _, info = _call(_frame(), stored)
    assert info.action == "refitted" and "not a recommender fit" in info.reason
    manifest = json.loads((stored / MANIFEST).read_text())
    del manifest["fit_now"]
    (stored / MANIFEST).write_text(json.dumps(manifest))
    _, info = _call(_frame(), stored)
    assert info.action == "refitted" and "no ['fit_now'] in the manifest" in info.reason
    (stored / MANIFEST).write_text("{not json")
    _, info = _call(_frame(), stored)
    assert info.action == "refitted" and "unreadable manifest" in info.reason
    # after each refit the store is whole again: the next day reuses it
    _, info = _call(_frame(), stored)
    assert info.action == "reused"
