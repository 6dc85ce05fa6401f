"""``python -m ingest.demo --out DIR [--seed 7] [--customers 20000] [--days 400] [--start 2024-11-01]``"""

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
    a = ap.parse_args()
    summary = generate(a.out, seed=a.seed, customers=a.customers, days=a.days, start=a.start)
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
