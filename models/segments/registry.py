"""The definitions in ``profiles/``: found, parsed and checked, file by file.

A bad file is reported with its issues and does not stop the others: ``load_all`` returns
every file's result, the asset of a file raises only that file's error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.config import REPO_ROOT
from models.segments.compiler import metric_type, sources
from models.segments.contract import Contract, customer_contract
from models.segments.schema import (
    DESTINATION_PURPOSE,
    SegmentDef,
    TagFile,
    check_condition,
    load_segment_file,
    load_tag_file,
)
from models.segments.yamlfile import DefinitionError, Issue, LineMap, display_path, suggest

PROFILES_DIR = REPO_ROOT / "profiles"


def tags_dir(root: Path = PROFILES_DIR) -> Path:
    return root / "tags"


def segments_dir(root: Path = PROFILES_DIR) -> Path:
    return root / "segments"


def tag_files(root: Path = PROFILES_DIR) -> list[Path]:
    return sorted(tags_dir(root).glob("*.yml"))


def segment_files(root: Path = PROFILES_DIR) -> list[Path]:
    return sorted(segments_dir(root).glob("*.yml"))


def definition_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the manifest's proof of which definition was used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_tag_file(tags: TagFile, lines: LineMap, customers: Contract) -> list[Issue]:
    """Names in a parsed tag file against the contract, the fact sources and its own metrics."""
    issues: list[Issue] = []
    fields = dict(customers.columns)
    srcs = sources()
    for name, metric in tags.metrics.items():
        loc = ("metrics", name)
        if name in customers.columns:
            issues.append(
                lines.issue(loc, f"metric {name!r} has the name of a field of {customers.model}")
            )
            continue
        if metric.aggregate == "quantile":
            continue
        src = srcs.get(metric.from_ or "")
        if src is None:
            issues.append(
                lines.issue(
                    (*loc, "from"),
                    f"unknown fact source {metric.from_!r} (sources: {', '.join(srcs)})",
                    suggest(metric.from_, srcs),
                )
            )
            continue
        for key in ("of", "over"):
            column = getattr(metric, key)
            if column is not None and column not in src.columns:
                issues.append(
                    lines.issue(
                        (*loc, key),
                        f"unknown column {column!r} of source {src.name!r}",
                        suggest(column, src.columns),
                    )
                )
        for key in ("where", "matching"):
            cond = getattr(metric, key)
            if cond is not None:
                issues += check_condition(
                    cond, (*loc, key), src.columns, lines, scope=f"source {src.name!r}"
                )
        fields[name] = metric_type(metric, fields)
    for name, metric in tags.metrics.items():
        if metric.aggregate == "quantile":
            if metric.where is not None:
                issues += check_condition(
                    metric.where, ("metrics", name, "where"), fields, lines, scope="the metrics"
                )
            if metric.of not in fields:
                issues.append(
                    lines.issue(
                        ("metrics", name, "of"),
                        f"unknown field or metric {metric.of!r}",
                        suggest(metric.of, fields),
                    )
                )
    for name, metric in tags.metrics.items():
        if metric.aggregate == "quantile":
            fields[name] = "bigint"
    scope = f"{customers.model} or this file's metrics"
    seen: dict[str, int] = {}
    for i, tag in enumerate(tags.tags):
        loc = ("tags", i)
        if tag.name in seen:
            issues.append(
                lines.issue((*loc, "name"), f"tag {tag.name!r} is defined twice in this file")
            )
        seen[tag.name] = i
        if tag.when is not None:
            issues += check_condition(tag.when, (*loc, "when"), fields, lines, scope=scope)
        for j, bucket in enumerate(tag.buckets or []):
            issues += check_condition(
                bucket.when, (*loc, "buckets", j, "when"), fields, lines, scope=scope
            )
        if tag.value_of is not None and tag.value_of not in fields:
            issues.append(
                lines.issue(
                    (*loc, "value_of"),
                    f"unknown field or metric {tag.value_of!r}",
                    suggest(tag.value_of, fields),
                )
            )
    return issues


def check_segment(
    segment: SegmentDef, lines: LineMap, customers: Contract, tags: dict[str, list[str] | None]
) -> list[Issue]:
    issues = check_condition(
        segment.where, ("where",), customers.columns, lines, tags, scope=customers.model
    )
    for i, dest in enumerate(segment.destination_list()):
        need = DESTINATION_PURPOSE[dest.type]
        if need != segment.purpose:
            issues.append(
                lines.issue(
                    ("destinations", i),
                    f"destination {dest.type!r} needs consent for {need!r}, but the "
                    f"segment's purpose is {segment.purpose!r}",
                )
            )
        if dest.app is not None and dest.type != "wechat":
            issues.append(lines.issue(("destinations", i, "app"), "'app' is for wechat only"))
    return issues


@dataclass
class Loaded:
    """One definition file: its parsed definition, or the error that stops it."""

    path: Path
    kind: str  # "tags" | "segment"
    definition: TagFile | SegmentDef | None = None
    error: DefinitionError | None = None
    sha256: str = ""
    lines: LineMap | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def ok(self) -> bool:
        return self.error is None

    def require(self) -> TagFile | SegmentDef:
        if self.error is not None:
            raise self.error
        assert self.definition is not None
        return self.definition


@dataclass
class Profiles:
    tag_files: list[Loaded] = field(default_factory=list)
    segments: list[Loaded] = field(default_factory=list)

    def tag_values(self) -> dict[str, list[str] | None]:
        """Tags of the files that are valid: name -> known values (None: any value)."""
        out: dict[str, list[str] | None] = {}
        for f in self.tag_files:
            if f.ok:
                for tag in f.definition.tags:
                    out[tag.name] = tag.values()
        return out

    def tag_file_of(self) -> dict[str, str]:
        """Tag name -> the stem of the file defining it (read leniently, invalid files too)."""
        out: dict[str, str] = {}
        for f in self.tag_files:
            for name in declared_tag_names(f.path):
                out.setdefault(name, f.name)
        return out

    def segment(self, name: str) -> Loaded:
        for s in self.segments:
            if s.name == name:
                return s
        raise KeyError(
            f"no segment {name!r} in profiles/segments/"
            + (f"; did you mean {hint!r}?" if (hint := suggest(name, self.names())) else "")
        )

    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    def all(self) -> list[Loaded]:
        return [*self.tag_files, *self.segments]


def declared_tag_names(path: Path) -> list[str]:
    """The tag names a file declares, read without validation (for the asset graph's edges,
    which must exist even when the file is invalid)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    tags = data.get("tags") if isinstance(data, dict) else None
    return [str(t["name"]) for t in tags or [] if isinstance(t, dict) and "name" in t]


def referenced_tags(path: Path) -> set[str]:
    """Tag names a segment file mentions (``tag:`` keys anywhere), read without validation."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return set()
    found: set[str] = set()

    def walk(x: object) -> None:
        if isinstance(x, dict):
            if isinstance(x.get("tag"), str):
                found.add(x["tag"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return found


def load_all(root: Path = PROFILES_DIR, customers: Contract | None = None) -> Profiles:
    """Every tag and segment file, each parsed and checked on its own."""
    customers = customers or customer_contract()
    out = Profiles()
    owner: dict[str, str] = {}
    for path in tag_files(root):
        item = Loaded(path, "tags", sha256=definition_hash(path))
        try:
            tags, lines = load_tag_file(path)
            item.lines = lines
            issues = check_tag_file(tags, lines, customers)
            for i, tag in enumerate(tags.tags):
                if tag.name in owner and owner[tag.name] != display_path(path):
                    issues.append(
                        lines.issue(
                            ("tags", i, "name"),
                            f"tag {tag.name!r} is already defined in {owner[tag.name]}",
                        )
                    )
            if issues:
                raise DefinitionError(issues)
            for tag in tags.tags:
                owner[tag.name] = display_path(path)
            item.definition = tags
        except DefinitionError as exc:
            item.error = exc
        out.tag_files.append(item)
    values = out.tag_values()
    for path in segment_files(root):
        item = Loaded(path, "segment", sha256=definition_hash(path))
        try:
            segment, lines = load_segment_file(path)
            item.lines = lines
            issues = check_segment(segment, lines, customers, values)
            if issues:
                raise DefinitionError(issues)
            item.definition = segment
        except DefinitionError as exc:
            item.error = exc
        out.segments.append(item)
    return out


def summary(profiles: Profiles) -> str:
    return json.dumps(
        {f.name: ("ok" if f.ok else str(f.error)) for f in profiles.all()}, ensure_ascii=False
    )
