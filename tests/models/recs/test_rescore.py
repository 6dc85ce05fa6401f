"""A new day's lists (models/recs/rescore.py): an incremental run scores only the customers
whose inputs changed and keeps every other customer's stored list as it was; a customer whose
stored list breaks today's rules is scored again; a full run equals scoring everyone."""

from __future__ import annotations

import polars as pl
import pytest

from models.recs import rescore
from models.recs.model import RecsConfig, ZhongtaiRecommender
from models.recs.rescore import Previous, day_lists, why_full
from models.recs.warehouse import ServingInputs
from tests.models.recs.synthetic import synthetic_interactions

CFG = RecsConfig(ranker_max_iter=10, ranker_min_positives=5)
EPOCH = 20_000.0
DAYS = 90
FITTED_AT = "2026-01-01T00:00:00+00:00"
N, PER_CATEGORY = 10, 4


def _frame() -> pl.DataFrame:
    f = synthetic_interactions(users=120, items=40, days=DAYS, seed=5)
    return f.with_columns(
        pl.col("ts") + EPOCH,
        pl.lit("purchase").alias("group"),
        pl.lit(True).alias("target"),
        pl.lit("tmall").alias("channel"),
    )


def _inputs(frame: pl.DataFrame, stock: pl.DataFrame | None = None, segment=None) -> ServingInputs:
    users = sorted(frame["user"].unique().to_list())
    items = sorted({f"i{k}" for k in range(40)})
    customers = pl.DataFrame(
        {
            "customer_id": users,
            "channel": ["tmall"] * len(users),
            "store": [None] * len(users),
            "city": [None] * len(users),
            "segment": [segment.get(u, "a") if segment else "a" for u in users],
        },
        schema={c: pl.String for c in ("customer_id", "channel", "store", "city", "segment")},
    )
    products = pl.DataFrame(
        {"sku": items, "name": items, "category": [f"c{int(i[1:]) % 5}" for i in items]}
    )
    if stock is None:
        stock = pl.DataFrame({"sku": items, "atp": [10.0] * len(items)})
    availability = stock.select(
        pl.lit("tmall").alias("channel"),
        pl.lit(None, pl.String).alias("location_id"),
        pl.lit(None, pl.String).alias("city"),
        "sku",
        pl.col("atp").cast(pl.Float64),
    )
    return ServingInputs(
        frame=frame,
        products=products,
        customers=customers,
        availability=availability,
        assortment=pl.DataFrame(schema={"channel": pl.String, "sku": pl.String}),
        durables=pl.DataFrame(schema={"customer_id": pl.String, "sku": pl.String}),
        segments=dict(customers.select("customer_id", "segment").iter_rows()),
        categories=dict(products.select("sku", "category").iter_rows()),
        now=float(frame["ts"].max()),
        sources={},
    )


def _model(inputs: ServingInputs, learned: dict) -> ZhongtaiRecommender:
    """The stored ranker with the components of ``inputs`` (what a reusing run scores with)."""
    return ZhongtaiRecommender(CFG, horizon_days=14.0).refresh(
        inputs.frame.drop("channel"), learned, inputs.segments, inputs.categories
    )


def _run(inputs, model, previous, full_reason=None, consented=()):
    return day_lists(
        inputs, model, list(consented), previous, full_reason, FITTED_AT, N, PER_CATEGORY
    )


def _previous(lists) -> Previous:
    return Previous(lists.recs, lists.inputs, lists.run.row(0, named=True))


@pytest.fixture(scope="module")
def day0():
    """Yesterday: the ranker fitted, every customer scored (a full build)."""
    frame = _frame()
    yesterday = frame.filter(pl.col("ts") < EPOCH + DAYS - 1)
    inputs = _inputs(yesterday)
    model = ZhongtaiRecommender(CFG, horizon_days=14.0).fit(
        yesterday.drop("channel"), inputs.segments, inputs.categories
    )
    lists = _run(inputs, model, None, "not an incremental run")
    assert lists.rescored.height == inputs.customers.height
    return model.learned(), yesterday, lists


def _today(yesterday: pl.DataFrame, buyer: str, item: str) -> pl.DataFrame:
    """Yesterday's rows and one purchase of ``buyer`` a day later."""
    row = yesterday.filter(pl.col("user") == buyer).head(1)
    return pl.concat(
        [
            yesterday,
            row.with_columns(
                pl.lit(item).alias("item"), pl.lit(yesterday["ts"].max() + 1.0).alias("ts")
            ),
        ]
    )


def _rows(lists: pl.DataFrame, customers) -> pl.DataFrame:
    return lists.filter(pl.col("customer_id").is_in(list(customers))).sort("customer_id", "rank")


def test_an_incremental_run_scores_only_the_changed_customers(day0):
    learned, yesterday, before = day0
    today = _today(yesterday, "u7", "i3")
    inputs = _inputs(today)
    model = _model(inputs, learned)
    day = _run(inputs, model, _previous(before))
    assert day.full_reason is None
    assert dict(day.rescored.iter_rows()) == {"u7": rescore.INTERACTIONS}
    # everyone else: their stored rows, unchanged
    others = set(inputs.customers["customer_id"]) - {"u7"}
    assert _rows(day.recs, others).equals(_rows(before.recs, others))
    # the changed customer: the rows a full scoring of today gives them
    full = _run(inputs, model, _previous(before), "weekly_refresh")
    assert _rows(day.recs, ["u7"]).equals(_rows(full.recs, ["u7"]))
    assert not _rows(day.recs, ["u7"]).equals(_rows(before.recs, ["u7"]))
    # every customer in scope still has a list; the state says who was scored when
    assert set(day.recs["customer_id"]) == set(inputs.customers["customer_id"])
    scored = dict(day.inputs.select("customer_id", "scored_now").iter_rows())
    assert scored["u7"] == inputs.now and scored["u1"] == before.run["now"][0]
    meta = day.metadata()
    assert meta["rescored"] == 1 and meta["kept"] == len(others)
    assert meta["rescored_by_reason"] == {rescore.INTERACTIONS: 1}


def test_a_customer_whose_stored_item_went_out_of_stock_is_scored_again(day0):
    learned, yesterday, before = day0
    top = before.recs.filter((pl.col("customer_id") == "u2") & (pl.col("rank") == 1))["sku"][0]
    holders = set(before.recs.filter(pl.col("sku") == top)["customer_id"])
    items = [f"i{k}" for k in range(40)]
    stock = pl.DataFrame({"sku": items, "atp": [0.0 if i == top else 10.0 for i in items]})
    inputs = _inputs(yesterday, stock)  # no new interactions: only the stock moved
    day = _run(inputs, _model(inputs, learned), _previous(before))
    assert day.full_reason is None
    assert dict(day.rescored.iter_rows()) == {c: rescore.RULES for c in holders}
    assert top not in set(day.recs["sku"])
    others = set(inputs.customers["customer_id"]) - holders
    assert others and _rows(day.recs, others).equals(_rows(before.recs, others))


def test_new_moved_and_dropped_customers(day0):
    learned, yesterday, before = day0
    newcomer = yesterday.filter(pl.col("user") == "u3").with_columns(pl.lit("new").alias("user"))
    today = pl.concat([yesterday.filter(pl.col("user") != "u5"), newcomer])
    inputs = _inputs(today, segment={"u9": "b"})
    day = _run(inputs, _model(inputs, learned), _previous(before), consented=["u11"])
    assert dict(day.rescored.iter_rows()) == {
        "new": rescore.NEW,
        "u9": rescore.PROFILE,
        "u11": rescore.CONSENT,
    }
    assert "u5" not in set(day.recs["customer_id"]) and "new" in set(day.recs["customer_id"])


def test_a_full_or_weekly_run_equals_scoring_everyone(day0):
    learned, yesterday, before = day0
    inputs = _inputs(_today(yesterday, "u7", "i3"))
    model = _model(inputs, learned)
    everyone, _ = inputs.serve(model, N, PER_CATEGORY)
    for reason in ("weekly_refresh", "rescore_all asked (RecsRunConfig)"):
        day = _run(inputs, model, _previous(before), reason)
        assert day.full_reason == reason
        assert day.recs.equals(rescore.as_lists(everyone))
        assert day.rescored.height == inputs.customers.height
    # and it is not what the incremental run keeps: the day's components moved some lists
    inc = _run(inputs, model, _previous(before))
    assert not inc.recs.equals(rescore.as_lists(everyone))


def test_the_stored_lists_are_not_carried_over_when_they_cannot_be(day0):
    _, _, before = day0
    prev = _previous(before)
    now, settings = prev.run["now"], {"per_customer": N, "max_per_category": PER_CATEGORY}
    assert why_full(prev, now + 1, FITTED_AT, settings, 7) is None
    assert "no stored lists" in why_full(None, now, FITTED_AT, settings, 7)
    assert "ranker changed" in why_full(prev, now + 1, "another fit", settings, 7)
    assert "settings changed" in why_full(
        prev, now + 1, FITTED_AT, {**settings, "per_customer": 5}, 7
    )
    assert "7 days of data old" in why_full(prev, now + 7, FITTED_AT, settings, 7)
    assert "before the stored lists" in why_full(prev, now - 1, FITTED_AT, settings, 7)
    cut = Previous(prev.lists.slice(1), prev.inputs, prev.run)  # rows deleted since
    assert "changed since they were written" in why_full(cut, now + 1, FITTED_AT, settings, 7)
