"""YAML with line numbers, and the error a marketer reads when a definition is wrong.

``load_yaml`` returns the data and a map from every path (``("tags", 3, "when", "field")``)
to the line it starts on, so an error found by pydantic or by the field checks names the
file, the line and what is wrong: ``profiles/tags/rfm.yml:14: tags[3].when.field: unknown
field 'last_ordr_date'; did you mean 'last_order_date'?``. Duplicate keys, which PyYAML
silently collapses to the last one, are errors here.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.config import REPO_ROOT

Loc = tuple[str | int, ...]


def suggest(name: object, candidates: Iterable[str]) -> str | None:
    """The nearest valid name (difflib), or None when nothing is close."""
    pool = sorted({str(c) for c in candidates})
    found = difflib.get_close_matches(str(name), pool, n=1, cutoff=0.6)
    if not found:
        lowered = {c.lower(): c for c in pool}
        found = [lowered[m] for m in difflib.get_close_matches(str(name).lower(), lowered, 1, 0.5)]
    return found[0] if found else None


def display_path(path: Path) -> str:
    """A path as the marketer typed it: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass(frozen=True)
class Issue:
    """One thing wrong in one file, at one line."""

    file: str
    line: int
    loc: Loc
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return f"{self.file}:{self.line}: {format_loc(self.loc)}: {self.message}{hint}"


class DefinitionError(ValueError):
    """A definition file that cannot be used; every issue names the file and the line."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass
class LineMap:
    """Line (1-based) of every mapping key and sequence item, by path."""

    file: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """The line of the deepest part of ``loc`` that exists in the file. Parts that are not
        in the file (pydantic's union tags, a missing key) are skipped."""
        best = self.lines.get((), 1)
        here: Loc = ()
        for part in loc:
            candidate = (*here, part)
            if candidate in self.lines:
                here = candidate
                best = self.lines[here]
        return best

    def issue(self, loc: Loc, message: str, suggestion: str | None = None) -> Issue:
        return Issue(self.file, self.line(loc), tuple(loc), message, suggestion)


def _walk(node: yaml.Node, here: Loc, out: LineMap, issues: list[Issue]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    Issue(
                        out.file,
                        line,
                        (*here, key),
                        f"duplicate key {key!r} (first on line {seen[key]}); "
                        "YAML would silently keep only the last one",
                    )
                )
            seen[key] = line
            out.lines[(*here, key)] = line
            _walk(value_node, (*here, key), out, issues)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[(*here, i)] = item.start_mark.line + 1
            _walk(item, (*here, i), out, issues)


def load_yaml(path: Path) -> tuple[object, LineMap]:
    """Parse a definition file; a syntax error or a duplicate key raises DefinitionError. The
    same text is parsed once per process (every tag and segment asset of a run reads every
    definition file): the caller gets its own copy of the data and of the line map."""
    name = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Issue(name, 1, (), f"cannot read the file: {exc}")]) from exc
    data, lines = _parsed(name, text)
    return copy.deepcopy(data), LineMap(lines.file, dict(lines.lines))


@functools.lru_cache(maxsize=256)
def _parsed(name: str, text: str) -> tuple[object, LineMap]:
    """The data and line map of one file's text (errors are raised, not cached)."""
    lines = LineMap(name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise DefinitionError(
            [Issue(name, line, (), f"not valid YAML: {exc.problem or exc.context}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError([Issue(name, 1, (), f"not valid YAML: {exc}")]) from exc
    issues: list[Issue] = []
    if node is not None:
        lines.lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, issues)
    if issues:
        raise DefinitionError(issues)
    return data, lines
