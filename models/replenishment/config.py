"""The replenishment master data and policy (``profiles/replenishment.yml``), validated.

The ERP delivers no lead times, MOQs or case packs, so they are a declarative file shipped in
the repo. An error names the file and the field (``profiles/replenishment.yml: lanes.store.
lead_time_days: ...``).
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.config import REPO_ROOT
from models.config_file import load_validated

POLICY_PATH = REPO_ROOT / "profiles" / "replenishment.yml"
LocationType = Literal["store", "warehouse", "fba"]


class PolicyError(ValueError):
    """An invalid policy file; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lane(_Strict):
    supplier: str
    lead_time_days: int = Field(ge=0)
    review_days: int = Field(ge=1)
    moq: int = Field(ge=0)
    case_pack: int = Field(ge=1)


class LaneOverride(_Strict):
    supplier: str | None = None
    lead_time_days: int | None = Field(default=None, ge=0)
    review_days: int | None = Field(default=None, ge=1)
    moq: int | None = Field(default=None, ge=0)
    case_pack: int | None = Field(default=None, ge=1)


class SkuOverride(_Strict):
    moq: int | None = Field(default=None, ge=0)
    case_pack: int | None = Field(default=None, ge=1)


class TransferLane(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: LocationType = Field(alias="from")
    target: LocationType = Field(alias="to")
    same_city: bool = False


class Transfers(_Strict):
    lanes: list[TransferLane] = Field(default_factory=list)
    lead_time_days: int = Field(default=2, ge=0)
    min_units: int = Field(default=1, ge=1)


class Route(_Strict):
    location_type: LocationType
    country: str | None = None
    country_by_currency: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_country_rule(self) -> Route:
        if (self.country is None) == (not self.country_by_currency):
            raise ValueError("give either country or country_by_currency")
        return self

    def country_for(self, currency: str | None) -> str | None:
        return self.country or self.country_by_currency.get(currency or "")


class Policy(_Strict):
    version: Literal[1] = 1
    service_level: float = Field(gt=0.5, lt=1.0)
    lanes: dict[LocationType, Lane]
    locations: dict[str, LaneOverride] = Field(default_factory=dict)
    skus: dict[str, SkuOverride] = Field(default_factory=dict)
    transfers: Transfers = Field(default_factory=Transfers)
    routing_window_days: int = Field(default=56, ge=1)
    unassigned_demand: dict[str, Route] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_type_has_a_lane(self) -> Policy:
        missing = {"store", "warehouse", "fba"} - set(self.lanes)
        if missing:
            raise ValueError(f"lanes: no lane for location type(s) {sorted(missing)}")
        return self

    @property
    def z(self) -> float:
        """The safety factor: the standard-normal quantile of the service target."""
        return NormalDist().inv_cdf(self.service_level)

    def lane(self, location_id: str, location_type: str, sku: str | None = None) -> Lane:
        """The lane of a location (type default, then the location's overrides, then the
        SKU's order multiples)."""
        base = self.lanes[location_type].model_dump()
        over = self.locations.get(location_id)
        if over is not None:
            base.update({k: v for k, v in over.model_dump().items() if v is not None})
        sku_over = self.skus.get(sku) if sku is not None else None
        if sku_over is not None:
            base.update({k: v for k, v in sku_over.model_dump().items() if v is not None})
        return Lane(**base)


def load_policy(path: Path | str = POLICY_PATH) -> Policy:
    """Read and validate a policy file; :class:`PolicyError` names the file and the field."""
    return load_validated(path, Policy, PolicyError, "replenishment policy")
