from __future__ import annotations

import pytest

from ingest.config import DataPaths


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> DataPaths:
    """A private data tree: ZHONGTAI_DATA_DIR points at a temporary folder."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(root))
    return DataPaths(root)
