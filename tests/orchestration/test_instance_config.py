"""The Dagster instance `make dev` starts with (orchestration/dagster.yaml): Dagster accepts
it and its run queue starts two runs at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

CONFIG = Path(__file__).resolve().parents[2] / "orchestration" / "dagster.yaml"


def test_make_dev_instance_queues_runs_two_at_a_time(tmp_path):
    shutil.copy(CONFIG, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        settings = instance.get_concurrency_config().run_queue_config
        assert settings.max_concurrent_runs == 2
