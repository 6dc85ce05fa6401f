"""The schema of ``profiles/tags/*.yml`` and ``profiles/segments/*.yml`` (pydantic), and the
checks of every name a definition uses against the catalog (the dbt contracts).

Two passes, both reporting ``file:line: path: what is wrong; did you mean ...?``:
1. structure (pydantic): keys, types, one operator per comparison, known purposes and
   destinations;
2. names: every field against the columns its scope declares (the customer table's
   contract, a fact source's columns, the file's own metrics), every tag a segment uses
   against the tags defined, day windows only on dates.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from models.segments.yamlfile import DefinitionError, Issue, LineMap, Loc, load_yaml, suggest

NAME = r"^[a-z][a-z0-9_]{0,62}$"
Scalar = str | int | float | bool | dt.date

# Comparison operators a definition may use, and what they mean to a marketer.
OPERATORS = {
    "equals": "is exactly",
    "not_equals": "is anything but",
    "at_least": ">=",
    "at_most": "<=",
    "more_than": ">",
    "less_than": "<",
    "in": "is one of",
    "not_in": "is none of",
    "between": "between two values, both included",
    "is_null": "is empty (true) or filled (false)",
    "within_last_days": "a date in the last N days",
    "more_than_days_ago": "a date more than N days ago",
}
DAY_OPERATORS = ("within_last_days", "more_than_days_ago")

# Which consent a destination needs: the segment's purpose must be it.
DESTINATION_PURPOSE = {
    "sms": "sms",
    "email": "email",
    "wechat": "wechat",
    "tencent_ads": "ads",
    "ocean_engine": "ads",
    "meta": "ads",
    "google": "ads",
    "amazon_ads": "ads",
}
Purpose = Literal["email", "sms", "wechat", "ads"]
DestinationType = Literal[
    "sms", "email", "wechat", "tencent_ads", "ocean_engine", "meta", "google", "amazon_ads"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Compare(_Strict):
    """``{field: orders, at_least: 3}``, ``{tag: lifecycle, in: [active, new]}``, ``{tag: vip}``."""

    field: str | None = None
    tag: str | None = None
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    at_least: Scalar | None = None
    at_most: Scalar | None = None
    more_than: Scalar | None = None
    less_than: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    not_in: list[Scalar] | None = Field(default=None, min_length=1)
    between: tuple[Scalar, Scalar] | None = None
    is_null: bool | None = None
    within_last_days: int | None = Field(default=None, ge=0, le=36500)
    more_than_days_ago: int | None = Field(default=None, ge=0, le=36500)

    @model_validator(mode="after")
    def _shape(self) -> Compare:
        if (self.field is None) == (self.tag is None):
            raise ValueError("give exactly one of 'field' or 'tag'")
        ops = self.operators()
        if len(ops) > 1:
            raise ValueError(f"one operator per comparison, got {', '.join(ops)}")
        if self.field is not None and not ops:
            raise ValueError(f"a field needs an operator: one of {', '.join(OPERATORS)}")
        return self

    def operators(self) -> list[str]:
        return [op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None]

    @property
    def operator(self) -> str | None:
        ops = self.operators()
        return ops[0] if ops else None

    @property
    def operand(self) -> Any:
        op = self.operator
        return None if op is None else getattr(self, "in_" if op == "in" else op)


class All(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    not_: Condition = Field(alias="not")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
    if isinstance(value, BaseModel):
        return {All: "all", AnyOf: "any", Not: "not"}.get(type(value), "compare")
    return "compare"


Condition = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(_kind),
]
for _model in (All, AnyOf, Not):
    _model.model_rebuild()

Aggregate = Literal[
    "count", "count_distinct", "sum", "avg", "min", "max", "share", "ratio", "most_frequent",
    "quantile",
]  # fmt: skip


class Metric(_Strict):
    """A number per customer over a fact source (``from``), or the quantile of a field."""

    description: str = Field(min_length=3)
    aggregate: Aggregate
    from_: str | None = Field(default=None, alias="from")
    of: str | None = None
    over: str | None = None
    matching: Condition | None = None
    where: Condition | None = None
    last_days: int | None = Field(default=None, ge=1, le=36500)
    n: int | None = Field(default=None, ge=2, le=100)

    @model_validator(mode="after")
    def _shape(self) -> Metric:
        agg = self.aggregate
        if agg == "quantile":
            if self.of is None or self.n is None:
                raise ValueError("a quantile needs 'of' (a field or metric) and 'n'")
            if self.from_ or self.last_days or self.matching or self.over:
                raise ValueError("a quantile takes only 'of', 'n' and 'where' (who is ranked)")
            return self
        if self.from_ is None:
            raise ValueError("an aggregate needs 'from': the fact source it reads")
        if agg not in ("count", "share") and self.of is None:
            raise ValueError(f"aggregate {agg!r} needs 'of': the column it reads")
        if (agg == "share") != (self.matching is not None):
            raise ValueError("'matching' (the rows counted) goes with aggregate 'share' only")
        if (agg == "ratio") != (self.over is not None):
            raise ValueError("'over' (the denominator column) goes with aggregate 'ratio' only")
        if self.n is not None:
            raise ValueError("'n' goes with aggregate 'quantile' only")
        return self


class Bucket(_Strict):
    value: str = Field(min_length=1, max_length=100)
    when: Condition


class TagDef(_Strict):
    """A tag: a flag (``when``), a bucket (first matching ``buckets`` entry, else ``otherwise``)
    or a value (``value_of`` a field or metric)."""

    name: str = Field(pattern=NAME)
    description: str = Field(min_length=10)
    when: Condition | None = None
    buckets: list[Bucket] | None = Field(default=None, min_length=1)
    otherwise: str | None = None
    value_of: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> TagDef:
        kinds = [k for k in ("when", "buckets", "value_of") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of 'when' (a flag), 'buckets' or 'value_of'")
        if self.otherwise is not None and self.buckets is None:
            raise ValueError("'otherwise' goes with 'buckets' only")
        return self

    @property
    def kind(self) -> str:
        return "flag" if self.when is not None else "bucket" if self.buckets else "value"

    def values(self) -> list[str] | None:
        """The values this tag can take, when they are known in advance."""
        if self.kind == "flag":
            return ["true"]
        if self.kind == "bucket":
            vals = [b.value for b in self.buckets or []]
            return vals + ([self.otherwise] if self.otherwise else [])
        return None


class TagFile(_Strict):
    metrics: dict[str, Metric] = Field(default_factory=dict)
    tags: list[TagDef] = Field(min_length=1)


class Destination(_Strict):
    type: DestinationType
    app: str | None = Field(
        default=None, description="WeChat: the mini-program or official-account appid"
    )


class SegmentDef(_Strict):
    name: str = Field(pattern=NAME)
    description: str = Field(min_length=10)
    owner: str = Field(min_length=2)
    purpose: Purpose
    destinations: list[DestinationType | Destination] = Field(min_length=1)
    where: Condition

    def destination_list(self) -> list[Destination]:
        return [d if isinstance(d, Destination) else Destination(type=d) for d in self.destinations]


# --- structure errors -------------------------------------------------------------------

_KEYS = sorted(
    {
        (f.alias or n)
        for m in (
            Compare,
            All,
            AnyOf,
            Not,
            Metric,
            Bucket,
            TagDef,
            TagFile,
            Destination,
            SegmentDef,
        )
        for n, f in m.model_fields.items()
    }
)


def _clean_loc(loc: tuple, data: object) -> Loc:
    """pydantic's loc without the union member names it inserts: walk the data, keep the
    parts that are keys or indexes in it, skip the rest."""
    out: list[str | int] = []
    here = data
    for part in loc:
        if (
            isinstance(here, dict)
            and part in here
            or isinstance(here, list)
            and isinstance(part, int)
            and 0 <= part < len(here)
        ):
            here = here[part]
            out.append(part)
        elif (
            isinstance(here, dict)
            and part not in _UNION_TAGS
            and not str(part).startswith(("literal[", "function-"))
        ):
            out.append(part)  # a missing or unknown key: the error is about it
            here = None
    return tuple(out)


_UNION_TAGS = {"compare", "all", "any", "not", "str", "Destination"}


def _issues(exc: ValidationError, lines: LineMap, data: object) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[tuple] = set()
    for err in exc.errors():
        loc = _clean_loc(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        hint = None
        if err["type"] == "extra_forbidden":
            hint = suggest(loc[-1], _KEYS) if loc else None
            msg = f"unknown key {loc[-1]!r}"
        elif err["type"] == "literal_error":
            expected = re.findall(r"'([^']+)'", str((err.get("ctx") or {}).get("expected", "")))
            hint = suggest(err.get("input"), expected)
            msg = f"{err.get('input')!r} is not allowed: {msg}"
        elif err["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}" if loc else msg
        key = (loc, msg)
        if key in seen:
            continue
        seen.add(key)
        issues.append(lines.issue(loc, msg, hint))
    return issues


def parse_model(model: type[BaseModel], data: object, lines: LineMap) -> Any:
    if not isinstance(data, dict):
        raise DefinitionError([lines.issue((), "the file must be a mapping of keys (key: value)")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A union that fails everywhere reports one error per member: keep the closest.
        raise DefinitionError(_issues(exc, lines, data)) from exc


def load_tag_file(path: Path) -> tuple[TagFile, LineMap]:
    data, lines = load_yaml(path)
    return parse_model(TagFile, data, lines), lines


def load_segment_file(path: Path) -> tuple[SegmentDef, LineMap]:
    data, lines = load_yaml(path)
    segment = parse_model(SegmentDef, data, lines)
    if segment.name != Path(path).stem:
        raise DefinitionError(
            [lines.issue(("name",), f"the name must be the file name {Path(path).stem!r}")]
        )
    return segment, lines


# --- name checks --------------------------------------------------------------------------


def is_day_type(data_type: str) -> bool:
    return any(t in data_type.lower() for t in ("date", "timestamp"))


def check_condition(
    cond: Any,
    loc: Loc,
    fields: dict[str, str],
    lines: LineMap,
    tags: dict[str, list[str] | None] | None = None,
    scope: str = "the customer table",
) -> list[Issue]:
    """Every field a condition names is in ``fields`` (name -> data type); every tag in
    ``tags`` (segments only; name -> its known values); day windows only on dates."""
    issues: list[Issue] = []
    if isinstance(cond, All):
        for i, c in enumerate(cond.all):
            issues += check_condition(c, (*loc, "all", i), fields, lines, tags, scope)
    elif isinstance(cond, AnyOf):
        for i, c in enumerate(cond.any):
            issues += check_condition(c, (*loc, "any", i), fields, lines, tags, scope)
    elif isinstance(cond, Not):
        issues += check_condition(cond.not_, (*loc, "not"), fields, lines, tags, scope)
    elif cond.tag is not None:
        if tags is None:
            issues.append(lines.issue((*loc, "tag"), "tags can be used in segments only"))
        elif cond.tag not in tags:
            issues.append(
                lines.issue((*loc, "tag"), f"unknown tag {cond.tag!r}", suggest(cond.tag, tags))
            )
        else:
            known = tags[cond.tag]
            op, operand = cond.operator, cond.operand
            if op in DAY_OPERATORS:
                issues.append(lines.issue((*loc, op), "day windows apply to date fields, not tags"))
            values = operand if isinstance(operand, list | tuple) else [operand]
            if known is not None and op in ("equals", "not_equals", "in", "not_in"):
                for v in values:
                    if str(v) not in known:
                        issues.append(
                            lines.issue(
                                (*loc, op),
                                f"tag {cond.tag!r} never has the value {v!r} "
                                f"(its values: {', '.join(known)})",
                                suggest(v, known),
                            )
                        )
    else:
        if cond.field not in fields:
            issues.append(
                lines.issue(
                    (*loc, "field"),
                    f"unknown field {cond.field!r} in {scope}",
                    suggest(cond.field, fields),
                )
            )
        elif cond.operator in DAY_OPERATORS and not is_day_type(fields[cond.field]):
            issues.append(
                lines.issue(
                    (*loc, cond.operator),
                    f"{cond.operator} needs a date field; {cond.field!r} is "
                    f"{fields[cond.field] or 'not a date'}",
                )
            )
    return issues
