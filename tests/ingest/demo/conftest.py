from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.demo import generate

TINY = dict(seed=7, customers=300, days=30)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo_a")
    t0 = time.perf_counter()
    summary = generate(out, **TINY)
    summary["wall"] = time.perf_counter() - t0
    return out, summary
