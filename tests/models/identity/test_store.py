"""The stored Splink model of the probabilistic tier (``models/identity/store.py``): a new
day predicts with it while it is fresh; a stale, damaged or other-rules store, or a model of
other comparisons, is retrained with the reason; ``zhongtai identity resolve`` trains on its
own input every time and never reads or writes the store."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from models.identity import records
from models.identity.marketplace import resolve_linked
from models.identity.store import (
    MANIFEST,
    MODEL_FILE,
    ModelInfo,
    after_run,
    model_for_run,
    save,
)
from orchestration.cli import app
from tests.models.identity.febrl_like import febrl_like
from tests.models.identity.test_names_and_tiers import _marketplace_demo

DAY = dt.date(2025, 3, 1)
SHA = "a" * 64


@pytest.fixture(scope="module")
def demo():
    return _marketplace_demo(n=300)


@pytest.fixture(scope="module")
def trained(rules, demo):
    ids, names = demo
    _, links, _, stats = resolve_linked(ids, rules, attributes=names)
    return links, stats["splink"]


def _pairs(links: pl.DataFrame) -> pl.DataFrame:
    return links.select("record_l", "record_r", "match_weight").sort("record_l", "record_r")


def test_a_stored_model_is_reused_without_training_and_links_the_same(
    rules, demo, trained, monkeypatch
):
    ids, names = demo
    links, used = trained
    assert used["trained"] is True and links.height > 100
    assert used["model"]["comparisons"] and "mismatch" not in used

    def no_training(*args, **kwargs):
        raise AssertionError("a reused model must not train")

    monkeypatch.setattr(records, "_train", no_training)
    _, again, _, stats = resolve_linked(ids, rules, attributes=names, model=used["model"])
    assert stats["splink"]["trained"] is False and "mismatch" not in stats["splink"]
    assert "trained model reused" in stats["probabilistic_notes"]
    a, b = _pairs(links), _pairs(again)
    assert a.select("record_l", "record_r").equals(b.select("record_l", "record_r"))
    assert (a["match_weight"] - b["match_weight"]).abs().max() < 1e-9


def test_a_model_of_other_comparisons_is_retrained(rules, demo, trained, tmp_path):
    ids, names = demo
    _, used = trained
    fewer = {**used["model"], "comparisons": used["model"]["comparisons"][:-1]}
    _, links, _, stats = resolve_linked(ids, rules, attributes=names, model=fewer)
    assert stats["splink"]["trained"] is True
    assert "comparisons changed" in stats["splink"]["mismatch"]
    assert links.height > 100
    # the store said "reused"; the run trained, stores the new model and says why
    planned = ModelInfo("reused", "fresh", {}, tmp_path / "identity")
    info = after_run(planned, stats["splink"], DAY, SHA)
    assert info.action == "trained" and "does not fit this data" in info.reason
    assert model_for_run(tmp_path / "identity", DAY, SHA, 7)[0] == stats["splink"]["model"]


MODEL = {
    "link_type": "dedupe_only",
    "comparisons": [{"output_column_name": "x", "comparison_levels": [{"sql_condition": "ELSE"}]}],
}


def _trained_store(store, day=DAY, sha=SHA):
    model, planned = model_for_run(store, day, sha, 7)
    assert model is None and planned.action == "trained"
    return after_run(planned, {"trained": True, "model": MODEL}, day, sha)


def test_no_store_trains_then_the_model_is_reused_while_fresh(tmp_path):
    store = tmp_path / "identity"
    model, planned = model_for_run(store, DAY, SHA, 7)
    assert model is None and "no stored fit" in planned.reason
    info = after_run(planned, {"trained": True, "model": MODEL}, DAY, SHA)
    assert info.action == "trained" and info.manifest["data_through"] == "2025-03-01"
    assert json.loads((store / MODEL_FILE).read_text()) == MODEL
    meta = info.metadata()
    assert meta["splink_model"] == "trained" and meta["splink_trained_through"] == "2025-03-01"
    for days in (0, 6):
        model, planned = model_for_run(store, DAY + dt.timedelta(days=days), SHA, 7)
        assert model == MODEL and planned.action == "reused" and "fresh" in planned.reason
    # a reused run leaves the store as it was
    before = (store / MANIFEST).read_text()
    assert after_run(planned, {"trained": False, "model": MODEL}, DAY, SHA) is planned
    assert (store / MANIFEST).read_text() == before


@pytest.mark.parametrize(
    ("day", "sha", "every", "reason"),
    [
        (DAY + dt.timedelta(days=7), SHA, 7, "7 days older than the data (cadence 7)"),
        (DAY - dt.timedelta(days=1), SHA, 7, "before the model's last day"),
        (DAY, "b" * 64, 7, "rules file changed"),
        (DAY, SHA, 0, "cadence 0"),
    ],
)
def test_a_stale_model_or_other_rules_retrain_with_the_reason(tmp_path, day, sha, every, reason):
    store = tmp_path / "identity"
    _trained_store(store)
    model, planned = model_for_run(store, day, sha, every)
    assert model is None and planned.action == "trained" and reason in planned.reason


def test_another_splink_version_retrains(tmp_path):
    store = tmp_path / "identity"
    _trained_store(store)
    manifest = json.loads((store / MANIFEST).read_text())
    (store / MANIFEST).write_text(json.dumps({**manifest, "splink": "0.0.1"}))
    model, planned = model_for_run(store, DAY, SHA, 7)
    assert model is None and "Splink changed: trained with 0.0.1" in planned.reason


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda s: (s / MODEL_FILE).write_text('{"comparisons": []}'), "does not match"),
        (lambda s: (s / MODEL_FILE).unlink(), "model file missing"),
        (lambda s: (s / MANIFEST).write_text("{not json"), "unreadable manifest"),
        (lambda s: (s / MANIFEST).write_text('{"format": 1}'), "incomplete manifest"),
    ],
)
def test_a_damaged_store_is_retrained_never_used(tmp_path, damage, reason):
    store = tmp_path / "identity"
    _trained_store(store)
    damage(store)
    model, planned = model_for_run(store, DAY, SHA, 7)
    assert model is None and planned.action == "trained"
    assert "stored model unusable" in planned.reason and reason in planned.reason
    # the run's training replaces it
    info = after_run(planned, {"trained": True, "model": MODEL}, DAY, SHA)
    assert model_for_run(store, DAY, SHA, 7)[0] == MODEL and info.action == "trained"


def test_nothing_scored_leaves_the_store_alone(tmp_path):
    store = tmp_path / "identity"
    _, planned = model_for_run(store, DAY, SHA, 7)
    info = after_run(planned, {}, DAY, SHA)
    assert info.action == "none" and not store.exists()


def test_the_cli_trains_on_its_own_input_every_time(tmp_path, data_dir, monkeypatch):
    # a fresh model in the data tree's store: the CLI must neither read nor replace it
    store = data_dir.models / "identity"
    save(store, MODEL, dt.date.today(), SHA, "test")
    before = (store / MANIFEST).read_text()
    calls = []
    train = records._train
    monkeypatch.setattr(records, "_train", lambda *a, **k: (calls.append(1), train(*a, **k)))
    febrl_like(persons=80, seed=3).write_parquet(tmp_path / "records.parquet")
    for n in (1, 2):
        result = CliRunner().invoke(
            app,
            [
                "identity",
                "resolve",
                "--input",
                str(tmp_path / "records.parquet"),
                "--output",
                str(tmp_path / f"clusters{n}.parquet"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert len(calls) == n
    assert (store / MANIFEST).read_text() == before
