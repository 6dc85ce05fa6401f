"""CPU and wall seconds of the identity truth check's body (``identity_matches_the_demo_truth``,
its decorated function: not Dagster's direct invocation, which makes an ephemeral instance)
on the data tree of ZHONGTAI_DATA_DIR, called ``N`` times in this process after the imports;
prints one JSON line with each call's figures and the last call's metadata. The check writes
``identity.truth_matches``: run it on a copy.

    ZHONGTAI_DATA_DIR=<copy> nice -n 5 .venv/bin/python bench/truth_check.py [N]

To time another commit's code, run it from that commit's tree (``git archive``) with
``PYTHONPATH=<tree>``. Never part of `make test`.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import duckdb  # noqa: F401  (imported before the timing, as in a run)
import polars  # noqa: F401
import pyarrow  # noqa: F401

from orchestration.defs.identity import identity_matches_the_demo_truth


def _cpu(a, b) -> float:
    return round(b.ru_utime - a.ru_utime + b.ru_stime - a.ru_stime, 2)


def main(calls: int) -> dict:
    fn = identity_matches_the_demo_truth.node_def.compute_fn.decorated_fn
    out: dict = {}
    for k in range(calls):
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = fn()
        r2, t2 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        out[f"check_cpu_{k}"], out[f"check_wall_{k}"] = _cpu(r1, r2), round(t2 - t1, 2)
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    return {**out, "maxrss_mib": r2.ru_maxrss // 1024, "passed": result.passed, "meta": meta}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))
