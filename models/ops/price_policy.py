"""The price policy (``profiles/price_policy.yml``), validated: the ladder between channels,
the approved promotion calendar, MAP (minimum advertised price) per category with SKU
overrides, the channel groups that count as "similar" for the product matrix, and the
elasticity and suggestion settings. An error names the file and the field
(``profiles/price_policy.yml: ladder.0.max_below_pct: ...``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingest.config import REPO_ROOT
from models.config_file import load_validated

POLICY_PATH = REPO_ROOT / "profiles" / "price_policy.yml"
LIST_PRICE = "list_price"


class PricePolicyError(ValueError):
    """An invalid price policy file; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LadderRule(_Strict):
    """``channels`` must not sell below ``reference`` (another channel's price the same day,
    same SKU and currency, or the channel's own list price) by more than ``max_below_pct``."""

    rule: str = Field(min_length=1)
    channels: list[str] = Field(min_length=1)
    reference: str = Field(min_length=1)
    max_below_pct: float = Field(ge=0, lt=100)

    @model_validator(mode="after")
    def _not_itself(self) -> LadderRule:
        if self.reference in self.channels:
            raise ValueError(f"reference {self.reference!r} is also one of the channels")
        return self


class MapFloor(_Strict):
    """A minimum advertised price: a share of the channel's list price, or an amount in one
    currency (then it binds only channels selling in that currency)."""

    min_share_of_list: float | None = Field(default=None, gt=0, le=1)
    min_price: float | None = Field(default=None, gt=0)
    currency: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> MapFloor:
        if (self.min_share_of_list is None) == (self.min_price is None):
            raise ValueError("give either min_share_of_list or min_price")
        if self.min_price is not None and not self.currency:
            raise ValueError("min_price needs a currency")
        return self


class Map(_Strict):
    default: MapFloor | None = None
    categories: dict[str, MapFloor] = Field(default_factory=dict)
    skus: dict[str, MapFloor] = Field(default_factory=dict)

    def floor_for(self, sku: str, category: str | None) -> MapFloor | None:
        """The SKU's override, else its category's, else the default."""
        return self.skus.get(sku) or self.categories.get(category or "") or self.default


def _month_day(text: str) -> tuple[int, int]:
    try:
        month, day = (int(x) for x in text.split("-"))
        dt.date(2000, month, day)  # a leap year: 02-29 is a valid recurring day
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not a month-day like '11-11'") from exc
    return month, day


class EveryYear(_Strict):
    """A window that recurs each year, month-day to month-day (may wrap the new year)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: str = Field(alias="from")
    end: str = Field(alias="to")

    @field_validator("start", "end")
    @classmethod
    def _valid(cls, v: str) -> str:
        _month_day(v)
        return v

    def contains(self, day: dt.date) -> bool:
        md = (day.month, day.day)
        a, b = _month_day(self.start), _month_day(self.end)
        return a <= md <= b if a <= b else (md >= a or md <= b)


class Promotion(_Strict):
    """An approved promotion: a date range (once, or every year) × channels × optionally SKUs
    and/or categories (none given: every SKU); it approves conflicts up to ``max_below_pct``
    (none: any depth)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1)
    start: dt.date | None = Field(default=None, alias="from")
    end: dt.date | None = Field(default=None, alias="to")
    every_year: EveryYear | None = None
    channels: list[str] = Field(min_length=1)
    skus: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    max_below_pct: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_window(self) -> Promotion:
        dated = self.start is not None or self.end is not None
        if dated == (self.every_year is not None):
            raise ValueError("give either from/to dates or every_year")
        if dated and (self.start is None or self.end is None):
            raise ValueError("give both from and to")
        if dated and self.end < self.start:
            raise ValueError(f"to ({self.end}) is before from ({self.start})")
        return self

    def on(self, day: dt.date) -> bool:
        if self.every_year is not None:
            return self.every_year.contains(day)
        return self.start <= day <= self.end

    def covers_product(self, sku: str, category: str | None) -> bool:
        if not self.skus and not self.categories:
            return True
        return sku in self.skus or (category or "") in self.categories


class Elasticity(_Strict):
    """When a SKU × channel history is enough to estimate an elasticity."""

    min_days: int = Field(default=28, ge=7)
    min_price_changes: int = Field(default=2, ge=1)
    min_units: int = Field(default=30, ge=1)
    min_price_range_pct: float = Field(default=3.0, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class Suggestions(_Strict):
    max_step_pct: float = Field(default=10.0, gt=0, le=50)
    never_above_list: bool = True


class PricePolicy(_Strict):
    version: Literal[1] = 1
    ladder: list[LadderRule] = Field(default_factory=list)
    map: Map = Field(default_factory=Map)
    promotions: list[Promotion] = Field(default_factory=list)
    channel_groups: dict[str, list[str]] = Field(default_factory=dict)
    elasticity: Elasticity = Field(default_factory=Elasticity)
    suggestions: Suggestions = Field(default_factory=Suggestions)

    @model_validator(mode="after")
    def _unique_rule_names(self) -> PricePolicy:
        names = [r.rule for r in self.ladder]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"ladder: rule names must be unique, repeated: {dup}")
        if "map" in names:
            raise ValueError("ladder: 'map' is reserved for the MAP rule")
        for group, members in self.channel_groups.items():
            if len(members) < 2:
                raise ValueError(f"channel_groups.{group}: a group needs two or more channels")
        return self

    def similar_channels(self, channel: str) -> set[str]:
        """The other channels of every group ``channel`` belongs to."""
        out: set[str] = set()
        for members in self.channel_groups.values():
            if channel in members:
                out |= set(members)
        out.discard(channel)
        return out


def load_price_policy(path: Path | str = POLICY_PATH) -> PricePolicy:
    """Read and validate a price policy; :class:`PricePolicyError` names the file and field."""
    return load_validated(path, PricePolicy, PricePolicyError, "price policy")
