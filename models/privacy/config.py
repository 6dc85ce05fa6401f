"""``profiles/privacy.yml``: retention of raw clickstream."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.config import REPO_ROOT
from models.config_file import load_validated

DEFAULT_PATH = REPO_ROOT / "profiles" / "privacy.yml"


class PrivacyConfigError(ValueError):
    """profiles/privacy.yml is missing, unreadable or invalid (the message names the field)."""


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")
    raw_events_days: int = Field(ge=1, le=36500)
    clock: Literal["wall", "newest_event"] = "wall"
    schedule: str = "0 3 * * 0"


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    retention: Retention


def load(path: Path | str | None = None) -> PrivacyConfig:
    return load_validated(
        path or DEFAULT_PATH, PrivacyConfig, PrivacyConfigError, "privacy settings"
    )
