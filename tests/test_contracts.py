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
