from __future__ import annotations

import hashlib
from pathlib import Path

from ingest.demo import generate

TINY = dict(seed=7, customers=300, days=30)  # same as conftest.TINY


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tiny, tmp_path):
    out_a, _ = tiny
    out_b = tmp_path / "b"
    generate(out_b, **TINY)
    a, b = _digests(out_a), _digests(out_b)
    assert a.keys() == b.keys()
    different = [k for k in a if a[k] != b[k]]
    assert not different, different[:10]


def test_rerun_into_same_dir_is_identical(tmp_path):
    generate(tmp_path, **TINY)
    first = _digests(tmp_path)
    (tmp_path / "landing" / "stray.txt").write_text("left over")
    generate(tmp_path, **TINY)
    assert _digests(tmp_path) == first


def test_other_seed_differs(tiny, tmp_path):
    out_a, _ = tiny
    generate(tmp_path, **{**TINY, "seed": 8})
    a, b = _digests(out_a / "landing"), _digests(tmp_path / "landing")
    common = [k for k in a if k in b and k.startswith("web/orders/")]
    assert common
    assert any(a[k] != b[k] for k in common)
    assert (
        _digests(out_a / "truth")["sales_lines.parquet"]
        != _digests(tmp_path / "truth")["sales_lines.parquet"]
    )
