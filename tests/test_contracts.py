"""One vocabulary: the dbt accepted-values tests list exactly the canonical vocabularies."""

import yaml

from ingest.canonical import CANONICAL_STATUSES, CONSENT_PURPOSES, EVENT_TYPES
from ingest.config import DBT_PROJECT_DIR
from ingest.identifiers import IDENTIFIER_TYPES


def _accepted_values() -> dict[tuple[str, str], list[str]]:
    found = {}
    for path in (DBT_PROJECT_DIR / "models").rglob("_*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for model in doc.get("models", []):
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        values = test["accepted_values"]["arguments"]["values"]
                        found[(model["name"], column["name"])] = values
    return found


def test_dbt_accepted_values_match_the_canonical_vocabularies():
    found = _accepted_values()
    assert found[("stg_lake__events", "event_type")] == list(EVENT_TYPES)
    assert found[("stg_lake__consents", "purpose")] == list(CONSENT_PURPOSES)
    assert found[("stg_lake__identifiers", "identifier_type")] == list(IDENTIFIER_TYPES)
    for model in ("stg_lake__orders", "stg_lake__order_lines"):
        assert found[(model, "status")] == list(CANONICAL_STATUSES)


def test_every_canonical_column_reaches_staging():
    """A column added to ingest/canonical.py must be read by its staging model."""
    from ingest.canonical import ENTITIES

    for entity, spec in ENTITIES.items():
        sql = (DBT_PROJECT_DIR / "models" / "staging" / f"stg_lake__{entity}.sql").read_text()
        missing = [c for c in spec["columns"] if c not in sql]
        assert missing == [], f"stg_lake__{entity} does not read {missing}"


def test_python_readers_of_the_order_marts_filter_on_is_real_order():
    """One definition of a real order: marts.fct_orders / fct_order_lines.is_real_order (the
    dbt macro is_real_order). A Python module that reads those marts spells no status filter
    of its own, except the P&L, whose statuses are its setting (models/ops/pnl.py says why)."""
    import re

    from ingest.config import REPO_ROOT

    spelled = re.compile(r"status\s*(<>|!=|in\s*\(\s*'|=\s*'(paid|shipped|completed|cancelled))")
    readers = [
        p
        for p in sorted((REPO_ROOT / "models").rglob("*.py"))
        if re.search(r"marts\.fct_order", p.read_text(encoding="utf-8"))
    ]
    assert len(readers) >= 6
    offenders = {}
    for path in readers:
        if path.name == "pnl.py":
            continue
        text = path.read_text(encoding="utf-8")
        hits = [m.group(0) for m in spelled.finditer(text)]
        # routing's open orders are the real ones that are paid and not yet shipped
        hits = [h for h in hits if not (path.name == "routing.py" and h == "status = 'paid")]
        if hits:
            offenders[path.relative_to(REPO_ROOT).as_posix()] = hits
    assert offenders == {}
    uses = [p.name for p in readers if "is_real_order" in p.read_text(encoding="utf-8")]
    assert set(uses) >= {"warehouse.py", "funnel_warehouse.py", "price_warehouse.py",
                         "routing.py", "compiler.py"}  # fmt: skip
