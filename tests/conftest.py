from __future__ import annotations

import shutil

import pytest

from ingest.config import DataPaths

# The tiny demo brand every test shares (generated once per session, read-only).
DEMO_SCALE = {"seed": 3, "customers": 300, "days": 30}


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> DataPaths:
    """A private data tree: ZHONGTAI_DATA_DIR points at a temporary folder."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ZHONGTAI_DATA_DIR", str(root))
    return DataPaths(root)


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> DataPaths:
    """The demo brand at DEMO_SCALE. Do not write here: copy what you need with
    ``copy_landing``."""
    from ingest.demo import generate

    root = tmp_path_factory.mktemp("tiny_demo") / "data"
    generate(root, **DEMO_SCALE)
    return DataPaths(root)


def copy_landing(demo: DataPaths, target: DataPaths, *channels: str) -> None:
    """Copy the landing folders of some channels into a private data tree."""
    for channel in channels:
        shutil.copytree(demo.landing / channel, target.landing / channel)


# The end-to-end demo: bigger than DEMO_SCALE so every channel and mart has rows.
E2E_SCALE = {"seed": 11, "customers": 400, "days": 45}


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory):
    """The whole asset graph materialised once per session on the demo at E2E_SCALE:
    ``(DataPaths, ExecuteInProcessResult)``. Every end-to-end test module shares it (read-only;
    materialise into your own ``data_dir`` to change anything). ZHONGTAI_DATA_DIR is set only
    while it builds: a test that needs it points it there with ``monkeypatch``."""
    import dagster as dg

    from ingest.demo import generate

    root = tmp_path_factory.mktemp("e2e") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZHONGTAI_DATA_DIR", str(root))
        generate(root, **E2E_SCALE)
        from orchestration.definitions import defs

        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    return DataPaths(root), result
