"""``python -m ingest.demo --out DIR [--seed 7] [--customers 20000] [--days 400] [--start 2024-11-01]
[--shard-customers N --workers W]``"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from . import generate


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m ingest.demo", description=__doc__)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2024, 11, 1))
    ap.add_argument(
        "--shard-customers",
        type=int,
        default=None,
        help="generate the persons in shards of this many (memory of one shard per worker)",
    )
    ap.add_argument("--workers", type=int, default=1, help="shards generated at once")
    a = ap.parse_args()
    summary = generate(
        a.out,
        seed=a.seed,
        customers=a.customers,
        days=a.days,
        start=a.start,
        shard_customers=a.shard_customers,
        workers=a.workers,
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
