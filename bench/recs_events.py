"""A RetailRocket-shaped event log for ``zhongtai recs evaluate`` (not the demo brand):
``timestamp`` (epoch ms), ``visitorid``, ``event`` (view / addtocart / transaction), ``itemid``,
``transactionid``; latent-factor tastes over Zipf item popularity, sessions of views, some
add-to-carts and purchases.

    .venv/bin/python bench/recs_events.py /tmp/events.csv [seed]
    .venv/bin/zhongtai recs evaluate --interactions /tmp/events.csv --user-col visitorid \\
        --item-col itemid --time-col timestamp --weight-col event

Not a test: figures go to README.md (recommendations).
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl


def events(users: int = 8000, items: int = 1500, days: float = 140.0, seed: int = 3):
    rng = np.random.default_rng(seed)
    user_f, item_f = rng.normal(size=(users, 8)), rng.normal(size=(items, 8))
    pop = rng.zipf(1.6, items).clip(max=200).astype(float)
    rows = []
    t0 = 1_430_000_000_000
    for u in range(users):
        sessions = rng.poisson(2.5) + 1
        affinity = item_f @ user_f[u] / 3 + np.log(pop)
        p = np.exp(affinity - affinity.max())
        p /= p.sum()
        start = rng.uniform(0, days)
        for s in range(sessions):
            day = start + s * rng.exponential(12)
            if day > days:
                break
            for k, item in enumerate(rng.choice(items, size=rng.integers(1, 8), p=p)):
                ts = int(t0 + (day * 86400 + k * 60) * 1000)
                rows.append((ts, u, "view", int(item), None))
                if rng.random() < 0.08:
                    rows.append((ts + 5000, u, "addtocart", int(item), None))
                    if rng.random() < 0.4:
                        tid = int(rng.integers(1e6))
                        rows.append((ts + 60000, u, "transaction", int(item), tid))
    return pl.DataFrame(
        rows, schema=["timestamp", "visitorid", "event", "itemid", "transactionid"], orient="row"
    )


if __name__ == "__main__":
    frame = events(seed=int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    frame.write_csv(sys.argv[1])
    print(frame.height, "events:", dict(frame["event"].value_counts().iter_rows()))
