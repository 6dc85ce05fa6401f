"""Deterministic demo-data generator of the omnichannel cosmetics brand 青禾 QINGHE.

``generate(out_dir, seed=7, customers=20_000, days=400, start=date(2024, 11, 1))`` writes
``out_dir/landing/<channel>/...`` exactly as each platform exports it and the truth
under ``out_dir/truth/``. See ``ingest/demo/README.md``.
"""

from .generator import generate

__all__ = ["generate"]
