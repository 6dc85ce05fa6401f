"""CPU seconds of the ``recommendations`` step (``recs/similar_items`` and
``recs/recommendations``), run in this process by ``dg.materialize`` on a built warehouse.

    ZHONGTAI_DATA_DIR=/abs/copy DAGSTER_HOME=/abs/copy/dagster_home \\
        .venv/bin/python bench/recs_step.py [--seed-store]

Prints one JSON line: CPU s (user + system, this process and its children, from after the
import of ``orchestration.defs.recs``; scikit-learn is imported inside, as in a step), wall s,
the load average before and after, and the asset's ``fit`` metadata. ``--seed-store`` only
stores the fit the previous day's build leaves (on the rows before the last day) in
``data/models/recs/``, so that the next call is a new day on a one-day-old fit. Writes the
copy's ``recs`` tables and exports: run it on a copy. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orchestration.defs.recs import recommendations  # noqa: E402


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def seed_store() -> dict:
    from ingest.config import connect
    from models.recs.store import fit_or_load
    from models.recs.warehouse import read_serving_inputs
    from orchestration.defs.recs import TEST_WEEKS, RecsRunConfig, _cfg
    from orchestration.resources import paths

    config = RecsRunConfig()
    with connect(paths().warehouse, read_only=True) as con:
        inputs = read_serving_inputs(con)
    last = math.floor(inputs.now)
    old = inputs.frame.filter(pl.col("ts") < last).drop("channel")
    _, info = fit_or_load(
        old,
        _cfg(config),
        7 * TEST_WEEKS,
        paths().models / "recs",
        config.refit_every_days,
        inputs.segments,
        inputs.categories,
    )
    return info.metadata()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed-store", action="store_true")
    if ap.parse_args().seed_store:
        print(json.dumps({"seeded": seed_store()}))
        return
    load0 = os.getloadavg()
    c0, w0 = cpu(), time.perf_counter()
    result = dg.materialize([recommendations])
    c, w = cpu() - c0, time.perf_counter() - w0
    fit = {}
    for event in result.get_asset_materialization_events():
        m = event.materialization
        if m.asset_key.path[-1] == "recommendations":
            fit = {k: v.value for k, v in m.metadata.items() if k.startswith("fit")}
    out = {"cpu_s": round(c, 2), "wall_s": round(w, 2), "load_before": load0}
    print(json.dumps({**out, "load_after": os.getloadavg(), **fit}, default=str))


if __name__ == "__main__":
    main()
