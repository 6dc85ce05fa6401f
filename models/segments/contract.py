"""The fields a definition may name: the columns the dbt contracts of the marts declare.

The contract (``config.contract.enforced: true`` on a model in ``dbt_project/models/marts/*.yml``)
is the single source of allowed field names. Nothing here reads the warehouse, so a definition
can be validated before anything is built, and a field the marts drop fails validation instead
of failing a query later.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ingest.config import DBT_PROJECT_DIR

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"

# The customer table segments and tags start from: the customer 360 when its contract exists,
# else the golden customer dimension it is built on.
CUSTOMER_MODELS = ("customer_360", "dim_customers")


@dataclass(frozen=True)
class Contract:
    """One contracted model: its name, schema and declared columns (name -> data type)."""

    model: str
    schema: str
    columns: dict[str, str]
    file: Path

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.model}"


def _enforced(model: dict) -> bool:
    config = model.get("config") or {}
    contract = config.get("contract") or model.get("contract") or {}
    return bool(contract.get("enforced"))


@lru_cache(maxsize=8)
def _contracts(folder: str) -> dict[str, Contract]:
    out: dict[str, Contract] = {}
    for path in sorted(Path(folder).rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            if not isinstance(model, dict) or not _enforced(model):
                continue
            columns = {
                str(c["name"]): str(c.get("data_type") or "")
                for c in model.get("columns") or []
                if isinstance(c, dict) and c.get("name")
            }
            out[model["name"]] = Contract(model["name"], "marts", columns, path)
    return out


def contracts(folder: Path = MARTS_DIR) -> dict[str, Contract]:
    """Every contracted mart, by model name (read once per folder and process)."""
    return _contracts(str(folder))


def contract(model: str, folder: Path = MARTS_DIR) -> Contract:
    found = contracts(folder)
    if model not in found:
        raise KeyError(f"no enforced dbt contract for model {model!r} under {folder}")
    return found[model]


def customer_contract(folder: Path = MARTS_DIR) -> Contract:
    """The contract of the customer table definitions read (customer_360, else dim_customers)."""
    found = contracts(folder)
    for name in CUSTOMER_MODELS:
        if name in found:
            return found[name]
    raise KeyError(f"none of {CUSTOMER_MODELS} has an enforced contract under {folder}")
