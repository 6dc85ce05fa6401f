"""A synthetic interactions table for the recommender tests: users with a taste cluster, a
few staple items each rebought on the user's own cycle, and discovery purchases of popular
items of their cluster. Not the demo brand: a small, generic shape."""

from __future__ import annotations

import numpy as np
import polars as pl


def synthetic_interactions(
    users: int = 300, items: int = 120, days: float = 120.0, seed: int = 0
) -> pl.DataFrame:
    """user, item, ts (days), weight."""
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, 8, items)
    pop = rng.pareto(1.5, items) + 1
    rows = []
    for u in range(users):
        c = int(rng.integers(0, 8))
        members = np.where(clusters == c)[0]
        staples = rng.choice(members, size=min(3, len(members)), replace=False)
        cycle = rng.uniform(10, 40)
        t = rng.uniform(0, cycle)
        p = pop * (clusters == c)
        p = p / p.sum()
        while t < days:
            for s in staples:
                if rng.random() < 0.5:
                    rows.append((f"u{u}", f"i{s}", float(t), 1.0))
            if rng.random() < 0.5:
                rows.append((f"u{u}", f"i{rng.choice(items, p=p)}", float(t), 1.0))
            t += cycle * rng.uniform(0.7, 1.3)
    return pl.DataFrame(rows, schema=["user", "item", "ts", "weight"], orient="row")
