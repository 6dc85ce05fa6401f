"""One new day after a full build: wall time of the full build against the incremental run.

    .venv/bin/python bench/incremental.py --customers 2000 --days 121 --out data/bench_inc

generates the demo brand with its last day held back (`zhongtai demo generate
--hold-back-days 1`), materialises the whole graph (`zhongtai materialize`), delivers the day
(`zhongtai demo deliver`) and runs `zhongtai materialize --incremental`; `--rerun full` runs
the whole graph again instead (what a new day cost before the incremental path). Prints one
row for bench/README.md with the load average before and after each run (2 shared cores:
the load moves every figure). Never part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(args: list[str], env: dict) -> tuple[float, str, str]:
    """(seconds, load before, load after) of one CLI call; fails loudly."""
    before = f"{os.getloadavg()[0]:.1f}"
    t0 = time.perf_counter()
    done = subprocess.run([str(BIN / "zhongtai"), *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"zhongtai {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return took, before, f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--days", type=int, default=121)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rerun", choices=["incremental", "full"], default="incremental")
    a = ap.parse_args()
    env = {**os.environ, "ZHONGTAI_DATA_DIR": str(a.out.resolve())}
    env.pop("DAGSTER_HOME", None)
    scale = ["--seed", str(a.seed), "--customers", str(a.customers), "--days", str(a.days)]
    run(["demo", "generate", *scale, "--hold-back-days", "1"], env)
    full, f0, f1 = run(["materialize"], env)
    run(["demo", "deliver"], env)
    again = ["materialize", "--incremental"] if a.rerun == "incremental" else ["materialize"]
    day, d0, d1 = run(again, env)
    print("| scale | full build s | load | new day s | load | new day / full |")
    print(
        f"| {a.customers} persons x {a.days} days ({a.rerun}) | {full:.1f} | {f0} -> {f1} "
        f"| {day:.1f} | {d0} -> {d1} | {100 * day / full:.1f} % |"
    )


if __name__ == "__main__":
    main()
