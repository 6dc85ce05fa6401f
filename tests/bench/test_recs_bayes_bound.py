"""bench/recs_bayes_bound.py on a tiny demo world, person by person (no identity resolution):
probabilities are probabilities, they predict what the generator then did, the Bayes ranker
beats popularity, and the realised window is never read."""

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400
DAYS, HORIZON, REPS = 150, 28, 60
CHANNELS = ["tmall", "jd", "douyin", "web", "wechat", "amazon", "pos"]


@pytest.fixture(scope="module")
def bb():
    spec = importlib.util.spec_from_file_location(
        "bench_recs_bayes_bound", ROOT / "bench" / "recs_bayes_bound.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_recs_bayes_bound"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def world(bb):
    latent = bb.build_latent(5, 1500, DAYS, dt.date(2024, 11, 1))
    lo, hi = (DAYS - HORIZON) * DAY, DAYS * DAY
    att = bb.Attribution.persons(len(latent.w.persons), CHANNELS)
    a = bb.simulate_window(latent, lo, hi, REPS, att, seed=1)
    b = bb.simulate_window(latent, lo, hi, REPS, att, seed=2)
    # what the generator did: served lines of real orders of persons, before / in the window
    w = latent.w
    real = w.orders.filter(
        ~pl.col("cancelled")
        & ~pl.col("is_test")
        & ~pl.col("is_brushing")
        & (pl.col("person_idx") >= 0)
    )
    lines = w.lines.join(real.select("order_idx", "person_idx", "t", "sec"), on="order_idx")
    at = pl.col("t") * DAY + pl.col("sec")
    train = lines.filter(at < lo).select("person_idx", "sku_idx").unique()
    test = lines.filter(at >= lo).select("person_idx", "sku_idx").unique()
    return latent, (lo, hi, att), a, b, train, test


def test_probabilities_are_shares_of_replications(world):
    _, _, a, _, _, _ = world
    assert a.reps == REPS and a.bought.min() >= 0 and a.any_bought.max() <= REPS
    # buying a SKU means buying something: P(s) <= P(any) for every customer and SKU
    assert (a.bought <= a.any_bought[:, None]).all()
    assert a.bought.sum() > 0
    # a receipt holds a SKU at most once
    assert 0 < a.walk_in_bought.max() <= a.walk_in_receipts


def test_the_bound_predicts_the_generator_and_beats_popularity(bb, world):
    latent, _, a, b, train, test = world
    n = len(latent.w.persons)
    pop = (
        train.group_by("sku_idx")
        .len()
        .sort(["len", "sku_idx"], descending=[True, False])["sku_idx"]
        .head(10)
        .to_list()
    )
    sets = {u: set(s) for u, s in test.group_by("person_idx").agg("sku_idx").iter_rows()}
    users = sorted(sets)
    pop_realised = np.mean([len(set(pop) & sets[u]) for u in users]) / 10
    p, sel = b.bought / REPS, b.any_bought / REPS
    # calibration on what the bound did not choose: the expected test users, purchases, and
    # precision of the popularity list, against what the generator drew
    assert abs(sel.sum() - len(users)) < 0.1 * len(users)
    assert abs(p.sum() - test.height) < 0.1 * test.height
    pop_expected = p[:, pop].sum() / (10 * sel.sum())
    assert abs(pop_expected - pop_realised) < 0.2 * pop_realised
    bound = bb.bound(a, b, np.arange(n), users, [sets[u] for u in users])
    assert 0 < bound.expected <= bound.expected_in_sample <= 1 and bound.lists.shape == (n, 10)
    # the Bayes ranker is the best a method can expect: above popularity, and what it
    # expects is what it gets on the realised window (within the noise of ~500 users)
    assert bound.expected > 1.1 * pop_expected
    assert bound.realised > pop_realised
    assert abs(bound.realised - bound.expected) < 0.2 * bound.expected


def test_the_realised_window_is_never_read(bb, world):
    """The same random streams on a world whose lines at or after the cutoff are scrambled
    give the same probabilities: the bound reads the latent state, not what was bought."""
    latent, (lo, hi, att), _, b, _, _ = world
    after = latent.attempts.filter(pl.col("t") * DAY + pl.col("sec") >= lo)["order_idx"]
    rng = np.random.default_rng(0)
    drawn = latent.drawn.with_columns(
        pl.when(pl.col("order_idx").is_in(after.implode()))
        .then(pl.Series(rng.integers(0, len(latent.w.products), latent.drawn.height)))
        .otherwise(pl.col("sku_idx"))
        .alias("sku_idx")
    )
    w = latent.w
    scrambled = bb.Latent(w, drawn, latent.attempts)
    saved = w.lines, w.orders
    w.lines, w.orders = w.lines.head(0), w.orders.head(0)
    try:
        again = bb.simulate_window(scrambled, lo, hi, REPS, att, seed=2)
    finally:
        w.lines, w.orders = saved
    assert (again.bought == b.bought).all() and (again.any_bought == b.any_bought).all()
    assert (again.walk_in_bought == b.walk_in_bought).all()
