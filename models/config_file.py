"""Reading a YAML settings file into its pydantic model: the one way `profiles/*.yml` files
other than tags and segments (which need line numbers: `models/segments/yamlfile.py`) are
loaded, so every such file fails with the same kind of message: the file, the field, what is
wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def load_validated(
    path: Path | str, model: type[M], error: type[Exception], what: str, mapping_hint: str = ""
) -> M:
    """Parse ``path`` and validate it as ``model``; raise ``error`` naming the file and, per
    problem, the dotted field path (``what`` says what the file is, e.g. "identity rules")."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read the {what}: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path}: the {what} must be a mapping{mapping_hint}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")
        raise error("\n".join(lines)) from exc
