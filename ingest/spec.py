"""Declarative channel specs (``ingest/specs/<channel>.yml``), validated with pydantic.

A spec says how to find a channel's landing files, how to read them and how each native
column maps to a canonical entity column (``ingest.canonical``). Adding a channel means
writing a spec, not code.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.canonical import CANONICAL_STATUSES, ENTITIES
from ingest.config import SPECS_DIR
from ingest.identifiers import IDENTIFIER_TYPES

FieldType = Literal["string", "int", "float", "decimal", "timestamp", "date", "bool"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    """How one canonical column is read. ``from`` names a native column (CSV header) or a
    dotted JSON path; a list joins several with a space. ``value`` is a constant."""

    from_: str | list[str] | None = Field(default=None, alias="from")
    value: Any = None
    type: FieldType = "string"
    formats: list[str] = Field(default_factory=list)  # strptime formats for timestamps
    required: bool = False
    map: dict[str, Any] | None = None  # native -> canonical vocabulary; unknown values are errors
    abs: bool = False  # for quantities/amounts written negative on returns
    min: float | None = None  # smaller values are rejected (out_of_range)
    coalesce: bool = False  # with a list in 'from': the first non-empty one, not all joined
    divisor: int | None = None  # money in minor units: 80200 fen with divisor 100 -> 802.00
    extract: str | None = None  # regex; the first capture group is the value
    # builds the value from a pattern: "{}" is the field's own value, "{name}" another native
    # column or path field ("FBA-{path.marketplace}-{}"); empty when any part is empty
    template: str | None = None
    # the value is replaced by a keyed hash of it (``ingest.tombstones.record_digest``: HMAC-
    # SHA256 under the installation's key): a record id the platform builds from personal data
    # (a WeChat push has no id but openid + time) keeps no raw identifier in the lake
    digest: bool = False

    @model_validator(mode="after")
    def _source_given(self) -> FieldSpec:
        if (self.from_ is None) == (self.value is None):
            raise ValueError("give exactly one of 'from' or 'value'")
        if self.digest and (self.from_ is None or self.type != "string" or self.map):
            raise ValueError("'digest' hashes the text read with 'from': a string, no 'map'")
        if self.type in ("timestamp", "date") and self.from_ is not None and not self.formats:
            raise ValueError(f"a {self.type} field needs 'formats'")
        if self.template is not None and "{}" not in self.template:
            raise ValueError("a template names the field's own value with '{}'")
        return self

    @property
    def template_names(self) -> list[str]:
        """The other native columns a template reads."""
        return [n for n in re.findall(r"\{([^{}]*)\}", self.template or "") if n]

    @property
    def sources(self) -> list[str]:
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class IdentifierSpec(_Strict):
    """An identifier carried by the record: emitted to the long ``identifiers`` entity,
    normalised by ``ingest.identifiers``. ``scope`` names where the id is valid (a store,
    a mini-program) for ids the platform scopes."""

    from_: str | list[str] = Field(alias="from")
    type: str | None = None  # the identifier type, or type_from + type_map below
    scope: str | None = None  # a constant scope, e.g. the mini-program's app id
    scope_from: str | None = None  # or the native column/path that holds it (a store id)
    region_from: str | None = None  # a native column with the ISO country of phones
    type_from: str | None = None  # a native column naming each row's identifier kind...
    type_map: dict[str, str] | None = None  # ...mapped to IDENTIFIER_TYPES (unknown: error)

    @model_validator(mode="after")
    def _type_from_needs_map(self) -> IdentifierSpec:
        if (self.type_from is None) != (self.type_map is None):
            raise ValueError("type_from and type_map go together")
        if (self.type is None) == (self.type_from is None):
            raise ValueError("give exactly one of 'type' or 'type_from' + 'type_map'")
        for v in (self.type_map or {}).values():
            if v not in IDENTIFIER_TYPES:
                raise ValueError(f"unknown identifier type {v!r}{_suggest(v, IDENTIFIER_TYPES)}")
        return self

    @field_validator("type")
    @classmethod
    def _known_identifier(cls, v: str | None) -> str | None:
        if v is not None and v not in IDENTIFIER_TYPES:
            raise ValueError(f"unknown identifier type {v!r}{_suggest(v, IDENTIFIER_TYPES)}")
        return v

    @property
    def sources(self) -> list[str]:
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class Filter(_Strict):
    field: str
    in_: list[str] = Field(alias="in")


class EntitySpec(_Strict):
    fields: dict[str, FieldSpec]
    identifiers: dict[str, IdentifierSpec] = Field(default_factory=dict)
    explode: list[str] = Field(default_factory=list)  # JSON list path(s), outermost first
    # keep only source rows whose native fields are in the lists (all must hold)
    filter: Filter | list[Filter] | None = None
    one_row_per: list[str] | None = None  # derive one row per key from line-level files

    @property
    def filters(self) -> list[Filter]:
        if self.filter is None:
            return []
        return self.filter if isinstance(self.filter, list) else [self.filter]


class SourceSpec(_Strict):
    name: str
    pattern: str  # glob under landing/<channel>/
    file_key: str | None = None  # regex; named groups form the logical key, (?P<version>) orders
    format: Literal["csv", "tsv", "ndjson"]
    # regex on the path under landing/<channel>/; its named groups are readable as
    # pseudo-columns "path.<group>" (a store folder, a marketplace)
    path_fields: str | None = None
    encoding: str = "auto"  # auto: UTF-8 (BOM or not), else GB18030; or any Python codec
    delimiter: str | None = None
    entities: dict[str, EntitySpec]

    @field_validator("file_key", "path_fields")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            re.compile(v)
        return v


class ChannelSpec(_Strict):
    channel: str
    description: str
    timezone: str
    currency: str | None = None
    phone_region: str = "CN"
    sources: list[SourceSpec]

    @model_validator(mode="after")
    def _canonical_fields(self) -> ChannelSpec:
        for source in self.sources:
            for entity, espec in source.entities.items():
                if entity not in ENTITIES or entity == "identifiers":
                    raise ValueError(
                        f"source {source.name!r}: unknown entity {entity!r}"
                        f"{_suggest(entity, [e for e in ENTITIES if e != 'identifiers'])}"
                    )
                columns = ENTITIES[entity]["columns"]
                for name, fspec in espec.fields.items():
                    if name not in columns:
                        raise ValueError(
                            f"source {source.name!r}, entity {entity!r}: {name!r} is not a "
                            f"canonical column{_suggest(name, columns)}"
                        )
                    if name == "status" and fspec.map:
                        bad = set(fspec.map.values()) - set(CANONICAL_STATUSES)
                        if bad:
                            raise ValueError(
                                f"entity {entity!r}: status maps to {sorted(bad)}, "
                                f"canonical statuses are {CANONICAL_STATUSES}"
                            )
                missing = [k for k in ENTITIES[entity]["key"] if k not in espec.fields]
                if missing:
                    raise ValueError(f"entity {entity!r} must map its key columns {missing}")
        return self


class SpecError(ValueError):
    pass


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# the specs parsed in this process, by file: (SHA-256 of the bytes parsed, the spec). A day's
# run asks for them ~30 times (every ingest and quality step) and PyYAML parses in pure
# Python (~0.3 CPU s for the 18 specs); an edited file has other bytes, so it is parsed again
_PARSED: dict[Path, tuple[bytes, ChannelSpec]] = {}


def load_spec(path: Path) -> ChannelSpec:
    """The channel spec in ``path``, validated. A file already parsed by this process with the
    same bytes is not parsed again; every call returns its own copy (a caller changing it
    changes no other caller's)."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).digest()
    kept = _PARSED.get(path)
    if kept is None or kept[0] != digest:
        try:
            data = yaml.safe_load(raw.decode("utf-8"))
            spec = ChannelSpec.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            _PARSED.pop(path, None)
            raise SpecError(f"{path}: invalid channel spec:\n{exc}") from exc
        kept = _PARSED[path] = (digest, spec)
    return kept[1].model_copy(deep=True)


def load_specs_lenient(specs_dir: Path = SPECS_DIR) -> tuple[dict[str, ChannelSpec], list[str]]:
    """Every valid spec, and the error of every invalid one: a broken spec stops its own
    channel, not the others."""
    specs: dict[str, ChannelSpec] = {}
    errors: list[str] = []
    for path in sorted(specs_dir.glob("*.yml")):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            errors.append(str(exc))
            continue
        if spec.channel in specs:
            errors.append(f"{path}: channel {spec.channel!r} is defined twice")
            continue
        specs[spec.channel] = spec
    return specs, errors


def load_specs(specs_dir: Path = SPECS_DIR) -> dict[str, ChannelSpec]:
    """Every spec; raises SpecError naming the file when any is invalid."""
    specs, errors = load_specs_lenient(specs_dir)
    if errors:
        raise SpecError("\n".join(errors))
    return specs
