"""Fixtures of the channel spec tests: each test module names its channel in ``CHANNEL``."""

from __future__ import annotations

import pytest

from ingest.config import DataPaths
from tests.ingest.specs.lakeview import ingest_copy


@pytest.fixture(scope="module")
def loaded(request, tiny_demo, tmp_path_factory):
    """The module's channel ingested once for the read-only tests of this module:
    (paths, spec, report)."""
    channel = request.module.CHANNEL
    return ingest_copy(tiny_demo, DataPaths(tmp_path_factory.mktemp(channel) / "data"), channel)


@pytest.fixture
def loaded_per_test(request, tiny_demo, data_dir):
    """The module's channel ingested afresh into the test's own ``data_dir``, for a test that
    may change what it loads: (paths, spec, report)."""
    return ingest_copy(tiny_demo, data_dir, request.module.CHANNEL)
