"""Build the end-to-end demo in a process of its own (started by ``tests/conftest.py`` when the
session begins, by the first xdist worker that needs it, so the other tests run beside it).

    python -m tests.e2e_build ROOT SCALE_JSON [RERUN_ROOT]

Generates the demo at ROOT, materialises the whole asset graph in process (ephemeral Dagster
instance, ZHONGTAI_DATA_DIR=ROOT; two runs, as ``zhongtai materialize``) and writes the run and
the events of both (Dagster serdes) to
ROOT/../run.json, then ROOT/../built (the marker the session fixture waits for). Given
RERUN_ROOT, it then copies ROOT there file by file and materialises the whole graph again on
the copy (the re-run test's work), writing RERUN_ROOT/../rerun.json the same way."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

# The forecast's settings in the e2e build (and in every test that runs a forecast asset on
# it, as ``run_config`` below gives them): boosting of 30 rounds on at most 20,000 training
# rows, as the accuracy floors' fits (tests/models/forecast/test_accuracy_floors.py), not the
# default 100 on 150,000, and AutoETS on 50 series, not 300. At this scale the P50 is 0
# everywhere either way (tests/test_e2e_forecast.py); the backtest's four folds, its models,
# its AutoETS sample and the stored fit are the same code paths. A test predicting from the
# build's stored fit must use these settings: with others the fit is stale and refitted.
E2E_FORECAST = {"max_iter": 30, "max_train_rows": 20_000, "autoets_sample": 50}


def run_config(keys) -> dict:
    """The run config of a run of asset ``keys`` on the e2e demo: ``E2E_FORECAST`` for each
    forecast asset that takes ``ForecastConfig``."""
    from orchestration.defs.forecast import BACKTEST, DEMAND_FORECAST_BY_GROUP, FORECAST_MODEL

    configured = {BACKTEST, FORECAST_MODEL, DEMAND_FORECAST_BY_GROUP}
    ops = {k.to_python_identifier(): {"config": E2E_FORECAST} for k in keys if k in configured}
    return {"ops": ops} if ops else {}


def _run_graph(root: Path, out: Path) -> None:
    import dagster as dg

    os.environ["ZHONGTAI_DATA_DIR"] = str(root)
    from orchestration.definitions import defs
    from orchestration.defs.automation import run_plan

    job = defs.resolve_implicit_global_asset_job_def()
    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.ephemeral()
    runs, events = [], []
    # the whole graph is two runs (the SKU-group partitions after the rest), as the CLI runs it
    for keys, tags in run_plan(graph.get_all_asset_keys(), graph):
        result = job.execute_in_process(
            instance=instance,
            asset_selection=list(keys),
            tags=tags,
            run_config=run_config(keys),
            raise_on_error=False,
        )
        runs.append(result.dagster_run)
        events += list(result.all_events)
        if not result.success:
            break
    # the run the tests see: the first that failed, else the last (its success is the build's)
    run = next((r for r in runs if not r.is_success), runs[-1])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(dg.serialize_value([run, events]))
    tmp.replace(out)


def main(argv: list[str]) -> None:
    root, scale = Path(argv[0]), json.loads(argv[1])
    from ingest.demo import generate

    generate(root, **scale)
    _run_graph(root, root.parent / "run.json")
    (root.parent / "built").touch()
    if len(argv) > 2:
        again = Path(argv[2])
        shutil.copytree(root, again)
        _run_graph(again, again.parent / "rerun.json")


if __name__ == "__main__":
    main(sys.argv[1:])
