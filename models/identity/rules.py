"""The identity rules (``profiles/identity.yml``), validated with pydantic.

An error names the file and the field (``profiles/identity.yml: types.phone.strength: ...``).
The rules answer, for one identifier (type, scope, value): which canonical type it is, whether
it is blocked and why, how strongly it links, its priority, and the limits it obeys.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingest.config import REPO_ROOT
from ingest.identifiers import IDENTIFIER_TYPES, normalize_id
from models.config_file import load_validated

RULES_PATH = REPO_ROOT / "profiles" / "identity.yml"

Strength = Literal["strong", "weak", "partial"]
STRENGTH_RANK = {"strong": 0, "weak": 1, "partial": 2}


class RulesError(ValueError):
    """An invalid rules file; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopeRule(_Strict):
    strength: Strength | None = None
    priority: int | None = None
    max_per_person: int | None = Field(default=None, ge=1)


class TypeRule(_Strict):
    strength: Strength
    priority: int
    max_per_person: int | None = Field(default=None, ge=1)
    window_days: int | None = Field(default=None, ge=1)
    shared_threshold: int | None = Field(default=None, ge=1)
    scoped: bool = False
    rolls_up_to: str | None = None
    aliases: list[str] = Field(default_factory=list)
    partial_patterns: list[str] = Field(default_factory=list)
    scopes: dict[str, ScopeRule] = Field(default_factory=dict)

    @field_validator("partial_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {p!r} ({exc})") from exc
        return patterns


class BlockRule(_Strict):
    value: str | None = None
    pattern: str | None = None
    type: str | None = None
    reason: str

    @model_validator(mode="after")
    def _one_of(self) -> BlockRule:
        if (self.value is None) == (self.pattern is None):
            raise ValueError("give exactly one of 'value' or 'pattern'")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {self.pattern!r} ({exc})") from exc
        return self


class SharedRule(_Strict):
    threshold: int = Field(default=3, ge=1)


class ProbabilisticRule(_Strict):
    """Probabilistic linking of records that carry only partial identifiers (a marketplace's
    masked receiver phone and name) to the customers whose full phone and name agree."""

    enabled: bool = True
    threshold: float = Field(default=0.95, gt=0, lt=1)  # Splink match probability, at least
    seed: int = 42
    compare_address: bool = True  # the delivery address (province, city, district) too
    # two masked records, neither matching a full phone, whose addresses agree: linked at
    # this match probability; null: never
    masked_pairs_threshold: float | None = Field(default=None, gt=0, lt=1)


class Rules(_Strict):
    """The validated rules. Build with :func:`load_rules`."""

    version: int = 1
    shared: SharedRule = Field(default_factory=SharedRule)
    probabilistic: ProbabilisticRule = Field(default_factory=ProbabilisticRule)
    types: dict[str, TypeRule]
    blocklist: list[BlockRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        known = set(IDENTIFIER_TYPES)
        seen: dict[str, str] = {}
        for name, rule in self.types.items():
            if name not in known:
                raise ValueError(f"types.{name}: unknown identifier type; known: {sorted(known)}")
            for alias in [name, *rule.aliases]:
                if alias not in known:
                    raise ValueError(f"types.{name}.aliases: unknown identifier type {alias!r}")
                if alias in seen:
                    raise ValueError(
                        f"types.{name}.aliases: {alias!r} is already {seen[alias]!r} or its alias"
                    )
                seen[alias] = name
            if rule.rolls_up_to is not None and rule.rolls_up_to not in self.types:
                raise ValueError(
                    f"types.{name}.rolls_up_to: {rule.rolls_up_to!r} is not a type in 'types'"
                )
            if rule.scopes and not rule.scoped:
                raise ValueError(f"types.{name}.scopes: per-scope rules need 'scoped: true'")
        for i, block in enumerate(self.blocklist):
            if block.type is not None and block.type not in seen:
                raise ValueError(f"blocklist.{i}.type: {block.type!r} is not a type in 'types'")
        return self

    # --- lookups -----------------------------------------------------------------------

    @cached_property
    def canonical_type(self) -> dict[str, str]:
        """Every type name the rules know (aliases included) -> the canonical type."""
        out = {}
        for name, rule in self.types.items():
            out[name] = name
            for alias in rule.aliases:
                out[alias] = name
        return out

    def rule_for(self, id_type: str, scope: str | None = None) -> tuple[Strength, int, int | None]:
        """(strength, priority, max_per_person) of a canonical type in a scope."""
        rule = self.types[id_type]
        over = rule.scopes.get(scope) if scope is not None else None
        strength = (over.strength if over and over.strength else None) or rule.strength
        priority = over.priority if over and over.priority is not None else rule.priority
        limit = over.max_per_person if over and over.max_per_person else rule.max_per_person
        return strength, priority, limit

    def shared_threshold(self, id_type: str, scope: str | None = None) -> int:
        """How many distinct identifiers of this type one identifier may be linked to before
        it counts as shared: the type's own threshold, else its max_per_person, else the
        global threshold."""
        rule = self.types[id_type]
        if rule.shared_threshold is not None:
            return rule.shared_threshold
        return self.rule_for(id_type, scope)[2] or self.shared.threshold

    @cached_property
    def windows(self) -> dict[str, int]:
        """Canonical type -> the window (days) its max_per_person counts within."""
        return {n: r.window_days for n, r in self.types.items() if r.window_days}

    @cached_property
    def rollups(self) -> dict[str, str]:
        return {n: r.rolls_up_to for n, r in self.types.items() if r.rolls_up_to}

    @cached_property
    def _block_values(self) -> dict[tuple[str | None, str], str]:
        out = {}
        for b in self.blocklist:
            if b.value is None:
                continue
            values = {b.value.strip()}
            if b.type is not None:
                ident = normalize_id(b.type, b.value)
                if ident is not None:
                    values.add(ident.value)
            for v in values:
                out[(self.canonical_type[b.type] if b.type else None, v)] = b.reason
        return out

    @cached_property
    def _block_patterns(self) -> list[tuple[str | None, re.Pattern, str]]:
        return [
            (self.canonical_type[b.type] if b.type else None, re.compile(b.pattern), b.reason)
            for b in self.blocklist
            if b.pattern is not None
        ]

    def block_reason(self, id_type: str, value: str) -> str | None:
        """Why this (canonical type, normalised value) is never an identifier, or None."""
        for key in ((id_type, value), (None, value)):
            if key in self._block_values:
                return f"blocklist: {self._block_values[key]}"
        for t, pattern, reason in self._block_patterns:
            if (t is None or t == id_type) and pattern.search(value):
                return f"blocklist: {reason}"
        return None

    def is_partial_value(self, id_type: str, value: str) -> bool:
        return any(re.search(p, value) for p in self.types[id_type].partial_patterns)


def load_rules(path: Path | str = RULES_PATH) -> Rules:
    """Read and validate a rules file; :class:`RulesError` names the file and the field."""
    return load_validated(path, Rules, RulesError, "identity rules", " with 'types'")
