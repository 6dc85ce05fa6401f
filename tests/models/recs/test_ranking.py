"""The ranking pieces on small hand-made data with known answers: candidate generation, the
kNN rank feature, the user groups and the ceiling of the evaluation, and the browse-only path
(customers who only viewed or carted get recommendations from their views, with reasons)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.recs.evaluate import ceiling, evaluate, user_groups
from models.recs.model import (
    RecsConfig,
    ZhongtaiRecommender,
    _contains,
    _row_ranks,
    _sorted_unique,
)
from models.recs.warehouse import explain, reasons, usual_channels


def test_row_ranks_within_each_users_candidates():
    rows = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.2, 0.9, 0.0, 0.5, 0.7])
    ranks = _row_ranks(scores, rows)
    assert ranks[:2].tolist() == [2.0, 1.0] and np.isnan(ranks[2])
    assert ranks[3:].tolist() == [2.0, 1.0]


def test_sorted_unique_and_contains():
    keys = _sorted_unique(np.array([5, 1, 5, 3, 1]))
    assert keys.tolist() == [1, 3, 5]
    assert _contains(keys, np.array([0, 1, 4, 5, 9])).tolist() == [False, True, False, True, False]
    assert _contains(np.array([], dtype=np.int64), np.array([1])).tolist() == [False]


def _browse_and_buy() -> pl.DataFrame:
    """Buyers b0..b9 view and buy p then q (co-viewed and co-bought); v only viewed p;
    n0..n4 buy popular item z. Purchases are target rows, views are browse rows."""
    rows = []
    for k in range(10):
        u = f"b{k}"
        rows += [
            (u, "p", 1.0 + k, 1.0, "browse", False),
            (u, "p", 2.0 + k, 5.0, "purchase", True),
            (u, "q", 3.0 + k, 1.0, "browse", False),
            (u, "q", 4.0 + k, 5.0, "purchase", True),
        ]
    for k in range(5):
        rows.append((f"n{k}", "z", 5.0 + k, 5.0, "purchase", True))
    rows.append(("v", "p", 20.0, 1.0, "browse", False))
    return pl.DataFrame(
        rows, schema=["user", "item", "ts", "weight", "group", "target"], orient="row"
    )


def test_candidates_hold_history_knn_and_popular():
    frame = _browse_and_buy()
    cfg = RecsConfig(
        candidates_history=1, candidates_knn=1, candidates_popular=1, candidates_all_below=0
    )
    model = ZhongtaiRecommender(cfg).fit(frame)
    comp = model.components
    v = np.array([model.index.user_pos["v"]])
    knn = sum(comp.knn_scores(v).values())
    rows, items = comp.candidates(v, knn)
    got = {model.index.items[i] for i in items}
    # its one viewed item, its one best kNN neighbour (q, co-viewed with p), the most popular
    assert got == {"p", "q", model.index.items[comp.popular_order[0]]}
    assert (rows == 0).all() and (np.diff(items) > 0).all()
    # a catalogue at most ``candidates_all_below`` items: every item is a candidate
    small = ZhongtaiRecommender(RecsConfig(candidates_all_below=3)).fit(frame).components
    rows, items = small.candidates(np.array([0, 1]), np.zeros((2, 3)))
    assert rows.tolist() == [0, 0, 0, 1, 1, 1] and items.tolist() == [0, 1, 2, 0, 1, 2]


def test_a_browse_only_customer_gets_recommendations_from_their_views():
    frame = _browse_and_buy()
    model = ZhongtaiRecommender(RecsConfig(ranker_min_positives=10_000)).fit(frame)
    recs = model.recommend(["v"], n=3)
    by_item = dict(zip(recs["item"], recs["source"], strict=True))
    assert by_item["p"] == "viewed"  # viewed, never bought
    assert by_item["q"] == "similar"  # co-viewed and co-bought with p
    assert recs["item"].to_list()[:2] in (["p", "q"], ["q", "p"])
    # the reasons: the viewed item, and q "similar to p, which you viewed"
    top = recs.rename({"user": "customer_id", "item": "sku"}).with_columns(
        pl.lit("prospect").alias("segment")
    )
    top = top.join(explain(model, top), on=["customer_id", "sku"], how="left")
    products = pl.DataFrame({"sku": ["p", "q", "z"], "name": ["Peony", "Quince", "Zest"]})
    text = dict(zip(top["sku"], reasons(top, products, model, 21.0)["reason"], strict=True))
    assert text["p"] == "You viewed Peony"
    assert text["q"] == "Similar to Peony, which you viewed"
    # a buyer's kNN item reads "bought together with"
    b = model.recommend(["b0"], n=3).rename({"user": "customer_id", "item": "sku"})
    b = b.with_columns(pl.lit(None, pl.String).alias("segment"))
    b = b.join(explain(model, b), on=["customer_id", "sku"], how="left")
    b_text = reasons(b, products, model, 21.0)["reason"].to_list()
    assert any(t.startswith("Buy again: Peony (usually rebought every") for t in b_text)


def test_usual_channel_of_a_browse_only_customer_is_where_they_browse():
    frame = pl.DataFrame(
        {
            "user": ["a", "a", "a", "v", "v", "v"],
            "item": ["p"] * 6,
            "ts": [1.0, 2, 3, 1, 2, 3],
            "target": [True, False, False, False, False, False],
            "channel": ["pos", "app", "app", "app", "web", "app"],
        }
    )
    assert usual_channels(frame) == {"a": "pos", "v": "app"}


def test_user_groups_and_ceiling_by_hand():
    train = pl.DataFrame(
        {
            "user": ["a", "a", "b"],
            "item": ["x", "y", "x"],
            "ts": [1.0, 2.0, 3.0],
            "weight": 1.0,
            "target": [True, False, False],
        }
    )
    groups = user_groups(train, ["a", "b", "c"])
    assert dict(groups.iter_rows()) == {"a": "repeat_buyer", "b": "browse_only", "c": "new"}
    truth = pl.DataFrame({"user": ["a", "a", "b", "c"], "item": ["x", "y", "x", "x"]})
    c = ceiling(train, truth, popular=["x", "y"])
    assert c["test_pairs"] == 4
    assert c["test_pairs_bought_before"] == 0.25  # (a, x)
    assert c["test_pairs_browsed_not_bought"] == 0.5  # (a, y), (b, x)
    assert c["test_pairs_new_to_user"] == 0.25  # (c, x)
    # oracle over 3 users: a has 1 of its test items in its purchases -> 1/10, others 0
    assert c["oracle_buy_again_precision@10"] == pytest.approx(round(1 / 30, 4))
    assert c["oracle_history_precision@10"] == pytest.approx(round(3 / 30, 4))
    # padded with popular x, y: a has x, y from history; b has x (history); c gets x popular
    assert c["oracle_history_then_popular_precision@10"] == pytest.approx(round(4 / 30, 4))
    # one list for all, the test's own most bought (x: 3 users, y: 1): every pair is a hit
    c1 = ceiling(train, truth, k=1)
    assert c1["oracle_test_popularity_precision@1"] == pytest.approx(round(3 / 3, 4))
    assert c["oracle_test_popularity_precision@10"] == pytest.approx(round(4 / 30, 4))


def test_evaluation_scores_each_user_group_separately():
    frame = _browse_and_buy()
    late = pl.DataFrame(
        {
            "user": ["v", "b0", "w"],
            "item": ["q", "p", "z"],
            "ts": [30.0, 30.0, 30.0],
            "weight": 5.0,
            "group": "purchase",
            "target": True,
        }
    )
    result = evaluate(pl.concat([frame, late]), cutoff=25.0, models=("zhongtai", "popularity"))
    g = result.by_group.filter(pl.col("model") == "zhongtai")
    assert dict(zip(g["group"], g["users"], strict=True)) == {
        "repeat_buyer": 1,
        "browse_only": 1,
        "new": 1,
    }
    # the browse-only customer who viewed p buys q, recommended from the co-views: a hit
    row = g.filter(pl.col("group") == "browse_only").row(0, named=True)
    assert row["recall@20"] == 1.0 and row["precision@10"] == pytest.approx(0.1)
    assert result.info["test_users_browse_only"] == 1


def _old_and_recent(new_buy: str) -> pl.DataFrame:
    """12 items 'o*' bought by 30 users early on (popular over the whole history), 12 items 'r*'
    bought by 5 users in each recent week (popular recently); customers new in each held-out
    stretch buy the ``new_buy`` kind."""
    rows = []
    for k in range(30):
        rows += [(f"a{k}", f"o{j}", 5.0 + k / 10, 5.0) for j in range(12)]
    for day in (55.0, 75.0, 95.0):
        for k in range(5):
            rows += [(f"c{k}", f"r{j}", day + k / 10, 5.0) for j in range(12)]
    for day in (65.0, 85.0):
        for k in range(8):
            rows += [(f"n{day:.0f}_{k}", f"{new_buy}{j}", day, 5.0) for j in range(3)]
    return pl.DataFrame(rows, schema=["user", "item", "ts", "weight"], orient="row")


@pytest.mark.parametrize(("new_buy", "expected"), [("r", "pop_recent"), ("o", "pop")])
def test_new_customers_get_the_popularity_order_that_served_new_customers(new_buy, expected):
    model = ZhongtaiRecommender(horizon_days=20.0).fit(_old_and_recent(new_buy))
    assert model.cold_order == expected
    top = model.recommend(["nobody"], n=3)["item"].to_list()
    assert all(t.startswith(new_buy) for t in top)


def test_category_affinity_and_trend_features():
    """A user who bought only category A has a higher affinity to A than to B, shrunk toward
    the catalogue's share; trend shares sum to one and favour what was bought lately."""
    rows = [("a", "x1", 1.0, 5.0, "purchase", True), ("a", "x2", 2.0, 5.0, "purchase", True)]
    rows += [(f"o{k}", "y1", 1.0 + k, 5.0, "purchase", True) for k in range(5)]
    rows += [("n", "y2", 30.0, 5.0, "purchase", True)]
    frame = pl.DataFrame(
        rows, schema=["user", "item", "ts", "weight", "group", "target"], orient="row"
    )
    cats = {"x1": "A", "x2": "A", "y1": "B", "y2": "B"}
    model = ZhongtaiRecommender(RecsConfig(trend_half_life_days=7.0)).fit(frame, None, cats)
    comp, ix = model.components, model.index
    u = ix.user_pos["a"]
    a, b = comp.item_cat[ix.item_pos["x1"]], comp.item_cat[ix.item_pos["y1"]]
    assert comp.cat_affinity[u, a] > 0.5 > comp.cat_affinity[u, b] > 0.0
    assert comp.trend.sum() == pytest.approx(1.0)
    # y2: one purchase on the last day; y1: five, a month before
    assert comp.trend[ix.item_pos["y2"]] > comp.trend[ix.item_pos["y1"]]
    assert comp.order("trend")[0] == ix.item_pos["y2"]
    # without categories the features are there, and zero
    _, _, x, names = (
        ZhongtaiRecommender().fit(frame).components.candidates_and_features(np.array([u]))
    )
    assert (x[:, names.index("cat_affinity")] == 0).all()


def test_own_cycle_repeat_share_and_first_purchase_order():
    """A user who rebuys x every 10 days has a shorter own cycle of x than one who rebuys it
    after 40 (both shrunk to x's cycle), a stock-up buyer a higher repeat share than an
    explorer, and the first-purchase order puts what customers start with first."""
    rows = [("a", "x", d, 5.0) for d in (0.0, 10.0, 20.0, 30.0)]
    rows += [("b", "x", d, 5.0) for d in (0.0, 40.0)]
    rows += [("c", "y", 1.0, 5.0), ("c", "z", 12.0, 5.0), ("c", "w", 25.0, 5.0)]
    rows += [(f"n{k}", "s", 30.0 + k, 5.0) for k in range(4)]  # four customers start with s
    rows += [(f"n{k}", "x", 35.0 + k, 5.0) for k in range(4)]
    frame = pl.DataFrame(rows, schema=["user", "item", "ts", "weight"], orient="row")
    model = ZhongtaiRecommender(RecsConfig(ranker_min_positives=10_000)).fit(frame)
    comp, idx = model.components, model.index
    users = np.array([idx.user_pos[u] for u in ("a", "b", "c")])
    u, i, x, names = comp.candidates_and_features(users)
    col = {n: x[:, k] for k, n in enumerate(names)}

    def at(user: str, item: str, name: str) -> float:
        hit = (u == idx.user_pos[user]) & (i == idx.item_pos[item])
        return float(col[name][hit][0])

    assert at("a", "x", "own_cycle") < comp.cycle[idx.item_pos["x"]] < at("b", "x", "own_cycle")
    assert at("a", "x", "own_cycle") > 10.0  # shrunk toward the item's cycle, not 10 itself
    assert at("a", "x", "user_repeat_share") > at("c", "y", "user_repeat_share")
    assert at("a", "x", "item_share_of_user") == pytest.approx(1.0)
    assert at("c", "y", "item_share_of_user") == pytest.approx(1 / 3)
    assert idx.items[comp.order("first")[0]] == "s"
    assert idx.items[comp.order("pop")[0]] == "x"
