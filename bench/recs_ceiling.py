"""How far the recommender's features can go on the warehouse's data: the split of the
``recs/evaluation`` asset (last 4 weeks, segments from the training rows, the catalogue's
categories), the model as trained before the cutoff, and beside it the same candidates and
features ranked by a booster fitted on the test weeks' own labels (in-sample: an oracle, not a
model). When that oracle stays far below a target, no ranker over these features reaches it.

    ZHONGTAI_DATA_DIR=data .venv/bin/python bench/recs_ceiling.py

Prints precision@10 etc. of both, and the evaluation's history oracles for the same split.
Not a test: run on demand, figures go to README.md (recommendations).
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from ingest.config import connect, data_paths
    from models.recs.evaluate import ceiling, popularity_list, time_split
    from models.recs.metrics import score_lists
    from models.recs.model import RecsConfig, ZhongtaiRecommender, _contains, _sorted_unique
    from models.recs.warehouse import read_interactions, read_products, usual_channels
    from orchestration.defs.recs import TEST_WEEKS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=15, help="leaves of the in-sample booster")
    args = parser.parse_args()
    with connect(data_paths().warehouse, read_only=True) as con:
        frame = read_interactions(con)
        products = read_products(con)
    lo, hi = float(frame["ts"].min()), float(frame["ts"].max())
    horizon = min(7.0 * TEST_WEEKS, 0.3 * (hi - lo))
    cutoff = hi - horizon
    segments = usual_channels(frame.filter(pl.col("ts") < cutoff))
    categories = dict(products.select("sku", "category").iter_rows())
    split = time_split(frame.drop("channel"), cutoff, horizon)
    truth = split.test.filter(pl.col("target")).select("user", "item").unique()
    users = sorted(truth["user"].unique().to_list())
    model = ZhongtaiRecommender(RecsConfig(), horizon_days=horizon).fit(
        split.train, segments, categories
    )
    comp, index = model.components, model.index
    n_items = len(index.items)
    enc = index.encode(truth)
    positives = _sorted_unique(enc["u"].to_numpy().astype(np.int64) * n_items + enc["i"].to_numpy())
    known = np.array([index.user_pos[u] for u in users if u in index.user_pos], dtype=np.int64)
    parts = [comp.candidates_and_features(b) for b in comp.batches(known)]
    u = np.concatenate([p[0] for p in parts])
    i = np.concatenate([p[1] for p in parts])
    x = np.vstack([p[2] for p in parts])
    names = parts[0][3]
    y = _contains(positives, u.astype(np.int64) * n_items + i)
    popular = popularity_list(split.train, 20)
    cold = [c for c in users if c not in index.user_pos]

    def scored(score: np.ndarray) -> dict:
        top = (
            pl.DataFrame({"u": u, "i": i, "s": score})
            .sort(["u", "s", "i"], descending=[False, True, False])
            .with_columns(pl.int_range(1, pl.len() + 1).over("u").alias("rank"))
            .filter(pl.col("rank") <= 20)
        )
        recs = pl.DataFrame(
            {
                "user": pl.Series(index.users[top["u"].to_numpy()], dtype=pl.String),
                "item": pl.Series(index.items[top["i"].to_numpy()], dtype=pl.String),
                "rank": top["rank"].cast(pl.Int64),
            }
        )
        cold_recs = pl.DataFrame(
            {
                "user": [c for c in cold for _ in popular],
                "item": popular * len(cold),
                "rank": list(range(1, len(popular) + 1)) * len(cold),
            },
            schema=recs.schema,
        )
        out = score_lists(pl.concat([recs, cold_recs]), truth, split.train["item"].n_unique())
        return {k: round(v, 4) for k, v in out.items()}

    print(f"{len(users)} test users ({len(cold)} new), {n_items} items, {len(y)} candidate rows")
    print("model (ranker trained before the cutoff):", scored(model.score(x, names)))
    oracle = HistGradientBoostingClassifier(
        max_iter=300, max_leaf_nodes=args.leaves, min_samples_leaf=20, random_state=0
    )
    with threadpool_limits(1):
        oracle.fit(x, y)
        in_sample = oracle.predict_proba(x)[:, 1]
    print(f"booster fitted on the test labels ({args.leaves} leaves):", scored(in_sample))
    print(
        "history oracles:",
        {
            k: v
            for k, v in ceiling(
                split.train, truth, popular=popularity_list(split.train, 100)
            ).items()
            if k.startswith("oracle")
        },
    )


if __name__ == "__main__":
    main()
